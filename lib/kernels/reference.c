/*
 * reference.c - the plain C kernel set. It defines what every kernel
 * computes; the vector sets are tested against it. Written for clarity
 * and numerical care, not speed: one libm call per element.
 *
 * float kernels compute in float with libm's float functions (each within
 * an ulp or two); double kernels in double.
 */
#include <math.h>

#include "kernels/kernels.h"

/* ------------------------------------------------------------------------
 * Scalar activations and their derivatives
 */

/* 1 / (1 + exp(-z)) without overflow: exp is only taken of -|z|. */
static float sigmoid_f32(float z) {
  if (z >= 0.0f)
    return 1.0f / (1.0f + expf(-z));
  float e = expf(z);
  return e / (1.0f + e);
}
static double sigmoid_f64(double z) {
  if (z >= 0.0)
    return 1.0 / (1.0 + exp(-z));
  double e = exp(z);
  return e / (1.0 + e);
}

/* z Phi(z) with Phi(z) = erfc(-z / sqrt 2) / 2: the same value as the
 * erf form, but erfc keeps Phi's relative accuracy for large negative z.
 * The float versions work in double: rounding -z / sqrt 2 to float alone
 * would cost a relative error of about z^2 ulps. */
static float gelu_f32(float z) {
  return (float)(0.5 * z * erfc(-z * M_SQRT1_2));
}
static double gelu_f64(double z) { return 0.5 * z * erfc(-z * M_SQRT1_2); }

/* d/dz z Phi(z) = Phi(z) + z phi(z), phi the standard normal density. */
static float gelu_grad_f32(float z) {
  double phi = 0.5 * M_2_SQRTPI * M_SQRT1_2 * exp(-0.5 * z * z);
  return (float)(0.5 * erfc(-z * M_SQRT1_2) + z * phi);
}
static double gelu_grad_f64(double z) {
  double phi = 0.5 * M_2_SQRTPI * M_SQRT1_2 * exp(-0.5 * z * z);
  return 0.5 * erfc(-z * M_SQRT1_2) + z * phi;
}

/* d/dz z s(z) = s(z) (1 + z (1 - s(z))). */
static float silu_grad_f32(float z) {
  float s = sigmoid_f32(z);
  return s * (1.0f + z * (1.0f - s));
}
static double silu_grad_f64(double z) {
  double s = sigmoid_f64(z);
  return s * (1.0 + z * (1.0 - s));
}

/* ------------------------------------------------------------------------
 * Forward: z += b, y = f(z). Each kernel walks the rows; BIAS(j) is the
 * bias of column j (0 without one).
 */

#define FWD_ELEMENTWISE(NAME, T, EXPR)                                         \
  static void NAME(T *z, T *y, const T *b, size_t rows, size_t n, T alpha) {   \
    (void)alpha;                                                               \
    for (size_t i = 0; i < rows; i++) {                                        \
      T *zr = z + i * n, *yr = y + i * n;                                      \
      for (size_t j = 0; j < n; j++) {                                         \
        T v = zr[j] + (b ? b[j] : (T)0);                                       \
        zr[j] = v;                                                             \
        yr[j] = (EXPR);                                                        \
      }                                                                        \
    }                                                                          \
  }

FWD_ELEMENTWISE(fwd_identity_f32, float, v)
FWD_ELEMENTWISE(fwd_relu_f32, float, v > 0.0f ? v : 0.0f)
FWD_ELEMENTWISE(fwd_leaky_f32, float, v > 0.0f ? v : alpha * v)
FWD_ELEMENTWISE(fwd_sigmoid_f32, float, sigmoid_f32(v))
FWD_ELEMENTWISE(fwd_tanh_f32, float, tanhf(v))
FWD_ELEMENTWISE(fwd_gelu_f32, float, gelu_f32(v))
FWD_ELEMENTWISE(fwd_silu_f32, float, v *sigmoid_f32(v))

FWD_ELEMENTWISE(fwd_identity_f64, double, v)
FWD_ELEMENTWISE(fwd_relu_f64, double, v > 0.0 ? v : 0.0)
FWD_ELEMENTWISE(fwd_leaky_f64, double, v > 0.0 ? v : alpha * v)
FWD_ELEMENTWISE(fwd_sigmoid_f64, double, sigmoid_f64(v))
FWD_ELEMENTWISE(fwd_tanh_f64, double, tanh(v))
FWD_ELEMENTWISE(fwd_gelu_f64, double, gelu_f64(v))
FWD_ELEMENTWISE(fwd_silu_f64, double, v *sigmoid_f64(v))

/* Softmax of each row: subtract the row maximum m so that every exp is of
 * a value <= 0 (no overflow) and the largest term is exactly 1 (the sum is
 * >= 1, no division by zero or underflow to 0/0). */
