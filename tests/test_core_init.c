/*
 * Seeded initialisation: determinism, the statistics each rule promises,
 * orthogonality through LAPACK, and the same draw in both layouts/dtypes.
 */
#include "core_util.h"

static mlp_model *make(mlp_dtype dt, mlp_layout st, size_t in, size_t out) {
  const size_t widths[] = {in, out};
  const mlp_act act = MLP_ACT_RELU;
  mlp_model *m;
  ck_assert_int_eq(mlp_model_create(&m, dt, 1, widths, &act, st), MLP_OK);
  return m;
}

/* Mean and variance of layer 1's weights. */
static void stats(const mlp_model *m, double *mean, double *var,
                  double *maxabs) {
  size_t in = mlp_model_width(m, 0), out = mlp_model_width(m, 1);
  double *w = malloc(in * out * sizeof *w), s = 0, s2 = 0, mx = 0;
  ck_assert_int_eq(mlp_model_dtype(m), MLP_F64);
  ck_assert_int_eq(mlp_model_get_layer(m, 1, w, MLP_LAYOUT_IN_OUT, NULL),
                   MLP_OK);
  for (size_t i = 0; i < in * out; i++) {
    s += w[i];
    s2 += w[i] * w[i];
    mx = fmax(mx, fabs(w[i]));
  }
  *mean = s / (double)(in * out);
  *var = s2 / (double)(in * out) - *mean * *mean;
  *maxabs = mx;
  free(w);
}

START_TEST(rules_have_their_statistics) {
  const size_t in = 300, out = 200, n = in * out;
  struct {
    mlp_init init;
    double bound; /* uniform: the half-width; normal: the std */
    int normal;
  } rules[] = {
      {MLP_INIT_UNIFORM, 0.5, 0},
      {MLP_INIT_NORMAL, 0.5, 1},
      {MLP_INIT_XAVIER_UNIFORM, 0.5 * sqrt(6.0 / (in + out)), 0},
      {MLP_INIT_XAVIER_NORMAL, 0.5 * sqrt(2.0 / (in + out)), 1},
      {MLP_INIT_HE_UNIFORM, 0.5 * sqrt(6.0 / in), 0},
      {MLP_INIT_HE_NORMAL, 0.5 * sqrt(2.0 / in), 1},
  };
  for (size_t r = 0; r < sizeof rules / sizeof *rules; r++) {
    mlp_model *m = make(MLP_F64, MLP_LAYOUT_IN_OUT, in, out);
    double mean, var, mx, want_var;
    ck_assert_int_eq(mlp_model_init(m, rules[r].init, 42, 0.5), MLP_OK);
    stats(m, &mean, &var, &mx);
    want_var = rules[r].normal ? rules[r].bound * rules[r].bound
                               : rules[r].bound * rules[r].bound / 3;
    /* 6 standard errors of the sample mean and variance. */
    ck_assert_msg(fabs(mean) < 6 * sqrt(want_var / n), "%s: mean %g",
                  mlp_init_name(rules[r].init), mean);
    ck_assert_msg(fabs(var / want_var - 1) < 6 * sqrt(2.0 / n),
                  "%s: variance %g, want %g", mlp_init_name(rules[r].init),
                  var, want_var);
    if (!rules[r].normal)
      ck_assert_msg(mx <= rules[r].bound, "%s: |w| %g > %g",
                    mlp_init_name(rules[r].init), mx, rules[r].bound);
    mlp_model_free(m);
  }
}
END_TEST

