/*
 * cmd_train.c - `mlp train`: mini-batch training of a new or existing
 * model on a dataset, with validation, early stopping, the best model
 * saved atomically, a progress bar or one line per epoch, a JSON log, an
 * SVG plot, and an optional final test: accuracy, loss and forward-pass
 * throughput on a test set in one summary line.
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "util.h"

static void usage(FILE *out) {
  fputs("usage: mlp train (--dims LIST --activations LIST | --model FILE)\n"
        "                 --x FILE (--labels FILE | --targets FILE |\n"
        "                           --label-column N|last)\n"
        "                 [options] -o MODEL\n"
        "\n"
        "Trains by mini-batch gradient descent and writes the best model\n"
        "(lowest validation loss, or training loss without validation) to\n"
        "MODEL as safetensors, atomically, each time it improves. Ctrl-C\n"
        "stops after the current step; MODEL then holds the best model so\n"
        "far. Data files are .npy, CSV or IDX, plain or gzip.\n"
        "\n"
        "Model:\n"
        "  --dims LIST          widths, input first (e.g. 784,256,10)\n"
        "  --activations LIST   one per layer (relu,softmax); with --model,\n"
        "                       used when the file names none\n"
        "  --model FILE         continue training this model\n"
        "  --init NAME          initialisation of a new model (default he)\n"
        "  --dtype f32|f64      element type of a new model (default f32)\n"
        "Data:\n"
        "  --x FILE             training inputs (rows x D0)\n"
        "  --labels FILE        class of each row (cross-entropy)\n"
        "  --targets FILE       wanted outputs (rows x DN; mse, bce)\n"
        "  --label-column N|last  the classes are column N (0-based) or the\n"
        "                       last column of the CSV inputs (--x, and\n"
        "                       --val-x/--test-x without their own labels)\n"
        "  --scale S            factor for integer data (e.g. 1/255)\n"
        "  --val-x FILE         validation inputs, with --val-labels FILE\n"
        "                       or --val-targets FILE\n"
        "  --val-split F        hold out this fraction of the training rows\n"
        "                       (drawn with the seed) for validation\n"
        "  --test-x FILE        after training, evaluate the best model on\n"
        "                       this test set (--test-labels FILE or\n"
        "                       --test-targets FILE), time the forward pass\n"
        "                       over it and print one line on stdout:\n"
        "                       accuracy=A loss=L samples_per_s=S\n"
        "Training:\n"
        "  --loss NAME          cross_entropy, mse, bce (default: from the\n"
        "                       last activation: softmax cross_entropy,\n"
        "                       sigmoid bce, else mse)\n"
        "  --optim NAME         sgd, momentum, nesterov, adam, adamw\n"
        "                       (default adam)\n"
        "  --lr R               learning rate (default 0.01; adam 0.001)\n"
        "  --momentum M         momentum, nesterov (default 0.9)\n"
        "  --beta1 B --beta2 B --eps E   Adam (0.9, 0.999, 1e-8)\n"
        "  --weight-decay W     L2 decay of the weights (default 0)\n"
        "  --schedule NAME      constant, step, cosine (default constant)\n"
        "  --step-epochs N      step: epochs between decays (default 10)\n"
        "  --gamma G            step: factor per decay (default 0.1)\n"
        "  --lr-min R           cosine: final rate (default 0)\n"
        "  --warmup-epochs N    linear warmup (default 0)\n"
        "  --epochs N           (default 10)\n"
        "  --batch N            rows per step (default 128)\n"
        "  --patience N         stop after N epochs without improvement\n"
        "                       (default 0: never)\n"
        "  --seed N             shuffling and initialisation (default 0)\n"
        "  --threads N          BLAS threads (default: the BLAS's choice)\n"
        "  --test-threads N     BLAS threads of the timed forward pass over\n"
        "                       the test set (default: as --threads)\n"
        "Output:\n"
        "  -o, --output MODEL   the model file to write\n"
        "  --json FILE          one JSON object per epoch ('-': stdout)\n"
        "  --plot FILE.svg      training and validation loss and accuracy\n"
        "  -q, --quiet          no per-epoch lines\n"
        "  -h, --help           show this help\n",
        out);
}

/* A matrix read from a dataset file. */
typedef struct matrix {
  void *x;
  int32_t *labels;
  size_t rows, cols;
} matrix;

/* Reads every row of path as dtype values (scaled) into m->x; with a
 * CSV label column (label_col, MLP_CSV_NO_LABEL for none) its classes go
 * to m->labels. */
static int read_values(const char *path, mlp_dtype dtype, double scale,
                       long label_col, matrix *m) {
  mlp_dataset_options o;
  mlp_dataset *ds = NULL;
  size_t got = 0, done = 0;
  int rc;

  mlp_dataset_options_init(&o);
  o.dtype = dtype;
  o.scale = scale;
  o.csv_label_column = label_col;
  rc = mlp_dataset_open(&ds, path, &o);
  if (rc != MLP_OK)
    return tool_fail(rc);
  m->rows = mlp_dataset_rows(ds);
  m->cols = mlp_dataset_cols(ds);
  m->x = malloc(m->rows * m->cols * mlp_dtype_size(dtype) + 1);
  if (mlp_dataset_has_labels(ds))
    m->labels = malloc(m->rows * sizeof *m->labels + 1);
  if (m->x == NULL || (mlp_dataset_has_labels(ds) && m->labels == NULL)) {
    mlp_dataset_close(ds);
    tool_error("%s: out of memory", path);
    return TOOL_EXIT_FAILURE;
  }
  while (done < m->rows) {
    rc = mlp_dataset_read(
        ds, (char *)m->x + done * m->cols * mlp_dtype_size(dtype),
        m->rows - done, m->labels ? m->labels + done : NULL, &got);
    if (rc != MLP_OK || got == 0)
      break;
    done += got;
  }
  mlp_dataset_close(ds);
  if (rc != MLP_OK)
    return tool_fail(rc);
  if (done != m->rows) {
    tool_error("%s: %zu of %zu rows read", path, done, m->rows);
    return TOOL_EXIT_FAILURE;
  }
  return TOOL_EXIT_OK;
}

