/*
 * csv.c - numeric CSV, streamed line by line. Open scans the file once:
 * it settles the delimiter and the header, counts the data rows, checks
 * that every line has the same number of fields, and keeps a checkpoint
 * (byte offset, line number) every CSV_STRIDE rows for seeks. Reads parse
 * fields as they go, so a bad number is reported when its row is read.
 *
 * Lines end in "\n" or "\r\n"; blank lines are skipped; a UTF-8 byte order
 * mark is ignored; a field may be quoted ("1.5") and have spaces around
 * it. Numbers are parsed in the C locale whatever the program's locale.
 */
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define CSV_STRIDE 1024                 /* rows per checkpoint */
#define CSV_BUF ((size_t)1 << 20)       /* first line buffer (gzip) */
#define CSV_MAX_LINE ((size_t)64 << 20) /* longest line accepted */
#define CSV_MAX_FIELD 255               /* longest number accepted */

typedef struct csv_ckpt {
  uint64_t off;  /* byte offset of the row's line */
  uint64_t line; /* its 1-based line number */
} csv_ckpt;

struct mlp__csv {
  char delim;
  long label;    /* label field index, or -1 */
  size_t fields; /* fields per line */
  /* The line reader: data[pos..len) are unread bytes at file offset
   * base + pos. A mapped file is one buffer with eof set. */
  const char *data;
  char *own; /* the buffer of a gzip stream */
  size_t cap, len, pos;
  uint64_t base;
  int eof;
  uint64_t line; /* number of the last line returned */
  csv_ckpt *ck;
  size_t n_ck, cap_ck;
};

/* A line handed out by next_line. */
typedef struct csv_line {
  const char *s;
  size_t len;
  uint64_t off;
  uint64_t no;
} csv_line;

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) {
  c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static void reader_reset(mlp__csv *c, mlp__src *src, uint64_t off,
                         uint64_t line) {
  if (mlp__src_mapped(src)) {
    c->data = (const char *)src->map;
    c->len = src->size;
    c->base = 0;
    c->pos = (size_t)off;
    c->eof = 1;
  } else {
    c->data = c->own;
    c->len = c->pos = 0;
    c->base = off;
    c->eof = 0;
  }
  c->line = line;
}

/* Refills a gzip reader's buffer, keeping the unread bytes. */
static int refill(mlp__csv *c, mlp__src *src) {
  size_t got;
  int st;

  if (c->pos > 0) {
    memmove(c->own, c->own + c->pos, c->len - c->pos);
    c->base += c->pos;
    c->len -= c->pos;
    c->pos = 0;
  }
  if (c->len == c->cap) {
    size_t cap = c->cap * 2;
    char *p;
    if (cap > CSV_MAX_LINE)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%s: line %llu is longer than %zu "
                       "bytes",
                       src->path, (unsigned long long)c->line + 1,
                       CSV_MAX_LINE);
    if ((p = mlp__alloc(cap)) == NULL)
      return mlp__fail(MLP_ERR_NOMEM, "%s: no memory for a %zu-byte line",
                       src->path, cap);
    memcpy(p, c->own, c->len);
    mlp__free(c->own);
    c->own = p;
    c->cap = cap;
  }
  if (src->pos != c->base + c->len &&
      (st = mlp__src_seek(src, c->base + c->len)) != MLP_OK)
    return st;
  if ((st = mlp__src_read(src, c->own + c->len, c->cap - c->len, &got)) !=
      MLP_OK)
    return st;
  c->len += got;
  c->data = c->own;
  if (got == 0)
    c->eof = 1;
  return MLP_OK;
}

/* The next line, "\r\n" or "\n" removed; returns 1, or 0 at the end. */
static int next_line(mlp__csv *c, mlp__src *src, csv_line *l) {
  int st;

  memset(l, 0, sizeof *l); /* defined even on the error paths */
  for (;;) {
    const char *nl = c->pos < c->len
                         ? memchr(c->data + c->pos, '\n', c->len - c->pos)
                         : NULL;
    if (nl == NULL && !c->eof) {
      if ((st = refill(c, src)) != MLP_OK)
        return st;
      continue;
    }
    if (nl == NULL && c->pos >= c->len)
      return 0;
    size_t end = nl != NULL ? (size_t)(nl - c->data) : c->len;
    if (end - c->pos > CSV_MAX_LINE) {
      mlp__fail(MLP_ERR_FORMAT, "%s: line %llu is longer than %zu bytes",
                src->path, (unsigned long long)c->line + 1, CSV_MAX_LINE);
      return MLP_ERR_FORMAT;
    }
    l->s = c->data + c->pos;
    l->len = end - c->pos;
    l->off = c->base + c->pos;
    l->no = ++c->line;
    c->pos = nl != NULL ? end + 1 : end;
    if (l->len > 0 && l->s[l->len - 1] == '\r')
      l->len--;
    if (l->off == 0 && l->len >= 3 && memcmp(l->s, "\xEF\xBB\xBF", 3) == 0) {
      l->s += 3;
      l->len -= 3;
    }
    return 1;
  }
}

