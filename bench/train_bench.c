/*
 * train_bench.c - the cost of one training step (forward + backward +
 * optimiser update) next to its GEMM floor, on the benchmark workloads.
 *
 * The floor is the GEMMs the step cannot avoid, timed alone on buffers of
 * the same shapes: per layer k, Z_k = Y_{k-1} W_k, dW_k = Y_{k-1}^T dZ_k
 * and, for k > 1, dY_{k-1} = dZ_k W_k^T (no step needs dY_0, the gradient
 * of the input). The ratio step / floor is what the rest costs: bias and
 * activation, softmax and loss, activation derivatives, bias sums, the
 * update and the batch copy.
 *
 *   train-bench [--workload mnist,deep,...] [--batch 256,...]
 *               [--threads 1,2] [--optim sgd|momentum|adam]
 *               [--min-time S] [--reps N] [--stat median|min]
 *               [--clock wall|cpu]
 *
 * Prints one table row per (workload, batch, threads): the median (or
 * fastest) repetition's milliseconds of the step and of its parts, the
 * floor, and the ratio.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT */
#endif
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mlp.h>

/* The workloads of bench/workloads.json (widths and activations). */
typedef struct workload {
  const char *name;
  size_t n;
  size_t widths[12];
  mlp_act acts[11];
} workload;

#define R MLP_ACT_RELU
#define T MLP_ACT_TANH
#define S MLP_ACT_SOFTMAX
#define I MLP_ACT_IDENTITY
static const workload workloads[] = {
    {"seed", 3, {2, 3, 2, 2}, {R, R, S}},
    {"mnist", 3, {784, 512, 512, 10}, {R, R, S}},
    {"wide", 3, {1024, 4096, 4096, 1024}, {R, R, I}},
    {"deep",
     9,
     {256, 256, 256, 256, 256, 256, 256, 256, 256, 10},
     {T, T, T, T, T, T, T, T, S}},
};
#undef R
#undef T
#undef S
#undef I

/*
 * CBLAS's sgemm, found at run time in the BLAS that libmlp itself loaded,
 * so that the floor uses the very same library and core. NOTE: looked up
 * with dlsym because this program links only libmlp (bench/meson.build
 * gives it no BLAS dependency); the enum values are CBLAS's standard ones.
 */
typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k,
                         float alpha, const float *a, int lda, const float *b,
                         int ldb, float beta, float *c, int ldc);
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
static sgemm_fn sgemm;

