/*
 * The kernel sets against an independent long double reference: every
 * activation forward and backward, f32 and f64, every set this machine
 * runs, widths that stress vector tails, in place and out of place, with
 * and without a bias; extreme inputs; backward against central finite
 * differences of the forward in f64; the dispatch calls and MLP_KERNELS.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

static const size_t widths[] = {1, 3, 15, 16, 17, 31, 33, 127, 129};
static const size_t rows_to_test[] = {1, 7, 1000};

/* MLP_TEST_QUICK (set by the valgrind run, which looks for memory errors,
 * not numerics, at 50x the time) caps the row counts at 61. */
static size_t rows_at(size_t ri) {
  size_t rows = rows_to_test[ri];
  return getenv("MLP_TEST_QUICK") && rows > 61 ? 61 : rows;
}
static const mlp_kernels sets[] = {MLP_KERNELS_REFERENCE, MLP_KERNELS_AVX2,
                                   MLP_KERNELS_AVX512};
#define N_SETS (sizeof sets / sizeof *sets)
#define N_WIDTHS (sizeof widths / sizeof *widths)
#define N_ROWS (sizeof rows_to_test / sizeof *rows_to_test)

/* ck_assert_msg for inner loops: Check records every passing ck_assert
 * (a write to its pipe each), which would dominate these tests. */
#define EXPECT(cond, ...)                                                      \
  do {                                                                         \
    if (!(cond))                                                               \
      ck_abort_msg(__VA_ARGS__);                                               \
  } while (0)

/* ------------------------------------------------------------------------
 * Helpers: a seeded generator, f32/f64 buffers as doubles.
 */

static double urand(uint64_t *s, double lo, double hi) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return lo + (hi - lo) * (double)(*s >> 11) * 0x1p-53;
}

typedef struct buf {
  mlp_dtype dt;
  size_t count;
  void *p;
} buf;

static buf buf_new(mlp_dtype dt, size_t count) {
  buf b = {dt, count, malloc((count ? count : 1) * 8)};
  ck_assert_ptr_nonnull(b.p);
  return b;
}
static double get(const buf *b, size_t i) {
  return b->dt == MLP_F32 ? ((const float *)b->p)[i]
                          : ((const double *)b->p)[i];
}
static void set(buf *b, size_t i, double v) {
  if (b->dt == MLP_F32)
    ((float *)b->p)[i] = (float)v;
  else
    ((double *)b->p)[i] = v;
}
static double eps_of(mlp_dtype dt) {
  return dt == MLP_F32 ? FLT_EPSILON : DBL_EPSILON;
}
/* Below this, values count as zero: vector exp flushes results under
 * 2^-124 (f32) / 2^-1020 (f64) to zero. */
static double tiny_of(mlp_dtype dt) {
  return dt == MLP_F32 ? 0x1p-120 : 0x1p-1016;
}

static void fwd(const mlp__kernel_table *t, mlp_act a, buf *z, buf *y,
                const buf *b, size_t rows, size_t n, double alpha) {
  if (z->dt == MLP_F32)
    t->fwd_f32[a](z->p, y->p, b ? b->p : NULL, rows, n, (float)alpha);
  else
    t->fwd_f64[a](z->p, y->p, b ? b->p : NULL, rows, n, alpha);
}
static void bwd(const mlp__kernel_table *t, mlp_act a, const buf *z,
                const buf *y, const buf *dy, buf *dz, size_t rows, size_t n,
                double alpha) {
  if (z->dt == MLP_F32)
    t->bwd_f32[a](z->p, y->p, dy->p, dz->p, rows, n, (float)alpha);
  else
    t->bwd_f64[a](z->p, y->p, dy->p, dz->p, rows, n, alpha);
}

/* ------------------------------------------------------------------------
 * The independent reference, in long double.
 */

