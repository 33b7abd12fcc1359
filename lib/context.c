/*
 * context.c - the per-thread scratch state of passes: one workspace, sized
 * once for a maximum batch, carved into the buffers of every layer.
 */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------------
 * The worker threads of mlp_ctx_set_threads. A pass posts a task by
 * bumping `gen`; workers spin on it for a while (a pass usually follows
 * another within microseconds) and then sleep on a condition variable.
 */

#define MLP__MAX_THREADS 64
/* Pause loops a waiting thread spins before it sleeps: a few tens of
 * microseconds on current x86 cores. */
#define SPIN_LOOPS 20000

struct mlp__pool {
  int n;              /* threads, the caller included */
  atomic_int arrived; /* barrier: parts that reached it */
  atomic_uint phase;  /* barrier: bumped when all have */
  pthread_t tid[MLP__MAX_THREADS];
  int started; /* worker threads running */
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  atomic_ulong gen;   /* task generation */
  atomic_int pending; /* workers still on the current task */
  int stop;
  mlp__task_fn fn;
  void *arg;
  int parts;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

typedef struct worker_start {
  struct mlp__pool *pool;
  int id;
} worker_start;

static void *worker_main(void *p) {
  struct mlp__pool *pool = ((worker_start *)p)->pool;
  const int id = ((worker_start *)p)->id;
  unsigned long seen = 0;

  mlp__free(p);
  for (;;) {
    unsigned long g;
    int spin = 0;
    while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) ==
               seen &&
           spin++ < SPIN_LOOPS)
      cpu_relax();
    if (g == seen) {
      pthread_mutex_lock(&pool->mu);
      while ((g = atomic_load(&pool->gen)) == seen && !pool->stop)
        pthread_cond_wait(&pool->go, &pool->mu);
      pthread_mutex_unlock(&pool->mu);
    }
    if (pool->stop)
      return NULL;
    seen = g;
    if (id < pool->parts)
      pool->fn(pool->arg, id, pool->parts);
    if (atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel) ==
        1) {
      pthread_mutex_lock(&pool->mu);
      pthread_cond_signal(&pool->done);
      pthread_mutex_unlock(&pool->mu);
    }
  }
}

static void pool_free(struct mlp__pool *pool) {
  if (!pool)
    return;
  pthread_mutex_lock(&pool->mu);
  pool->stop = 1;
  atomic_fetch_add(&pool->gen, 1);
  pthread_cond_broadcast(&pool->go);
  pthread_mutex_unlock(&pool->mu);
  for (int i = 0; i < pool->started; i++)
    pthread_join(pool->tid[i], NULL);
  pthread_cond_destroy(&pool->go);
  pthread_cond_destroy(&pool->done);
  pthread_mutex_destroy(&pool->mu);
  mlp__free(pool);
}

/* A pool of n threads (n - 1 workers), or NULL when out of memory or
 * when a thread cannot start. */
static struct mlp__pool *pool_create(int n) {
  struct mlp__pool *pool = mlp__calloc(1, sizeof *pool);

  if (!pool)
    return NULL;
  pool->n = n;
  atomic_init(&pool->gen, 0);
  atomic_init(&pool->pending, 0);
  atomic_init(&pool->arrived, 0);
  atomic_init(&pool->phase, 0);
  if (pthread_mutex_init(&pool->mu, NULL) ||
      pthread_cond_init(&pool->go, NULL) ||
      pthread_cond_init(&pool->done, NULL)) {
    mlp__free(pool);
    return NULL;
  }
  for (int i = 1; i < n; i++) {
    worker_start *ws = mlp__alloc(sizeof *ws);
    if (!ws)
      goto fail;
    ws->pool = pool;
    ws->id = i;
    if (pthread_create(&pool->tid[pool->started], NULL, worker_main, ws)) {
      mlp__free(ws);
      goto fail;
    }
    pool->started++;
  }
  return pool;
fail:
  pool_free(pool);
  return NULL;
}

void mlp__pool_barrier(struct mlp__pool *pool, int parts) {
  if (!pool || parts <= 1)
    return;
  unsigned ph = atomic_load_explicit(&pool->phase, memory_order_acquire);
  if (atomic_fetch_add_explicit(&pool->arrived, 1, memory_order_acq_rel) ==
      parts - 1) {
    atomic_store_explicit(&pool->arrived, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool->phase, 1, memory_order_release);
    return;
  }
  /* Spin, then yield the core: on an oversubscribed machine the thread
   * we wait for may need it. */
  for (long spin = 0;
       atomic_load_explicit(&pool->phase, memory_order_acquire) == ph; spin++) {
    if (spin < SPIN_LOOPS)
      cpu_relax();
    else
      sched_yield();
  }
}

int mlp__pool_size(const struct mlp__pool *pool) { return pool ? pool->n : 1; }

