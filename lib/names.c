/*
 * names.c - the names of dtypes, activations, losses and initialisers, and
 * their parsers, as used in files, on command lines and in messages.
 */
#include <string.h>

#include "internal.h"

static const char *const act_names[MLP_ACT_COUNT] = {
    "identity", "relu", "leaky_relu", "sigmoid",
    "tanh",     "gelu", "silu",       "softmax",
};

static const char *const loss_names[] = {"cross_entropy", "mse", "bce"};

static const char *const init_names[] = {
    "uniform",    "normal",    "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "orthogonal",
};

size_t mlp_dtype_size(mlp_dtype dtype) {
  switch (dtype) {
  case MLP_F32:
    return sizeof(float);
  case MLP_F64:
    return sizeof(double);
  }
  return 0;
}

const char *mlp_dtype_name(mlp_dtype dtype) {
  switch (dtype) {
  case MLP_F32:
    return "f32";
  case MLP_F64:
    return "f64";
  }
  return NULL;
}

const char *mlp_act_name(mlp_act act) {
  if ((unsigned)act >= MLP_ACT_COUNT)
    return NULL;
  return act_names[act];
}

int mlp_act_parse(const char *name, mlp_act *act) {
  if (!name || !act)
    return mlp__fail(MLP_ERR_NULL, "mlp_act_parse: %s is NULL",
                     name ? "act" : "name");
  for (unsigned i = 0; i < MLP_ACT_COUNT; i++) {
    if (strcmp(name, act_names[i]) == 0) {
      *act = (mlp_act)i;
      return MLP_OK;
    }
  }
  return mlp__fail(MLP_ERR_ACTIVATION,
                   "unknown activation \"%.64s\" (expected identity, relu, "
                   "leaky_relu, sigmoid, tanh, gelu, silu or softmax)",
                   name);
}

const char *mlp_loss_name(mlp_loss loss) {
  if ((unsigned)loss >= sizeof loss_names / sizeof loss_names[0])
    return NULL;
  return loss_names[loss];
}

int mlp_loss_parse(const char *name, mlp_loss *loss) {
  if (!name || !loss)
    return mlp__fail(MLP_ERR_NULL, "mlp_loss_parse: %s is NULL",
                     name ? "loss" : "name");
  for (unsigned i = 0; i < sizeof loss_names / sizeof loss_names[0]; i++) {
    if (strcmp(name, loss_names[i]) == 0) {
      *loss = (mlp_loss)i;
      return MLP_OK;
    }
  }
  return mlp__fail(MLP_ERR_LOSS,
                   "unknown loss \"%.64s\" (expected cross_entropy, mse or "
                   "bce)",
                   name);
}

const char *mlp_init_name(mlp_init init) {
  if ((unsigned)init >= sizeof init_names / sizeof init_names[0])
    return NULL;
  return init_names[init];
}

int mlp_init_parse(const char *name, mlp_init *init) {
  if (!name || !init)
    return mlp__fail(MLP_ERR_NULL, "mlp_init_parse: %s is NULL",
                     name ? "init" : "name");
  for (unsigned i = 0; i < sizeof init_names / sizeof init_names[0]; i++) {
    if (strcmp(name, init_names[i]) == 0) {
      *init = (mlp_init)i;
      return MLP_OK;
    }
  }
  if (strcmp(name, "xavier") == 0 || strcmp(name, "glorot") == 0) {
    *init = MLP_INIT_XAVIER_UNIFORM;
    return MLP_OK;
  }
  if (strcmp(name, "he") == 0 || strcmp(name, "kaiming") == 0) {
    *init = MLP_INIT_HE_UNIFORM;
    return MLP_OK;
  }
  return mlp__fail(MLP_ERR_ARG,
                   "unknown initialiser \"%.64s\" (expected uniform, normal, "
                   "xavier_uniform, xavier_normal, he_uniform, he_normal or "
                   "orthogonal)",
                   name);
}
