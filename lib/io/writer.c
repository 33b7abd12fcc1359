/*
 * writer.c - output files written whole or not at all: rows go to a
 * temporary file beside the destination, which commit fsyncs and renames
 * over it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

#define WRITER_BUF ((size_t)1 << 20)
#define NPY_HEADER_CAP 256

struct mlp_writer {
  char *path;
  char *tmp;
  int fd;
  mlp_format format;
  mlp_dtype dtype;
  size_t cols;
  unsigned flags;
  size_t rows;
  char delim;
  size_t header_len; /* .npy header bytes at the start */
  char *buf;
  size_t len;
  int failed;
};

static atomic_uint temp_counter;

static char *dup_string(const char *s, size_t extra) {
  size_t n = strlen(s);
  char *p = mlp__alloc(n + extra + 1);
  if (p != NULL)
    memcpy(p, s, n + 1);
  return p;
}

static int write_all(mlp_writer *w, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t r = write(w->fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      w->failed = 1;
      return mlp__fail(MLP_ERR_IO, "%s: write failed: %s", w->tmp,
                       r < 0 ? strerror(errno) : "no progress");
    }
    p += r;
    n -= (size_t)r;
  }
  return MLP_OK;
}

static int flush(mlp_writer *w) {
  int st = write_all(w, w->buf, w->len);
  w->len = 0;
  return st;
}

static const char *npy_descr(mlp_dtype dtype) {
  if (mlp__host_big())
    return dtype == MLP_F32 ? ">f4" : ">f8";
  return dtype == MLP_F32 ? "<f4" : "<f8";
}

static void writer_free(mlp_writer *w) {
  if (w->fd >= 0)
    close(w->fd);
  mlp__free(w->buf);
  mlp__free(w->tmp);
  mlp__free(w->path);
  mlp__free(w);
}

int mlp_writer_open(mlp_writer **out, const char *path, mlp_dtype dtype,
                    size_t cols, mlp_format format, unsigned flags) {
  mlp_writer *w;
  char ext[16];
  size_t row_bytes;

  if (out == NULL || path == NULL) {
    if (out != NULL)
      *out = NULL;
    return mlp__fail(MLP_ERR_NULL, "mlp_writer_open: NULL argument");
  }
  *out = NULL;
  if (dtype != MLP_F32 && dtype != MLP_F64)
    return mlp__fail(MLP_ERR_DTYPE, "%s: unknown dtype %d", path, (int)dtype);
  if (cols == 0)
    return mlp__fail(MLP_ERR_ARG, "%s: rows of 0 columns", path);
  if (flags & ~MLP_WRITER_VECTOR)
    return mlp__fail(MLP_ERR_ARG, "%s: unknown writer flags 0x%x", path, flags);
  if ((flags & MLP_WRITER_VECTOR) && cols != 1)
    return mlp__fail(MLP_ERR_ARG,
                     "%s: MLP_WRITER_VECTOR needs cols == 1, "
                     "not %zu",
                     path, cols);
  if (mlp__mul_overflow(cols, mlp_dtype_size(dtype), &row_bytes))
    return mlp__fail(MLP_ERR_OVERFLOW, "%s: %zu columns overflow", path, cols);
  {
    /* The readers take gzip, the writer does not compress: a .gz name
     * would hold a plain file that its name misdescribes. */
    size_t n = strlen(path);
    if (n > 3 && strcasecmp(path + n - 3, ".gz") == 0)
      return mlp__fail(MLP_ERR_ARG,
                       "%s: gzip output is not supported (write a plain "
                       ".npy or .csv and compress it afterwards)",
                       path);
  }
  mlp__path_ext(path, ext, sizeof ext);
  if (format == MLP_FORMAT_AUTO) {
    if (strcmp(ext, "npy") == 0)
      format = MLP_FORMAT_NPY;
    else if (strcmp(ext, "csv") == 0 || strcmp(ext, "tsv") == 0 ||
             strcmp(ext, "txt") == 0)
      format = MLP_FORMAT_CSV;
    else
      return mlp__fail(MLP_ERR_ARG,
                       "%s: cannot tell the output format "
                       "from the extension (use .npy, .csv, .tsv or .txt)",
                       path);
  }
  if (format != MLP_FORMAT_NPY && format != MLP_FORMAT_CSV)
    return mlp__fail(
        MLP_ERR_ARG,
        "%s: output format %s is not supported "
        "(npy or csv)",
        path, mlp_format_name(format) ? mlp_format_name(format) : "unknown");

  w = mlp__calloc(1, sizeof *w);
  if (w == NULL)
    return mlp__fail(MLP_ERR_NOMEM, "%s: no memory for a writer", path);
  w->fd = -1;
  w->path = dup_string(path, 0);
  w->tmp = dup_string(path, 48);
  w->buf = mlp__alloc(WRITER_BUF);
  if (w->path == NULL || w->tmp == NULL || w->buf == NULL) {
    writer_free(w);
    return mlp__fail(MLP_ERR_NOMEM, "%s: no memory for a writer", path);
  }
  w->format = format;
  w->dtype = dtype;
  w->cols = cols;
  w->flags = flags;
  w->delim = strcmp(ext, "tsv") == 0 ? '\t' : ',';

  size_t n = strlen(path);
  for (int tries = 0; w->fd < 0; tries++) {
    unsigned k = atomic_fetch_add(&temp_counter, 1);
    snprintf(w->tmp + n, 48, ".tmp-%ld-%u", (long)getpid(), k);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (w->fd < 0 && (errno != EEXIST || tries == 100)) {
      int e = errno;
      writer_free(w);
      return mlp__fail(MLP_ERR_IO,
                       "%s: cannot create a temporary file "
                       "beside it: %s",
                       path, strerror(e));
    }
  }

  if (format == MLP_FORMAT_NPY) {
    w->header_len = mlp__npy_header(w->buf, NPY_HEADER_CAP, npy_descr(dtype), 0,
                                    cols, (flags & MLP_WRITER_VECTOR) != 0);
    w->len = w->header_len;
  }
  *out = w;
  return MLP_OK;
}

