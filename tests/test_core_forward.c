/*
 * The forward pass against the float64 reference of core_util.h: every
 * activation, widths that stress vector tails and GEMM edges, batches 1, 7
 * and 1000, f32 and f64, both storage layouts, every kernel set this
 * machine runs; chunked batches; kept layers.
 */
#include "core_util.h"

static const size_t widths_to_test[] = {1, 3, 15, 16, 17, 31, 33, 127, 129};
static const size_t batches[] = {1, 7, 1000};
static const mlp_kernels sets[] = {MLP_KERNELS_REFERENCE, MLP_KERNELS_AVX2,
                                   MLP_KERNELS_AVX512};

/* Random parameters in [-1/sqrt(in), 1/sqrt(in)] and biases in [-.5, .5];
 * leaky layers get slope 0.1 so that the slope is visible. */
static void fill_random(mlp_model *m, uint64_t seed) {
  const mlp_dtype dt = mlp_model_dtype(m);
  size_t count;
  void *p = mlp_model_params_mut(m, &count);
  uint64_t s = seed | 1;

  for (size_t i = 0; i < count; i++)
    tu_set(dt, p, i, tu_range(&s, -0.9, 0.9));
  for (size_t k = 1; k <= mlp_model_layers(m); k++)
    if (mlp_model_act(m, k) == MLP_ACT_LEAKY_RELU)
      ck_assert_int_eq(mlp_model_set_slope(m, k, 0.1), MLP_OK);
}

static void *random_input(mlp_dtype dt, size_t n, uint64_t seed, double amp) {
  void *x = malloc(n * (dt == MLP_F32 ? 4 : 8));
  uint64_t s = seed | 1;
  for (size_t i = 0; i < n; i++)
    tu_set(dt, x, i, tu_range(&s, -amp, amp));
  return x;
}

/*
 * Runs model m on a random batch through every supported kernel set and
 * compares with the reference; amp is the input amplitude (large values
 * push activations into their tails).
 */
static void check_model(mlp_model *m, size_t batch, double amp,
                        size_t max_batch, const char *what) {
  const mlp_dtype dt = mlp_model_dtype(m);
  const size_t n = mlp_model_layers(m), in = mlp_model_width(m, 0);
  const size_t out = mlp_model_width(m, n);
  size_t terms = 0;
  double scale, *ref = malloc(batch * out * sizeof *ref);
  void *x = random_input(dt, batch * in, batch * 31 + in, amp);
  void *y = malloc(batch * out * 8);
  mlp_ctx *c;

  for (size_t k = 0; k < n; k++)
    if (mlp_model_width(m, k) > terms)
      terms = mlp_model_width(m, k);
  tu_reference(m, x, batch, ref, &scale);
  ck_assert_int_eq(mlp_ctx_create(&c, m, max_batch, 0, NULL, 0), MLP_OK);
  for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
    double tol;
    if (!mlp_kernels_supported(sets[s]))
      continue;
    ck_assert_int_eq(mlp_ctx_set_kernels(c, sets[s]), MLP_OK);
    memset(y, 0xff, batch * out * 8); /* NaN: every element is written */
    ck_assert_int_eq(mlp_forward(m, c, x, batch, y), MLP_OK);
    for (size_t i = 0; i < batch * out; i++) {
      double g = tu_get(dt, y, i);
      /* GEMM error (propagated through |f'| <= 1.2) plus the kernels'
       * own: a few ulps of the output. */
      tol = 1.2 * tu_tol(dt, terms, n, scale) +
            64 * (dt == MLP_F32 ? FLT_EPSILON : DBL_EPSILON) *
                fmax(1, fabs(ref[i]));
      ck_assert_msg(fabs(g - ref[i]) <= tol,
                    "%s, %s, %s, batch %zu, element [%zu][%zu]: got %.17g, "
                    "want %.17g (tol %.3g)",
                    what, mlp_dtype_name(dt), mlp_kernels_name(sets[s]), batch,
                    i / out, i % out, g, ref[i], tol);
    }
  }
  mlp_ctx_free(c);
  free(ref);
  free(x);
  free(y);
}

