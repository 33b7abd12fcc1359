/*
 * loss.c - divergences of a batch from its targets, computed from logits
 * where the loss allows (log-sum-exp), their mean (the empirical risk),
 * argmax predictions and accuracy. Sums run in double.
 */
#include <math.h>

#include "internal.h"

/* Element i of a dtype array as a double. */
static inline double at(mlp_dtype dtype, const void *a, size_t i) {
  return dtype == MLP_F32 ? (double)((const float *)a)[i]
                          : ((const double *)a)[i];
}

static int check_common(const char *where, mlp_dtype dtype, const void *out,
                        size_t batch, size_t width, const void *targets,
                        double *mean) {
  size_t n;

  if (!out || !targets || !mean)
    return mlp__fail(MLP_ERR_NULL, "%s: %s NULL", where,
                     !out       ? "the output is"
                     : !targets ? "the labels or targets are"
                                : "mean is");
  if (mlp_dtype_size(dtype) == 0)
    return mlp__fail(MLP_ERR_DTYPE, "%s: unknown dtype %d", where, (int)dtype);
  if (batch == 0)
    return mlp__fail(MLP_ERR_BATCH, "%s: batch is 0", where);
  if (width == 0)
    return mlp__fail(MLP_ERR_ARG, "%s: width is 0", where);
  if (mlp__mul_overflow(batch, width, &n) ||
      mlp__mul_overflow(n, mlp_dtype_size(dtype), &n))
    return mlp__fail(MLP_ERR_OVERFLOW, "%s: %zu x %zu overflows size_t", where,
                     batch, width);
  return MLP_OK;
}

int mlp_loss_cross_entropy(mlp_dtype dtype, const void *logits, size_t batch,
                           size_t width, const int32_t *labels,
                           double *per_sample, double *mean) {
  const char *where = "mlp_loss_cross_entropy";
  double sum = 0;
  int rc = check_common(where, dtype, logits, batch, width, labels, mean);

  if (rc != MLP_OK)
    return rc;
  for (size_t i = 0; i < batch; i++)
    if (labels[i] < 0 || (size_t)labels[i] >= width)
      return mlp__fail(MLP_ERR_LABEL, "%s: row %zu: label %d outside [0, %zu)",
                       where, i, (int)labels[i], width);
  for (size_t i = 0; i < batch; i++) {
    const size_t row = i * width;
    double mx = -INFINITY, s = 0, div;

    for (size_t j = 0; j < width; j++)
      mx = fmax(mx, at(dtype, logits, row + j));
    for (size_t j = 0; j < width; j++)
      s += exp(at(dtype, logits, row + j) - mx);
    /* -log softmax_c = log sum_j exp(z_j) - z_c, shifted by the max so
     * that neither overflows nor a vanishing probability gives -inf; s >= 1
     * since the maximum contributes exp(0). An infinite logit (or none
     * but NaN) has no finite divergence. */
    if (isinf(mx) || !(s >= 1))
      div = NAN;
    else
      div = mx + log(s) - at(dtype, logits, row + (size_t)labels[i]);
    if (per_sample)
      per_sample[i] = div;
    sum += div;
  }
  *mean = sum / (double)batch;
  return MLP_OK;
}

int mlp_loss_mse(mlp_dtype dtype, const void *y, size_t batch, size_t width,
                 const void *targets, double *per_sample, double *mean) {
  double sum = 0;
  int rc = check_common("mlp_loss_mse", dtype, y, batch, width, targets, mean);

  if (rc != MLP_OK)
    return rc;
  for (size_t i = 0; i < batch; i++) {
    double s = 0;
    for (size_t j = 0; j < width; j++) {
      double d =
          at(dtype, y, i * width + j) - at(dtype, targets, i * width + j);
      s += d * d;
    }
    s /= (double)width;
    if (per_sample)
      per_sample[i] = s;
    sum += s;
  }
  *mean = sum / (double)batch;
  return MLP_OK;
}