static long double sigmoid_ld(long double v) {
  return v >= 0 ? 1 / (1 + expl(-v)) : expl(v) / (1 + expl(v));
}
static long double phi_cdf_ld(long double v) {
  return erfcl(-v / sqrtl(2)) / 2;
}
static long double act_ld(mlp_act a, long double v, long double alpha) {
  switch (a) {
  case MLP_ACT_IDENTITY:
    return v;
  case MLP_ACT_RELU:
    return v > 0 ? v : 0;
  case MLP_ACT_LEAKY_RELU:
    return v > 0 ? v : alpha * v;
  case MLP_ACT_SIGMOID:
    return sigmoid_ld(v);
  case MLP_ACT_TANH:
    return tanhl(v);
  case MLP_ACT_GELU:
    return v * phi_cdf_ld(v);
  case MLP_ACT_SILU:
    return v * sigmoid_ld(v);
  default:
    return NAN;
  }
}
static long double der_ld(mlp_act a, long double v, long double alpha) {
  long double s, t;
  switch (a) {
  case MLP_ACT_IDENTITY:
    return 1;
  case MLP_ACT_RELU:
    return v > 0 ? 1 : 0;
  case MLP_ACT_LEAKY_RELU:
    return v > 0 ? 1 : alpha;
  case MLP_ACT_SIGMOID:
    s = sigmoid_ld(v);
    return s * (1 - s);
  case MLP_ACT_TANH:
    t = tanhl(v);
    return (1 - t) * (1 + t);
  case MLP_ACT_GELU:
    return phi_cdf_ld(v) + v * expl(-v * v / 2) / sqrtl(2 * M_PIl);
  case MLP_ACT_SILU:
    s = sigmoid_ld(v);
    return s * (1 + v * (1 - s));
  default:
    return NAN;
  }
}

/* y_ref = f(z) of rows x n values v (already z + b, rounded to dtype); for
 * softmax also tol_rel[i], the relative tolerance in ulps-of-1 units that
 * the subtraction v - m and the row sum justify. */
static void reference_fwd(mlp_act a, const double *v, size_t rows, size_t n,
                          double alpha, long double *yref, double *tol_rel) {
  for (size_t i = 0; i < rows; i++) {
    const double *vr = v + i * n;
    if (a != MLP_ACT_SOFTMAX) {
      for (size_t j = 0; j < n; j++) {
        yref[i * n + j] = act_ld(a, vr[j], alpha);
        /* gelu: Phi at a rounded argument -z/sqrt 2 has condition
         * number about z^2; twice that, since under valgrind (which runs
         * long double as double) the reference has the same error */
        tol_rel[i * n + j] = a == MLP_ACT_GELU ? 8 + 2 * vr[j] * vr[j] : 8;
      }
      continue;
    }
    double m = -INFINITY;
    long double sum = 0;
    for (size_t j = 0; j < n; j++)
      m = vr[j] > m ? vr[j] : m;
    for (size_t j = 0; j < n; j++)
      sum += expl((long double)vr[j] - m);
    for (size_t j = 0; j < n; j++) {
      yref[i * n + j] = expl((long double)vr[j] - m) / sum;
      tol_rel[i * n + j] = 16 + (double)n + fabs(vr[j] - m);
    }
  }
}

/* ------------------------------------------------------------------------
 * Forward: every set, activation, dtype, width and row count; in place
 * with a bias, out of place with and without one.
 */

