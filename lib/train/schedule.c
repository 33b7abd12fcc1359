/*
 * schedule.c - optimiser and schedule names, defaults, and the learning
 * rate as a function of the step.
 */
#include <math.h>
#include <string.h>

#include "train.h"

static const char *const optim_names[] = {"sgd", "momentum", "nesterov", "adam",
                                          "adamw"};
static const char *const schedule_names[] = {"constant", "step", "cosine"};

const char *mlp_optim_name(mlp_optim_kind kind) {
  if ((unsigned)kind >= sizeof optim_names / sizeof *optim_names)
    return NULL;
  return optim_names[kind];
}

int mlp_optim_parse(const char *name, mlp_optim_kind *kind) {
  if (name == NULL || kind == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_optim_parse: NULL argument");
  for (size_t i = 0; i < sizeof optim_names / sizeof *optim_names; i++)
    if (strcmp(name, optim_names[i]) == 0) {
      *kind = (mlp_optim_kind)i;
      return MLP_OK;
    }
  return mlp__fail(MLP_ERR_ARG,
                   "unknown optimiser \"%s\" (sgd, momentum, nesterov, "
                   "adam, adamw)",
                   name);
}

const char *mlp_schedule_name(mlp_schedule schedule) {
  if ((unsigned)schedule >= sizeof schedule_names / sizeof *schedule_names)
    return NULL;
  return schedule_names[schedule];
}

int mlp_schedule_parse(const char *name, mlp_schedule *schedule) {
  if (name == NULL || schedule == NULL)
    return mlp__fail(MLP_ERR_NULL, "mlp_schedule_parse: NULL argument");
  for (size_t i = 0; i < sizeof schedule_names / sizeof *schedule_names; i++)
    if (strcmp(name, schedule_names[i]) == 0) {
      *schedule = (mlp_schedule)i;
      return MLP_OK;
    }
  return mlp__fail(MLP_ERR_ARG,
                   "unknown schedule \"%s\" (constant, step, cosine)", name);
}

void mlp_optim_config_default(mlp_optim_config *config, mlp_optim_kind kind) {
  if (config == NULL)
    return;
  memset(config, 0, sizeof *config);
  config->kind = kind;
  config->lr = kind == MLP_OPTIM_ADAM || kind == MLP_OPTIM_ADAMW ? 0.001 : 0.01;
  config->momentum = 0.9;
  config->beta1 = 0.9;
  config->beta2 = 0.999;
  config->eps = 1e-8;
  config->weight_decay = 0.0;
  config->schedule = MLP_SCHEDULE_CONSTANT;
  config->step_size = 1;
  config->gamma = 0.1;
  config->total = 1;
  config->lr_min = 0.0;
  config->warmup = 0;
}

double mlp_schedule_lr(const mlp_optim_config *c, uint64_t t) {
  double lr;

  if (c == NULL)
    return 0.0;
  switch (c->schedule) {
  case MLP_SCHEDULE_STEP: {
    uint64_t decays = t / (c->step_size ? c->step_size : 1);
    lr = c->lr * pow(c->gamma, (double)decays);
    break;
  }
  case MLP_SCHEDULE_COSINE:
    if (c->total == 0 || t >= c->total)
      lr = c->lr_min;
    else
      lr = c->lr_min + (c->lr - c->lr_min) *
                           (1.0 + cos(M_PI * (double)t / (double)c->total)) /
                           2.0;
    break;
  default:
    lr = c->lr;
    break;
  }
  if (t < c->warmup)
    lr *= (double)(t + 1) / (double)c->warmup;
  return lr;
}
