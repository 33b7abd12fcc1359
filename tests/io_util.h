/*
 * io_util.h - helpers shared by the dataset and writer tests: fixture
 * paths, the values the fixtures hold (the same formula as
 * tests/data/datasets/make_fixtures.py), temporary directories, an
 * allocator that fails on request, and a whole-dataset read.
 */
#ifndef MLP_TEST_IO_UTIL_H
#define MLP_TEST_IO_UTIL_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mlp.h"

#ifndef MLP_TEST_DATA
#define MLP_TEST_DATA "tests/data"
#endif

/* The fixtures' shape: 5 rows of 3 x 2 values. */
#define IO_ROWS 5
#define IO_COLS 6

/* Path of a file under tests/data/datasets, written into buf. */
static inline const char *io_fixture_into(char *buf, size_t size,
                                          const char *name) {
  const char *root = getenv("MLP_TEST_DATA");
  snprintf(buf, size, "%s/datasets/%s", root != NULL ? root : MLP_TEST_DATA,
           name);
  return buf;
}

/* The same in a static buffer: not for tests that run threads. */
static inline const char *io_fixture(const char *name) {
  static char path[4096];
  return io_fixture_into(path, sizeof path, name);
}

/* The fixture element at flat index i for a numpy kind 'b' 'u' 'i' 'f'. */
static inline double io_value(size_t i, char kind) {
  switch (kind) {
  case 'b':
    return i % 3 == 0 ? 1 : 0;
  case 'u':
    return (double)((i * 7) % 23);
  case 'i':
    return (double)((i * 7) % 23) - 11;
  default:
    return ((double)((i * 7) % 23) - 11) * 0.25;
  }
}

/* A fresh directory under $TMPDIR (or /tmp), removed by io_rmdir. */
static inline void io_tmpdir(char *dir, size_t cap) {
  const char *t = getenv("TMPDIR");
  snprintf(dir, cap, "%s/mlp-io-XXXXXX", t != NULL ? t : "/tmp");
  ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s failed", dir);
}

/* Removes a directory made by io_tmpdir and the files in it. */
static inline void io_rmdir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[4096];
  if (d == NULL)
    return;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* Number of entries in a directory other than . and .. */
static inline int io_count_files(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

/* Writes n bytes to dir/name and returns the path (a static buffer). */
static inline const char *io_write_file(const char *dir, const char *name,
                                        const void *data, size_t n) {
  static char path[4096];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot create %s", path);
  ck_assert_uint_eq(fwrite(data, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
  return path;
}

static inline const char *io_write_text(const char *dir, const char *name,
                                        const char *text) {
  return io_write_file(dir, name, text, strlen(text));
}

/* Opens path with options or fails the test with the library's message. */
static inline mlp_dataset *io_open(const char *path,
                                   const mlp_dataset_options *o) {
  mlp_dataset *ds = NULL;
  int st = mlp_dataset_open(&ds, path, o);
  ck_assert_msg(st == MLP_OK, "open %s: %s: %s", path, mlp_status_name(st),
                mlp_last_error());
  return ds;
}

/* Reads every remaining row in batches of `batch`; returns a malloc'd
 * buffer of rows x cols of dtype (and labels when given room). */
static inline void *io_read_all(mlp_dataset *ds, mlp_dtype dtype, size_t batch,
                                int32_t *labels) {
  size_t rows = mlp_dataset_rows(ds), cols = mlp_dataset_cols(ds);
  size_t es = mlp_dtype_size(dtype), done = mlp_dataset_tell(ds), n;
  char *x = calloc(rows * cols + 1, es);
  ck_assert_ptr_nonnull(x);
  for (;;) {
    int st = mlp_dataset_read(ds, x + done * cols * es, batch,
                              labels != NULL ? labels + done : NULL, &n);
    ck_assert_msg(st == MLP_OK, "read at row %zu: %s: %s", done,
                  mlp_status_name(st), mlp_last_error());
    if (n == 0)
      break;
    done += n;
  }
  ck_assert_uint_eq(done, rows);
  return x;
}

/* An allocator that fails the allocation numbered io_fail_at (from 0) and
 * counts the live blocks. */
static long io_alloc_count, io_fail_at = -1, io_live;

static void *io_failing_alloc(size_t size, size_t align, void *user) {
  void *p = NULL;
  (void)user;
  if (io_alloc_count++ == io_fail_at)
    return NULL;
  if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align,
                     size ? size : 1) != 0)
    return NULL;
  io_live++;
  return p;
}

static void io_failing_free(void *p, void *user) {
  (void)user;
  if (p != NULL)
    io_live--;
  free(p);
}

static inline void io_fail_allocation(long at) {
  static const mlp_allocator a = {io_failing_alloc, io_failing_free, NULL};
  io_alloc_count = 0;
  io_fail_at = at;
  mlp_set_allocator(&a);
}

static inline void io_restore_allocator(void) {
  mlp_set_allocator(NULL);
  io_fail_at = -1;
}

#endif /* MLP_TEST_IO_UTIL_H */
