/*
 * source.c - the bytes of a dataset file: a read-only mapping of a plain
 * file (the page cache holds what is read, so files larger than memory
 * work) or a zlib stream for gzip files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io.h"

/* Bytes handed to one gzread call (it takes an unsigned int). */
#define GZ_STEP ((size_t)1 << 30)

int mlp__src_open(mlp__src *s, const char *path) {
  struct stat st;
  unsigned char magic[2];
  ssize_t got;

  memset(s, 0, sizeof *s);
  s->path = path;
  s->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0)
    return mlp__fail(MLP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  if (fstat(s->fd, &st) != 0) {
    int e = errno;
    mlp__src_close(s);
    return mlp__fail(MLP_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    mlp__src_close(s);
    return mlp__fail(MLP_ERR_IO, "%s: not a regular file", path);
  }

  got = pread(s->fd, magic, 2, 0);
  if (got < 0) {
    int e = errno;
    mlp__src_close(s);
    return mlp__fail(MLP_ERR_IO, "%s: cannot read: %s", path, strerror(e));
  }
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    gzFile gz = gzdopen(s->fd, "rb");
    if (gz == NULL) {
      mlp__src_close(s);
      return mlp__fail(MLP_ERR_NOMEM, "%s: cannot start gzip stream", path);
    }
    s->fd = -1; /* zlib owns it now */
    s->gz = gz;
    gzbuffer(gz, 1 << 18);
    return MLP_OK;
  }

  if ((uintmax_t)st.st_size > SIZE_MAX) {
    mlp__src_close(s);
    return mlp__fail(MLP_ERR_OVERFLOW,
                     "%s: file of %jd bytes exceeds the "
                     "address space",
                     path, (intmax_t)st.st_size);
  }
  s->size = (size_t)st.st_size;
  if (s->size > 0) {
    void *m = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, s->fd, 0);
    if (m == MAP_FAILED) {
      int e = errno;
      mlp__src_close(s);
      return mlp__fail(MLP_ERR_IO, "%s: cannot mmap: %s", path, strerror(e));
    }
    madvise(m, s->size, MADV_SEQUENTIAL);
    s->map = m;
  }
  /* The mapping stays valid without the descriptor. */
  close(s->fd);
  s->fd = -1;
  return MLP_OK;
}

void mlp__src_close(mlp__src *s) {
  if (s->gz != NULL)
    gzclose((gzFile)s->gz);
  if (s->map != NULL)
    munmap((void *)s->map, s->size);
  if (s->fd >= 0)
    close(s->fd);
  s->gz = NULL;
  s->map = NULL;
  s->fd = -1;
}

static int gz_failure(mlp__src *s) {
  int zerr = 0;
  const char *msg = gzerror((gzFile)s->gz, &zerr);
  if (zerr == Z_ERRNO)
    return mlp__fail(MLP_ERR_IO, "%s: read failed: %s", s->path,
                     strerror(errno));
  if (zerr == Z_MEM_ERROR)
    return mlp__fail(MLP_ERR_NOMEM, "%s: zlib out of memory", s->path);
  if (msg == NULL)
    msg = "unknown zlib error";
  /* zlib names the stream "<fd:N>" before its message: drop that. */
  if (strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ">: ") != NULL)
    msg = strstr(msg, ">: ") + 3;
  return mlp__fail(MLP_ERR_FORMAT,
                   "%s: corrupt gzip data near uncompressed byte %llu: %s",
                   s->path, (unsigned long long)s->pos, msg);
}

int mlp__src_read(mlp__src *s, void *buf, size_t n, size_t *got) {
  *got = 0;
  if (s->gz == NULL) {
    size_t left = s->pos < s->size ? s->size - (size_t)s->pos : 0;
    size_t k = n < left ? n : left;
    if (k > 0)
      memcpy(buf, s->map + s->pos, k);
    s->pos += k;
    *got = k;
    return MLP_OK;
  }
  while (*got < n) {
    size_t want = n - *got < GZ_STEP ? n - *got : GZ_STEP;
    int r = gzread((gzFile)s->gz, (char *)buf + *got, (unsigned)want);
    if (r < 0)
      return gz_failure(s);
    *got += (size_t)r;
    s->pos += (uint64_t)r;
    if ((size_t)r < want) {
      /* A short read is the end of the stream, or an error zlib keeps
       * (a truncated stream reports "unexpected end of file"). */
      int zerr = 0;
      gzerror((gzFile)s->gz, &zerr);
      if (zerr != Z_OK)
        return gz_failure(s);
      break;
    }
  }
  return MLP_OK;
}

int mlp__src_read_exact(mlp__src *s, void *buf, size_t n, const char *what) {
  uint64_t at = s->pos;
  size_t got;
  int st = mlp__src_read(s, buf, n, &got);
  if (st != MLP_OK)
    return st;
  if (got < n)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: truncated at byte %llu: %s needs %zu bytes, "
                     "%zu left",
                     s->path, (unsigned long long)at, what, n, got);
  return MLP_OK;
}

void mlp__src_release(mlp__src *s, uint64_t off, size_t n) {
  static size_t page;
  uintptr_t lo, hi;

  if (s->map == NULL || s->size < MLP__SRC_RELEASE_MIN || off >= s->size)
    return;
  if (page == 0) {
    long p = sysconf(_SC_PAGESIZE);
    page = p > 0 ? (size_t)p : 4096;
  }
  if (n > s->size - off)
    n = s->size - (size_t)off;
  /* Whole pages inside the range only: the mapping starts on a page. */
  lo = ((uintptr_t)s->map + (uintptr_t)off + page - 1) & ~(uintptr_t)(page - 1);
  hi = ((uintptr_t)s->map + (uintptr_t)off + n) & ~(uintptr_t)(page - 1);
  if (hi > lo)
    madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

int mlp__src_seek(mlp__src *s, uint64_t off) {
  if (s->gz == NULL) {
    s->pos = off;
    return MLP_OK;
  }
  if (off > (uint64_t)LONG_MAX || (z_off_t)off < 0)
    return mlp__fail(MLP_ERR_OVERFLOW, "%s: offset %llu too large for zlib",
                     s->path, (unsigned long long)off);
  if (gzseek((gzFile)s->gz, (z_off_t)off, SEEK_SET) != (z_off_t)off) {
    int zerr = 0;
    gzerror((gzFile)s->gz, &zerr);
    if (zerr != Z_OK)
      return gz_failure(s);
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: cannot seek to uncompressed byte %llu: the "
                     "data ends before",
                     s->path, (unsigned long long)off);
  }
  s->pos = off;
  return MLP_OK;
}