int mlp_loss_bce(mlp_dtype dtype, const void *logits, size_t batch,
                 size_t width, const void *targets, double *per_sample,
                 double *mean) {
  const char *where = "mlp_loss_bce";
  double sum = 0;
  int rc = check_common(where, dtype, logits, batch, width, targets, mean);

  if (rc != MLP_OK)
    return rc;
  for (size_t i = 0; i < batch * width; i++) {
    double d = at(dtype, targets, i);
    if (!(d >= 0 && d <= 1))
      return mlp__fail(MLP_ERR_ARG,
                       "%s: target [%zu][%zu] = %g is outside [0, 1]", where,
                       i / width, i % width, d);
  }
  for (size_t i = 0; i < batch; i++) {
    double s = 0;
    for (size_t j = 0; j < width; j++) {
      double z = at(dtype, logits, i * width + j);
      double d = at(dtype, targets, i * width + j);
      /* -[d log s(z) + (1-d) log(1-s(z))] = max(z,0) - z d +
       * log(1 + exp(-|z|)), exact and finite for any finite z. */
      s += fmax(z, 0) - z * d + log1p(exp(-fabs(z)));
    }
    s /= (double)width;
    if (per_sample)
      per_sample[i] = s;
    sum += s;
  }
  *mean = sum / (double)batch;
  return MLP_OK;
}

int mlp_ctx_loss(const mlp_ctx *c, mlp_loss loss, const int32_t *labels,
                 const void *targets, double *per_sample, double *mean) {
  const mlp_model *m;
  const void *z, *y;
  size_t rows, n, width;
  mlp_act last;
  int rc;

  if (!c)
    return mlp__fail(MLP_ERR_NULL, "mlp_ctx_loss: ctx is NULL");
  m = c->model;
  n = m->n_layers;
  width = m->widths[n];
  last = m->layers[n - 1].act;
  rc = mlp_ctx_layer(c, n, &z, &y, &rows);
  if (rc != MLP_OK)
    return rc;
  switch (loss) {
  case MLP_LOSS_CROSS_ENTROPY:
    if (last != MLP_ACT_SOFTMAX)
      return mlp__fail(MLP_ERR_LOSS,
                       "mlp_ctx_loss: cross_entropy needs a softmax output "
                       "layer, layer %zu is %s",
                       n, mlp_act_name(last));
    return mlp_loss_cross_entropy(m->dtype, z, rows, width, labels, per_sample,
                                  mean);
  case MLP_LOSS_MSE:
    return mlp_loss_mse(m->dtype, y, rows, width, targets, per_sample, mean);
  case MLP_LOSS_BCE:
    if (last != MLP_ACT_SIGMOID)
      return mlp__fail(MLP_ERR_LOSS,
                       "mlp_ctx_loss: bce needs a sigmoid output layer, "
                       "layer %zu is %s",
                       n, mlp_act_name(last));
    return mlp_loss_bce(m->dtype, z, rows, width, targets, per_sample, mean);
  }
  return mlp__fail(MLP_ERR_LOSS, "mlp_ctx_loss: unknown loss %d", (int)loss);
}

int mlp_argmax(mlp_dtype dtype, const void *y, size_t batch, size_t width,
               int32_t *pred) {
  if (!y || !pred)
    return mlp__fail(MLP_ERR_NULL, "mlp_argmax: %s is NULL", y ? "pred" : "y");
  if (mlp_dtype_size(dtype) == 0)
    return mlp__fail(MLP_ERR_DTYPE, "mlp_argmax: unknown dtype %d", (int)dtype);
  if (width == 0 || width > (size_t)INT32_MAX)
    return mlp__fail(MLP_ERR_ARG, "mlp_argmax: width %zu out of range", width);
  for (size_t i = 0; i < batch; i++) {
    int32_t best = -1;
    double bv = 0;
    for (size_t j = 0; j < width; j++) {
      double v = at(dtype, y, i * width + j);
      if (!isnan(v) && (best < 0 || v > bv)) {
        best = (int32_t)j;
        bv = v;
      }
    }
    pred[i] = best;
  }
  return MLP_OK;
}

int mlp_accuracy(mlp_dtype dtype, const void *y, size_t batch, size_t width,
                 const int32_t *labels, double *accuracy) {
  size_t hits = 0;

  if (!y || !labels || !accuracy)
    return mlp__fail(MLP_ERR_NULL, "mlp_accuracy: %s is NULL",
                     !y        ? "y"
                     : !labels ? "labels"
                               : "accuracy");
  if (batch == 0)
    return mlp__fail(MLP_ERR_BATCH, "mlp_accuracy: batch is 0");
  for (size_t i = 0; i < batch; i++) {
    int32_t p = -1;
    int rc =
        mlp_argmax(dtype, (const char *)y + i * width * mlp_dtype_size(dtype),
                   1, width, &p);
    if (rc != MLP_OK)
      return rc;
    hits += p == labels[i];
  }
  *accuracy = (double)hits / (double)batch;
  return MLP_OK;
}
