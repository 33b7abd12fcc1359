/*
 * peak.c - the measured FP32 peak of one core: a loop of independent
 * fused multiply-adds on the widest vectors the CPU and OS support, with
 * enough accumulators (12) to hide the FMA latency on two FMA ports.
 *
 * NOTE: the result is what this loop reaches on this (possibly shared,
 * possibly frequency-scaling) machine, not the datasheet figure; mlp-bench
 * measures it once per run and states it next to the shares it reports.
 */
#include <stdio.h>

#include "bench.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BENCH_X86 1
#endif

#define ACCS 12

#ifdef BENCH_X86
__attribute__((target("avx512f"))) static double loop_avx512(long iters) {
  __m512 acc[ACCS];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < ACCS; i++)
    acc[i] = _mm512_set1_ps((float)i);
  double t0 = bench_now();
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < ACCS; i++)
      acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  double t = bench_now() - t0;
  __m512 s = acc[0];
  for (int i = 1; i < ACCS; i++)
    s = _mm512_add_ps(s, acc[i]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return (double)iters * ACCS * 16 * 2 / t / 1e9;
}

__attribute__((target("avx2,fma"))) static double loop_avx2(long iters) {
  __m256 acc[ACCS];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < ACCS; i++)
    acc[i] = _mm256_set1_ps((float)i);
  double t0 = bench_now();
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < ACCS; i++)
      acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  double t = bench_now() - t0;
  __m256 s = acc[0];
  for (int i = 1; i < ACCS; i++)
    s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  volatile float sink = out[0];
  (void)sink;
  return (double)iters * ACCS * 8 * 2 / t / 1e9;
}
#endif

static double loop_scalar(long iters) {
  float acc[ACCS];
  for (int i = 0; i < ACCS; i++)
    acc[i] = (float)i;
  double t0 = bench_now();
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < ACCS; i++)
      acc[i] = acc[i] * 0.999999f + 1e-7f;
  double t = bench_now() - t0;
  volatile float sink = acc[0] + acc[ACCS - 1];
  (void)sink;
  return (double)iters * ACCS * 2 / t / 1e9;
}

double bench_peak_measure(const char **isa) {
  double (*loop)(long) = loop_scalar;
  *isa = "scalar";
#ifdef BENCH_X86
  /* The compiler's CPU probe (libgcc / compiler-rt) reports avx512f only
   * when XCR0 says the OS saves the AVX-512 registers. */
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    loop = loop_avx512;
    *isa = "avx512";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    loop = loop_avx2;
    *isa = "avx2";
  }
#endif
  /* Best of 5 runs of ~50 ms: the loop's own speed, not the neighbours'. */
  double best = 0;
  long iters = 1000000;
  for (int r = 0; r < 5; r++) {
    double t0 = bench_now();
    double g = loop(iters);
    double dt = bench_now() - t0;
    if (g > best)
      best = g;
    if (dt < 0.05 && iters < (1L << 40))
      iters *= 2;
  }
  return best;
}
