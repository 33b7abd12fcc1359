/*
 * Every error path of the core API returns its own status and a message
 * that names what and where; nothing crashes. Also: names, versions, BLAS
 * information, the log callback.
 */
#include "core_util.h"

static const size_t W3[] = {4, 5, 3};
static const mlp_act A2[] = {MLP_ACT_RELU, MLP_ACT_SOFTMAX};

static void assert_msg(const char *needle) {
  ck_assert_msg(strstr(mlp_last_error(), needle) != NULL,
                "message \"%s\" does not mention \"%s\"", mlp_last_error(),
                needle);
}

START_TEST(model_create_errors) {
  mlp_model *m = (mlp_model *)1;
  const size_t zero[] = {4, 0, 3};
  const size_t huge[] = {SIZE_MAX / 2, 4, 3};
  const size_t big[] = {(size_t)1 << 31, 2, 3};
  const size_t wide[] = {(size_t)1 << 30, (size_t)1 << 30, 2};
  const size_t large[] = {(size_t)1 << 30, (size_t)1 << 28, 2};
  const mlp_act bad[] = {MLP_ACT_RELU, (mlp_act)42};

  ck_assert_int_eq(mlp_model_create(NULL, MLP_F32, 2, W3, A2, 0),
                   MLP_ERR_NULL);
  ck_assert_int_eq(mlp_model_create(&m, MLP_F32, 2, NULL, A2, 0),
                   MLP_ERR_NULL);
  ck_assert_ptr_null(m);
  assert_msg("widths");
  ck_assert_int_eq(mlp_model_create(&m, MLP_F32, 2, W3, NULL, 0),
                   MLP_ERR_NULL);
  ck_assert_int_eq(mlp_model_create(&m, (mlp_dtype)3, 2, W3, A2, 0),
                   MLP_ERR_DTYPE);
  ck_assert_int_eq(mlp_model_create(&m, MLP_F32, 0, W3, A2, 0), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_model_create(&m, MLP_F32, 2, zero, A2, 0),
                   MLP_ERR_ARG);
  assert_msg("layer 1");
  ck_assert_int_eq(mlp_model_create(&m, MLP_F32, 2, W3, bad, 0),
                   MLP_ERR_ACTIVATION);
  assert_msg("layer 2");
  ck_assert_int_eq(mlp_model_create(&m, MLP_F32, 2, W3, A2, (mlp_layout)5),
                   MLP_ERR_ARG);
  ck_assert_int_eq(mlp_model_create(&m, MLP_F32, 2, huge, A2, 0),
                   MLP_ERR_OVERFLOW);
  ck_assert_int_eq(mlp_model_create(&m, MLP_F32, 2, big, A2, 0),
                   MLP_ERR_OVERFLOW);
  assert_msg("BLAS");
  /* 2^60 doubles: the count fits size_t, the bytes exceed PTRDIFF_MAX. */
  ck_assert_int_eq(mlp_model_create(&m, MLP_F64, 2, wide, A2, 0),
                   MLP_ERR_OVERFLOW);
  assert_msg("PTRDIFF_MAX");
  /* 2^61 bytes: a valid size that no allocator here can provide. */
  ck_assert_int_eq(mlp_model_create(&m, MLP_F64, 2, large, A2, 0),
                   MLP_ERR_NOMEM);
  ck_assert_ptr_null(m);
}
END_TEST

START_TEST(layer_and_param_errors) {
  mlp_model *m;
  float w[20] = {0}, b[5] = {0};

  ck_assert_int_eq(mlp_model_create(&m, MLP_F32, 2, W3, A2, 0), MLP_OK);
  ck_assert_int_eq(mlp_model_set_layer(m, 0, w, 0, b), MLP_ERR_ARG);
  assert_msg("layer 0");
  ck_assert_int_eq(mlp_model_set_layer(m, 3, w, 0, b), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_model_set_layer(m, 1, NULL, 0, b), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_model_set_layer(NULL, 1, w, 0, b), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_model_set_layer(m, 1, w, (mlp_layout)2, b),
                   MLP_ERR_ARG);
  w[7] = NAN;
  ck_assert_int_eq(mlp_model_set_layer(m, 1, w, MLP_LAYOUT_IN_OUT, b),
                   MLP_ERR_NONFINITE);
  assert_msg("weight [1][2]");
  w[7] = 0;
  b[4] = INFINITY;
  ck_assert_int_eq(mlp_model_set_layer(m, 1, w, MLP_LAYOUT_IN_OUT, b),
                   MLP_ERR_NONFINITE);
  assert_msg("bias [4]");
  ck_assert_int_eq(mlp_model_get_layer(m, 9, w, 0, b), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_model_set_slope(m, 1, 0.2), MLP_ERR_ARG);
  assert_msg("not leaky_relu");
  ck_assert_uint_eq(mlp_model_param_count(m), 4 * 5 + 5 + 5 * 3 + 3);
  ck_assert_uint_eq(mlp_model_width(m, 2), 3);
  ck_assert_uint_eq(mlp_model_width(m, 3), 0);
  ck_assert_int_eq(mlp_model_act(m, 2), MLP_ACT_SOFTMAX);
  ck_assert_uint_eq(mlp_model_layers(NULL), 0);
  mlp_model_free(m);
  mlp_model_free(NULL);
}
END_TEST