static void check_fwd(mlp_act a, mlp_dtype dt, double amp, double alpha,
                      uint64_t seed) {
  for (size_t wi = 0; wi < N_WIDTHS; wi++)
    for (size_t ri = 0; ri < N_ROWS; ri++) {
      size_t n = widths[wi], rows = rows_at(ri), count = rows * n;
      buf z0 = buf_new(dt, count), b = buf_new(dt, n);
      buf z = buf_new(dt, count), y = buf_new(dt, count);
      double *v = malloc(count * sizeof *v), *tol = malloc(count * 8);
      long double *yref = malloc(count * sizeof *yref);
      uint64_t s = seed + 977 * n + rows;

      ck_assert(v && tol && yref);
      for (size_t i = 0; i < count; i++)
        set(&z0, i, urand(&s, -amp, amp));
      for (size_t j = 0; j < n; j++)
        set(&b, j, urand(&s, -0.5, 0.5));
      for (int mode = 0; mode < 3; mode++) {
        /* mode 0: in place + bias; 1: out of place + bias; 2: no bias */
        const buf *bias = mode == 2 ? NULL : &b;
        for (size_t i = 0; i < count; i++) {
          set(&z, i, get(&z0, i));
          if (bias)
            set(&z, i, get(&z, i) + get(&b, i % n)); /* rounded to dt */
          v[i] = get(&z, i);
        }
        reference_fwd(a, v, rows, n, alpha, yref, tol);
        for (size_t si = 0; si < N_SETS; si++) {
          const mlp__kernel_table *t = mlp__kernels_get(sets[si]);
          if (!t)
            continue;
          memcpy(z.p, z0.p, count * (dt == MLP_F32 ? 4 : 8));
          memset(y.p, 0xff, count * (dt == MLP_F32 ? 4 : 8));
          buf *out = mode == 0 ? &z : &y;
          fwd(t, a, &z, out, bias, rows, n, alpha);
          for (size_t i = 0; i < count; i++) {
            double got = get(out, i), want = (double)yref[i];
            double lim = tol[i] * eps_of(dt) * fabs(want) + tiny_of(dt);
            EXPECT(isfinite(got) && fabs(got - want) <= lim,
                   "%s fwd %s %s n=%zu rows=%zu mode %d [%zu][%zu]: "
                   "z=%.17g got %.17g want %.17g (tol %.3g)",
                   t->name, mlp_dtype_name(dt),
                   a == MLP_ACT_LEAKY_RELU ? "leaky" : "", n, rows, mode, i / n,
                   i % n, v[i], got, want, lim);
            if (mode != 0)
              EXPECT(get(&z, i) == v[i],
                     "%s act %d: z[%zu] = %.17g, want z + b = %.17g", t->name,
                     (int)a, i, get(&z, i), v[i]);
          }
        }
      }
      free(z0.p), free(b.p), free(z.p), free(y.p), free(v), free(tol);
      free(yref);
    }
}

START_TEST(fwd_all) {
  mlp_act a = (mlp_act)_i;
  check_fwd(a, MLP_F32, 6, 0.01, 11 + _i);
  check_fwd(a, MLP_F64, 6, 0.01, 23 + _i);
}
END_TEST

START_TEST(fwd_wide_inputs) {
  /* Inputs out to +-40 (f32) / +-200: tails of sigmoid, tanh, gelu, silu
   * and rows dominated by one logit. */
  mlp_act a = (mlp_act)_i;
  check_fwd(a, MLP_F32, 40, 0.2, 101 + _i);
  check_fwd(a, MLP_F64, 200, 0.2, 203 + _i);
}
END_TEST

/* ------------------------------------------------------------------------
 * Extreme values, spelled out.
 */

static void check_values(mlp_act a, mlp_dtype dt, const double *in, size_t n) {
  buf z = buf_new(dt, n), y = buf_new(dt, n);
  double *v = malloc(n * 8), *tol = malloc(n * 8);
  long double *yref = malloc(n * sizeof *yref);
  for (size_t i = 0; i < n; i++) {
    set(&z, i, in[i]);
    v[i] = get(&z, i);
  }
  reference_fwd(a, v, 1, n, 0.01, yref, tol);
  for (size_t si = 0; si < N_SETS; si++) {
    const mlp__kernel_table *t = mlp__kernels_get(sets[si]);
    if (!t)
      continue;
    for (size_t i = 0; i < n; i++)
      set(&z, i, v[i]);
    fwd(t, a, &z, &y, NULL, 1, n, 0.01);
    for (size_t i = 0; i < n; i++) {
      double got = get(&y, i), want = (double)yref[i];
      double lim = tol[i] * eps_of(dt) * fabs(want) + tiny_of(dt);
      EXPECT(isfinite(got) && fabs(got - want) <= lim,
             "%s %s act %d at z=%g: got %.17g want %.17g", t->name,
             mlp_dtype_name(dt), (int)a, v[i], got, want);
    }
  }
  free(z.p), free(y.p), free(v), free(tol), free(yref);
}

START_TEST(extremes) {
  static const double logits[] = {1000, -1000, 999,   1000, -999.5, 0,
                                  998,  1000,  -1000, 1000, 999.9,  -3,
                                  1e3,  -1e3,  500,   1000, 1000};
  static const double big[] = {100, -100, 88,    -88,    89,   -89,   30,
                               -30, 50,   -50,   1e4,    -1e4, 1e30,  -1e30,
                               0,   -0.0, 1e-30, -1e-30, 5e-5, -5e-5, 20};
  static const mlp_act elementwise[] = {
      MLP_ACT_SIGMOID, MLP_ACT_TANH,       MLP_ACT_GELU,    MLP_ACT_SILU,
      MLP_ACT_RELU,    MLP_ACT_LEAKY_RELU, MLP_ACT_IDENTITY};
  for (int d = 0; d < 2; d++) {
    mlp_dtype dt = d ? MLP_F64 : MLP_F32;
    for (size_t n = 1; n <= sizeof logits / sizeof *logits; n++)
      check_values(MLP_ACT_SOFTMAX, dt, logits, n);
    for (size_t k = 0; k < sizeof elementwise / sizeof *elementwise; k++)
      check_values(elementwise[k], dt, big, sizeof big / sizeof *big);
  }
}
END_TEST

