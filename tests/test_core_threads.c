/*
 * One model shared by several threads, each with its own context: every
 * thread's output is bit-identical to the single-threaded one.
 */
#include <pthread.h>

#include "core_util.h"

#define THREADS 4
#define ROUNDS 50
#define BATCH 33

static mlp_model *model;
static float input[BATCH * 64];
static float expected[BATCH * 10];

static void *worker(void *arg) {
  mlp_ctx *c;
  float y[BATCH * 10];
  long bad = 0;

  (void)arg;
  if (mlp_ctx_create(&c, model, 16, 0, NULL, 0) != MLP_OK)
    return (void *)-1L;
  for (int r = 0; r < ROUNDS; r++) {
    if (mlp_forward(model, c, input, BATCH, y) != MLP_OK ||
        memcmp(y, expected, sizeof y) != 0)
      bad++;
  }
  mlp_ctx_free(c);
  return (void *)bad;
}

START_TEST(threads_share_one_model) {
  const size_t widths[] = {64, 128, 64, 10};
  const mlp_act acts[] = {MLP_ACT_GELU, MLP_ACT_TANH, MLP_ACT_SOFTMAX};
  pthread_t t[THREADS];
  mlp_ctx *c;
  uint64_t s = 9;

  ck_assert_int_eq(
      mlp_model_create(&model, MLP_F32, 3, widths, acts, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  ck_assert_int_eq(mlp_model_init(model, MLP_INIT_XAVIER_NORMAL, 5, 1),
                   MLP_OK);
  for (size_t i = 0; i < sizeof input / sizeof *input; i++)
    input[i] = (float)tu_range(&s, -1, 1);
  ck_assert_int_eq(mlp_ctx_create(&c, model, 16, 0, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_forward(model, c, input, BATCH, expected), MLP_OK);
  mlp_ctx_free(c);
  for (int i = 0; i < THREADS; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, worker, NULL), 0);
  for (int i = 0; i < THREADS; i++) {
    void *bad;
    ck_assert_int_eq(pthread_join(t[i], &bad), 0);
    ck_assert_msg((long)bad == 0, "thread %d: %ld rounds differ", i,
                  (long)bad);
  }
  mlp_model_free(model);
}
END_TEST

/*
 * A context with worker threads (mlp_ctx_set_threads) gives the results
 * of a one-thread context, within rounding: rows split across threads
 * (batches above 16 rows per thread) or columns split (small batches),
 * both dtypes and layouts, with and without MLP_CTX_KEEP, chunked.
 */
static double max_diff(mlp_dtype dt, const void *a, const void *b,
                       size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs(tu_get(dt, a, i) - tu_get(dt, b, i));
    if (!(d <= m))
      m = d; /* NaN counts */
  }
  return m;
}

START_TEST(context_threads_match_one_thread) {
  const size_t widths[] = {300, 512, 200, 10};
  const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_TANH, MLP_ACT_SOFTMAX};
  const size_t batches[] = {1, 5, 40, 257};
  const int quick = getenv("MLP_TEST_QUICK") != NULL;

  mlp_blas_set_threads(1);
  for (int d = 0; d < 2; d++)
    for (int lay = 0; lay < 2; lay++)
      for (unsigned keep = 0; keep <= MLP_CTX_KEEP; keep++)
        for (size_t bi = 0; bi < 4; bi += quick ? 2 : 1) {
          const mlp_dtype dt = d ? MLP_F64 : MLP_F32;
          const size_t e = d ? 8 : 4, B = batches[bi];
          const size_t mb = B > 40 ? (B + 1) / 2 : B; /* chunked too */
          const double tol = d ? 1e-12 : 1e-5;
          char *x = malloc(B * 300 * e), *y1 = malloc(B * 10 * e),
               *y2 = malloc(B * 10 * e);
          const void *z1, *z2;
          size_t r1, r2;
          mlp_model *m;
          mlp_ctx *c1, *c2;

          ck_assert_int_eq(mlp_model_create(&m, dt, 3, widths, acts,
                                            lay ? MLP_LAYOUT_OUT_IN
                                                : MLP_LAYOUT_IN_OUT),
                           MLP_OK);
          ck_assert_int_eq(mlp_model_init(m, MLP_INIT_XAVIER_UNIFORM, 7, 1),
                           MLP_OK);
          for (size_t i = 0; i < B * 300; i++)
            tu_set(dt, x, i, sin((double)i * 0.37));
          ck_assert_int_eq(mlp_ctx_create(&c1, m, mb, keep, NULL, 0),
                           MLP_OK);
          ck_assert_int_eq(mlp_ctx_create(&c2, m, mb, keep, NULL, 0),
                           MLP_OK);
          ck_assert_int_eq(mlp_ctx_set_threads(c2, 2 + (int)(bi % 2)),
                           MLP_OK);
          ck_assert_int_eq(mlp_ctx_threads(c2), 2 + (int)(bi % 2));
          ck_assert_int_eq(mlp_forward(m, c1, x, B, y1), MLP_OK);
          ck_assert_int_eq(mlp_forward(m, c2, x, B, y2), MLP_OK);
          ck_assert_msg(max_diff(dt, y1, y2, B * 10) <= tol,
                        "%s layout %d keep %u batch %zu: outputs differ by "
                        "%g",
                        mlp_dtype_name(dt), lay, keep, B,
                        max_diff(dt, y1, y2, B * 10));
          ck_assert_int_eq(mlp_ctx_layer(c1, 3, &z1, NULL, &r1), MLP_OK);
          ck_assert_int_eq(mlp_ctx_layer(c2, 3, &z2, NULL, &r2), MLP_OK);
          ck_assert_uint_eq(r1, r2);
          ck_assert(max_diff(dt, z1, z2, r1 * 10) <= tol);
          if (keep) {
            ck_assert_int_eq(mlp_ctx_layer(c1, 2, NULL, &z1, &r1), MLP_OK);
            ck_assert_int_eq(mlp_ctx_layer(c2, 2, NULL, &z2, &r2), MLP_OK);
            ck_assert(max_diff(dt, z1, z2, r1 * 200) <= tol);
          }
          /* Back to one thread: the pool is released. */
          ck_assert_int_eq(mlp_ctx_set_threads(c2, 1), MLP_OK);
          ck_assert_int_eq(mlp_forward(m, c2, x, B, y2), MLP_OK);
          ck_assert(max_diff(dt, y1, y2, B * 10) <= tol);
          mlp_ctx_free(c1);
          mlp_ctx_free(c2);
          mlp_model_free(m);
          free(x);
          free(y1);
          free(y2);
        }
}
END_TEST

