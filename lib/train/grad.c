/*
 * grad.c - the gradient object: dW_k, db_k in the model's parameter
 * layout, and the scratch the backward pass needs, allocated once.
 */
#include <string.h>

#include "train.h"

int mlp__grad_matches(const mlp_grad *grad, const mlp_model *model) {
  if (grad->dtype != model->dtype || grad->n_layers != model->n_layers ||
      grad->n_params != model->n_params)
    return 0;
  for (size_t k = 0; k <= model->n_layers; k++)
    if (grad->widths[k] != model->widths[k])
      return 0;
  return 1;
}

int mlp_grad_create(mlp_grad **grad, const mlp_model *model, size_t max_batch) {
  size_t params_bytes, scratch_elems, scratch_bytes;
  mlp_grad *g;

  if (grad == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_grad_create: grad is NULL");
  *grad = NULL;
  if (model == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_grad_create: model is NULL");
  if (max_batch == 0)
    return mlp__fail(MLP_ERR_BATCH, "mlp_grad_create: max_batch is 0");
  if (mlp__mul_overflow(model->n_params, model->elem, &params_bytes) ||
      mlp__mul_overflow(max_batch, model->max_width, &scratch_elems) ||
      mlp__mul_overflow(scratch_elems, model->elem, &scratch_bytes) ||
      mlp__round_up(scratch_bytes, &scratch_bytes))
    return mlp__fail(MLP_ERR_OVERFLOW,
                     "mlp_grad_create: %zu rows of width %zu overflow size_t",
                     max_batch, model->max_width);

  g = mlp__calloc(1, sizeof *g);
  if (g == NULL)
    return mlp__fail(MLP_ERR_NOMEM, "mlp_grad_create: out of memory");
  g->dtype = model->dtype;
  g->elem = model->elem;
  g->n_layers = model->n_layers;
  g->n_params = model->n_params;
  g->max_batch = max_batch;
  g->max_width = model->max_width;
  g->widths = mlp__calloc(model->n_layers + 1, sizeof *g->widths);
  g->params = mlp__calloc(model->n_params, model->elem);
  g->scratch[0] = mlp__alloc(scratch_bytes);
  g->scratch[1] = mlp__alloc(scratch_bytes);
  if (g->widths == NULL || g->params == NULL || g->scratch[0] == NULL ||
      g->scratch[1] == NULL) {
    mlp_grad_free(g);
    return mlp__fail(MLP_ERR_NOMEM,
                     "mlp_grad_create: out of memory for %zu + 2 x %zu "
                     "bytes",
                     params_bytes, scratch_bytes);
  }
  memcpy(g->widths, model->widths, (model->n_layers + 1) * sizeof *g->widths);
  *grad = g;
  return MLP_OK;
}

void mlp_grad_free(mlp_grad *grad) {
  if (grad == NULL)
    return;
  mlp__free(grad->scratch[1]);
  mlp__free(grad->scratch[0]);
  mlp__free(grad->params);
  mlp__free(grad->widths);
  mlp__free(grad);
}

const void *mlp_grad_params(const mlp_grad *grad, size_t *count) {
  if (count != NULL)
    *count = grad != NULL ? grad->n_params : 0;
  return grad != NULL ? grad->params : NULL;
}

void *mlp_grad_params_mut(mlp_grad *grad, size_t *count) {
  if (count != NULL)
    *count = grad != NULL ? grad->n_params : 0;
  return grad != NULL ? grad->params : NULL;
}