/* The clock: wall time, or with --clock cpu the process's CPU time (all
 * its threads), which a busy machine's other programs do not inflate;
 * with one BLAS thread the two agree on an idle machine. */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void) {
  struct timespec ts;
  clock_gettime(bench_clock, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double min_time = 0.3;
static int reps = 5;
static int use_min = 0; /* report the fastest repetition, not the median */

/*
 * Times several functions: per repetition, each in turn runs in a loop of
 * >= min_time and gets its mean time per call; out[i] is the median (or
 * minimum) over the repetitions. Interleaving the functions exposes them
 * all to the same conditions, so the ratios hold on a busy machine too.
 */
typedef void (*bench_fn)(void *arg);
static void measure(const bench_fn *fn, size_t nfn, void *arg, double *out) {
  double t[16][64];
  int n = reps < 64 ? reps : 64;

  for (size_t f = 0; f < nfn && f < 16; f++)
    for (double s = now(); now() - s < min_time / 4;)
      fn[f](arg);
  for (int r = 0; r < n; r++)
    for (size_t f = 0; f < nfn && f < 16; f++) {
      long iters = 0;
      double s = now(), e;
      do {
        fn[f](arg);
        iters++;
      } while ((e = now()) - s < min_time);
      t[f][r] = (e - s) / (double)iters;
    }
  for (size_t f = 0; f < nfn && f < 16; f++) {
    qsort(t[f], (size_t)n, sizeof t[f][0], cmp_double);
    out[f] = use_min ? t[f][0] : t[f][n / 2];
  }
}

/* The state of one configuration. */
typedef struct run {
  const workload *w;
  size_t batch;
  mlp_model *model;
  mlp_ctx *ctx;
  mlp_grad *grad;
  mlp_optim *optim;
  float *x, *y, *targets;
  int32_t *labels;
  mlp_loss loss;
  /* The floor's buffers: per layer Y_{k-1}, W_k, Z_k (also dZ_k), dW_k,
   * dY_{k-1}. */
  float **fy, **fw, **fz, **fdw, **fdy;
} run;

static void do_forward(void *arg) {
  run *r = arg;
  mlp_forward(r->model, r->ctx, r->x, r->batch, r->y);
}
static void do_backward(void *arg) {
  run *r = arg;
  mlp_backward(r->model, r->ctx, r->x, r->batch, r->loss, r->labels, r->targets,
               r->grad);
}
static void do_update(void *arg) {
  run *r = arg;
  mlp_optim_step(r->optim, r->model, r->grad);
}
static void do_step(void *arg) {
  do_forward(arg);
  do_backward(arg);
  do_update(arg);
}
static void do_floor(void *arg) {
  run *r = arg;
  int b = (int)r->batch;
  for (size_t k = 1; k <= r->w->n; k++) {
    int in = (int)r->w->widths[k - 1], out = (int)r->w->widths[k];
    sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, b, out, in, 1.0f, r->fy[k - 1], in,
          r->fw[k - 1], out, 0.0f, r->fz[k - 1], out);
  }
  for (size_t k = r->w->n; k >= 1; k--) {
    int in = (int)r->w->widths[k - 1], out = (int)r->w->widths[k];
    sgemm(ROW_MAJOR, TRANS, NO_TRANS, in, out, b, 1.0f, r->fy[k - 1], in,
          r->fz[k - 1], out, 0.0f, r->fdw[k - 1], out);
    if (k > 1)
      sgemm(ROW_MAJOR, NO_TRANS, TRANS, b, in, out, 1.0f, r->fz[k - 1], out,
            r->fw[k - 1], out, 0.0f, r->fdy[k - 1], in);
  }
}

static float *randoms(size_t n, uint64_t *s) {
  float *p = malloc(n * sizeof *p + 4);
  if (p == NULL) {
    fprintf(stderr, "train-bench: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = (float)((double)(*s >> 40) / 16777216.0 * 2.0 - 1.0);
  }
  return p;
}

static int setup(run *r, const workload *w, size_t batch, mlp_optim_kind kind) {
  mlp_optim_config oc;
  size_t n = w->n, in = w->widths[0], out = w->widths[n];
  uint64_t s = 20240601;

  memset(r, 0, sizeof *r);
  r->w = w;
  r->batch = batch;
  r->loss =
      w->acts[n - 1] == MLP_ACT_SOFTMAX ? MLP_LOSS_CROSS_ENTROPY : MLP_LOSS_MSE;
  mlp_optim_config_default(&oc, kind);
  /* The timed loops repeat one batch thousands of times; a tiny rate
   * keeps the network near its initial state (no drift into huge or
   * subnormal values that would time something else). The cost of an
   * update does not depend on the rate. */
  oc.lr = 1e-6;
  if (mlp_model_create(&r->model, MLP_F32, n, w->widths, w->acts,
                       MLP_LAYOUT_IN_OUT) != MLP_OK ||
      mlp_model_init(r->model, MLP_INIT_HE_UNIFORM, 1, 1.0) != MLP_OK ||
      mlp_ctx_create(&r->ctx, r->model, batch, MLP_CTX_KEEP, NULL, 0) !=
          MLP_OK ||
      mlp_grad_create(&r->grad, r->model, batch) != MLP_OK ||
      mlp_optim_create(&r->optim, r->model, &oc) != MLP_OK) {
    fprintf(stderr, "train-bench: %s\n", mlp_last_error());
    return -1;
  }
  r->x = randoms(batch * in, &s);
  r->y = randoms(batch * out, &s);
  r->targets = randoms(batch * out, &s);
  r->labels = malloc(batch * sizeof *r->labels);
  for (size_t i = 0; r->labels && i < batch; i++)
    r->labels[i] = (int32_t)(i % out);
  r->fy = calloc(n, sizeof *r->fy);
  r->fw = calloc(n, sizeof *r->fw);
  r->fz = calloc(n, sizeof *r->fz);
  r->fdw = calloc(n, sizeof *r->fdw);
  r->fdy = calloc(n, sizeof *r->fdy);
  if (!r->labels || !r->fy || !r->fw || !r->fz || !r->fdw || !r->fdy) {
    fprintf(stderr, "train-bench: out of memory\n");
    return -1;
  }
  for (size_t k = 0; k < n; k++) {
    size_t a = w->widths[k], b = w->widths[k + 1];
    r->fy[k] = randoms(batch * a, &s);
    r->fw[k] = randoms(a * b, &s);
    r->fz[k] = randoms(batch * b, &s);
    r->fdw[k] = randoms(a * b, &s);
    r->fdy[k] = randoms(batch * a, &s);
  }
  return 0;
}

static void teardown(run *r) {
  for (size_t k = 0; r->fy && k < r->w->n; k++) {
    free(r->fy[k]);
    free(r->fw[k]);
    free(r->fz[k]);
    free(r->fdw[k]);
    free(r->fdy[k]);
  }
  free(r->fy);
  free(r->fw);
  free(r->fz);
  free(r->fdw);
  free(r->fdy);
  free(r->x);
  free(r->y);
  free(r->targets);
  free(r->labels);
  mlp_optim_free(r->optim);
  mlp_grad_free(r->grad);
  mlp_ctx_free(r->ctx);
  mlp_model_free(r->model);
}

/* Splits a comma list into at most max tokens (modifies text). */
static size_t split(char *text, char **out, size_t max) {
  size_t n = 0;
  for (char *p = strtok(text, ","); p && n < max; p = strtok(NULL, ","))
    out[n++] = p;
  return n;
}

int main(int argc, char **argv) {
  char wl_text[256] = "mnist,deep", batch_text[256] = "256";
  char thr_text[64] = "1,2";
  char *wl[8], *bt[16], *th[8];
  mlp_optim_kind kind = MLP_OPTIM_MOMENTUM;
  mlp_blas_info info;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (v && strcmp(a, "--workload") == 0)
      snprintf(wl_text, sizeof wl_text, "%s", v), i++;
    else if (v && strcmp(a, "--batch") == 0)
      snprintf(batch_text, sizeof batch_text, "%s", v), i++;
    else if (v && strcmp(a, "--threads") == 0)
      snprintf(thr_text, sizeof thr_text, "%s", v), i++;
    else if (v && strcmp(a, "--min-time") == 0)
      min_time = atof(v), i++;
    else if (v && strcmp(a, "--reps") == 0)
      reps = atoi(v), i++;
    else if (v && strcmp(a, "--stat") == 0)
      use_min = strcmp(v, "min") == 0, i++;
    else if (v && strcmp(a, "--clock") == 0)
      bench_clock =
          strcmp(v, "cpu") == 0 ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC,
      i++;
    else if (v && strcmp(a, "--optim") == 0) {
      if (mlp_optim_parse(v, &kind) != MLP_OK) {
        fprintf(stderr, "train-bench: %s\n", mlp_last_error());
        return 2;
      }
      i++;
    } else {
      fprintf(stderr,
              "usage: train-bench [--workload LIST] [--batch LIST] "
              "[--threads LIST] [--optim NAME] [--min-time S] [--reps N] "
              "[--stat median|min] [--clock wall|cpu]\n");
      return 2;
    }
  }
  if (reps < 1)
    reps = 1;

  sgemm = (sgemm_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "cblas_sgemm");
  if (sgemm == NULL) {
    fprintf(stderr, "train-bench: cblas_sgemm not found in the process\n");
    return 1;
  }
  mlp_blas_info_get(&info);
  printf("# BLAS %s %s, core %s%s; kernels %s; optimiser %s; %s of %d, "
         "%s clock\n",
         info.vendor, info.version, info.core,
         info.slow_core ? " (slow: set OPENBLAS_CORETYPE)" : "",
         mlp_kernels_name(mlp_kernels_active()), mlp_optim_name(kind),
         use_min ? "min" : "median", reps,
         bench_clock == CLOCK_MONOTONIC ? "wall" : "cpu");
  printf("%-6s %6s %3s %10s %10s %10s %10s %10s %7s\n", "work", "batch", "thr",
         "fwd_ms", "bwd_ms", "upd_ms", "step_ms", "floor_ms", "ratio");

  size_t nw = split(wl_text, wl, 8), nb = split(batch_text, bt, 16);
  size_t nt = split(thr_text, th, 8);
  for (size_t a = 0; a < nw; a++) {
    const workload *w = NULL;
    for (size_t k = 0; k < sizeof workloads / sizeof *workloads; k++)
      if (strcmp(workloads[k].name, wl[a]) == 0)
        w = &workloads[k];
    if (w == NULL) {
      fprintf(stderr, "train-bench: unknown workload %s\n", wl[a]);
      return 2;
    }
    for (size_t b = 0; b < nb; b++)
      for (size_t t = 0; t < nt; t++) {
        run r;
        size_t batch = (size_t)atol(bt[b]);
        int threads = atoi(th[t]);
        if (batch == 0 || threads < 1 || setup(&r, w, batch, kind) != 0)
          return 1;
        mlp_blas_set_threads(threads);
        static const bench_fn fns[5] = {do_forward, do_backward, do_update,
                                        do_step, do_floor};
        double ms[5];
        do_forward(&r); /* the backward pass needs a forward first */
        measure(fns, 5, &r, ms);
        double fwd = ms[0], bwd = ms[1], upd = ms[2], step = ms[3];
        double floor = ms[4];
        printf("%-6s %6zu %3d %10.3f %10.3f %10.3f %10.3f %10.3f %7.3f\n",
               w->name, batch, threads, 1e3 * fwd, 1e3 * bwd, 1e3 * upd,
               1e3 * step, 1e3 * floor, step / floor);
        fflush(stdout);
        teardown(&r);
      }
  }
  return 0;
}
