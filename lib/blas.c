/*
 * blas.c - the only file that includes cblas.h: the GEMM (and GEMV) calls
 * of the passes, and what BLAS is in use.
 *
 * Vendor extensions (OpenBLAS's core name and thread calls, BLIS's and
 * MKL's version calls) are looked up with dlsym at run time, so that the
 * library links against any CBLAS and still reports what it can.
 */
#include <cblas.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/*
 * Optional GEMM provider (build option, off by default): with
 * MLP_HAVE_DNNL the float GEMMs of the forward pass go to oneDNN's
 * dnnl_sgemm, which is faster than OpenBLAS 0.3.21 on the small-M shapes
 * of batched MLPs (docs/benchmarks.md); gemv, double and the backward
 * pass stay on CBLAS. oneDNN threads with OpenMP: every calling thread
 * follows mlp_blas_set_threads (OpenMP's thread count is per thread).
 */
#ifdef MLP_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdatomic.h>

static atomic_int dnnl_threads; /* 0: OpenMP's default */

static void sgemm_dnnl(int trans_b, int m, int n, int k, const float *a,
                       int lda, const float *b, int ldb, float *c, int ldc) {
  int t = atomic_load_explicit(&dnnl_threads, memory_order_relaxed);
  if (t > 0 && omp_get_max_threads() != t)
    omp_set_num_threads(t);
  dnnl_sgemm('N', trans_b ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c,
             ldc);
}
#define SGEMM_NN_OR_NT(tb, m, n, k, a, lda, b, ldb, c, ldc)                    \
  sgemm_dnnl(tb, m, n, k, a, lda, b, ldb, c, ldc)
#else
#define SGEMM_NN_OR_NT(tb, m, n, k, a, lda, b, ldb, c, ldc)                    \
  cblas_sgemm(CblasRowMajor, CblasNoTrans, (tb) ? CblasTrans : CblasNoTrans,   \
              m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc)
#endif

/*
 * Layers with at most this many multiply-adds (rows x in x out) skip the
 * BLAS: its fixed cost per call (argument checks, kernel dispatch, about
 * 50-100 ns with OpenBLAS) is then larger than the arithmetic, and a plain
 * loop is several times faster (the 2-3-2-2 seed net at batch 1: 3 calls).
 * The loop sums over the inputs in ascending order, as the reference does.
 */
#define SMALL_MACS 4096

#define SMALL_GEMM(NAME, T)                                                    \
  static void NAME(const T *restrict w, int out_in, const T *restrict in,      \
                   size_t rows, size_t n_in, size_t n_out, T *restrict out) {  \
    const size_t sj = out_in ? n_in : 1, sp = out_in ? 1 : n_out;              \
    for (size_t i = 0; i < rows; i++) {                                        \
      const T *x = in + i * n_in;                                              \
      for (size_t j = 0; j < n_out; j++) {                                     \
        /* one output at a time, in a register: no store-to-load chain */      \
        const T *wj = w + j * sj;                                              \
        T acc = 0;                                                             \
        for (size_t p = 0; p < n_in; p++)                                      \
          acc += x[p] * wj[p * sp];                                            \
        out[i * n_out + j] = acc;                                              \
      }                                                                        \
    }                                                                          \
  }
SMALL_GEMM(small_gemm_f32, float)
SMALL_GEMM(small_gemm_f64, double)

void mlp__layer_gemm(const mlp_model *m, size_t k, const void *in, size_t rows,
                     void *out) {
  const mlp__layer *l = &m->layers[k - 1];
  const int n_in = (int)l->in, n_out = (int)l->out;
  const int out_in = m->storage == MLP_LAYOUT_OUT_IN;

  if (l->in * l->out <= SMALL_MACS && rows * l->in * l->out <= SMALL_MACS) {
    if (m->dtype == MLP_F32)
      small_gemm_f32(mlp__w(m, k), out_in, in, rows, l->in, l->out, out);
    else
      small_gemm_f64(mlp__w(m, k), out_in, in, rows, l->in, l->out, out);
    return;
  }
  if (rows == 1) {
    /* z = W^T y: OpenBLAS does not route a one-row GEMM to its GEMV,
     * which is several times faster on wide layers. */
    if (m->dtype == MLP_F32)
      cblas_sgemv(CblasRowMajor, out_in ? CblasNoTrans : CblasTrans,
                  out_in ? n_out : n_in, out_in ? n_in : n_out, 1.0f,
                  mlp__w(m, k), out_in ? n_in : n_out, in, 1, 0.0f, out, 1);
    else
      cblas_dgemv(CblasRowMajor, out_in ? CblasNoTrans : CblasTrans,
                  out_in ? n_out : n_in, out_in ? n_in : n_out, 1.0,
                  mlp__w(m, k), out_in ? n_in : n_out, in, 1, 0.0, out, 1);
    return;
  }
  if (m->dtype == MLP_F32)
    SGEMM_NN_OR_NT(out_in, (int)rows, n_out, n_in, in, n_in, mlp__w(m, k),
                   out_in ? n_in : n_out, out, n_out);
  else
    cblas_dgemm(CblasRowMajor, CblasNoTrans, out_in ? CblasTrans : CblasNoTrans,
                (int)rows, n_out, n_in, 1.0, in, n_in, mlp__w(m, k),
                out_in ? n_in : n_out, 0.0, out, n_out);
}

void mlp__layer_gemm_cols(const mlp_model *m, size_t k, const void *in,
                          size_t rows, void *out, size_t j0, size_t j1) {
  const mlp__layer *l = &m->layers[k - 1];
  const int n_in = (int)l->in, n_out = (int)l->out, n = (int)(j1 - j0);
  const int out_in = m->storage == MLP_LAYOUT_OUT_IN;
  /* the first weight of column j0: W[0][j0] in [in, out], W[j0][0] in
   * [out, in] */
  const size_t w0 = out_in ? j0 * l->in : j0;

  if (m->dtype == MLP_F32) {
    const float *w = (const float *)mlp__w(m, k) + w0;
    float *z = (float *)out + j0;
    if (rows == 1)
      cblas_sgemv(CblasRowMajor, out_in ? CblasNoTrans : CblasTrans,
                  out_in ? n : n_in, out_in ? n_in : n, 1.0f, w,
                  out_in ? n_in : n_out, in, 1, 0.0f, z, 1);
    else
      SGEMM_NN_OR_NT(out_in, (int)rows, n, n_in, in, n_in, w,
                     out_in ? n_in : n_out, z, n_out);
  } else {
    const double *w = (const double *)mlp__w(m, k) + w0;
    double *z = (double *)out + j0;
    if (rows == 1)
      cblas_dgemv(CblasRowMajor, out_in ? CblasNoTrans : CblasTrans,
                  out_in ? n : n_in, out_in ? n_in : n, 1.0, w,
                  out_in ? n_in : n_out, in, 1, 0.0, z, 1);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans,
                  out_in ? CblasTrans : CblasNoTrans, (int)rows, n, n_in, 1.0,
                  in, n_in, w, out_in ? n_in : n_out, 0.0, z, n_out);
  }
}

