/*
 * cmd_init.c - `mlp init`: creates a model from its widths and
 * activations, draws its parameters from a seeded generator and saves it
 * as safetensors (atomically).
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "util.h"

static void usage(FILE *out) {
  fputs("usage: mlp init --dims D0,D1,...,DN --activations F1,...,FN\n"
        "                [--init NAME] [--seed N] [--scale S] [--dtype T]\n"
        "                -o MODEL\n"
        "\n"
        "Creates a model with input width D0 and N layers of D1..DN\n"
        "neurons, draws its weights (biases start at zero) and writes it\n"
        "to MODEL as safetensors. The same seed gives the same model.\n"
        "\n"
        "  --dims LIST         widths, input first (e.g. 784,256,10)\n"
        "  --activations LIST  one per layer: identity, relu, leaky_relu,\n"
        "                      sigmoid, tanh, gelu, silu, softmax\n"
        "  --init NAME         uniform, normal, xavier (xavier_uniform),\n"
        "                      xavier_normal, he (he_uniform), he_normal,\n"
        "                      orthogonal (default he)\n"
        "  --seed N            generator seed (default 0)\n"
        "  --scale S           scale of the rule (default 1)\n"
        "  --dtype f32|f64     element type (default f32)\n"
        "  -o, --output MODEL  the file to write\n"
        "  -h, --help          show this help\n",
        out);
}

int mlp_cmd_init(int argc, char **argv) {
  static const struct option longopts[] = {
      {"dims", required_argument, NULL, 'd'},
      {"activations", required_argument, NULL, 'a'},
      {"init", required_argument, NULL, 'i'},
      {"seed", required_argument, NULL, 's'},
      {"scale", required_argument, NULL, 'S'},
      {"dtype", required_argument, NULL, 't'},
      {"output", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *dims_text = NULL, *acts_text = NULL, *init_text = "he";
  const char *out = NULL;
  size_t *dims = NULL, n_dims = 0, n_acts = 0, seed = 0;
  mlp_act *acts = NULL;
  mlp_init init;
  mlp_dtype dtype = MLP_F32;
  double scale = 1.0;
  mlp_model *m = NULL;
  int c, rc = TOOL_EXIT_USAGE;

  opterr = 0;
  while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'd':
      dims_text = optarg;
      break;
    case 'a':
      acts_text = optarg;
      break;
    case 'i':
      init_text = optarg;
      break;
    case 's':
      if (tool_parse_size("--seed", optarg, 0, SIZE_MAX, &seed) != 0)
        return TOOL_EXIT_USAGE;
      break;
    case 'S':
      if (tool_parse_double("--scale", optarg, &scale) != 0)
        return TOOL_EXIT_USAGE;
      break;
    case 't':
      if (tool_parse_dtype("--dtype", optarg, &dtype) != 0)
        return TOOL_EXIT_USAGE;
      break;
    case 'o':
      out = optarg;
      break;
    case 'h':
      usage(stdout);
      return TOOL_EXIT_OK;
    default:
      return tool_bad_option(c, argv);
    }
  }
  if (optind != argc) {
    tool_error("unexpected argument '%s' (try 'mlp init --help')",
               argv[optind]);
    return TOOL_EXIT_USAGE;
  }
  if (!dims_text || !acts_text || !out) {
    tool_error("--dims, --activations and -o are required (try 'mlp init "
               "--help')");
    return TOOL_EXIT_USAGE;
  }
  if (mlp_init_parse(init_text, &init) != MLP_OK) {
    tool_error("--init: unknown rule '%s'", init_text);
    return TOOL_EXIT_USAGE;
  }
  if (!(scale > 0)) {
    tool_error("--scale: must be > 0");
    return TOOL_EXIT_USAGE;
  }
  if (tool_parse_sizes("--dims", dims_text, &dims, &n_dims) != 0 ||
      tool_parse_acts("--activations", acts_text, &acts, &n_acts) != 0)
    goto done;
  if (n_dims < 2) {
    tool_error("--dims: needs the input width and at least one layer");
    goto done;
  }
  if (n_acts != n_dims - 1) {
    tool_error("--activations: %zu given for %zu layers", n_acts, n_dims - 1);
    goto done;
  }

  rc = mlp_model_create(&m, dtype, n_dims - 1, dims, acts, MLP_LAYOUT_IN_OUT);
  if (rc == MLP_OK)
    rc = mlp_model_init(m, init, (uint64_t)seed, scale);
  if (rc == MLP_OK)
    rc = mlp_model_save(m, out);
  rc = rc == MLP_OK ? TOOL_EXIT_OK : tool_fail(rc);
done:
  mlp_model_free(m);
  free(dims);
  free(acts);
  return rc;
}
