/*
 * test_optim.c - optimiser updates against steps computed by hand in the
 * test (SGD, momentum, Nesterov, Adam, AdamW, with and without weight
 * decay, float32 and float64), learning-rate schedules, config checks.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

/* A model with 2 inputs and 2 outputs: W has 4 elements, b 2. */
static const size_t widths[] = {2, 2};
static const mlp_act acts[] = {MLP_ACT_IDENTITY};
#define NP 6
static const double w0[NP] = {0.5, -0.25, 1.0, 2.0, 0.1, -0.3};
/* Gradients for steps 1..3. */
static const double gs[3][NP] = {{0.1, -0.2, 0.3, 0.0, 1.0, -0.5},
                                 {-0.4, 0.2, 0.1, 0.05, 0.5, 0.5},
                                 {0.3, 0.3, -0.3, 0.2, -1.0, 0.25}};

/* The reference: the rules of mlp.h written out per element. Element i is
 * a weight when i < 4 (decay applies) and a bias otherwise. */
static void reference(const mlp_optim_config *c, int steps, double *w) {
  double v[NP] = {0}, m[NP] = {0};
  memcpy(w, w0, sizeof w0);
  for (int t = 1; t <= steps; t++) {
    double lr = mlp_schedule_lr(c, (uint64_t)(t - 1));
    for (int i = 0; i < NP; i++) {
      double wd = i < 4 ? c->weight_decay : 0.0;
      double g = gs[t - 1][i];
      switch (c->kind) {
      case MLP_OPTIM_SGD:
        w[i] = w[i] - lr * (g + wd * w[i]);
        break;
      case MLP_OPTIM_MOMENTUM:
        g += wd * w[i];
        v[i] = c->momentum * v[i] + g;
        w[i] -= lr * v[i];
        break;
      case MLP_OPTIM_NESTEROV:
        g += wd * w[i];
        v[i] = c->momentum * v[i] + g;
        w[i] -= lr * (g + c->momentum * v[i]);
        break;
      case MLP_OPTIM_ADAM:
      case MLP_OPTIM_ADAMW:
        if (c->kind == MLP_OPTIM_ADAM)
          g += wd * w[i];
        else
          w[i] -= lr * wd * w[i];
        m[i] = c->beta1 * m[i] + (1 - c->beta1) * g;
        v[i] = c->beta2 * v[i] + (1 - c->beta2) * g * g;
        {
          double mh = m[i] / (1 - pow(c->beta1, t));
          double vh = v[i] / (1 - pow(c->beta2, t));
          w[i] -= lr * mh / (sqrt(vh) + c->eps);
        }
        break;
      }
    }
  }
}

/* The library's parameters after `steps` steps, read back as doubles. */
static void library(const mlp_optim_config *c, mlp_dtype dtype, int steps,
                    double *w) {
  mlp_model *m = NULL;
  mlp_grad *g = NULL;
  mlp_optim *o = NULL;
  size_t count;

  ck_assert_int_eq(
      mlp_model_create(&m, dtype, 1, widths, acts, MLP_LAYOUT_IN_OUT), MLP_OK);
  ck_assert_int_eq(mlp_grad_create(&g, m, 1), MLP_OK);
  ck_assert_int_eq(mlp_optim_create(&o, m, c), MLP_OK);
  void *p = mlp_model_params_mut(m, &count);
  void *gp = mlp_grad_params_mut(g, &count);
  ck_assert_uint_eq(count, NP);
  for (int i = 0; i < NP; i++) {
    if (dtype == MLP_F32)
      ((float *)p)[i] = (float)w0[i];
    else
      ((double *)p)[i] = w0[i];
  }
  for (int t = 0; t < steps; t++) {
    for (int i = 0; i < NP; i++) {
      if (dtype == MLP_F32)
        ((float *)gp)[i] = (float)gs[t][i];
      else
        ((double *)gp)[i] = gs[t][i];
    }
    ck_assert_double_eq_tol(mlp_optim_lr(o), mlp_schedule_lr(c, (uint64_t)t),
                            1e-15);
    ck_assert_int_eq(mlp_optim_step(o, m, g), MLP_OK);
  }
  ck_assert_uint_eq(mlp_optim_steps(o), (uint64_t)steps);
  for (int i = 0; i < NP; i++)
    w[i] = dtype == MLP_F32 ? ((float *)p)[i] : ((double *)p)[i];
  mlp_optim_free(o);
  mlp_grad_free(g);
  mlp_model_free(m);
}