START_TEST(softmax_rows_sum_to_one) {
  for (int d = 0; d < 2; d++) {
    mlp_dtype dt = d ? MLP_F64 : MLP_F32;
    size_t rows = 7, n = 129;
    buf z = buf_new(dt, rows * n);
    for (size_t si = 0; si < N_SETS; si++) {
      const mlp__kernel_table *t = mlp__kernels_get(sets[si]);
      uint64_t s = 5;
      if (!t)
        continue;
      for (size_t i = 0; i < rows * n; i++)
        set(&z, i, urand(&s, -1000, 1000));
      fwd(t, MLP_ACT_SOFTMAX, &z, &z, NULL, rows, n, 0);
      for (size_t i = 0; i < rows; i++) {
        double sum = 0;
        for (size_t j = 0; j < n; j++)
          sum += get(&z, i * n + j);
        EXPECT(fabs(sum - 1) <= 4 * n * eps_of(dt), "%s row %zu sums to %.17g",
               t->name, i, sum);
      }
    }
    free(z.p);
  }
}
END_TEST

/* ------------------------------------------------------------------------
 * Backward against the long double derivative.
 */

static void check_bwd(mlp_act a, mlp_dtype dt, double amp, double alpha,
                      uint64_t seed) {
  const mlp__kernel_table *ref = mlp__kernels_get(MLP_KERNELS_REFERENCE);
  for (size_t wi = 0; wi < N_WIDTHS; wi++)
    for (size_t ri = 0; ri < N_ROWS; ri++) {
      size_t n = widths[wi], rows = rows_at(ri), count = rows * n;
      buf z = buf_new(dt, count), y = buf_new(dt, count);
      buf dy = buf_new(dt, count), dz = buf_new(dt, count);
      uint64_t s = seed + 31 * n + rows;

      for (size_t i = 0; i < count; i++) {
        set(&z, i, urand(&s, -amp, amp));
        set(&dy, i, urand(&s, -1, 1));
      }
      for (size_t si = 0; si < N_SETS; si++) {
        const mlp__kernel_table *t = mlp__kernels_get(sets[si]);
        if (!t)
          continue;
        fwd(ref, a, &z, &y, NULL, rows, n, alpha); /* y = f(z) */
        for (int alias = 0; alias < 2; alias++) {
          /* alias 1: dz == dy, the gradient copied into dz first */
          if (alias)
            memcpy(dz.p, dy.p, count * (dt == MLP_F32 ? 4 : 8));
          bwd(t, a, &z, &y, alias ? &dz : &dy, &dz, rows, n, alpha);
          for (size_t i = 0; i < rows; i++) {
            long double dot = 0, adot = 0;
            if (a == MLP_ACT_SOFTMAX)
              for (size_t j = 0; j < n; j++) {
                long double g = get(&dy, i * n + j);
                dot += g * (long double)get(&y, i * n + j);
                adot += fabsl(g * (long double)get(&y, i * n + j));
              }
            for (size_t j = 0; j < n; j++) {
              size_t k = i * n + j;
              double g = get(&dy, k);
              double zk = get(&z, k), yk = get(&y, k);
              long double want;
              double lim;
              if (a == MLP_ACT_SOFTMAX) {
                want = yk * (g - dot);
                lim = 8 * eps_of(dt) * fabs(yk) *
                          (fabs(g) + (double)adot + 1e-300) * (double)n +
                      tiny_of(dt);
              } else {
                want = g * der_ld(a, zk, alpha);
                /* f' from y = f(z) carries y's rounding: absolute eps;
                 * gelu's Phi and exp(-z^2/2) have condition ~z^2 */
                double c = a == MLP_ACT_GELU ? 16 + 2 * zk * zk : 16;
                lim = c * eps_of(dt) * (fabs((double)want) + fabs(g)) +
                      tiny_of(dt);
              }
              double got = get(&dz, k);
              EXPECT(isfinite(got) && fabs(got - (double)want) <= lim,
                     "%s bwd %s act %d n=%zu rows=%zu alias %d "
                     "[%zu][%zu]: z=%.17g got %.17g want %.17g "
                     "(tol %.3g)",
                     t->name, mlp_dtype_name(dt), (int)a, n, rows, alias, i, j,
                     zk, got, (double)want, lim);
            }
          }
        }
      }
      free(z.p), free(y.p), free(dy.p), free(dz.p);
    }
}

