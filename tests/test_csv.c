/*
 * test_csv.c - the CSV reader: headers (detected and forced), label
 * columns, delimiters, quotes, spaces, CRLF, byte order marks, blank
 * lines, gzip, the C locale, one-column label files, seeks across
 * checkpoints, and error positions.
 */
#include <locale.h>
#include <math.h>

#include "io_util.h"

static char dir[256];

static void setup(void) { io_tmpdir(dir, sizeof dir); }
static void teardown(void) { io_rmdir(dir); }

/* Opens text written to dir/name with a label column and delimiter. */
static mlp_dataset *open_text(const char *name, const char *text, long label,
                              char delim, mlp_csv_header h) {
  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  o.dtype = MLP_F64;
  o.csv_label_column = label;
  o.csv_delimiter = delim;
  o.csv_header = h;
  return io_open(io_write_text(dir, name, text), &o);
}

static void expect_rows(mlp_dataset *ds, const double *want, size_t rows,
                        size_t cols, const int32_t *labels) {
  int32_t got_l[64];
  ck_assert_uint_eq(mlp_dataset_rows(ds), rows);
  ck_assert_uint_eq(mlp_dataset_cols(ds), cols);
  double *x = io_read_all(ds, MLP_F64, 2, got_l);
  for (size_t i = 0; i < rows * cols; i++)
    ck_assert_msg(x[i] == want[i], "value %zu: got %.17g, want %.17g", i, x[i],
                  want[i]);
  for (size_t i = 0; labels != NULL && i < rows; i++)
    ck_assert_int_eq(got_l[i], labels[i]);
  free(x);
}

/* The fixture: header, label column 1, CRLF, a quote, a blank line,
 * spaces; plain and gzip. */
START_TEST(test_csv_fixture) {
  const double want[] = {1.5, -3, 4, 0.5, 7, 8};
  const int32_t labels[] = {2, 0, 1};
  const char *files[] = {"csv/small.csv", "csv/small.csv.gz"};
  for (int f = 0; f < 2; f++) {
    mlp_dataset_options o;
    mlp_dataset_options_init(&o);
    o.dtype = MLP_F64;
    o.csv_label_column = 1;
    mlp_dataset *ds = io_open(io_fixture(files[f]), &o);
    size_t dims[2];
    ck_assert_int_eq(mlp_dataset_format(ds), MLP_FORMAT_CSV);
    ck_assert_int_eq(mlp_dataset_has_labels(ds), 1);
    ck_assert_str_eq(mlp_dataset_source_type(ds), "f64");
    ck_assert_uint_eq(mlp_dataset_shape(ds, dims, 2), 2);
    ck_assert_uint_eq(dims[0], 3);
    ck_assert_uint_eq(dims[1], 2);
    expect_rows(ds, want, 3, 2, labels);
    mlp_dataset_close(ds);
  }
}
END_TEST

