/*
 * vec_body.h - the bodies of the vector kernels, written once over a small
 * set of vector macros and included by avx2.c and avx512.c once per
 * element type. The including file defines, before each inclusion:
 *
 *   SFX          f32 or f64 (suffix of every function name below)
 *   VEC_F32      1 for float, 0 for double (selects the constants)
 *   T, V, M, W   scalar type, vector type, lane-mask type, lanes
 *   V_LOAD(p), V_STORE(p, v)            unaligned, W lanes
 *   V_LOADN(p, k, fill), V_STOREN(p, v, k)   the first k < W lanes only;
 *                                       the other lanes of the load = fill
 *   V_SET1(x), V_ADD, V_SUB, V_MUL, V_DIV
 *   V_RECIP(v)   1 / v to within an ulp or so (for v >= 1 here)
 *   V_FMA(a, b, c) = a b + c,  V_FNMA(a, b, c) = c - a b
 *   V_MAX(a, b), V_MIN(a, b)  with x86 semantics: b when either is NaN
 *   V_AND, V_OR, V_ANDNOT(a, b) = ~a & b   (bitwise, on V)
 *   V_ROUND(v)   to the nearest integer value
 *   V_LDEXP(p, n)  p 2^n for integer-valued n, the result a normal number
 *   V_LT(a, b), V_GT(a, b) -> M;  V_BLEND(m, a, b) = m ? b : a
 *   V_HSUM(v), V_HMAX(v)   horizontal sum and maximum
 *   V_ERFC(v)    erfc of every lane (a vector math library call)
 *
 * NOTE: this file has no include guard on purpose: it is included twice.
 */

#ifndef VB_ALWAYS_INLINE
#if defined(__GNUC__)
#define VB_ALWAYS_INLINE __attribute__((always_inline))
#else
#define VB_ALWAYS_INLINE
#endif
#endif

#define VB_CAT2(a, b) a##_##b
#define VB_CAT(a, b) VB_CAT2(a, b)
#define VB(name) VB_CAT(name, SFX)

/* ------------------------------------------------------------------------
 * Elementary functions. exp is only needed for x <= 0 here (softmax after
 * subtracting the row max, exp(-|z|) in sigmoid and tanh, exp(-z^2/2)).
 */

#if VEC_F32
/* Below EXP_LO, exp(x) is under 2^-124 and is returned as 0 (the kernels
 * never need those tiny values to more than absolute accuracy). */
#define VB_EXP_LO (-86.0f)
#define VB_LN2_HI 0.693145751953125f /* 12 significant bits: n ln2_hi exact */
#define VB_LN2_LO 1.428606765330187e-6f
#else
#define VB_EXP_LO (-707.0)
#define VB_LN2_HI 0.6931471803691238 /* 32 significant bits */
#define VB_LN2_LO 1.9082149292705877e-10
#endif

/* exp(x) for x <= 0: x = n ln2 + r with |r| <= ln2/2, exp(r) = 1 + r +
 * r^2 Q(r) with Q a polynomial fitted (weighted least squares, Lawson
 * iterations) to (e^r - 1 - r)/r^2 on that interval, then scaled by 2^n.
 * NaN stays NaN (V_MAX keeps its second operand when it is NaN). */