void mlp__gemm(mlp_dtype dtype, int trans_a, int trans_b, size_t m, size_t n,
               size_t k, double alpha, const void *a, size_t lda, const void *b,
               size_t ldb, double beta, void *c, size_t ldc) {
  const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;

  if (dtype == MLP_F32)
    cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, (float)alpha, a,
                (int)lda, b, (int)ldb, (float)beta, c, (int)ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, alpha, a,
                (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

/* ------------------------------------------------------------------------
 * What BLAS is running
 */

typedef char *(*str_fn)(void);
typedef const char *(*cstr_fn)(void);
typedef int (*int_fn)(void);
typedef void (*set_int_fn)(int);
typedef void (*mkl_version_fn)(char *, int);

static pthread_once_t info_once = PTHREAD_ONCE_INIT;
static mlp_blas_info info;
static char version_buf[128], config_buf[256], core_buf[64], cpu_buf[64];
static int_fn get_threads;
static set_int_fn set_threads;

/* Cores of OpenBLAS that run without AVX2 and FMA: on a CPU that has them
 * these are several times slower than its own core. */
static const char *const generic_cores[] = {
    "Prescott",  "Core2",  "Penryn",      "Dunnington",
    "Nehalem",   "Atom",   "Katmai",      "Coppermine",
    "Northwood", "Banias", "Sandybridge", "Opteron",
    "Barcelona", "Bobcat", "Athlon",      "Unknown",
};

/* dlsym for a function: ISO C has no conversion from void * to a function
 * pointer, so the address is copied bytewise (what POSIX guarantees). */
typedef void (*any_fn)(void);
static any_fn sym(const char *name) {
  void *p = dlsym(RTLD_DEFAULT, name);
  any_fn f = NULL;

  if (p)
    memcpy(&f, &p, sizeof f);
  return f;
}

static void read_cpu_brand(void) {
  unsigned regs[12];

  if (__get_cpuid_max(0x80000000u, NULL) < 0x80000004u)
    return;
  for (unsigned i = 0; i < 3; i++)
    __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1],
                &regs[4 * i + 2], &regs[4 * i + 3]);
  memcpy(cpu_buf, regs, sizeof regs);
  cpu_buf[sizeof regs] = '\0';
  /* Brand strings are padded with leading spaces on some CPUs. */
  size_t lead = strspn(cpu_buf, " ");
  memmove(cpu_buf, cpu_buf + lead, strlen(cpu_buf + lead) + 1);
}

