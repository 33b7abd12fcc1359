/*
 * forward.c - the forward pass: per layer one GEMM into the context, then
 * the fused bias + activation kernel over the block just written.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

/*
 * NOTE: fewer than 8 rows narrower than NARROW elements go through the
 * plain C kernels whatever the context's set: a vector kernel's fixed
 * cost (masks, horizontal max and sum) is then larger than the work (the
 * 2-3-2-2 net at batch 1: 139 against 152 ns per pass); from 8 rows on
 * the vector sets group narrow rows and win. Results stay within the
 * tolerances all sets share, the reference set being their definition.
 */
#define NARROW 8

static inline const mlp__kernel_table *
narrow_kernels(const mlp__kernel_table *vec, size_t n, size_t rows) {
  return n < NARROW && rows < 8 ? &mlp__kernels_reference : vec;
}

/*
 * Tiny layers (rows x in x out <= TINY_MACS) in one loop: Z = Y W + b with
 * the sum over the inputs in ascending order, as the GEMM then the kernel
 * would, and identity, ReLU and leaky ReLU applied in the same loop. A
 * BLAS call and a kernel call cost more than such a layer's arithmetic
 * (the 2-3-2-2 net at batch 1). Other activations then go through the
 * kernel with the bias already added. Returns 1 when it applied f too.
 */
#define TINY_MACS 4096

#define TINY_LAYER(NAME, T)                                                    \
  static int NAME(const mlp__layer *l, const T *restrict w, int out_in,        \
                  const T *restrict b, const T *restrict in, size_t rows,      \
                  T *z, T *y) { /* y may be z */                               \
    const size_t n_in = l->in, n_out = l->out;                                 \
    const size_t sj = out_in ? n_in : 1, sp = out_in ? 1 : n_out;              \
    const int act = l->act == MLP_ACT_IDENTITY || l->act == MLP_ACT_RELU ||    \
                    l->act == MLP_ACT_LEAKY_RELU;                              \
    const T slope = (T)l->slope;                                               \
    for (size_t i = 0; i < rows; i++) {                                        \
      const T *x = in + i * n_in;                                              \
      for (size_t j = 0; j < n_out; j++) {                                     \
        const T *wj = w + j * sj;                                              \
        T acc = 0;                                                             \
        for (size_t p = 0; p < n_in; p++)                                      \
          acc += x[p] * wj[p * sp];                                            \
        acc += b[j];                                                           \
        z[i * n_out + j] = acc;                                                \
        if (!act)                                                              \
          continue;                                                            \
        /* as the reference kernels do: relu(NaN) = 0 */                       \
        if (l->act == MLP_ACT_IDENTITY || acc > 0)                             \
          y[i * n_out + j] = acc;                                              \
        else                                                                   \
          y[i * n_out + j] = l->act == MLP_ACT_RELU ? (T)0 : slope * acc;      \
      }                                                                        \
    }                                                                          \
    return act;                                                                \
  }
TINY_LAYER(tiny_layer_f32, float)
TINY_LAYER(tiny_layer_f64, double)

/*
 * Tiny nets: every width at most TINY_WIDTH and a chunk of at most
 * tiny_rows rows (TINY_NET_ROWS, and each layer under TINY_MACS
 * multiply-adds). Such a pass (the 2-3-2-2 net at batch 1: 16
 * multiply-adds) costs less than the
 * bookkeeping of the layer-by-layer path, so one row at a time runs
 * through all layers here, hidden layers in two arrays on the stack: the
 * same sums in the same order as tiny_layer, and identity, ReLU, leaky
 * ReLU and softmax computed as the reference kernels compute them. Other
 * activations go through the reference kernels. Only Z_N is stored in the
 * context, as the layer-by-layer path leaves it (without MLP_CTX_KEEP no
 * other layer is readable).
 */
#define TINY_WIDTH 16
/* From 4 rows on the layer-by-layer path is as fast (2-3-2-2: 28-29M
 * samples/s either way at batch 4, 33M against 29M at batch 8). */
#define TINY_NET_ROWS 4

