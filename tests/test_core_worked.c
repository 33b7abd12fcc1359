/*
 * The worked example of the lecture notes (../shared/seed): inputs 2,
 * layers of 3, 2 and 2 neurons, x = [1, 2], true class 0. Every value is
 * checked against what the decimals give exactly (computed here in double
 * from the definitions), not against the notes' rounded figures.
 */
#include "core_util.h"

static const double W1[] = {0.2, 0.4, 0.6, 0.3, 0.5, 0.7};
static const double B1[] = {0.1, 0.2, 0.3};
static const double W2[] = {0.5, 0.3, 0.4, 0.6, 0.7, 0.2};
static const double B2[] = {0.1, 0.2};
static const double W3[] = {0.3, 0.4, 0.5, 0.6};
static const double B3[] = {0.1, 0.2};
static const double X[] = {1, 2};

/* Builds the example in dtype and storage layout, last activation `last`. */
static mlp_model *build(mlp_dtype dt, mlp_layout storage, mlp_act last) {
  const size_t widths[] = {2, 3, 2, 2};
  const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_RELU, last};
  const double *w[] = {W1, W2, W3}, *b[] = {B1, B2, B3};
  mlp_model *m;
  float wf[6], bf[3];

  ck_assert_int_eq(mlp_model_create(&m, dt, 3, widths, acts, storage),
                   MLP_OK);
  for (size_t k = 1; k <= 3; k++) {
    size_t nw = widths[k - 1] * widths[k];
    if (dt == MLP_F64) {
      ck_assert_int_eq(
          mlp_model_set_layer(m, k, w[k - 1], MLP_LAYOUT_IN_OUT, b[k - 1]),
          MLP_OK);
      continue;
    }
    for (size_t i = 0; i < nw; i++)
      wf[i] = (float)w[k - 1][i];
    for (size_t i = 0; i < widths[k]; i++)
      bf[i] = (float)b[k - 1][i];
    ck_assert_int_eq(mlp_model_set_layer(m, k, wf, MLP_LAYOUT_IN_OUT, bf),
                     MLP_OK);
  }
  return m;
}