int mlp_writer_append(mlp_writer *w, const void *data, size_t rows) {
  size_t es, total;
  int st;

  if (w == NULL || (data == NULL && rows > 0))
    return mlp__fail(MLP_ERR_NULL, "mlp_writer_append: NULL argument");
  if (w->failed)
    return mlp__fail(MLP_ERR_STATE, "%s: an earlier write failed", w->path);
  es = mlp_dtype_size(w->dtype);
  if (mlp__mul_overflow(rows, w->cols, &total) ||
      mlp__mul_overflow(total, es, &total) || w->rows > SIZE_MAX - rows)
    return mlp__fail(MLP_ERR_OVERFLOW, "%s: %zu rows overflow", w->path, rows);

  if (w->format == MLP_FORMAT_NPY) {
    const char *p = data;
    while (total > 0) {
      size_t take = WRITER_BUF - w->len < total ? WRITER_BUF - w->len : total;
      memcpy(w->buf + w->len, p, take);
      w->len += take;
      p += take;
      total -= take;
      if (w->len == WRITER_BUF && (st = flush(w)) != MLP_OK)
        return st;
    }
  } else {
    for (size_t i = 0; i < rows; i++) {
      for (size_t j = 0; j < w->cols; j++) {
        size_t at = i * w->cols + j;
        int len;
        if (WRITER_BUF - w->len < 64 && (st = flush(w)) != MLP_OK)
          return st;
        if (w->dtype == MLP_F32)
          len = snprintf(w->buf + w->len, 64, "%.9g",
                         (double)((const float *)data)[at]);
        else
          len = snprintf(w->buf + w->len, 64, "%.17g",
                         ((const double *)data)[at]);
        w->len += (size_t)len;
        w->buf[w->len++] = j + 1 < w->cols ? w->delim : '\n';
      }
    }
  }
  w->rows += rows;
  return MLP_OK;
}

size_t mlp_writer_rows(const mlp_writer *w) { return w != NULL ? w->rows : 0; }

const char *mlp_writer_temp_path(const mlp_writer *w) {
  return w != NULL ? w->tmp : NULL;
}

void mlp_writer_abort(mlp_writer *w) {
  if (w == NULL)
    return;
  if (w->fd >= 0) {
    close(w->fd);
    w->fd = -1;
  }
  unlink(w->tmp);
  writer_free(w);
}

/* fsync of the directory holding path, so that the rename is durable.
 * Some file systems refuse fsync on directories: that is no error. */
static int sync_dir(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  size_t n = slash == NULL ? 1 : (size_t)(slash - path);
  int fd;

  if (slash == NULL)
    memcpy(dir, ".", 2);
  else if (n == 0)
    memcpy(dir, "/", 2);
  else if (n < sizeof dir) {
    memcpy(dir, path, n);
    dir[n] = '\0';
  } else {
    return MLP_OK;
  }
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return MLP_OK;
  if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    int e = errno;
    close(fd);
    return mlp__fail(MLP_ERR_IO, "%s: fsync of the directory failed: %s", path,
                     strerror(e));
  }
  close(fd);
  return MLP_OK;
}

int mlp_writer_commit(mlp_writer *w) {
  int st;

  if (w == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_writer_commit: NULL writer");
  if (w->failed) {
    st = mlp__fail(MLP_ERR_IO, "%s: not written: an earlier write failed",
                   w->path);
    mlp_writer_abort(w);
    return st;
  }
  st = flush(w);
  if (st == MLP_OK && w->format == MLP_FORMAT_NPY) {
    char header[NPY_HEADER_CAP];
    size_t len =
        mlp__npy_header(header, sizeof header, npy_descr(w->dtype), w->rows,
                        w->cols, (w->flags & MLP_WRITER_VECTOR) != 0);
    if (len != w->header_len)
      st = mlp__fail(MLP_ERR_OVERFLOW,
                     "%s: %zu rows do not fit the .npy "
                     "header",
                     w->path, w->rows);
    else if (pwrite(w->fd, header, len, 0) != (ssize_t)len)
      st = mlp__fail(MLP_ERR_IO,
                     "%s: rewriting the .npy header failed: "
                     "%s",
                     w->tmp, strerror(errno));
  }
  if (st == MLP_OK && fsync(w->fd) != 0)
    st = mlp__fail(MLP_ERR_IO, "%s: fsync failed: %s", w->tmp, strerror(errno));
  if (st == MLP_OK) {
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0)
      st = mlp__fail(MLP_ERR_IO, "%s: close failed: %s", w->tmp,
                     strerror(errno));
  }
  if (st == MLP_OK && rename(w->tmp, w->path) != 0)
    st = mlp__fail(MLP_ERR_IO, "%s: cannot rename %s over it: %s", w->path,
                   w->tmp, strerror(errno));
  if (st != MLP_OK) {
    mlp_writer_abort(w);
    return st;
  }
  st = sync_dir(w->path);
  writer_free(w);
  return st;
}
