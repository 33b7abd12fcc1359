/*
 * Losses, predictions and accuracy against float64 references written
 * from the definitions, including logits that overflow a naive softmax.
 */
#include "core_util.h"

/* -log softmax(z)_c the long way, in long double, for moderate z. */
static double ce_ref(const double *z, size_t n, int32_t c) {
  long double s = 0;
  for (size_t j = 0; j < n; j++)
    s += expl((long double)z[j]);
  return (double)(logl(s) - (long double)z[c]);
}

START_TEST(cross_entropy_matches_reference) {
  static const size_t widths[] = {1, 3, 15, 16, 17, 31, 33, 127, 129};
  uint64_t s = 17;
  for (size_t wi = 0; wi < 9; wi++) {
    const size_t w = widths[wi], b = 7;
    double z[7 * 129], per[7], mean, want_mean = 0;
    float zf[7 * 129];
    int32_t lab[7];
    for (size_t i = 0; i < b * w; i++)
      zf[i] = (float)(z[i] = tu_range(&s, -20, 20));
    for (size_t i = 0; i < b; i++)
      lab[i] = (int32_t)(i % w);
    ck_assert_int_eq(mlp_loss_cross_entropy(MLP_F64, z, b, w, lab, per,
                                            &mean),
                     MLP_OK);
    for (size_t i = 0; i < b; i++) {
      double want = ce_ref(z + i * w, w, lab[i]);
      want_mean += want / b;
      TU_ASSERT_CLOSE(per[i], want, 1e-12 * fmax(1, fabs(want)), "ce", i);
    }
    TU_ASSERT_CLOSE(mean, want_mean, 1e-12 * fmax(1, want_mean), "mean", 0);
    /* f32 logits are read exactly and summed in double. */
    for (size_t i = 0; i < b * w; i++)
      z[i] = zf[i];
    ck_assert_int_eq(mlp_loss_cross_entropy(MLP_F32, zf, b, w, lab, per,
                                            &mean),
                     MLP_OK);
    for (size_t i = 0; i < b; i++)
      TU_ASSERT_CLOSE(per[i], ce_ref(z + i * w, w, lab[i]), 1e-12 * 20,
                      "ce f32", i);
  }
}
END_TEST

/* Logits around +-1000: a naive exp overflows; the result must be finite
 * and exact, including a probability that underflows to 0 (loss ~2000). */
START_TEST(cross_entropy_extreme_logits) {
  const double z[] = {1000, -1000, 999, 1000.5};
  int32_t lab[] = {1};
  double per, mean;
  double lse = 1000.5 + log(exp(-0.5) + exp(-2000.5) + exp(-1.5) + 1);

  ck_assert_int_eq(mlp_loss_cross_entropy(MLP_F64, z, 1, 4, lab, &per,
                                          &mean),
                   MLP_OK);
  ck_assert(isfinite(mean));
  TU_ASSERT_CLOSE(mean, lse + 1000, 1e-9, "ce(-1000)", 0);
  lab[0] = 3;
  ck_assert_int_eq(mlp_loss_cross_entropy(MLP_F64, z, 1, 4, lab, &per,
                                          &mean),
                   MLP_OK);
  TU_ASSERT_CLOSE(mean, lse - 1000.5, 1e-12, "ce(1000.5)", 0);
}
END_TEST

/* The forward pass's softmax on +-1000 logits: finite probabilities that
 * sum to 1, and the loss from the kept logits. */
