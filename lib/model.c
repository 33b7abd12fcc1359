/*
 * model.c - creating, describing and filling a model: widths, activations,
 * dtype, and one contiguous block of parameters W_1, b_1, ..., W_N, b_N.
 */
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "internal.h"

static atomic_uint_fast64_t next_model_id = 1;

static int check_layer(const mlp_model *m, size_t k, const char *where) {
  if (!m)
    return mlp__fail(MLP_ERR_NULL, "%s: model is NULL", where);
  if (k < 1 || k > m->n_layers)
    return mlp__fail(MLP_ERR_ARG, "%s: layer %zu out of range 1..%zu", where, k,
                     m->n_layers);
  return MLP_OK;
}

int mlp_model_create(mlp_model **model, mlp_dtype dtype, size_t n_layers,
                     const size_t *widths, const mlp_act *acts,
                     mlp_layout storage) {
  mlp_model *m;
  size_t elem = mlp_dtype_size(dtype), total = 0, bytes;

  if (!model)
    return mlp__fail(MLP_ERR_NULL, "mlp_model_create: model is NULL");
  *model = NULL;
  if (!widths || !acts)
    return mlp__fail(MLP_ERR_NULL, "mlp_model_create: %s is NULL",
                     widths ? "acts" : "widths");
  if (elem == 0)
    return mlp__fail(MLP_ERR_DTYPE, "mlp_model_create: unknown dtype %d",
                     (int)dtype);
  if (n_layers == 0)
    return mlp__fail(MLP_ERR_ARG, "mlp_model_create: a model needs at "
                                  "least one layer");
  if (storage != MLP_LAYOUT_IN_OUT && storage != MLP_LAYOUT_OUT_IN)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_model_create: unknown storage "
                     "layout %d",
                     (int)storage);
  for (size_t k = 0; k <= n_layers; k++) {
    if (widths[k] == 0)
      return mlp__fail(MLP_ERR_ARG,
                       k == 0 ? "mlp_model_create: input width (widths[0]) "
                                "is 0"
                              : "mlp_model_create: layer %zu has width 0",
                       k);
  }
  for (size_t k = 0; k <= n_layers; k++) {
    if (widths[k] > (size_t)INT_MAX)
      return mlp__fail(MLP_ERR_OVERFLOW,
                       "mlp_model_create: width %zu of layer %zu exceeds "
                       "the BLAS limit %d",
                       widths[k], k, INT_MAX);
  }
  for (size_t k = 1; k <= n_layers; k++) {
    size_t w, wb;
    if ((unsigned)acts[k - 1] >= MLP_ACT_COUNT)
      return mlp__fail(MLP_ERR_ACTIVATION,
                       "mlp_model_create: layer %zu: unknown activation %d", k,
                       (int)acts[k - 1]);
    if (mlp__mul_overflow(widths[k - 1], widths[k], &w) ||
        mlp__add_overflow(w, widths[k], &wb) ||
        mlp__add_overflow(total, wb, &total))
      return mlp__fail(MLP_ERR_OVERFLOW,
                       "mlp_model_create: layer %zu: %zu x %zu parameters "
                       "overflow size_t",
                       k, widths[k - 1], widths[k]);
  }
  if (mlp__mul_overflow(total, elem, &bytes) || bytes > PTRDIFF_MAX)
    return mlp__fail(MLP_ERR_OVERFLOW,
                     "mlp_model_create: %zu parameters of %zu bytes exceed "
                     "the largest object (PTRDIFF_MAX bytes)",
                     total, elem);

  m = mlp__calloc(1, sizeof *m);
  if (!m)
    goto nomem;
  m->widths = mlp__calloc(n_layers + 1, sizeof *m->widths);
  m->layers = mlp__calloc(n_layers, sizeof *m->layers);
  m->params = mlp__calloc(total ? total : 1, elem);
  if (!m->widths || !m->layers || !m->params)
    goto nomem;

  m->id = atomic_fetch_add(&next_model_id, 1);
  m->dtype = dtype;
  m->elem = elem;
  m->storage = storage;
  m->n_layers = n_layers;
  m->n_params = total;
  memcpy(m->widths, widths, (n_layers + 1) * sizeof *widths);
  total = 0;
  for (size_t k = 1; k <= n_layers; k++) {
    mlp__layer *l = &m->layers[k - 1];
    l->in = widths[k - 1];
    l->out = widths[k];
    l->act = acts[k - 1];
    l->slope = MLP_LEAKY_RELU_DEFAULT_SLOPE;
    l->w_off = total;
    l->b_off = total + l->in * l->out;
    total = l->b_off + l->out;
    if (l->out > m->max_width)
      m->max_width = l->out;
  }
  m->tiny_rows = mlp__tiny_rows(m->layers, n_layers);
  *model = m;
  return MLP_OK;