START_TEST(bwd_all) {
  mlp_act a = (mlp_act)_i;
  check_bwd(a, MLP_F32, 6, 0.01, 7 + _i);
  check_bwd(a, MLP_F64, 6, 0.3, 9 + _i);
  check_bwd(a, MLP_F32, 40, 0.01, 13 + _i);
}
END_TEST

/* Backward against central differences of each set's own forward (f64):
 * dz_k = sum_j dy_j dy_j/dz_k of L = sum_j dy_j f(z)_j. */
START_TEST(bwd_finite_differences) {
  mlp_act a = (mlp_act)_i;
  const size_t rows = 3, n = 19, count = rows * n;
  for (size_t si = 0; si < N_SETS; si++) {
    const mlp__kernel_table *t = mlp__kernels_get(sets[si]);
    double z[3 * 19], y[3 * 19], dy[3 * 19], dz[3 * 19], zp[3 * 19], yp[3 * 19];
    uint64_t s = 99 + _i;
    if (!t)
      continue;
    for (size_t i = 0; i < count; i++) {
      z[i] = urand(&s, -4, 4);
      if (fabs(z[i]) < 1e-3) /* keep off relu's kink */
        z[i] = 0.5;
      dy[i] = urand(&s, -1, 1);
    }
    t->fwd_f64[a](z, y, NULL, rows, n, 0.05);
    t->bwd_f64[a](z, y, dy, dz, rows, n, 0.05);
    for (size_t k = 0; k < count; k++) {
      double h = 1e-5 * fmax(1, fabs(z[k])), l[2];
      for (int side = 0; side < 2; side++) {
        memcpy(zp, z, sizeof z);
        zp[k] += side ? -h : h;
        t->fwd_f64[a](zp, yp, NULL, rows, n, 0.05);
        l[side] = 0;
        for (size_t j = 0; j < count; j++)
          l[side] += dy[j] * yp[j];
      }
      double fd = (l[0] - l[1]) / (2 * h);
      EXPECT(fabs(fd - dz[k]) <= 1e-7 * fmax(1, fabs(fd)),
             "%s act %d: dz[%zu] = %.12g, finite difference %.12g", t->name,
             (int)a, k, dz[k], fd);
    }
  }
}
END_TEST

/* ------------------------------------------------------------------------
 * Dispatch.
 */