static void compare(const mlp_optim_config *c) {
  double ref[NP], got[NP];
  for (int steps = 1; steps <= 3; steps++) {
    reference(c, steps, ref);
    for (int d = 0; d < 2; d++) {
      mlp_dtype dtype = d == 0 ? MLP_F64 : MLP_F32;
      /* Values are O(1); float32 rounds each of a few operations. */
      double tol = dtype == MLP_F64 ? 1e-14 : 4e-6;
      library(c, dtype, steps, got);
      for (int i = 0; i < NP; i++)
        ck_assert_msg(fabs(got[i] - ref[i]) <= tol,
                      "%s wd %g %s step %d param %d: %.17g, by hand %.17g",
                      mlp_optim_name(c->kind), c->weight_decay,
                      mlp_dtype_name(dtype), steps, i, got[i], ref[i]);
    }
  }
}

START_TEST(each_optimiser) {
  for (int k = MLP_OPTIM_SGD; k <= MLP_OPTIM_ADAMW; k++) {
    mlp_optim_config c;
    mlp_optim_config_default(&c, (mlp_optim_kind)k);
    c.lr = 0.1;
    c.weight_decay = 0.0;
    compare(&c);
    c.weight_decay = 0.05;
    compare(&c);
    /* A schedule changes lr per step: step decay by half every step. */
    c.schedule = MLP_SCHEDULE_STEP;
    c.step_size = 1;
    c.gamma = 0.5;
    compare(&c);
  }
}
END_TEST

/* First steps worked out on paper, independent of the reference code. */
START_TEST(first_steps_by_hand) {
  double got[NP];
  mlp_optim_config c;

  /* SGD, lr 0.1: w0 - 0.1 g1. */
  mlp_optim_config_default(&c, MLP_OPTIM_SGD);
  c.lr = 0.1;
  library(&c, MLP_F64, 1, got);
  ck_assert_double_eq_tol(got[0], 0.5 - 0.01, 1e-15);
  ck_assert_double_eq_tol(got[4], 0.1 - 0.1, 1e-15);
  /* Momentum 0.9, two steps on param 0: v1 = 0.1, w1 = 0.49; v2 = 0.09 -
   * 0.4 = -0.31, w2 = 0.49 + 0.031 = 0.521. */
  mlp_optim_config_default(&c, MLP_OPTIM_MOMENTUM);
  c.lr = 0.1;
  library(&c, MLP_F64, 2, got);
  ck_assert_double_eq_tol(got[0], 0.521, 1e-15);
  /* Nesterov: step 1 moves by lr (g + mu g) = 0.1 * 0.19 = 0.019. */
  mlp_optim_config_default(&c, MLP_OPTIM_NESTEROV);
  c.lr = 0.1;
  library(&c, MLP_F64, 1, got);
  ck_assert_double_eq_tol(got[0], 0.5 - 0.019, 1e-15);
  /* Adam's first step moves each parameter by lr sign(g) (up to eps),
   * and not at all where g = 0. */
  mlp_optim_config_default(&c, MLP_OPTIM_ADAM);
  c.lr = 0.01;
  library(&c, MLP_F64, 1, got);
  ck_assert_double_eq_tol(got[0], 0.5 - 0.01, 1e-9);
  ck_assert_double_eq_tol(got[1], -0.25 + 0.01, 1e-9);
  ck_assert_double_eq_tol(got[3], 2.0, 1e-15);
  /* Weight decay spares biases: param 3 (weight, g = 0) decays, param 4
   * (bias) only follows its gradient. */
  mlp_optim_config_default(&c, MLP_OPTIM_SGD);
  c.lr = 0.1;
  c.weight_decay = 0.5;
  library(&c, MLP_F64, 1, got);
  ck_assert_double_eq_tol(got[3], 2.0 - 0.1 * 0.5 * 2.0, 1e-15);
  ck_assert_double_eq_tol(got[4], 0.0, 1e-15);
}
END_TEST