static int is_blank(const csv_line *l) {
  for (size_t i = 0; i < l->len; i++)
    if (l->s[i] != ' ' && l->s[i] != '\t')
      return 0;
  return 1;
}

/* Data lines skip blank ones. */
static int next_data_line(mlp__csv *c, mlp__src *src, csv_line *l) {
  int r;
  while ((r = next_line(c, src, l)) == 1 && is_blank(l))
    ;
  return r;
}

/* Splits a line into fields: calls fn(user, index, text, len) for each;
 * quotes and the spaces around a field are removed. Returns the number of
 * fields, or a negative status (fn's, or a quoting error). */
typedef int (*field_fn)(void *user, size_t i, const char *s, size_t n);

static long split(const char *path, const csv_line *l, char delim, field_fn fn,
                  void *user) {
  const char *p = l->s, *end = l->s + l->len;
  size_t i = 0;

  for (;; i++) {
    const char *fs;
    size_t fl;
    while (p < end && *p != delim && (*p == ' ' || *p == '\t'))
      p++;
    if (p < end && *p == '"') {
      const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
      if (q == NULL)
        return mlp__fail(MLP_ERR_FORMAT,
                         "%s: line %llu, column %zu: "
                         "unterminated quote",
                         path, (unsigned long long)l->no, i + 1);
      fs = p + 1;
      fl = (size_t)(q - fs);
      p = q + 1;
      while (p < end && *p != delim && (*p == ' ' || *p == '\t'))
        p++;
      if (p < end && *p != delim)
        return mlp__fail(MLP_ERR_FORMAT,
                         "%s: line %llu, column %zu: text "
                         "after a closing quote",
                         path, (unsigned long long)l->no, i + 1);
    } else {
      fs = p;
      while (p < end && *p != delim)
        p++;
      fl = (size_t)(p - fs);
      while (fl > 0 && (fs[fl - 1] == ' ' || fs[fl - 1] == '\t') &&
             fs[fl - 1] != delim)
        fl--;
    }
    if (fn != NULL) {
      int st = fn(user, i, fs, fl);
      if (st != MLP_OK)
        return st;
    }
    if (p == end)
      return (long)(i + 1);
    p++; /* the delimiter */
  }
}

/* The number of fields of a line: without quotes, one more than its
 * delimiters (the common case, counted fast); else as split says. */
static long count_fields(const char *path, const csv_line *l, char delim) {
  long n = 1;
  if (memchr(l->s, '"', l->len) != NULL)
    return split(path, l, delim, NULL, NULL);
  for (size_t i = 0; i < l->len; i++)
    n += l->s[i] == delim;
  return n;
}

/* Parses a whole field as a number; 0 on success. */
static int parse_number(const char *s, size_t n, double *v) {
  char buf[CSV_MAX_FIELD + 1];
  char *end;
  size_t i = 0;
  int neg = 0;

  if (n == 0 || n > CSV_MAX_FIELD)
    return 1;
  /* Plain integers of up to 15 digits are exact and common (pixels). */
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
  }
  if (n - i > 0 && n - i <= 15) {
    uint64_t u = 0;
    size_t j = i;
    while (j < n && s[j] >= '0' && s[j] <= '9')
      u = u * 10 + (uint64_t)(s[j++] - '0');
    if (j == n) {
      *v = neg ? -(double)u : (double)u;
      return 0;
    }
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  pthread_once(&c_locale_once, make_c_locale);
  *v = c_locale != (locale_t)0 ? strtod_l(buf, &end, c_locale)
                               : strtod(buf, &end);
  return end != buf + n;
}

static int number_error(const char *path, uint64_t line, size_t col,
                        const char *s, size_t n) {
  if (n == 0)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: line %llu, column %zu: empty "
                     "field",
                     path, (unsigned long long)line, col);
  return mlp__fail(MLP_ERR_FORMAT,
                   "%s: line %llu, column %zu: '%.*s%s' is "
                   "not a number",
                   path, (unsigned long long)line, col, n > 40 ? 40 : (int)n, s,
                   n > 40 ? "..." : "");
}

/* ------------------------------------------------------------------------
 * Open: delimiter, header, row count, checkpoints
 */

