/*
 * vecmath_compare.c - the measurement behind the vector-math choice in
 * docs/kernels.md: our exp and tanh (vec_body.h) against glibc's libmvec
 * and SLEEF, for accuracy (ulps against a wider libm) and speed, and the
 * fused kernels with each. Not part of the library: a developer's tool,
 * run by hand on an AVX-512 machine with SLEEF installed:
 *
 *   ninja -C BUILD lib/kernels/vecmath-compare
 *   BUILD/lib/kernels/vecmath-compare
 *
 * It includes avx512.c to reach the kernels' static inline functions.
 */
/* The kernels' own static functions, hence the .c. */
#include "kernels/avx512.c" // NOLINT(bugprone-suspicious-include)

#include <sleef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* libmvec, by its vector-ABI names (erfc is declared in avx512.c). */
__m512 _ZGVeN16v_expf(__m512 x);
__m512 _ZGVeN16v_tanhf(__m512 x);
__m512d _ZGVeN8v_exp(__m512d x);
__m512d _ZGVeN8v_tanh(__m512d x);

typedef __m512 (*vf32)(__m512);
typedef __m512d (*vf64)(__m512d);

/* Every candidate behind a call, so all run on the same footing. */
static __m512 our_expf(__m512 x) { return vexp_f32(x); }
static __m512 our_tanhf(__m512 x) { return vtanh_f32(x); }
static __m512d our_exp(__m512d x) { return vexp_f64(x); }
static __m512d our_tanh(__m512d x) { return vtanh_f64(x); }
static __m512 mvec_expf(__m512 x) { return _ZGVeN16v_expf(x); }
static __m512 mvec_tanhf(__m512 x) { return _ZGVeN16v_tanhf(x); }
static __m512 mvec_erfcf(__m512 x) { return _ZGVeN16v_erfcf(x); }
static __m512d mvec_exp(__m512d x) { return _ZGVeN8v_exp(x); }
static __m512d mvec_tanh(__m512d x) { return _ZGVeN8v_tanh(x); }
static __m512d mvec_erfc(__m512d x) { return _ZGVeN8v_erfc(x); }
static __m512 sleef_expf(__m512 x) { return Sleef_expf16_u10avx512f(x); }
static __m512 sleef_tanhf(__m512 x) { return Sleef_tanhf16_u10avx512f(x); }
static __m512 sleef_erfcf(__m512 x) { return Sleef_erfcf16_u15avx512f(x); }
static __m512d sleef_exp(__m512d x) { return Sleef_expd8_u10avx512f(x); }
static __m512d sleef_tanh(__m512d x) { return Sleef_tanhd8_u10avx512f(x); }
static __m512d sleef_erfc(__m512d x) { return Sleef_erfcd8_u15avx512f(x); }

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static double uniform(double lo, double hi) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return lo + (hi - lo) * (double)(rng >> 11) * 0x1p-53;
}

/* |got - want| in units in the last place of want rounded to the type
 * (p significant bits, emin the least normal exponent). */
static double ulps(long double got, long double want, int p, int emin) {
  int e;
  if (want == 0)
    return got == 0 ? 0 : 1e9;
  frexpl(want, &e);
  if (e - 1 < emin)
    e = emin + 1;
  return (double)(fabsl(got - want) / ldexpl(1, e - p));
}

#define NACC (1 << 22) /* inputs for accuracy */
#define NSPD 4096      /* inputs for speed: in L1 */
static float xf[NACC], yf[NACC];
static double xd[NACC], yd[NACC];

static void f32_row(const char *name, vf32 f, double (*ref)(double), double lo,
                    double hi) {
  double worst = 0, sum = 0, best = 1e30;
  for (size_t i = 0; i < NACC; i++)
    xf[i] = (float)uniform(lo, hi);
  for (size_t i = 0; i < NACC; i += 16)
    _mm512_storeu_ps(yf + i, f(_mm512_loadu_ps(xf + i)));
  for (size_t i = 0; i < NACC; i++) {
    double u = ulps(yf[i], ref(xf[i]), 24, -126);
    sum += u;
    worst = u > worst ? u : worst;
  }
  for (int r = 0; r < 300; r++) {
    double t = now();
    for (int k = 0; k < 16; k++)
      for (size_t i = 0; i < NSPD; i += 16)
        _mm512_storeu_ps(yf + i, f(_mm512_loadu_ps(xf + i)));
    t = now() - t;
    best = t < best ? t : best;
  }
  printf("f32 %-14s [%5g, %4g]  max %6.2f  mean %.3f ulp  %5.2f Gelem/s\n",
         name, lo, hi, worst, sum / NACC, 16.0 * NSPD / best / 1e9);
}