static void check_example(mlp_dtype dt, mlp_layout storage, mlp_act last) {
  /* The pre-activations the notes print, which these decimals give
   * exactly (up to rounding of the decimals themselves). */
  const double z1[] = {0.9, 1.6, 2.3}, z2[] = {2.8, 1.89},
               z3[] = {1.885, 2.454};
  const double *zs[] = {z1, z2, z3};
  const size_t widths[] = {2, 3, 2, 2};
  const double tol = dt == MLP_F32 ? 2e-6 : 1e-14;
  mlp_model *m = build(dt, storage, last);
  mlp_ctx *c;
  double y3[2], xd[2] = {X[0], X[1]}, outd[2], loss;
  float xf[2] = {1, 2}, outf[2];
  const void *x = dt == MLP_F32 ? (const void *)xf : (const void *)xd;
  void *out = dt == MLP_F32 ? (void *)outf : (void *)outd;
  int32_t label = 0;

  ck_assert_int_eq(mlp_ctx_create(&c, m, 4, MLP_CTX_KEEP, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_forward(m, c, x, 1, out), MLP_OK);
  for (size_t k = 1; k <= 3; k++) {
    const void *z, *y;
    size_t rows;
    ck_assert_int_eq(mlp_ctx_layer(c, k, &z, &y, &rows), MLP_OK);
    ck_assert_uint_eq(rows, 1);
    for (size_t j = 0; j < widths[k]; j++) {
      double want_y = k < 3 ? fmax(zs[k - 1][j], 0) : 0;
      TU_ASSERT_CLOSE(tu_get(dt, z, j), zs[k - 1][j], tol, "Z", k * 10 + j);
      if (k < 3)
        TU_ASSERT_CLOSE(tu_get(dt, y, j), want_y, tol, "Y", k * 10 + j);
    }
  }
  /* The output from the exact Z3. */
  memcpy(y3, z3, sizeof y3);
  tu_act_row(last, y3, 2, 0);
  for (size_t j = 0; j < 2; j++)
    TU_ASSERT_CLOSE(tu_get(dt, out, j), y3[j], tol, "Y3", j);
  if (last == MLP_ACT_SOFTMAX) {
    /* -log softmax(z3)_0 = log(1 + exp(z3_1 - z3_0)), about 1.0173, not
     * the notes' 1.018 from the rounded 0.361. */
    double want = log1p(exp(z3[1] - z3[0]));
    ck_assert_int_eq(mlp_ctx_loss(c, MLP_LOSS_CROSS_ENTROPY, &label, NULL,
                                  NULL, &loss),
                     MLP_OK);
    TU_ASSERT_CLOSE(loss, want, tol, "cross-entropy", 0);
    ck_assert_msg(fabs(loss - -log(0.361)) > 1e-3,
                  "the loss must not be the rounded figure's");
  } else {
    /* BCE against the one-hot target of class 0. */
    double t64[2] = {1, 0}, want = 0;
    float t32[2] = {1, 0};
    for (size_t j = 0; j < 2; j++)
      want += -(t64[j] * log(y3[j]) + (1 - t64[j]) * log(1 - y3[j]));
    want /= 2;
    ck_assert_int_eq(mlp_ctx_loss(c, MLP_LOSS_BCE, NULL,
                                  dt == MLP_F32 ? (void *)t32 : (void *)t64,
                                  NULL, &loss),
                     MLP_OK);
    TU_ASSERT_CLOSE(loss, want, tol, "bce", 0);
  }
  mlp_ctx_free(c);
  mlp_model_free(m);
}

START_TEST(worked_softmax) {
  check_example(MLP_F64, MLP_LAYOUT_IN_OUT, MLP_ACT_SOFTMAX);
  check_example(MLP_F32, MLP_LAYOUT_IN_OUT, MLP_ACT_SOFTMAX);
  check_example(MLP_F64, MLP_LAYOUT_OUT_IN, MLP_ACT_SOFTMAX);
  check_example(MLP_F32, MLP_LAYOUT_OUT_IN, MLP_ACT_SOFTMAX);
}
END_TEST

START_TEST(worked_sigmoid) {
  check_example(MLP_F64, MLP_LAYOUT_IN_OUT, MLP_ACT_SIGMOID);
  check_example(MLP_F32, MLP_LAYOUT_IN_OUT, MLP_ACT_SIGMOID);
  check_example(MLP_F64, MLP_LAYOUT_OUT_IN, MLP_ACT_SIGMOID);
}
END_TEST

/* The same sample repeated in a batch, through every kernel set: each row
 * gives the single-row result (the batched path is a GEMM, not a GEMV). */
START_TEST(worked_batched_every_kernel_set) {
  static const mlp_kernels sets[] = {MLP_KERNELS_REFERENCE, MLP_KERNELS_AVX2,
                                     MLP_KERNELS_AVX512};
  mlp_model *m = build(MLP_F64, MLP_LAYOUT_IN_OUT, MLP_ACT_SOFTMAX);
  double x[2 * 5], y[2 * 5], want[2] = {1.885, 2.454};
  mlp_ctx *c;

  tu_act_row(MLP_ACT_SOFTMAX, want, 2, 0);
  for (size_t r = 0; r < 5; r++)
    memcpy(x + 2 * r, X, sizeof X);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 5, 0, NULL, 0), MLP_OK);
  for (size_t s = 0; s < 3; s++) {
    if (!mlp_kernels_supported(sets[s]))
      continue;
    ck_assert_int_eq(mlp_ctx_set_kernels(c, sets[s]), MLP_OK);
    ck_assert_int_eq(mlp_forward(m, c, x, 5, y), MLP_OK);
    for (size_t i = 0; i < 10; i++)
      TU_ASSERT_CLOSE(y[i], want[i % 2], 1e-14, mlp_kernels_name(sets[s]),
                      i);
  }
  mlp_ctx_free(c);
  mlp_model_free(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("worked example");
  TCase *tc = tcase_create("lecture notes");
  SRunner *sr;
  int failed;

  tcase_add_test(tc, worked_softmax);
  tcase_add_test(tc, worked_sigmoid);
  tcase_add_test(tc, worked_batched_every_kernel_set);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