/* Reads a label file (one class per row) into m->labels; its row count
 * must be m->rows. */
static int read_labels(const char *path, matrix *m) {
  mlp_dataset *ds = NULL;
  size_t got = 0, done = 0, rows;
  int rc;

  rc = mlp_dataset_open(&ds, path, NULL);
  if (rc != MLP_OK)
    return tool_fail(rc);
  rows = mlp_dataset_rows(ds);
  if (rows != m->rows) {
    mlp_dataset_close(ds);
    tool_error("%s: %zu labels for %zu rows of inputs", path, rows, m->rows);
    return TOOL_EXIT_FAILURE;
  }
  m->labels = malloc(rows * sizeof *m->labels + 1);
  if (m->labels == NULL) {
    mlp_dataset_close(ds);
    tool_error("%s: out of memory", path);
    return TOOL_EXIT_FAILURE;
  }
  while (done < rows) {
    rc = mlp_dataset_read_labels(ds, m->labels + done, rows - done, &got);
    if (rc != MLP_OK || got == 0)
      break;
    done += got;
  }
  mlp_dataset_close(ds);
  if (rc != MLP_OK)
    return tool_fail(rc);
  if (done != rows) {
    tool_error("%s: %zu of %zu labels read", path, done, rows);
    return TOOL_EXIT_FAILURE;
  }
  return TOOL_EXIT_OK;
}

/* Inputs, and labels or targets (stored as a second matrix's x). */
typedef struct dataset {
  matrix in, tgt;
  int has_targets;
} dataset;

static int load_set(const char *x, const char *labels, const char *targets,
                    mlp_dtype dtype, double scale, long label_col, dataset *d) {
  int rc = read_values(x, dtype, scale, label_col, &d->in);
  if (rc == TOOL_EXIT_OK && label_col != MLP_CSV_NO_LABEL && !d->in.labels) {
    tool_error("%s: --label-column applies to CSV inputs only", x);
    rc = TOOL_EXIT_USAGE;
  }
  if (rc == TOOL_EXIT_OK && labels)
    rc = read_labels(labels, &d->in);
  if (rc == TOOL_EXIT_OK && targets) {
    rc = read_values(targets, dtype, 1.0, MLP_CSV_NO_LABEL, &d->tgt);
    d->has_targets = 1;
    if (rc == TOOL_EXIT_OK && d->tgt.rows != d->in.rows) {
      tool_error("%s: %zu rows of targets for %zu rows of inputs", targets,
                 d->tgt.rows, d->in.rows);
      rc = TOOL_EXIT_FAILURE;
    }
  }
  return rc;
}

static void free_set(dataset *d) {
  free(d->in.x);
  free(d->in.labels);
  free(d->tgt.x);
  free(d->tgt.labels);
  memset(d, 0, sizeof *d);
}

static mlp_train_data data_of(const dataset *d) {
  mlp_train_data t;
  t.x = d->in.x;
  t.labels = d->in.labels;
  t.targets = d->has_targets ? d->tgt.x : NULL;
  t.rows = d->in.rows;
  return t;
}

/*
 * Moves a fraction of src's rows, chosen by a seeded shuffle, into val;
 * src keeps the others in their order.
 */
