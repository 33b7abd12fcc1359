/*
 * avx512.c - the AVX-512 (F, DQ, BW, VL) kernel set: vec_body.h over
 * 512-bit vectors, 16 floats or 8 doubles, with masked loads and stores
 * for row tails, compiled for the AVX-512 F/DQ/BW/VL target;
 * dispatch.c runs it only when the CPU and OS support it. erfc (gelu)
 * comes from glibc's libmvec (see docs/kernels.md for the choice).
 */
#include <math.h>

#include "kernels/kernels.h"

/* Everything below is compiled as if with -mavx512f -mavx512dq
 * -mavx512bw -mavx512vl, through the compiler's target pragma, so that this
 * file sits among the library's ordinary sources (and its objects reach
 * the white-box tests). */
#if defined(__clang__)
#pragma clang attribute push(                                                  \
    __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"))),             \
    apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl")
#endif

#include <immintrin.h>

/* libmvec's AVX-512 erfc, by its vector-ABI names. */
__m512 _ZGVeN16v_erfcf(__m512 x);
__m512d _ZGVeN8v_erfc(__m512d x);

/* 1 / d from the 14-bit estimate and Newton steps r' = r + r (1 - d r),
 * each doubling the correct bits: one for float, two for double. Several
 * times the throughput of a 512-bit division. */
static inline __m512 recip_ps(__m512 d) {
  __m512 r = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}
static inline __m512d recip_pd(__m512d d) {
  __m512d r = _mm512_rcp14_pd(d);
  r = _mm512_fmadd_pd(r, _mm512_fnmadd_pd(d, r, _mm512_set1_pd(1.0)), r);
  return _mm512_fmadd_pd(r, _mm512_fnmadd_pd(d, r, _mm512_set1_pd(1.0)), r);
}

/* ---- float, 16 lanes ---- */
#define SFX f32
#define VEC_F32 1
#define T float
#define V __m512
#define M __mmask16
#define W 16
#define V_TAIL(k) ((__mmask16)((1u << (k)) - 1u))
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define V_LOADN(p, k, fill)                                                    \
  _mm512_mask_loadu_ps(_mm512_set1_ps(fill), V_TAIL(k), p)
#define V_STOREN(p, v, k) _mm512_mask_storeu_ps(p, V_TAIL(k), v)
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_SUB(a, b) _mm512_sub_ps(a, b)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_DIV(a, b) _mm512_div_ps(a, b)
#define V_RECIP(v) recip_ps(v)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_FNMA(a, b, c) _mm512_fnmadd_ps(a, b, c)
#define V_MAX(a, b) _mm512_max_ps(a, b)
#define V_MIN(a, b) _mm512_min_ps(a, b)
#define V_AND(a, b) _mm512_and_ps(a, b)
#define V_OR(a, b) _mm512_or_ps(a, b)
#define V_ANDNOT(a, b) _mm512_andnot_ps(a, b)
#define V_ROUND(v)                                                             \
  _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_LDEXP(p, n) _mm512_scalef_ps(p, n)
#define V_LT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ)
#define V_GT(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)
#define V_BLEND(m, a, b) _mm512_mask_blend_ps(m, a, b)
#define V_HSUM(v) _mm512_reduce_add_ps(v)
#define V_HMAX(v) _mm512_reduce_max_ps(v)
#define V_ERFC(v) _ZGVeN16v_erfcf(v)
#include "kernels/vec_body.h"
#undef SFX
#undef VEC_F32
#undef T
#undef V
#undef M
#undef W
#undef V_TAIL
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

/* ---- double, 8 lanes ---- */
#define SFX f64
#define VEC_F32 0
#define T double
#define V __m512d
#define M __mmask8
#define W 8
#define V_TAIL(k) ((__mmask8)((1u << (k)) - 1u))
#define V_LOAD(p) _mm512_loadu_pd(p)
#define V_STORE(p, v) _mm512_storeu_pd(p, v)
#define V_LOADN(p, k, fill)                                                    \
  _mm512_mask_loadu_pd(_mm512_set1_pd(fill), V_TAIL(k), p)
#define V_STOREN(p, v, k) _mm512_mask_storeu_pd(p, V_TAIL(k), v)
#define V_SET1(x) _mm512_set1_pd(x)
#define V_ADD(a, b) _mm512_add_pd(a, b)
#define V_SUB(a, b) _mm512_sub_pd(a, b)
#define V_MUL(a, b) _mm512_mul_pd(a, b)
#define V_DIV(a, b) _mm512_div_pd(a, b)
#define V_RECIP(v) recip_pd(v)
#define V_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define V_FNMA(a, b, c) _mm512_fnmadd_pd(a, b, c)
#define V_MAX(a, b) _mm512_max_pd(a, b)
#define V_MIN(a, b) _mm512_min_pd(a, b)
#define V_AND(a, b) _mm512_and_pd(a, b)
#define V_OR(a, b) _mm512_or_pd(a, b)
#define V_ANDNOT(a, b) _mm512_andnot_pd(a, b)
#define V_ROUND(v)                                                             \
  _mm512_roundscale_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_LDEXP(p, n) _mm512_scalef_pd(p, n)
#define V_LT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ)
#define V_GT(a, b) _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ)
#define V_BLEND(m, a, b) _mm512_mask_blend_pd(m, a, b)
#define V_HSUM(v) _mm512_reduce_add_pd(v)
#define V_HMAX(v) _mm512_reduce_max_pd(v)
#define V_ERFC(v) _ZGVeN8v_erfc(v)
#include "kernels/vec_body.h"

const mlp__kernel_table mlp__kernels_avx512 = {
    .set = MLP_KERNELS_AVX512,
    .name = "avx512",
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
