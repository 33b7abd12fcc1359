/*
 * avx2.c - the AVX2 + FMA kernel set: vec_body.h over 256-bit vectors,
 * 8 floats or 4 doubles, with maskload/maskstore for row tails, compiled
 * for the AVX2 + FMA target; dispatch.c runs it only when the CPU and OS
 * support it.
 * erfc (gelu) comes from glibc's libmvec (see docs/kernels.md).
 */
#include <math.h>

#include "kernels/kernels.h"

/* Everything below is compiled as if with -mavx2 -mfma, through the
 * compiler's target pragma, so that this file sits among the library's
 * ordinary sources (and its objects reach the white-box tests). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))),              \
                             apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include <immintrin.h>

/* libmvec's AVX2 erfc, by its vector-ABI names. */
__m256 _ZGVdN8v_erfcf(__m256 x);
__m256d _ZGVdN4v_erfc(__m256d x);

/* Lane masks for the first k lanes, as vectors of all-ones lanes. */
static inline __m256i tail_mask_32(size_t k) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)k),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i tail_mask_64(size_t k) {
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)k),
                            _mm256_setr_epi64x(0, 1, 2, 3));
}

static inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline float hmax_ps(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline double hsum_pd(__m256d v) {
  __m128d s =
      _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}
static inline double hmax_pd(__m256d v) {
  __m128d s =
      _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_max_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

/* p 2^n by adding n to the exponent field (p 2^n must be normal). */
static inline __m256 ldexp_ps(__m256 p, __m256 n) {
  __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
  return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
}
/* The same for doubles; AVX2 has no double -> int64 conversion, so n is
 * moved into the low mantissa bits by adding 1.5 * 2^52. */
static inline __m256d ldexp_pd(__m256d p, __m256d n) {
  __m256d t = _mm256_add_pd(n, _mm256_set1_pd(6755399441055744.0));
  __m256i e = _mm256_slli_epi64(_mm256_castpd_si256(t), 52);
  return _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(p), e));
}

/* ---- float, 8 lanes ---- */
#define SFX f32
#define VEC_F32 1
#define T float
#define V __m256
#define M __m256
#define W 8
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define V_LOADN(p, k, fill)                                                    \
  _mm256_blendv_ps(_mm256_set1_ps(fill),                                       \
                   _mm256_maskload_ps(p, tail_mask_32(k)),                     \
                   _mm256_castsi256_ps(tail_mask_32(k)))
#define V_STOREN(p, v, k) _mm256_maskstore_ps(p, tail_mask_32(k), v)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_DIV(a, b) _mm256_div_ps(a, b)
#define V_RECIP(v) _mm256_div_ps(_mm256_set1_ps(1.0f), v)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_FNMA(a, b, c) _mm256_fnmadd_ps(a, b, c)
#define V_MAX(a, b) _mm256_max_ps(a, b)
#define V_MIN(a, b) _mm256_min_ps(a, b)
#define V_AND(a, b) _mm256_and_ps(a, b)
#define V_OR(a, b) _mm256_or_ps(a, b)
#define V_ANDNOT(a, b) _mm256_andnot_ps(a, b)
#define V_ROUND(v)                                                             \
  _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_LDEXP(p, n) ldexp_ps(p, n)
#define V_LT(a, b) _mm256_cmp_ps(a, b, _CMP_LT_OQ)
#define V_GT(a, b) _mm256_cmp_ps(a, b, _CMP_GT_OQ)
#define V_BLEND(m, a, b) _mm256_blendv_ps(a, b, m)
#define V_HSUM(v) hsum_ps(v)
#define V_HMAX(v) hmax_ps(v)
#define V_ERFC(v) _ZGVdN8v_erfcf(v)
#include "kernels/vec_body.h"
#undef SFX
#undef VEC_F32
#undef T
#undef V
#undef M
#undef W
#undef V_LOAD
#undef V_STORE
#undef V_LOADN
#undef V_STOREN
#undef V_SET1
#undef V_ADD
#undef V_SUB
#undef V_MUL
#undef V_DIV
#undef V_RECIP
#undef V_FMA
#undef V_FNMA
#undef V_MAX
#undef V_MIN
#undef V_AND
#undef V_OR
#undef V_ANDNOT
#undef V_ROUND
#undef V_LDEXP
#undef V_LT
#undef V_GT
#undef V_BLEND
#undef V_HSUM
#undef V_HMAX
#undef V_ERFC

/* ---- double, 4 lanes ---- */
#define SFX f64
#define VEC_F32 0
#define T double
#define V __m256d
#define M __m256d
#define W 4
#define V_LOAD(p) _mm256_loadu_pd(p)
#define V_STORE(p, v) _mm256_storeu_pd(p, v)
#define V_LOADN(p, k, fill)                                                    \
  _mm256_blendv_pd(_mm256_set1_pd(fill),                                       \
                   _mm256_maskload_pd(p, tail_mask_64(k)),                     \
                   _mm256_castsi256_pd(tail_mask_64(k)))
#define V_STOREN(p, v, k) _mm256_maskstore_pd(p, tail_mask_64(k), v)
#define V_SET1(x) _mm256_set1_pd(x)
#define V_ADD(a, b) _mm256_add_pd(a, b)
#define V_SUB(a, b) _mm256_sub_pd(a, b)
#define V_MUL(a, b) _mm256_mul_pd(a, b)
#define V_DIV(a, b) _mm256_div_pd(a, b)
#define V_RECIP(v) _mm256_div_pd(_mm256_set1_pd(1.0), v)
#define V_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define V_FNMA(a, b, c) _mm256_fnmadd_pd(a, b, c)
#define V_MAX(a, b) _mm256_max_pd(a, b)
#define V_MIN(a, b) _mm256_min_pd(a, b)
#define V_AND(a, b) _mm256_and_pd(a, b)
#define V_OR(a, b) _mm256_or_pd(a, b)
#define V_ANDNOT(a, b) _mm256_andnot_pd(a, b)
#define V_ROUND(v)                                                             \
  _mm256_round_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_LDEXP(p, n) ldexp_pd(p, n)
#define V_LT(a, b) _mm256_cmp_pd(a, b, _CMP_LT_OQ)
#define V_GT(a, b) _mm256_cmp_pd(a, b, _CMP_GT_OQ)
#define V_BLEND(m, a, b) _mm256_blendv_pd(a, b, m)
#define V_HSUM(v) hsum_pd(v)
#define V_HMAX(v) hmax_pd(v)
#define V_ERFC(v) _ZGVdN4v_erfc(v)
#include "kernels/vec_body.h"

const mlp__kernel_table mlp__kernels_avx2 = {
    .set = MLP_KERNELS_AVX2,
    .name = "avx2",
    .fwd_f32 = MLP__KERNEL_ROW(fwd, f32),
    .fwd_f64 = MLP__KERNEL_ROW(fwd, f64),
    .bwd_f32 = MLP__KERNEL_ROW(bwd, f32),
    .bwd_f64 = MLP__KERNEL_ROW(bwd, f64),
};

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