static int split_set(dataset *src, double fraction, uint64_t seed, size_t elem,
                     dataset *val) {
  size_t n = src->in.rows, nv = (size_t)((double)n * fraction + 0.5);
  size_t cx = src->in.cols * elem, ct = src->tgt.cols * elem;
  size_t *idx = malloc(n * sizeof *idx + 1);
  char *flag = calloc(n + 1, 1);
  dataset tr;
  uint64_t s = seed ^ 0x5851F42D4C957F2Dull;

  memset(&tr, 0, sizeof tr);
  memset(val, 0, sizeof *val);
  if (nv == 0 || nv >= n) {
    free(idx);
    free(flag);
    tool_error("--val-split: %g of %zu rows leaves no training or no "
               "validation rows",
               fraction, n);
    return TOOL_EXIT_USAGE;
  }
  tr.in.rows = n - nv;
  val->in.rows = nv;
  tr.in.cols = val->in.cols = src->in.cols;
  tr.tgt.cols = val->tgt.cols = src->tgt.cols;
  tr.in.x = malloc(tr.in.rows * cx + 1);
  val->in.x = malloc(nv * cx + 1);
  if (src->in.labels) {
    tr.in.labels = malloc(tr.in.rows * sizeof(int32_t) + 1);
    val->in.labels = malloc(nv * sizeof(int32_t) + 1);
  }
  if (src->has_targets) {
    tr.has_targets = val->has_targets = 1;
    tr.tgt.rows = tr.in.rows;
    val->tgt.rows = nv;
    tr.tgt.x = malloc(tr.in.rows * ct + 1);
    val->tgt.x = malloc(nv * ct + 1);
  }
  if (!idx || !flag || !tr.in.x || !val->in.x ||
      (src->in.labels && (!tr.in.labels || !val->in.labels)) ||
      (src->has_targets && (!tr.tgt.x || !val->tgt.x))) {
    free(idx);
    free(flag);
    free_set(&tr);
    free_set(val);
    tool_error("--val-split: out of memory");
    return TOOL_EXIT_FAILURE;
  }

  /* A partial Fisher-Yates picks the validation rows. */
  for (size_t i = 0; i < n; i++)
    idx[i] = i;
  for (size_t i = 0; i < nv && i < n; i++) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    size_t j = i + (size_t)(z % (uint64_t)(n - i));
    size_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
    flag[idx[i]] = 1;
  }
  for (size_t r = 0, a = 0, b = 0; r < n; r++) {
    dataset *d = flag[r] ? val : &tr;
    size_t k = flag[r] ? b++ : a++;
    memcpy((char *)d->in.x + k * cx, (char *)src->in.x + r * cx, cx);
    if (src->in.labels)
      d->in.labels[k] = src->in.labels[r];
    if (src->has_targets)
      memcpy((char *)d->tgt.x + k * ct, (char *)src->tgt.x + r * ct, ct);
  }
  free(idx);
  free(flag);
  free_set(src);
  *src = tr;
  return TOOL_EXIT_OK;
}

/* One epoch's figures, for the plot. */
typedef struct epoch_row {
  double train_loss, train_acc, val_loss, val_acc;
} epoch_row;

/* What the callbacks need. */
typedef struct run_state {
  const mlp_model *model;
  const char *output;
  uint64_t epochs_total;
  int quiet, tty;
  FILE *json;
  epoch_row *rows;
  size_t n_rows, cap_rows;
  int saved; /* a best model was written */
  int save_failed;
  double last_drawn;
} run_state;

static void bar_clear(run_state *st) {
  if (st->tty && st->last_drawn > 0) {
    fputs("\r\033[K", stderr);
    st->last_drawn = 0;
  }
}

static int on_step(const mlp_train_stats *s, void *user) {
  run_state *st = user;
  double now;

  if (tool_interrupted())
    return 1;
  if (!st->tty)
    return 0;
  now = tool_now();
  if (now - st->last_drawn < 0.1 && s->rows_done < s->rows_total)
    return 0;
  st->last_drawn = now;
  {
    int width = 24, fill = (int)((double)width * (double)s->rows_done /
                                 (double)s->rows_total);
    char bar[32];
    for (int i = 0; i < width; i++)
      bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr,
            "\r\033[Kepoch %llu/%llu [%s] %3.0f%% loss %.4f  %.0f "
            "samples/s",
            (unsigned long long)s->epoch, (unsigned long long)st->epochs_total,
            bar, 100.0 * (double)s->rows_done / (double)s->rows_total,
            s->train_loss,
            s->seconds > 0 ? (double)s->rows_done / s->seconds : 0.0);
    fflush(stderr);
  }
  return 0;
}

