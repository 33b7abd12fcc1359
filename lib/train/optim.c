/*
 * optim.c - parameter updates from gradients: SGD, momentum, Nesterov,
 * Adam and AdamW, with weight decay on the weights (not the biases).
 *
 * The state (velocity v, Adam's m) has the layout of the parameters. One
 * loop per layer and parameter block keeps the decay decision out of the
 * inner loop, which the compiler vectorises.
 */
#include <math.h>
#include <string.h>

#include "train.h"

struct mlp_optim {
  mlp_optim_config cfg;
  mlp_dtype dtype;
  size_t elem;
  size_t n_params;
  size_t n_layers;
  size_t *block_off; /* 2 n_layers offsets: W_1, b_1, W_2, ... */
  size_t *block_len; /* their lengths */
  void *v;           /* velocity, or Adam's second moment */
  void *m;           /* Adam's first moment */
  uint64_t t;        /* updates made */
};

static int check_config(const mlp_optim_config *c) {
  const char *bad = NULL;

  if ((unsigned)c->kind > MLP_OPTIM_ADAMW)
    bad = "kind";
  else if (!(c->lr > 0.0) || !isfinite(c->lr))
    bad = "lr (must be finite and > 0)";
  else if ((c->kind == MLP_OPTIM_MOMENTUM || c->kind == MLP_OPTIM_NESTEROV) &&
           !(c->momentum >= 0.0 && c->momentum < 1.0))
    bad = "momentum (must be in [0, 1))";
  else if ((c->kind == MLP_OPTIM_ADAM || c->kind == MLP_OPTIM_ADAMW) &&
           !(c->beta1 >= 0.0 && c->beta1 < 1.0 && c->beta2 >= 0.0 &&
             c->beta2 < 1.0))
    bad = "beta1 or beta2 (must be in [0, 1))";
  else if ((c->kind == MLP_OPTIM_ADAM || c->kind == MLP_OPTIM_ADAMW) &&
           !(c->eps > 0.0 && isfinite(c->eps)))
    bad = "eps (must be finite and > 0)";
  else if (!(c->weight_decay >= 0.0) || !isfinite(c->weight_decay))
    bad = "weight_decay (must be finite and >= 0)";
  else if ((unsigned)c->schedule > MLP_SCHEDULE_COSINE)
    bad = "schedule";
  else if (c->schedule == MLP_SCHEDULE_STEP &&
           (c->step_size == 0 || !(c->gamma > 0.0 && c->gamma <= 1.0)))
    bad = "step_size or gamma (need step_size > 0, gamma in (0, 1])";
  else if (c->schedule == MLP_SCHEDULE_COSINE &&
           (c->total == 0 || !(c->lr_min >= 0.0 && c->lr_min <= c->lr)))
    bad = "total or lr_min (need total > 0, lr_min in [0, lr])";
  if (bad != NULL)
    return mlp__fail(MLP_ERR_ARG, "optimiser config: bad %s", bad);
  return MLP_OK;
}