START_TEST(test_csv_headers) {
  const double all[] = {1, 2, 3, 4};
  const double data[] = {3, 4};
  mlp_dataset *ds;

  /* Auto: a line of numbers is data, a line with a name is a header. */
  ds = open_text("a.csv", "1,2\n3,4\n", MLP_CSV_NO_LABEL, 0,
                 MLP_CSV_HEADER_AUTO);
  expect_rows(ds, all, 2, 2, NULL);
  mlp_dataset_close(ds);
  ds = open_text("b.csv", "x,2\n3,4\n", MLP_CSV_NO_LABEL, 0,
                 MLP_CSV_HEADER_AUTO);
  expect_rows(ds, data, 1, 2, NULL);
  mlp_dataset_close(ds);
  /* An empty field does not make a header; an empty name among names
   * (pandas' index column) does not make data. */
  ds = open_text("h.csv", "1,,3\n4,5,6\n", MLP_CSV_NO_LABEL, 0,
                 MLP_CSV_HEADER_AUTO);
  ck_assert_uint_eq(mlp_dataset_rows(ds), 2);
  mlp_dataset_close(ds);
  ds = open_text("i.csv", ",x\n3,4\n", MLP_CSV_NO_LABEL, 0,
                 MLP_CSV_HEADER_AUTO);
  expect_rows(ds, data, 1, 2, NULL);
  mlp_dataset_close(ds);
  /* Forced either way. */
  ds =
      open_text("c.csv", "1,2\n3,4\n", MLP_CSV_NO_LABEL, 0, MLP_CSV_HEADER_YES);
  expect_rows(ds, data, 1, 2, NULL);
  mlp_dataset_close(ds);
  ds = open_text("d.csv", "1,2\n3,4", MLP_CSV_NO_LABEL, 0, MLP_CSV_HEADER_NO);
  expect_rows(ds, all, 2, 2, NULL);
  mlp_dataset_close(ds);
  /* A header alone, an empty file, blank lines only. */
  ds = open_text("e.csv", "a,b,c\n", MLP_CSV_NO_LABEL, 0, MLP_CSV_HEADER_AUTO);
  ck_assert_uint_eq(mlp_dataset_rows(ds), 0);
  ck_assert_uint_eq(mlp_dataset_cols(ds), 3);
  mlp_dataset_close(ds);
  ds = open_text("f.csv", "", MLP_CSV_LABEL_LAST, 0, MLP_CSV_HEADER_AUTO);
  ck_assert_uint_eq(mlp_dataset_rows(ds), 0);
  ck_assert_uint_eq(mlp_dataset_cols(ds), 0);
  ck_assert_int_eq(mlp_dataset_has_labels(ds), 0);
  mlp_dataset_close(ds);
  ds = open_text("g.csv", "\n  \n\r\n", MLP_CSV_NO_LABEL, 0,
                 MLP_CSV_HEADER_AUTO);
  ck_assert_uint_eq(mlp_dataset_rows(ds), 0);
  mlp_dataset_close(ds);
}
END_TEST

START_TEST(test_csv_delimiters) {
  const double want[] = {1, 2.5, 3, 4};
  mlp_dataset *ds;

  ds = open_text("t.tsv", "1\t2.5\n3\t4\n", MLP_CSV_NO_LABEL, 0,
                 MLP_CSV_HEADER_AUTO);
  expect_rows(ds, want, 2, 2, NULL);
  mlp_dataset_close(ds);
  ds = open_text("s.csv", "1;2.5\n3;4\n", MLP_CSV_NO_LABEL, 0,
                 MLP_CSV_HEADER_AUTO);
  expect_rows(ds, want, 2, 2, NULL);
  mlp_dataset_close(ds);
  ds = open_text("tab.txt", "1\t2.5\n3\t4\n", MLP_CSV_NO_LABEL, 0,
                 MLP_CSV_HEADER_AUTO);
  expect_rows(ds, want, 2, 2, NULL);
  mlp_dataset_close(ds);
  ds = open_text("p.csv", "1|2.5\n3|4\n", MLP_CSV_NO_LABEL, '|',
                 MLP_CSV_HEADER_AUTO);
  expect_rows(ds, want, 2, 2, NULL);
  mlp_dataset_close(ds);
  /* Spaces around fields and quotes, a BOM, a last line without "\n". */
  ds = open_text("q.csv", "\xEF\xBB\xBF 1 , \"2.5\" \r\n\"3\",4", -1, 0,
                 MLP_CSV_HEADER_AUTO);
  expect_rows(ds, want, 2, 2, NULL);
  mlp_dataset_close(ds);
}
END_TEST

