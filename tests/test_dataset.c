/*
 * test_dataset.c - what holds for every format: batched reads equal one
 * whole read, seeks, argument and option checks, allocation failures,
 * the malformed-file corpus (tests/data/datasets/malformed/MANIFEST, each
 * file failing with its own status and message), and the fuzzers' saved
 * inputs (tests/fuzz/corpus/<target>), which must never crash a reader.
 */
#include <math.h>
#include <pthread.h>

#include "io_util.h"

/* Files of every format and both sources (mapped and gzip). */
static const char *const files[] = {
    "npy/f4.npy",    "npy/i2_be.npy", "npy/f8_be.npy.gz", "idx/u1.idx",
    "idx/f8.idx.gz", "csv/small.csv", "csv/small.csv.gz",
};
#define N_FILES (sizeof files / sizeof files[0])

/* Reads a dataset whole, then in batches of 1, 2, 3 and 4 rows, then
 * rows skipped with x == NULL: every way gives the same bytes. */
static void check_batches(const char *path, const mlp_dataset_options *o,
                          size_t max_batch) {
  mlp_dataset *ds = io_open(path, o);
  size_t rows = mlp_dataset_rows(ds), bytes;
  int labels = mlp_dataset_has_labels(ds);
  int32_t *lw = calloc(rows + 1, sizeof *lw);
  int32_t *lb = calloc(rows + 1, sizeof *lb);

  bytes = rows * mlp_dataset_cols(ds) * mlp_dtype_size(o->dtype);
  void *whole = io_read_all(ds, o->dtype, rows ? rows : 1, lw);
  for (size_t b = 1; b <= max_batch; b++) {
    ck_assert_int_eq(mlp_dataset_rewind(ds), MLP_OK);
    void *parts = io_read_all(ds, o->dtype, b, lb);
    ck_assert_msg(memcmp(whole, parts, bytes) == 0,
                  "%s: batches of %zu differ from one read", path, b);
    ck_assert(!labels || memcmp(lw, lb, rows * sizeof *lw) == 0);
    free(parts);
  }
  /* Skip half the rows without values, then read the rest. */
  if (rows >= 2) {
    size_t n, half = rows / 2;
    ck_assert_int_eq(mlp_dataset_rewind(ds), MLP_OK);
    ck_assert_int_eq(mlp_dataset_read(ds, NULL, half, NULL, &n), MLP_OK);
    ck_assert_uint_eq(n, half);
    void *rest = io_read_all(ds, o->dtype, 3, NULL);
    size_t rb = bytes / rows;
    ck_assert(memcmp((char *)rest + half * rb, (char *)whole + half * rb,
                     bytes - half * rb) == 0);
    free(rest);
  }
  free(whole);
  free(lw);
  free(lb);
  mlp_dataset_close(ds);
}

START_TEST(test_dataset_batches) {
  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  o.dtype = _i % 2 ? MLP_F64 : MLP_F32;
  if (strstr(files[_i / 2], "csv") != NULL)
    o.csv_label_column = 1;
  check_batches(io_fixture(files[_i / 2]), &o, 4);
}
END_TEST

/* Fashion-MNIST (when installed) in batches of 1..4 rows and as a whole
 * give the same pixels; the first 2000 rows keep the test short. */
START_TEST(test_dataset_batches_fashion) {
  const char *img =
      "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (access(img, R_OK) != 0) {
    printf("test_dataset_batches_fashion: skipped: %s not installed\n", img);
    return;
  }
  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  o.scale = 1.0 / 255;
  mlp_dataset *ds = io_open(img, &o);
  size_t n, rows = 2000, cols = 784;
  float *whole = malloc(rows * cols * sizeof *whole);
  float *part = malloc(rows * cols * sizeof *part);
  ck_assert_int_eq(mlp_dataset_read(ds, whole, rows, NULL, &n), MLP_OK);
  ck_assert_uint_eq(n, rows);
  for (size_t b = 1; b <= 4; b++) {
    ck_assert_int_eq(mlp_dataset_rewind(ds), MLP_OK);
    for (size_t done = 0; done < rows; done += n) {
      size_t take = rows - done < b * 37 ? rows - done : b * 37;
      ck_assert_int_eq(mlp_dataset_read(ds, part + done * cols, take, NULL, &n),
                       MLP_OK);
      ck_assert_uint_eq(n, take);
    }
    ck_assert(memcmp(whole, part, rows * cols * sizeof *part) == 0);
  }
  free(whole);
  free(part);
  mlp_dataset_close(ds);
}
END_TEST