/* JSON numbers: NaN becomes null. */
static void json_num(FILE *f, const char *key, double v, int last) {
  if (isfinite(v))
    fprintf(f, "\"%s\": %.6g%s", key, v, last ? "" : ", ");
  else
    fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

static int on_epoch(const mlp_train_stats *s, void *user) {
  run_state *st = user;

  bar_clear(st);
  if (s->improved && st->output) {
    if (mlp_model_save(st->model, st->output) == MLP_OK)
      st->saved = 1;
    else {
      tool_fail(MLP_ERR_IO);
      st->save_failed = 1;
      return 1;
    }
  }
  if (!st->quiet) {
    /* Accuracy and validation figures only where they exist. */
    fprintf(stderr, "epoch %llu/%llu  train loss %.4f",
            (unsigned long long)s->epoch, (unsigned long long)st->epochs_total,
            s->train_loss);
    if (!isnan(s->train_accuracy))
      fprintf(stderr, " acc %.4f", s->train_accuracy);
    if (!isnan(s->val_loss))
      fprintf(stderr, "  val loss %.4f", s->val_loss);
    if (!isnan(s->val_accuracy))
      fprintf(stderr, " acc %.4f", s->val_accuracy);
    fprintf(stderr, "  lr %.3g  %.1fs  %.0f samples/s%s\n", s->lr, s->seconds,
            (double)s->rows_total / s->seconds,
            s->improved   ? "  (best, saved)"
            : s->stopping ? "  (early stop)"
                          : "");
  }
  if (st->json) {
    fprintf(st->json, "{\"epoch\": %llu, \"step\": %llu, ",
            (unsigned long long)s->epoch, (unsigned long long)s->step);
    json_num(st->json, "train_loss", s->train_loss, 0);
    json_num(st->json, "train_accuracy", s->train_accuracy, 0);
    json_num(st->json, "val_loss", s->val_loss, 0);
    json_num(st->json, "val_accuracy", s->val_accuracy, 0);
    json_num(st->json, "lr", s->lr, 0);
    json_num(st->json, "seconds", s->seconds, 0);
    json_num(st->json, "samples_per_s", (double)s->rows_total / s->seconds, 0);
    fprintf(st->json, "\"improved\": %s}\n", s->improved ? "true" : "false");
    fflush(st->json);
  }
  if (st->n_rows == st->cap_rows) {
    size_t cap = st->cap_rows ? 2 * st->cap_rows : 64;
    epoch_row *r = realloc(st->rows, cap * sizeof *r);
    if (r != NULL) {
      st->rows = r;
      st->cap_rows = cap;
    }
  }
  if (st->n_rows < st->cap_rows) {
    epoch_row *r = &st->rows[st->n_rows++];
    r->train_loss = s->train_loss;
    r->train_acc = s->train_accuracy;
    r->val_loss = s->val_loss;
    r->val_acc = s->val_accuracy;
  }
  return tool_interrupted();
}

/* One panel of the plot: up to two series over the epochs. */
static void svg_panel(FILE *f, double x0, const char *title,
                      const epoch_row *rows, size_t n, int acc) {
  const double w = 380, h = 260, left = 50, top = 30, pw = 310, ph = 190;
  double lo = INFINITY, hi = -INFINITY;
  static const char *const colors[2] = {"#1f77b4", "#d62728"};
  static const char *const names[2] = {"train", "validation"};

  for (size_t i = 0; i < n; i++) {
    double v[2] = {acc ? rows[i].train_acc : rows[i].train_loss,
                   acc ? rows[i].val_acc : rows[i].val_loss};
    for (int k = 0; k < 2; k++)
      if (isfinite(v[k])) {
        lo = fmin(lo, v[k]);
        hi = fmax(hi, v[k]);
      }
  }
  if (!isfinite(lo)) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  fprintf(f, "<g transform=\"translate(%g,0)\">\n", x0);
  fprintf(f,
          "<rect x=\"0\" y=\"0\" width=\"%g\" height=\"%g\" "
          "fill=\"white\"/>\n",
          w, h);
  fprintf(f,
          "<text x=\"%g\" y=\"18\" font-size=\"14\" "
          "text-anchor=\"middle\">%s</text>\n",
          left + pw / 2, title);
  fprintf(f,
          "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" "
          "fill=\"none\" stroke=\"#888\"/>\n",
          left, top, pw, ph);
  for (int t = 0; t <= 4; t++) {
    double v = lo + (hi - lo) * t / 4.0, y = top + ph - ph * t / 4.0;
    fprintf(f,
            "<text x=\"%g\" y=\"%g\" font-size=\"10\" "
            "text-anchor=\"end\">%.3g</text>\n",
            left - 4, y + 3, v);
  }
  fprintf(f,
          "<text x=\"%g\" y=\"%g\" font-size=\"11\" "
          "text-anchor=\"middle\">epoch</text>\n",
          left + pw / 2, top + ph + 30);
  fprintf(f,
          "<text x=\"%g\" y=\"%g\" font-size=\"10\" "
          "text-anchor=\"middle\">1</text>\n"
          "<text x=\"%g\" y=\"%g\" font-size=\"10\" "
          "text-anchor=\"middle\">%zu</text>\n",
          n > 1 ? left : left + pw / 2, top + ph + 14, left + pw, top + ph + 14,
          n);
  for (int k = 0; k < 2; k++) {
    int any = 0;
    fprintf(f,
            "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
            "points=\"",
            colors[k]);
    for (size_t i = 0; i < n; i++) {
      double v = k == 0 ? (acc ? rows[i].train_acc : rows[i].train_loss)
                        : (acc ? rows[i].val_acc : rows[i].val_loss);
      if (!isfinite(v))
        continue;
      double x = left + (n > 1 ? pw * (double)i / (double)(n - 1) : pw / 2);
      double y = top + ph - ph * (v - lo) / (hi - lo);
      fprintf(f, "%.1f,%.1f ", x, y);
      any = 1;
    }
    fputs("\"/>\n", f);
    if (any)
      /* The legend sits where the curves are not: top right for the
       * falling loss, bottom right for the rising accuracy. */
      fprintf(f,
              "<text x=\"%g\" y=\"%g\" font-size=\"11\" "
              "text-anchor=\"end\" fill=\"%s\">%s</text>\n",
              left + pw - 8, acc ? top + ph - 22 + 14 * k : top + 16 + 14 * k,
              colors[k], names[k]);
  }
  fputs("</g>\n", f);
}

static int write_plot(const char *path, const epoch_row *rows, size_t n) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    tool_error("--plot: cannot write %s", path);
    return TOOL_EXIT_FAILURE;
  }
  fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" "
        "height=\"260\" font-family=\"sans-serif\">\n",
        f);
  svg_panel(f, 0, "loss", rows, n, 0);
  svg_panel(f, 380, "accuracy", rows, n, 1);
  fputs("</svg>\n", f);
  if (fclose(f) != 0) {
    tool_error("--plot: cannot write %s", path);
    return TOOL_EXIT_FAILURE;
  }
  return TOOL_EXIT_OK;
}

/*
 * The forward pass over the whole test set, in batches of 1024 rows
 * through one context, repeated for at least half a second; returns the
 * best rate in samples per second.
 */
