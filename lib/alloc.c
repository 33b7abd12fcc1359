/*
 * alloc.c - every allocation of the library goes through here, so that a
 * caller's allocator (and the tests' failing one) sees all of them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *default_alloc(size_t size, size_t align, void *user) {
  void *p = NULL;

  (void)user;
  if (posix_memalign(&p, align, size ? size : 1) != 0)
    return NULL;
  return p;
}

static void default_free(void *ptr, void *user) {
  (void)user;
  free(ptr);
}

static mlp_allocator allocator = {default_alloc, default_free, NULL};

void mlp_set_allocator(const mlp_allocator *a) {
  if (a && a->alloc && a->free) {
    allocator = *a;
  } else {
    allocator.alloc = default_alloc;
    allocator.free = default_free;
    allocator.user = NULL;
  }
}

void *mlp__alloc(size_t size) {
  /* No object may be larger than PTRDIFF_MAX bytes; asking for one is a
   * size computation gone wrong, answered like a failed allocation. */
  if (size > PTRDIFF_MAX)
    return NULL;
  return allocator.alloc(size ? size : 1, MLP__ALIGN, allocator.user);
}

void *mlp__calloc(size_t count, size_t size) {
  size_t bytes;
  void *p;

  if (mlp__mul_overflow(count, size, &bytes))
    return NULL;
  p = mlp__alloc(bytes);
  if (p)
    memset(p, 0, bytes);
  return p;
}

void mlp__free(void *ptr) {
  if (ptr)
    allocator.free(ptr, allocator.user);
}