size_t mlp__tiny_rows(const mlp__layer *layers, size_t n_layers) {
  size_t widest = 1; /* in x out of the largest layer */
  for (size_t k = 0; k < n_layers; k++) {
    if (layers[k].in > TINY_WIDTH || layers[k].out > TINY_WIDTH)
      return 0;
    if (layers[k].in * layers[k].out > widest)
      widest = layers[k].in * layers[k].out;
  }
  return TINY_MACS / widest < TINY_NET_ROWS ? TINY_MACS / widest
                                            : TINY_NET_ROWS;
}

#define TINY_NET(NAME, T, EXP, FWD)                                            \
  static void NAME(const mlp_model *m, const T *x, size_t rows, T *zn, T *y) { \
    const size_t n = m->n_layers, n0 = m->widths[0], nn = m->widths[n];        \
    const int out_in = m->storage == MLP_LAYOUT_OUT_IN;                        \
    T buf[2][TINY_WIDTH];                                                      \
    for (size_t i = 0; i < rows; i++) {                                        \
      const T *in = x + i * n0;                                                \
      for (size_t k = 1; k <= n; k++) {                                        \
        const mlp__layer *l = &m->layers[k - 1];                               \
        const size_t n_in = l->in, n_out = l->out;                             \
        const size_t sj = out_in ? n_in : 1, sp = out_in ? 1 : n_out;          \
        const T *w = mlp__w(m, k), *b = mlp__b(m, k);                          \
        T *z = k < n ? buf[k & 1] : zn + i * nn;                               \
        T *o = k < n ? z : y + i * nn;                                         \
        for (size_t j = 0; j < n_out; j++) {                                   \
          T acc = 0;                                                           \
          for (size_t p = 0; p < n_in; p++)                                    \
            acc += in[p] * w[j * sj + p * sp];                                 \
          z[j] = acc + b[j];                                                   \
        }                                                                      \
        switch (l->act) {                                                      \
        case MLP_ACT_IDENTITY:                                                 \
          for (size_t j = 0; j < n_out && o != z; j++)                         \
            o[j] = z[j];                                                       \
          break;                                                               \
        case MLP_ACT_RELU:                                                     \
          for (size_t j = 0; j < n_out; j++)                                   \
            o[j] = z[j] > 0 ? z[j] : (T)0;                                     \
          break;                                                               \
        case MLP_ACT_LEAKY_RELU:                                               \
          for (size_t j = 0; j < n_out; j++)                                   \
            o[j] = z[j] > 0 ? z[j] : (T)l->slope * z[j];                       \
          break;                                                               \
        case MLP_ACT_SOFTMAX: {                                                \
          T top = -(T)INFINITY, sum = 0;                                       \
          for (size_t j = 0; j < n_out; j++)                                   \
            top = z[j] > top ? z[j] : top;                                     \
          for (size_t j = 0; j < n_out; j++)                                   \
            sum += o[j] = EXP(z[j] - top);                                     \
          for (size_t j = 0; j < n_out; j++)                                   \
            o[j] /= sum;                                                       \
          break;                                                               \
        }                                                                      \
        default:                                                               \
          mlp__kernels_reference.FWD[l->act](z, o, NULL, 1, n_out,             \
                                             (T)l->slope);                     \
        }                                                                      \
        in = o;                                                                \
      }                                                                        \
    }                                                                          \
  }
TINY_NET(tiny_net_f32, float, expf, fwd_f32)
TINY_NET(tiny_net_f64, double, exp, fwd_f64)

/*
 * Rows [r0, r0 + rows) of one chunk through every layer. Without
 * MLP_CTX_KEEP hidden layers ping-pong between the two workspace buffers;
 * `stride` is the row pitch of this block's share of them: the layer's
 * width when one block runs the whole chunk (the documented layout), the
 * widest layer's when the chunk is split across threads, so that blocks
 * at different layers never touch the same bytes. The last layer's Z_N
 * then sits at row pitch stride too; forward_chunk packs it afterwards.
 * With MLP_CTX_KEEP every layer has its own buffers and rows are disjoint.
 */