/*
 * One layer of every activation at every width, batch and dtype.
 * MLP_TEST_QUICK (set by the valgrind run, which looks for memory errors
 * and leaks, not numerics, at 50x the time) keeps every activation and
 * dtype but only every third width and batches of at most 100 rows.
 */
START_TEST(every_activation_width_batch) {
  const mlp_act act = (mlp_act)_i;
  const int quick = getenv("MLP_TEST_QUICK") != NULL;
  const size_t max_batch_rows = quick ? 61 : 1000;

  for (int d = 0; d < 2; d++) {
    const mlp_dtype dt = d ? MLP_F64 : MLP_F32;
    for (size_t wi = 0; wi < sizeof widths_to_test / sizeof(size_t);
         wi += quick ? 3 : 1) {
      const size_t w = widths_to_test[wi], widths[] = {w, w};
      for (size_t bi = 0; bi < 3; bi++) {
        const size_t batch =
            batches[bi] < max_batch_rows ? batches[bi] : max_batch_rows;
        char what[64];
        mlp_model *m;
        ck_assert_int_eq(
            mlp_model_create(&m, dt, 1, widths, &act, MLP_LAYOUT_IN_OUT),
            MLP_OK);
        fill_random(m, w * 7 + batch);
        snprintf(what, sizeof what, "%s width %zu", mlp_act_name(act), w);
        check_model(m, batch, 3.0, batch, what);
        mlp_model_free(m);
      }
    }
  }
}
END_TEST

/* Deeper nets mixing activations, in both storage layouts, with chunking
 * (max_batch smaller than the batch, not dividing it). */
START_TEST(mixed_deep_nets_both_layouts_chunked) {
  const size_t rows = getenv("MLP_TEST_QUICK") ? 61 : 300;
  const size_t widths[] = {33, 129, 17, 64, 10};
  const mlp_act acts[] = {MLP_ACT_GELU, MLP_ACT_TANH, MLP_ACT_LEAKY_RELU,
                          MLP_ACT_SOFTMAX};
  for (int d = 0; d < 2; d++) {
    for (int l = 0; l < 2; l++) {
      mlp_model *m;
      ck_assert_int_eq(
          mlp_model_create(&m, d ? MLP_F64 : MLP_F32, 4, widths, acts,
                           l ? MLP_LAYOUT_OUT_IN : MLP_LAYOUT_IN_OUT),
          MLP_OK);
      fill_random(m, 99 + (uint64_t)l);
      check_model(m, 1, 1.0, 1, "mixed batch 1");
      check_model(m, rows, 1.0, rows, "mixed whole");
      check_model(m, rows, 1.0, 16, "mixed chunked by 16");
      check_model(m, rows, 1.0, 1, "mixed chunked by 1");
      mlp_model_free(m);
    }
  }
}
END_TEST

/* Results do not depend on the chunking: bit-identical rows, whatever
 * max_batch is (rows > 1 go through the same GEMM kernel... up to the
 * BLAS: so compare within the reference tolerance and also check that a
 * kept context and a plain one agree exactly). */