static double forward_rate(const mlp_model *m, const void *x, size_t rows) {
  const size_t chunk = rows < 1024 ? rows : 1024;
  mlp_ctx *ctx = NULL;
  size_t out = mlp_model_width(m, mlp_model_layers(m));
  void *y = malloc(rows * out * mlp_dtype_size(mlp_model_dtype(m)) + 1);
  double best = 0, start = tool_now();

  if (y == NULL || mlp_ctx_create(&ctx, m, chunk, 0, NULL, 0) != MLP_OK) {
    free(y);
    return 0;
  }
  for (int rep = 0; rep < 100 && (rep < 3 || tool_now() - start < 0.5); rep++) {
    double t0 = tool_now();
    if (mlp_forward(m, ctx, x, rows, y) != MLP_OK)
      break;
    double t = tool_now() - t0;
    if (t > 0 && (double)rows / t > best)
      best = (double)rows / t;
  }
  mlp_ctx_free(ctx);
  free(y);
  return best;
}

enum {
  OPT_DIMS = 256,
  OPT_ACTS,
  OPT_MODEL,
  OPT_INIT,
  OPT_DTYPE,
  OPT_X,
  OPT_LABELS,
  OPT_TARGETS,
  OPT_SCALE,
  OPT_VAL_X,
  OPT_VAL_LABELS,
  OPT_VAL_TARGETS,
  OPT_VAL_SPLIT,
  OPT_TEST_X,
  OPT_TEST_LABELS,
  OPT_TEST_TARGETS,
  OPT_LOSS,
  OPT_OPTIM,
  OPT_LR,
  OPT_MOMENTUM,
  OPT_BETA1,
  OPT_BETA2,
  OPT_EPS,
  OPT_WD,
  OPT_SCHEDULE,
  OPT_STEP_EPOCHS,
  OPT_GAMMA,
  OPT_LR_MIN,
  OPT_WARMUP,
  OPT_EPOCHS,
  OPT_BATCH,
  OPT_PATIENCE,
  OPT_SEED,
  OPT_THREADS,
  OPT_JSON,
  OPT_PLOT,
  OPT_LABEL_COLUMN,
  OPT_TEST_THREADS
};

/* Everything the command line sets. */
typedef struct options {
  const char *dims, *acts, *model, *init, *x, *labels, *targets;
  const char *val_x, *val_labels, *val_targets, *test_x, *test_labels;
  const char *test_targets, *loss, *optim, *schedule, *output, *json;
  const char *plot;
  mlp_dtype dtype;
  double scale, val_split, lr, momentum, beta1, beta2, eps, wd, gamma;
  double lr_min;
  size_t step_epochs, warmup_epochs, epochs, batch, patience, seed;
  size_t threads, test_threads;
  long label_col; /* CSV inputs' label column, or MLP_CSV_NO_LABEL */
  int quiet, have_lr;
} options;