static void f64_row(const char *name, vf64 f, long double (*ref)(long double),
                    double lo, double hi) {
  double worst = 0, sum = 0, best = 1e30;
  for (size_t i = 0; i < NACC; i++)
    xd[i] = uniform(lo, hi);
  for (size_t i = 0; i < NACC; i += 8)
    _mm512_storeu_pd(yd + i, f(_mm512_loadu_pd(xd + i)));
  for (size_t i = 0; i < NACC; i++) {
    double u = ulps(yd[i], ref(xd[i]), 53, -1022);
    sum += u;
    worst = u > worst ? u : worst;
  }
  for (int r = 0; r < 300; r++) {
    double t = now();
    for (int k = 0; k < 16; k++)
      for (size_t i = 0; i < NSPD; i += 8)
        _mm512_storeu_pd(yd + i, f(_mm512_loadu_pd(xd + i)));
    t = now() - t;
    best = t < best ? t : best;
  }
  printf("f64 %-14s [%5g, %4g]  max %6.2f  mean %.3f ulp  %5.2f Gelem/s\n",
         name, lo, hi, worst, sum / NACC, 16.0 * NSPD / best / 1e9);
}

/* ------------------------------------------------------------------------
 * Fused kernels over a 256 x 256 block: ours (the kernel table) against
 * the same loop calling the library.
 */

#define R 256
#define C 256
static float zf[R * C], of[R * C], bf[C];
static double zd[R * C], od[R * C];

static void tanh_mvec(float *z, const float *b) {
  for (size_t i = 0; i < R; i++)
    for (size_t j = 0; j < C; j += 16) {
      __m512 v =
          _mm512_add_ps(_mm512_loadu_ps(z + i * C + j), _mm512_loadu_ps(b + j));
      _mm512_storeu_ps(z + i * C + j, _ZGVeN16v_tanhf(v));
    }
}

/* The rejected alternative for gelu: Phi from our own fits. For
 * |t| < 1/2, t = -x/sqrt 2: erfc(t) = 1 - t P(t^2); above, erfc(|t|) =
 * exp(-t^2) E(s), s = 1/(1 + |t|/2), E a degree-9 fit to erfc(a) e^(a^2)
 * on [1/2, 10] in a variable scaled to [-1, 1]; erfc(t) = 2 - erfc(|t|)
 * for t < 0. */
static __m512 own_phi(__m512 x) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  static const float pc[5] = {1.128379107f, -3.761260808e-1f, 1.128282323e-1f,
                              -2.675720863e-2f, 4.718034063e-3f};
  static const float ec[10] = {
      2.414217442e-1f, 2.605140507e-1f,  9.377487004e-2f,  1.991741545e-2f,
      7.858286845e-4f, -6.931585376e-4f, -6.955309800e-5f, 3.876105620e-5f,
      2.784185426e-6f, -2.389688007e-6f};
  __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(-0.70710678f));
  __m512 a = _mm512_andnot_ps(sign, t), u = _mm512_mul_ps(t, t);
  __m512 p = _mm512_set1_ps(pc[4]);
  for (int k = 3; k >= 0; k--)
    p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(pc[k]));
  __m512 small = _mm512_fnmadd_ps(t, p, _mm512_set1_ps(1.0f));
  __m512 s =
      recip_ps(_mm512_fmadd_ps(a, _mm512_set1_ps(0.5f), _mm512_set1_ps(1.0f)));
  __m512 v = _mm512_fmadd_ps(s, _mm512_set1_ps(3.1578948498f),
                             _mm512_set1_ps(-1.5263158083f));
  __m512 e = _mm512_set1_ps(ec[9]);
  for (int k = 8; k >= 0; k--)
    e = _mm512_fmadd_ps(e, v, _mm512_set1_ps(ec[k]));
  __m512 big = _mm512_mul_ps(vexp_f32(_mm512_or_ps(u, sign)), e);
  big = _mm512_mask_blend_ps(
      _mm512_cmp_ps_mask(t, _mm512_setzero_ps(), _CMP_LT_OQ), big,
      _mm512_sub_ps(_mm512_set1_ps(2.0f), big));
  __m512 c = _mm512_mask_blend_ps(
      _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.5f), _CMP_LT_OQ), big, small);
  return _mm512_mul_ps(_mm512_set1_ps(0.5f), c);
}

static void gelu_with(float *z, float *y, const float *b, int own) {
  for (size_t i = 0; i < R; i++)
    for (size_t j = 0; j < C; j += 16) {
      __m512 v =
          _mm512_add_ps(_mm512_loadu_ps(z + i * C + j), _mm512_loadu_ps(b + j));
      _mm512_storeu_ps(z + i * C + j, v);
      __m512 phi = own ? own_phi(v)
                       : _mm512_mul_ps(_mm512_set1_ps(0.5f),
                                       _ZGVeN16v_erfcf(_mm512_mul_ps(
                                           v, _mm512_set1_ps(-0.70710678f))));
      _mm512_storeu_ps(y + i * C + j, _mm512_mul_ps(v, phi));
    }
}

