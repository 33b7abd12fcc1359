/*
 * init.c - seeded initialisation of a model's parameters: uniform, normal,
 * Xavier/Glorot, He, and orthogonal (LAPACKE's QR).
 *
 * The generator is xoshiro256** seeded through splitmix64, so a seed gives
 * the same stream everywhere. Weights are drawn in the order of the [in,
 * out] notation (row i, then column j) whatever the storage layout, so a
 * seed gives the same model in either layout and in f32 or f64 (f32 is
 * the f64 draw rounded).
 */
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "internal.h"

typedef struct rng {
  uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

/* Uniform on [0, 1) with 53 random bits. */
static double rng_uniform(rng *r) {
  return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Standard normal by Box-Muller; one draw per call (the pair's second
 * value is dropped so that the stream has no hidden state). */
static double rng_normal(rng *r) {
  double u1, u2;

  do
    u1 = rng_uniform(r);
  while (u1 <= 0.0);
  u2 = rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Stores the logical W[i][j] = v into layer k of m. */
static void store(mlp_model *m, size_t k, size_t i, size_t j, double v) {
  const mlp__layer *l = &m->layers[k - 1];
  size_t idx = m->storage == MLP_LAYOUT_IN_OUT ? i * l->out + j : j * l->in + i;

  if (m->dtype == MLP_F32)
    ((float *)mlp__w(m, k))[idx] = (float)v;
  else
    ((double *)mlp__w(m, k))[idx] = v;
}

/*
 * An orthogonal [in, out] matrix for layer k: the QR of an r x c standard
 * normal matrix (r >= c) gives Q with orthonormal columns; its column
 * signs are fixed by diag(R) so that Q is unique. W = Q when in >= out,
 * else Q^T (orthonormal rows).
 */
static int init_orthogonal(mlp_model *m, size_t k, rng *r, double scale) {
  const mlp__layer *l = &m->layers[k - 1];
  size_t rows = l->in >= l->out ? l->in : l->out;
  size_t cols = l->in >= l->out ? l->out : l->in;
  double *a, *tau;
  size_t n;
  lapack_int info;

  if (rows > (size_t)INT32_MAX || mlp__mul_overflow(rows, cols, &n))
    return mlp__fail(MLP_ERR_OVERFLOW,
                     "mlp_model_init: layer %zu: %zu x %zu is too large for "
                     "LAPACK",
                     k, rows, cols);
  a = mlp__calloc(n, sizeof *a);
  tau = mlp__calloc(cols, sizeof *tau);
  if (!a || !tau) {
    mlp__free(a);
    mlp__free(tau);
    return mlp__fail(MLP_ERR_NOMEM,
                     "mlp_model_init: layer %zu: out of memory for the QR", k);
  }
  for (size_t i = 0; i < n; i++)
    a[i] = rng_normal(r);
  info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)rows, (lapack_int)cols, a,
                        (lapack_int)cols, tau);
  if (info == 0) {
    double *sign = tau; /* reuse: sign of diag(R), after orgqr needs tau */
    double *d = mlp__calloc(cols, sizeof *d);
    if (!d) {
      mlp__free(a);
      mlp__free(tau);
      return mlp__fail(MLP_ERR_NOMEM, "mlp_model_init: out of memory");
    }
    for (size_t j = 0; j < cols; j++)
      d[j] = a[j * cols + j] < 0 ? -1.0 : 1.0;
    info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)rows, (lapack_int)cols,
                          (lapack_int)cols, a, (lapack_int)cols, sign);
    for (size_t i = 0; info == 0 && i < rows; i++)
      for (size_t j = 0; j < cols; j++) {
        double v = scale * a[i * cols + j] * d[j];
        if (l->in >= l->out)
          store(m, k, i, j, v);
        else
          store(m, k, j, i, v);
      }
    mlp__free(d);
  }
  mlp__free(a);
  mlp__free(tau);
  if (info != 0)
    return mlp__fail(MLP_ERR_UNSUPPORTED,
                     "mlp_model_init: layer %zu: LAPACK QR failed (info "
                     "%d)",
                     k, (int)info);
  return MLP_OK;
}

int mlp_model_init(mlp_model *m, mlp_init init, uint64_t seed, double scale) {
  rng r;

  if (!m)
    return mlp__fail(MLP_ERR_NULL, "mlp_model_init: model is NULL");
  if ((unsigned)init > MLP_INIT_ORTHOGONAL)
    return mlp__fail(MLP_ERR_ARG, "mlp_model_init: unknown initialiser %d",
                     (int)init);
  if (!isfinite(scale) || scale <= 0)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_model_init: scale %g must be finite and > 0", scale);
  rng_seed(&r, seed);
  for (size_t k = 1; k <= m->n_layers; k++) {
    const mlp__layer *l = &m->layers[k - 1];
    double fan_in = (double)l->in, fan_sum = (double)l->in + (double)l->out;
    double a = scale;
    int normal = init == MLP_INIT_NORMAL || init == MLP_INIT_XAVIER_NORMAL ||
                 init == MLP_INIT_HE_NORMAL;

    memset(mlp__b(m, k), 0, l->out * m->elem);
    if (init == MLP_INIT_ORTHOGONAL) {
      int rc = init_orthogonal(m, k, &r, scale);
      if (rc != MLP_OK)
        return rc;
      continue;
    }
    switch (init) {
    case MLP_INIT_XAVIER_UNIFORM:
      a = scale * sqrt(6.0 / fan_sum);
      break;
    case MLP_INIT_XAVIER_NORMAL:
      a = scale * sqrt(2.0 / fan_sum);
      break;
    case MLP_INIT_HE_UNIFORM:
      a = scale * sqrt(6.0 / fan_in);
      break;
    case MLP_INIT_HE_NORMAL:
      a = scale * sqrt(2.0 / fan_in);
      break;
    default:
      break;
    }
    for (size_t i = 0; i < l->in; i++)
      for (size_t j = 0; j < l->out; j++)
        store(m, k, i, j,
              normal ? a * rng_normal(&r) : a * (2.0 * rng_uniform(&r) - 1.0));
  }
  return MLP_OK;
}
