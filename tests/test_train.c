/*
 * test_train.c - the trainer: small problems train to low loss (classes
 * and regression), the same seed gives the same model bit for bit, early
 * stopping and restore_best, stopping on request, argument errors.
 */
#define _POSIX_C_SOURCE 200112L
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"

#define ROWS 512

static uint64_t rng_state;
static double rnd(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* Three classes in the plane by angle (not linearly separable from the
 * origin's view, but easy for a hidden layer). */
static float xs[ROWS * 2], xv[ROWS * 2];
static double xsd[ROWS * 2], xvd[ROWS * 2]; /* the same as double */
static int32_t ls[ROWS], lv[ROWS];
static void make_classes(void) {
  rng_state = 1234;
  for (int set = 0; set < 2; set++) {
    float *x = set ? xv : xs;
    int32_t *l = set ? lv : ls;
    for (int i = 0; i < ROWS; i++) {
      double a = rnd(), b = rnd();
      x[2 * i] = (float)a;
      x[2 * i + 1] = (float)b;
      double ang = atan2(b, a) + M_PI; /* [0, 2 pi] */
      l[i] = (int32_t)(ang / (2 * M_PI / 3)) % 3;
    }
  }
  for (int i = 0; i < ROWS * 2; i++) {
    xsd[i] = xs[i];
    xvd[i] = xv[i];
  }
}

static mlp_model *make_model(mlp_dtype dtype, const mlp_act *acts,
                             const size_t *widths, uint64_t seed) {
  mlp_model *m = NULL;
  ck_assert_int_eq(
      mlp_model_create(&m, dtype, 2, widths, acts, MLP_LAYOUT_IN_OUT), MLP_OK);
  ck_assert_int_eq(mlp_model_init(m, MLP_INIT_HE_UNIFORM, seed, 1.0), MLP_OK);
  return m;
}

static const size_t cls_widths[] = {2, 32, 3};
static const mlp_act cls_acts[] = {MLP_ACT_RELU, MLP_ACT_SOFTMAX};

/* Trains the classifier; returns the final stats. */
static mlp_train_stats train_classes(mlp_model *m, mlp_optim_kind kind,
                                     double lr, uint64_t seed,
                                     uint64_t epochs) {
  mlp_train_config c;
  mlp_trainer *t = NULL;
  mlp_train_stats s;
  int f64 = mlp_model_dtype(m) == MLP_F64;
  mlp_train_data tr = {f64 ? (void *)xsd : xs, ls, NULL, ROWS};
  mlp_train_data va = {f64 ? (void *)xvd : xv, lv, NULL, ROWS};

  mlp_train_config_default(&c);
  mlp_optim_config_default(&c.optim, kind);
  c.optim.lr = lr;
  c.batch_size = 32;
  c.epochs = epochs;
  c.seed = seed;
  ck_assert_int_eq(mlp_trainer_create(&t, m, &c, ROWS), MLP_OK);
  ck_assert_int_eq(mlp_trainer_fit(t, &tr, &va, &s), MLP_OK);
  mlp_trainer_free(t);
  return s;
}

START_TEST(classes_train_to_low_loss) {
  make_classes();
  for (int k = MLP_OPTIM_SGD; k <= MLP_OPTIM_ADAMW; k++) {
    mlp_model *m = make_model(MLP_F32, cls_acts, cls_widths, 3);
    double lr = k >= MLP_OPTIM_ADAM ? 0.01 : k == MLP_OPTIM_SGD ? 0.5 : 0.1;
    mlp_train_stats s = train_classes(m, (mlp_optim_kind)k, lr, 7, 40);
    /* Chance is 1/3 with loss log 3 = 1.1; the boundaries are sharp
     * lines through the origin, which 32 ReLUs fit well. */
    ck_assert_msg(s.val_accuracy > 0.95 && s.val_loss < 0.2,
                  "%s: val accuracy %g, loss %g", mlp_optim_name(k),
                  s.val_accuracy, s.val_loss);
    ck_assert_msg(s.train_loss < 0.2, "%s: train loss %g", mlp_optim_name(k),
                  s.train_loss);
    ck_assert_uint_eq(s.epoch, 40);
    ck_assert_uint_eq(s.step, 40 * (ROWS / 32));
    mlp_model_free(m);
  }
}
END_TEST

/* Regression with MSE, float64: y = sin(3 x). */
START_TEST(regression_trains) {
  static double x[ROWS], y[ROWS];
  const size_t widths[] = {1, 32, 1};
  const mlp_act acts[] = {MLP_ACT_TANH, MLP_ACT_IDENTITY};
  mlp_train_config c;
  mlp_trainer *t = NULL;
  mlp_train_stats s;
  double before, after;

  rng_state = 77;
  for (int i = 0; i < ROWS; i++) {
    x[i] = rnd();
    y[i] = sin(3 * x[i]);
  }
  mlp_model *m = make_model(MLP_F64, acts, widths, 5);
  mlp_train_data d = {x, NULL, y, ROWS};
  mlp_train_config_default(&c);
  c.loss = MLP_LOSS_MSE;
  c.batch_size = 16;
  c.epochs = 60;
  c.optim.lr = 0.01;
  c.optim.schedule = MLP_SCHEDULE_COSINE;
  c.optim.total = 0; /* the trainer fills in epochs x steps */
  ck_assert_int_eq(mlp_trainer_create(&t, m, &c, ROWS), MLP_OK);
  ck_assert_int_eq(mlp_trainer_evaluate(t, &d, &before, NULL), MLP_OK);
  ck_assert_int_eq(mlp_trainer_fit(t, &d, NULL, &s), MLP_OK);
  ck_assert_int_eq(mlp_trainer_evaluate(t, &d, &after, NULL), MLP_OK);
  ck_assert_msg(after < 0.01 && after < before / 20, "mse %g -> %g", before,
                after);
  ck_assert(isnan(s.val_loss));
  ck_assert(isnan(s.train_accuracy));
  /* The cosine schedule ran to its end. */
  ck_assert_double_eq_tol(
      s.lr, 0.01 * (1 + cos(M_PI * (s.step - 1.0) / s.step)) / 2, 1e-12);
  mlp_trainer_free(t);
  mlp_model_free(m);
}
END_TEST

START_TEST(same_seed_same_model) {
  make_classes();
  for (int d = 0; d < 2; d++) {
    mlp_dtype dtype = d ? MLP_F64 : MLP_F32;
    mlp_model *a = make_model(dtype, cls_acts, cls_widths, 3);
    mlp_model *b = make_model(dtype, cls_acts, cls_widths, 3);
    mlp_model *c = make_model(dtype, cls_acts, cls_widths, 3);
    size_t n;
    train_classes(a, MLP_OPTIM_ADAM, 0.01, 42, 3);
    train_classes(b, MLP_OPTIM_ADAM, 0.01, 42, 3);
    train_classes(c, MLP_OPTIM_ADAM, 0.01, 43, 3);
    const void *pa = mlp_model_params(a, &n);
    ck_assert_int_eq(
        memcmp(pa, mlp_model_params(b, NULL), n * mlp_dtype_size(dtype)), 0);
    /* Another seed orders the batches differently. */
    ck_assert_int_ne(
        memcmp(pa, mlp_model_params(c, NULL), n * mlp_dtype_size(dtype)), 0);
    mlp_model_free(a);
    mlp_model_free(b);
    mlp_model_free(c);
  }
}
END_TEST

/* Epoch callback: records each epoch and a copy of the parameters at the
 * best one. */
struct seen {
  int epochs;
  int improved[16];
  float best[2 * 32 + 32 + 32 * 3 + 3];
  const mlp_model *m;
  int stop_after_steps;
  int steps;
};
static int on_epoch(const mlp_train_stats *s, void *user) {
  struct seen *seen = user;
  ck_assert_int_lt(seen->epochs, 16);
  seen->improved[seen->epochs++] = s->improved;
  if (s->improved)
    memcpy(seen->best, mlp_model_params(seen->m, NULL), sizeof seen->best);
  return 0;
}
static int on_step(const mlp_train_stats *s, void *user) {
  struct seen *seen = user;
  ck_assert(s->rows_done <= s->rows_total);
  ck_assert(isfinite(s->batch_loss));
  return ++seen->steps >= seen->stop_after_steps;
}

START_TEST(early_stopping_restores_best) {
  mlp_train_config c;
  mlp_trainer *t = NULL;
  mlp_train_stats s;
  struct seen seen;
  mlp_train_data tr = {xs, ls, NULL, ROWS}, va = {xv, lv, NULL, ROWS};
  size_t n;

  make_classes();
  mlp_model *m = make_model(MLP_F32, cls_acts, cls_widths, 3);
  memset(&seen, 0, sizeof seen);
  seen.m = m;
  seen.stop_after_steps = 1 << 30;
  mlp_train_config_default(&c);
  c.batch_size = 64;
  c.epochs = 10;
  /* Improvements must beat the best by more than the loss itself, so
   * only the first epoch counts as one: patience 2 stops after epoch 3. */
  c.min_delta = 100.0;
  c.patience = 2;
  c.restore_best = 1;
  c.on_epoch = on_epoch;
  c.on_step = on_step;
  c.user = &seen;
  ck_assert_int_eq(mlp_trainer_create(&t, m, &c, ROWS), MLP_OK);
  ck_assert_int_eq(mlp_trainer_fit(t, &tr, &va, &s), MLP_OK);
  ck_assert_uint_eq(s.epoch, 3);
  ck_assert_int_eq(s.stopping, 1);
  ck_assert_uint_eq(s.best_epoch, 1);
  ck_assert_int_eq(seen.epochs, 3);
  ck_assert_int_eq(seen.improved[0], 1);
  ck_assert_int_eq(seen.improved[1], 0);
  ck_assert_int_eq(seen.improved[2], 0);
  ck_assert_int_eq(seen.steps, 3 * ROWS / 64);
  const void *p = mlp_model_params(m, &n);
  ck_assert_uint_eq(n * sizeof(float), sizeof seen.best);
  ck_assert_int_eq(memcmp(p, seen.best, sizeof seen.best), 0);
  mlp_trainer_free(t);
  mlp_model_free(m);
}
END_TEST

START_TEST(stop_on_request) {
  mlp_train_config c;
  mlp_trainer *t = NULL;
  mlp_train_stats s;
  struct seen seen;
  mlp_train_data tr = {xs, ls, NULL, ROWS};

  make_classes();
  mlp_model *m = make_model(MLP_F32, cls_acts, cls_widths, 3);
  memset(&seen, 0, sizeof seen);
  seen.m = m;
  seen.stop_after_steps = 5;
  mlp_train_config_default(&c);
  c.batch_size = 32;
  c.on_step = on_step;
  c.user = &seen;
  ck_assert_int_eq(mlp_trainer_create(&t, m, &c, ROWS), MLP_OK);
  ck_assert_int_eq(mlp_trainer_fit(t, &tr, NULL, &s), MLP_ERR_INTERRUPTED);
  ck_assert_uint_eq(s.step, 5);
  ck_assert_uint_eq(s.rows_done, 5 * 32);
  mlp_trainer_free(t);
  mlp_model_free(m);
}
END_TEST

START_TEST(errors) {
  mlp_train_config c;
  mlp_trainer *t = (mlp_trainer *)1;
  mlp_train_data tr = {xs, ls, NULL, ROWS}, none = {xs, NULL, NULL, ROWS};
  const mlp_act sig[] = {MLP_ACT_RELU, MLP_ACT_SIGMOID};

  make_classes();
  mlp_model *m = make_model(MLP_F32, cls_acts, cls_widths, 3);
  mlp_model *s = make_model(MLP_F32, sig, cls_widths, 3);
  mlp_train_config_default(&c);
  ck_assert_int_eq(mlp_trainer_create(&t, s, &c, ROWS), MLP_ERR_LOSS);
  ck_assert_ptr_null(t);
  c.batch_size = 0;
  ck_assert_int_eq(mlp_trainer_create(&t, m, &c, ROWS), MLP_ERR_ARG);
  mlp_train_config_default(&c);
  c.optim.lr = 0;
  ck_assert_int_eq(mlp_trainer_create(&t, m, &c, ROWS), MLP_ERR_ARG);
  mlp_train_config_default(&c);
  ck_assert_int_eq(mlp_trainer_create(NULL, m, &c, ROWS), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_trainer_create(&t, m, &c, ROWS / 2), MLP_OK);
  ck_assert_int_eq(mlp_trainer_fit(t, &tr, NULL, NULL), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_trainer_fit(t, &none, NULL, NULL), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_trainer_fit(NULL, &tr, NULL, NULL), MLP_ERR_NULL);
  mlp_trainer_free(t);
  mlp_trainer_free(NULL);
  mlp_model_free(s);
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

/* Every allocation of the trainer (context, grad, optimiser state,
 * buffers) fails in turn: each is reported, none leaks (valgrind and ASan
 * runs check that), and the first success trains. */
START_TEST(allocation_failures) {
  const mlp_allocator failing = {failing_alloc, plain_free, NULL};
  mlp_train_config c;
  mlp_train_data tr = {xs, ls, NULL, ROWS};
  int done = 0;

  make_classes();
  mlp_set_allocator(&failing);
  fail_at = -1;
  mlp_model *m = make_model(MLP_F32, cls_acts, cls_widths, 3);
  mlp_train_config_default(&c);
  c.epochs = 1;
  c.restore_best = 1;
  for (long n = 0; n < 100 && !done; n++) {
    mlp_trainer *t = NULL;
    fail_at = n;
    int status = mlp_trainer_create(&t, m, &c, ROWS);
    fail_at = -1;
    if (status == MLP_OK) {
      done = 1;
      ck_assert_int_eq(mlp_trainer_fit(t, &tr, NULL, NULL), MLP_OK);
    } else {
      ck_assert_int_eq(status, MLP_ERR_NOMEM);
      ck_assert_ptr_null(t);
    }
    mlp_trainer_free(t);
  }
  ck_assert(done);
  for (int k = MLP_OPTIM_SGD; k <= MLP_OPTIM_ADAMW; k++) {
    mlp_optim_config oc;
    mlp_optim_config_default(&oc, (mlp_optim_kind)k);
    done = 0;
    for (long n = 0; n < 20 && !done; n++) {
      mlp_optim *o = NULL;
      fail_at = n;
      int status = mlp_optim_create(&o, m, &oc);
      fail_at = -1;
      if (status == MLP_OK)
        done = 1;
      else
        ck_assert_int_eq(status, MLP_ERR_NOMEM);
      mlp_optim_free(o);
    }
    ck_assert(done);
  }
  mlp_model_free(m);
  mlp_set_allocator(NULL);
}
END_TEST

/* Counts allocations, to show that training steps make none. */
static long n_allocs;
static void *counting_alloc(size_t size, size_t align, void *user) {
  n_allocs++;
  return failing_alloc(size, align, user);
}

START_TEST(steps_allocate_nothing) {
  const mlp_allocator counting = {counting_alloc, plain_free, NULL};
  mlp_train_config c;
  mlp_trainer *t = NULL;
  mlp_train_data tr = {xs, ls, NULL, ROWS}, va = {xv, lv, NULL, ROWS};
  double loss, acc;

  make_classes();
  fail_at = -1;
  mlp_set_allocator(&counting);
  mlp_model *m = make_model(MLP_F32, cls_acts, cls_widths, 3);
  mlp_train_config_default(&c);
  c.epochs = 2;
  c.restore_best = 1;
  c.patience = 5;
  ck_assert_int_eq(mlp_trainer_create(&t, m, &c, ROWS), MLP_OK);
  n_allocs = 0;
  ck_assert_int_eq(mlp_trainer_fit(t, &tr, &va, NULL), MLP_OK);
  ck_assert_int_eq(mlp_trainer_evaluate(t, &va, &loss, &acc), MLP_OK);
  ck_assert_int_eq(n_allocs, 0);
  mlp_trainer_free(t);
  mlp_model_free(m);
  mlp_set_allocator(NULL);
}
END_TEST

static Suite *train_suite(void) {
  Suite *s = suite_create("train");
  TCase *tc = tcase_create("train");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, classes_train_to_low_loss);
  tcase_add_test(tc, regression_trains);
  tcase_add_test(tc, same_seed_same_model);
  tcase_add_test(tc, early_stopping_restores_best);
  tcase_add_test(tc, stop_on_request);
  tcase_add_test(tc, errors);
  tcase_add_test(tc, allocation_failures);
  tcase_add_test(tc, steps_allocate_nothing);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(train_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
