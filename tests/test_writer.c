/*
 * test_writer.c - output files: .npy and CSV round trips through the
 * readers for f32 and f64 (bit-exact), the temporary file and the rename,
 * aborts and failures that leave nothing behind, argument checks.
 */
#include <float.h>
#include <math.h>

#include "io_util.h"

static char dir[256];

static void setup(void) { io_tmpdir(dir, sizeof dir); }
static void teardown(void) { io_rmdir(dir); }

static const char *in_dir(const char *name) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* Hard values: extremes, subnormals, signed zero, long mantissas. */
static double hard_value(size_t i, mlp_dtype dtype) {
  static const double v[] = {0.0,         -0.0,    1.0 / 3, -2.5e-8,
                             1e300,       -1e-310, M_PI,    0.1,
                             123456789.0, FLT_MAX, FLT_MIN, 1.4e-45};
  double x = v[i % (sizeof v / sizeof v[0])] * (double)(1 + i / 12);
  if (dtype == MLP_F32) {
    if (fabs(x) > FLT_MAX)
      x = x > 0 ? FLT_MAX : -FLT_MAX;
    return (float)x;
  }
  return x;
}

/* Writes rows x cols values in appends of `step` rows, commits, reads the
 * file back and compares bits. */
static void round_trip(const char *name, mlp_dtype dtype, size_t rows,
                       size_t cols, size_t step, unsigned flags) {
  size_t es = mlp_dtype_size(dtype);
  char *data = malloc(rows * cols * es + 1);
  mlp_writer *w = NULL;
  const char *path = in_dir(name);

  for (size_t i = 0; i < rows * cols; i++) {
    double v = hard_value(i, dtype);
    if (dtype == MLP_F32)
      ((float *)data)[i] = (float)v;
    else
      ((double *)data)[i] = v;
  }
  ck_assert_int_eq(
      mlp_writer_open(&w, path, dtype, cols, MLP_FORMAT_AUTO, flags), MLP_OK);
  for (size_t done = 0; done < rows; done += step) {
    size_t take = rows - done < step ? rows - done : step;
    ck_assert_int_eq(mlp_writer_append(w, data + done * cols * es, take),
                     MLP_OK);
  }
  ck_assert_uint_eq(mlp_writer_rows(w), rows);
  ck_assert_int_eq(mlp_writer_commit(w), MLP_OK);
  ck_assert_int_eq(io_count_files(dir), 1);

  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  o.dtype = dtype;
  o.csv_header = MLP_CSV_HEADER_NO;
  mlp_dataset *ds = io_open(path, &o);
  ck_assert_uint_eq(mlp_dataset_rows(ds), rows);
  ck_assert_uint_eq(mlp_dataset_cols(ds), rows ? cols : mlp_dataset_cols(ds));
  ck_assert_uint_eq(mlp_dataset_shape(ds, NULL, 0),
                    flags & MLP_WRITER_VECTOR ? 1 : 2);
  void *back = io_read_all(ds, dtype, 1000, NULL);
  size_t i = 0; /* the first difference, with one assert */
  while (i < rows * cols &&
         memcmp(data + i * es, (char *)back + i * es, es) == 0)
    i++;
  if (i < rows * cols)
    ck_abort_msg("%s: value %zu: wrote %.17g, read %.17g", name, i,
                 hard_value(i, dtype),
                 dtype == MLP_F32 ? ((float *)back)[i] : ((double *)back)[i]);
  free(back);
  free(data);
  mlp_dataset_close(ds);
  unlink(path);
}

START_TEST(test_writer_round_trips) {
  static const char *names[] = {"out.npy", "out.csv", "out.tsv", "out.txt"};
  for (int f = 0; f < 4; f++) {
    for (int d = 0; d < 2; d++) {
      mlp_dtype dt = d ? MLP_F64 : MLP_F32;
      round_trip(names[f], dt, 37, 5, 4, 0);
      round_trip(names[f], dt, 1, 1, 1, 0);
    }
  }
  round_trip("vec.npy", MLP_F32, 12, 1, 5, MLP_WRITER_VECTOR);
  round_trip("empty.npy", MLP_F64, 0, 3, 1, 0);
}
END_TEST

/* More than the 1 MiB write buffer, appended in odd steps. */
START_TEST(test_writer_large) {
  round_trip("big.npy", MLP_F64, 50000, 7, 999, 0);
  round_trip("big.csv", MLP_F32, 20000, 9, 333, 0);
}
END_TEST

