/*
 * cmd_eval.c - `mlp eval MODEL INPUT LABELS`: the empirical risk (the mean
 * divergence over every row), the accuracy and per-class counts of a
 * model on a dataset, as text or one JSON object.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "util.h"

static void usage(FILE *out) {
  fputs("usage: mlp eval [OPTIONS] MODEL INPUT LABELS\n"
        "\n"
        "Runs MODEL over INPUT and compares the outputs with LABELS: class\n"
        "indices for cross_entropy (the model must end in softmax), or\n"
        "targets of the output's width for mse and bce (bce: the model\n"
        "must end in sigmoid). Prints the mean loss over all rows, the\n"
        "accuracy and, for classes, per-class counts.\n"
        "\n"
        "  --loss NAME         cross_entropy (default), mse or bce\n"
        "  --json              print one JSON object: samples, loss,\n"
        "                      mean_loss, accuracy, correct, classes\n"
        "  --batch N           rows per forward pass (default 256)\n"
        "  --threads N         BLAS threads\n"
        "  --scale S           factor for integer inputs, e.g. 1/255\n"
        "  --activations LIST  activations when MODEL names none\n"
        "  --allow-nonfinite   use a model with NaN or infinite parameters\n"
        "  -h, --help          show this help\n",
        out);
}

/* Per-class tallies for cross-entropy. */
typedef struct tally {
  size_t samples, correct, predicted;
} tally;

static void json_number(double v) {
  if (isfinite(v))
    printf("%.17g", v);
  else
    printf("null");
}

static void report(const char *loss, size_t samples, double mean_loss,
                   int has_acc, size_t correct, size_t judged,
                   const tally *classes, size_t n_classes, int json) {
  double acc = judged ? (double)correct / (double)judged : 0;
  if (json) {
    printf("{\"samples\":%zu,\"loss\":\"%s\",\"mean_loss\":", samples, loss);
    json_number(mean_loss);
    printf(",\"accuracy\":");
    if (has_acc)
      json_number(acc);
    else
      printf("null");
    if (has_acc)
      printf(",\"correct\":%zu", correct);
    if (classes) {
      printf(",\"classes\":[");
      for (size_t c = 0; c < n_classes; c++)
        printf("%s{\"class\":%zu,\"samples\":%zu,\"correct\":%zu,"
               "\"predicted\":%zu}",
               c ? "," : "", c, classes[c].samples, classes[c].correct,
               classes[c].predicted);
      printf("]");
    }
    printf("}\n");
    return;
  }
  printf("samples    %zu\n", samples);
  printf("loss       %s\n", loss);
  printf("mean_loss  %.6g\n", mean_loss);
  if (has_acc)
    printf("accuracy   %.4f (%zu of %zu)\n", acc, correct, judged);
  if (classes) {
    printf("\nclass  samples  correct  predicted  recall\n");
    for (size_t c = 0; c < n_classes; c++) {
      const tally *t = &classes[c];
      printf("%-5zu  %7zu  %7zu  %9zu  ", c, t->samples, t->correct,
             t->predicted);
      if (t->samples)
        printf("%.4f\n", (double)t->correct / (double)t->samples);
      else
        printf("-\n");
    }
  }
}

/* Elements of a dtype buffer as double. */
static double elem_at(mlp_dtype dtype, const void *p, size_t i) {
  return dtype == MLP_F32 ? ((const float *)p)[i] : ((const double *)p)[i];
}