START_TEST(keep_and_plain_agree) {
  const size_t widths[] = {20, 30, 5};
  const mlp_act acts[] = {MLP_ACT_SILU, MLP_ACT_SOFTMAX};
  mlp_model *m;
  mlp_ctx *plain, *kept;
  float x[40 * 20], y1[40 * 5], y2[40 * 5];
  uint64_t s = 5;
  const void *z, *yk;
  size_t rows;

  ck_assert_int_eq(
      mlp_model_create(&m, MLP_F32, 2, widths, acts, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  fill_random(m, 3);
  for (size_t i = 0; i < 40 * 20; i++)
    x[i] = (float)tu_range(&s, -2, 2);
  ck_assert_int_eq(mlp_ctx_create(&plain, m, 40, 0, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_ctx_create(&kept, m, 40, MLP_CTX_KEEP, NULL, 0), MLP_OK);
  ck_assert_int_eq(mlp_ctx_layer(plain, 2, &z, &yk, &rows), MLP_ERR_STATE);
  ck_assert_int_eq(mlp_forward(m, plain, x, 40, y1), MLP_OK);
  ck_assert_int_eq(mlp_forward(m, kept, x, 40, y2), MLP_OK);
  ck_assert_mem_eq(y1, y2, sizeof y1);
  /* Without KEEP only the last layer is readable; its Y is the output. */
  ck_assert_int_eq(mlp_ctx_layer(plain, 1, &z, &yk, &rows), MLP_ERR_STATE);
  ck_assert_int_eq(mlp_ctx_layer(plain, 2, &z, &yk, &rows), MLP_OK);
  ck_assert_ptr_eq(yk, y1);
  ck_assert_uint_eq(rows, 40);
  /* With KEEP, layer 1's Y is f(Z). */
  ck_assert_int_eq(mlp_ctx_layer(kept, 1, &z, &yk, &rows), MLP_OK);
  for (size_t i = 0; i < 40 * 30; i++) {
    double zz = ((const float *)z)[i];
    TU_ASSERT_CLOSE(((const float *)yk)[i], tu_act(MLP_ACT_SILU, zz, 0),
                    1e-6 * fmax(1, fabs(zz)), "silu(Z1)", i);
  }
  mlp_ctx_free(plain);
  mlp_ctx_free(kept);
  mlp_model_free(m);
}
END_TEST

/*
 * Nets whose widths are all <= 16 run a chunk of few rows through a path
 * of their own (row by row through every layer, without the BLAS); a KEEP
 * context always takes the layer-by-layer path. Both give the same Y_N
 * and Z_N, to the bit for the activations that path computes itself and
 * within a few ulps for the others (the kernel sets differ), for every
 * activation in the middle and at the end, both dtypes and layouts, and
 * for batches on both sides of the path's row limit.
 */
START_TEST(tiny_net_matches_layer_path) {
  const mlp_act act = (mlp_act)_i;
  const size_t widths[] = {3, 16, 5, 2};
  const size_t batches_here[] = {1, 2, 4, 5, 40, 300};

  for (int d = 0; d < 2; d++) {
    const mlp_dtype dt = d ? MLP_F64 : MLP_F32;
    const size_t e = d ? 8 : 4;
    for (int l = 0; l < 2; l++) {
      const mlp_act acts[] = {act, MLP_ACT_TANH, act};
      mlp_model *m;
      ck_assert_int_eq(
          mlp_model_create(&m, dt, 3, widths, acts,
                           l ? MLP_LAYOUT_OUT_IN : MLP_LAYOUT_IN_OUT),
          MLP_OK);
      fill_random(m, 17 + (uint64_t)l);
      for (size_t bi = 0; bi < 6; bi++) {
        const size_t batch = batches_here[bi];
        void *x = random_input(dt, batch * 3, 7 + batch, 3.0);
        void *y1 = malloc(batch * 2 * e), *y2 = malloc(batch * 2 * e);
        const void *z1, *z2, *yk;
        size_t rows;
        mlp_ctx *plain, *kept;
        ck_assert_int_eq(mlp_ctx_create(&plain, m, batch, 0, NULL, 0), MLP_OK);
        ck_assert_int_eq(mlp_ctx_create(&kept, m, batch, MLP_CTX_KEEP, NULL, 0),
                         MLP_OK);
        ck_assert_int_eq(mlp_ctx_set_kernels(kept, MLP_KERNELS_REFERENCE),
                         MLP_OK);
        ck_assert_int_eq(mlp_forward(m, plain, x, batch, y1), MLP_OK);
        ck_assert_int_eq(mlp_forward(m, kept, x, batch, y2), MLP_OK);
        ck_assert_int_eq(mlp_ctx_layer(plain, 3, &z1, &yk, &rows), MLP_OK);
        ck_assert_ptr_eq(yk, y1);
        ck_assert_uint_eq(rows, batch);
        ck_assert_int_eq(mlp_ctx_layer(kept, 3, &z2, &yk, &rows), MLP_OK);
        for (size_t i = 0; i < batch * 2; i++) {
          double a = tu_get(dt, y1, i), b = tu_get(dt, y2, i);
          double za = tu_get(dt, z1, i), zb = tu_get(dt, z2, i);
          double tol = 64 * (d ? DBL_EPSILON : FLT_EPSILON);
          ck_assert_msg(fabs(a - b) <= tol * fmax(1, fabs(b)) &&
                            fabs(za - zb) <= tol * fmax(1, fabs(zb)),
                        "%s %s layout %d batch %zu [%zu]: y %.17g vs %.17g, "
                        "z %.17g vs %.17g",
                        mlp_act_name(act), mlp_dtype_name(dt), l, batch, i, a,
                        b, za, zb);
        }
        mlp_ctx_free(plain);
        mlp_ctx_free(kept);
        free(x);
        free(y1);
        free(y2);
      }
      mlp_model_free(m);
    }
  }
}
END_TEST

/* A caller-provided workspace of exactly the queried size works, and the
 * plain context needs two activations of the widest layer per row. */
START_TEST(caller_workspace) {
  const size_t widths[] = {8, 100, 50, 3};
  const mlp_act acts[] = {MLP_ACT_RELU, MLP_ACT_RELU, MLP_ACT_IDENTITY};
  mlp_model *m;
  mlp_ctx *c;
  size_t bytes;
  void *ws;
  double x[16 * 8] = {0}, y[16 * 3], ref[16 * 3];

  ck_assert_int_eq(
      mlp_model_create(&m, MLP_F64, 3, widths, acts, MLP_LAYOUT_IN_OUT),
      MLP_OK);
  fill_random(m, 11);
  bytes = mlp_ctx_workspace_size(m, 16, 0);
  ck_assert_uint_eq(bytes, 2 * 16 * 100 * sizeof(double));
  ck_assert_int_eq(posix_memalign(&ws, 64, bytes), 0);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 16, 0, ws, bytes - 1), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 16, 0, (char *)ws + 8, bytes),
                   MLP_ERR_ARG);
  ck_assert_int_eq(mlp_ctx_create(&c, m, 16, 0, ws, bytes), MLP_OK);
  for (size_t i = 0; i < 16 * 8; i++)
    x[i] = (double)i / 50.0 - 1;
  ck_assert_int_eq(mlp_forward(m, c, x, 16, y), MLP_OK);
  tu_reference(m, x, 16, ref, NULL);
  for (size_t i = 0; i < 16 * 3; i++)
    TU_ASSERT_CLOSE(y[i], ref[i], 1e-12, "caller workspace", i);
  mlp_ctx_free(c);
  free(ws);
  mlp_model_free(m);
}
END_TEST