void mlp__pool_run(struct mlp__pool *pool, int parts, mlp__task_fn fn,
                   void *arg) {
  if (!pool || parts <= 1) {
    fn(arg, 0, 1);
    return;
  }
  pool->fn = fn;
  pool->arg = arg;
  pool->parts = parts;
  atomic_store_explicit(&pool->pending, pool->n - 1, memory_order_relaxed);
  pthread_mutex_lock(&pool->mu);
  atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
  pthread_cond_broadcast(&pool->go);
  pthread_mutex_unlock(&pool->mu);

  fn(arg, 0, parts);

  int spin = 0;
  while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0 &&
         spin++ < SPIN_LOOPS)
    cpu_relax();
  if (atomic_load(&pool->pending) > 0) {
    pthread_mutex_lock(&pool->mu);
    while (atomic_load(&pool->pending) > 0)
      pthread_cond_wait(&pool->done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
  }
}

/*
 * The workspace plan. Without MLP_CTX_KEEP: two buffers of max_batch x
 * max_width elements; layer k writes Z_k into buffer (k-1) % 2 and
 * overwrites it in place with Y_k, except the last layer, whose Y_N goes to
 * the caller so that Z_N (the logits the losses need) stays. With
 * MLP_CTX_KEEP: a Z_k and a Y_k buffer of max_batch x widths[k] per layer.
 * Every buffer starts on a 64-byte boundary.
 */
static int plan(const mlp_model *m, size_t max_batch, unsigned flags,
                size_t *total, size_t *z_off, size_t *y_off) {
  size_t bytes, off = 0;

  if (!(flags & MLP_CTX_KEEP)) {
    size_t one;
    if (mlp__mul_overflow(max_batch, m->max_width, &one) ||
        mlp__mul_overflow(one, m->elem, &one) || mlp__round_up(one, &one) ||
        mlp__mul_overflow(one, 2, total))
      return 1;
    for (size_t k = 0; z_off && k < m->n_layers; k++) {
      z_off[k] = (k % 2) * one;
      y_off[k] = z_off[k];
    }
    return 0;
  }
  for (size_t k = 1; k <= m->n_layers; k++) {
    if (mlp__mul_overflow(max_batch, m->widths[k], &bytes) ||
        mlp__mul_overflow(bytes, m->elem, &bytes) ||
        mlp__round_up(bytes, &bytes))
      return 1;
    if (z_off)
      z_off[k - 1] = off;
    if (mlp__add_overflow(off, bytes, &off))
      return 1;
    if (y_off)
      y_off[k - 1] = off;
    if (mlp__add_overflow(off, bytes, &off))
      return 1;
  }
  *total = off;
  return 0;
}

size_t mlp_ctx_workspace_size(const mlp_model *m, size_t max_batch,
                              unsigned flags) {
  size_t total;

  if (!m) {
    mlp__fail(MLP_ERR_NULL, "mlp_ctx_workspace_size: model is NULL");
    return 0;
  }
  if (max_batch == 0) {
    mlp__fail(MLP_ERR_BATCH, "mlp_ctx_workspace_size: max_batch is 0");
    return 0;
  }
  if (flags & ~MLP_CTX_KEEP) {
    mlp__fail(MLP_ERR_ARG, "mlp_ctx_workspace_size: unknown flags 0x%x",
              flags & ~MLP_CTX_KEEP);
    return 0;
  }
  if (plan(m, max_batch, flags, &total, NULL, NULL)) {
    mlp__fail(MLP_ERR_OVERFLOW,
              "mlp_ctx_workspace_size: %zu rows of width %zu overflow "
              "size_t",
              max_batch, m->max_width);
    return 0;
  }
  return total;
}

int mlp_ctx_create(mlp_ctx **ctx, const mlp_model *m, size_t max_batch,
                   unsigned flags, void *workspace, size_t workspace_bytes) {
  mlp_ctx *c;
  size_t total, *off;
  const size_t n = m ? m->n_layers : 0;

  if (!ctx)
    return mlp__fail(MLP_ERR_NULL, "mlp_ctx_create: ctx is NULL");
  *ctx = NULL;
  if (!m)
    return mlp__fail(MLP_ERR_NULL, "mlp_ctx_create: model is NULL");
  if (max_batch == 0)
    return mlp__fail(MLP_ERR_BATCH, "mlp_ctx_create: max_batch is 0");
  if (max_batch > (size_t)INT_MAX)
    return mlp__fail(MLP_ERR_BATCH,
                     "mlp_ctx_create: max_batch %zu exceeds the BLAS limit "
                     "%d",
                     max_batch, INT_MAX);
  if (flags & ~MLP_CTX_KEEP)
    return mlp__fail(MLP_ERR_ARG, "mlp_ctx_create: unknown flags 0x%x",
                     flags & ~MLP_CTX_KEEP);
  if (plan(m, max_batch, flags, &total, NULL, NULL))
    return mlp__fail(MLP_ERR_OVERFLOW,
                     "mlp_ctx_create: workspace for %zu rows of width %zu "
                     "overflows size_t",
                     max_batch, m->max_width);
  if (workspace && workspace_bytes < total)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_ctx_create: workspace of %zu bytes is smaller than "
                     "the %zu needed",
                     workspace_bytes, total);
  if (workspace && ((uintptr_t)workspace % MLP__ALIGN) != 0)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_ctx_create: workspace %p is not 64-byte aligned",
                     workspace);

  c = mlp__calloc(1, sizeof *c);
  off = mlp__calloc(2 * n, sizeof *off);
  if (c) {
    c->z = mlp__calloc(n, sizeof *c->z);
    c->y = mlp__calloc(n, sizeof *c->y);
  }
  if (!c || !off || !c->z || !c->y)
    goto nomem;
  c->mem = workspace;
  if (!workspace) {
    c->mem = mlp__alloc(total);
    c->owns_mem = 1;
    if (!c->mem)
      goto nomem;
  }
  plan(m, max_batch, flags, &total, off, off + n);
  for (size_t k = 0; k < n; k++) {
    c->z[k] = (char *)c->mem + off[k];
    c->y[k] = (char *)c->mem + off[n + k];
  }
  mlp__free(off);
  c->model = m;
  c->model_id = m->id;
  c->max_batch = max_batch;
  c->flags = flags;
  c->kern = mlp__kernels_get(MLP_KERNELS_AUTO);
  *ctx = c;
  return MLP_OK;

