/*
 * cmd_info.c - `mlp info MODEL`: a model's layers, widths, activations,
 * dtype, parameter count and memory, and the BLAS and kernel set in use.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "util.h"

static void usage(FILE *out) {
  fputs("usage: mlp info [--activations LIST] [--allow-nonfinite] MODEL\n"
        "\n"
        "Shows the layers of the safetensors model MODEL (widths,\n"
        "activations), its dtype, parameter count and memory, and the BLAS\n"
        "library, core and threads and the kernel set this machine uses.\n"
        "\n"
        "  --activations LIST  activations to use when MODEL names none\n"
        "                      (comma-separated, one per layer)\n"
        "  --allow-nonfinite   load a model with NaN or infinite parameters\n"
        "  -h, --help          show this help\n",
        out);
}

static void print_blas(void) {
  mlp_blas_info b;
  if (mlp_blas_info_get(&b) != MLP_OK) {
    printf("blas         unknown\n");
    return;
  }
  printf("blas         %s %s\n", b.vendor, b.version);
  if (b.core && *b.core) {
    printf("blas core    %s", b.core);
    if (tool_blas_fixed())
      printf(" (set by mlp through OPENBLAS_CORETYPE)");
    if (b.slow_core && b.suggested_core && *b.suggested_core)
      printf(" (slow: OPENBLAS_CORETYPE=%s is faster)", b.suggested_core);
    printf("\n");
  }
  if (b.threads > 0)
    printf("blas threads %d\n", b.threads);
  if (b.cpu && *b.cpu)
    printf("cpu          %s\n", b.cpu);
  printf("kernels      %s", mlp_kernels_name(mlp_kernels_active()));
  if (mlp_kernels_env_error())
    printf(" (MLP_KERNELS ignored: %s)", mlp_kernels_env_error());
  printf("\n");
}

int mlp_cmd_info(int argc, char **argv) {
  static const struct option longopts[] = {
      {"activations", required_argument, NULL, 'a'},
      {"allow-nonfinite", no_argument, NULL, 'N'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *acts = NULL;
  mlp_model *m = NULL;
  char buf[32];
  size_t n, params, elem;
  unsigned load_flags = 0;
  int c, rc;

  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case 'a':
      acts = optarg;
      break;
    case 'N':
      load_flags |= MLP_LOAD_ALLOW_NONFINITE;
      break;
    case 'h':
      usage(stdout);
      return TOOL_EXIT_OK;
    default:
      return tool_bad_option(c, argv);
    }
  }
  if (argc - optind != 1) {
    tool_error("expected one MODEL argument (try 'mlp info --help')");
    return TOOL_EXIT_USAGE;
  }
  if ((rc = tool_load_model(argv[optind], acts, load_flags, &m)) !=
      TOOL_EXIT_OK)
    return rc;

  n = mlp_model_layers(m);
  params = mlp_model_param_count(m);
  elem = mlp_dtype_size(mlp_model_dtype(m));
  printf("model        %s\n", argv[optind]);
  printf("layers       %zu\n", n);
  printf("input        %zu\n", mlp_model_width(m, 0));
  for (size_t k = 1; k <= n; k++) {
    mlp_act act = mlp_model_act(m, k);
    printf("  layer %-4zu %zu -> %zu, %s", k, mlp_model_width(m, k - 1),
           mlp_model_width(m, k), mlp_act_name(act));
    if (act == MLP_ACT_LEAKY_RELU)
      printf(" (slope %g)", mlp_model_slope(m, k));
    printf("\n");
  }
  printf("output       %zu\n", mlp_model_width(m, n));
  printf("dtype        %s\n", mlp_dtype_name(mlp_model_dtype(m)));
  printf("parameters   %zu\n", params);
  printf("memory       %s of parameters",
         tool_bytes(buf, sizeof buf, (double)params * elem));
  {
    size_t ws = mlp_ctx_workspace_size(m, 256, 0);
    if (ws)
      printf(", %s of workspace per 256-row batch",
             tool_bytes(buf, sizeof buf, (double)ws));
  }
  printf("\n");
  print_blas();
  mlp_model_free(m);
  return TOOL_EXIT_OK;
}