typedef struct header_probe {
  int all_numbers;
} header_probe;

static int probe_field(void *user, size_t i, const char *s, size_t n) {
  header_probe *h = user;
  double v;
  (void)i;
  /* An empty field says nothing (pandas leaves the index column's name
   * empty); on a data line it is reported when the row is read. */
  if (n > 0 && parse_number(s, n, &v) != 0)
    h->all_numbers = 0;
  return MLP_OK;
}

static char choose_delim(const mlp_dataset *ds, const csv_line *first) {
  char ext[16];
  if (ds->opt.csv_delimiter != 0)
    return ds->opt.csv_delimiter;
  mlp__path_ext(ds->path, ext, sizeof ext);
  if (strcmp(ext, "tsv") == 0)
    return '\t';
  for (const char *d = ",\t;"; *d != '\0'; d++)
    if (first != NULL && memchr(first->s, *d, first->len) != NULL)
      return *d;
  return ',';
}

static int add_ckpt(mlp__csv *c, const char *path, const csv_line *l) {
  if (c->n_ck == c->cap_ck) {
    size_t cap = c->cap_ck ? c->cap_ck * 2 : 64, bytes;
    csv_ckpt *p;
    if (mlp__mul_overflow(cap, sizeof *p, &bytes) ||
        (p = mlp__alloc(bytes)) == NULL)
      return mlp__fail(MLP_ERR_NOMEM, "%s: no memory for row checkpoints",
                       path);
    if (c->n_ck > 0)
      memcpy(p, c->ck, c->n_ck * sizeof *p);
    mlp__free(c->ck);
    c->ck = p;
    c->cap_ck = cap;
  }
  c->ck[c->n_ck].off = l->off;
  c->ck[c->n_ck].line = l->no - 1;
  c->n_ck++;
  return MLP_OK;
}

static int scan(mlp_dataset *ds, mlp__csv *c) {
  mlp__src *src = &ds->src;
  csv_line l;
  uint64_t first_no = 0;
  size_t rows = 0;
  int r, header;
  long n;

  reader_reset(c, src, 0, 0);
  r = next_data_line(c, src, &l);
  if (r < 0)
    return r;
  if (r == 0) { /* an empty file: no rows, no columns */
    c->delim = choose_delim(ds, NULL);
    c->label = -1;
    ds->rows = ds->cols = 0;
    return MLP_OK;
  }
  c->delim = choose_delim(ds, &l);

  header_probe h = {1};
  if ((n = split(ds->path, &l, c->delim, probe_field, &h)) < 0)
    return (int)n;
  c->fields = (size_t)n;
  header = ds->opt.csv_header == MLP_CSV_HEADER_YES ||
           (ds->opt.csv_header == MLP_CSV_HEADER_AUTO && !h.all_numbers);
  first_no = l.no;

  c->label = ds->opt.csv_label_column == MLP_CSV_LABEL_LAST
                 ? (long)c->fields - 1
                 : ds->opt.csv_label_column;
  if (c->label >= (long)c->fields)
    return mlp__fail(MLP_ERR_ARG,
                     "%s: label column %ld (from 0) but line "
                     "%llu has %zu fields",
                     ds->path, c->label, (unsigned long long)l.no, c->fields);

  if (!header) {
    if ((r = add_ckpt(c, ds->path, &l)) != MLP_OK)
      return r;
    rows = 1;
  }
  while ((r = next_data_line(c, src, &l)) == 1) {
    if (rows % CSV_STRIDE == 0 && (r = add_ckpt(c, ds->path, &l)) != MLP_OK)
      return r;
    if ((n = count_fields(ds->path, &l, c->delim)) < 0)
      return (int)n;
    if ((size_t)n != c->fields)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%s: line %llu: %ld fields, expected "
                       "%zu as on line %llu",
                       ds->path, (unsigned long long)l.no, n, c->fields,
                       (unsigned long long)first_no);
    rows++;
  }
  if (r < 0)
    return r;
  mlp__src_release(src, 0, src->size);
  ds->rows = rows;
  ds->cols = c->fields - (c->label >= 0 ? 1 : 0);
  return MLP_OK;
}

int mlp__csv_open(mlp_dataset *ds) {
  mlp__csv *c = mlp__calloc(1, sizeof *c);
  int st;

  if (c == NULL)
    return mlp__fail(MLP_ERR_NOMEM, "%s: no memory for a CSV reader", ds->path);
  ds->csv = c;
  if (!mlp__src_mapped(&ds->src)) {
    c->cap = CSV_BUF;
    if ((c->own = mlp__alloc(c->cap)) == NULL)
      return mlp__fail(MLP_ERR_NOMEM, "%s: no memory for a line buffer",
                       ds->path);
  }
  if ((st = scan(ds, c)) != MLP_OK)
    return st;
  if (ds->opt.csv_label_column != MLP_CSV_NO_LABEL && c->label < 0)
    ds->opt.csv_label_column = MLP_CSV_NO_LABEL; /* empty file */
  ds->ndim = 2;
  ds->dims[0] = ds->rows;
  ds->dims[1] = ds->cols;
  return mlp__csv_seek(ds, 0);
}

