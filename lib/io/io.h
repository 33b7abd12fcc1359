/*
 * io.h - what the dataset readers and writers share: a byte source that
 * is either a read-only mapping of a plain file or a gzip stream, element
 * types of stored arrays and their conversion, and the dataset handle.
 * Internal to lib/io.
 */
#ifndef MLP_IO_H
#define MLP_IO_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* ------------------------------------------------------------------------
 * Byte source
 */

typedef struct mlp__src {
  const char *path;         /* for messages; not owned */
  int fd;                   /* -1 once handed to zlib or closed */
  void *gz;                 /* gzFile when the file is gzip, else NULL */
  const unsigned char *map; /* the whole plain file, or NULL when empty */
  size_t size;              /* bytes of a plain file */
  uint64_t pos;             /* offset of the next byte (uncompressed) */
} mlp__src;

/* Opens path: gzip when it starts with the gzip magic, else mapped. */
int mlp__src_open(mlp__src *s, const char *path);
void mlp__src_close(mlp__src *s);
/* Reads up to n bytes at the position; *got < n only at the end of data.
 * MLP_ERR_FORMAT for corrupt gzip data, MLP_ERR_IO for read errors. */
int mlp__src_read(mlp__src *s, void *buf, size_t n, size_t *got);
/* Reads exactly n bytes; `what` names them in the truncation message. */
int mlp__src_read_exact(mlp__src *s, void *buf, size_t n, const char *what);
/* Moves the position to off (gzip: decompresses forward, or from the start
 * when going back). */
int mlp__src_seek(mlp__src *s, uint64_t off);
/* Drops the pages of bytes [off, off + n) of a mapped file from this
 * process (they stay in the page cache), so that reading a file larger
 * than memory keeps the resident size small. A no-op for gzip and for
 * files under MLP__SRC_RELEASE_MIN bytes. */
#define MLP__SRC_RELEASE_MIN ((size_t)64 << 20)
void mlp__src_release(mlp__src *s, uint64_t off, size_t n);
static inline int mlp__src_mapped(const mlp__src *s) { return s->gz == NULL; }

/* ------------------------------------------------------------------------
 * Element types of stored arrays
 */

typedef enum mlp__etype {
  MLP__U8,
  MLP__I8,
  MLP__U16,
  MLP__I16,
  MLP__U32,
  MLP__I32,
  MLP__U64,
  MLP__I64,
  MLP__F16,
  MLP__F32,
  MLP__F64,
  MLP__BOOL
} mlp__etype;

size_t mlp__etype_size(mlp__etype t);
static inline int mlp__host_big(void) {
  const union {
    uint16_t u;
    unsigned char c[2];
  } one = {1};
  return one.c[0] == 0;
}
const char *mlp__etype_name(mlp__etype t);
static inline int mlp__etype_is_float(mlp__etype t) {
  return t == MLP__F16 || t == MLP__F32 || t == MLP__F64;
}

/*
 * Converts n stored elements at src (type t, big-endian when `big`) to
 * dtype at dst; integers are multiplied by scale. src needs no alignment.
 */
void mlp__convert(mlp__etype t, int big, const void *src, size_t n,
                  mlp_dtype dtype, double scale, void *dst);
/*
 * Converts n stored elements to int32 class indices. Returns the index of
 * the first element that is not an integer in [0, 2^31), or n when all
 * are.
 */
size_t mlp__convert_labels(mlp__etype t, int big, const void *src, size_t n,
                           int32_t *dst);

/* ------------------------------------------------------------------------
 * The dataset handle
 */

#define MLP__MAX_DIMS 32

typedef struct mlp__csv mlp__csv;

struct mlp_dataset {
  char *path;
  mlp_dataset_options opt;
  mlp_format format;
  mlp__src src;
  size_t ndim;
  size_t dims[MLP__MAX_DIMS];
  size_t rows, cols;
  size_t row; /* the next row to read */
  /* Dense arrays (npy, IDX). */
  mlp__etype etype;
  int big;              /* stored big-endian */
  uint64_t data_off;    /* offset of row 0 */
  size_t row_bytes;     /* cols * element size */
  unsigned char *chunk; /* staging buffer for gzip reads */
  size_t chunk_bytes;
  /* CSV. */
  mlp__csv *csv;
};

/* Format parsers: fill ds's shape, type and data offset from the file's
 * header (ds->src is open at offset 0; ds->path and ds->opt are set). */
int mlp__npy_open(mlp_dataset *ds);
int mlp__idx_open(mlp_dataset *ds);
int mlp__csv_open(mlp_dataset *ds);
void mlp__csv_close(mlp__csv *csv);
/* Reads n rows (n <= rows left) at the current row into x and labels
 * (either may be NULL). */
int mlp__csv_read(mlp_dataset *ds, size_t n, void *x, int32_t *labels);
/* Positions the CSV reader at data row `row`. */
int mlp__csv_seek(mlp_dataset *ds, size_t row);

/* Writes a .npy 1.0 header for shape (rows, cols), or (rows,) when vector,
 * to buf; its length does not depend on rows, so it can be rewritten in
 * place. Returns its length (a multiple of 64), 0 when cap is too small. */
size_t mlp__npy_header(char *buf, size_t cap, const char *descr, size_t rows,
                       size_t cols, int vector);

/* Lower-case extension of path's file name with a final ".gz" dropped
 * ("npy" for "a/x.npy.gz"), written to ext (size cap); "" when none. */
void mlp__path_ext(const char *path, char *ext, size_t cap);

#endif /* MLP_IO_H */
