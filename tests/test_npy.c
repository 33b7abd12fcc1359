/*
 * test_npy.c - .npy files written by numpy (tests/data/datasets/npy, made
 * by make_fixtures.py): every dtype in both byte orders, format versions
 * 1-3, gzip, 1-D label vectors, an empty array; and files written here
 * byte by byte for what numpy does not write.
 */
#include <math.h>

#include "io_util.h"

typedef struct npy_case {
  const char *file;
  char kind;
  const char *type;
} npy_case;

static const npy_case cases[] = {
    {"b1.npy", 'b', "bool"},      {"u1.npy", 'u', "u8"},
    {"i1.npy", 'i', "i8"},        {"u2.npy", 'u', "u16"},
    {"u2_be.npy", 'u', "u16"},    {"i2.npy", 'i', "i16"},
    {"i2_be.npy", 'i', "i16"},    {"u4.npy", 'u', "u32"},
    {"u4_be.npy", 'u', "u32"},    {"i4.npy", 'i', "i32"},
    {"i4_be.npy", 'i', "i32"},    {"u8.npy", 'u', "u64"},
    {"u8_be.npy", 'u', "u64"},    {"i8.npy", 'i', "i64"},
    {"i8_be.npy", 'i', "i64"},    {"f2.npy", 'f', "f16"},
    {"f2_be.npy", 'f', "f16"},    {"f4.npy", 'f', "f32"},
    {"f4_be.npy", 'f', "f32"},    {"f8.npy", 'f', "f64"},
    {"f8_be.npy", 'f', "f64"},    {"f4_v1.npy", 'f', "f32"},
    {"f4_v2.npy", 'f', "f32"},    {"f4_v3.npy", 'f', "f32"},
    {"f8_be.npy.gz", 'f', "f64"},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* Every dtype, read as f32 and f64, whole and in batches of 2, with a
 * scale that applies to integers only. */
START_TEST(test_npy_dtypes) {
  const npy_case *c = &cases[_i];
  char name[64];
  snprintf(name, sizeof name, "npy/%s", c->file);

  for (int d = 0; d < 2; d++) {
    mlp_dataset_options o;
    mlp_dataset_options_init(&o);
    o.dtype = d == 0 ? MLP_F32 : MLP_F64;
    o.scale = 0.5;
    mlp_dataset *ds = io_open(io_fixture(name), &o);
    size_t dims[4] = {0};

    ck_assert_int_eq(mlp_dataset_format(ds), MLP_FORMAT_NPY);
    ck_assert_uint_eq(mlp_dataset_rows(ds), IO_ROWS);
    ck_assert_uint_eq(mlp_dataset_cols(ds), IO_COLS);
    ck_assert_uint_eq(mlp_dataset_shape(ds, dims, 4), 3);
    ck_assert_uint_eq(dims[0], 5);
    ck_assert_uint_eq(dims[1], 3);
    ck_assert_uint_eq(dims[2], 2);
    ck_assert_str_eq(mlp_dataset_source_type(ds), c->type);
    ck_assert_int_eq(mlp_dataset_has_labels(ds), 0);

    void *x = io_read_all(ds, o.dtype, d == 0 ? IO_ROWS : 2, NULL);
    for (size_t i = 0; i < IO_ROWS * IO_COLS; i++) {
      double want = io_value(i, c->kind) * (c->kind == 'f' ? 1.0 : 0.5);
      double got = d == 0 ? ((float *)x)[i] : ((double *)x)[i];
      ck_assert_msg(got == want, "%s element %zu: got %g, want %g", c->file, i,
                    got, want);
    }
    free(x);
    mlp_dataset_close(ds);
  }
}
END_TEST

START_TEST(test_npy_labels) {
  static const char *files[] = {"npy/labels_i8.npy", "npy/labels_f4.npy"};
  static const int32_t want[] = {3, 0, 9, 1, 1};
  for (int f = 0; f < 2; f++) {
    mlp_dataset *ds = io_open(io_fixture(files[f]), NULL);
    int32_t got[8] = {0};
    size_t n, total = 0;
    ck_assert_uint_eq(mlp_dataset_rows(ds), 5);
    ck_assert_uint_eq(mlp_dataset_cols(ds), 1);
    ck_assert_uint_eq(mlp_dataset_shape(ds, NULL, 0), 1);
    while (mlp_dataset_read_labels(ds, got + total, 3, &n) == MLP_OK && n > 0)
      total += n;
    ck_assert_uint_eq(total, 5);
    for (int i = 0; i < 5; i++)
      ck_assert_int_eq(got[i], want[i]);
    mlp_dataset_close(ds);
  }

  mlp_dataset *ds = io_open(io_fixture("npy/labels_bad.npy"), NULL);
  int32_t got[4];
  size_t n = 99;
  int st = mlp_dataset_read_labels(ds, got, 4, &n);
  ck_assert_int_eq(st, MLP_ERR_LABEL);
  ck_assert_uint_eq(n, 0);
  ck_assert_msg(strstr(mlp_last_error(), "row 2: -1 is not a class index"),
                "message: %s", mlp_last_error());
  mlp_dataset_close(ds);
}
END_TEST

START_TEST(test_npy_empty) {
  mlp_dataset *ds = io_open(io_fixture("npy/empty.npy"), NULL);
  float x[4];
  size_t n = 99;
  ck_assert_uint_eq(mlp_dataset_rows(ds), 0);
  ck_assert_uint_eq(mlp_dataset_cols(ds), 4);
  ck_assert_int_eq(mlp_dataset_read(ds, x, 10, NULL, &n), MLP_OK);
  ck_assert_uint_eq(n, 0);
  mlp_dataset_close(ds);
}
END_TEST

/* Writes a .npy 1.0 file with the given header dict and data. */
static const char *write_npy(const char *dir, const char *name,
                             const char *dict, const void *data, size_t bytes) {
  unsigned char buf[1024];
  size_t h = strlen(dict);
  ck_assert_uint_lt(10 + h + bytes, sizeof buf);
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)(h & 0xff);
  buf[9] = (unsigned char)(h >> 8);
  memcpy(buf + 10, dict, h);
  memcpy(buf + 10 + h, data, bytes);
  return io_write_file(dir, name, buf, 10 + h + bytes);
}

