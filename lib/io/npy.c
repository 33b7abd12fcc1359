/*
 * npy.c - NumPy's .npy format, versions 1.0, 2.0 and 3.0: the magic
 * "\x93NUMPY", a version, a little-endian header length (2 bytes in 1.0,
 * 4 after), then a Python dict literal with the keys 'descr',
 * 'fortran_order' and 'shape', then the C-order array. Only plain numeric
 * descrs are read; object arrays (pickles), structured and string dtypes
 * and Fortran order are refused with a message that says so.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

/* Longest header read; numpy itself refuses more than 10000 bytes by
 * default, and every header we can use is under 300. */
#define NPY_MAX_HEADER 65536

typedef struct parser {
  const char *path;
  const char *s; /* the header text, NUL-terminated */
  size_t pos;
  size_t base; /* file offset of s[0] */
} parser;

static int perr(const parser *p, const char *what) {
  return mlp__fail(MLP_ERR_FORMAT, "%s: .npy header, byte %zu: %s", p->path,
                   p->base + p->pos, what);
}

static void skip_ws(parser *p) {
  while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
         p->s[p->pos] == '\r')
    p->pos++;
}

/* A quoted Python string without escapes, copied to out (cap bytes). */
static int parse_string(parser *p, char *out, size_t cap) {
  char q = p->s[p->pos];
  size_t n = 0;
  if (q != '\'' && q != '"')
    return perr(p, "expected a quoted string");
  p->pos++;
  while (p->s[p->pos] != q) {
    char c = p->s[p->pos];
    if (c == '\0')
      return perr(p, "unterminated string");
    if (c == '\\')
      return perr(p, "escape sequences are not supported in the header");
    if (n + 1 >= cap)
      return perr(p, "string too long");
    out[n++] = c;
    p->pos++;
  }
  out[n] = '\0';
  p->pos++;
  return MLP_OK;
}

static int parse_bool(parser *p, int *v) {
  if (strncmp(p->s + p->pos, "True", 4) == 0) {
    *v = 1;
    p->pos += 4;
  } else if (strncmp(p->s + p->pos, "False", 5) == 0) {
    *v = 0;
    p->pos += 5;
  } else {
    return perr(p, "'fortran_order' must be True or False");
  }
  return MLP_OK;
}

/* A tuple of non-negative integers: (), (3,), (3, 4), (3L, 4L). */
static int parse_shape(parser *p, mlp_dataset *ds) {
  if (p->s[p->pos] != '(')
    return perr(p, "'shape' must be a tuple");
  p->pos++;
  ds->ndim = 0;
  for (;;) {
    skip_ws(p);
    if (p->s[p->pos] == ')')
      break;
    if (!isdigit((unsigned char)p->s[p->pos]))
      return perr(p, "a shape entry must be a non-negative integer");
    size_t v = 0;
    while (isdigit((unsigned char)p->s[p->pos])) {
      size_t d = (size_t)(p->s[p->pos] - '0');
      if (v > (SIZE_MAX - d) / 10)
        return mlp__fail(MLP_ERR_OVERFLOW,
                         "%s: .npy header, byte %zu: "
                         "dimension exceeds size_t",
                         p->path, p->base + p->pos);
      v = v * 10 + d;
      p->pos++;
    }
    if (p->s[p->pos] == 'L')
      p->pos++;
    if (ds->ndim == MLP__MAX_DIMS)
      return perr(p, "more than 32 dimensions");
    ds->dims[ds->ndim++] = v;
    skip_ws(p);
    if (p->s[p->pos] == ',')
      p->pos++;
    else if (p->s[p->pos] != ')')
      return perr(p, "expected ',' or ')' in the shape");
  }
  p->pos++;
  return MLP_OK;
}

/* '<f4', '>i8', '|u1', '|b1', ... into ds->etype and ds->big. */
static int parse_descr(parser *p, size_t at, const char *d, mlp_dataset *ds) {
  char order = d[0], kind;
  long size;
  char *end;

  p->pos = at;
  if (strchr("<>|=", order) == NULL || d[1] == '\0')
    return perr(p, "descr must be a byte order ('<', '>', '|', '=') "
                   "followed by a type such as 'f4'");
  kind = d[1];
  if (kind == 'O')
    return perr(p, "object arrays are not supported: they hold pickled "
                   "Python objects, which are never loaded");
  if (strchr("biuf", kind) == NULL) {
    char msg[128];
    snprintf(msg, sizeof msg,
             "dtype '%.20s' is not supported (want bool, "
             "signed or unsigned integers, f2, f4 or f8)",
             d);
    return perr(p, msg);
  }
  size = strtol(d + 2, &end, 10);
  if (end == d + 2 || *end != '\0')
    return perr(p, "descr lacks a valid element size");

  static const struct {
    char kind;
    long size;
    mlp__etype t;
  } types[] = {
      {'b', 1, MLP__BOOL}, {'u', 1, MLP__U8},  {'i', 1, MLP__I8},
      {'u', 2, MLP__U16},  {'i', 2, MLP__I16}, {'u', 4, MLP__U32},
      {'i', 4, MLP__I32},  {'u', 8, MLP__U64}, {'i', 8, MLP__I64},
      {'f', 2, MLP__F16},  {'f', 4, MLP__F32}, {'f', 8, MLP__F64},
  };
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    if (types[i].kind == kind && types[i].size == size) {
      ds->etype = types[i].t;
      if (order == '|' && size > 1)
        return perr(p, "descr '|' (no byte order) on a multi-byte type");
      ds->big = order == '>';
      if (order == '=')
        ds->big = mlp__host_big();
      return MLP_OK;
    }
  }
  char msg[128];
  snprintf(msg, sizeof msg,
           "dtype '%.20s' is not supported (element size "
           "%ld)",
           d, size);
  return perr(p, msg);
}