START_TEST(test_csv_labels) {
  const double want[] = {10, 20, 30, 40};
  const int32_t first[] = {7, 0}, last[] = {1, 2147483647};
  mlp_dataset *ds;

  ds = open_text("l0.csv", "7,10,20\n0,30,40\n", 0, 0, MLP_CSV_HEADER_AUTO);
  expect_rows(ds, want, 2, 2, first);
  mlp_dataset_close(ds);
  ds = open_text("l1.csv", "10,20,1.0\n30,40,2147483647\n", MLP_CSV_LABEL_LAST,
                 0, MLP_CSV_HEADER_AUTO);
  expect_rows(ds, want, 2, 2, last);
  /* Labels alone through read_labels, from the label column. */
  int32_t l[2];
  size_t n;
  ck_assert_int_eq(mlp_dataset_rewind(ds), MLP_OK);
  ck_assert_int_eq(mlp_dataset_read_labels(ds, l, 2, &n), MLP_OK);
  ck_assert_uint_eq(n, 2);
  ck_assert_int_eq(l[1], 2147483647);
  mlp_dataset_close(ds);

  /* A one-column file read as labels; the scale does not apply. */
  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  o.scale = 0.5;
  ds = io_open(io_write_text(dir, "y.csv", "label\n3\n1\n4.0\n"), &o);
  int32_t y[3];
  ck_assert_int_eq(mlp_dataset_read_labels(ds, y, 3, &n), MLP_OK);
  ck_assert_uint_eq(n, 3);
  ck_assert_int_eq(y[0], 3);
  ck_assert_int_eq(y[1], 1);
  ck_assert_int_eq(y[2], 4);
  mlp_dataset_close(ds);

  ds = io_open(io_write_text(dir, "z.csv", "3\n1e10\n"), &o);
  ck_assert_int_eq(mlp_dataset_read_labels(ds, y, 3, &n), MLP_ERR_LABEL);
  ck_assert_msg(strstr(mlp_last_error(), "row 1: 10000000000 is not"),
                "message: %s", mlp_last_error());
  mlp_dataset_close(ds);

  /* Two columns are no label file. */
  ds = io_open(io_write_text(dir, "w.csv", "3,4\n"), &o);
  ck_assert_int_eq(mlp_dataset_read_labels(ds, y, 3, &n), MLP_ERR_SHAPE);
  mlp_dataset_close(ds);
}
END_TEST

/* Numbers: exponents, signs, hex floats, f32 rounding, the scale, and the
 * C locale whatever setlocale says. */
START_TEST(test_csv_numbers) {
  const char *text = "-0.5,+2,1e-3,0x1p-2,123456789012345678,3.4028235e38\n";
  const double want[] = {-0.5,        2, 1e-3, 0.25, 123456789012345678.0,
                         3.4028235e38};
  mlp_dataset *ds;

  if (setlocale(LC_NUMERIC, "de_DE.UTF-8") == NULL)
    setlocale(LC_NUMERIC, "fr_FR.UTF-8");
  ds = open_text("n.csv", text, MLP_CSV_NO_LABEL, 0, MLP_CSV_HEADER_NO);
  expect_rows(ds, want, 1, 6, NULL);
  mlp_dataset_close(ds);
  setlocale(LC_NUMERIC, "C");

  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  o.scale = 1.0 / 255;
  ds = io_open(io_write_text(dir, "px.csv", "0,51,255\n"), &o);
  float px[3];
  size_t n;
  ck_assert_int_eq(mlp_dataset_read(ds, px, 1, NULL, &n), MLP_OK);
  ck_assert_float_eq(px[0], 0.0f);
  ck_assert_float_eq(px[1], (float)(51.0 / 255));
  ck_assert_float_eq(px[2], 1.0f);
  mlp_dataset_close(ds);
}
END_TEST

/* 5000 rows cross four checkpoints: seeks anywhere give the right row,
 * and blank lines in the middle do not shift rows. */
START_TEST(test_csv_seek) {
  size_t rows = 5000, cap = rows * 32, len = 0;
  char *text = malloc(cap);
  for (size_t i = 0; i < rows; i++) {
    len += (size_t)snprintf(text + len, cap - len, "%zu,%zu,%zu\n", i, i * 2,
                            i % 10);
    if (i % 777 == 0)
      len += (size_t)snprintf(text + len, cap - len, "\n");
  }
  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  o.csv_label_column = MLP_CSV_LABEL_LAST;
  mlp_dataset *ds = io_open(io_write_file(dir, "big.csv", text, len), &o);
  free(text);
  ck_assert_uint_eq(mlp_dataset_rows(ds), rows);

  const size_t at[] = {4999, 0, 1023, 1024, 1025, 3000, 2047, 4096, 17};
  for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
    float x[6];
    int32_t l[3];
    size_t n;
    ck_assert_int_eq(mlp_dataset_seek(ds, at[k]), MLP_OK);
    ck_assert_int_eq(mlp_dataset_read(ds, x, 3, l, &n), MLP_OK);
    ck_assert_uint_eq(n, at[k] + 3 <= rows ? 3 : rows - at[k]);
    for (size_t i = 0; i < n; i++) {
      ck_assert_float_eq(x[2 * i], (float)(at[k] + i));
      ck_assert_float_eq(x[2 * i + 1], (float)(2 * (at[k] + i)));
      ck_assert_int_eq(l[i], (int32_t)((at[k] + i) % 10));
    }
  }
  ck_assert_int_eq(mlp_dataset_seek(ds, rows + 1), MLP_ERR_ARG);
  mlp_dataset_close(ds);
}
END_TEST