/* The best OpenBLAS core for this CPU, or "" when we cannot tell. */
static const char *best_openblas_core(void) {
  __builtin_cpu_init();
  if (mlp_kernels_supported(MLP_KERNELS_AVX512))
    return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
  if (mlp_kernels_supported(MLP_KERNELS_AVX2))
    return "Haswell";
  return "";
}

static void detect(void) {
  str_fn ob_config = (str_fn)sym("openblas_get_config");
  str_fn ob_core = (str_fn)sym("openblas_get_corename");
  cstr_fn bli_version = (cstr_fn)sym("bli_info_get_version_str");
  mkl_version_fn mkl_version = (mkl_version_fn)sym("MKL_Get_Version_String");

  read_cpu_brand();
  info.vendor = "CBLAS";
  info.version = version_buf;
  info.config = config_buf;
  info.core = core_buf;
  info.cpu = cpu_buf;
  info.suggested_core = "";
  if (ob_config) {
    const char *cfg = ob_config();
    const char *ver;
    info.vendor = "OpenBLAS";
    snprintf(config_buf, sizeof config_buf, "%s", cfg ? cfg : "");
    /* The config string starts "OpenBLAS 0.3.21 DYNAMIC_ARCH ...". */
    ver = strncmp(config_buf, "OpenBLAS ", 9) == 0 ? config_buf + 9 : "";
    snprintf(version_buf, sizeof version_buf, "%.*s", (int)strcspn(ver, " "),
             ver);
    if (ob_core)
      snprintf(core_buf, sizeof core_buf, "%s", ob_core());
#ifdef MLP_HAVE_DNNL
    {
      const dnnl_version_t *v = dnnl_version();
      char tmp[sizeof config_buf];
      snprintf(tmp, sizeof tmp, "%s", config_buf);
      snprintf(config_buf, sizeof config_buf,
               "float GEMMs: oneDNN %d.%d.%d dnnl_sgemm; %.180s", v->major,
               v->minor, v->patch, tmp);
    }
#endif
    get_threads = (int_fn)sym("openblas_get_num_threads");
    set_threads = (set_int_fn)sym("openblas_set_num_threads");
    for (size_t i = 0; i < sizeof generic_cores / sizeof *generic_cores; i++) {
      if (strcasecmp(core_buf, generic_cores[i]) == 0 &&
          best_openblas_core()[0]) {
        info.slow_core = 1;
        info.suggested_core = best_openblas_core();
      }
    }
  } else if (bli_version) {
    info.vendor = "BLIS";
    snprintf(version_buf, sizeof version_buf, "%s", bli_version());
    get_threads = (int_fn)sym("bli_thread_get_num_threads");
    set_threads = (set_int_fn)sym("bli_thread_set_num_threads");
  } else if (mkl_version) {
    info.vendor = "MKL";
    mkl_version(version_buf, (int)sizeof version_buf);
    get_threads = (int_fn)sym("MKL_Get_Max_Threads");
    set_threads = (set_int_fn)sym("MKL_Set_Num_Threads");
  }
}

int mlp_blas_info_get(mlp_blas_info *out) {
  if (!out)
    return mlp__fail(MLP_ERR_NULL, "mlp_blas_info_get: info is NULL");
  pthread_once(&info_once, detect);
  *out = info;
  out->threads = get_threads ? get_threads() : 0;
  return MLP_OK;
}

int mlp_blas_set_threads(int threads) {
  pthread_once(&info_once, detect);
  if (threads < 1)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_blas_set_threads: %d threads (need >= 1)", threads);
#ifdef MLP_HAVE_DNNL
  atomic_store(&dnnl_threads, threads);
  omp_set_num_threads(threads);
#endif
  if (!set_threads)
    return mlp__fail(MLP_ERR_UNSUPPORTED,
                     "mlp_blas_set_threads: %s has no thread-count call",
                     info.vendor);
  set_threads(threads);
  return MLP_OK;
}
