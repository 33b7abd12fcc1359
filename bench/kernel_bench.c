/*
 * kernel_bench.c - throughput of every elementwise kernel (bias +
 * activation, softmax, and their backward passes), per kernel set and
 * dtype, in elements per second next to a memcpy of the same bytes, for
 * blocks that sit in L1, in L2 and beyond L2. A kernel much slower than
 * its memcpy is compute-bound; one close to it is memory-bound.
 *
 *   kernel-bench [--set reference|avx2|avx512|all] [--dtype f32|f64|all]
 *                [--sizes N,N,...] [--width N] [--min-time SECONDS]
 *                [--inplace] [--no-bwd] [--json]
 *
 * Each cell runs the kernel on `rows x width` elements in samples of about
 * 1 ms for min-time seconds and reports the fastest sample.
 * Forward kernels run out of place with a zero bias (z += b; y = f(z)), so
 * that every call sees the same inputs: run in place, repeated calls would
 * feed each output back in and drift into denormals (silu, gelu and leaky
 * ReLU halve small values), which measures microcode assists, not the
 * kernel. --inplace runs them as the forward pass does (y == z); that is
 * sound for identity, relu, sigmoid, tanh and softmax, whose iterates stay
 * normal numbers, not for leaky_relu, gelu and silu. Backward kernels
 * write dz from z, y and dy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"

typedef struct options {
  int set;   /* MLP_KERNELS_* or 0 for all */
  int dtype; /* MLP_F32, MLP_F64 or 0 for all */
  size_t sizes[16];
  size_t n_sizes;
  size_t width;
  double min_time;
  int bwd;
  int inplace;
  int json;
} options;

static const char *act_names[MLP_ACT_COUNT] = {
    "identity", "relu", "leaky_relu", "sigmoid",
    "tanh",     "gelu", "silu",       "softmax"};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* What one cell runs: a kernel call or a memcpy, on fixed buffers. */
typedef struct job {
  const mlp__kernel_table *t;
  mlp_dtype dt;
  mlp_act act;
  int backward; /* 0 forward, 1 backward, 2 memcpy */
  void *z, *y, *dy, *dz, *b;
  int inplace;
  size_t rows, n, bytes;
} job;

static void job_run(const job *j) {
  switch (j->backward) {
  case 0:
    if (j->dt == MLP_F32)
      j->t->fwd_f32[j->act](j->z, j->inplace ? j->z : j->y, j->b, j->rows, j->n,
                            0.01f);
    else
      j->t->fwd_f64[j->act](j->z, j->inplace ? j->z : j->y, j->b, j->rows, j->n,
                            0.01);
    break;
  case 1:
    if (j->dt == MLP_F32)
      j->t->bwd_f32[j->act](j->z, j->y, j->dy, j->dz, j->rows, j->n, 0.01f);
    else
      j->t->bwd_f64[j->act](j->z, j->y, j->dy, j->dz, j->rows, j->n, 0.01);
    break;
  default:
    memcpy(j->dz, j->z, j->bytes);
    break;
  }
}

/* Seconds per call: the best of many short samples. A sample is `reps`
 * calls lasting about 1 ms, short enough that most samples run without
 * being descheduled on a busy machine; samples are taken for min_time in
 * total (at least 5) and the fastest one counts. */
static double job_time(const job *j, double min_time) {
  size_t reps = 1, samples;
  double best = 1e30, dt;
  job_run(j); /* warm-up: page faults, caches */
  for (;;) {
    double t0 = now();
    for (size_t r = 0; r < reps; r++)
      job_run(j);
    dt = now() - t0;
    if (dt >= 1e-3 || reps >= ((size_t)1 << 30))
      break;
    reps = dt <= 1e-5 ? reps * 10 : reps * 2;
  }
  samples = (size_t)(min_time / dt);
  samples = samples < 5 ? 5 : samples > 10000 ? 10000 : samples;
  for (size_t s = 0; s < samples; s++) {
    double t0 = now();
    for (size_t r = 0; r < reps; r++)
      job_run(j);
    dt = (now() - t0) / (double)reps;
    best = dt < best ? dt : best;
  }
  return best;
}

static void *alloc_filled(size_t count, mlp_dtype dt, double lo, double hi,
                          unsigned seed) {
  size_t elem = dt == MLP_F32 ? 4 : 8;
  size_t bytes = (count * elem + 63) / 64 * 64;
  void *p = aligned_alloc(64, bytes ? bytes : 64);
  if (!p)
    return NULL;
  unsigned s = seed;
  for (size_t i = 0; i < count; i++) {
    s = s * 1103515245u + 12345u;
    double v = lo + (hi - lo) * (double)(s >> 8) / (double)(1u << 24);
    if (dt == MLP_F32)
      ((float *)p)[i] = (float)v;
    else
      ((double *)p)[i] = v;
  }
  return p;
}

static int parse_sizes(const char *arg, options *o) {
  o->n_sizes = 0;
  while (*arg && o->n_sizes < 16) {
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (end == arg || v == 0)
      return -1;
    o->sizes[o->n_sizes++] = (size_t)v;
    arg = *end == ',' ? end + 1 : end;
    if (*end && *end != ',')
      return -1;
  }
  return o->n_sizes ? 0 : -1;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: kernel-bench [--set reference|avx2|avx512|all]\n"
          "                    [--dtype f32|f64|all] [--sizes N,N,...]\n"
          "                    [--width N] [--min-time SECONDS] [--inplace]\n"
          "                    [--no-bwd] [--json]\n"
          "Elements per second of each bias+activation, softmax and\n"
          "backward kernel, next to memcpy of the same bytes. Sizes are\n"
          "elements per block (rows = size / width).\n");
}