static inline V VB(vexp)(V x) {
  const V lo = V_SET1(VB_EXP_LO);
  V xc = V_MAX(lo, x);
  V n = V_ROUND(V_MUL(xc, V_SET1((T)1.4426950408889634)));
  V r = V_FNMA(n, V_SET1(VB_LN2_HI), xc);
  r = V_FNMA(n, V_SET1(VB_LN2_LO), r);
#if VEC_F32
  V q = V_SET1(1.381460845e-3f);
  q = V_FMA(q, r, V_SET1(8.368710478e-3f));
  q = V_FMA(q, r, V_SET1(4.166838748e-2f));
  q = V_FMA(q, r, V_SET1(1.666652068e-1f));
  q = V_FMA(q, r, V_SET1(4.999999345e-1f));
#else
  V q = V_SET1(2.5639390648879933e-08);
  q = V_FMA(q, r, V_SET1(2.7616048217042177e-07));
  q = V_FMA(q, r, V_SET1(2.755484732525586e-06));
  q = V_FMA(q, r, V_SET1(2.4801529186819766e-05));
  q = V_FMA(q, r, V_SET1(1.984127351991724e-04));
  q = V_FMA(q, r, V_SET1(1.3888888912206776e-03));
  q = V_FMA(q, r, V_SET1(8.333333331104918e-03));
  q = V_FMA(q, r, V_SET1(4.166666666664059e-02));
  q = V_FMA(q, r, V_SET1(1.666666666667124e-01));
  q = V_FMA(q, r, V_SET1(0.4999999999999997));
#endif
  V p = V_ADD(V_FMA(V_MUL(r, r), q, r), V_SET1((T)1));
  p = V_LDEXP(p, n);
  return V_BLEND(V_LT(x, lo), p, V_SET1((T)0));
}

/* 1 / (1 + exp(-x)) from e = exp(-|x|): 1/(1+e) for x >= 0, e/(1+e)
 * below, so nothing overflows and small results keep their accuracy. */
static inline V VB(vsigmoid)(V x) {
  const V sign = V_SET1((T)-0.0);
  V e = VB(vexp)(V_OR(x, sign));
  V r = V_RECIP(V_ADD(V_SET1((T)1), e));
  return V_BLEND(V_LT(x, V_SET1((T)0)), r, V_MUL(e, r));
}

#if VEC_F32
/* tanh(x) = x P(x^2) / Q(x^2) on x clamped to [-9, 9] (beyond, tanh is 1
 * in float), P of degree 5 and Q of degree 4 fitted to tanh by linearised
 * rational least squares (Loeb's method with Lawson weights) for minimal
 * relative error (1.3e-9 before rounding the coefficients to float). No
 * exp and one reciprocal: this is the hot activation of tanh networks. */
static inline V VB(vtanh)(V x) {
  V xc = V_MIN(V_SET1(9.0f), V_MAX(V_SET1(-9.0f), x));
  V u = V_MUL(xc, xc);
  V p = V_SET1(-1.2246473800e-11f);
  p = V_FMA(p, u, V_SET1(3.0643001025e-08f));
  p = V_FMA(p, u, V_SET1(2.8031567126e-05f));
  p = V_FMA(p, u, V_SET1(3.8695225958e-03f));
  p = V_FMA(p, u, V_SET1(1.3680867851e-01f));
  p = V_FMA(p, u, V_SET1(1.0f));
  V q = V_SET1(1.2890511698e-06f);
  q = V_FMA(q, u, V_SET1(3.9407378063e-04f));
  q = V_FMA(q, u, V_SET1(2.7250211686e-02f));
  q = V_FMA(q, u, V_SET1(4.7014200687e-01f));
  q = V_FMA(q, u, V_SET1(1.0f));
  return V_MUL(V_MUL(xc, p), V_RECIP(q));
}
#else
/* tanh(x) = sign(x) tanh(|x|). For |x| < 0.4 the Taylor series a + a^3
 * P(a^2) to a^27; above it (1 - e) / (1 + e) with e = exp(-2|x|), which
 * has no cancellation there and goes to 1 for large |x|. */
static inline V VB(vtanh)(V x) {
  const V sign = V_SET1(-0.0);
  const V one = V_SET1(1.0);
  V a = V_ANDNOT(sign, x);
  V e = VB(vexp)(V_MUL(a, V_SET1(-2.0)));
  V big = V_MUL(V_SUB(one, e), V_RECIP(V_ADD(one, e)));
  V u = V_MUL(a, a);
  V p = V_SET1(-6.451689215655431e-06);
  p = V_FMA(p, u, V_SET1(1.5918905069328964e-05));
  p = V_FMA(p, u, V_SET1(-3.927832388331683e-05));
  p = V_FMA(p, u, V_SET1(9.691537956929451e-05));
  p = V_FMA(p, u, V_SET1(-2.3912911424355248e-04));
  p = V_FMA(p, u, V_SET1(5.90027440945586e-04));
  p = V_FMA(p, u, V_SET1(-1.4558343870513183e-03));
  p = V_FMA(p, u, V_SET1(3.592128036572481e-03));
  p = V_FMA(p, u, V_SET1(-8.863235529902197e-03));
  p = V_FMA(p, u, V_SET1(2.1869488536155203e-02));
  p = V_FMA(p, u, V_SET1(-5.396825396825397e-02));
  p = V_FMA(p, u, V_SET1(1.3333333333333333e-01));
  p = V_FMA(p, u, V_SET1(-3.333333333333333e-01));
  V small = V_FMA(V_MUL(a, u), p, a);
  V t = V_BLEND(V_LT(a, V_SET1(0.4)), big, small);
  return V_OR(t, V_AND(sign, x));
}
#endif