/* Header variants numpy accepts: double quotes, Python 2 'L' suffixes,
 * no trailing comma, '=' byte order, no final newline; an unaligned data
 * offset; trailing bytes after the data. */
START_TEST(test_npy_header_variants) {
  char dir[256];
  const float v[3] = {1.5f, -2.0f, 0.25f};
  unsigned char data[16];
  io_tmpdir(dir, sizeof dir);
  memcpy(data, v, sizeof v);
  memset(data + 12, 0xEE, 4);

  const char *dicts[] = {
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3L,)}",
      "{'shape': (3, 1), 'fortran_order': False, 'descr': '=f4'}\n",
      "  { 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 1 , 3 ) "
      ", }   \n",
  };
  for (size_t k = 0; k < 3; k++) {
    const char *p = write_npy(dir, "v.npy", dicts[k], data, sizeof data);
    mlp_dataset *ds = io_open(p, NULL);
    float got[3];
    size_t n;
    ck_assert_uint_eq(mlp_dataset_rows(ds) * mlp_dataset_cols(ds), 3);
    ck_assert_int_eq(mlp_dataset_read(ds, got, 3, NULL, &n), MLP_OK);
    ck_assert_uint_eq(n * mlp_dataset_cols(ds), 3);
    for (int i = 0; i < 3; i++)
      ck_assert_float_eq(got[i], v[i]);
    mlp_dataset_close(ds);
  }
  io_rmdir(dir);
}
END_TEST

/* Large integers keep their value; labels reject what int32 cannot hold. */
START_TEST(test_npy_int64_labels_range) {
  char dir[256];
  const int64_t big[2] = {(int64_t)1 << 31, 5};
  io_tmpdir(dir, sizeof dir);
  const char *p = write_npy(dir, "l.npy",
                            "{'descr': '<i8', 'fortran_order': False, "
                            "'shape': (2,), }",
                            big, sizeof big);
  mlp_dataset *ds = io_open(p, NULL);
  int32_t got[2];
  size_t n;
  ck_assert_int_eq(mlp_dataset_read_labels(ds, got, 2, &n), MLP_ERR_LABEL);
  ck_assert_msg(strstr(mlp_last_error(), "row 0: 2147483648"), "message: %s",
                mlp_last_error());
  mlp_dataset_close(ds);
  io_rmdir(dir);
}
END_TEST

/* Half floats: subnormals, infinities and NaN convert as IEEE says. */
START_TEST(test_npy_half_specials) {
  char dir[256];
  const uint16_t h[5] = {0x0001, 0x7c00, 0xfc00, 0x7e00, 0x3555};
  io_tmpdir(dir, sizeof dir);
  const char *p = write_npy(dir, "h.npy",
                            "{'descr': '<f2', 'fortran_order': False, "
                            "'shape': (5,), }",
                            h, sizeof h);
  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  o.dtype = MLP_F64;
  mlp_dataset *ds = io_open(p, &o);
  double got[5];
  size_t n;
  ck_assert_int_eq(mlp_dataset_read(ds, got, 5, NULL, &n), MLP_OK);
  ck_assert_double_eq(got[0], ldexp(1.0, -24));
  ck_assert(isinf(got[1]) && got[1] > 0);
  ck_assert(isinf(got[2]) && got[2] < 0);
  ck_assert(isnan(got[3]));
  ck_assert_double_eq(got[4], 0.333251953125);
  mlp_dataset_close(ds);
  io_rmdir(dir);
}
END_TEST

int main(void) {
  Suite *s = suite_create("npy");
  TCase *tc = tcase_create("npy");
  SRunner *sr;
  int failed;

  tcase_add_loop_test(tc, test_npy_dtypes, 0, (int)N_CASES);
  tcase_add_test(tc, test_npy_labels);
  tcase_add_test(tc, test_npy_empty);
  tcase_add_test(tc, test_npy_header_variants);
  tcase_add_test(tc, test_npy_int64_labels_range);
  tcase_add_test(tc, test_npy_half_specials);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
