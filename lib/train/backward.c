/*
 * backward.c - gradients of the mean loss of one batch by the chain rule
 * over the Z_k and Y_k a MLP_CTX_KEEP context kept from the forward pass.
 *
 * Per layer, from the last: dZ_k is in one scratch buffer; two GEMMs give
 * dW_k = Y_{k-1}^T dZ_k and dY_{k-1} = dZ_k W_k^T (into the other buffer),
 * a column sum gives db_k, and the activation kernel turns dY_{k-1} into
 * dZ_{k-1} in place. The buffers then swap roles.
 */
#include <float.h>

#include "train.h"

/*
 * dZ_N of the combined softmax + cross-entropy: (P - onehot(c)) / B.
 * NOTE: probabilities of confident predictions underflow into subnormal
 * numbers, which would slow the GEMMs they feed on CPUs that handle
 * subnormals in microcode; terms below the smallest normal number are
 * flushed to zero (a change below 1e-38 in a gradient of O(1/B)).
 */
static int output_cross_entropy(mlp_dtype dtype, const void *y, size_t rows,
                                size_t n, const int32_t *labels, void *dz) {
  double scale = 1.0 / (double)rows;

  for (size_t i = 0; i < rows; i++)
    if (labels[i] < 0 || (size_t)labels[i] >= n)
      return mlp__fail(MLP_ERR_LABEL,
                       "mlp_backward: label %ld of row %zu is outside "
                       "[0, %zu)",
                       (long)labels[i], i, n);
  if (dtype == MLP_F32) {
    const float *p = y;
    float *d = dz, s = (float)scale;
    for (size_t i = 0; i < rows; i++) {
      for (size_t j = 0; j < n; j++) {
        float v = p[i * n + j] * s;
        d[i * n + j] = v < FLT_MIN ? 0.0f : v;
      }
      d[i * n + (size_t)labels[i]] -= s;
    }
  } else {
    const double *p = y;
    double *d = dz;
    for (size_t i = 0; i < rows; i++) {
      for (size_t j = 0; j < n; j++) {
        double v = p[i * n + j] * scale;
        d[i * n + j] = v < DBL_MIN ? 0.0 : v;
      }
      d[i * n + (size_t)labels[i]] -= scale;
    }
  }
  return MLP_OK;
}

/* out = scale (y - t), elementwise over count elements: dZ_N of sigmoid +
 * BCE (scale 1 / (B C)) and dY_N of MSE (scale 2 / (B C)). */
static void output_difference(mlp_dtype dtype, const void *y, const void *t,
                              size_t count, double scale, void *out) {
  if (dtype == MLP_F32) {
    const float *a = y, *b = t;
    float *o = out, s = (float)scale;
    for (size_t i = 0; i < count; i++)
      o[i] = (a[i] - b[i]) * s;
  } else {
    const double *a = y, *b = t;
    double *o = out;
    for (size_t i = 0; i < count; i++)
      o[i] = (a[i] - b[i]) * scale;
  }
}

/* db[j] = sum_i dz[i][j]. */
static void column_sums(mlp_dtype dtype, const void *dz, size_t rows, size_t n,
                        void *db) {
  if (dtype == MLP_F32) {
    const float *d = dz;
    float *s = db;
    for (size_t j = 0; j < n; j++)
      s[j] = 0.0f;
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < n; j++)
        s[j] += d[i * n + j];
  } else {
    const double *d = dz;
    double *s = db;
    for (size_t j = 0; j < n; j++)
      s[j] = 0.0;
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < n; j++)
        s[j] += d[i * n + j];
  }
}

/* dz = dy * f_k'(Z_k) through the context's kernel set; dz may be dy. */
static void act_backward(const mlp_ctx *ctx, size_t k, const void *z,
                         const void *y, const void *dy, void *dz, size_t rows) {
  const mlp_model *m = ctx->model;
  const mlp__layer *l = &m->layers[k - 1];

  if (m->dtype == MLP_F32)
    ctx->kern->bwd_f32[l->act](z, y, dy, dz, rows, l->out, (float)l->slope);
  else
    ctx->kern->bwd_f64[l->act](z, y, dy, dz, rows, l->out, l->slope);
}