START_TEST(context_and_forward_errors) {
  mlp_model *m, *other;
  mlp_ctx *c = (mlp_ctx *)1;
  float x[8] = {0}, y[6];

  ck_assert_int_eq(mlp_model_create(&m, MLP_F32, 2, W3, A2, 0), MLP_OK);
  ck_assert_int_eq(mlp_model_create(&other, MLP_F32, 2, W3, A2, 0), MLP_OK);
  ck_assert_int_eq(mlp_ctx_create(NULL, m, 2, 0, NULL, 0), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_ctx_create(&c, NULL, 2, 0, NULL, 0), MLP_ERR_NULL);
  ck_assert_ptr_null(c);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 0, 0, NULL, 0), MLP_ERR_BATCH);
  ck_assert_int_eq(mlp_ctx_create(&c, m, (size_t)1 << 40, 0, NULL, 0),
                   MLP_ERR_BATCH);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 2, 0x80, NULL, 0), MLP_ERR_ARG);
  ck_assert_uint_eq(mlp_ctx_workspace_size(m, 0, 0), 0);
  ck_assert_uint_eq(mlp_ctx_workspace_size(NULL, 2, 0), 0);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 2, 0, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_forward(other, c, x, 2, y), MLP_ERR_CONTEXT);
  assert_msg("another model");
  ck_assert_int_eq(mlp_forward(m, c, NULL, 2, y), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_forward(m, c, x, 2, NULL), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_forward(m, NULL, x, 2, y), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_forward(NULL, c, x, 2, y), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_forward(m, c, x, 0, y), MLP_ERR_BATCH);
  ck_assert_int_eq(mlp_forward(m, c, x, SIZE_MAX / 4, y), MLP_ERR_OVERFLOW);
  ck_assert_int_eq(mlp_ctx_layer(c, 0, NULL, NULL, NULL), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_ctx_layer(c, 2, NULL, NULL, NULL), MLP_ERR_STATE);
  ck_assert_int_eq(mlp_ctx_set_kernels(c, (mlp_kernels)77),
                   MLP_ERR_UNSUPPORTED);
  ck_assert_int_eq(mlp_forward(m, c, x, 2, y), MLP_OK);
  mlp_ctx_free(c);
  mlp_ctx_free(NULL);
  /* A context of a freed model does not match a new model that happens
   * to reuse its address. */
  ck_assert_int_eq(mlp_ctx_create(&c, other, 2, 0, NULL, 0), MLP_OK);
  mlp_model_free(other);
  ck_assert_int_eq(mlp_model_create(&other, MLP_F32, 2, W3, A2, 0), MLP_OK);
  if (mlp_ctx_model(c) == other)
    ck_assert_int_eq(mlp_forward(other, c, x, 2, y), MLP_ERR_CONTEXT);
  mlp_ctx_free(c);
  mlp_model_free(other);
  mlp_model_free(m);
}
END_TEST

static int logged_status;
static char logged[256];
static void logger(int status, const char *msg, void *user) {
  logged_status = status;
  snprintf(logged, sizeof logged, "%s%s", (const char *)user, msg);
}