/* Until commit the destination keeps its old contents and the rows sit
 * in the temporary file beside it; commit replaces it whole. */
START_TEST(test_writer_atomic) {
  const char *path = in_dir("y.csv");
  const float row[2] = {1.0f, 2.0f};
  mlp_writer *w;
  char text[64] = {0};
  FILE *f;

  io_write_text(dir, "y.csv", "old\n");
  ck_assert_int_eq(mlp_writer_open(&w, path, MLP_F32, 2, MLP_FORMAT_AUTO, 0),
                   MLP_OK);
  const char *tmp = mlp_writer_temp_path(w);
  ck_assert_ptr_nonnull(tmp);
  ck_assert(strncmp(tmp, path, strlen(path)) == 0);
  ck_assert(access(tmp, F_OK) == 0);
  ck_assert_int_eq(mlp_writer_append(w, row, 1), MLP_OK);
  f = fopen(path, "r");
  ck_assert_uint_eq(fread(text, 1, sizeof text - 1, f), 4);
  fclose(f);
  ck_assert_str_eq(text, "old\n");
  ck_assert_int_eq(io_count_files(dir), 2);

  ck_assert_int_eq(mlp_writer_commit(w), MLP_OK);
  ck_assert_int_eq(io_count_files(dir), 1);
  f = fopen(path, "r");
  memset(text, 0, sizeof text);
  ck_assert_uint_gt(fread(text, 1, sizeof text - 1, f), 0);
  fclose(f);
  ck_assert_str_eq(text, "1,2\n");

  /* The new file has the usual permissions (0666 less the umask). */
  struct stat st;
  mode_t mask = umask(022);
  umask(mask);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_mode & 0777, 0666 & ~mask);
}
END_TEST

/* Abort removes the temporary file and leaves the destination alone, new
 * or old. */
START_TEST(test_writer_abort) {
  const float row[3] = {1, 2, 3};
  mlp_writer *w;

  ck_assert_int_eq(
      mlp_writer_open(&w, in_dir("new.npy"), MLP_F32, 3, MLP_FORMAT_AUTO, 0),
      MLP_OK);
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq(mlp_writer_append(w, row, 1), MLP_OK);
  mlp_writer_abort(w);
  ck_assert_int_eq(io_count_files(dir), 0);

  io_write_text(dir, "old.npy", "keep");
  ck_assert_int_eq(
      mlp_writer_open(&w, in_dir("old.npy"), MLP_F32, 3, MLP_FORMAT_AUTO, 0),
      MLP_OK);
  ck_assert_int_eq(mlp_writer_append(w, row, 1), MLP_OK);
  mlp_writer_abort(w);
  ck_assert_int_eq(io_count_files(dir), 1);
  struct stat st;
  ck_assert_int_eq(stat(in_dir("old.npy"), &st), 0);
  ck_assert_int_eq(st.st_size, 4);
  mlp_writer_abort(NULL);
}
END_TEST

/* A commit that cannot rename (the destination is a directory) fails,
 * removes the temporary file and frees the writer. */
START_TEST(test_writer_commit_failure) {
  const double row[1] = {1};
  mlp_writer *w;
  ck_assert_int_eq(mkdir(in_dir("d.csv"), 0755), 0);
  ck_assert_int_eq(
      mlp_writer_open(&w, in_dir("d.csv"), MLP_F64, 1, MLP_FORMAT_AUTO, 0),
      MLP_OK);
  ck_assert_int_eq(mlp_writer_append(w, row, 1), MLP_OK);
  ck_assert_int_eq(mlp_writer_commit(w), MLP_ERR_IO);
  ck_assert_msg(strstr(mlp_last_error(), "cannot rename"), "message: %s",
                mlp_last_error());
  ck_assert_int_eq(io_count_files(dir), 1);
  rmdir(in_dir("d.csv"));
}
END_TEST

