/*
 * kernels.h - elementwise kernels: bias + activation, softmax, and the
 * activation derivatives of the backward pass. Internal to libmlp.
 *
 * Kernels know nothing of models: they see one block of `rows` rows of
 * `n` contiguous elements (row stride n). Every kernel set (reference,
 * AVX2, AVX-512) fills one mlp__kernel_table; lib/kernels/dispatch.c picks
 * one at load time. The reference set defines the results; vector sets
 * must match it within the tolerances that tests/test_kernels.c checks.
 */
#ifndef MLP_KERNELS_H
#define MLP_KERNELS_H

#include <stddef.h>

#include "mlp.h"

/*
 * Fused epilogue of one layer: for each row i and column j,
 *   z[i][j] += b[j];  y[i][j] = f(z[i][j])
 * (softmax: f over the whole row, subtracting the row maximum). y may
 * equal z (in place: Z is then overwritten by Y); otherwise they do not
 * overlap and z keeps the pre-activation. b may be NULL (no bias). alpha
 * is the leaky ReLU slope, ignored by the other activations.
 */
typedef void (*mlp__fwd_f32)(float *z, float *y, const float *b, size_t rows,
                             size_t n, float alpha);
typedef void (*mlp__fwd_f64)(double *z, double *y, const double *b, size_t rows,
                             size_t n, double alpha);

/*
 * Backward through f, elementwise over count = rows * n elements:
 *   dz = dy * f'(z)
 * given z = Z and y = Y = f(Z) of the same pass (a kernel uses whichever is
 * cheaper). dz may equal dy. Softmax rows need the row structure:
 *   dz_j = y_j (dy_j - sum_i dy_i y_i)
 * so these take rows and n too.
 */
typedef void (*mlp__bwd_f32)(const float *z, const float *y, const float *dy,
                             float *dz, size_t rows, size_t n, float alpha);
typedef void (*mlp__bwd_f64)(const double *z, const double *y, const double *dy,
                             double *dz, size_t rows, size_t n, double alpha);

typedef struct mlp__kernel_table {
  mlp_kernels set;
  const char *name;
  mlp__fwd_f32 fwd_f32[MLP_ACT_COUNT];
  mlp__fwd_f64 fwd_f64[MLP_ACT_COUNT];
  mlp__bwd_f32 bwd_f32[MLP_ACT_COUNT];
  mlp__bwd_f64 bwd_f64[MLP_ACT_COUNT];
} mlp__kernel_table;

/* The initializer of one row of a table, by activation (so that the order
 * of mlp_act does not matter), from functions named
 * DIR_identity_T, DIR_relu_T, DIR_leaky_T, DIR_sigmoid_T, DIR_tanh_T,
 * DIR_gelu_T, DIR_silu_T and DIR_softmax_T (DIR fwd or bwd, T f32 or f64). */
#define MLP__KERNEL_ROW(DIR, T)                                                \
  {                                                                            \
    [MLP_ACT_IDENTITY] = DIR##_identity_##T, [MLP_ACT_RELU] = DIR##_relu_##T,  \
    [MLP_ACT_LEAKY_RELU] = DIR##_leaky_##T,                                    \
    [MLP_ACT_SIGMOID] = DIR##_sigmoid_##T, [MLP_ACT_TANH] = DIR##_tanh_##T,    \
    [MLP_ACT_GELU] = DIR##_gelu_##T, [MLP_ACT_SILU] = DIR##_silu_##T,          \
    [MLP_ACT_SOFTMAX] = DIR##_softmax_##T,                                     \
  }

/* The table of a set, or NULL when it cannot run on this machine. AUTO
 * gives the active set. */
const mlp__kernel_table *mlp__kernels_get(mlp_kernels set);

/* Per-set tables, defined in reference.c, avx2.c and avx512.c. The vector
 * ones exist only when the compiler can build them (MLP_HAVE_AVX2 /
 * MLP_HAVE_AVX512); whether the CPU can run them is dispatch.c's job. */
extern const mlp__kernel_table mlp__kernels_reference;
#ifdef MLP_HAVE_AVX2
extern const mlp__kernel_table mlp__kernels_avx2;
#endif
#ifdef MLP_HAVE_AVX512
extern const mlp__kernel_table mlp__kernels_avx512;
#endif

#endif /* MLP_KERNELS_H */