static int check_args(const mlp_model *model, const mlp_ctx *ctx, const void *x,
                      size_t batch, mlp_loss loss, const int32_t *labels,
                      const void *targets, const mlp_grad *grad) {
  mlp_act last;
  int status;

  if (model == NULL || ctx == NULL || grad == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_backward: %s is NULL",
                     model == NULL ? "model"
                     : ctx == NULL ? "ctx"
                                   : "grad");
  status = mlp__check_ctx(model, ctx, "mlp_backward");
  if (status != MLP_OK)
    return status;
  if (!(ctx->flags & MLP_CTX_KEEP))
    return mlp__fail(MLP_ERR_STATE, "mlp_backward: the context was not "
                                    "created with MLP_CTX_KEEP");
  if (ctx->last_rows == 0)
    return mlp__fail(MLP_ERR_STATE,
                     "mlp_backward: no forward pass ran on the context");
  if (batch == 0 || batch > grad->max_batch)
    return mlp__fail(MLP_ERR_BATCH,
                     "mlp_backward: batch %zu is outside [1, %zu] (the "
                     "grad's max_batch)",
                     batch, grad->max_batch);
  if (batch != ctx->last_rows)
    return mlp__fail(MLP_ERR_STATE,
                     "mlp_backward: batch %zu differs from the %zu rows of "
                     "the last forward pass (a pass larger than the "
                     "context's max_batch keeps only its last chunk)",
                     batch, ctx->last_rows);
  if (!mlp__grad_matches(grad, model))
    return mlp__fail(MLP_ERR_SHAPE, "mlp_backward: grad was created for a "
                                    "model of another shape or dtype");

  last = model->layers[model->n_layers - 1].act;
  switch (loss) {
  case MLP_LOSS_CROSS_ENTROPY:
    if (last != MLP_ACT_SOFTMAX)
      return mlp__fail(MLP_ERR_LOSS,
                       "mlp_backward: cross_entropy needs a "
                       "softmax last layer, layer %zu is %s",
                       model->n_layers, mlp_act_name(last));
    if (labels == NULL)
      return mlp__fail(MLP_ERR_NULL,
                       "mlp_backward: cross_entropy needs labels");
    break;
  case MLP_LOSS_BCE:
    if (last != MLP_ACT_SIGMOID)
      return mlp__fail(MLP_ERR_LOSS,
                       "mlp_backward: bce needs a sigmoid "
                       "last layer, layer %zu is %s",
                       model->n_layers, mlp_act_name(last));
    /* fall through */
  case MLP_LOSS_MSE:
    if (targets == NULL)
      return mlp__fail(MLP_ERR_NULL, "mlp_backward: %s needs targets",
                       mlp_loss_name(loss));
    break;
  default:
    return mlp__fail(MLP_ERR_LOSS, "mlp_backward: unknown loss %d", (int)loss);
  }
  return MLP_OK;
}

int mlp_backward(const mlp_model *model, const mlp_ctx *ctx, const void *x,
                 size_t batch, mlp_loss loss, const int32_t *labels,
                 const void *targets, mlp_grad *grad) {
  size_t n = 0, rows = batch;
  const void *z, *y;
  void *dz, *dy;
  int status;

  status = check_args(model, ctx, x, batch, loss, labels, targets, grad);
  if (status != MLP_OK)
    return status;
  n = model->n_layers;
  if (x == NULL)
    x = ctx->last_x;
  dz = grad->scratch[0];
  dy = grad->scratch[1];

  /* dZ_N from the loss. */
  z = ctx->z[n - 1];
  y = ctx->y[n - 1];
  {
    size_t c = model->widths[n];
    double bc = (double)rows * (double)c;
    if (loss == MLP_LOSS_CROSS_ENTROPY) {
      status = output_cross_entropy(model->dtype, y, rows, c, labels, dz);
      if (status != MLP_OK)
        return status;
    } else if (loss == MLP_LOSS_BCE) {
      output_difference(model->dtype, y, targets, rows * c, 1.0 / bc, dz);
    } else {
      output_difference(model->dtype, y, targets, rows * c, 2.0 / bc, dz);
      act_backward(ctx, n, z, y, dz, dz, rows);
    }
  }

  /* Layers N..1: dW_k, db_k, and dZ_{k-1} for the next. */
  for (size_t k = n; k >= 1; k--) {
    const mlp__layer *l = &model->layers[k - 1];
    const void *in = k == 1 ? x : ctx->y[k - 2];
    const void *w = mlp__w(model, k);
    void *dw = (char *)grad->params + l->w_off * model->elem;
    void *db = (char *)grad->params + l->b_off * model->elem;
    void *swap;

    if (model->storage == MLP_LAYOUT_IN_OUT)
      mlp__gemm(model->dtype, 1, 0, l->in, l->out, rows, 1.0, in, l->in, dz,
                l->out, 0.0, dw, l->out);
    else
      mlp__gemm(model->dtype, 1, 0, l->out, l->in, rows, 1.0, dz, l->out, in,
                l->in, 0.0, dw, l->in);
    column_sums(model->dtype, dz, rows, l->out, db);
    if (k == 1)
      break;

    if (model->storage == MLP_LAYOUT_IN_OUT)
      mlp__gemm(model->dtype, 0, 1, rows, l->in, l->out, 1.0, dz, l->out, w,
                l->out, 0.0, dy, l->in);
    else
      mlp__gemm(model->dtype, 0, 0, rows, l->in, l->out, 1.0, dz, l->out, w,
                l->in, 0.0, dy, l->in);
    act_backward(ctx, k - 1, ctx->z[k - 2], ctx->y[k - 2], dy, dy, rows);
    swap = dz;
    dz = dy;
    dy = swap;
  }
  return MLP_OK;
}