/* Phi(x) = erfc(-x / sqrt 2) / 2, the standard normal CDF. */
static inline V VB(vphi_cdf)(V x) {
  V t = V_MUL(x, V_SET1((T)-0.70710678118654752));
  return V_MUL(V_SET1((T)0.5), V_ERFC(t));
}

/* ------------------------------------------------------------------------
 * Activations on one vector; a is alpha broadcast (leaky ReLU only).
 */

static inline V VB(act_identity)(V v, V a) {
  (void)a;
  return v;
}
static inline V VB(act_relu)(V v, V a) {
  (void)a;
  return V_BLEND(V_GT(v, V_SET1((T)0)), V_SET1((T)0), v);
}
static inline V VB(act_leaky)(V v, V a) {
  return V_BLEND(V_GT(v, V_SET1((T)0)), V_MUL(a, v), v);
}
static inline V VB(act_sigmoid)(V v, V a) {
  (void)a;
  return VB(vsigmoid)(v);
}
static inline V VB(act_tanh)(V v, V a) {
  (void)a;
  return VB(vtanh)(v);
}
static inline V VB(act_gelu)(V v, V a) {
  (void)a;
  return V_MUL(v, VB(vphi_cdf)(v));
}
static inline V VB(act_silu)(V v, V a) {
  (void)a;
  return V_MUL(v, VB(vsigmoid)(v));
}

/* ------------------------------------------------------------------------
 * Forward kernels: z += b, y = f(z), W lanes at a time, the row's last
 * n mod W elements through masked loads and stores. Without a bias the
 * rows are one contiguous run and are walked as one. The row loop is
 * inlined once per case (bias or not, in place or not), so that the inner
 * loop carries no tests of its own.
 *
 * A masked store at the end of a row covers a whole vector's bytes, part
 * of them in the next row, and a load of those bytes waits until the
 * store has left the core (no store forwarding): 20-odd cycles per row,
 * which made rows of 17 floats 7x slower than rows of 16. So the next
 * row's first vector is loaded before the row's masked store is issued.
 * Rows narrower than a vector would need loads several rows ahead; those
 * blocks are walked as one contiguous run instead, the bias read from a
 * tile that repeats b over lcm(n, W) elements (at most W^2, on the
 * stack), so that only the block's very end needs a mask. */