static int parse(int argc, char **argv, options *o) {
  static const struct option longopts[] = {
      {"dims", required_argument, NULL, OPT_DIMS},
      {"activations", required_argument, NULL, OPT_ACTS},
      {"model", required_argument, NULL, OPT_MODEL},
      {"init", required_argument, NULL, OPT_INIT},
      {"dtype", required_argument, NULL, OPT_DTYPE},
      {"x", required_argument, NULL, OPT_X},
      {"labels", required_argument, NULL, OPT_LABELS},
      {"targets", required_argument, NULL, OPT_TARGETS},
      {"label-column", required_argument, NULL, OPT_LABEL_COLUMN},
      {"scale", required_argument, NULL, OPT_SCALE},
      {"val-x", required_argument, NULL, OPT_VAL_X},
      {"val-labels", required_argument, NULL, OPT_VAL_LABELS},
      {"val-targets", required_argument, NULL, OPT_VAL_TARGETS},
      {"val-split", required_argument, NULL, OPT_VAL_SPLIT},
      {"test-x", required_argument, NULL, OPT_TEST_X},
      {"test-labels", required_argument, NULL, OPT_TEST_LABELS},
      {"test-targets", required_argument, NULL, OPT_TEST_TARGETS},
      {"loss", required_argument, NULL, OPT_LOSS},
      {"optim", required_argument, NULL, OPT_OPTIM},
      {"lr", required_argument, NULL, OPT_LR},
      {"momentum", required_argument, NULL, OPT_MOMENTUM},
      {"beta1", required_argument, NULL, OPT_BETA1},
      {"beta2", required_argument, NULL, OPT_BETA2},
      {"eps", required_argument, NULL, OPT_EPS},
      {"weight-decay", required_argument, NULL, OPT_WD},
      {"schedule", required_argument, NULL, OPT_SCHEDULE},
      {"step-epochs", required_argument, NULL, OPT_STEP_EPOCHS},
      {"gamma", required_argument, NULL, OPT_GAMMA},
      {"lr-min", required_argument, NULL, OPT_LR_MIN},
      {"warmup-epochs", required_argument, NULL, OPT_WARMUP},
      {"epochs", required_argument, NULL, OPT_EPOCHS},
      {"batch", required_argument, NULL, OPT_BATCH},
      {"patience", required_argument, NULL, OPT_PATIENCE},
      {"seed", required_argument, NULL, OPT_SEED},
      {"threads", required_argument, NULL, OPT_THREADS},
      {"test-threads", required_argument, NULL, OPT_TEST_THREADS},
      {"json", required_argument, NULL, OPT_JSON},
      {"plot", required_argument, NULL, OPT_PLOT},
      {"output", required_argument, NULL, 'o'},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int c, bad = 0;

  memset(o, 0, sizeof *o);
  o->init = "he";
  o->label_col = MLP_CSV_NO_LABEL;
  o->dtype = MLP_F32;
  o->scale = 1.0;
  o->momentum = 0.9;
  o->beta1 = 0.9;
  o->beta2 = 0.999;
  o->eps = 1e-8;
  o->gamma = 0.1;
  o->step_epochs = 10;
  o->epochs = 10;
  o->batch = 128;
  o->optim = "adam";
  o->schedule = "constant";
  opterr = 0;
  while (!bad && (c = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_DIMS:
      o->dims = optarg;
      break;
    case OPT_ACTS:
      o->acts = optarg;
      break;
    case OPT_MODEL:
      o->model = optarg;
      break;
    case OPT_INIT:
      o->init = optarg;
      break;
    case OPT_DTYPE:
      bad = tool_parse_dtype("--dtype", optarg, &o->dtype);
      break;
    case OPT_X:
      o->x = optarg;
      break;
    case OPT_LABELS:
      o->labels = optarg;
      break;
    case OPT_TARGETS:
      o->targets = optarg;
      break;
    case OPT_LABEL_COLUMN:
      if (strcmp(optarg, "last") == 0)
        o->label_col = MLP_CSV_LABEL_LAST;
      else {
        size_t col;
        bad = tool_parse_size("--label-column", optarg, 0, 1u << 30, &col);
        o->label_col = (long)col;
      }
      break;
    case OPT_SCALE:
      bad = tool_parse_double("--scale", optarg, &o->scale);
      break;
    case OPT_VAL_X:
      o->val_x = optarg;
      break;
    case OPT_VAL_LABELS:
      o->val_labels = optarg;
      break;
    case OPT_VAL_TARGETS:
      o->val_targets = optarg;
      break;
    case OPT_VAL_SPLIT:
      bad = tool_parse_double("--val-split", optarg, &o->val_split);
      if (!bad && !(o->val_split > 0 && o->val_split < 1)) {
        tool_error("--val-split: must be in (0, 1)");
        bad = -1;
      }
      break;
    case OPT_TEST_X:
      o->test_x = optarg;
      break;
    case OPT_TEST_LABELS:
      o->test_labels = optarg;
      break;
    case OPT_TEST_TARGETS:
      o->test_targets = optarg;
      break;
    case OPT_LOSS:
      o->loss = optarg;
      break;
    case OPT_OPTIM:
      o->optim = optarg;
      break;
    case OPT_LR:
      bad = tool_parse_double("--lr", optarg, &o->lr);
      o->have_lr = 1;
      break;
    case OPT_MOMENTUM:
      bad = tool_parse_double("--momentum", optarg, &o->momentum);
      break;
    case OPT_BETA1:
      bad = tool_parse_double("--beta1", optarg, &o->beta1);
      break;
    case OPT_BETA2:
      bad = tool_parse_double("--beta2", optarg, &o->beta2);
      break;
    case OPT_EPS:
      bad = tool_parse_double("--eps", optarg, &o->eps);
      break;
    case OPT_WD:
      bad = tool_parse_double("--weight-decay", optarg, &o->wd);
      break;
    case OPT_SCHEDULE:
      o->schedule = optarg;
      break;
    case OPT_STEP_EPOCHS:
      bad = tool_parse_size("--step-epochs", optarg, 1, SIZE_MAX,
                            &o->step_epochs);
      break;
    case OPT_GAMMA:
      bad = tool_parse_double("--gamma", optarg, &o->gamma);
      break;
    case OPT_LR_MIN:
      bad = tool_parse_double("--lr-min", optarg, &o->lr_min);
      break;
    case OPT_WARMUP:
      bad = tool_parse_size("--warmup-epochs", optarg, 0, SIZE_MAX,
                            &o->warmup_epochs);
      break;
    case OPT_EPOCHS:
      bad = tool_parse_size("--epochs", optarg, 1, SIZE_MAX, &o->epochs);
      break;
    case OPT_BATCH:
      bad = tool_parse_size("--batch", optarg, 1, SIZE_MAX, &o->batch);
      break;
    case OPT_PATIENCE:
      bad = tool_parse_size("--patience", optarg, 0, SIZE_MAX, &o->patience);
      break;
    case OPT_SEED:
      bad = tool_parse_size("--seed", optarg, 0, SIZE_MAX, &o->seed);
      break;
    case OPT_THREADS:
      bad = tool_parse_size("--threads", optarg, 1, 1024, &o->threads);
      break;
    case OPT_TEST_THREADS:
      bad =
          tool_parse_size("--test-threads", optarg, 1, 1024, &o->test_threads);
      break;
    case OPT_JSON:
      o->json = optarg;
      break;
    case OPT_PLOT:
      o->plot = optarg;
      break;
    case 'o':
      o->output = optarg;
      break;
    case 'q':
      o->quiet = 1;
      break;
    case 'h':
      usage(stdout);
      return 1;
    default:
      tool_bad_option(c, argv);
      return -1;
    }
  }
  if (bad)
    return -1;
  if (optind != argc) {
    tool_error("unexpected argument '%s' (try 'mlp train --help')",
               argv[optind]);
    return -1;
  }
  if (!o->x || !o->output || (!o->model && (!o->dims || !o->acts))) {
    tool_error("--x, -o and either --model or --dims with --activations "
               "are required (try 'mlp train --help')");
    return -1;
  }
  if (o->labels && o->targets) {
    tool_error("give one of --labels and --targets");
    return -1;
  }
  if (!o->labels && !o->targets && o->label_col == MLP_CSV_NO_LABEL) {
    tool_error("give one of --labels, --targets and --label-column");
    return -1;
  }
  if ((o->val_x && o->val_split > 0) ||
      (o->val_x && !o->val_labels && !o->val_targets &&
       o->label_col == MLP_CSV_NO_LABEL)) {
    tool_error("--val-x needs --val-labels or --val-targets, and excludes "
               "--val-split");
    return -1;
  }
  if (o->test_x && !o->test_labels && !o->test_targets &&
      o->label_col == MLP_CSV_NO_LABEL) {
    tool_error("--test-x needs --test-labels or --test-targets");
    return -1;
  }
  return 0;
}

/* Builds the model: loaded (to continue) or created and initialised. */
static int make_model(const options *o, mlp_model **m) {
  size_t *dims = NULL, n_dims = 0, n_acts = 0;
  mlp_act *acts = NULL;
  mlp_init init;
  int rc;

  if (o->model)
    return tool_load_model(o->model, o->acts, 0, m);
  if (mlp_init_parse(o->init, &init) != MLP_OK) {
    tool_error("--init: unknown rule '%s'", o->init);
    return TOOL_EXIT_USAGE;
  }
  if (tool_parse_sizes("--dims", o->dims, &dims, &n_dims) != 0 ||
      tool_parse_acts("--activations", o->acts, &acts, &n_acts) != 0) {
    rc = TOOL_EXIT_USAGE;
  } else if (n_dims < 2 || n_acts != n_dims - 1) {
    tool_error("--activations: %zu given for %zu layers", n_acts,
               n_dims ? n_dims - 1 : 0);
    rc = TOOL_EXIT_USAGE;
  } else {
    rc = mlp_model_create(m, o->dtype, n_dims - 1, dims, acts,
                          MLP_LAYOUT_IN_OUT);
    if (rc == MLP_OK)
      rc = mlp_model_init(*m, init, (uint64_t)o->seed, 1.0);
    rc = rc == MLP_OK ? TOOL_EXIT_OK : tool_fail(rc);
  }
  free(dims);
  free(acts);
  return rc;
}

/* The training configuration from the options (steps per epoch known). */
static int make_config(const options *o, const mlp_model *m, size_t rows,
                       mlp_train_config *c) {
  mlp_optim_kind kind;
  mlp_act last = mlp_model_act(m, mlp_model_layers(m));
  uint64_t per_epoch = (rows + o->batch - 1) / o->batch;

  mlp_train_config_default(c);
  if (o->loss) {
    if (mlp_loss_parse(o->loss, &c->loss) != MLP_OK) {
      tool_error("--loss: unknown loss '%s'", o->loss);
      return TOOL_EXIT_USAGE;
    }
  } else {
    c->loss = last == MLP_ACT_SOFTMAX   ? MLP_LOSS_CROSS_ENTROPY
              : last == MLP_ACT_SIGMOID ? MLP_LOSS_BCE
                                        : MLP_LOSS_MSE;
  }
  if ((c->loss == MLP_LOSS_CROSS_ENTROPY) != !o->targets) {
    tool_error("%s needs %s", mlp_loss_name(c->loss),
               c->loss == MLP_LOSS_CROSS_ENTROPY ? "--labels" : "--targets");
    return TOOL_EXIT_USAGE;
  }
  if (mlp_optim_parse(o->optim, &kind) != MLP_OK) {
    tool_error("--optim: unknown optimiser '%s'", o->optim);
    return TOOL_EXIT_USAGE;
  }
  mlp_optim_config_default(&c->optim, kind);
  if (mlp_schedule_parse(o->schedule, &c->optim.schedule) != MLP_OK) {
    tool_error("--schedule: unknown schedule '%s'", o->schedule);
    return TOOL_EXIT_USAGE;
  }
  if (o->have_lr)
    c->optim.lr = o->lr;
  c->optim.momentum = o->momentum;
  c->optim.beta1 = o->beta1;
  c->optim.beta2 = o->beta2;
  c->optim.eps = o->eps;
  c->optim.weight_decay = o->wd;
  c->optim.step_size = o->step_epochs * per_epoch;
  c->optim.gamma = o->gamma;
  c->optim.total = o->epochs * per_epoch;
  c->optim.lr_min = o->lr_min;
  c->optim.warmup = o->warmup_epochs * per_epoch;
  c->batch_size = o->batch;
  c->epochs = o->epochs;
  c->seed = o->seed;
  c->patience = o->patience;
  c->restore_best = 1;
  return TOOL_EXIT_OK;
}

int mlp_cmd_train(int argc, char **argv) {
  options o;
  dataset train, val, test;
  mlp_model *m = NULL;
  mlp_trainer *t = NULL;
  mlp_train_config c;
  mlp_train_stats fin;
  mlp_train_data td, vd;
  run_state st;
  int rc, have_val;
  double started;

  tool_set_name("mlp train");
  memset(&train, 0, sizeof train);
  memset(&val, 0, sizeof val);
  memset(&test, 0, sizeof test);
  memset(&st, 0, sizeof st);
  rc = parse(argc, argv, &o);
  if (rc != 0)
    return rc > 0 ? TOOL_EXIT_OK : TOOL_EXIT_USAGE;
  if (o.threads > 0 && mlp_blas_set_threads((int)o.threads) != MLP_OK)
    tool_error("--threads: %s (continuing)", mlp_last_error());

  rc = make_model(&o, &m);
  if (rc != TOOL_EXIT_OK)
    goto done;
  /* --label-column applies to the training inputs, and to validation
   * and test inputs that come without their own labels or targets. */
  rc = load_set(o.x, o.labels, o.targets, mlp_model_dtype(m), o.scale,
                o.labels || o.targets ? MLP_CSV_NO_LABEL : o.label_col, &train);
  if (rc == TOOL_EXIT_OK && o.val_x)
    rc = load_set(
        o.val_x, o.val_labels, o.val_targets, mlp_model_dtype(m), o.scale,
        o.val_labels || o.val_targets ? MLP_CSV_NO_LABEL : o.label_col, &val);
  if (rc == TOOL_EXIT_OK && o.val_split > 0)
    rc = split_set(&train, o.val_split, (uint64_t)o.seed,
                   mlp_dtype_size(mlp_model_dtype(m)), &val);
  if (rc != TOOL_EXIT_OK)
    goto done;
  have_val = val.in.rows > 0;
  if (train.in.cols != mlp_model_width(m, 0) ||
      (have_val && val.in.cols != train.in.cols)) {
    tool_error("the model takes %zu inputs, the data has %zu columns",
               mlp_model_width(m, 0),
               have_val && val.in.cols != train.in.cols ? val.in.cols
                                                        : train.in.cols);
    rc = TOOL_EXIT_FAILURE;
    goto done;
  }
  rc = make_config(&o, m, train.in.rows, &c);
  if (rc != TOOL_EXIT_OK)
    goto done;

  st.model = m;
  st.output = o.output;
  st.epochs_total = o.epochs;
  st.quiet = o.quiet;
  st.tty = isatty(2);
  if (o.json) {
    st.json = strcmp(o.json, "-") == 0 ? stdout : fopen(o.json, "w");
    if (st.json == NULL) {
      tool_error("--json: cannot write %s", o.json);
      rc = TOOL_EXIT_FAILURE;
      goto done;
    }
  }
  c.on_step = on_step;
  c.on_epoch = on_epoch;
  c.user = &st;
  rc = mlp_trainer_create(&t, m, &c, train.in.rows);
  if (rc != MLP_OK) {
    rc = tool_fail(rc);
    goto done;
  }
  tool_signals_install();
  td = data_of(&train);
  vd = data_of(&val);
  started = tool_now();
  rc = mlp_trainer_fit(t, &td, have_val ? &vd : NULL, &fin);
  bar_clear(&st);
  if (rc != MLP_OK) {
    if (st.save_failed)
      rc = TOOL_EXIT_FAILURE;
    else if (rc == MLP_ERR_INTERRUPTED) {
      tool_error("interrupted in epoch %llu after step %llu; %s",
                 (unsigned long long)fin.epoch, (unsigned long long)fin.step,
                 st.saved ? "the best model so far is saved"
                          : "no epoch completed, no model saved");
      rc = TOOL_EXIT_INTERRUPTED;
    } else
      rc = tool_fail(rc);
    goto done;
  }
  if (!o.quiet)
    fprintf(stderr,
            "trained %llu epochs in %.1fs; best epoch %llu (%s loss "
            "%.4f) saved to %s\n",
            (unsigned long long)fin.epoch, tool_now() - started,
            (unsigned long long)fin.best_epoch,
            have_val ? "validation" : "training", fin.best_loss, o.output);
  if (o.plot && (rc = write_plot(o.plot, st.rows, st.n_rows)) != 0)
    goto done;

  if (o.test_x) {
    double loss = NAN, acc = NAN, rate;
    mlp_train_data xd;
    rc = load_set(
        o.test_x, o.test_labels, o.test_targets, mlp_model_dtype(m), o.scale,
        o.test_labels || o.test_targets ? MLP_CSV_NO_LABEL : o.label_col,
        &test);
    if (rc != TOOL_EXIT_OK)
      goto done;
    if (test.in.cols != mlp_model_width(m, 0)) {
      tool_error("%s: %zu columns for a model of %zu inputs", o.test_x,
                 test.in.cols, mlp_model_width(m, 0));
      rc = TOOL_EXIT_FAILURE;
      goto done;
    }
    xd = data_of(&test);
    rc = mlp_trainer_evaluate(t, &xd, &loss, &acc);
    if (rc != MLP_OK) {
      rc = tool_fail(rc);
      goto done;
    }
    if (o.test_threads > 0 &&
        mlp_blas_set_threads((int)o.test_threads) != MLP_OK)
      tool_error("--test-threads: %s (continuing)", mlp_last_error());
    rate = forward_rate(m, test.in.x, test.in.rows);
    if (st.json) {
      fputc('{', st.json);
      json_num(st.json, "test_accuracy", acc, 0);
      json_num(st.json, "test_loss", loss, 0);
      json_num(st.json, "samples_per_s", rate, 1);
      fputs("}\n", st.json);
    }
    printf("accuracy=%.4f loss=%.4f samples_per_s=%.0f\n", acc, loss, rate);
  }
  rc = TOOL_EXIT_OK;
done:
  if (st.json && st.json != stdout)
    fclose(st.json);
  free(st.rows);
  mlp_trainer_free(t);
  mlp_model_free(m);
  free_set(&train);
  free_set(&val);
  free_set(&test);
  return rc;
}