START_TEST(schedules) {
  mlp_optim_config c;
  mlp_optim_config_default(&c, MLP_OPTIM_SGD);
  c.lr = 1.0;
  ck_assert_double_eq(mlp_schedule_lr(&c, 0), 1.0);
  ck_assert_double_eq(mlp_schedule_lr(&c, 1000), 1.0);

  c.schedule = MLP_SCHEDULE_STEP;
  c.step_size = 10;
  c.gamma = 0.1;
  ck_assert_double_eq_tol(mlp_schedule_lr(&c, 9), 1.0, 1e-15);
  ck_assert_double_eq_tol(mlp_schedule_lr(&c, 10), 0.1, 1e-15);
  ck_assert_double_eq_tol(mlp_schedule_lr(&c, 25), 0.01, 1e-15);

  c.schedule = MLP_SCHEDULE_COSINE;
  c.total = 100;
  c.lr_min = 0.1;
  ck_assert_double_eq_tol(mlp_schedule_lr(&c, 0), 1.0, 1e-15);
  ck_assert_double_eq_tol(mlp_schedule_lr(&c, 50), 0.55, 1e-15);
  ck_assert_double_eq_tol(mlp_schedule_lr(&c, 25),
                          0.1 + 0.9 * (1 + sqrt(0.5)) / 2, 1e-15);
  ck_assert_double_eq_tol(mlp_schedule_lr(&c, 100), 0.1, 1e-15);
  ck_assert_double_eq_tol(mlp_schedule_lr(&c, 5000), 0.1, 1e-15);

  c.warmup = 4;
  ck_assert_double_eq_tol(mlp_schedule_lr(&c, 0), 0.25, 1e-15);
  ck_assert_double_eq_tol(mlp_schedule_lr(&c, 3),
                          0.1 + 0.9 * (1 + cos(M_PI * 0.03)) / 2, 1e-15);
}
END_TEST