static void sigmoid_mvec(const double *z, double *y) {
  for (size_t i = 0; i < R * C; i += 8) {
    __m512d x = _mm512_loadu_pd(z + i);
    __m512d e = _ZGVeN8v_exp(_mm512_or_pd(x, _mm512_set1_pd(-0.0)));
    __m512d r = recip_pd(_mm512_add_pd(_mm512_set1_pd(1.0), e));
    __mmask8 neg = _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LT_OQ);
    _mm512_storeu_pd(y + i, _mm512_mask_blend_pd(neg, r, _mm512_mul_pd(e, r)));
  }
}

static void fused(void) {
  double t_our[4] = {1e30, 1e30, 1e30, 1e30};
  double t_lib[4] = {1e30, 1e30, 1e30, 1e30};
  for (size_t i = 0; i < R * C; i++) {
    zf[i] = (float)uniform(-4, 4);
    zd[i] = zf[i];
  }
  /* Interleaved, best of 300, so that both see the same machine load. */
  for (int r = 0; r < 300; r++) {
    double t = now();
    fwd_tanh_f32(zf, zf, bf, R, C, 0);
    t_our[0] = fmin(t_our[0], now() - t);
    t = now();
    tanh_mvec(zf, bf);
    t_lib[0] = fmin(t_lib[0], now() - t);
    for (size_t i = 0; i < R * C; i++) /* undo the drift toward 0 */
      zf[i] = zf[i] * 4.0f;
    t = now();
    gelu_with(zf, of, bf, 1);
    t_our[1] = fmin(t_our[1], now() - t);
    t = now();
    gelu_with(zf, of, bf, 0);
    t_lib[1] = fmin(t_lib[1], now() - t);
    t = now();
    fwd_sigmoid_f64(zd, od, NULL, R, C, 0);
    t_our[2] = fmin(t_our[2], now() - t);
    t = now();
    sigmoid_mvec(zd, od);
    t_lib[2] = fmin(t_lib[2], now() - t);
  }
  printf("\nfused, %d x %d, 1e9 elements/s (ours / with libmvec):\n", R, C);
  printf("  tanh f32 (bias, in place)   %5.2f / %5.2f  (%.1f / %.1f us)\n",
         R * C / t_our[0] / 1e9, R * C / t_lib[0] / 1e9, t_our[0] * 1e6,
         t_lib[0] * 1e6);
  printf("  gelu f32 (own Phi / erfcf)  %5.2f / %5.2f\n",
         R * C / t_our[1] / 1e9, R * C / t_lib[1] / 1e9);
  printf("  sigmoid f64 (exp)           %5.2f / %5.2f\n",
         R * C / t_our[2] / 1e9, R * C / t_lib[2] / 1e9);
}

int main(void) {
  printf("accuracy: %d uniform inputs, f32 vs double libm, f64 vs long "
         "double; speed: %d values in L1, one call per vector\n\n",
         NACC, NSPD);
  f32_row("ours exp", our_expf, exp, -86, 0);
  f32_row("libmvec exp", mvec_expf, exp, -86, 0);
  f32_row("sleef exp", sleef_expf, exp, -86, 0);
  f32_row("ours tanh", our_tanhf, tanh, -10, 10);
  f32_row("libmvec tanh", mvec_tanhf, tanh, -10, 10);
  f32_row("sleef tanh", sleef_tanhf, tanh, -10, 10);
  f32_row("ours tanh", our_tanhf, tanh, -1, 1);
  f32_row("libmvec tanh", mvec_tanhf, tanh, -1, 1);
  f32_row("sleef tanh", sleef_tanhf, tanh, -1, 1);
  f32_row("libmvec erfc", mvec_erfcf, erfc, -4, 10);
  f32_row("sleef erfc", sleef_erfcf, erfc, -4, 10);
  f32_row("libmvec erfc", mvec_erfcf, erfc, -4, 4);
  f32_row("sleef erfc", sleef_erfcf, erfc, -4, 4);
  f64_row("ours exp", our_exp, expl, -707, 0);
  f64_row("libmvec exp", mvec_exp, expl, -707, 0);
  f64_row("sleef exp", sleef_exp, expl, -707, 0);
  f64_row("ours tanh", our_tanh, tanhl, -20, 20);
  f64_row("libmvec tanh", mvec_tanh, tanhl, -20, 20);
  f64_row("sleef tanh", sleef_tanh, tanhl, -20, 20);
  f64_row("libmvec erfc", mvec_erfc, erfcl, -5, 26);
  f64_row("sleef erfc", sleef_erfc, erfcl, -5, 26);
  fused();
  return 0;
}
