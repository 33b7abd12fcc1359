/*
 * test_backward.c - the backward pass: every activation and loss against
 * central finite differences in float64, both weight layouts, float32
 * against float64, the worked example of the lecture notes against a
 * hand-written float64 reference, and the error paths.
 */
#define _POSIX_C_SOURCE 200112L
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

/* A deterministic generator for test data (SplitMix64 to [-1, 1)). */
static uint64_t rng_state;
static double rnd(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* The mean loss of model on (x, labels/targets), by the library's forward
 * pass and loss. */
static double loss_of(const mlp_model *m, mlp_ctx *c, const void *x,
                      size_t batch, mlp_loss loss, const int32_t *labels,
                      const void *targets, void *y) {
  double mean = NAN;
  ck_assert_int_eq(mlp_forward(m, c, x, batch, y), MLP_OK);
  ck_assert_int_eq(mlp_ctx_loss(c, loss, labels, targets, NULL, &mean), MLP_OK);
  return mean;
}

/*
 * Builds a float64 net widths[0..n] with acts, random parameters and data,
 * runs mlp_backward and compares every gradient with the central
 * difference (L(w + h) - L(w - h)) / 2h. The tolerance scales with the
 * gradient's magnitude: float64 central differences with h = 1e-6 are good
 * to ~1e-9 relative, so 1e-6 leaves room without hiding a wrong term.
 */
static void check_fd(size_t n, const size_t *widths, const mlp_act *acts,
                     mlp_loss loss, mlp_layout storage, size_t batch,
                     uint64_t seed) {
  mlp_model *m = NULL;
  mlp_ctx *c = NULL;
  mlp_grad *g = NULL;
  size_t count = 0, in = widths[0], out = widths[n];
  double *x = malloc(batch * in * sizeof *x);
  double *t = malloc(batch * out * sizeof *t);
  double *y = malloc(batch * out * sizeof *y);
  int32_t *labels = malloc(batch * sizeof *labels);
  const double h = 1e-6;

  rng_state = seed;
  ck_assert_int_eq(mlp_model_create(&m, MLP_F64, n, widths, acts, storage),
                   MLP_OK);
  ck_assert_int_eq(mlp_model_init(m, MLP_INIT_XAVIER_UNIFORM, seed, 1.0),
                   MLP_OK);
  double *p = mlp_model_params_mut(m, &count);
  /* Random biases too, so that no bias gradient is trivially right. */
  for (size_t i = 0; i < count; i++)
    p[i] += 0.1 * rnd();
  for (size_t i = 0; i < batch * in; i++)
    x[i] = 2.0 * rnd();
  for (size_t i = 0; i < batch; i++)
    labels[i] = (int32_t)((i * 7 + seed) % out);
  for (size_t i = 0; i < batch * out; i++)
    t[i] = loss == MLP_LOSS_BCE ? 0.5 + 0.5 * rnd() : rnd();

  ck_assert_int_eq(mlp_ctx_create(&c, m, batch, MLP_CTX_KEEP, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_grad_create(&g, m, batch), MLP_OK);
  loss_of(m, c, x, batch, loss, labels, t, y);
  ck_assert_int_eq(mlp_backward(m, c, x, batch, loss, labels, t, g), MLP_OK);

  size_t gcount = 0;
  const double *gp = mlp_grad_params(g, &gcount);
  ck_assert_uint_eq(gcount, count);
  for (size_t i = 0; i < count; i++) {
    double keep = p[i];
    p[i] = keep + h;
    double lp = loss_of(m, c, x, batch, loss, labels, t, y);
    p[i] = keep - h;
    double lm = loss_of(m, c, x, batch, loss, labels, t, y);
    p[i] = keep;
    double fd = (lp - lm) / (2 * h);
    double tol = 1e-6 * fmax(1e-3, fabs(fd)) + 1e-9;
    ck_assert_msg(fabs(gp[i] - fd) <= tol,
                  "%s/%s last %s layout %d: param %zu: backward %.12g, "
                  "finite difference %.12g",
                  mlp_act_name(acts[0]), mlp_loss_name(loss),
                  mlp_act_name(acts[n - 1]), (int)storage, i, gp[i], fd);
  }
  mlp_grad_free(g);
  mlp_ctx_free(c);
  mlp_model_free(m);
  free(x);
  free(t);
  free(y);
  free(labels);
}

/* Every activation as the hidden layers, with each loss. */
START_TEST(fd_every_activation_and_loss) {
  const size_t widths[] = {4, 5, 6, 3};
  for (int a = 0; a < MLP_ACT_COUNT; a++) {
    for (int layout = 0; layout < 2; layout++) {
      mlp_act ce[] = {(mlp_act)a, (mlp_act)a, MLP_ACT_SOFTMAX};
      mlp_act bce[] = {(mlp_act)a, (mlp_act)a, MLP_ACT_SIGMOID};
      mlp_act mse[] = {(mlp_act)a, (mlp_act)a, (mlp_act)a};
      check_fd(3, widths, ce, MLP_LOSS_CROSS_ENTROPY, (mlp_layout)layout, 5,
               11 + (uint64_t)a);
      check_fd(3, widths, bce, MLP_LOSS_BCE, (mlp_layout)layout, 5,
               23 + (uint64_t)a);
      /* MSE through f_N': every activation as the last layer too. */
      check_fd(3, widths, mse, MLP_LOSS_MSE, (mlp_layout)layout, 5,
               37 + (uint64_t)a);
    }
  }
}
END_TEST

/* One layer, batch 1, and widths of 1: the GEMM edges. */
START_TEST(fd_small_shapes) {
  const size_t w1[] = {1, 1};
  const mlp_act a1[] = {MLP_ACT_IDENTITY};
  const size_t w2[] = {3, 1, 2};
  const mlp_act a2[] = {MLP_ACT_TANH, MLP_ACT_SOFTMAX};
  const size_t w3[] = {17, 33, 2};
  const mlp_act a3[] = {MLP_ACT_GELU, MLP_ACT_SIGMOID};
  for (int layout = 0; layout < 2; layout++) {
    check_fd(1, w1, a1, MLP_LOSS_MSE, (mlp_layout)layout, 1, 3);
    check_fd(2, w2, a2, MLP_LOSS_CROSS_ENTROPY, (mlp_layout)layout, 1, 4);
    check_fd(2, w3, a3, MLP_LOSS_BCE, (mlp_layout)layout, 7, 5);
  }
}
END_TEST

/* float32 gradients agree with float64 ones on the same parameters. */
START_TEST(f32_matches_f64) {
  const size_t widths[] = {31, 17, 15, 10};
  const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_SILU, MLP_ACT_SOFTMAX};
  const size_t batch = 33;
  mlp_model *m[2] = {NULL, NULL};
  mlp_ctx *c[2] = {NULL, NULL};
  mlp_grad *g[2] = {NULL, NULL};
  size_t count;
  double x64[33 * 31];
  float x32[33 * 31], y32[33 * 10];
  double y64[33 * 10];
  int32_t labels[33];

  rng_state = 99;
  for (size_t i = 0; i < batch * 31; i++)
    x32[i] = (float)(x64[i] = (float)rnd());
  for (size_t i = 0; i < batch; i++)
    labels[i] = (int32_t)(i % 10);
  ck_assert_int_eq(
      mlp_model_create(&m[0], MLP_F32, 3, widths, acts, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  ck_assert_int_eq(
      mlp_model_create(&m[1], MLP_F64, 3, widths, acts, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  ck_assert_int_eq(mlp_model_init(m[0], MLP_INIT_HE_NORMAL, 5, 1.0), MLP_OK);
  float *p32 = mlp_model_params_mut(m[0], &count);
  double *p64 = mlp_model_params_mut(m[1], &count);
  for (size_t i = 0; i < count; i++)
    p64[i] = p32[i];
  for (int d = 0; d < 2; d++) {
    ck_assert_int_eq(mlp_ctx_create(&c[d], m[d], batch, MLP_CTX_KEEP, NULL, 0),
                     MLP_OK);
    ck_assert_int_eq(mlp_grad_create(&g[d], m[d], batch), MLP_OK);
  }
  ck_assert_int_eq(mlp_forward(m[0], c[0], x32, batch, y32), MLP_OK);
  ck_assert_int_eq(mlp_forward(m[1], c[1], x64, batch, y64), MLP_OK);
  ck_assert_int_eq(mlp_backward(m[0], c[0], x32, batch, MLP_LOSS_CROSS_ENTROPY,
                                labels, NULL, g[0]),
                   MLP_OK);
  ck_assert_int_eq(mlp_backward(m[1], c[1], x64, batch, MLP_LOSS_CROSS_ENTROPY,
                                labels, NULL, g[1]),
                   MLP_OK);
  const float *g32 = mlp_grad_params(g[0], NULL);
  const double *g64 = mlp_grad_params(g[1], NULL);
  double scale = 0.0;
  for (size_t i = 0; i < count; i++)
    scale = fmax(scale, fabs(g64[i]));
  for (size_t i = 0; i < count; i++)
    /* float32 rounding over sums of ~batch x width terms. */
    ck_assert_msg(fabs(g32[i] - g64[i]) <= 1e-4 * scale,
                  "param %zu: f32 %.9g, f64 %.12g", i, (double)g32[i], g64[i]);
  for (int d = 0; d < 2; d++) {
    mlp_grad_free(g[d]);
    mlp_ctx_free(c[d]);
    mlp_model_free(m[d]);
  }
}
END_TEST

/* Every kernel set the machine runs gives the reference set's gradients
 * (float64 to 1e-12 relative, float32 to 1e-5 of the largest gradient),
 * for every activation in the hidden layers. */
START_TEST(kernel_sets_agree) {
  const size_t widths[] = {17, 33, 15, 10};
  const size_t batch = 7;
  for (int d = 0; d < 2; d++) {
    mlp_dtype dtype = d ? MLP_F64 : MLP_F32;
    for (int a = 0; a < MLP_ACT_COUNT; a++) {
      const mlp_act acts[] = {(mlp_act)a, (mlp_act)a, MLP_ACT_SOFTMAX};
      mlp_model *m = NULL;
      mlp_ctx *c = NULL;
      mlp_grad *g = NULL;
      size_t count;
      double ref_scale = 0.0;
      double x[7 * 17], y[7 * 10]; /* room for either dtype */
      int32_t labels[7];
      double *ref = NULL;

      rng_state = 500 + (uint64_t)a;
      for (size_t i = 0; i < batch * 17; i++) {
        double v = 2.0 * rnd();
        if (dtype == MLP_F32)
          ((float *)(void *)x)[i] = (float)v;
        else
          ((double *)(void *)x)[i] = v;
      }
      for (size_t i = 0; i < batch; i++)
        labels[i] = (int32_t)(i % 10);
      ck_assert_int_eq(
          mlp_model_create(&m, dtype, 3, widths, acts, MLP_LAYOUT_IN_OUT),
          MLP_OK);
      ck_assert_int_eq(mlp_model_init(m, MLP_INIT_XAVIER_NORMAL, 9, 1.0),
                       MLP_OK);
      ck_assert_int_eq(mlp_ctx_create(&c, m, batch, MLP_CTX_KEEP, NULL, 0),
                       MLP_OK);
      ck_assert_int_eq(mlp_grad_create(&g, m, batch), MLP_OK);
      mlp_model_params(m, &count);
      ref = malloc(count * sizeof *ref);
      for (int set = MLP_KERNELS_REFERENCE; set <= MLP_KERNELS_AVX512; set++) {
        if (!mlp_kernels_supported((mlp_kernels)set))
          continue;
        ck_assert_int_eq(mlp_ctx_set_kernels(c, (mlp_kernels)set), MLP_OK);
        ck_assert_int_eq(mlp_forward(m, c, x, batch, y), MLP_OK);
        ck_assert_int_eq(mlp_backward(m, c, x, batch, MLP_LOSS_CROSS_ENTROPY,
                                      labels, NULL, g),
                         MLP_OK);
        const void *gp = mlp_grad_params(g, NULL);
        for (size_t i = 0; i < count; i++) {
          double v = dtype == MLP_F32 ? ((const float *)gp)[i]
                                      : ((const double *)gp)[i];
          if (set == MLP_KERNELS_REFERENCE) {
            ref[i] = v;
            ref_scale = fmax(ref_scale, fabs(v));
            continue;
          }
          double tol = dtype == MLP_F64 ? 1e-12 * fmax(ref_scale, 1e-300)
                                        : 1e-5 * ref_scale;
          ck_assert_msg(fabs(v - ref[i]) <= tol,
                        "%s %s set %s param %zu: %.9g, reference %.9g",
                        mlp_dtype_name(dtype), mlp_act_name((mlp_act)a),
                        mlp_kernels_name((mlp_kernels)set), i, v, ref[i]);
        }
      }
      free(ref);
      mlp_grad_free(g);
      mlp_ctx_free(c);
      mlp_model_free(m);
    }
  }
}
END_TEST

/*
 * The worked example of the lecture notes: inputs 2, layers 3, 2, 2, relu,
 * relu, softmax, x = [1, 2], true class 0. The reference is computed here
 * with plain loops from the decimals of the notes, in float64.
 */
static const double W1[2][3] = {{0.2, 0.4, 0.6}, {0.3, 0.5, 0.7}};
static const double B1[3] = {0.1, 0.2, 0.3};
static const double W2[3][2] = {{0.5, 0.3}, {0.4, 0.6}, {0.7, 0.2}};
static const double B2[2] = {0.1, 0.2};
static const double W3[2][2] = {{0.3, 0.4}, {0.5, 0.6}};
static const double B3[2] = {0.1, 0.2};

/* Reference gradients in the order W1, b1, W2, b2, W3, b3 ([in][out]). */
static void worked_reference(double grad[23], double *loss) {
  const double x[2] = {1.0, 2.0};
  double z1[3], y1[3], z2[2], y2[2], z3[2], p[2];
  double dz3[2], dy2[2], dz2[2], dy1[3], dz1[3];
  size_t o = 0;

  for (int j = 0; j < 3; j++) {
    z1[j] = B1[j] + x[0] * W1[0][j] + x[1] * W1[1][j];
    y1[j] = z1[j] > 0 ? z1[j] : 0;
  }
  for (int j = 0; j < 2; j++) {
    z2[j] = B2[j];
    for (int i = 0; i < 3; i++)
      z2[j] += y1[i] * W2[i][j];
    y2[j] = z2[j] > 0 ? z2[j] : 0;
  }
  for (int j = 0; j < 2; j++)
    z3[j] = B3[j] + y2[0] * W3[0][j] + y2[1] * W3[1][j];
  double mx = fmax(z3[0], z3[1]);
  double s = exp(z3[0] - mx) + exp(z3[1] - mx);
  for (int j = 0; j < 2; j++)
    p[j] = exp(z3[j] - mx) / s;
  *loss = -log(p[0]);

  /* Backward: softmax + cross-entropy, class 0, batch 1. */
  dz3[0] = p[0] - 1.0;
  dz3[1] = p[1];
  for (int i = 0; i < 2; i++)
    dy2[i] = dz3[0] * W3[i][0] + dz3[1] * W3[i][1];
  for (int i = 0; i < 2; i++)
    dz2[i] = z2[i] > 0 ? dy2[i] : 0;
  for (int i = 0; i < 3; i++)
    dy1[i] = dz2[0] * W2[i][0] + dz2[1] * W2[i][1];
  for (int i = 0; i < 3; i++)
    dz1[i] = z1[i] > 0 ? dy1[i] : 0;

  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      grad[o++] = x[i] * dz1[j];
  for (int j = 0; j < 3; j++)
    grad[o++] = dz1[j];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++)
      grad[o++] = y1[i] * dz2[j];
  for (int j = 0; j < 2; j++)
    grad[o++] = dz2[j];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++)
      grad[o++] = y2[i] * dz3[j];
  for (int j = 0; j < 2; j++)
    grad[o++] = dz3[j];
}

/* The library's gradients of the worked example in [in, out] order. */
static void worked_library(mlp_dtype dtype, mlp_layout storage, double grad[23],
                           double *loss) {
  const size_t widths[] = {2, 3, 2, 2};
  const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_RELU, MLP_ACT_SOFTMAX};
  const double *w[3] = {&W1[0][0], &W2[0][0], &W3[0][0]};
  const double *b[3] = {B1, B2, B3};
  const int32_t label = 0;
  mlp_model *m = NULL;
  mlp_ctx *c = NULL;
  mlp_grad *g = NULL;
  float wf[6], bf[3], xf[2] = {1, 2}, yf[2];
  double xd[2] = {1, 2}, yd[2];

  ck_assert_int_eq(mlp_model_create(&m, dtype, 3, widths, acts, storage),
                   MLP_OK);
  for (size_t k = 1; k <= 3; k++) {
    size_t n = widths[k - 1] * widths[k];
    if (dtype == MLP_F32) {
      for (size_t i = 0; i < n; i++)
        wf[i] = (float)w[k - 1][i];
      for (size_t i = 0; i < widths[k]; i++)
        bf[i] = (float)b[k - 1][i];
      ck_assert_int_eq(mlp_model_set_layer(m, k, wf, MLP_LAYOUT_IN_OUT, bf),
                       MLP_OK);
    } else {
      ck_assert_int_eq(
          mlp_model_set_layer(m, k, w[k - 1], MLP_LAYOUT_IN_OUT, b[k - 1]),
          MLP_OK);
    }
  }
  ck_assert_int_eq(mlp_ctx_create(&c, m, 4, MLP_CTX_KEEP, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_grad_create(&g, m, 4), MLP_OK);
  ck_assert_int_eq(mlp_forward(m, c, dtype == MLP_F32 ? (void *)xf : (void *)xd,
                               1, dtype == MLP_F32 ? (void *)yf : (void *)yd),
                   MLP_OK);
  ck_assert_int_eq(
      mlp_ctx_loss(c, MLP_LOSS_CROSS_ENTROPY, &label, NULL, NULL, loss),
      MLP_OK);
  /* x NULL: the backward pass reads the x of the last forward pass. */
  ck_assert_int_eq(
      mlp_backward(m, c, NULL, 1, MLP_LOSS_CROSS_ENTROPY, &label, NULL, g),
      MLP_OK);

  /* Read the gradients back in [in, out] order through the layout. */
  const void *gp = mlp_grad_params(g, NULL);
  size_t off = 0, o = 0;
  for (size_t k = 1; k <= 3; k++) {
    size_t in = widths[k - 1], out = widths[k];
    for (size_t i = 0; i < in; i++)
      for (size_t j = 0; j < out; j++) {
        size_t e = storage == MLP_LAYOUT_IN_OUT ? i * out + j : j * in + i;
        grad[o++] = dtype == MLP_F32 ? ((const float *)gp)[off + e]
                                     : ((const double *)gp)[off + e];
      }
    off += in * out;
    for (size_t j = 0; j < out; j++)
      grad[o++] = dtype == MLP_F32 ? ((const float *)gp)[off + j]
                                   : ((const double *)gp)[off + j];
    off += out;
  }
  mlp_grad_free(g);
  mlp_ctx_free(c);
  mlp_model_free(m);
}

START_TEST(worked_example) {
  double ref[23], got[23], ref_loss, loss;
  worked_reference(ref, &ref_loss);
  for (int d = 0; d < 2; d++)
    for (int layout = 0; layout < 2; layout++) {
      mlp_dtype dtype = d == 0 ? MLP_F64 : MLP_F32;
      /* float64: a few ulps of the O(1) values; float32: its epsilon
       * times the handful of terms in each sum. */
      double tol = dtype == MLP_F64 ? 1e-14 : 2e-6;
      worked_library(dtype, (mlp_layout)layout, got, &loss);
      ck_assert_msg(fabs(loss - ref_loss) <= tol, "loss %.17g vs %.17g", loss,
                    ref_loss);
      for (int i = 0; i < 23; i++)
        ck_assert_msg(fabs(got[i] - ref[i]) <= tol * fmax(1.0, fabs(ref[i])),
                      "%s layout %d: gradient %d: %.17g, reference %.17g",
                      mlp_dtype_name(dtype), layout, i, got[i], ref[i]);
    }
  /* The softmax probability of class 0 is about 0.3615 here (not the
   * rounded 0.361), so dLoss/db3[0] = p0 - 1. */
  ck_assert_msg(fabs(ref[21] - (0.36146 - 1.0)) < 1e-4, "dz3[0] %.9g", ref[21]);
}
END_TEST

START_TEST(errors) {
  const size_t widths[] = {3, 4, 2};
  const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_SOFTMAX};
  const size_t other_w[] = {3, 5, 2};
  mlp_model *m = NULL, *other = NULL;
  mlp_ctx *c = NULL, *plain = NULL;
  mlp_grad *g = NULL, *og = NULL;
  double x[2 * 3] = {1, 2, 3, 4, 5, 6}, y[4], t[4] = {0};
  int32_t labels[2] = {0, 1}, bad[2] = {0, 2};

  ck_assert_int_eq(
      mlp_model_create(&m, MLP_F64, 2, widths, acts, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  ck_assert_int_eq(
      mlp_model_create(&other, MLP_F64, 2, other_w, acts, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 2, MLP_CTX_KEEP, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_ctx_create(&plain, m, 2, 0, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_grad_create(&g, m, 2), MLP_OK);
  ck_assert_int_eq(mlp_grad_create(&og, other, 2), MLP_OK);
  ck_assert_int_eq(mlp_grad_create(NULL, m, 2), MLP_ERR_NULL);
  mlp_grad *z = (mlp_grad *)1;
  ck_assert_int_eq(mlp_grad_create(&z, m, 0), MLP_ERR_BATCH);
  ck_assert_ptr_null(z);

  /* Before any pass. */
  ck_assert_int_eq(
      mlp_backward(m, c, x, 2, MLP_LOSS_CROSS_ENTROPY, labels, NULL, g),
      MLP_ERR_STATE);
  ck_assert_int_eq(mlp_forward(m, c, x, 2, y), MLP_OK);
  ck_assert_int_eq(mlp_forward(m, plain, x, 2, y), MLP_OK);
  ck_assert_int_eq(
      mlp_backward(m, plain, x, 2, MLP_LOSS_CROSS_ENTROPY, labels, NULL, g),
      MLP_ERR_STATE);
  ck_assert_int_eq(
      mlp_backward(m, c, x, 1, MLP_LOSS_CROSS_ENTROPY, labels, NULL, g),
      MLP_ERR_STATE);
  ck_assert_int_eq(
      mlp_backward(m, c, x, 3, MLP_LOSS_CROSS_ENTROPY, labels, NULL, g),
      MLP_ERR_BATCH);
  ck_assert_int_eq(
      mlp_backward(NULL, c, x, 2, MLP_LOSS_CROSS_ENTROPY, labels, NULL, g),
      MLP_ERR_NULL);
  ck_assert_int_eq(
      mlp_backward(m, c, x, 2, MLP_LOSS_CROSS_ENTROPY, NULL, NULL, g),
      MLP_ERR_NULL);
  ck_assert_int_eq(mlp_backward(m, c, x, 2, MLP_LOSS_MSE, labels, NULL, g),
                   MLP_ERR_NULL);
  ck_assert_int_eq(mlp_backward(m, c, x, 2, MLP_LOSS_BCE, NULL, t, g),
                   MLP_ERR_LOSS);
  ck_assert_int_eq(mlp_backward(m, c, x, 2, (mlp_loss)9, labels, t, g),
                   MLP_ERR_LOSS);
  ck_assert_int_eq(
      mlp_backward(m, c, x, 2, MLP_LOSS_CROSS_ENTROPY, bad, NULL, g),
      MLP_ERR_LABEL);
  ck_assert_ptr_nonnull(strstr(mlp_last_error(), "row 1"));
  ck_assert_int_eq(
      mlp_backward(m, c, x, 2, MLP_LOSS_CROSS_ENTROPY, labels, NULL, og),
      MLP_ERR_SHAPE);
  ck_assert_int_eq(
      mlp_backward(other, c, x, 2, MLP_LOSS_CROSS_ENTROPY, labels, NULL, og),
      MLP_ERR_CONTEXT);
  ck_assert_int_eq(
      mlp_backward(m, c, x, 2, MLP_LOSS_CROSS_ENTROPY, labels, NULL, g),
      MLP_OK);
  ck_assert_int_eq(mlp_backward(m, c, x, 2, MLP_LOSS_MSE, NULL, t, g), MLP_OK);

  mlp_grad_free(og);
  mlp_grad_free(g);
  mlp_grad_free(NULL);
  mlp_ctx_free(plain);
  mlp_ctx_free(c);
  mlp_model_free(other);
  mlp_model_free(m);
}
END_TEST

/* An allocator that fails the n-th allocation from now. */
static long fail_at;
static void *failing_alloc(size_t size, size_t align, void *user) {
  void *p = NULL;
  (void)user;
  if (fail_at-- == 0)
    return NULL;
  if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align,
                     size ? size : 1) != 0)
    return NULL;
  return p;
}
static void plain_free(void *p, void *user) {
  (void)user;
  free(p);
}

START_TEST(allocation_failures) {
  const size_t widths[] = {3, 4, 2};
  const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_SOFTMAX};
  const mlp_allocator failing = {failing_alloc, plain_free, NULL};
  mlp_model *m = NULL;
  int done = 0;

  mlp_set_allocator(&failing);
  fail_at = -1;
  ck_assert_int_eq(
      mlp_model_create(&m, MLP_F64, 2, widths, acts, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  for (long n = 0; n < 50 && !done; n++) {
    mlp_grad *g = NULL;
    fail_at = n;
    int status = mlp_grad_create(&g, m, 8);
    if (status == MLP_OK)
      done = 1;
    else {
      ck_assert_int_eq(status, MLP_ERR_NOMEM);
      ck_assert_ptr_null(g);
    }
    mlp_grad_free(g);
  }
  ck_assert(done);
  fail_at = -1;
  mlp_model_free(m);
  mlp_set_allocator(NULL);
}
END_TEST

static Suite *backward_suite(void) {
  Suite *s = suite_create("backward");
  TCase *tc = tcase_create("backward");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, fd_every_activation_and_loss);
  tcase_add_test(tc, fd_small_shapes);
  tcase_add_test(tc, f32_matches_f64);
  tcase_add_test(tc, kernel_sets_agree);
  tcase_add_test(tc, worked_example);
  tcase_add_test(tc, errors);
  tcase_add_test(tc, allocation_failures);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(backward_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