static void forward_block(const mlp_model *m, mlp_ctx *c, const char *x,
                          size_t r0, size_t rows, char *y, int split) {
  const mlp__kernel_table *vec = c->kern;
  const int keep = (c->flags & MLP_CTX_KEEP) != 0;
  const void *in = x;
  const size_t n = m->n_layers, e = m->elem;

  for (size_t k = 1; k <= n; k++) {
    const mlp__layer *l = &m->layers[k - 1];
    const size_t pitch = (split && !keep) ? m->max_width : l->out;
    const mlp__kernel_table *kern = narrow_kernels(vec, l->out, rows);
    char *z = (char *)c->z[k - 1] + r0 * pitch * e;
    void *out;

    if (keep)
      out = (char *)c->y[k - 1] + r0 * l->out * e;
    else if (k < n)
      out = z; /* in place */
    else
      out = y;
    if (l->in * l->out <= TINY_MACS && rows * l->in * l->out <= TINY_MACS) {
      /* bias (and simple activations) fused into the loop */
      const int out_in = m->storage == MLP_LAYOUT_OUT_IN;
      int done;
      if (m->dtype == MLP_F32)
        done = tiny_layer_f32(l, mlp__w(m, k), out_in, mlp__b(m, k), in, rows,
                              (float *)z, out);
      else
        done = tiny_layer_f64(l, mlp__w(m, k), out_in, mlp__b(m, k), in, rows,
                              (double *)z, out);
      if (!done && m->dtype == MLP_F32)
        kern->fwd_f32[l->act]((float *)z, out, NULL, rows, l->out,
                              (float)l->slope);
      else if (!done)
        kern->fwd_f64[l->act]((double *)z, out, NULL, rows, l->out, l->slope);
    } else {
      mlp__layer_gemm(m, k, in, rows, z);
      if (m->dtype == MLP_F32)
        kern->fwd_f32[l->act]((float *)z, out, mlp__b(m, k), rows, l->out,
                              (float)l->slope);
      else
        kern->fwd_f64[l->act]((double *)z, out, mlp__b(m, k), rows, l->out,
                              l->slope);
    }
    in = out;
  }
  if (keep)
    memcpy(y, (char *)c->y[n - 1] + r0 * m->widths[n] * e,
           rows * m->widths[n] * e);
}

/* A chunk split into row blocks, one per thread. */
typedef struct split_task {
  const mlp_model *m;
  mlp_ctx *c;
  const char *x;
  char *y;
  size_t rows;
} split_task;

/* Block `part` of `parts`: an even share of the rows, block starts
 * rounded to 8 rows (whole GEMM micro-tiles). */
static void block_range(size_t rows, int part, int parts, size_t *r0,
                        size_t *r1) {
  *r0 = (rows * (size_t)part / (size_t)parts) & ~(size_t)7;
  *r1 = part + 1 == parts
            ? rows
            : (rows * (size_t)(part + 1) / (size_t)parts) & ~(size_t)7;
}

static void split_run(void *arg, int part, int parts) {
  const split_task *t = arg;
  const mlp_model *m = t->m;
  size_t r0, r1;

  block_range(t->rows, part, parts, &r0, &r1);
  if (r1 > r0)
    forward_block(m, t->c, t->x + r0 * m->widths[0] * m->elem, r0, r1 - r0,
                  t->y + r0 * m->widths[m->n_layers] * m->elem, 1);
}

/*
 * How many blocks a chunk of `rows` rows is worth splitting into: each
 * block needs at least 16 rows and about 2^20 multiply-adds, or waking a
 * thread costs more than it saves.
 */
/*
 * Weights this large (well past the caches) make a row split read all of
 * them once per block: with fewer than WEIGHT_BOUND_ROWS rows per block the
 * pass is bound by that traffic, and splitting the columns (each thread
 * reads only its share of every W) is faster. wide (100 MB of weights) at
 * batch 64 on 2 threads: rows 0.75x one thread, columns 1.6x.
 */
#define BIG_WEIGHTS ((size_t)16 << 20)
#define WEIGHT_BOUND_ROWS 128