void mlp__csv_close(mlp__csv *c) {
  mlp__free(c->own);
  mlp__free(c->ck);
  mlp__free(c);
}

int mlp__csv_seek(mlp_dataset *ds, size_t row) {
  mlp__csv *c = ds->csv;
  csv_line l;
  int r;

  if (c->n_ck == 0) { /* no rows */
    reader_reset(c, &ds->src, 0, 0);
    c->pos = c->len;
    c->eof = 1;
    return MLP_OK;
  }
  size_t k = row / CSV_STRIDE < c->n_ck ? row / CSV_STRIDE : c->n_ck - 1;
  reader_reset(c, &ds->src, c->ck[k].off, c->ck[k].line);
  for (size_t skip = row - k * CSV_STRIDE; skip > 0; skip--) {
    if ((r = next_data_line(c, &ds->src, &l)) < 0)
      return r;
    if (r == 0)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%s: ended before row %zu (did the "
                       "file change?)",
                       ds->path, row);
  }
  return MLP_OK;
}

/* ------------------------------------------------------------------------
 * Reading rows
 */

typedef struct row_sink {
  const char *path;
  uint64_t line;
  long label;
  mlp_dtype dtype;
  double scale;
  void *x; /* this row's values, or NULL */
  int32_t *label_out;
  size_t fields;
} row_sink;

static int put_field(void *user, size_t i, const char *s, size_t n) {
  row_sink *k = user;
  double v;

  if (i >= k->fields)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: line %llu: more than %zu fields "
                     "(did the file change?)",
                     k->path, (unsigned long long)k->line, k->fields);
  if ((long)i == k->label) {
    if (k->label_out == NULL)
      return MLP_OK;
    if (parse_number(s, n, &v) != 0)
      return number_error(k->path, k->line, i + 1, s, n);
    if (!(v >= 0.0 && v <= (double)INT32_MAX) || v != (double)(int32_t)v)
      return mlp__fail(MLP_ERR_LABEL,
                       "%s: line %llu, column %zu: label "
                       "'%.*s' is not a class index (an integer in [0, "
                       "2^31))",
                       k->path, (unsigned long long)k->line, i + 1,
                       n > 40 ? 40 : (int)n, s);
    *k->label_out = (int32_t)v;
    return MLP_OK;
  }
  if (k->x == NULL)
    return MLP_OK;
  if (parse_number(s, n, &v) != 0)
    return number_error(k->path, k->line, i + 1, s, n);
  size_t j = k->label >= 0 && (long)i > k->label ? i - 1 : i;
  if (k->dtype == MLP_F32)
    ((float *)k->x)[j] = (float)(v * k->scale);
  else
    ((double *)k->x)[j] = v * k->scale;
  return MLP_OK;
}

int mlp__csv_read(mlp_dataset *ds, size_t n, void *x, int32_t *labels) {
  mlp__csv *c = ds->csv;
  size_t row_size = ds->cols * mlp_dtype_size(ds->opt.dtype);
  row_sink k = {ds->path,      0,    c->label, ds->opt.dtype,
                ds->opt.scale, NULL, NULL,     c->fields};
  uint64_t start = c->base + c->pos;
  csv_line l;
  long got;
  int r;

  for (size_t i = 0; i < n; i++) {
    if ((r = next_data_line(c, &ds->src, &l)) < 0)
      return r;
    if (r == 0)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%s: ended at line %llu before row "
                       "%zu (did the file change?)",
                       ds->path, (unsigned long long)c->line, ds->row + i);
    if (x == NULL && labels == NULL)
      continue;
    k.line = l.no;
    k.x = x != NULL ? (char *)x + i * row_size : NULL;
    k.label_out = labels != NULL ? labels + i : NULL;
    if ((got = split(ds->path, &l, c->delim, put_field, &k)) < 0)
      return (int)got;
    if ((size_t)got != c->fields)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%s: line %llu: %ld fields, expected "
                       "%zu (did the file change?)",
                       ds->path, (unsigned long long)l.no, got, c->fields);
  }
  mlp__src_release(&ds->src, start, (size_t)(c->base + c->pos - start));
  return MLP_OK;
}