START_TEST(same_seed_same_model_everywhere) {
  mlp_model *a = make(MLP_F64, MLP_LAYOUT_IN_OUT, 37, 19);
  mlp_model *b = make(MLP_F64, MLP_LAYOUT_OUT_IN, 37, 19);
  mlp_model *f = make(MLP_F32, MLP_LAYOUT_IN_OUT, 37, 19);
  double wa[37 * 19], wb[37 * 19];
  float wf[37 * 19];

  for (int init = 0; init <= MLP_INIT_ORTHOGONAL; init++) {
    ck_assert_int_eq(mlp_model_init(a, (mlp_init)init, 7, 1), MLP_OK);
    ck_assert_int_eq(mlp_model_init(b, (mlp_init)init, 7, 1), MLP_OK);
    ck_assert_int_eq(mlp_model_init(f, (mlp_init)init, 7, 1), MLP_OK);
    mlp_model_get_layer(a, 1, wa, MLP_LAYOUT_IN_OUT, NULL);
    mlp_model_get_layer(b, 1, wb, MLP_LAYOUT_IN_OUT, NULL);
    mlp_model_get_layer(f, 1, wf, MLP_LAYOUT_IN_OUT, NULL);
    ck_assert_mem_eq(wa, wb, sizeof wa);
    for (size_t i = 0; i < 37 * 19; i++)
      ck_assert_float_eq(wf[i], (float)wa[i]);
    /* Another seed changes the draw. */
    ck_assert_int_eq(mlp_model_init(b, (mlp_init)init, 8, 1), MLP_OK);
    mlp_model_get_layer(b, 1, wb, MLP_LAYOUT_IN_OUT, NULL);
    ck_assert(memcmp(wa, wb, sizeof wa) != 0);
  }
  mlp_model_free(a);
  mlp_model_free(b);
  mlp_model_free(f);
}
END_TEST

/* W^T W = scale^2 I when in >= out (orthonormal columns), W W^T when
 * in < out (orthonormal rows); biases are zero. */
START_TEST(orthogonal_is_orthogonal) {
  const size_t shapes[][2] = {{64, 16}, {16, 64}, {33, 33}};
  for (size_t s = 0; s < 3; s++) {
    const size_t in = shapes[s][0], out = shapes[s][1];
    const size_t r = in >= out ? out : in;
    mlp_model *m = make(MLP_F64, MLP_LAYOUT_IN_OUT, in, out);
    double *w = malloc(in * out * sizeof *w), b[64];
    ck_assert_int_eq(mlp_model_init(m, MLP_INIT_ORTHOGONAL, 3, 2.0), MLP_OK);
    mlp_model_get_layer(m, 1, w, MLP_LAYOUT_IN_OUT, b);
    for (size_t p = 0; p < r; p++)
      for (size_t q = 0; q < r; q++) {
        double dot = 0;
        for (size_t t = 0; t < (in >= out ? in : out); t++)
          dot += in >= out ? w[t * out + p] * w[t * out + q]
                           : w[p * out + t] * w[q * out + t];
        TU_ASSERT_CLOSE(dot, p == q ? 4.0 : 0.0, 1e-12, "W^T W", p * r + q);
      }
    for (size_t j = 0; j < out; j++)
      ck_assert_double_eq(b[j], 0);
    free(w);
    mlp_model_free(m);
  }
}
END_TEST

START_TEST(init_errors) {
  mlp_model *m = make(MLP_F32, MLP_LAYOUT_IN_OUT, 3, 3);
  mlp_init i;
  ck_assert_int_eq(mlp_model_init(NULL, MLP_INIT_HE_NORMAL, 1, 1),
                   MLP_ERR_NULL);
  ck_assert_int_eq(mlp_model_init(m, (mlp_init)99, 1, 1), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_model_init(m, MLP_INIT_UNIFORM, 1, 0), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_model_init(m, MLP_INIT_UNIFORM, 1, NAN), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_init_parse("he", &i), MLP_OK);
  ck_assert_int_eq(i, MLP_INIT_HE_UNIFORM);
  ck_assert_int_eq(mlp_init_parse("orthogonal", &i), MLP_OK);
  ck_assert_int_eq(i, MLP_INIT_ORTHOGONAL);
  ck_assert_int_eq(mlp_init_parse("zeros", &i), MLP_ERR_ARG);
  ck_assert_ptr_nonnull(strstr(mlp_last_error(), "zeros"));
  mlp_model_free(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("init");
  TCase *tc = tcase_create("init");
  SRunner *sr;
  int failed;

  tcase_add_test(tc, rules_have_their_statistics);
  tcase_add_test(tc, same_seed_same_model_everywhere);
  tcase_add_test(tc, orthogonal_is_orthogonal);
  tcase_add_test(tc, init_errors);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
