/*
 * dispatch.c - which kernel set runs. The choice is made once, on first
 * use, from what the CPU reports (CPUID) and what the OS saves on a
 * context switch (XGETBV): a CPU flag alone is not enough, since an OS
 * that does not save the AVX-512 registers makes those instructions fault.
 * MLP_KERNELS=reference|avx2|avx512 in the environment forces a set; an
 * unknown or unsupported value falls back to the automatic choice and is
 * reported by mlp_kernels_env_error(). Nothing here prints.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kernels/kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define MLP__X86 1
#endif

/* What the CPU and OS can run, filled by detect(). */
static int have_avx2;
static int have_avx512;

/* The active set (an mlp_kernels value), read by every new context. */
static atomic_int active_set = MLP_KERNELS_REFERENCE;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char env_error[160];
static int env_error_set;

#ifdef MLP__X86
/* XCR0, the state components the OS saves. Written as bytes of the
 * instruction so that no -mxsave is needed. */
static unsigned long long xgetbv0(void) {
  unsigned int lo, hi;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

static void detect(void) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return;
  int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
  if (!osxsave || !avx)
    return;
  unsigned long long xcr0 = xgetbv0();
  /* Bits 1 and 2: SSE and AVX (YMM upper halves) state. */
  int os_avx = (xcr0 & 0x6) == 0x6;
  /* Bits 5, 6, 7: opmask, upper ZMM0-15, ZMM16-31. */
  int os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
  if (__get_cpuid_max(0, NULL) < 7)
    return;
  __cpuid_count(7, 0, a, b, c, d);
  int avx2 = (b >> 5) & 1;
  int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1,
      vl = (b >> 31) & 1;
  have_avx2 = os_avx && avx2 && fma;
  have_avx512 = have_avx2 && os_avx512 && f && dq && bw && vl;
}
#else
static void detect(void) {}
#endif

static const mlp__kernel_table *table_of(mlp_kernels set) {
  switch (set) {
  case MLP_KERNELS_REFERENCE:
    return &mlp__kernels_reference;
#ifdef MLP_HAVE_AVX2
  case MLP_KERNELS_AVX2:
    return have_avx2 ? &mlp__kernels_avx2 : NULL;
#endif
#ifdef MLP_HAVE_AVX512
  case MLP_KERNELS_AVX512:
    return have_avx512 ? &mlp__kernels_avx512 : NULL;
#endif
  default:
    return NULL;
  }
}

static mlp_kernels best_set(void) {
  if (table_of(MLP_KERNELS_AVX512))
    return MLP_KERNELS_AVX512;
  if (table_of(MLP_KERNELS_AVX2))
    return MLP_KERNELS_AVX2;
  return MLP_KERNELS_REFERENCE;
}

static void init(void) {
  detect();
  mlp_kernels chosen = best_set();
  const char *env = getenv("MLP_KERNELS");
  if (env && *env && strcmp(env, "auto") != 0) {
    mlp_kernels want = MLP_KERNELS_AUTO;
    for (int s = MLP_KERNELS_REFERENCE; s <= MLP_KERNELS_AVX512; s++)
      if (strcmp(env, mlp_kernels_name((mlp_kernels)s)) == 0)
        want = (mlp_kernels)s;
    if (want == MLP_KERNELS_AUTO)
      snprintf(env_error, sizeof env_error,
               "MLP_KERNELS=\"%.40s\" is not one of auto, reference, avx2, "
               "avx512; using %s",
               env, mlp_kernels_name(chosen));
    else if (!table_of(want))
      snprintf(env_error, sizeof env_error,
               "MLP_KERNELS=%s is not supported by this CPU, OS or build; "
               "using %s",
               env, mlp_kernels_name(chosen));
    else
      chosen = want;
    env_error_set = want == MLP_KERNELS_AUTO || chosen != want;
  }
  atomic_store(&active_set, (int)chosen);
}

static void ensure_init(void) { pthread_once(&init_once, init); }

const mlp__kernel_table *mlp__kernels_get(mlp_kernels set) {
  ensure_init();
  if (set == MLP_KERNELS_AUTO)
    set = (mlp_kernels)atomic_load(&active_set);
  return table_of(set);
}

MLP_API mlp_kernels mlp_kernels_active(void) {
  ensure_init();
  return (mlp_kernels)atomic_load(&active_set);
}

MLP_API const char *mlp_kernels_name(mlp_kernels set) {
  switch (set) {
  case MLP_KERNELS_AUTO:
    return "auto";
  case MLP_KERNELS_REFERENCE:
    return "reference";
  case MLP_KERNELS_AVX2:
    return "avx2";
  case MLP_KERNELS_AVX512:
    return "avx512";
  }
  return NULL;
}

MLP_API int mlp_kernels_supported(mlp_kernels set) {
  ensure_init();
  if (set == MLP_KERNELS_AUTO)
    return 1;
  return table_of(set) != NULL;
}

MLP_API int mlp_kernels_select(mlp_kernels set) {
  ensure_init();
  if (!mlp_kernels_name(set))
    return mlp__fail(MLP_ERR_ARG, "mlp_kernels_select: unknown set %d",
                     (int)set);
  if (set == MLP_KERNELS_AUTO)
    set = best_set();
  if (!table_of(set))
    return mlp__fail(MLP_ERR_UNSUPPORTED,
                     "mlp_kernels_select: kernel set %s cannot run on this "
                     "CPU, OS or build",
                     mlp_kernels_name(set));
  atomic_store(&active_set, (int)set);
  return MLP_OK;
}

MLP_API const char *mlp_kernels_env_error(void) {
  ensure_init();
  return env_error_set ? env_error : NULL;
}
