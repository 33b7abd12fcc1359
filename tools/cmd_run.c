/*
 * cmd_run.c - `mlp run MODEL INPUT -o OUTPUT`: the forward pass over a
 * whole dataset, batch by batch, written to OUTPUT (.npy or CSV) through
 * the atomic writer: an error or Ctrl-C leaves no output file.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "util.h"

static void usage(FILE *out) {
  fputs("usage: mlp run [OPTIONS] MODEL INPUT -o OUTPUT\n"
        "\n"
        "Runs the model MODEL (safetensors) over every row of INPUT (.npy,\n"
        "CSV or IDX, plain or gzip) and writes the outputs to OUTPUT, as\n"
        ".npy or CSV (.csv, .tsv, .txt) from its extension. OUTPUT appears\n"
        "only once complete.\n"
        "\n"
        "  -o, --output OUTPUT  the file to write\n"
        "  --batch N            rows per forward pass (default 256)\n"
        "  --threads N          BLAS threads (default: the BLAS's choice)\n"
        "  --scale S            factor for integer inputs, e.g. 1/255\n"
        "                       (default 1; float inputs are never scaled)\n"
        "  --activations LIST   activations when MODEL names none\n"
        "  --allow-nonfinite    run a model with NaN or infinite parameters\n"
        "  -h, --help           show this help\n",
        out);
}

int mlp_cmd_run(int argc, char **argv) {
  static const struct option longopts[] = {
      {"output", required_argument, NULL, 'o'},
      {"batch", required_argument, NULL, 'b'},
      {"threads", required_argument, NULL, 't'},
      {"scale", required_argument, NULL, 's'},
      {"activations", required_argument, NULL, 'a'},
      {"allow-nonfinite", no_argument, NULL, 'N'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *out = NULL, *acts = NULL;
  size_t batch = 256, threads = 0, in, width, elem, rows;
  double scale = 1.0;
  mlp_model *m = NULL;
  mlp_dataset *ds = NULL;
  mlp_dataset_options dopts;
  mlp_ctx *ctx = NULL;
  mlp_writer *w = NULL;
  void *x = NULL, *y = NULL;
  tool_progress progress;
  unsigned load_flags = 0;
  tool_pass_opts po;
  int c, rc;

  tool_pass_opts_init(&po);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'o':
      out = optarg;
      break;
    case 'h':
      usage(stdout);
      return TOOL_EXIT_OK;
    default:
      switch (tool_pass_opt(c, optarg, &po)) {
      case 1:
        break;
      case 0:
        return tool_bad_option(c, argv);
      default:
        return TOOL_EXIT_USAGE;
      }
    }
  }
  batch = po.batch;
  threads = po.threads;
  scale = po.scale;
  acts = po.acts;
  load_flags = po.load_flags;
  if (argc - optind != 2 || !out) {
    tool_error("expected MODEL INPUT -o OUTPUT (try 'mlp run --help')");
    return TOOL_EXIT_USAGE;
  }
  if (threads && (rc = mlp_blas_set_threads((int)threads)) != MLP_OK)
    return tool_fail(rc);
  if ((rc = tool_load_model(argv[optind], acts, load_flags, &m)) !=
      TOOL_EXIT_OK)
    return rc;

  in = mlp_model_width(m, 0);
  width = mlp_model_width(m, mlp_model_layers(m));
  elem = mlp_dtype_size(mlp_model_dtype(m));
  mlp_dataset_options_init(&dopts);
  dopts.dtype = mlp_model_dtype(m);
  dopts.scale = scale;
  rc = mlp_dataset_open(&ds, argv[optind + 1], &dopts);
  if (rc != MLP_OK) {
    rc = tool_fail(rc);
    goto done;
  }
  if (mlp_dataset_cols(ds) != in) {
    tool_error("%s: rows have %zu values but the model takes %zu inputs",
               argv[optind + 1], mlp_dataset_cols(ds), in);
    rc = TOOL_EXIT_FAILURE;
    goto done;
  }
  if (mlp_dataset_rows(ds) < batch)
    batch = mlp_dataset_rows(ds) ? mlp_dataset_rows(ds) : 1;
  x = malloc(batch * in * elem);
  y = malloc(batch * width * elem);
  if (!x || !y) {
    tool_error("out of memory for a batch of %zu rows", batch);
    rc = TOOL_EXIT_FAILURE;
    goto done;
  }
  if ((rc = mlp_ctx_create(&ctx, m, batch, 0, NULL, 0)) != MLP_OK ||
      (rc = mlp_writer_open(&w, out, mlp_model_dtype(m), width, MLP_FORMAT_AUTO,
                            0)) != MLP_OK) {
    rc = tool_fail(rc);
    goto done;
  }
  tool_signals_temp_path(mlp_writer_temp_path(w));

  tool_progress_start(&progress, "mlp run", mlp_dataset_rows(ds));
  for (;;) {
    if (tool_interrupted()) {
      rc = MLP_ERR_INTERRUPTED;
      break;
    }
    if ((rc = mlp_dataset_read(ds, x, batch, NULL, &rows)) != MLP_OK ||
        rows == 0)
      break;
    if ((rc = mlp_forward(m, ctx, x, rows, y)) != MLP_OK ||
        (rc = mlp_writer_append(w, y, rows)) != MLP_OK)
      break;
    tool_progress_add(&progress, rows);
  }
  tool_progress_end(&progress);
  tool_signals_temp_path(NULL);
  if (rc == MLP_OK && tool_interrupted())
    rc = MLP_ERR_INTERRUPTED;
  if (rc == MLP_OK) {
    rc = mlp_writer_commit(w);
    w = NULL;
  }
  rc = rc == MLP_OK ? TOOL_EXIT_OK : tool_fail(rc);

done:
  mlp_writer_abort(w);
  mlp_ctx_free(ctx);
  mlp_dataset_close(ds);
  mlp_model_free(m);
  free(x);
  free(y);
  return rc;
}
