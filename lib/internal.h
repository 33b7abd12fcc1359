/*
 * internal.h - what the parts of libmlp share and users never see: the
 * model and context layouts, error reporting, allocation, checked size
 * arithmetic. Internal names start with mlp__.
 */
#ifndef MLP_INTERNAL_H
#define MLP_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "mlp.h"

#define MLP__ALIGN 64

/* One layer of a model: shapes and where its parameters live. */
typedef struct mlp__layer {
  size_t in, out;
  mlp_act act;
  double slope; /* leaky ReLU slope */
  size_t w_off; /* element offset of W_k in model->params */
  size_t b_off; /* element offset of b_k in model->params */
} mlp__layer;

struct mlp_model {
  uint64_t id; /* unique per model object, for context checks */
  mlp_dtype dtype;
  size_t elem;        /* bytes per element */
  mlp_layout storage; /* layout of every W_k in params */
  size_t n_layers;
  size_t max_width;   /* max over widths[1..N] */
  size_t tiny_rows;   /* chunks up to this many rows take forward.c's
                         tiny-net path (0: never); see mlp__tiny_rows */
  size_t *widths;     /* n_layers + 1 */
  mlp__layer *layers; /* n_layers, layers[k-1] is layer k */
  void *params;       /* W_1, b_1, ..., 64-byte aligned */
  size_t n_params;
};

struct mlp_ctx {
  const mlp_model *model;
  uint64_t model_id;
  size_t max_batch;
  unsigned flags;
  const mlp__kernel_table *kern;
  void *mem; /* the workspace */
  int owns_mem;
  /* Per layer k (index k-1): where Z_k and Y_k of the last pass are. With
   * MLP_CTX_KEEP each has its own buffer; otherwise hidden layers ping-pong
   * between two buffers (Y_k overwrites Z_k in place), and the last layer
   * keeps Z_N in a buffer of its own while Y_N goes to the caller. */
  void **z;
  void **y;
  size_t last_rows;       /* rows of the last chunk; 0 before any pass */
  const void *last_x;     /* the caller's x of the last chunk's rows */
  const void *last_out;   /* the caller's y of the last chunk's rows */
  struct mlp__pool *pool; /* worker threads of mlp_ctx_set_threads, or
                             NULL for one thread (context.c) */
};

/* Runs fn(arg, part, parts) for part = 0..parts-1 on a context's threads,
 * part 0 on the calling thread, and returns when all parts are done;
 * parts is at most the pool's threads. */
typedef void (*mlp__task_fn)(void *arg, int part, int parts);
void mlp__pool_run(struct mlp__pool *pool, int parts, mlp__task_fn fn,
                   void *arg);
/* The pool's threads, the caller included. */
int mlp__pool_size(const struct mlp__pool *pool);
/* Inside a task of mlp__pool_run: returns when all `parts` parts have
 * reached it. */
void mlp__pool_barrier(struct mlp__pool *pool, int parts);

/* Error reporting: records the message on this thread, calls the log
 * callback, and returns status, so that `return mlp__fail(...)` reads as
 * one step. */
int mlp__fail(int status, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Clears this thread's message (successful calls need not). */
void mlp__clear_error(void);

/* Allocation through the user's allocator, 64-byte aligned. */
void *mlp__alloc(size_t size);
void *mlp__calloc(size_t count, size_t size); /* zeroed; NULL on overflow */
void mlp__free(void *ptr);

/* Checked arithmetic: return 0 and store the result, or 1 on overflow. */
static inline int mlp__mul_overflow(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a)
    return 1;
  *out = a * b;
  return 0;
}
static inline int mlp__add_overflow(size_t a, size_t b, size_t *out) {
  if (b > SIZE_MAX - a)
    return 1;
  *out = a + b;
  return 0;
}
/* Rounds n up to a multiple of MLP__ALIGN; returns 1 on overflow. */
static inline int mlp__round_up(size_t n, size_t *out) {
  return mlp__add_overflow(n, MLP__ALIGN - 1, out)
             ? 1
             : (*out &= ~(size_t)(MLP__ALIGN - 1), 0);
}

/* Pointers into a model's parameters for layer k (1..N). */
static inline void *mlp__w(const mlp_model *m, size_t k) {
  return (char *)m->params + m->layers[k - 1].w_off * m->elem;
}
static inline void *mlp__b(const mlp_model *m, size_t k) {
  return (char *)m->params + m->layers[k - 1].b_off * m->elem;
}

/* The tiny_rows of a model with these layers (forward.c). */
size_t mlp__tiny_rows(const mlp__layer *layers, size_t n_layers);

/* Validates that ctx belongs to model; `where` names the calling function
 * in the message. */
int mlp__check_ctx(const mlp_model *model, const mlp_ctx *ctx,
                   const char *where);

/* The GEMM of one layer: out[rows x n_out] = in[rows x n_in] W_k, with W_k
 * in the model's storage layout; gemv for one row where that is faster.
 * blas.c is the only file that includes cblas.h. */
void mlp__layer_gemm(const mlp_model *m, size_t k, const void *in, size_t rows,
                     void *out);

/* Columns [j0, j1) of layer k's GEMM: out[i][j] for j in [j0, j1), out
 * with row stride out_k (for splitting one layer across threads). */
void mlp__layer_gemm_cols(const mlp_model *m, size_t k, const void *in,
                          size_t rows, void *out, size_t j0, size_t j1);

/* General GEMM on dtype, row-major: C = alpha op(A) op(B) + beta C with
 * op(A) m x k, op(B) k x n; trans_a/trans_b nonzero for the transpose. For
 * the backward pass and anything else that needs a BLAS call. */
void mlp__gemm(mlp_dtype dtype, int trans_a, int trans_b, size_t m, size_t n,
               size_t k, double alpha, const void *a, size_t lda, const void *b,
               size_t ldb, double beta, void *c, size_t ldc);

#endif /* MLP_INTERNAL_H */