START_TEST(dispatch_calls) {
  ck_assert_str_eq(mlp_kernels_name(MLP_KERNELS_AUTO), "auto");
  ck_assert_str_eq(mlp_kernels_name(MLP_KERNELS_REFERENCE), "reference");
  ck_assert_str_eq(mlp_kernels_name(MLP_KERNELS_AVX2), "avx2");
  ck_assert_str_eq(mlp_kernels_name(MLP_KERNELS_AVX512), "avx512");
  ck_assert_ptr_null(mlp_kernels_name((mlp_kernels)42));
  ck_assert_int_eq(mlp_kernels_supported(MLP_KERNELS_REFERENCE), 1);
  ck_assert_int_eq(mlp_kernels_supported((mlp_kernels)42), 0);
  ck_assert_int_eq(mlp_kernels_select((mlp_kernels)42), MLP_ERR_ARG);

  mlp_kernels before = mlp_kernels_active();
  ck_assert_int_ne(before, MLP_KERNELS_AUTO);
  ck_assert_ptr_eq(mlp__kernels_get(MLP_KERNELS_AUTO),
                   mlp__kernels_get(before));
  for (size_t si = 0; si < N_SETS; si++) {
    const mlp__kernel_table *t = mlp__kernels_get(sets[si]);
    int ok = mlp_kernels_supported(sets[si]);
    ck_assert_int_eq(t != NULL, ok);
    ck_assert_int_eq(mlp_kernels_select(sets[si]),
                     ok ? MLP_OK : MLP_ERR_UNSUPPORTED);
    if (ok) {
      ck_assert_int_eq(t->set, sets[si]);
      ck_assert_str_eq(t->name, mlp_kernels_name(sets[si]));
      ck_assert_int_eq(mlp_kernels_active(), sets[si]);
      for (int a = 0; a < MLP_ACT_COUNT; a++)
        ck_assert(t->fwd_f32[a] && t->fwd_f64[a] && t->bwd_f32[a] &&
                  t->bwd_f64[a]);
    }
  }
  /* The vector sets are supported in order: AVX-512 implies AVX2. */
  if (mlp_kernels_supported(MLP_KERNELS_AVX512))
    ck_assert(mlp_kernels_supported(MLP_KERNELS_AVX2));
  ck_assert_int_eq(mlp_kernels_select(MLP_KERNELS_AUTO), MLP_OK);
  ck_assert_int_ne(mlp_kernels_active(), MLP_KERNELS_AUTO);
  ck_assert_int_eq(mlp_kernels_select(before), MLP_OK);
}
END_TEST

/* MLP_KERNELS is read once per process, so these need Check's fork mode
 * (each test a fresh child that has not read it yet). */
static int forked(void) {
  const char *f = getenv("CK_FORK");
  return !(f && strcmp(f, "no") == 0);
}

START_TEST(env_reference) {
  if (!forked())
    return;
  setenv("MLP_KERNELS", "reference", 1);
  ck_assert_int_eq(mlp_kernels_active(), MLP_KERNELS_REFERENCE);
  ck_assert_ptr_null(mlp_kernels_env_error());
}
END_TEST

START_TEST(env_unknown) {
  if (!forked())
    return;
  setenv("MLP_KERNELS", "sse9", 1);
  mlp_kernels got = mlp_kernels_active();
  const char *msg = mlp_kernels_env_error();
  ck_assert_ptr_nonnull(msg);
  ck_assert_ptr_nonnull(strstr(msg, "sse9"));
  /* the automatic choice: the best supported set */
  mlp_kernels best =
      mlp_kernels_supported(MLP_KERNELS_AVX512) ? MLP_KERNELS_AVX512
      : mlp_kernels_supported(MLP_KERNELS_AVX2) ? MLP_KERNELS_AVX2
                                                : MLP_KERNELS_REFERENCE;
  ck_assert_int_eq(got, best);
}
END_TEST

START_TEST(env_each_set) {
  if (!forked())
    return;
  /* _i: the set named in MLP_KERNELS; unsupported ones fall back. */
  mlp_kernels want = sets[_i];
  setenv("MLP_KERNELS", mlp_kernels_name(want), 1);
  mlp_kernels got = mlp_kernels_active();
  if (mlp_kernels_supported(want)) {
    ck_assert_int_eq(got, want);
    ck_assert_ptr_null(mlp_kernels_env_error());
  } else {
    ck_assert_int_ne(got, want);
    ck_assert_ptr_nonnull(mlp_kernels_env_error());
  }
}
END_TEST

static Suite *kernels_suite(void) {
  Suite *s = suite_create("kernels");
  TCase *tc = tcase_create("forward");
  tcase_add_loop_test(tc, fwd_all, 0, MLP_ACT_COUNT);
  tcase_add_loop_test(tc, fwd_wide_inputs, 0, MLP_ACT_COUNT);
  tcase_add_test(tc, extremes);
  tcase_add_test(tc, softmax_rows_sum_to_one);
  suite_add_tcase(s, tc);
  tc = tcase_create("backward");
  tcase_add_loop_test(tc, bwd_all, 0, MLP_ACT_COUNT);
  tcase_add_loop_test(tc, bwd_finite_differences, 0, MLP_ACT_COUNT);
  suite_add_tcase(s, tc);
  tc = tcase_create("dispatch");
  tcase_add_test(tc, dispatch_calls);
  tcase_add_test(tc, env_reference);
  tcase_add_test(tc, env_unknown);
  tcase_add_loop_test(tc, env_each_set, 0, (int)N_SETS);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(kernels_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