/* Greatest common divisor, for the bias tile's period lcm(n, W). */
static inline size_t VB(gcd)(size_t a, size_t b) {
  while (b) {
    size_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

#define VB_FWD(ACT)                                                            \
  static void VB(tiled_##ACT)(T * z, T * y, const T *b, size_t count,          \
                              size_t n, V va, const int inplace) {             \
    T tile[W * W];                                                             \
    size_t period = n * (W / VB(gcd)(n, W)), t = 0, j = 0;                     \
    for (size_t e = 0; e < period; e++)                                        \
      tile[e] = b[e % n];                                                      \
    for (; j + W <= count; j += W) {                                           \
      V v = V_ADD(V_LOAD(z + j), V_LOAD(tile + t));                            \
      if (!inplace)                                                            \
        V_STORE(z + j, v);                                                     \
      V_STORE(y + j, VB(act_##ACT)(v, va));                                    \
      t = t + W == period ? 0 : t + W;                                         \
    }                                                                          \
    if (j < count) {                                                           \
      size_t k = count - j;                                                    \
      V v = V_ADD(V_LOADN(z + j, k, (T)0), V_LOADN(tile + t, k, (T)0));        \
      if (!inplace)                                                            \
        V_STOREN(z + j, v, k);                                                 \
      V_STOREN(y + j, VB(act_##ACT)(v, va), k);                                \
    }                                                                          \
  }                                                                            \
  static inline VB_ALWAYS_INLINE void VB(rows_##ACT)(                          \
      T * z, T * y, const T *b, size_t rows, size_t n, V va, const int has_b,  \
      const int inplace) {                                                     \
    const size_t k = n % W, end = n - k;                                       \
    if (rows == 0 || n == 0)                                                   \
      return;                                                                  \
    if (has_b && n < W && rows * n >= 4 * W) {                                 \
      VB(tiled_##ACT)(z, y, b, rows * n, n, va, inplace);                      \
      return;                                                                  \
    }                                                                          \
    V first = end ? V_LOAD(z) : V_LOADN(z, k, (T)0);                           \
    for (size_t i = 0; i < rows; i++) {                                        \
      T *zr = z + i * n, *yr = y + i * n;                                      \
      const int more = i + 1 < rows;                                           \
      if (end) {                                                               \
        for (size_t j = 0; j < end; j += W) {                                  \
          V v = j ? V_LOAD(zr + j) : first;                                    \
          if (has_b)                                                           \
            v = V_ADD(v, V_LOAD(b + j));                                       \
          if (!inplace)                                                        \
            V_STORE(zr + j, v);                                                \
          V_STORE(yr + j, VB(act_##ACT)(v, va));                               \
        }                                                                      \
        if (more)                                                              \
          first = V_LOAD(zr + n);                                              \
      }                                                                        \
      if (k) {                                                                 \
        V v = end ? V_LOADN(zr + end, k, (T)0) : first;                        \
        if (has_b)                                                             \
          v = V_ADD(v, V_LOADN(b + end, k, (T)0));                             \
        V r = VB(act_##ACT)(v, va);                                            \
        if (!end && more)                                                      \
          first = V_LOADN(zr + n, k, (T)0);                                    \
        if (!inplace)                                                          \
          V_STOREN(zr + end, v, k);                                            \
        V_STOREN(yr + end, r, k);                                              \
      }                                                                        \
    }                                                                          \
  }                                                                            \
  static void VB(fwd_##ACT)(T * z, T * y, const T *b, size_t rows, size_t n,   \
                            T alpha) {                                         \
    const V va = V_SET1(alpha);                                                \
    if (b && z == y)                                                           \
      VB(rows_##ACT)(z, y, b, rows, n, va, 1, 1);                              \
    else if (b)                                                                \
      VB(rows_##ACT)(z, y, b, rows, n, va, 1, 0);                              \
    else if (z == y)                                                           \
      VB(rows_##ACT)(z, y, b, 1, rows * n, va, 0, 1);                          \
    else                                                                       \
      VB(rows_##ACT)(z, y, b, 1, rows * n, va, 0, 0);                          \
  }

/* clang-format off */
VB_FWD(identity)
VB_FWD(relu)
VB_FWD(leaky)
VB_FWD(sigmoid)
VB_FWD(tanh)
VB_FWD(gelu)
VB_FWD(silu)
/* clang-format on */

/* Softmax per row: the maximum m of z + b (nothing stored); y = exp(z + b
 * - m) and its sum (Z stored here when it is kept); y *= 1 / sum. Masked-
 * off lanes load as -inf, so exp gives 0 there and they add nothing. The
 * row's masked tail stays in registers and is stored last, after the next
 * row's first vector is loaded (see the note above the other forward
 * kernels). Rows shorter than a vector go through softmax_narrow. */
#define VB_SOFTMAX_GROUP 8

/* Softmax of rows of n < W elements, VB_SOFTMAX_GROUP rows at a time: all
 * of a group's loads come before its masked stores, so only the group's
 * first row can wait on the previous group's stores (a row's masked store
 * reaches W elements, several narrow rows, ahead). */
static void VB(softmax_narrow)(T *z, T *y, const T *b, size_t rows, size_t n) {
  const int keep_z = b && z != y;
  const V bv = b ? V_LOADN(b, n, (T)0) : V_SET1((T)0);
  for (size_t i = 0; i < rows; i += VB_SOFTMAX_GROUP) {
    size_t g = rows - i < VB_SOFTMAX_GROUP ? rows - i : VB_SOFTMAX_GROUP;
    V v[VB_SOFTMAX_GROUP], e[VB_SOFTMAX_GROUP];
    for (size_t r = 0; r < g; r++)
      v[r] = V_ADD(V_LOADN(z + (i + r) * n, n, (T)-INFINITY), bv);
    for (size_t r = 0; r < g; r++) {
      V m = V_SET1(V_HMAX(v[r]));
      e[r] = VB(vexp)(V_SUB(v[r], m));
      e[r] = V_MUL(e[r], V_SET1((T)1 / V_HSUM(e[r])));
    }
    for (size_t r = 0; r < g; r++) {
      if (keep_z)
        V_STOREN(z + (i + r) * n, v[r], n);
      V_STOREN(y + (i + r) * n, e[r], n);
    }
  }
}

static void VB(fwd_softmax)(T *z, T *y, const T *b, size_t rows, size_t n,
                            T alpha) {
  (void)alpha;
  const V ninf = V_SET1((T)-INFINITY);
  const size_t k = n % W, end = n - k;
  const int keep_z = b && z != y;
  if (rows == 0 || n == 0)
    return;
  if (n < W) {
    VB(softmax_narrow)(z, y, b, rows, n);
    return;
  }
  V first = end ? V_LOAD(z) : V_LOADN(z, k, (T)-INFINITY);
  for (size_t i = 0; i < rows; i++) {
    T *zr = z + i * n, *yr = y + i * n;
    const int more = i + 1 < rows;
    V vmax = ninf, vt = ninf, et = V_SET1((T)0);
    for (size_t j = 0; j < end; j += W) {
      V v = j ? V_LOAD(zr + j) : first;
      if (b)
        v = V_ADD(v, V_LOAD(b + j));
      vmax = V_MAX(vmax, v);
    }
    if (k) {
      vt = end ? V_LOADN(zr + end, k, (T)-INFINITY) : first;
      if (b)
        vt = V_ADD(vt, V_LOADN(b + end, k, (T)0));
      vmax = V_MAX(vmax, vt);
    }
    V m = V_SET1(V_HMAX(vmax));
    V vsum = V_SET1((T)0);
    for (size_t j = 0; j < end; j += W) {
      V v = j ? V_LOAD(zr + j) : first;
      if (b)
        v = V_ADD(v, V_LOAD(b + j));
      if (keep_z)
        V_STORE(zr + j, v);
      V e = VB(vexp)(V_SUB(v, m));
      V_STORE(yr + j, e);
      vsum = V_ADD(vsum, e);
    }
    if (k) {
      et = VB(vexp)(V_SUB(vt, m));
      vsum = V_ADD(vsum, et);
    }
    V inv = V_SET1((T)1 / V_HSUM(vsum));
    for (size_t j = 0; j < end; j += W)
      V_STORE(yr + j, V_MUL(V_LOAD(yr + j), inv));
    if (more)
      first = end ? V_LOAD(zr + n) : V_LOADN(zr + n, k, (T)-INFINITY);
    if (k) {
      if (keep_z)
        V_STOREN(zr + end, vt, k);
      V_STOREN(yr + end, V_MUL(et, inv), k);
    }
  }
}

/* ------------------------------------------------------------------------
 * Backward kernels: dz = dy f'(z), elementwise over rows * n elements.
 * der_X(z, y, a) is f'(z) on one vector (loads it does not use are
 * dropped by the compiler).
 */

static inline V VB(der_identity)(V z, V y, V a) {
  (void)z, (void)y, (void)a;
  return V_SET1((T)1);
}
static inline V VB(der_relu)(V z, V y, V a) {
  (void)y, (void)a;
  return V_BLEND(V_GT(z, V_SET1((T)0)), V_SET1((T)0), V_SET1((T)1));
}
static inline V VB(der_leaky)(V z, V y, V a) {
  (void)y;
  return V_BLEND(V_GT(z, V_SET1((T)0)), a, V_SET1((T)1));
}
static inline V VB(der_sigmoid)(V z, V y, V a) {
  (void)z, (void)a;
  return V_MUL(y, V_SUB(V_SET1((T)1), y));
}
static inline V VB(der_tanh)(V z, V y, V a) {
  (void)z, (void)a;
  return V_MUL(V_SUB(V_SET1((T)1), y), V_ADD(V_SET1((T)1), y));
}
/* Phi(z) + z phi(z), phi(z) = exp(-z^2 / 2) / sqrt(2 pi). */
static inline V VB(der_gelu)(V z, V y, V a) {
  (void)y, (void)a;
  V g = VB(vexp)(V_MUL(V_MUL(z, z), V_SET1((T)-0.5)));
  g = V_MUL(g, V_SET1((T)0.39894228040143268));
  return V_FMA(z, g, VB(vphi_cdf)(z));
}
/* s (1 + z (1 - s)), s = sigmoid(z). */
static inline V VB(der_silu)(V z, V y, V a) {
  (void)y, (void)a;
  V s = VB(vsigmoid)(z);
  V one = V_SET1((T)1);
  return V_MUL(s, V_FMA(z, V_SUB(one, s), one));
}

#define VB_BWD(ACT)                                                            \
  static void VB(bwd_##ACT)(const T *z, const T *y, const T *dy, T *dz,        \
                            size_t rows, size_t n, T alpha) {                  \
    const V va = V_SET1(alpha);                                                \
    size_t count = rows * n, j = 0;                                            \
    for (; j + W <= count; j += W) {                                           \
      V d = VB(der_##ACT)(V_LOAD(z + j), V_LOAD(y + j), va);                   \
      V_STORE(dz + j, V_MUL(V_LOAD(dy + j), d));                               \
    }                                                                          \
    if (j < count) {                                                           \
      size_t k = count - j;                                                    \
      V d =                                                                    \
          VB(der_##ACT)(V_LOADN(z + j, k, (T)0), V_LOADN(y + j, k, (T)0), va); \
      V_STOREN(dz + j, V_MUL(V_LOADN(dy + j, k, (T)0), d), k);                 \
    }                                                                          \
  }

VB_BWD(identity)
VB_BWD(relu)
VB_BWD(leaky)
VB_BWD(sigmoid)
VB_BWD(tanh)
VB_BWD(gelu)
VB_BWD(silu)

/* dz_j = y_j (dy_j - sum_i dy_i y_i), the dot product first (dz may be
 * dy). */
static void VB(bwd_softmax)(const T *z, const T *y, const T *dy, T *dz,
                            size_t rows, size_t n, T alpha) {
  (void)z, (void)alpha;
  for (size_t i = 0; i < rows; i++) {
    const T *yr = y + i * n, *dyr = dy + i * n;
    T *dzr = dz + i * n;
    size_t k = n % W, end = n - k;
    V acc = V_SET1((T)0);
    for (size_t j = 0; j < end; j += W)
      acc = V_FMA(V_LOAD(dyr + j), V_LOAD(yr + j), acc);
    if (k)
      acc = V_FMA(V_LOADN(dyr + end, k, (T)0), V_LOADN(yr + end, k, (T)0), acc);
    V dot = V_SET1(V_HSUM(acc));
    for (size_t j = 0; j < end; j += W)
      V_STORE(dzr + j, V_MUL(V_LOAD(yr + j), V_SUB(V_LOAD(dyr + j), dot)));
    if (k)
      V_STOREN(dzr + end,
               V_MUL(V_LOADN(yr + end, k, (T)0),
                     V_SUB(V_LOADN(dyr + end, k, (T)0), dot)),
               k);
  }
}

#undef VB_FWD
#undef VB_SOFTMAX_GROUP
#undef VB_BWD
#undef VB_EXP_LO
#undef VB_LN2_HI
#undef VB_LN2_LO
#undef VB
#undef VB_CAT
#undef VB_CAT2