nomem:
  mlp__free(off);
  mlp_ctx_free(c);
  return mlp__fail(MLP_ERR_NOMEM,
                   "mlp_ctx_create: out of memory for a %zu-byte workspace",
                   total);
}

void mlp_ctx_free(mlp_ctx *c) {
  if (!c)
    return;
  pool_free(c->pool);
  if (c->owns_mem)
    mlp__free(c->mem);
  mlp__free(c->z);
  mlp__free(c->y);
  mlp__free(c);
}

int mlp_ctx_set_threads(mlp_ctx *c, int threads) {
  struct mlp__pool *pool = NULL;

  if (!c)
    return mlp__fail(MLP_ERR_NULL, "mlp_ctx_set_threads: ctx is NULL");
  if (threads < 1 || threads > MLP__MAX_THREADS)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_ctx_set_threads: %d threads (need 1..%d)", threads,
                     MLP__MAX_THREADS);
  if (threads == mlp__pool_size(c->pool))
    return MLP_OK;
  if (threads > 1) {
    pool = pool_create(threads);
    if (!pool)
      return mlp__fail(MLP_ERR_NOMEM,
                       "mlp_ctx_set_threads: cannot start %d threads",
                       threads - 1);
  }
  pool_free(c->pool);
  c->pool = pool;
  return MLP_OK;
}

int mlp_ctx_threads(const mlp_ctx *c) {
  return c ? mlp__pool_size(c->pool) : 0;
}

size_t mlp_ctx_max_batch(const mlp_ctx *c) { return c ? c->max_batch : 0; }

const mlp_model *mlp_ctx_model(const mlp_ctx *c) { return c ? c->model : NULL; }

int mlp_ctx_set_kernels(mlp_ctx *c, mlp_kernels set) {
  const mlp__kernel_table *t;

  if (!c)
    return mlp__fail(MLP_ERR_NULL, "mlp_ctx_set_kernels: ctx is NULL");
  t = mlp__kernels_get(set);
  if (!t)
    return mlp__fail(MLP_ERR_UNSUPPORTED,
                     "mlp_ctx_set_kernels: kernel set %s cannot run here",
                     mlp_kernels_name(set) ? mlp_kernels_name(set)
                                           : "(unknown)");
  c->kern = t;
  return MLP_OK;
}

mlp_kernels mlp_ctx_kernels(const mlp_ctx *c) {
  return c ? c->kern->set : MLP_KERNELS_AUTO;
}

int mlp__check_ctx(const mlp_model *m, const mlp_ctx *c, const char *where) {
  if (!m)
    return mlp__fail(MLP_ERR_NULL, "%s: model is NULL", where);
  if (!c)
    return mlp__fail(MLP_ERR_NULL, "%s: ctx is NULL", where);
  if (c->model != m || c->model_id != m->id)
    return mlp__fail(MLP_ERR_CONTEXT,
                     "%s: the context was created for another model", where);
  return MLP_OK;
}

int mlp_ctx_layer(const mlp_ctx *c, size_t k, const void **z, const void **y,
                  size_t *rows) {
  const size_t n = c ? c->model->n_layers : 0;

  if (!c)
    return mlp__fail(MLP_ERR_NULL, "mlp_ctx_layer: ctx is NULL");
  if (k < 1 || k > n)
    return mlp__fail(MLP_ERR_ARG,
                     "mlp_ctx_layer: layer %zu out of range "
                     "1..%zu",
                     k, n);
  if (c->last_rows == 0)
    return mlp__fail(MLP_ERR_STATE, "mlp_ctx_layer: no pass has run on "
                                    "this context");
  if (!(c->flags & MLP_CTX_KEEP) && k != n)
    return mlp__fail(MLP_ERR_STATE,
                     "mlp_ctx_layer: layer %zu is not kept (create the "
                     "context with MLP_CTX_KEEP)",
                     k);
  if (z)
    *z = c->z[k - 1];
  if (y)
    *y = (c->flags & MLP_CTX_KEEP) ? c->y[k - 1] : c->last_out;
  if (rows)
    *rows = c->last_rows;
  return MLP_OK;
}