nomem:
  mlp_model_free(m);
  return mlp__fail(MLP_ERR_NOMEM,
                   "mlp_model_create: out of memory for %zu parameters", total);
}

void mlp_model_free(mlp_model *m) {
  if (!m)
    return;
  mlp__free(m->params);
  mlp__free(m->layers);
  mlp__free(m->widths);
  mlp__free(m);
}

int mlp_model_clone(const mlp_model *src, mlp_model **copy) {
  mlp_act *acts;
  int rc;

  if (!src || !copy)
    return mlp__fail(MLP_ERR_NULL, "mlp_model_clone: %s is NULL",
                     src ? "copy" : "src");
  *copy = NULL;
  acts = mlp__calloc(src->n_layers, sizeof *acts);
  if (!acts)
    return mlp__fail(MLP_ERR_NOMEM, "mlp_model_clone: out of memory");
  for (size_t k = 0; k < src->n_layers; k++)
    acts[k] = src->layers[k].act;
  rc = mlp_model_create(copy, src->dtype, src->n_layers, src->widths, acts,
                        src->storage);
  mlp__free(acts);
  if (rc != MLP_OK || !*copy)
    return rc;
  for (size_t k = 0; k < src->n_layers; k++)
    (*copy)->layers[k].slope = src->layers[k].slope;
  memcpy((*copy)->params, src->params, src->n_params * src->elem);
  return MLP_OK;
}

mlp_dtype mlp_model_dtype(const mlp_model *m) {
  return m ? m->dtype : (mlp_dtype)0;
}

size_t mlp_model_layers(const mlp_model *m) { return m ? m->n_layers : 0; }

size_t mlp_model_width(const mlp_model *m, size_t k) {
  return m && k <= m->n_layers ? m->widths[k] : 0;
}

mlp_act mlp_model_act(const mlp_model *m, size_t k) {
  return m && k >= 1 && k <= m->n_layers ? m->layers[k - 1].act
                                         : MLP_ACT_IDENTITY;
}

double mlp_model_slope(const mlp_model *m, size_t k) {
  return m && k >= 1 && k <= m->n_layers ? m->layers[k - 1].slope
                                         : MLP_LEAKY_RELU_DEFAULT_SLOPE;
}

mlp_layout mlp_model_storage(const mlp_model *m) {
  return m ? m->storage : MLP_LAYOUT_IN_OUT;
}

size_t mlp_model_param_count(const mlp_model *m) { return m ? m->n_params : 0; }

int mlp_model_set_slope(mlp_model *m, size_t k, double slope) {
  int rc = check_layer(m, k, "mlp_model_set_slope");

  if (rc != MLP_OK)
    return rc;
  if (m->layers[k - 1].act != MLP_ACT_LEAKY_RELU)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_model_set_slope: layer %zu is %s, not leaky_relu", k,
                     mlp_act_name(m->layers[k - 1].act));
  if (!isfinite(slope))
    return mlp__fail(MLP_ERR_NONFINITE,
                     "mlp_model_set_slope: layer %zu: slope is not finite", k);
  m->layers[k - 1].slope = slope;
  return MLP_OK;
}