int mlp_cmd_eval(int argc, char **argv) {
  static const struct option longopts[] = {
      {"loss", required_argument, NULL, 'l'},
      {"json", no_argument, NULL, 'j'},
      {"batch", required_argument, NULL, 'b'},
      {"threads", required_argument, NULL, 't'},
      {"scale", required_argument, NULL, 's'},
      {"activations", required_argument, NULL, 'a'},
      {"allow-nonfinite", no_argument, NULL, 'N'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *acts = NULL, *in_path, *lab_path;
  size_t batch = 256, threads = 0, in, width, elem, rows, lrows, n, layers;
  size_t done_rows = 0, correct = 0, judged = 0;
  double scale = 1.0, loss_sum = 0, mean;
  mlp_loss loss = MLP_LOSS_CROSS_ENTROPY;
  mlp_dtype dtype;
  mlp_model *m = NULL;
  mlp_dataset *ds = NULL, *ls = NULL;
  mlp_dataset_options dopts;
  mlp_ctx *ctx = NULL;
  void *x = NULL, *y = NULL, *targets = NULL;
  int32_t *labels = NULL, *pred = NULL;
  tally *classes = NULL;
  tool_progress progress;
  unsigned load_flags = 0;
  tool_pass_opts po;
  int c, rc, json = 0;

  tool_pass_opts_init(&po);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case 'l':
      if (mlp_loss_parse(optarg, &loss) != MLP_OK) {
        tool_error("--loss: unknown loss '%s' (cross_entropy, mse, bce)",
                   optarg);
        return TOOL_EXIT_USAGE;
      }
      break;
    case 'j':
      json = 1;
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
  if (argc - optind != 3) {
    tool_error("expected MODEL INPUT LABELS (try 'mlp eval --help')");
    return TOOL_EXIT_USAGE;
  }
  in_path = argv[optind + 1];
  lab_path = argv[optind + 2];
  if (threads && (rc = mlp_blas_set_threads((int)threads)) != MLP_OK)
    return tool_fail(rc);
  if ((rc = tool_load_model(argv[optind], acts, load_flags, &m)) !=
      TOOL_EXIT_OK)
    return rc;

  layers = mlp_model_layers(m);
  dtype = mlp_model_dtype(m);
  in = mlp_model_width(m, 0);
  width = mlp_model_width(m, layers);
  elem = mlp_dtype_size(dtype);
  rc = TOOL_EXIT_FAILURE;
  if (loss == MLP_LOSS_CROSS_ENTROPY &&
      mlp_model_act(m, layers) != MLP_ACT_SOFTMAX) {
    tool_error("--loss cross_entropy needs a softmax output layer; the "
               "model ends in %s (try --loss mse)",
               mlp_act_name(mlp_model_act(m, layers)));
    goto done;
  }
  if (loss == MLP_LOSS_BCE && mlp_model_act(m, layers) != MLP_ACT_SIGMOID) {
    tool_error("--loss bce needs a sigmoid output layer; the model ends in "
               "%s",
               mlp_act_name(mlp_model_act(m, layers)));
    goto done;
  }

  mlp_dataset_options_init(&dopts);
  dopts.dtype = dtype;
  dopts.scale = scale;
  if ((c = mlp_dataset_open(&ds, in_path, &dopts)) != MLP_OK) {
    rc = tool_fail(c);
    goto done;
  }
  mlp_dataset_options_init(&dopts);
  dopts.dtype = dtype;
  if ((c = mlp_dataset_open(&ls, lab_path, &dopts)) != MLP_OK) {
    rc = tool_fail(c);
    goto done;
  }
  n = mlp_dataset_rows(ds);
  if (mlp_dataset_cols(ds) != in) {
    tool_error("%s: rows have %zu values but the model takes %zu inputs",
               in_path, mlp_dataset_cols(ds), in);
    goto done;
  }
  if (mlp_dataset_rows(ls) != n) {
    tool_error("%s has %zu rows but %s has %zu", lab_path, mlp_dataset_rows(ls),
               in_path, n);
    goto done;
  }
  if (loss == MLP_LOSS_CROSS_ENTROPY ? mlp_dataset_cols(ls) != 1
                                     : mlp_dataset_cols(ls) != width) {
    tool_error("%s: rows have %zu values; %s needs %zu", lab_path,
               mlp_dataset_cols(ls),
               loss == MLP_LOSS_CROSS_ENTROPY ? "cross_entropy (class indices)"
                                              : "the model's output",
               loss == MLP_LOSS_CROSS_ENTROPY ? (size_t)1 : width);
    goto done;
  }
  if (n == 0) {
    tool_error("%s has no rows", in_path);
    goto done;
  }
  if (n < batch)
    batch = n;

  x = malloc(batch * in * elem);
  y = malloc(batch * width * elem);
  labels = malloc(batch * sizeof *labels);
  pred = malloc(batch * sizeof *pred);
  targets =
      loss == MLP_LOSS_CROSS_ENTROPY ? NULL : malloc(batch * width * elem);
  classes =
      loss == MLP_LOSS_CROSS_ENTROPY ? calloc(width, sizeof *classes) : NULL;
  if (!x || !y || !labels || !pred ||
      (loss == MLP_LOSS_CROSS_ENTROPY ? !classes : !targets)) {
    tool_error("out of memory for a batch of %zu rows", batch);
    goto done;
  }
  if ((c = mlp_ctx_create(&ctx, m, batch, 0, NULL, 0)) != MLP_OK) {
    rc = tool_fail(c);
    goto done;
  }

  tool_progress_start(&progress, "mlp eval", n);
  c = MLP_OK;
  while (!tool_interrupted()) {
    if ((c = mlp_dataset_read(ds, x, batch, NULL, &rows)) != MLP_OK ||
        rows == 0)
      break;
    if (loss == MLP_LOSS_CROSS_ENTROPY)
      c = mlp_dataset_read_labels(ls, labels, rows, &lrows);
    else
      c = mlp_dataset_read(ls, targets, rows, NULL, &lrows);
    if (c != MLP_OK)
      break;
    if (lrows != rows) {
      tool_progress_end(&progress);
      tool_error("%s: ended early at row %zu", lab_path, done_rows + lrows);
      goto done;
    }
    if (loss == MLP_LOSS_CROSS_ENTROPY)
      for (size_t i = 0; i < rows; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= width) {
          tool_progress_end(&progress);
          tool_error("%s: row %zu: class %ld is outside [0, %zu) of the "
                     "model's output",
                     lab_path, done_rows + i, (long)labels[i], width);
          goto done;
        }
    if ((c = mlp_forward(m, ctx, x, rows, y)) != MLP_OK ||
        (c = mlp_ctx_loss(ctx, loss, labels, targets, NULL, &mean)) != MLP_OK)
      break;
    loss_sum += mean * (double)rows;
    if (loss == MLP_LOSS_CROSS_ENTROPY) {
      if ((c = mlp_argmax(dtype, y, rows, width, pred)) != MLP_OK)
        break;
      for (size_t i = 0; i < rows; i++) {
        classes[labels[i]].samples++;
        classes[pred[i]].predicted++;
        if (pred[i] == labels[i]) {
          classes[labels[i]].correct++;
          correct++;
        }
      }
      judged += rows;
    } else if (loss == MLP_LOSS_BCE) {
      /* Accuracy of each output thresholded at 1/2. */
      for (size_t i = 0; i < rows * width; i++)
        correct += (elem_at(dtype, y, i) >= 0.5) ==
                   (elem_at(dtype, targets, i) >= 0.5);
      judged += rows * width;
    }
    done_rows += rows;
    tool_progress_add(&progress, rows);
  }
  tool_progress_end(&progress);
  if (c == MLP_OK && tool_interrupted())
    c = MLP_ERR_INTERRUPTED;
  if (c != MLP_OK) {
    rc = tool_fail(c);
    goto done;
  }
  report(mlp_loss_name(loss), done_rows, loss_sum / (double)done_rows,
         loss != MLP_LOSS_MSE, correct, judged, classes, width, json);
  rc = TOOL_EXIT_OK;

done:
  mlp_ctx_free(ctx);
  mlp_dataset_close(ds);
  mlp_dataset_close(ls);
  mlp_model_free(m);
  free(x);
  free(y);
  free(targets);
  free(labels);
  free(pred);
  free(classes);
  return rc;
}