/* Handles are independent: threads reading the same files at once (CSV
 * number parsing sets up its locale once, on first use) get what one
 * thread gets. */
static void *read_files(void *arg) {
  size_t *sum = arg;
  for (size_t f = 0; f < N_FILES; f++) {
    mlp_dataset_options o;
    mlp_dataset_options_init(&o);
    o.dtype = MLP_F64;
    mlp_dataset *ds;
    char path[4096];
    if (mlp_dataset_open(&ds, io_fixture_into(path, sizeof path, files[f]),
                         &o) != MLP_OK)
      return NULL;
    double x[64];
    size_t n;
    while (mlp_dataset_read(ds, x, 64 / mlp_dataset_cols(ds), NULL, &n) ==
               MLP_OK &&
           n > 0)
      for (size_t i = 0; i < n * mlp_dataset_cols(ds); i++)
        *sum += (size_t)(x[i] * 4 + 1000);
    mlp_dataset_close(ds);
  }
  return NULL;
}

START_TEST(test_dataset_threads) {
  pthread_t t[4];
  size_t sums[4] = {0}, one = 0;
  read_files(&one);
  ck_assert_uint_gt(one, 0);
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(pthread_create(&t[i], NULL, read_files, &sums[i]), 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    ck_assert_uint_eq(sums[i], one);
  }
}
END_TEST

START_TEST(test_dataset_args) {
  mlp_dataset *ds = (mlp_dataset *)1;
  mlp_dataset_options o;
  size_t n = 7;
  float x[IO_COLS];

  ck_assert_int_eq(mlp_dataset_open(&ds, NULL, NULL), MLP_ERR_NULL);
  ck_assert_ptr_null(ds);
  ck_assert_int_eq(mlp_dataset_open(NULL, "x", NULL), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_dataset_open(&ds, "/nonexistent/x.npy", NULL),
                   MLP_ERR_IO);
  ck_assert_msg(strstr(mlp_last_error(), "/nonexistent/x.npy: cannot open"),
                "message: %s", mlp_last_error());
  ck_assert_int_eq(mlp_dataset_open(&ds, "/tmp", NULL), MLP_ERR_IO);
  ck_assert_msg(strstr(mlp_last_error(), "not a regular file"), "message: %s",
                mlp_last_error());

  mlp_dataset_options_init(&o);
  o.dtype = (mlp_dtype)9;
  ck_assert_int_eq(mlp_dataset_open(&ds, io_fixture("npy/f4.npy"), &o),
                   MLP_ERR_DTYPE);
  mlp_dataset_options_init(&o);
  o.scale = NAN;
  ck_assert_int_eq(mlp_dataset_open(&ds, io_fixture("npy/f4.npy"), &o),
                   MLP_ERR_ARG);
  mlp_dataset_options_init(&o);
  o.format = (mlp_format)7;
  ck_assert_int_eq(mlp_dataset_open(&ds, io_fixture("npy/f4.npy"), &o),
                   MLP_ERR_ARG);
  mlp_dataset_options_init(&o);
  o.csv_delimiter = '.';
  ck_assert_int_eq(mlp_dataset_open(&ds, io_fixture("csv/small.csv"), &o),
                   MLP_ERR_ARG);
  mlp_dataset_options_init(&o);
  o.csv_label_column = -3;
  ck_assert_int_eq(mlp_dataset_open(&ds, io_fixture("csv/small.csv"), &o),
                   MLP_ERR_ARG);
  /* A forced format that the file is not. */
  mlp_dataset_options_init(&o);
  o.format = MLP_FORMAT_IDX;
  ck_assert_int_eq(mlp_dataset_open(&ds, io_fixture("npy/f4.npy"), &o),
                   MLP_ERR_FORMAT);
  o.format = MLP_FORMAT_NPY;
  ck_assert_int_eq(mlp_dataset_open(&ds, io_fixture("idx/u1.idx"), &o),
                   MLP_ERR_FORMAT);

  ds = io_open(io_fixture("npy/f4.npy"), NULL);
  ck_assert_int_eq(mlp_dataset_read(NULL, x, 1, NULL, &n), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_dataset_read(ds, x, 1, NULL, NULL), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_dataset_read(ds, x, 0, NULL, &n), MLP_ERR_BATCH);
  ck_assert_uint_eq(n, 0);
  ck_assert_int_eq(mlp_dataset_read_labels(ds, NULL, 1, &n), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_dataset_seek(ds, IO_ROWS + 1), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_dataset_seek(NULL, 0), MLP_ERR_NULL);
  ck_assert_int_eq(mlp_dataset_seek(ds, IO_ROWS), MLP_OK);
  ck_assert_int_eq(mlp_dataset_read(ds, x, 1, NULL, &n), MLP_OK);
  ck_assert_uint_eq(n, 0);
  mlp_dataset_close(ds);
  mlp_dataset_close(NULL);
  ck_assert_uint_eq(mlp_dataset_rows(NULL), 0);
  ck_assert_uint_eq(mlp_dataset_cols(NULL), 0);
}
END_TEST

