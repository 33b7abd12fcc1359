/*
 * test_idx.c - IDX files (tests/data/datasets/idx, packed by
 * make_fixtures.py), plain and gzip, every IDX type; and Fashion-MNIST's
 * real test set when Debian's dataset-fashion-mnist package is installed.
 */
#include <math.h>

#include "io_util.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

typedef struct idx_case {
  const char *type;
  char kind;
  const char *source;
} idx_case;

static const idx_case cases[] = {
    {"u1", 'u', "u8"},  {"i1", 'i', "i8"},  {"i2", 'i', "i16"},
    {"i4", 'i', "i32"}, {"f4", 'f', "f32"}, {"f8", 'f', "f64"},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Every type, plain and gzip, as f32 and f64, whole and in batches. */
START_TEST(test_idx_types) {
  const idx_case *c = &cases[_i / 2];
  int gz = _i % 2;
  char name[64];
  snprintf(name, sizeof name, "idx/%s.idx%s", c->type, gz ? ".gz" : "");

  for (int d = 0; d < 2; d++) {
    mlp_dataset_options o;
    mlp_dataset_options_init(&o);
    o.dtype = d == 0 ? MLP_F32 : MLP_F64;
    mlp_dataset *ds = io_open(io_fixture(name), &o);
    size_t dims[3];
    ck_assert_int_eq(mlp_dataset_format(ds), MLP_FORMAT_IDX);
    ck_assert_str_eq(mlp_dataset_source_type(ds), c->source);
    ck_assert_uint_eq(mlp_dataset_shape(ds, dims, 3), 3);
    ck_assert_uint_eq(dims[0] * 10 + dims[1] * 100 + dims[2] * 1000, 2350);
    ck_assert_uint_eq(mlp_dataset_rows(ds), IO_ROWS);
    ck_assert_uint_eq(mlp_dataset_cols(ds), IO_COLS);
    void *x = io_read_all(ds, o.dtype, d == 0 ? 100 : 3, NULL);
    for (size_t i = 0; i < IO_ROWS * IO_COLS; i++) {
      double got = d == 0 ? ((float *)x)[i] : ((double *)x)[i];
      ck_assert_msg(got == io_value(i, c->kind), "%s[%zu]: got %g, want %g",
                    name, i, got, io_value(i, c->kind));
    }
    free(x);
    mlp_dataset_close(ds);
  }
}
END_TEST

/* Seeks on a gzip stream go forward and back. */
START_TEST(test_idx_gzip_seek) {
  mlp_dataset *ds = io_open(io_fixture("idx/i2.idx.gz"), NULL);
  float x[IO_COLS];
  size_t n;
  const size_t order[] = {3, 1, 4, 0, 2};
  for (size_t k = 0; k < 5; k++) {
    ck_assert_int_eq(mlp_dataset_seek(ds, order[k]), MLP_OK);
    ck_assert_uint_eq(mlp_dataset_tell(ds), order[k]);
    ck_assert_int_eq(mlp_dataset_read(ds, x, 1, NULL, &n), MLP_OK);
    ck_assert_uint_eq(n, 1);
    for (size_t j = 0; j < IO_COLS; j++)
      ck_assert_double_eq(x[j], io_value(order[k] * IO_COLS + j, 'i'));
  }
  ck_assert_int_eq(mlp_dataset_seek(ds, IO_ROWS), MLP_OK);
  ck_assert_int_eq(mlp_dataset_read(ds, x, 1, NULL, &n), MLP_OK);
  ck_assert_uint_eq(n, 0);
  mlp_dataset_close(ds);
}
END_TEST

/* Fashion-MNIST's test set: 10000 images of 28 x 28 u8 pixels and 10000
 * labels, 1000 of each of the 10 classes. */
START_TEST(test_idx_fashion_mnist) {
  const char *img = FASHION_DIR "/t10k-images-idx3-ubyte.gz";
  const char *lab = FASHION_DIR "/t10k-labels-idx1-ubyte.gz";
  if (access(img, R_OK) != 0 || access(lab, R_OK) != 0) {
    printf("test_idx_fashion_mnist: skipped: %s not installed (Debian "
           "package dataset-fashion-mnist)\n",
           FASHION_DIR);
    return;
  }

  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  o.scale = 1.0 / 255;
  mlp_dataset *images = io_open(img, &o);
  size_t dims[3];
  ck_assert_uint_eq(mlp_dataset_shape(images, dims, 3), 3);
  ck_assert_uint_eq(dims[0], 10000);
  ck_assert_uint_eq(dims[1], 28);
  ck_assert_uint_eq(dims[2], 28);
  ck_assert_uint_eq(mlp_dataset_cols(images), 784);
  float *x = io_read_all(images, MLP_F32, 1000, NULL);
  float lo = 1, hi = 0;
  double sum = 0;
  for (size_t i = 0; i < 10000 * 784; i++) {
    lo = fminf(lo, x[i]);
    hi = fmaxf(hi, x[i]);
    sum += x[i];
  }
  ck_assert_float_eq(lo, 0.0f);
  ck_assert_float_eq(hi, 1.0f);
  /* The mean pixel of the test set is about 0.2865. */
  ck_assert_msg(fabs(sum / (10000.0 * 784) - 0.2865) < 0.002, "mean %g",
                sum / (10000.0 * 784));
  free(x);
  mlp_dataset_close(images);

  mlp_dataset *labels = io_open(lab, NULL);
  int32_t *y = malloc(10000 * sizeof *y);
  size_t n, total = 0, count[10] = {0};
  ck_assert_uint_eq(mlp_dataset_rows(labels), 10000);
  ck_assert_uint_eq(mlp_dataset_cols(labels), 1);
  while (mlp_dataset_read_labels(labels, y + total, 3000, &n) == MLP_OK &&
         n > 0)
    total += n;
  ck_assert_uint_eq(total, 10000);
  for (size_t i = 0; i < 10000; i++) {
    ck_assert_int_ge(y[i], 0);
    ck_assert_int_le(y[i], 9);
    count[y[i]]++;
  }
  for (int c = 0; c < 10; c++)
    ck_assert_msg(count[c] == 1000, "class %d: %zu labels", c, count[c]);
  free(y);
  mlp_dataset_close(labels);
}
END_TEST

int main(void) {
  Suite *s = suite_create("idx");
  TCase *tc = tcase_create("idx");
  SRunner *sr;
  int failed;

  tcase_add_loop_test(tc, test_idx_types, 0, (int)(2 * N_CASES));
  tcase_add_test(tc, test_idx_gzip_seek);
  tcase_add_test(tc, test_idx_fashion_mnist);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