int mlp_optim_create(mlp_optim **optim, const mlp_model *model,
                     const mlp_optim_config *config) {
  mlp_optim *o;
  int status, adam;

  if (optim == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_optim_create: optim is NULL");
  *optim = NULL;
  if (model == NULL || config == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_optim_create: %s is NULL",
                     model == NULL ? "model" : "config");
  status = check_config(config);
  if (status != MLP_OK)
    return status;

  adam = config->kind == MLP_OPTIM_ADAM || config->kind == MLP_OPTIM_ADAMW;
  o = mlp__calloc(1, sizeof *o);
  if (o == NULL)
    return mlp__fail(MLP_ERR_NOMEM, "mlp_optim_create: out of memory");
  o->cfg = *config;
  o->dtype = model->dtype;
  o->elem = model->elem;
  o->n_params = model->n_params;
  o->n_layers = model->n_layers;
  o->block_off = mlp__calloc(2 * model->n_layers, sizeof *o->block_off);
  o->block_len = mlp__calloc(2 * model->n_layers, sizeof *o->block_len);
  if (config->kind != MLP_OPTIM_SGD)
    o->v = mlp__calloc(model->n_params, model->elem);
  if (adam)
    o->m = mlp__calloc(model->n_params, model->elem);
  if (o->block_off == NULL || o->block_len == NULL ||
      (config->kind != MLP_OPTIM_SGD && !o->v) || (adam && o->m == NULL)) {
    mlp_optim_free(o);
    return mlp__fail(MLP_ERR_NOMEM,
                     "mlp_optim_create: out of memory for the state of "
                     "%zu parameters",
                     model->n_params);
  }
  for (size_t k = 0; k < model->n_layers; k++) {
    o->block_off[2 * k] = model->layers[k].w_off;
    o->block_off[2 * k + 1] = model->layers[k].b_off;
    o->block_len[2 * k] = model->layers[k].in * model->layers[k].out;
    o->block_len[2 * k + 1] = model->layers[k].out;
  }
  *optim = o;
  return MLP_OK;
}

void mlp_optim_free(mlp_optim *optim) {
  if (optim == NULL)
    return;
  mlp__free(optim->m);
  mlp__free(optim->v);
  mlp__free(optim->block_len);
  mlp__free(optim->block_off);
  mlp__free(optim);
}

uint64_t mlp_optim_steps(const mlp_optim *optim) {
  return optim != NULL ? optim->t : 0;
}

double mlp_optim_lr(const mlp_optim *optim) {
  return optim != NULL ? mlp_schedule_lr(&optim->cfg, optim->t) : 0.0;
}

void mlp_optim_reset(mlp_optim *optim) {
  if (optim == NULL)
    return;
  if (optim->v != NULL)
    memset(optim->v, 0, optim->n_params * optim->elem);
  if (optim->m != NULL)
    memset(optim->m, 0, optim->n_params * optim->elem);
  optim->t = 0;
}

/*
 * The update rules on one block of n parameters, written once as a macro
 * for float and double (T the type, SQRT its square root). wd is the L2
 * decay of this block (0 for biases). Each rule is one loop the compiler
 * can vectorise.
 */
#define MLP__UPDATE_BLOCK(T, SQRT)                                             \
  switch (c->kind) {                                                           \
  case MLP_OPTIM_SGD:                                                          \
    for (size_t i = 0; i < n; i++)                                             \
      w[i] -= lr * (g[i] + wd * w[i]);                                         \
    break;                                                                     \
  case MLP_OPTIM_MOMENTUM:                                                     \
    if (v == NULL)                                                             \
      break;                                                                   \
    for (size_t i = 0; i < n; i++) {                                           \
      T gi = g[i] + wd * w[i];                                                 \
      v[i] = mu * v[i] + gi;                                                   \
      w[i] -= lr * v[i];                                                       \
    }                                                                          \
    break;                                                                     \
  case MLP_OPTIM_NESTEROV:                                                     \
    if (v == NULL)                                                             \
      break;                                                                   \
    for (size_t i = 0; i < n; i++) {                                           \
      T gi = g[i] + wd * w[i];                                                 \
      v[i] = mu * v[i] + gi;                                                   \
      w[i] -= lr * (gi + mu * v[i]);                                           \
    }                                                                          \
    break;                                                                     \
  case MLP_OPTIM_ADAM:                                                         \
    if (v == NULL || m == NULL)                                                \
      break;                                                                   \
    for (size_t i = 0; i < n; i++) {                                           \
      T gi = g[i] + wd * w[i];                                                 \
      m[i] = b1 * m[i] + (1 - b1) * gi;                                        \
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;                                   \
      w[i] -= step * m[i] / (SQRT(v[i] * inv_c2) + eps);                       \
    }                                                                          \
    break;                                                                     \
  case MLP_OPTIM_ADAMW:                                                        \
    if (v == NULL || m == NULL)                                                \
      break;                                                                   \
    for (size_t i = 0; i < n; i++) {                                           \
      T gi = g[i];                                                             \
      w[i] -= lr * wd * w[i];                                                  \
      m[i] = b1 * m[i] + (1 - b1) * gi;                                        \
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;                                   \
      w[i] -= step * m[i] / (SQRT(v[i] * inv_c2) + eps);                       \
    }                                                                          \
    break;                                                                     \
  }

static void update_f32(const mlp_optim_config *c, float *restrict w,
                       const float *restrict g, float *restrict v,
                       float *restrict m, size_t n, double lr_d, double wd_d,
                       double t) {
  float lr = (float)lr_d, wd = (float)wd_d, mu = (float)c->momentum;
  float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
  /* Adam's bias corrections: step = lr / (1 - b1^t), and v / (1 - b2^t)
   * under the root. */
  float step = (float)(lr_d / (1.0 - pow(c->beta1, t)));
  float inv_c2 = (float)(1.0 / (1.0 - pow(c->beta2, t)));
  MLP__UPDATE_BLOCK(float, sqrtf)
}

static void update_f64(const mlp_optim_config *c, double *restrict w,
                       const double *restrict g, double *restrict v,
                       double *restrict m, size_t n, double lr, double wd,
                       double t) {
  double mu = c->momentum, b1 = c->beta1, b2 = c->beta2, eps = c->eps;
  double step = lr / (1.0 - pow(c->beta1, t));
  double inv_c2 = 1.0 / (1.0 - pow(c->beta2, t));
  MLP__UPDATE_BLOCK(double, sqrt)
}

int mlp_optim_step(mlp_optim *optim, mlp_model *model, const mlp_grad *grad) {
  const mlp_optim_config *c;
  double lr;

  if (optim == NULL || model == NULL || grad == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_optim_step: %s is NULL",
                     optim == NULL   ? "optim"
                     : model == NULL ? "model"
                                     : "grad");
  if (model->dtype != optim->dtype || model->n_params != optim->n_params ||
      model->n_layers != optim->n_layers || !mlp__grad_matches(grad, model))
    return mlp__fail(MLP_ERR_SHAPE, "mlp_optim_step: the model, the grad "
                                    "and the optimiser differ in shape or "
                                    "dtype");
  c = &optim->cfg;
  lr = mlp_schedule_lr(c, optim->t);
  optim->t++;

  for (size_t b = 0; b < 2 * optim->n_layers; b++) {
    size_t off = optim->block_off[b];
    size_t n = optim->block_len[b];
    double wd = b % 2 == 0 ? c->weight_decay : 0.0;
    if (optim->dtype == MLP_F32) {
      float *v = optim->v, *m = optim->m;
      update_f32(c, (float *)model->params + off,
                 (const float *)grad->params + off, v ? v + off : NULL,
                 m ? m + off : NULL, n, lr, wd, (double)optim->t);
    } else {
      double *v = optim->v, *m = optim->m;
      update_f64(c, (double *)model->params + off,
                 (const double *)grad->params + off, v ? v + off : NULL,
                 m ? m + off : NULL, n, lr, wd, (double)optim->t);
    }
  }
  return MLP_OK;
}

void mlp__optim_set_total(mlp_optim *optim, uint64_t total) {
  if (optim != NULL && total > 0)
    optim->cfg.total = total;
}