static int parse_dict(parser *p, mlp_dataset *ds) {
  int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0;
  char key[32], descr[64];
  size_t descr_at = 0;
  int st;

  skip_ws(p);
  if (p->s[p->pos] != '{')
    return perr(p, "the header is not a dict literal ('{' expected)");
  p->pos++;
  for (;;) {
    skip_ws(p);
    if (p->s[p->pos] == '}')
      break;
    size_t key_at = p->pos;
    if ((st = parse_string(p, key, sizeof key)) != MLP_OK)
      return st;
    skip_ws(p);
    if (p->s[p->pos] != ':')
      return perr(p, "expected ':' after a key");
    p->pos++;
    skip_ws(p);
    if (strcmp(key, "descr") == 0 && !have_descr) {
      if (p->s[p->pos] == '[')
        return perr(p, "structured dtypes (a list of fields) are not "
                       "supported");
      descr_at = p->pos;
      if ((st = parse_string(p, descr, sizeof descr)) != MLP_OK)
        return st;
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
      if ((st = parse_bool(p, &fortran)) != MLP_OK)
        return st;
      have_order = 1;
    } else if (strcmp(key, "shape") == 0 && !have_shape) {
      if ((st = parse_shape(p, ds)) != MLP_OK)
        return st;
      have_shape = 1;
    } else {
      p->pos = key_at;
      return perr(p, "unknown or repeated key (want 'descr', "
                     "'fortran_order', 'shape')");
    }
    skip_ws(p);
    if (p->s[p->pos] == ',')
      p->pos++;
    else if (p->s[p->pos] != '}')
      return perr(p, "expected ',' or '}' in the dict");
  }
  p->pos++;
  skip_ws(p);
  if (p->s[p->pos] != '\0')
    return perr(p, "unexpected text after the dict");
  if (!have_descr || !have_order || !have_shape)
    return perr(p, "the dict lacks one of 'descr', 'fortran_order', "
                   "'shape'");
  if ((st = parse_descr(p, descr_at, descr, ds)) != MLP_OK)
    return st;
  if (fortran)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: Fortran-order arrays are not "
                     "supported (save a C-order copy: "
                     "np.ascontiguousarray)",
                     p->path);
  return MLP_OK;
}

int mlp__npy_open(mlp_dataset *ds) {
  unsigned char pre[12];
  size_t pre_len, hlen;
  char *text;
  int st;

  if ((st = mlp__src_read_exact(&ds->src, pre, 10, "the .npy preamble")) !=
      MLP_OK)
    return st;
  if (memcmp(pre, "\x93NUMPY", 6) != 0)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: byte 0: not a .npy file (no "
                     "\\x93NUMPY magic)",
                     ds->path);
  if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: byte 6: .npy version %u.%u is not "
                     "supported (1.0, 2.0, 3.0 are)",
                     ds->path, pre[6], pre[7]);
  if (pre[6] == 1) {
    pre_len = 10;
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
  } else {
    if ((st = mlp__src_read_exact(&ds->src, pre + 10, 2,
                                  "the .npy header length")) != MLP_OK)
      return st;
    pre_len = 12;
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
           (size_t)pre[11] << 24;
  }
  if (hlen > NPY_MAX_HEADER)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: byte 8: .npy header length %zu "
                     "exceeds the %d-byte limit",
                     ds->path, hlen, NPY_MAX_HEADER);

  text = mlp__alloc(hlen + 1);
  if (text == NULL)
    return mlp__fail(MLP_ERR_NOMEM, "%s: no memory for the .npy header",
                     ds->path);
  st = mlp__src_read_exact(&ds->src, text, hlen, "the .npy header");
  if (st == MLP_OK) {
    text[hlen] = '\0';
    if (strlen(text) != hlen) {
      st = mlp__fail(MLP_ERR_FORMAT,
                     "%s: byte %zu: NUL byte in the .npy "
                     "header",
                     ds->path, pre_len + strlen(text));
    } else {
      parser p = {ds->path, text, 0, pre_len};
      st = parse_dict(&p, ds);
    }
  }
  mlp__free(text);
  if (st != MLP_OK)
    return st;
  ds->data_off = pre_len + hlen;
  if (ds->ndim == 0)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: a 0-dimensional array (a scalar) "
                     "has no rows",
                     ds->path);
  return MLP_OK;
}

size_t mlp__npy_header(char *buf, size_t cap, const char *descr, size_t rows,
                       size_t cols, int vector) {
  /* The row count is printed in a 20-wide field so that the header can be
   * rewritten in place with the final count; the total is a multiple of
   * 64 as numpy writes it. */
  char dict[192];
  int n;
  if (vector)
    n = snprintf(dict, sizeof dict,
                 "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,)"
                 ", }",
                 descr, rows);
  else
    n = snprintf(dict, sizeof dict,
                 "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, "
                 "%zu), }",
                 descr, rows, cols);
  if (n < 0 || (size_t)n >= sizeof dict)
    return 0;
  size_t digits = (size_t)snprintf(NULL, 0, "%zu", rows);
  size_t body = (size_t)n + (20 - digits) + 1; /* pad + '\n' */
  size_t total = (10 + body + 63) / 64 * 64;
  if (total > cap)
    return 0;
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (char)((total - 10) & 0xff);
  buf[9] = (char)((total - 10) >> 8);
  memcpy(buf + 10, dict, (size_t)n);
  memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
  buf[total - 1] = '\n';
  return total;
}