START_TEST(softmax_layer_extreme_logits) {
  const size_t widths[] = {2, 3};
  const mlp_act act = MLP_ACT_SOFTMAX;
  /* Z = x W with x = [1, 0]: the first row of W becomes the logits. */
  const float w[] = {1000, -1000, 999.5f, 0, 0, 0};
  const float x[] = {1, 0};
  float y[3];
  int32_t lab = 1;
  double mean;
  mlp_model *m;
  mlp_ctx *c;

  ck_assert_int_eq(
      mlp_model_create(&m, MLP_F32, 1, widths, &act, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  ck_assert_int_eq(mlp_model_set_layer(m, 1, w, MLP_LAYOUT_IN_OUT, NULL),
                   MLP_OK);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 1, 0, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_forward(m, c, x, 1, y), MLP_OK);
  for (int j = 0; j < 3; j++)
    ck_assert(isfinite(y[j]));
  TU_ASSERT_CLOSE(y[0] + y[1] + y[2], 1.0, 2e-7, "sum", 0);
  TU_ASSERT_CLOSE(y[0], 1 / (1 + exp(-0.5)), 1e-6, "p0", 0);
  ck_assert_float_eq(y[1], 0.0f);
  ck_assert_int_eq(
      mlp_ctx_loss(c, MLP_LOSS_CROSS_ENTROPY, &lab, NULL, NULL, &mean),
      MLP_OK);
  TU_ASSERT_CLOSE(mean, 2000 + log1p(exp(-0.5)), 1e-9, "loss", 0);
  mlp_ctx_free(c);
  mlp_model_free(m);
}
END_TEST

START_TEST(mse_and_bce) {
  const double y[] = {0.5, -1, 2, 0, 3, -2};
  const double t[] = {1, 0, 1, 0, 1, 0};
  const double z[] = {800, -800, 0.3, -50, 50, 0};
  double per[2], mean;

  ck_assert_int_eq(mlp_loss_mse(MLP_F64, y, 2, 3, t, per, &mean), MLP_OK);
  TU_ASSERT_CLOSE(per[0], (0.25 + 1 + 1) / 3, 1e-15, "mse", 0);
  TU_ASSERT_CLOSE(per[1], (0 + 4 + 4) / 3.0, 1e-15, "mse", 1);
  TU_ASSERT_CLOSE(mean, (per[0] + per[1]) / 2, 1e-15, "mse mean", 0);
  /* BCE from logits, exact for |z| in the hundreds where a sigmoid
   * saturates: target 1 at z = 800 costs ~0, target 0 at z = 50 costs 50. */
  ck_assert_int_eq(mlp_loss_bce(MLP_F64, z, 2, 3, t, per, &mean), MLP_OK);
  {
    double r0 = log1p(exp(-800)) + log1p(exp(-800)) +
                (log1p(exp(-0.3)));
    /* Row 1: z=-50,t=0: log(1+e^-50); z=50,t=1: log(1+e^-50);
     * z=0,t=0: log 2. */
    double r1 = 2 * log1p(exp(-50)) + log(2.0);
    TU_ASSERT_CLOSE(per[0], r0 / 3, 1e-15, "bce", 0);
    TU_ASSERT_CLOSE(per[1], r1 / 3, 1e-15, "bce", 1);
  }
  {
    const double bad[] = {1, 0, 1.5, 0, 1, 0};
    ck_assert_int_eq(mlp_loss_bce(MLP_F64, z, 2, 3, bad, per, &mean),
                     MLP_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(mlp_last_error(), "[0][2]"));
  }
}
END_TEST

START_TEST(argmax_and_accuracy) {
  const float y[] = {0.1f, 0.7f, 0.2f, /* */ 0.5f, 0.5f, 0.0f,
                     NAN,  NAN,  0.3f, /* */ NAN,  NAN,  NAN};
  const int32_t lab[] = {1, 1, 2, 0};
  int32_t pred[4];
  double acc;

  ck_assert_int_eq(mlp_argmax(MLP_F32, y, 4, 3, pred), MLP_OK);
  ck_assert_int_eq(pred[0], 1);
  ck_assert_int_eq(pred[1], 0); /* the first on ties */
  ck_assert_int_eq(pred[2], 2); /* NaN never wins */
  ck_assert_int_eq(pred[3], -1); /* no number at all */
  ck_assert_int_eq(mlp_accuracy(MLP_F32, y, 4, 3, lab, &acc), MLP_OK);
  TU_ASSERT_CLOSE(acc, 0.5, 0, "accuracy", 0);
}
END_TEST

START_TEST(loss_errors) {
  const double z[] = {1, 2, 3, 4};
  const int32_t bad[] = {0, 2};
  double mean;
  const size_t widths[] = {2, 2};
  const mlp_act act = MLP_ACT_RELU;
  mlp_model *m;
  mlp_ctx *c;
  double x[2] = {1, 1}, y[2];

  ck_assert_int_eq(mlp_loss_cross_entropy(MLP_F64, z, 2, 2, bad, NULL,
                                          &mean),
                   MLP_ERR_LABEL);
  ck_assert_ptr_nonnull(strstr(mlp_last_error(), "row 1"));
  ck_assert_int_eq(mlp_loss_cross_entropy(MLP_F64, z, 0, 2, bad, NULL,
                                          &mean),
                   MLP_ERR_BATCH);
  ck_assert_int_eq(mlp_loss_mse(MLP_F64, NULL, 2, 2, z, NULL, &mean),
                   MLP_ERR_NULL);
  ck_assert_int_eq(mlp_loss_mse((mlp_dtype)9, z, 2, 2, z, NULL, &mean),
                   MLP_ERR_DTYPE);
  ck_assert_int_eq(mlp_loss_mse(MLP_F64, z, SIZE_MAX / 2, 4, z, NULL, &mean),
                   MLP_ERR_OVERFLOW);
  ck_assert_int_eq(
      mlp_model_create(&m, MLP_F64, 1, widths, &act, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 1, 0, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_ctx_loss(c, MLP_LOSS_MSE, NULL, z, NULL, &mean),
                   MLP_ERR_STATE);
  ck_assert_int_eq(mlp_forward(m, c, x, 1, y), MLP_OK);
  ck_assert_int_eq(mlp_ctx_loss(c, MLP_LOSS_CROSS_ENTROPY, bad, NULL, NULL,
                                &mean),
                   MLP_ERR_LOSS);
  ck_assert_ptr_nonnull(strstr(mlp_last_error(), "softmax"));
  ck_assert_int_eq(mlp_ctx_loss(c, MLP_LOSS_BCE, NULL, z, NULL, &mean),
                   MLP_ERR_LOSS);
  ck_assert_int_eq(mlp_ctx_loss(c, (mlp_loss)7, NULL, z, NULL, &mean),
                   MLP_ERR_LOSS);
  ck_assert_int_eq(mlp_ctx_loss(c, MLP_LOSS_MSE, NULL, z, NULL, &mean),
                   MLP_OK);
  mlp_ctx_free(c);
  mlp_model_free(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("loss");
  TCase *tc = tcase_create("loss");
  SRunner *sr;
  int failed;

  tcase_add_test(tc, cross_entropy_matches_reference);
  tcase_add_test(tc, cross_entropy_extreme_logits);
  tcase_add_test(tc, softmax_layer_extreme_logits);
  tcase_add_test(tc, mse_and_bce);
  tcase_add_test(tc, argmax_and_accuracy);
  tcase_add_test(tc, loss_errors);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
