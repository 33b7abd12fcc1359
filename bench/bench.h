/*
 * bench.h - what the parts of mlp-bench share: workloads, the GEMM floor,
 * the FMA peak probe, clocks and statistics, and the three report formats.
 *
 * mlp-bench is a program: it uses libmlp through the public header only.
 * The GEMM floor (floor.c) is the one exception, it calls CBLAS itself, as
 * a lower bound for any library that makes one BLAS call per layer.
 */
#ifndef MLP_BENCH_H
#define MLP_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "mlp.h"

#define BENCH_MAX_LAYERS 64
#define BENCH_MAX_LIST 32

/* One network shape of workloads.json. */
typedef struct bench_workload {
  char name[64];
  size_t n_layers;
  size_t widths[BENCH_MAX_LAYERS + 1];
  mlp_act acts[BENCH_MAX_LAYERS];
  size_t batches[BENCH_MAX_LIST]; /* the workload's own batch list */
  size_t n_batches;
} bench_workload;

typedef struct bench_workloads {
  bench_workload *items;
  size_t count;
  uint64_t seed;
} bench_workloads;

/* Reads a workloads file (the format of bench/workloads.json). Returns 0,
 * or -1 after printing why to stderr. */
int bench_workloads_load(const char *path, bench_workloads *out);
void bench_workloads_free(bench_workloads *w);
/* The workload called name, or NULL. */
const bench_workload *bench_workloads_find(const bench_workloads *w,
                                           const char *name);

/* GEMM flops of one sample: 2 * sum over layers of in * out. */
double bench_flops_per_sample(const mlp_model *model);

/*
 * The GEMM floor: for every layer only the CBLAS call that computes
 * Y_{k-1} W_k (beta = 0: no bias, no activation), at the model's shapes,
 * storage layout and dtype, on the model's own weights. One row uses gemv
 * (as the forward pass does); more rows use gemm.
 */
typedef struct bench_floor bench_floor;
/* Returns NULL after printing why when out of memory. */
bench_floor *bench_floor_create(const mlp_model *model, size_t rows);
void bench_floor_free(bench_floor *f);
/* Runs the floor's calls on `rows` rows of x (at most those of create). */
void bench_floor_run(bench_floor *f, const void *x, size_t rows);
/* "gemm" or "gemv": the BLAS routine used for `rows` rows. */
const char *bench_floor_kind(size_t rows);
/* Chooses the floor's float GEMM: "cblas" (the default) or "dnnl"
 * (oneDNN's dnnl_sgemm, when built with it). Returns -1 when unknown. */
int bench_floor_provider(const char *name);
const char *bench_floor_provider_name(void);

/* The FP32 peak of one core in GFLOPS from a loop of independent FMAs on
 * the widest vectors the CPU and OS support; *isa receives "avx512",
 * "avx2" or "scalar". Takes about 0.3 s. */
double bench_peak_measure(const char **isa);

/* Monotonic time in seconds. */
double bench_now(void);
/* The q-quantile (0..1) of n values; sorts v in place. */
double bench_quantile(double *v, size_t n, double q);
/* Resets the process's peak RSS where the OS allows (Linux clear_refs);
 * returns 1 when the reset worked, so that bench_peak_rss is per cell. */
int bench_rss_reset(void);
/* Peak resident set size of the process in bytes (VmHWM), or 0. */
size_t bench_peak_rss(void);
/* The CPU's model name from /proc/cpuinfo into buf ("" if unknown). */
void bench_cpu_name(char *buf, size_t n);

/* The result of one cell: one workload at one batch and thread count. */
typedef struct bench_cell {
  const bench_workload *wl;
  size_t batch;
  int threads;
  /* throughput of the forward pass over the timed repetitions */
  double sps_med, sps_min, sps_max;
  double lat_p50, lat_p95; /* seconds per call */
  double gflops;           /* at the median */
  double peak_share;       /* gflops / (threads * per-core peak) */
  /* the GEMM floor, timed in the same repetitions */
  const char *floor_kind;
  double floor_sps_med, floor_sps_min, floor_sps_max;
  double floor_gflops;
  double ratio; /* forward time / floor time, from the medians */
  size_t workspace;
  size_t peak_rss;
  int rss_per_cell; /* 1 when peak_rss was reset before the cell */
  int reps;         /* timed repetitions behind the statistics */
} bench_cell;

/* What the run was on and how it was timed, for the report headers. */
typedef struct bench_env {
  mlp_blas_info blas;
  const char *kernels;
  char cpu[256];
  long cores;
  double peak; /* per-core FP32 GFLOPS, 0 when not measured */
  const char *peak_isa;
  mlp_dtype dtype;
  double min_time; /* seconds per repetition */
  int reps, passes;
  const char *model_file; /* NULL for workloads.json shapes */
  int ctx_threads;        /* 1 when the library splits batches itself */
} bench_env;

void bench_print_table(const bench_env *env, const bench_cell *cells, size_t n);
void bench_print_json(const bench_env *env, const bench_cell *cells, size_t n);
/* Writes the SVG chart; returns 0 or -1 after printing why. */
int bench_write_svg(const char *path, const bench_env *env,
                    const bench_cell *cells, size_t n);

#endif /* MLP_BENCH_H */