START_TEST(names_and_config_errors) {
  mlp_optim_kind k;
  mlp_schedule s;
  mlp_optim_config c;
  mlp_model *m = NULL;
  mlp_optim *o = (mlp_optim *)1;

  for (int i = 0; i <= MLP_OPTIM_ADAMW; i++) {
    ck_assert_int_eq(mlp_optim_parse(mlp_optim_name((mlp_optim_kind)i), &k),
                     MLP_OK);
    ck_assert_int_eq(k, i);
  }
  ck_assert_ptr_null(mlp_optim_name((mlp_optim_kind)7));
  ck_assert_int_eq(mlp_optim_parse("adagrad", &k), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_schedule_parse("cosine", &s), MLP_OK);
  ck_assert_int_eq(s, MLP_SCHEDULE_COSINE);
  ck_assert_int_eq(mlp_schedule_parse("linear", &s), MLP_ERR_ARG);

  ck_assert_int_eq(
      mlp_model_create(&m, MLP_F32, 1, widths, acts, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  mlp_optim_config_default(&c, MLP_OPTIM_ADAM);
  ck_assert_double_eq(c.lr, 0.001);
  c.lr = -1;
  ck_assert_int_eq(mlp_optim_create(&o, m, &c), MLP_ERR_ARG);
  ck_assert_ptr_null(o);
  ck_assert_ptr_nonnull(strstr(mlp_last_error(), "lr"));
  mlp_optim_config_default(&c, MLP_OPTIM_MOMENTUM);
  c.momentum = 1.0;
  ck_assert_int_eq(mlp_optim_create(&o, m, &c), MLP_ERR_ARG);
  mlp_optim_config_default(&c, MLP_OPTIM_ADAM);
  c.beta2 = 1.0;
  ck_assert_int_eq(mlp_optim_create(&o, m, &c), MLP_ERR_ARG);
  mlp_optim_config_default(&c, MLP_OPTIM_SGD);
  c.schedule = MLP_SCHEDULE_COSINE;
  c.total = 0;
  ck_assert_int_eq(mlp_optim_create(&o, m, &c), MLP_ERR_ARG);
  c.total = 10;
  c.lr_min = 1.0;
  ck_assert_int_eq(mlp_optim_create(&o, m, &c), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_optim_create(&o, NULL, &c), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_optim_create(NULL, m, &c), MLP_ERR_NULL);

  /* A grad or model of another shape is refused. */
  {
    const size_t w2[] = {2, 3};
    mlp_model *other = NULL;
    mlp_grad *g = NULL;
    mlp_optim_config_default(&c, MLP_OPTIM_SGD);
    ck_assert_int_eq(mlp_optim_create(&o, m, &c), MLP_OK);
    ck_assert_int_eq(
        mlp_model_create(&other, MLP_F32, 1, w2, acts, MLP_LAYOUT_IN_OUT),
        MLP_OK);
    ck_assert_int_eq(mlp_grad_create(&g, other, 1), MLP_OK);
    ck_assert_int_eq(mlp_optim_step(o, m, g), MLP_ERR_SHAPE);
    ck_assert_int_eq(mlp_optim_step(o, other, g), MLP_ERR_SHAPE);
    ck_assert_int_eq(mlp_optim_step(o, m, NULL), MLP_ERR_NULL);
    mlp_grad_free(g);
    mlp_model_free(other);
    mlp_optim_free(o);
  }
  mlp_optim_free(NULL);
  mlp_model_free(m);
}
END_TEST

START_TEST(reset_clears_state) {
  mlp_optim_config c;
  double a[NP], b[NP];
  mlp_optim_config_default(&c, MLP_OPTIM_ADAM);
  library(&c, MLP_F64, 1, a);
  /* A fresh optimiser and one that was reset take the same first step. */
  {
    mlp_model *m = NULL;
    mlp_grad *g = NULL;
    mlp_optim *o = NULL;
    size_t count;
    ck_assert_int_eq(
        mlp_model_create(&m, MLP_F64, 1, widths, acts, MLP_LAYOUT_IN_OUT),
        MLP_OK);
    ck_assert_int_eq(mlp_grad_create(&g, m, 1), MLP_OK);
    ck_assert_int_eq(mlp_optim_create(&o, m, &c), MLP_OK);
    double *gp = mlp_grad_params_mut(g, &count);
    double *p = mlp_model_params_mut(m, &count);
    for (int i = 0; i < NP; i++)
      gp[i] = 1.0;
    ck_assert_int_eq(mlp_optim_step(o, m, g), MLP_OK);
    mlp_optim_reset(o);
    ck_assert_uint_eq(mlp_optim_steps(o), 0);
    memcpy(p, w0, sizeof w0);
    memcpy(gp, gs[0], sizeof gs[0]);
    ck_assert_int_eq(mlp_optim_step(o, m, g), MLP_OK);
    memcpy(b, p, sizeof b);
    mlp_optim_free(o);
    mlp_grad_free(g);
    mlp_model_free(m);
  }
  for (int i = 0; i < NP; i++)
    ck_assert_double_eq_tol(a[i], b[i], 1e-15);
}
END_TEST

static Suite *optim_suite(void) {
  Suite *s = suite_create("optim");
  TCase *tc = tcase_create("optim");
  tcase_add_test(tc, each_optimiser);
  tcase_add_test(tc, first_steps_by_hand);
  tcase_add_test(tc, schedules);
  tcase_add_test(tc, names_and_config_errors);
  tcase_add_test(tc, reset_clears_state);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(optim_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