static int weight_bound(const mlp_model *m, size_t rows, int threads) {
  return m->n_params * m->elem >= BIG_WEIGHTS &&
         rows / (size_t)threads < WEIGHT_BOUND_ROWS;
}

static int split_parts(const mlp_model *m, const mlp_ctx *c, size_t rows) {
  const int threads = mlp__pool_size(c->pool);
  size_t macs = 0;

  if (threads <= 1 || weight_bound(m, rows, threads))
    return 1;
  for (size_t k = 1; k <= m->n_layers; k++)
    macs += m->widths[k - 1] * m->widths[k];
  size_t by_rows = rows / 16;
  size_t by_work = macs ? rows * macs / ((size_t)1 << 20) : 0;
  size_t parts = by_rows < by_work ? by_rows : by_work;
  return parts < 2 ? 1 : parts < (size_t)threads ? (int)parts : threads;
}

/*
 * Few rows on several threads: every layer's columns are split instead,
 * one share per thread (GEMM and elementwise epilogue), with a barrier
 * between layers since each needs all of the previous one. Each thread
 * then keeps re-reading the same slice of every W, which stays in its
 * core's cache from one pass to the next. Softmax needs whole rows: part
 * 0 applies it after the barrier.
 */
static void col_range(size_t n, int part, int parts, size_t *j0, size_t *j1) {
  /* boundaries on 16 elements (a cache line of floats) */
  *j0 = part == 0 ? 0 : (n * (size_t)part / (size_t)parts) & ~(size_t)15;
  *j1 = part + 1 == parts
            ? n
            : (n * (size_t)(part + 1) / (size_t)parts) & ~(size_t)15;
}

static void cols_run(void *arg, int part, int parts) {
  const split_task *t = arg;
  const mlp_model *m = t->m;
  mlp_ctx *c = t->c;
  const int keep = (c->flags & MLP_CTX_KEEP) != 0;
  const size_t n = m->n_layers, e = m->elem, rows = t->rows;
  const void *in = t->x;

  for (size_t k = 1; k <= n; k++) {
    const mlp__layer *l = &m->layers[k - 1];
    char *z = c->z[k - 1];
    char *out = keep ? (char *)c->y[k - 1] : k < n ? z : t->y;
    const char *b = mlp__b(m, k);
    const mlp__kernel_table *kern = narrow_kernels(c->kern, l->out, rows);
    size_t j0, j1;

    col_range(l->out, part, parts, &j0, &j1);
    if (j1 > j0) {
      mlp__layer_gemm_cols(m, k, in, rows, z, j0, j1);
      for (size_t i = 0; i < rows && l->act != MLP_ACT_SOFTMAX; i++) {
        size_t at = (i * l->out + j0) * e;
        if (m->dtype == MLP_F32)
          kern->fwd_f32[l->act]((float *)(z + at), (float *)(out + at),
                                (const float *)b + j0, 1, j1 - j0,
                                (float)l->slope);
        else
          kern->fwd_f64[l->act]((double *)(z + at), (double *)(out + at),
                                (const double *)b + j0, 1, j1 - j0, l->slope);
      }
    }
    if (k < n || l->act == MLP_ACT_SOFTMAX)
      mlp__pool_barrier(c->pool, parts);
    if (l->act == MLP_ACT_SOFTMAX) {
      if (part == 0) {
        if (m->dtype == MLP_F32)
          kern->fwd_f32[l->act]((float *)z, (float *)out, mlp__b(m, k), rows,
                                l->out, (float)l->slope);
        else
          kern->fwd_f64[l->act]((double *)z, (double *)out, mlp__b(m, k), rows,
                                l->out, l->slope);
      }
      if (k < n)
        mlp__pool_barrier(c->pool, parts);
    }
    in = out;
  }
}

/* Threads for splitting the columns of a chunk too small to split by
 * rows: each thread needs about 2^18 multiply-adds per pass and 2^14 per
 * layer on average (between two barriers), or the synchronisation costs
 * more than it saves. (2^14 rather than 2^15 lets the deep workload's
 * 256 x 256 layers split at batch 1: 33k -> 57k samples/s on 2 threads,
 * each core then keeping half the weights in its own L2.) */
