/*
 * core_util.h - helpers shared by the core tests: a seeded generator, a
 * float64 reference forward pass written from the definitions (no BLAS, no
 * kernels), and tolerance rules.
 */
#ifndef MLP_TEST_CORE_UTIL_H
#define MLP_TEST_CORE_UTIL_H

#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

/* A small xorshift generator: tests must not depend on rand(). */
static inline double tu_uniform(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return (double)(*s >> 11) * 0x1.0p-53;
}
static inline double tu_range(uint64_t *s, double lo, double hi) {
  return lo + (hi - lo) * tu_uniform(s);
}

/* f(z) for one element, in double, from the definitions. */
static inline double tu_act(mlp_act act, double z, double slope) {
  switch (act) {
  case MLP_ACT_IDENTITY:
  case MLP_ACT_SOFTMAX: /* handled per row by the caller */
    return z;
  case MLP_ACT_RELU:
    return z > 0 ? z : 0;
  case MLP_ACT_LEAKY_RELU:
    return z > 0 ? z : slope * z;
  case MLP_ACT_SIGMOID:
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
  case MLP_ACT_TANH:
    return tanh(z);
  case MLP_ACT_GELU:
    return 0.5 * z * erfc(-z / sqrt(2.0));
  case MLP_ACT_SILU:
    return z >= 0 ? z / (1 + exp(-z)) : z * exp(z) / (1 + exp(z));
  }
  return NAN;
}

/* Applies f to a row of n values in place (softmax included). */
static inline void tu_act_row(mlp_act act, double *r, size_t n,
                              double slope) {
  if (act == MLP_ACT_SOFTMAX) {
    double mx = -INFINITY, s = 0;
    for (size_t j = 0; j < n; j++)
      mx = fmax(mx, r[j]);
    for (size_t j = 0; j < n; j++)
      s += (r[j] = exp(r[j] - mx));
    for (size_t j = 0; j < n; j++)
      r[j] /= s;
    return;
  }
  for (size_t j = 0; j < n; j++)
    r[j] = tu_act(act, r[j], slope);
}

/* Element i of an array of the model's dtype. */
static inline double tu_get(mlp_dtype dt, const void *a, size_t i) {
  return dt == MLP_F32 ? ((const float *)a)[i] : ((const double *)a)[i];
}
static inline void tu_set(mlp_dtype dt, void *a, size_t i, double v) {
  if (dt == MLP_F32)
    ((float *)a)[i] = (float)v;
  else
    ((double *)a)[i] = v;
}

/*
 * Reference forward pass in double of a model's own parameters (read back
 * through mlp_model_get_layer, [in, out]). x is batch x widths[0] of the
 * model's dtype; out is batch x widths[N] doubles. Also returns, through
 * *scale, the largest sum_i |y_i w_ij| + |b_j| seen, the magnitude error
 * bounds scale with.
 */
static inline void tu_reference(const mlp_model *m, const void *x,
                                size_t batch, double *out, double *scale) {
  const mlp_dtype dt = mlp_model_dtype(m);
  const size_t n = mlp_model_layers(m);
  size_t maxw = 0;
  double big = 0;

  for (size_t k = 0; k <= n; k++)
    if (mlp_model_width(m, k) > maxw)
      maxw = mlp_model_width(m, k);
  double *cur = calloc(maxw, sizeof *cur), *nxt = calloc(maxw, sizeof *nxt);
  for (size_t r = 0; r < batch; r++) {
    size_t in = mlp_model_width(m, 0);
    for (size_t i = 0; i < in; i++)
      cur[i] = tu_get(dt, x, r * in + i);
    for (size_t k = 1; k <= n; k++) {
      size_t o = mlp_model_width(m, k);
      size_t es = dt == MLP_F32 ? sizeof(float) : sizeof(double);
      void *w = malloc(in * o * es), *b = malloc(o * es);
      ck_assert_int_eq(mlp_model_get_layer(m, k, w, MLP_LAYOUT_IN_OUT, b),
                       MLP_OK);
      for (size_t j = 0; j < o; j++) {
        double s = tu_get(dt, b, j), mag = fabs(s);
        for (size_t i = 0; i < in; i++) {
          s += cur[i] * tu_get(dt, w, i * o + j);
          mag += fabs(cur[i] * tu_get(dt, w, i * o + j));
        }
        nxt[j] = s;
        if (mag > big)
          big = mag;
      }
      tu_act_row(mlp_model_act(m, k), nxt, o, mlp_model_slope(m, k));
      free(w);
      free(b);
      double *t = cur;
      cur = nxt;
      nxt = t;
      in = o;
    }
    memcpy(out + r * in, cur, in * sizeof *cur);
  }
  free(cur);
  free(nxt);
  if (scale)
    *scale = big > 1 ? big : 1;
}

/*
 * Tolerance for a pass of depth n_layers whose widest dot product has
 * `terms` terms of magnitude `scale`: a few ulps per term and layer, the
 * standard bound for recursive summation, plus the kernels' error.
 */
static inline double tu_tol(mlp_dtype dt, size_t terms, size_t n_layers,
                            double scale) {
  double eps = dt == MLP_F32 ? FLT_EPSILON : DBL_EPSILON;
  return 8.0 * eps * (double)(terms + 8) * (double)n_layers * scale;
}

#define TU_ASSERT_CLOSE(got, want, tol, what, idx)                             \
  ck_assert_msg(fabs((got) - (want)) <= (tol),                                 \
                "%s [%zu]: got %.17g, want %.17g (|diff| %.3g > tol %.3g)",    \
                (what), (size_t)(idx), (double)(got), (double)(want),          \
                fabs((got) - (want)), (double)(tol))

#endif