/* Weights set as [out, in] (PyTorch's layout) give the same model as the
 * same weights set as [in, out], in either storage. */
START_TEST(layouts_round_trip) {
  const size_t widths[] = {3, 4};
  const mlp_act act = MLP_ACT_IDENTITY;
  const float w_in_out[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  float w_out_in[12], back[12];
  for (size_t i = 0; i < 3; i++)
    for (size_t j = 0; j < 4; j++)
      w_out_in[j * 3 + i] = w_in_out[i * 4 + j];
  for (int st = 0; st < 2; st++) {
    mlp_model *m;
    ck_assert_int_eq(
        mlp_model_create(&m, MLP_F32, 1, widths, &act,
                         st ? MLP_LAYOUT_OUT_IN : MLP_LAYOUT_IN_OUT),
        MLP_OK);
    ck_assert_int_eq(
        mlp_model_set_layer(m, 1, w_out_in, MLP_LAYOUT_OUT_IN, NULL), MLP_OK);
    ck_assert_int_eq(mlp_model_get_layer(m, 1, back, MLP_LAYOUT_IN_OUT, NULL),
                     MLP_OK);
    ck_assert_mem_eq(back, w_in_out, sizeof back);
    ck_assert_int_eq(mlp_model_get_layer(m, 1, back, MLP_LAYOUT_OUT_IN, NULL),
                     MLP_OK);
    ck_assert_mem_eq(back, w_out_in, sizeof back);
    mlp_model_free(m);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("forward");
  TCase *tc = tcase_create("reference");
  SRunner *sr;
  int failed;

  tcase_set_timeout(tc, 600);
  tcase_add_loop_test(tc, every_activation_width_batch, 0, MLP_ACT_COUNT);
  tcase_add_test(tc, mixed_deep_nets_both_layouts_chunked);
  tcase_add_test(tc, keep_and_plain_agree);
  tcase_add_loop_test(tc, tiny_net_matches_layer_path, 0, MLP_ACT_COUNT);
  tcase_add_test(tc, caller_workspace);
  tcase_add_test(tc, layouts_round_trip);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
