/*
 * train.h - what the files of lib/train/ share: the gradient object's
 * layout and the trainer's random generator. Internal to libmlp.
 */
#ifndef MLP_TRAIN_H
#define MLP_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/*
 * Gradients in the layout of the model's params, plus the backward pass's
 * scratch: two buffers of max_batch x max_width elements that hold dY and
 * dZ of one layer while the next is computed.
 */
struct mlp_grad {
  mlp_dtype dtype;
  size_t elem;
  size_t n_layers;
  size_t *widths; /* n_layers + 1, to check the model's shape */
  size_t n_params;
  size_t max_batch;
  size_t max_width; /* max over widths[1..N] */
  void *params;     /* dW_1, db_1, ..., 64-byte aligned */
  void *scratch[2]; /* each max_batch * max_width elements */
};

/* 1 when grad was made for a model of model's shape and dtype. */
int mlp__grad_matches(const mlp_grad *grad, const mlp_model *model);

/* Sets the length of a cosine schedule (the trainer knows it only once it
 * sees the data). */
void mlp__optim_set_total(mlp_optim *optim, uint64_t total);

/* A small, fast generator (SplitMix64), enough for shuffling. */
static inline uint64_t mlp__rng_next(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* perm = a uniformly random permutation of 0..n-1 drawn from *state. */
void mlp__shuffle(size_t *perm, size_t n, uint64_t *state);

#endif /* MLP_TRAIN_H */
