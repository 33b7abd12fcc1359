/*
 * floor.c - the GEMM floor: per layer only the BLAS call that multiplies
 * the previous layer's output by W_k, with beta = 0, no bias and no
 * activation. A forward pass that makes one such call per layer cannot be
 * faster than this with the same BLAS and threads; mlp-bench reports the
 * forward pass's time as a multiple of it.
 *
 * This is the only file of mlp-bench that calls CBLAS directly.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifdef BENCH_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

static int floor_dnnl; /* float GEMMs through dnnl_sgemm */

int bench_floor_provider(const char *name) {
  if (!strcmp(name, "cblas")) {
    floor_dnnl = 0;
    return 0;
  }
#ifdef BENCH_HAVE_DNNL
  if (!strcmp(name, "dnnl")) {
    floor_dnnl = 1;
    return 0;
  }
#endif
  return -1;
}

const char *bench_floor_provider_name(void) {
  return floor_dnnl ? "dnnl" : "cblas";
}

struct bench_floor {
  mlp_dtype dtype;
  size_t elem;
  int out_in; /* W stored as [out, in] */
  size_t n_layers;
  size_t widths[BENCH_MAX_LAYERS + 1];
  void *w[BENCH_MAX_LAYERS]; /* copies of W_k, in the storage layout */
  void *buf[2];              /* ping-pong outputs */
};

bench_floor *bench_floor_create(const mlp_model *model, size_t rows) {
  bench_floor *f = calloc(1, sizeof *f);
  if (!f)
    goto oom;
  f->dtype = mlp_model_dtype(model);
  f->elem = mlp_dtype_size(f->dtype);
  f->out_in = mlp_model_storage(model) == MLP_LAYOUT_OUT_IN;
  f->n_layers = mlp_model_layers(model);
  size_t widest = 0;
  for (size_t k = 0; k <= f->n_layers; k++)
    f->widths[k] = mlp_model_width(model, k);
  /* Own copies of the weights (same values, same layout), so that the
   * floor does not depend on how the model arranges its parameters. */
  for (size_t k = 1; k <= f->n_layers; k++) {
    size_t bytes = f->widths[k - 1] * f->widths[k] * f->elem;
    if (posix_memalign(&f->w[k - 1], 64, bytes))
      goto oom;
    if (mlp_model_get_layer(model, k, f->w[k - 1], mlp_model_storage(model),
                            NULL)) {
      fprintf(stderr, "mlp-bench: floor: %s\n", mlp_last_error());
      bench_floor_free(f);
      return NULL;
    }
    if (f->widths[k] > widest)
      widest = f->widths[k];
  }
  for (int i = 0; i < 2; i++) {
    if (posix_memalign(&f->buf[i], 64, rows * widest * f->elem))
      goto oom;
  }
  return f;
oom:
  fprintf(stderr, "mlp-bench: out of memory for the GEMM floor\n");
  bench_floor_free(f);
  return NULL;
}

void bench_floor_free(bench_floor *f) {
  if (!f)
    return;
  for (size_t k = 0; k < f->n_layers; k++)
    free(f->w[k]);
  free(f->buf[0]);
  free(f->buf[1]);
  free(f);
}

const char *bench_floor_kind(size_t rows) {
  return rows == 1 ? "gemv" : "gemm";
}

/* out[rows x n] = in[rows x k] W, W as stored ([k, n] or [n, k]). */
static void layer_f32(const bench_floor *f, const float *w, const float *in,
                      size_t rows, size_t k, size_t n, float *out) {
  if (rows == 1) {
    /* y = W^T x for W [k, n]; y = W x for W [n, k] */
    if (f->out_in)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, 1.0f, w, (int)k,
                  in, 1, 0.0f, out, 1);
    else
      cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, 1.0f, w, (int)n,
                  in, 1, 0.0f, out, 1);
    return;
  }
#ifdef BENCH_HAVE_DNNL
  if (floor_dnnl) {
    dnnl_sgemm('N', f->out_in ? 'T' : 'N', (dnnl_dim_t)rows, (dnnl_dim_t)n,
               (dnnl_dim_t)k, 1.0f, in, (dnnl_dim_t)k, w,
               f->out_in ? (dnnl_dim_t)k : (dnnl_dim_t)n, 0.0f, out,
               (dnnl_dim_t)n);
    return;
  }
#endif
  cblas_sgemm(CblasRowMajor, CblasNoTrans,
              f->out_in ? CblasTrans : CblasNoTrans, (int)rows, (int)n, (int)k,
              1.0f, in, (int)k, w, f->out_in ? (int)k : (int)n, 0.0f, out,
              (int)n);
}

static void layer_f64(const bench_floor *f, const double *w, const double *in,
                      size_t rows, size_t k, size_t n, double *out) {
  if (rows == 1) {
    if (f->out_in)
      cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, 1.0, w, (int)k,
                  in, 1, 0.0, out, 1);
    else
      cblas_dgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, 1.0, w, (int)n, in,
                  1, 0.0, out, 1);
    return;
  }
  cblas_dgemm(CblasRowMajor, CblasNoTrans,
              f->out_in ? CblasTrans : CblasNoTrans, (int)rows, (int)n, (int)k,
              1.0, in, (int)k, w, f->out_in ? (int)k : (int)n, 0.0, out,
              (int)n);
}

void bench_floor_run(bench_floor *f, const void *x, size_t rows) {
  const void *in = x;
  for (size_t k = 1; k <= f->n_layers; k++) {
    void *out = f->buf[k & 1];
    if (f->dtype == MLP_F32)
      layer_f32(f, (const float *)f->w[k - 1], in, rows, f->widths[k - 1],
                f->widths[k], out);
    else
      layer_f64(f, (const double *)f->w[k - 1], in, rows, f->widths[k - 1],
                f->widths[k], out);
    in = out;
  }
}