START_TEST(test_dataset_format_names) {
  mlp_format f;
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(mlp_format_parse(mlp_format_name((mlp_format)i), &f),
                     MLP_OK);
    ck_assert_int_eq(f, i);
  }
  ck_assert_ptr_null(mlp_format_name((mlp_format)4));
  ck_assert_int_eq(mlp_format_parse("parquet", &f), MLP_ERR_ARG);
  ck_assert_int_eq(mlp_format_parse(NULL, &f), MLP_ERR_NULL);
}
END_TEST

/* Every allocation of open and read may fail: the call then returns
 * MLP_ERR_NOMEM and leaks nothing. */
START_TEST(test_dataset_nomem) {
  mlp_dataset_options o;
  mlp_dataset_options_init(&o);
  if (strstr(files[_i], "csv") != NULL)
    o.csv_label_column = 1;
  for (long k = 0;; k++) {
    mlp_dataset *ds = NULL;
    io_live = 0;
    io_fail_allocation(k);
    int st = mlp_dataset_open(&ds, io_fixture(files[_i]), &o);
    if (st == MLP_OK) {
      float x[64];
      int32_t l[8];
      size_t n;
      st = mlp_dataset_read(ds, x, 8, l, &n);
      mlp_dataset_close(ds);
      ck_assert_int_eq(st, MLP_OK);
      ck_assert_int_eq(io_live, 0);
      io_restore_allocator();
      ck_assert_int_gt(k, 0);
      break;
    }
    ck_assert_msg(st == MLP_ERR_NOMEM, "%s, allocation %ld: %s: %s", files[_i],
                  k, mlp_status_name(st), mlp_last_error());
    ck_assert_ptr_null(ds);
    ck_assert_int_eq(io_live, 0);
    io_restore_allocator();
  }
}
END_TEST

/* Parses one "k=v[,k=v]" options field of the MANIFEST. */
static void manifest_options(char *s, mlp_dataset_options *o) {
  mlp_dataset_options_init(o);
  if (strcmp(s, "-") == 0)
    return;
  for (char *kv = strtok(s, ","); kv != NULL; kv = strtok(NULL, ",")) {
    if (strcmp(kv, "label=last") == 0)
      o->csv_label_column = MLP_CSV_LABEL_LAST;
    else if (strncmp(kv, "label=", 6) == 0)
      o->csv_label_column = strtol(kv + 6, NULL, 10);
    else if (strcmp(kv, "header=yes") == 0)
      o->csv_header = MLP_CSV_HEADER_YES;
    else
      ck_abort_msg("MANIFEST: unknown option %s", kv);
  }
}

/* Each malformed file fails in the named call with its status and a
 * message that names the file and contains the expected words. */