/* A bad field is reported when its row is read, with line and column;
 * the rows before it read fine. */
START_TEST(test_csv_error_position) {
  mlp_dataset *ds = open_text("e.csv", "h1,h2\n1,2\n\n3,x4\n", MLP_CSV_NO_LABEL,
                              0, MLP_CSV_HEADER_AUTO);
  double x[4];
  size_t n;
  ck_assert_int_eq(mlp_dataset_read(ds, x, 1, NULL, &n), MLP_OK);
  ck_assert_int_eq(mlp_dataset_read(ds, x, 1, NULL, &n), MLP_ERR_FORMAT);
  ck_assert_uint_eq(n, 0);
  ck_assert_msg(strstr(mlp_last_error(), "e.csv: line 4, column 2: 'x4' is "
                                         "not a number") != NULL,
                "message: %s", mlp_last_error());
  /* Skipping the values (labels only, none here) still finds the rows. */
  ck_assert_int_eq(mlp_dataset_seek(ds, 0), MLP_OK);
  ck_assert_int_eq(mlp_dataset_read(ds, NULL, 5, NULL, &n), MLP_OK);
  ck_assert_uint_eq(n, 2);
  mlp_dataset_close(ds);
}
END_TEST

/* Lines of 600 kB: plain, and gzip, longer than the first line buffer
 * (1 MiB holds one; the second makes it grow after a partial line). */
START_TEST(test_csv_long_line) {
  size_t cols = 300000, len = 0;
  char *text = malloc(cols * 4 + 2);
  for (int line = 0; line < 2; line++)
    for (size_t j = 0; j < cols; j++) {
      text[len++] = (char)('0' + j % 10);
      text[len++] = j + 1 < cols ? ',' : '\n';
    }
  mlp_dataset *ds[2];
  ds[0] = io_open(io_write_file(dir, "wide.csv", text, len), NULL);
  ds[1] = io_open(io_fixture("csv/wide.csv.gz"), NULL);
  free(text);
  for (int k = 0; k < 2; k++) {
    ck_assert_uint_eq(mlp_dataset_rows(ds[k]), 2);
    ck_assert_uint_eq(mlp_dataset_cols(ds[k]), cols);
    float *x = io_read_all(ds[k], MLP_F32, 1, NULL);
    size_t bad = 0; /* one assert, not 600000: valgrind runs this */
    while (bad < 2 * cols && x[bad] == (float)(bad % cols % 10))
      bad++;
    ck_assert_msg(bad == 2 * cols, "value %zu: got %g, want %g", bad,
                  bad < 2 * cols ? x[bad] : 0.0, (double)(bad % cols % 10));
    ck_assert_int_eq(mlp_dataset_seek(ds[k], 1), MLP_OK);
    size_t n;
    ck_assert_int_eq(mlp_dataset_read(ds[k], x, 5, NULL, &n), MLP_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_float_eq(x[cols - 1], (float)((cols - 1) % 10));
    free(x);
    mlp_dataset_close(ds[k]);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("csv");
  TCase *tc = tcase_create("csv");
  SRunner *sr;
  int failed;

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_csv_fixture);
  tcase_add_test(tc, test_csv_headers);
  tcase_add_test(tc, test_csv_delimiters);
  tcase_add_test(tc, test_csv_labels);
  tcase_add_test(tc, test_csv_numbers);
  tcase_add_test(tc, test_csv_seek);
  tcase_add_test(tc, test_csv_error_position);
  tcase_add_test(tc, test_csv_long_line);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