#define FWD_SOFTMAX(NAME, T, EXP)                                              \
  static void NAME(T *z, T *y, const T *b, size_t rows, size_t n, T alpha) {   \
    (void)alpha;                                                               \
    for (size_t i = 0; i < rows; i++) {                                        \
      T *zr = z + i * n, *yr = y + i * n;                                      \
      T m = -(T)INFINITY;                                                      \
      for (size_t j = 0; j < n; j++) {                                         \
        zr[j] += b ? b[j] : (T)0;                                              \
        m = zr[j] > m ? zr[j] : m;                                             \
      }                                                                        \
      T sum = 0;                                                               \
      for (size_t j = 0; j < n; j++) {                                         \
        T e = EXP(zr[j] - m);                                                  \
        yr[j] = e;                                                             \
        sum += e;                                                              \
      }                                                                        \
      for (size_t j = 0; j < n; j++)                                           \
        yr[j] /= sum;                                                          \
    }                                                                          \
  }

FWD_SOFTMAX(fwd_softmax_f32, float, expf)
FWD_SOFTMAX(fwd_softmax_f64, double, exp)

/* ------------------------------------------------------------------------
 * Backward: dz = dy f'(z), from z or from y = f(z), whichever is simpler.
 */

#define BWD_ELEMENTWISE(NAME, T, EXPR)                                         \
  static void NAME(const T *z, const T *y, const T *dy, T *dz, size_t rows,    \
                   size_t n, T alpha) {                                        \
    (void)z, (void)y, (void)alpha;                                             \
    size_t count = rows * n;                                                   \
    for (size_t k = 0; k < count; k++)                                         \
      dz[k] = dy[k] * (EXPR);                                                  \
  }

BWD_ELEMENTWISE(bwd_identity_f32, float, 1.0f)
BWD_ELEMENTWISE(bwd_relu_f32, float, z[k] > 0.0f ? 1.0f : 0.0f)
BWD_ELEMENTWISE(bwd_leaky_f32, float, z[k] > 0.0f ? 1.0f : alpha)
BWD_ELEMENTWISE(bwd_sigmoid_f32, float, y[k] * (1.0f - y[k]))
BWD_ELEMENTWISE(bwd_tanh_f32, float, (1.0f - y[k]) * (1.0f + y[k]))
BWD_ELEMENTWISE(bwd_gelu_f32, float, gelu_grad_f32(z[k]))
BWD_ELEMENTWISE(bwd_silu_f32, float, silu_grad_f32(z[k]))

BWD_ELEMENTWISE(bwd_identity_f64, double, 1.0)
BWD_ELEMENTWISE(bwd_relu_f64, double, z[k] > 0.0 ? 1.0 : 0.0)
BWD_ELEMENTWISE(bwd_leaky_f64, double, z[k] > 0.0 ? 1.0 : alpha)
BWD_ELEMENTWISE(bwd_sigmoid_f64, double, y[k] * (1.0 - y[k]))
BWD_ELEMENTWISE(bwd_tanh_f64, double, (1.0 - y[k]) * (1.0 + y[k]))
BWD_ELEMENTWISE(bwd_gelu_f64, double, gelu_grad_f64(z[k]))
BWD_ELEMENTWISE(bwd_silu_f64, double, silu_grad_f64(z[k]))

/* Softmax rows: dz_j = y_j (dy_j - sum_i dy_i y_i). The dot product is
 * taken before any dz_j is written, so dz may equal dy. */
#define BWD_SOFTMAX(NAME, T)                                                   \
  static void NAME(const T *z, const T *y, const T *dy, T *dz, size_t rows,    \
                   size_t n, T alpha) {                                        \
    (void)z, (void)alpha;                                                      \
    for (size_t i = 0; i < rows; i++) {                                        \
      const T *yr = y + i * n, *dyr = dy + i * n;                              \
      T *dzr = dz + i * n;                                                     \
      T dot = 0;                                                               \
      for (size_t j = 0; j < n; j++)                                           \
        dot += dyr[j] * yr[j];                                                 \
      for (size_t j = 0; j < n; j++)                                           \
        dzr[j] = yr[j] * (dyr[j] - dot);                                       \
    }                                                                          \
  }

BWD_SOFTMAX(bwd_softmax_f32, float)
BWD_SOFTMAX(bwd_softmax_f64, double)

const mlp__kernel_table mlp__kernels_reference = {
    .set = MLP_KERNELS_REFERENCE,
    .name = "reference",
    .fwd_f32 = MLP__KERNEL_ROW(fwd, f32),
    .fwd_f64 = MLP__KERNEL_ROW(fwd, f64),
    .bwd_f32 = MLP__KERNEL_ROW(bwd, f32),
    .bwd_f64 = MLP__KERNEL_ROW(bwd, f64),
};