START_TEST(names_versions_blas_log) {
  mlp_act a;
  mlp_loss l;
  mlp_blas_info info;

  ck_assert_str_eq(mlp_version(), MLP_VERSION_STRING);
  ck_assert_int_eq(mlp_version_number(), MLP_VERSION_NUMBER);
  for (int i = 0; i < MLP_ACT_COUNT; i++) {
    ck_assert_int_eq(mlp_act_parse(mlp_act_name((mlp_act)i), &a), MLP_OK);
    ck_assert_int_eq(a, i);
  }
  ck_assert_ptr_null(mlp_act_name((mlp_act)MLP_ACT_COUNT));
  ck_assert_int_eq(mlp_act_parse("ReLU", &a), MLP_ERR_ACTIVATION);
  assert_msg("ReLU");
  ck_assert_int_eq(mlp_loss_parse("bce", &l), MLP_OK);
  ck_assert_int_eq(l, MLP_LOSS_BCE);
  ck_assert_int_eq(mlp_loss_parse("hinge", &l), MLP_ERR_LOSS);
  ck_assert_str_eq(mlp_status_name(MLP_ERR_SHAPE), "MLP_ERR_SHAPE");
  ck_assert_str_eq(mlp_status_name(12345), "MLP_ERR_UNKNOWN");
  for (int s = 0; s >= MLP_ERR_INTERRUPTED; s--)
    ck_assert_str_ne(mlp_status_name(s), "MLP_ERR_UNKNOWN");
  ck_assert_uint_eq(mlp_dtype_size(MLP_F64), 8);
  ck_assert_str_eq(mlp_dtype_name(MLP_F32), "f32");

  ck_assert_int_eq(mlp_blas_info_get(&info), MLP_OK);
  ck_assert_ptr_nonnull(info.vendor);
  ck_assert_ptr_nonnull(info.core);
  ck_assert_ptr_nonnull(info.suggested_core);
  if (strcmp(info.vendor, "OpenBLAS") == 0) {
    ck_assert_int_eq(mlp_blas_set_threads(1), MLP_OK);
    ck_assert_int_eq(mlp_blas_info_get(&info), MLP_OK);
    ck_assert_int_eq(info.threads, 1);
    ck_assert(info.core[0] != '\0');
    /* A slow core always comes with a suggestion. */
    ck_assert(!info.slow_core || info.suggested_core[0] != '\0');
  }
  ck_assert_int_eq(mlp_blas_set_threads(0), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_blas_info_get(NULL), MLP_ERR_NULL);

  mlp_set_log_callback(logger, "log: ");
  ck_assert_int_eq(mlp_act_parse("nope", &a), MLP_ERR_ACTIVATION);
  ck_assert_int_eq(logged_status, MLP_ERR_ACTIVATION);
  ck_assert_ptr_nonnull(strstr(logged, "log: unknown activation"));
  mlp_set_log_callback(NULL, NULL);
}
END_TEST

/* An allocator that fails the n-th allocation from now, counting all. */
static long fail_at = -1, calls;
static void *failing_alloc(size_t size, size_t align, void *user) {
  void *p = NULL;
  (void)user;
  if (calls++ == fail_at)
    return NULL;
  return posix_memalign(&p, align, size) ? NULL : p;
}
static void plain_free(void *p, void *user) {
  (void)user;
  free(p);
}

/* Runs create model + init + ctx + forward, failing allocation number n;
 * returns the status of the first failing call (MLP_OK if none failed). */
static int scenario(long n, long *used) {
  const size_t widths[] = {16, 64, 32, 4};
  const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_TANH, MLP_ACT_SOFTMAX};
  mlp_model *m = NULL, *copy = NULL;
  mlp_ctx *c = NULL;
  float x[3 * 16] = {0}, y[3 * 4];
  int rc;

  fail_at = n;
  calls = 0;
  rc = mlp_model_create(&m, MLP_F32, 3, widths, acts, MLP_LAYOUT_IN_OUT);
  if (rc == MLP_OK)
    rc = mlp_model_init(m, MLP_INIT_ORTHOGONAL, 1, 1);
  if (rc == MLP_OK)
    rc = mlp_model_clone(m, &copy);
  if (rc == MLP_OK)
    rc = mlp_ctx_create(&c, m, 3, MLP_CTX_KEEP, NULL, 0);
  if (rc == MLP_OK)
    rc = mlp_forward(m, c, x, 3, y);
  mlp_ctx_free(c);
  mlp_model_free(copy);
  mlp_model_free(m);
  *used = calls;
  return rc;
}

START_TEST(allocation_failures_are_reported) {
  const mlp_allocator failing = {failing_alloc, plain_free, NULL};
  long total;

  mlp_set_allocator(&failing);
  ck_assert_int_eq(scenario(-1, &total), MLP_OK);
  ck_assert_int_gt(total, 5);
  for (long n = 0; n < total; n++) {
    long used;
    int rc = scenario(n, &used);
    ck_assert_msg(rc == MLP_ERR_NOMEM,
                  "allocation %ld of %ld failed but the call returned %s",
                  n, total, mlp_status_name(rc));
    ck_assert_msg(strstr(mlp_last_error(), "out of memory") != NULL,
                  "message: %s", mlp_last_error());
  }
  mlp_set_allocator(NULL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("errors");
  TCase *tc = tcase_create("errors");
  SRunner *sr;
  int failed;

  tcase_add_test(tc, model_create_errors);
  tcase_add_test(tc, layer_and_param_errors);
  tcase_add_test(tc, context_and_forward_errors);
  tcase_add_test(tc, names_versions_blas_log);
  tcase_add_test(tc, allocation_failures_are_reported);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
