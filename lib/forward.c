/*
 * forward.c - the forward pass: per layer one GEMM into the context, then
 * the fused bias + activation kernel over the block just written.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* One chunk of at most ctx->max_batch rows. */
static void forward_chunk(const mlp_model *m, mlp_ctx *c, const void *x,
                          size_t rows, void *y) {
  const mlp__kernel_table *kern = c->kern;
  const int keep = (c->flags & MLP_CTX_KEEP) != 0;
  const void *in = x;
  const size_t n = m->n_layers;

  for (size_t k = 1; k <= n; k++) {
    const mlp__layer *l = &m->layers[k - 1];
    void *z = c->z[k - 1];
    void *out = (k == n && !keep) ? y : c->y[k - 1];

    /* Hidden layers without KEEP work in place: out == z. */
    if (k < n && !keep)
      out = z;
    mlp__layer_gemm(m, k, in, rows, z);
    if (m->dtype == MLP_F32)
      kern->fwd_f32[l->act](z, out, mlp__b(m, k), rows, l->out,
                            (float)l->slope);
    else
      kern->fwd_f64[l->act](z, out, mlp__b(m, k), rows, l->out, l->slope);
    in = out;
  }
  if (keep)
    memcpy(y, c->y[n - 1], rows * m->widths[n] * m->elem);
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
    return mlp__fail(MLP_ERR_NULL, "mlp_forward: %s is NULL",
                     x ? "y" : "x");
  if (batch == 0)
    return mlp__fail(MLP_ERR_BATCH, "mlp_forward: batch is 0");
  if (batch > SIZE_MAX / in_row || batch > SIZE_MAX / out_row)
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