static int parse_args(int argc, char **argv, options *o) {
  *o = (options){0, MLP_F32, {4096, 65536, 4194304}, 3, 256, 0.2, 1, 0, 0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--json") == 0) {
      o->json = 1;
    } else if (strcmp(a, "--inplace") == 0) {
      o->inplace = 1;
    } else if (strcmp(a, "--no-bwd") == 0) {
      o->bwd = 0;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (v && strcmp(a, "--set") == 0) {
      i++;
      o->set = -1;
      if (strcmp(v, "all") == 0)
        o->set = 0;
      for (int s = MLP_KERNELS_REFERENCE; s <= MLP_KERNELS_AVX512; s++)
        if (strcmp(v, mlp_kernels_name((mlp_kernels)s)) == 0)
          o->set = s;
      if (o->set < 0)
        return -1;
    } else if (v && strcmp(a, "--dtype") == 0) {
      i++;
      o->dtype = strcmp(v, "f32") == 0   ? MLP_F32
                 : strcmp(v, "f64") == 0 ? MLP_F64
                 : strcmp(v, "all") == 0 ? 0
                                         : -1;
      if (o->dtype < 0)
        return -1;
    } else if (v && strcmp(a, "--sizes") == 0) {
      i++;
      if (parse_sizes(v, o))
        return -1;
    } else if (v && strcmp(a, "--width") == 0) {
      i++;
      o->width = strtoul(v, NULL, 10);
      if (o->width == 0)
        return -1;
    } else if (v && strcmp(a, "--min-time") == 0) {
      i++;
      o->min_time = strtod(v, NULL);
      if (!(o->min_time > 0))
        return -1;
    } else {
      return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  options o;
  int first = 1;

  if (parse_args(argc, argv, &o)) {
    usage(stderr);
    return 2;
  }
  if (o.json)
    printf("{\n  \"active_set\": \"%s\",\n  \"width\": %zu,\n"
           "  \"cells\": [\n",
           mlp_kernels_name(mlp_kernels_active()), o.width);
  else
    printf("kernel-bench: active set %s; blocks of rows x %zu; forward "
           "%s with a zero bias\n"
           "Gelem/s = 1e9 elements per second (fastest 1 ms sample); "
           "x memcpy = time / memcpy time\n\n"
           "%-9s %-4s %-10s %-3s %9s %9s %9s %9s\n",
           mlp_kernels_name(mlp_kernels_active()), o.width,
           o.inplace ? "in place" : "out of place", "set", "type", "kernel",
           "dir", "elements", "Gelem/s", "memcpy", "x memcpy");

  for (int s = MLP_KERNELS_REFERENCE; s <= MLP_KERNELS_AVX512; s++) {
    const mlp__kernel_table *t = mlp__kernels_get((mlp_kernels)s);
    if ((o.set && s != o.set) || !t)
      continue;
    for (int d = MLP_F32; d <= MLP_F64; d++) {
      if (o.dtype && d != o.dtype)
        continue;
      mlp_dtype dt = (mlp_dtype)d;
      size_t elem = dt == MLP_F32 ? 4 : 8;
      for (size_t si = 0; si < o.n_sizes; si++) {
        size_t n = o.sizes[si] < o.width ? o.sizes[si] : o.width;
        size_t rows = o.sizes[si] / n, count = rows * n;
        job j = {.t = t,
                 .dt = dt,
                 .backward = 2,
                 .rows = rows,
                 .n = n,
                 .bytes = count * elem};
        j.z = alloc_filled(count, dt, -3, 3, 1);
        j.y = alloc_filled(count, dt, 0, 1, 2);
        j.dy = alloc_filled(count, dt, -1, 1, 3);
        j.dz = alloc_filled(count, dt, 0, 0, 4);
        j.b = alloc_filled(n, dt, 0, 0, 5);
        j.inplace = o.inplace;
        if (!j.z || !j.y || !j.dy || !j.dz || !j.b) {
          fprintf(stderr, "kernel-bench: out of memory for %zu elements\n",
                  count);
          return 1;
        }
        double t_copy = job_time(&j, o.min_time);
        for (int dir = 0; dir < (o.bwd ? 2 : 1); dir++)
          for (int a = 0; a < MLP_ACT_COUNT; a++) {
            j.act = (mlp_act)a;
            j.backward = dir;
            double sec = job_time(&j, o.min_time);
            double rate = (double)count / sec / 1e9;
            double copy_rate = (double)count / t_copy / 1e9;
            if (o.json)
              printf("%s    {\"set\": \"%s\", \"dtype\": \"%s\", "
                     "\"kernel\": \"%s\", \"dir\": \"%s\", \"rows\": %zu, "
                     "\"width\": %zu, \"elements\": %zu, "
                     "\"seconds\": %.9g, \"elements_per_s\": %.6g, "
                     "\"memcpy_elements_per_s\": %.6g}",
                     first ? "" : ",\n", t->name, dt == MLP_F32 ? "f32" : "f64",
                     act_names[a], dir ? "bwd" : "fwd", rows, n, count, sec,
                     rate * 1e9, copy_rate * 1e9);
            else
              printf("%-9s %-4s %-10s %-3s %9zu %9.3f %9.3f %9.2f\n", t->name,
                     dt == MLP_F32 ? "f32" : "f64", act_names[a],
                     dir ? "bwd" : "fwd", count, rate, copy_rate, sec / t_copy);
            first = 0;
            fflush(stdout);
          }
        free(j.z), free(j.y), free(j.dy), free(j.dz), free(j.b);
      }
    }
  }
  if (o.json)
    printf("\n  ]\n}\n");
  return 0;
}