static int col_parts(const mlp_model *m, const mlp_ctx *c, size_t rows) {
  const int threads = mlp__pool_size(c->pool);
  size_t macs = 0;

  if (threads <= 1 || (rows > 16 && !weight_bound(m, rows, threads)))
    return 1;
  for (size_t k = 1; k <= m->n_layers; k++)
    macs += m->widths[k - 1] * m->widths[k];
  macs *= rows;
  size_t parts = macs >> 18;
  size_t per_layer = (macs / (m->n_layers ? m->n_layers : 1)) >> 14;
  if (per_layer < parts)
    parts = per_layer;
  return parts < 2 ? 1 : parts < (size_t)threads ? (int)parts : threads;
}

/* One chunk of at most ctx->max_batch rows. */
static void forward_chunk(const mlp_model *m, mlp_ctx *c, const void *x,
                          size_t rows, void *y) {
  const int tiny = rows <= m->tiny_rows && !(c->flags & MLP_CTX_KEEP);
  const int parts = tiny ? 1 : split_parts(m, c, rows);
  const int cparts = parts == 1 && !tiny ? col_parts(m, c, rows) : 1;

  if (tiny && m->dtype == MLP_F32) {
    tiny_net_f32(m, x, rows, c->z[m->n_layers - 1], y);
  } else if (tiny) {
    tiny_net_f64(m, x, rows, c->z[m->n_layers - 1], y);
  } else if (cparts > 1) {
    split_task t = {m, c, x, y, rows};
    mlp__pool_run(c->pool, cparts, cols_run, &t);
    if (c->flags & MLP_CTX_KEEP)
      memcpy(y, c->y[m->n_layers - 1], rows * m->widths[m->n_layers] * m->elem);
  } else if (parts == 1) {
    forward_block(m, c, x, 0, rows, y, 0);
  } else {
    split_task t = {m, c, x, y, rows};
    mlp__pool_run(c->pool, parts, split_run, &t);
    if (!(c->flags & MLP_CTX_KEEP)) {
      /* Pack Z_N from the blocks' row pitch to the documented layout;
       * block b's destination ends before block b+1's source begins. */
      const size_t n = m->n_layers, w = m->widths[n], e = m->elem;
      char *zn = c->z[n - 1];
      for (int b = 1; b < parts; b++) {
        size_t r0, r1;
        block_range(rows, b, parts, &r0, &r1);
        memmove(zn + r0 * w * e, zn + r0 * m->max_width * e, (r1 - r0) * w * e);
      }
    }
  }
  c->last_rows = rows;
  c->last_x = x;
  c->last_out = y;
}

int mlp_forward(const mlp_model *m, mlp_ctx *c, const void *x, size_t batch,
                void *y) {
  size_t in_row, out_row;
  int rc = mlp__check_ctx(m, c, "mlp_forward");

  if (rc != MLP_OK)
    return rc;
  in_row = m->widths[0] * m->elem;
  out_row = m->widths[m->n_layers] * m->elem;
  if (!x || !y)
    return mlp__fail(MLP_ERR_NULL, "mlp_forward: %s is NULL", x ? "y" : "x");
  if (batch == 0)
    return mlp__fail(MLP_ERR_BATCH, "mlp_forward: batch is 0");
  /* (a division costs more than the rest of a tiny pass: only divide
   * when a product could overflow at all) */
  if ((batch | in_row | out_row) > UINT32_MAX &&
      (batch > SIZE_MAX / in_row || batch > SIZE_MAX / out_row))
    return mlp__fail(MLP_ERR_OVERFLOW,
                     "mlp_forward: a batch of %zu rows overflows size_t",
                     batch);
  for (size_t done = 0; done < batch; done += c->max_batch) {
    size_t rows = batch - done < c->max_batch ? batch - done : c->max_batch;
    forward_chunk(m, c, (const char *)x + done * in_row, rows,
                  (char *)y + done * out_row);
  }
  return MLP_OK;
}
