/*
 * convert.c - stored array elements (any width, either byte order) to the
 * f32/f64 rows and int32 labels the library works on.
 */
#include <math.h>
#include <string.h>

#include "io.h"

size_t mlp__etype_size(mlp__etype t) {
  switch (t) {
  case MLP__U8:
  case MLP__I8:
  case MLP__BOOL:
    return 1;
  case MLP__U16:
  case MLP__I16:
  case MLP__F16:
    return 2;
  case MLP__U32:
  case MLP__I32:
  case MLP__F32:
    return 4;
  case MLP__U64:
  case MLP__I64:
  case MLP__F64:
    return 8;
  }
  return 0;
}

const char *mlp__etype_name(mlp__etype t) {
  static const char *const names[] = {"u8",  "i8",  "u16", "i16",
                                      "u32", "i32", "u64", "i64",
                                      "f16", "f32", "f64", "bool"};
  return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* Unsigned integer of `size` bytes at p, in the stored byte order. */
static inline uint64_t load_bits(const unsigned char *p, size_t size, int big) {
  uint64_t v = 0;
  if (big) {
    for (size_t i = 0; i < size; i++)
      v = v << 8 | p[i];
  } else {
    for (size_t i = size; i-- > 0;)
      v = v << 8 | p[i];
  }
  return v;
}

/* IEEE binary16 to double, subnormals, infinities and NaN included. */
static double half_to_double(uint16_t h) {
  int sign = h >> 15, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  double v;
  if (exp == 0)
    v = ldexp(frac, -24);
  else if (exp == 31)
    v = frac ? NAN : INFINITY;
  else
    v = ldexp(frac | 0x400, exp - 25);
  return sign ? -v : v;
}

/* One element as a double; integers are exact up to 2^53. */
static inline double load_value(mlp__etype t, const unsigned char *p, int big) {
  uint64_t b;
  switch (t) {
  case MLP__U8:
    return p[0];
  case MLP__I8:
    return (int8_t)p[0];
  case MLP__BOOL:
    return p[0] != 0;
  case MLP__U16:
    return (uint16_t)load_bits(p, 2, big);
  case MLP__I16:
    return (int16_t)(uint16_t)load_bits(p, 2, big);
  case MLP__F16:
    return half_to_double((uint16_t)load_bits(p, 2, big));
  case MLP__U32:
    return (uint32_t)load_bits(p, 4, big);
  case MLP__I32:
    return (int32_t)(uint32_t)load_bits(p, 4, big);
  case MLP__U64:
    return (double)load_bits(p, 8, big);
  case MLP__I64:
    return (double)(int64_t)load_bits(p, 8, big);
  case MLP__F32: {
    uint32_t u = (uint32_t)load_bits(p, 4, big);
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  case MLP__F64:
    b = load_bits(p, 8, big);
    double d;
    memcpy(&d, &b, 8);
    return d;
  }
  return 0.0;
}

void mlp__convert(mlp__etype t, int big, const void *src, size_t n,
                  mlp_dtype dtype, double scale, void *dst) {
  const unsigned char *p = src;
  size_t es = mlp__etype_size(t);
  int native = big == mlp__host_big();

  if (mlp__etype_is_float(t))
    scale = 1.0;

  /* Bytes (pixels) go through a table of their 256 converted values:
   * the same results as the general loop, several times faster. */
  if ((t == MLP__U8 || t == MLP__I8) && n >= 1024) {
    if (dtype == MLP_F32) {
      float table[256], *y = dst;
      for (int v = 0; v < 256; v++)
        table[v] = (float)((t == MLP__U8 ? v : (int8_t)v) * scale);
      for (size_t i = 0; i < n; i++)
        y[i] = table[p[i]];
    } else {
      double table[256], *y = dst;
      for (int v = 0; v < 256; v++)
        table[v] = (t == MLP__U8 ? v : (int8_t)v) * scale;
      for (size_t i = 0; i < n; i++)
        y[i] = table[p[i]];
    }
    return;
  }
  if (t == MLP__F32 && dtype == MLP_F32 && native) {
    memcpy(dst, src, n * 4);
    return;
  }
  if (t == MLP__F64 && dtype == MLP_F64 && native) {
    memcpy(dst, src, n * 8);
    return;
  }

  if (dtype == MLP_F32) {
    float *y = dst;
    if (scale == 1.0)
      for (size_t i = 0; i < n; i++)
        y[i] = (float)load_value(t, p + i * es, big);
    else
      for (size_t i = 0; i < n; i++)
        y[i] = (float)(load_value(t, p + i * es, big) * scale);
  } else {
    double *y = dst;
    if (scale == 1.0)
      for (size_t i = 0; i < n; i++)
        y[i] = load_value(t, p + i * es, big);
    else
      for (size_t i = 0; i < n; i++)
        y[i] = load_value(t, p + i * es, big) * scale;
  }
}

size_t mlp__convert_labels(mlp__etype t, int big, const void *src, size_t n,
                           int32_t *dst) {
  const unsigned char *p = src;
  size_t es = mlp__etype_size(t);

  for (size_t i = 0; i < n; i++) {
    const unsigned char *e = p + i * es;
    if (t == MLP__U64 || t == MLP__I64) {
      /* Checked on the integer: a double would round large values. */
      uint64_t u = load_bits(e, 8, big);
      if ((t == MLP__I64 && (int64_t)u < 0) || u > INT32_MAX)
        return i;
      dst[i] = (int32_t)u;
      continue;
    }
    double v = load_value(t, e, big);
    if (!(v >= 0.0 && v <= (double)INT32_MAX) || v != floor(v))
      return i;
    dst[i] = (int32_t)v;
  }
  return n;
}
