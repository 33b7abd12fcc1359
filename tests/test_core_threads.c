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

int main(void) {
  Suite *s = suite_create("threads");
  TCase *tc = tcase_create("threads");
  SRunner *sr;
  int failed;

  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, threads_share_one_model);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