START_TEST(test_dataset_malformed) {
  char line[1024];
  FILE *f = fopen(io_fixture("malformed/MANIFEST"), "r");
  int cases = 0;
  ck_assert_msg(f != NULL, "no MANIFEST");
  while (fgets(line, sizeof line, f) != NULL) {
    char *field[5], *save = NULL;
    int k = 0;
    if (line[0] == '#')
      continue;
    line[strcspn(line, "\n")] = '\0';
    for (char *t = strtok_r(line, "\t", &save); t != NULL && k < 5;
         t = strtok_r(NULL, "\t", &save))
      field[k++] = t;
    if (k == 4)
      field[k++] = "";
    ck_assert_int_eq(k, 5);

    char path[4096], name[300];
    mlp_dataset_options o;
    mlp_dataset *ds = NULL;
    int st;
    snprintf(name, sizeof name, "malformed/%s", field[0]);
    snprintf(path, sizeof path, "%s", io_fixture(name));
    manifest_options(field[1], &o);
    st = mlp_dataset_open(&ds, path, &o);
    if (strcmp(field[2], "open") != 0) {
      ck_assert_msg(st == MLP_OK, "%s: open failed: %s", field[0],
                    mlp_last_error());
      size_t n;
      int32_t labels[64];
      float x[4096];
      size_t batch = mlp_dataset_cols(ds) ? 4096 / mlp_dataset_cols(ds) : 1;
      do {
        if (strcmp(field[2], "labels") == 0)
          st = mlp_dataset_read_labels(ds, labels, 64, &n);
        else if (strcmp(field[2], "skip") == 0)
          st = mlp_dataset_read(ds, NULL, 64, NULL, &n);
        else
          st = mlp_dataset_read(ds, x, batch < 64 ? batch : 64, labels, &n);
      } while (st == MLP_OK && n > 0);
      mlp_dataset_close(ds);
    } else {
      ck_assert_ptr_null(ds);
    }
    ck_assert_msg(strcmp(mlp_status_name(st), field[3]) == 0,
                  "%s: got %s (%s), want %s", field[0], mlp_status_name(st),
                  mlp_last_error(), field[3]);
    ck_assert_msg(strstr(mlp_last_error(), field[0]) != NULL &&
                      strstr(mlp_last_error(), field[4]) != NULL,
                  "%s: message \"%s\" lacks \"%s\"", field[0], mlp_last_error(),
                  field[4]);
    cases++;
  }
  fclose(f);
  ck_assert_int_ge(cases, 50);
}
END_TEST

/* The fuzzers' saved inputs, read through each parser (and the model
 * loader): any status is fine, a crash or a leak is not. */
START_TEST(test_dataset_fuzz_corpus) {
  static const struct {
    const char *dir;
    mlp_format format;
  } targets[] = {{"npy", MLP_FORMAT_NPY},
                 {"csv", MLP_FORMAT_CSV},
                 {"idx", MLP_FORMAT_IDX}};
  const char *root = getenv("MLP_TEST_DATA");
  int seen = 0;
  for (size_t t = 0; t < 3; t++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/../fuzz/corpus/%s",
             root != NULL ? root : MLP_TEST_DATA, targets[t].dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    if (d == NULL)
      continue;
    while ((e = readdir(d)) != NULL) {
      char path[8192];
      mlp_dataset_options o;
      mlp_dataset *ds;
      if (e->d_name[0] == '.')
        continue;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      mlp_dataset_options_init(&o);
      o.format = targets[t].format;
      o.csv_label_column = (long)(seen % 3) - 2;
      if (mlp_dataset_open(&ds, path, &o) == MLP_OK) {
        float x[1024];
        int32_t l[64];
        size_t n, cols = mlp_dataset_cols(ds);
        size_t b = cols == 0 ? 64 : cols > 1024 ? 0 : 1024 / cols;
        while (b > 0 &&
               mlp_dataset_read(ds, x, b < 64 ? b : 64, l, &n) == MLP_OK &&
               n > 0)
          ;
        mlp_dataset_rewind(ds);
        while (mlp_dataset_read_labels(ds, l, 64, &n) == MLP_OK && n > 0)
          ;
        mlp_dataset_close(ds);
      }
      seen++;
    }
    closedir(d);
  }

  /* Model files: the public loader, from memory as the fuzzer calls it. */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/../fuzz/corpus/safetensors",
           root != NULL ? root : MLP_TEST_DATA);
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d != NULL && (e = readdir(d)) != NULL) {
    char path[8192];
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = malloc(1 << 20);
    size_t len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    mlp_load_options o = {0};
    mlp_model *m = NULL;
    if (mlp_model_load_buffer(&m, buf, len, &o) == MLP_OK)
      mlp_model_free(m);
    free(buf);
    seen++;
  }
  if (d != NULL)
    closedir(d);
  printf("test_dataset_fuzz_corpus: %d saved inputs read\n", seen);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dataset");
  TCase *tc = tcase_create("dataset");
  SRunner *sr;
  int failed;

  tcase_add_loop_test(tc, test_dataset_batches, 0, (int)(2 * N_FILES));
  tcase_add_test(tc, test_dataset_batches_fashion);
  tcase_add_test(tc, test_dataset_threads);
  tcase_add_test(tc, test_dataset_args);
  tcase_add_test(tc, test_dataset_format_names);
  tcase_add_loop_test(tc, test_dataset_nomem, 0, (int)N_FILES);
  tcase_add_test(tc, test_dataset_malformed);
  tcase_add_test(tc, test_dataset_fuzz_corpus);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