/* Index of the first non-finite element of a, or n when all are finite. */
static size_t first_nonfinite(mlp_dtype dtype, const void *a, size_t n) {
  if (dtype == MLP_F32) {
    const float *p = a;
    for (size_t i = 0; i < n; i++)
      if (!isfinite(p[i]))
        return i;
  } else {
    const double *p = a;
    for (size_t i = 0; i < n; i++)
      if (!isfinite(p[i]))
        return i;
  }
  return n;
}

/* Copies a rows x cols matrix, transposing it when `transpose` is set. */
static void copy_matrix(size_t elem, void *dst, const void *src, size_t rows,
                        size_t cols, int transpose) {
  if (!transpose) {
    memcpy(dst, src, rows * cols * elem);
  } else if (elem == sizeof(float)) {
    const float *s = src;
    float *d = dst;
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < cols; j++)
        d[j * rows + i] = s[i * cols + j];
  } else {
    const double *s = src;
    double *d = dst;
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < cols; j++)
        d[j * rows + i] = s[i * cols + j];
  }
}

int mlp_model_set_layer(mlp_model *m, size_t k, const void *w,
                        mlp_layout layout, const void *b) {
  const mlp__layer *l;
  size_t bad, rows, cols;
  int rc = check_layer(m, k, "mlp_model_set_layer");

  if (rc != MLP_OK)
    return rc;
  if (!w)
    return mlp__fail(MLP_ERR_NULL,
                     "mlp_model_set_layer: layer %zu: w is "
                     "NULL",
                     k);
  if (layout != MLP_LAYOUT_IN_OUT && layout != MLP_LAYOUT_OUT_IN)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_model_set_layer: layer %zu: unknown layout %d", k,
                     (int)layout);
  l = &m->layers[k - 1];
  bad = first_nonfinite(m->dtype, w, l->in * l->out);
  if (bad < l->in * l->out) {
    cols = layout == MLP_LAYOUT_IN_OUT ? l->out : l->in;
    return mlp__fail(MLP_ERR_NONFINITE,
                     "mlp_model_set_layer: layer %zu: weight [%zu][%zu] is "
                     "not finite",
                     k, bad / cols, bad % cols);
  }
  if (b) {
    bad = first_nonfinite(m->dtype, b, l->out);
    if (bad < l->out)
      return mlp__fail(MLP_ERR_NONFINITE,
                       "mlp_model_set_layer: layer %zu: bias [%zu] is not "
                       "finite",
                       k, bad);
  }
  rows = layout == MLP_LAYOUT_IN_OUT ? l->in : l->out;
  cols = layout == MLP_LAYOUT_IN_OUT ? l->out : l->in;
  copy_matrix(m->elem, mlp__w(m, k), w, rows, cols, layout != m->storage);
  if (b)
    memcpy(mlp__b(m, k), b, l->out * m->elem);
  return MLP_OK;
}

int mlp_model_get_layer(const mlp_model *m, size_t k, void *w,
                        mlp_layout layout, void *b) {
  const mlp__layer *l;
  size_t rows, cols;
  int rc = check_layer(m, k, "mlp_model_get_layer");

  if (rc != MLP_OK)
    return rc;
  if (layout != MLP_LAYOUT_IN_OUT && layout != MLP_LAYOUT_OUT_IN)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_model_get_layer: layer %zu: unknown layout %d", k,
                     (int)layout);
  l = &m->layers[k - 1];
  if (w) {
    /* The stored matrix's shape, copied out transposed if needed. */
    rows = m->storage == MLP_LAYOUT_IN_OUT ? l->in : l->out;
    cols = m->storage == MLP_LAYOUT_IN_OUT ? l->out : l->in;
    copy_matrix(m->elem, w, mlp__w(m, k), rows, cols, layout != m->storage);
  }
  if (b)
    memcpy(b, mlp__b(m, k), l->out * m->elem);
  return MLP_OK;
}

const void *mlp_model_params(const mlp_model *m, size_t *count) {
  if (count)
    *count = m ? m->n_params : 0;
  return m ? m->params : NULL;
}

void *mlp_model_params_mut(mlp_model *m, size_t *count) {
  if (count)
    *count = m ? m->n_params : 0;
  return m ? m->params : NULL;
}
