/*
 * dataset.c - the public dataset reader: options, format detection, and
 * batched reads of dense arrays (npy, IDX) straight from the mapping or
 * through a staging buffer for gzip. CSV reads are in csv.c.
 */
#include <math.h>
#include <string.h>

#include "io.h"

/* Bytes staged per gzip read of a dense array. */
#define CHUNK_BYTES ((size_t)1 << 20)

void mlp_dataset_options_init(mlp_dataset_options *o) {
  if (o == NULL)
    return;
  memset(o, 0, sizeof *o);
  o->format = MLP_FORMAT_AUTO;
  o->dtype = MLP_F32;
  o->scale = 1.0;
  o->csv_header = MLP_CSV_HEADER_AUTO;
  o->csv_label_column = MLP_CSV_NO_LABEL;
  o->csv_delimiter = 0;
}

static const char *const format_names[] = {"auto", "npy", "csv", "idx"};

const char *mlp_format_name(mlp_format format) {
  return (unsigned)format < 4 ? format_names[format] : NULL;
}

int mlp_format_parse(const char *name, mlp_format *format) {
  if (name == NULL || format == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_format_parse: NULL argument");
  for (unsigned i = 0; i < 4; i++) {
    if (strcmp(name, format_names[i]) == 0) {
      *format = (mlp_format)i;
      return MLP_OK;
    }
  }
  return mlp__fail(MLP_ERR_ARG,
                   "unknown format '%s' (want auto, npy, csv "
                   "or idx)",
                   name);
}

void mlp__path_ext(const char *path, char *ext, size_t cap) {
  const char *base = strrchr(path, '/');
  char name[256];
  size_t n;

  base = base != NULL ? base + 1 : path;
  n = strlen(base);
  if (n >= sizeof name)
    n = sizeof name - 1;
  for (size_t i = 0; i < n; i++) {
    char c = base[i];
    name[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  name[n] = '\0';
  if (n > 3 && strcmp(name + n - 3, ".gz") == 0) {
    n -= 3;
    name[n] = '\0';
  }
  const char *dot = strrchr(name, '.');
  ext[0] = '\0';
  if (dot != NULL && dot != name && strlen(dot + 1) < cap)
    strcpy(ext, dot + 1);
}

static int check_options(const mlp_dataset_options *o) {
  if ((unsigned)o->format > MLP_FORMAT_IDX)
    return mlp__fail(MLP_ERR_ARG, "dataset options: unknown format %d",
                     (int)o->format);
  if (o->dtype != MLP_F32 && o->dtype != MLP_F64)
    return mlp__fail(MLP_ERR_DTYPE, "dataset options: unknown dtype %d",
                     (int)o->dtype);
  if (!isfinite(o->scale))
    return mlp__fail(MLP_ERR_ARG, "dataset options: scale must be finite");
  if ((unsigned)o->csv_header > MLP_CSV_HEADER_NO)
    return mlp__fail(MLP_ERR_ARG, "dataset options: unknown csv_header %d",
                     (int)o->csv_header);
  if (o->csv_label_column < MLP_CSV_LABEL_LAST)
    return mlp__fail(MLP_ERR_ARG, "dataset options: csv_label_column %ld",
                     o->csv_label_column);
  if (o->csv_delimiter == '"' || o->csv_delimiter == '\n' ||
      o->csv_delimiter == '\r' || o->csv_delimiter == '.' ||
      o->csv_delimiter == '-' || o->csv_delimiter == '+' ||
      (o->csv_delimiter >= '0' && o->csv_delimiter <= '9'))
    return mlp__fail(MLP_ERR_ARG,
                     "dataset options: '%c' cannot be a CSV "
                     "delimiter",
                     o->csv_delimiter);
  return MLP_OK;
}

/* The format from the first bytes, then the extension. */
static int detect_format(mlp_dataset *ds, mlp_format *format) {
  unsigned char head[6];
  size_t got;
  char ext[16];
  int st;

  if ((st = mlp__src_read(&ds->src, head, sizeof head, &got)) != MLP_OK ||
      (st = mlp__src_seek(&ds->src, 0)) != MLP_OK)
    return st;
  if (got >= 6 && memcmp(head, "\x93NUMPY", 6) == 0) {
    *format = MLP_FORMAT_NPY;
    return MLP_OK;
  }
  if (got >= 4 && head[0] == 0 && head[1] == 0 && head[3] >= 1 &&
      head[3] <= MLP__MAX_DIMS &&
      memchr("\x08\x09\x0b\x0c\x0d\x0e", head[2], 6) != NULL) {
    *format = MLP_FORMAT_IDX;
    return MLP_OK;
  }
  mlp__path_ext(ds->path, ext, sizeof ext);
  if (strcmp(ext, "npy") == 0)
    *format = MLP_FORMAT_NPY;
  else if (strcmp(ext, "csv") == 0 || strcmp(ext, "tsv") == 0 ||
           strcmp(ext, "txt") == 0)
    *format = MLP_FORMAT_CSV;
  else if (strcmp(ext, "idx") == 0 || strstr(ext, "ubyte") != NULL)
    *format = MLP_FORMAT_IDX;
  else
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: cannot tell the format from the "
                     "first bytes or the extension; set it (npy, csv, "
                     "idx)",
                     ds->path);
  return MLP_OK;
}

/* Shape, sizes and bounds of a dense array after its header was read. */
static int dense_setup(mlp_dataset *ds) {
  size_t esize = mlp__etype_size(ds->etype), total;

  ds->rows = ds->dims[0];
  ds->cols = 1;
  for (size_t i = 1; i < ds->ndim; i++)
    if (mlp__mul_overflow(ds->cols, ds->dims[i], &ds->cols))
      return mlp__fail(MLP_ERR_OVERFLOW,
                       "%s: the dimensions multiply "
                       "beyond size_t",
                       ds->path);
  if (ds->cols == 0 && ds->rows > 0)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: rows of 0 values (shape has a "
                     "zero dimension)",
                     ds->path);
  if (mlp__mul_overflow(ds->cols, esize, &ds->row_bytes) ||
      mlp__mul_overflow(ds->rows, ds->row_bytes, &total) ||
      (uint64_t)total > UINT64_MAX - ds->data_off)
    return mlp__fail(MLP_ERR_OVERFLOW, "%s: the data size exceeds size_t",
                     ds->path);
  if (mlp__src_mapped(&ds->src)) {
    if (ds->data_off > ds->src.size ||
        total > ds->src.size - (size_t)ds->data_off)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%s: truncated: the header gives "
                       "%zu bytes of data from byte %llu, the file has "
                       "%zu bytes",
                       ds->path, total, (unsigned long long)ds->data_off,
                       ds->src.size);
  } else {
    ds->chunk_bytes = CHUNK_BYTES / esize * esize;
    ds->chunk = mlp__alloc(ds->chunk_bytes);
    if (ds->chunk == NULL)
      return mlp__fail(MLP_ERR_NOMEM, "%s: no memory for a read buffer",
                       ds->path);
  }
  return MLP_OK;
}

int mlp_dataset_open(mlp_dataset **out, const char *path,
                     const mlp_dataset_options *options) {
  mlp_dataset *ds;
  mlp_dataset_options defaults;
  size_t len;
  int st;

  if (out == NULL || path == NULL) {
    if (out != NULL)
      *out = NULL;
    return mlp__fail(MLP_ERR_NULL, "mlp_dataset_open: NULL argument");
  }
  *out = NULL;
  if (options == NULL) {
    mlp_dataset_options_init(&defaults);
    options = &defaults;
  }
  if ((st = check_options(options)) != MLP_OK)
    return st;

  ds = mlp__calloc(1, sizeof *ds);
  len = strlen(path);
  if (ds == NULL || (ds->path = mlp__alloc(len + 1)) == NULL) {
    mlp__free(ds);
    return mlp__fail(MLP_ERR_NOMEM, "%s: no memory for a dataset", path);
  }
  memcpy(ds->path, path, len + 1);
  ds->opt = *options;
  ds->src.fd = -1;

  st = mlp__src_open(&ds->src, ds->path);
  if (st == MLP_OK) {
    ds->format = options->format;
    if (ds->format == MLP_FORMAT_AUTO)
      st = detect_format(ds, &ds->format);
  }
  if (st == MLP_OK) {
    switch (ds->format) {
    case MLP_FORMAT_NPY:
      if ((st = mlp__npy_open(ds)) == MLP_OK)
        st = dense_setup(ds);
      break;
    case MLP_FORMAT_IDX:
      if ((st = mlp__idx_open(ds)) == MLP_OK)
        st = dense_setup(ds);
      break;
    default:
      st = mlp__csv_open(ds);
      break;
    }
  }
  if (st != MLP_OK) {
    mlp_dataset_close(ds);
    return st;
  }
  *out = ds;
  return MLP_OK;
}

void mlp_dataset_close(mlp_dataset *ds) {
  if (ds == NULL)
    return;
  mlp__src_close(&ds->src);
  if (ds->csv != NULL)
    mlp__csv_close(ds->csv);
  mlp__free(ds->chunk);
  mlp__free(ds->path);
  mlp__free(ds);
}

size_t mlp_dataset_rows(const mlp_dataset *ds) {
  return ds != NULL ? ds->rows : 0;
}

size_t mlp_dataset_cols(const mlp_dataset *ds) {
  return ds != NULL ? ds->cols : 0;
}

size_t mlp_dataset_shape(const mlp_dataset *ds, size_t *dims, size_t max_dims) {
  if (ds == NULL)
    return 0;
  for (size_t i = 0; dims != NULL && i < max_dims && i < ds->ndim; i++)
    dims[i] = ds->dims[i];
  return ds->ndim;
}

mlp_format mlp_dataset_format(const mlp_dataset *ds) {
  return ds != NULL ? ds->format : MLP_FORMAT_AUTO;
}

const char *mlp_dataset_source_type(const mlp_dataset *ds) {
  if (ds == NULL)
    return "";
  return ds->format == MLP_FORMAT_CSV ? "f64" : mlp__etype_name(ds->etype);
}

int mlp_dataset_has_labels(const mlp_dataset *ds) {
  return ds != NULL && ds->format == MLP_FORMAT_CSV &&
         ds->opt.csv_label_column != MLP_CSV_NO_LABEL;
}

size_t mlp_dataset_tell(const mlp_dataset *ds) {
  return ds != NULL ? ds->row : 0;
}

/* What to do with the stored elements of a dense read. */
typedef struct dense_sink {
  void *x;         /* values, or NULL */
  int32_t *labels; /* class indices, or NULL */
} dense_sink;

/* Handles `count` stored elements at src, the elements numbered from
 * `first` counted from the read's first row. */
static int dense_put(mlp_dataset *ds, const dense_sink *k, const void *src,
                     size_t first, size_t count) {
  if (k->x != NULL) {
    size_t dsize = mlp_dtype_size(ds->opt.dtype);
    mlp__convert(ds->etype, ds->big, src, count, ds->opt.dtype, ds->opt.scale,
                 (char *)k->x + first * dsize);
  }
  if (k->labels != NULL) {
    size_t bad =
        mlp__convert_labels(ds->etype, ds->big, src, count, k->labels + first);
    if (bad < count) {
      double v;
      mlp__convert(ds->etype, ds->big,
                   (const char *)src + bad * mlp__etype_size(ds->etype), 1,
                   MLP_F64, 1.0, &v);
      return mlp__fail(MLP_ERR_LABEL,
                       "%s: row %zu: %.17g is not a class "
                       "index (an integer in [0, 2^31))",
                       ds->path, ds->row + first + bad, v);
    }
  }
  return MLP_OK;
}

/* Reads rows [ds->row, ds->row + n) of a dense array into the sink. */
static int dense_read(mlp_dataset *ds, size_t n, const dense_sink *k) {
  size_t esize = mlp__etype_size(ds->etype);
  size_t count = n * ds->cols; /* bounded by the checked total */
  uint64_t off = ds->data_off + (uint64_t)ds->row * ds->row_bytes;
  int st;

  /* A mapped file was checked to hold every row at open; a gzip stream
   * is decompressed even when rows are skipped, so that a stream shorter
   * than its header says fails where it ends. */
  if (mlp__src_mapped(&ds->src)) {
    if (k->x == NULL && k->labels == NULL)
      return MLP_OK;
    st = dense_put(ds, k, ds->src.map + off, 0, count);
    mlp__src_release(&ds->src, off, count * esize);
    return st;
  }

  if (ds->src.pos != off && (st = mlp__src_seek(&ds->src, off)) != MLP_OK)
    return st;
  for (size_t done = 0; done < count;) {
    size_t take = count - done;
    if (take > ds->chunk_bytes / esize)
      take = ds->chunk_bytes / esize;
    if ((st = mlp__src_read_exact(&ds->src, ds->chunk, take * esize,
                                  "the array data")) != MLP_OK ||
        (st = dense_put(ds, k, ds->chunk, done, take)) != MLP_OK)
      return st;
    done += take;
  }
  return MLP_OK;
}

static int read_args(mlp_dataset *ds, size_t max_rows, size_t *rows_read,
                     const char *where) {
  if (rows_read != NULL)
    *rows_read = 0;
  if (ds == NULL || rows_read == NULL)
    return mlp__fail(MLP_ERR_NULL, "%s: NULL argument", where);
  if (max_rows == 0)
    return mlp__fail(MLP_ERR_BATCH, "%s: max_rows is 0", where);
  return MLP_OK;
}

int mlp_dataset_read(mlp_dataset *ds, void *x, size_t max_rows, int32_t *labels,
                     size_t *rows_read) {
  size_t n;
  int st;

  if ((st = read_args(ds, max_rows, rows_read, "mlp_dataset_read")) != MLP_OK)
    return st;
  n = ds->rows - ds->row < max_rows ? ds->rows - ds->row : max_rows;
  if (n == 0)
    return MLP_OK;
  if (ds->format == MLP_FORMAT_CSV) {
    st = mlp__csv_read(ds, n, x, mlp_dataset_has_labels(ds) ? labels : NULL);
  } else {
    dense_sink k = {x, NULL};
    st = dense_read(ds, n, &k);
  }
  if (st != MLP_OK)
    return st;
  ds->row += n;
  *rows_read = n;
  return MLP_OK;
}

/* CSV values of a one-column file as labels, in pieces. */
static int csv_value_labels(mlp_dataset *ds, size_t n, int32_t *labels) {
  double tmp[512];
  mlp_dataset_options saved = ds->opt;
  int st = MLP_OK;

  ds->opt.dtype = MLP_F64;
  ds->opt.scale = 1.0;
  for (size_t done = 0; done < n && st == MLP_OK;) {
    size_t take = n - done < 512 ? n - done : 512;
    st = mlp__csv_read(ds, take, tmp, NULL);
    if (st == MLP_OK) {
      size_t bad = mlp__convert_labels(MLP__F64, mlp__host_big(), tmp, take,
                                       labels + done);
      if (bad < take)
        st = mlp__fail(MLP_ERR_LABEL,
                       "%s: row %zu: %.17g is not a class "
                       "index (an integer in [0, 2^31))",
                       ds->path, ds->row + bad, tmp[bad]);
      ds->row += take;
      done += take;
    }
  }
  ds->opt = saved;
  return st;
}

int mlp_dataset_read_labels(mlp_dataset *ds, int32_t *labels, size_t max_rows,
                            size_t *rows_read) {
  size_t n, start;
  int st;

  if ((st = read_args(ds, max_rows, rows_read, "mlp_dataset_read_labels")) !=
      MLP_OK)
    return st;
  if (labels == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_dataset_read_labels: NULL labels");
  n = ds->rows - ds->row < max_rows ? ds->rows - ds->row : max_rows;
  start = ds->row;
  if (ds->format == MLP_FORMAT_CSV && mlp_dataset_has_labels(ds)) {
    st = mlp__csv_read(ds, n, NULL, labels);
    if (st == MLP_OK)
      ds->row += n;
  } else if (ds->cols != 1) {
    return mlp__fail(MLP_ERR_SHAPE,
                     "%s: a label file needs one value per "
                     "row, this one has %zu",
                     ds->path, ds->cols);
  } else if (n == 0) {
    st = MLP_OK;
  } else if (ds->format == MLP_FORMAT_CSV) {
    st = csv_value_labels(ds, n, labels);
  } else {
    dense_sink k = {NULL, labels};
    st = dense_read(ds, n, &k);
    if (st == MLP_OK)
      ds->row += n;
  }
  if (st != MLP_OK)
    return st;
  *rows_read = ds->row - start;
  return MLP_OK;
}

int mlp_dataset_seek(mlp_dataset *ds, size_t row) {
  if (ds == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_dataset_seek: NULL dataset");
  if (row > ds->rows)
    return mlp__fail(MLP_ERR_ARG, "%s: cannot seek to row %zu of %zu", ds->path,
                     row, ds->rows);
  if (ds->format == MLP_FORMAT_CSV) {
    int st = mlp__csv_seek(ds, row);
    if (st != MLP_OK)
      return st;
  }
  /* Dense arrays move lazily: the next read seeks the stream. */
  ds->row = row;
  return MLP_OK;
}

int mlp_dataset_rewind(mlp_dataset *ds) { return mlp_dataset_seek(ds, 0); }