START_TEST(test_writer_args) {
  mlp_writer *w = (mlp_writer *)1;
  const float row[2] = {0};

  ck_assert_int_eq(mlp_writer_open(&w, NULL, MLP_F32, 1, MLP_FORMAT_AUTO, 0),
                   MLP_ERR_NULL);
  ck_assert_ptr_null(w);
  ck_assert_int_eq(
      mlp_writer_open(&w, in_dir("a.npy"), (mlp_dtype)5, 1, MLP_FORMAT_AUTO, 0),
      MLP_ERR_DTYPE);
  ck_assert_int_eq(
      mlp_writer_open(&w, in_dir("a.npy"), MLP_F32, 0, MLP_FORMAT_AUTO, 0),
      MLP_ERR_ARG);
  ck_assert_int_eq(mlp_writer_open(&w, in_dir("a.npy"), MLP_F32, 2,
                                   MLP_FORMAT_AUTO, MLP_WRITER_VECTOR),
                   MLP_ERR_ARG);
  ck_assert_int_eq(
      mlp_writer_open(&w, in_dir("a.npy"), MLP_F32, 2, MLP_FORMAT_AUTO, 8),
      MLP_ERR_ARG);
  ck_assert_int_eq(
      mlp_writer_open(&w, in_dir("a.bin"), MLP_F32, 2, MLP_FORMAT_AUTO, 0),
      MLP_ERR_ARG);
  ck_assert_msg(strstr(mlp_last_error(), "a.bin: cannot tell the output "
                                         "format"),
                "message: %s", mlp_last_error());
  ck_assert_int_eq(
      mlp_writer_open(&w, in_dir("a.idx"), MLP_F32, 2, MLP_FORMAT_IDX, 0),
      MLP_ERR_ARG);
  /* The writer never compresses: a .gz name would misdescribe the file. */
  ck_assert_int_eq(
      mlp_writer_open(&w, in_dir("a.npy.gz"), MLP_F32, 2, MLP_FORMAT_AUTO, 0),
      MLP_ERR_ARG);
  ck_assert_msg(strstr(mlp_last_error(), "gzip output is not supported"),
                "message: %s", mlp_last_error());
  ck_assert_int_eq(mlp_writer_open(&w, in_dir("no/such/dir/a.npy"), MLP_F32, 2,
                                   MLP_FORMAT_AUTO, 0),
                   MLP_ERR_IO);
  ck_assert_msg(strstr(mlp_last_error(), "cannot create a temporary file"),
                "message: %s", mlp_last_error());
  ck_assert_int_eq(io_count_files(dir), 0);

  /* A forced format ignores the extension. */
  ck_assert_int_eq(
      mlp_writer_open(&w, in_dir("a.bin"), MLP_F32, 2, MLP_FORMAT_NPY, 0),
      MLP_OK);
  ck_assert_int_eq(mlp_writer_append(w, NULL, 1), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_writer_append(w, row, 0), MLP_OK);
  ck_assert_int_eq(mlp_writer_append(w, row, SIZE_MAX / 2), MLP_ERR_OVERFLOW);
  ck_assert_int_eq(mlp_writer_commit(w), MLP_OK);
  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  o.format = MLP_FORMAT_NPY;
  mlp_dataset *ds = io_open(in_dir("a.bin"), &o);
  ck_assert_uint_eq(mlp_dataset_rows(ds), 0);
  ck_assert_uint_eq(mlp_dataset_cols(ds), 2);
  mlp_dataset_close(ds);
  ck_assert_int_eq(mlp_writer_commit(NULL), MLP_ERR_NULL);
}
END_TEST

/* Allocation failures in open return MLP_ERR_NOMEM and leave no file. */
START_TEST(test_writer_nomem) {
  for (long k = 0;; k++) {
    mlp_writer *w = NULL;
    io_live = 0;
    io_fail_allocation(k);
    int st =
        mlp_writer_open(&w, in_dir("m.npy"), MLP_F32, 3, MLP_FORMAT_AUTO, 0);
    if (st == MLP_OK) {
      mlp_writer_abort(w);
      io_restore_allocator();
      ck_assert_int_eq(io_live, 0);
      break;
    }
    io_restore_allocator();
    ck_assert_int_eq(st, MLP_ERR_NOMEM);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(io_live, 0);
    ck_assert_int_eq(io_count_files(dir), 0);
  }
  ck_assert_int_eq(io_count_files(dir), 0);
}
END_TEST

int main(void) {
  Suite *s = suite_create("writer");
  TCase *tc = tcase_create("writer");
  SRunner *sr;
  int failed;

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_writer_round_trips);
  tcase_add_test(tc, test_writer_large);
  tcase_add_test(tc, test_writer_atomic);
  tcase_add_test(tc, test_writer_abort);
  tcase_add_test(tc, test_writer_commit_failure);
  tcase_add_test(tc, test_writer_args);
  tcase_add_test(tc, test_writer_nomem);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