/* Weights past the caches (16 MiB here) and a few dozen rows: the pass
 * splits the columns of every layer, whatever the row count. */
START_TEST(context_threads_big_weights) {
  const size_t widths[] = {2048, 2048, 8};
  const mlp_act acts[] = {MLP_ACT_GELU, MLP_ACT_SOFTMAX};
  const size_t B = getenv("MLP_TEST_QUICK") ? 20 : 40; /* > 16 rows */
  float *x = malloc(B * 2048 * sizeof *x), y1[40 * 8], y2[40 * 8];
  mlp_model *m;
  mlp_ctx *c1, *c2;

  ck_assert_int_eq(
      mlp_model_create(&m, MLP_F32, 2, widths, acts, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  ck_assert_int_eq(mlp_model_init(m, MLP_INIT_HE_NORMAL, 3, 1), MLP_OK);
  for (size_t i = 0; i < B * 2048; i++)
    x[i] = (float)cos((double)i);
  ck_assert_int_eq(mlp_ctx_create(&c1, m, B, 0, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_ctx_create(&c2, m, B, MLP_CTX_KEEP, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_ctx_set_threads(c2, 2), MLP_OK);
  ck_assert_int_eq(mlp_forward(m, c1, x, B, y1), MLP_OK);
  ck_assert_int_eq(mlp_forward(m, c2, x, B, y2), MLP_OK);
  ck_assert_msg(max_diff(MLP_F32, y1, y2, B * 8) <= 1e-5,
                "big weights, 2 threads: outputs differ by %g",
                max_diff(MLP_F32, y1, y2, B * 8));
  mlp_ctx_free(c1);
  mlp_ctx_free(c2);
  mlp_model_free(m);
  free(x);
}
END_TEST

START_TEST(context_threads_errors) {
  const size_t widths[] = {4, 4};
  const mlp_act act = MLP_ACT_RELU;
  mlp_model *m;
  mlp_ctx *c;

  ck_assert_int_eq(
      mlp_model_create(&m, MLP_F32, 1, widths, &act, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 4, 0, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_ctx_set_threads(NULL, 2), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_ctx_set_threads(c, 0), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_ctx_set_threads(c, 65), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_ctx_threads(c), 1);
  ck_assert_int_eq(mlp_ctx_threads(NULL), 0);
  /* Freeing a context with running workers stops them (no leak under
   * valgrind, no hang). */
  ck_assert_int_eq(mlp_ctx_set_threads(c, 3), MLP_OK);
  mlp_ctx_free(c);
  mlp_model_free(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("threads");
  TCase *tc = tcase_create("threads");
  SRunner *sr;
  int failed;

  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, threads_share_one_model);
  tcase_add_test(tc, context_threads_match_one_thread);
  tcase_add_test(tc, context_threads_big_weights);
  tcase_add_test(tc, context_threads_errors);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
