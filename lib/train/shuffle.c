/*
 * shuffle.c - the seeded permutation that orders each epoch's rows.
 */
#include "train.h"

/* A uniform integer in [0, n) for n >= 1, by rejection (no modulo bias). */
static size_t uniform_below(uint64_t *state, size_t n) {
  uint64_t bound = (uint64_t)n;
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t r;

  do
    r = mlp__rng_next(state);
  while (r >= limit);
  return (size_t)(r % bound);
}

void mlp__shuffle(size_t *perm, size_t n, uint64_t *state) {
  for (size_t i = 0; i < n; i++)
    perm[i] = i;
  /* Fisher-Yates: swap each position with a uniform one at or below it. */
  for (size_t i = n; i > 1; i--) {
    size_t j = uniform_below(state, i);
    size_t t = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = t;
  }
}
