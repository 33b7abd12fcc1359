/*
 * mlp_bench.c - mlp-bench: throughput, latency and the GEMM floor of
 * libmlp's forward pass over workloads, batch sizes and thread counts.
 *
 *   mlp-bench --workload mnist,deep --batch 1,32,256 --threads 1,2
 *
 * Per cell (workload x batch x threads) it times repeated runs of
 * mlp_forward after a warm-up, and in the same repetitions, alternating
 * with them, the GEMM floor (floor.c): the same layers' BLAS calls alone.
 * docs/benchmarks.md describes the output and the JSON schema.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#ifndef MLP_BENCH_DATADIR
#define MLP_BENCH_DATADIR "."
#endif
#ifndef MLP_BENCH_SRCDIR
#define MLP_BENCH_SRCDIR "."
#endif

#define MAX_LAT 2000 /* individually timed calls per cell and pass */

typedef struct options {
  char workloads[BENCH_MAX_LIST][64];
  size_t n_workloads;
  size_t batches[BENCH_MAX_LIST];
  size_t n_batches; /* 0: each workload's own list */
  int threads[BENCH_MAX_LIST];
  size_t n_threads;
  mlp_dtype dtype;
  mlp_layout layout;
  const char *model_file;
  const char *workloads_file;
  const char *plot;
  const char *kernels;
  int json;
  int no_fix_core;
  int blas_only; /* threads through the BLAS alone, no context threads */
  double min_time;
  int reps, passes;
  double peak; /* < 0: measure, 0: skip */
} options;

/* Samples gathered for one cell over all passes. */
typedef struct cell_acc {
  double *fwd_sps, *floor_sps, *lat;
  size_t n_sps, n_lat;
  size_t peak_rss;
  int rss_per_cell;
} cell_acc;

static void usage(FILE *to) {
  fprintf(
      to,
      "usage: mlp-bench [options]\n"
      "  --workload NAME[,NAME]  workloads of workloads.json (default: all)\n"
      "  --batch N[,N]           batch sizes (default: each workload's list)\n"
      "  --threads N[,N]         thread counts (default: 1)\n"
      "  --dtype f32|f64         element type (default: f32)\n"
      "  --layout in_out|out_in  weight storage of the model (default: "
      "in_out)\n"
      "  --kernels SET           reference, avx2 or avx512 (default: auto)\n"
      "  --model FILE            a model file instead of workloads\n"
      "  --floor cblas|dnnl      the floor's float GEMM (default: cblas)\n"
      "  --workloads FILE        the workloads file (default: installed)\n"
      "  --min-time S            seconds per timed repetition (default: 0.2)\n"
      "  --reps N                timed repetitions per cell (default: 5)\n"
      "  --passes N              run the whole matrix N times (default: 1)\n"
      "  --peak GFLOPS           per-core FP32 peak; 0 skips it (default: "
      "measure)\n"
      "  --blas-threads          threads in the BLAS only (default: the "
      "context's\n"
      "                          threads split the batch, BLAS on 1 thread)\n"
      "  --no-fix-core           keep OpenBLAS's generic core (default: "
      "re-run with\n"
      "                          OPENBLAS_CORETYPE set to the fix)\n"
      "  --json                  JSON on stdout instead of the table\n"
      "  --plot FILE.svg         also draw throughput against batch size\n"
      "  --help, --version\n");
}

static int die_usage(const char *what, const char *arg) {
  fprintf(stderr, "mlp-bench: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
  usage(stderr);
  return 2;
}

/* Splits "a,b,c" into at most BENCH_MAX_LIST positive integers. */
static int parse_sizes(const char *s, size_t *out, size_t *n) {
  *n = 0;
  while (*s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || v < 1 || v > 100000000ull ||
        *n == BENCH_MAX_LIST || (*end && *end != ','))
      return -1;
    out[(*n)++] = (size_t)v;
    s = *end ? end + 1 : end;
  }
  return *n ? 0 : -1;
}

static int parse_args(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  o->dtype = MLP_F32;
  o->layout = MLP_LAYOUT_IN_OUT;
  o->min_time = 0.2;
  o->reps = 5;
  o->passes = 1;
  o->peak = -1;
  o->threads[0] = 1;
  o->n_threads = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = 1;
    if (!strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    } else if (!strcmp(a, "--version")) {
      printf("mlp-bench (libmlp %s)\n", mlp_version());
      exit(0);
    } else if (!strcmp(a, "--json")) {
      o->json = 1;
      takes = 0;
    } else if (!strcmp(a, "--blas-threads")) {
      o->blas_only = 1;
      takes = 0;
    } else if (!strcmp(a, "--no-fix-core")) {
      o->no_fix_core = 1;
      takes = 0;
    } else if (!v) {
      return die_usage("missing value after", a);
    } else if (!strcmp(a, "--workload")) {
      char buf[1024];
      snprintf(buf, sizeof buf, "%s", v);
      for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        if (o->n_workloads == BENCH_MAX_LIST)
          return die_usage("too many workloads", v);
        snprintf(o->workloads[o->n_workloads++], 64, "%s", t);
      }
    } else if (!strcmp(a, "--batch")) {
      if (parse_sizes(v, o->batches, &o->n_batches))
        return die_usage("bad batch list", v);
    } else if (!strcmp(a, "--threads")) {
      size_t t[BENCH_MAX_LIST];
      if (parse_sizes(v, t, &o->n_threads))
        return die_usage("bad thread list", v);
      for (size_t k = 0; k < o->n_threads; k++) {
        if (t[k] > 1024)
          return die_usage("too many threads", v);
        o->threads[k] = (int)t[k];
      }
    } else if (!strcmp(a, "--dtype")) {
      if (!strcmp(v, "f32"))
        o->dtype = MLP_F32;
      else if (!strcmp(v, "f64"))
        o->dtype = MLP_F64;
      else
        return die_usage("dtype must be f32 or f64", v);
    } else if (!strcmp(a, "--layout")) {
      if (!strcmp(v, "in_out"))
        o->layout = MLP_LAYOUT_IN_OUT;
      else if (!strcmp(v, "out_in"))
        o->layout = MLP_LAYOUT_OUT_IN;
      else
        return die_usage("layout must be in_out or out_in", v);
    } else if (!strcmp(a, "--floor")) {
      if (bench_floor_provider(v))
        return die_usage("floor must be cblas (or dnnl when built with "
                         "oneDNN)",
                         v);
    } else if (!strcmp(a, "--kernels")) {
      o->kernels = v;
    } else if (!strcmp(a, "--model")) {
      o->model_file = v;
    } else if (!strcmp(a, "--workloads")) {
      o->workloads_file = v;
    } else if (!strcmp(a, "--plot")) {
      o->plot = v;
    } else if (!strcmp(a, "--min-time")) {
      o->min_time = atof(v);
      if (!(o->min_time > 0 && o->min_time <= 60))
        return die_usage("min-time must be in (0, 60]", v);
    } else if (!strcmp(a, "--reps")) {
      o->reps = atoi(v);
      if (o->reps < 1 || o->reps > 1000)
        return die_usage("reps must be in [1, 1000]", v);
    } else if (!strcmp(a, "--passes")) {
      o->passes = atoi(v);
      if (o->passes < 1 || o->passes > 100)
        return die_usage("passes must be in [1, 100]", v);
    } else if (!strcmp(a, "--peak")) {
      o->peak = atof(v);
      if (!(o->peak >= 0))
        return die_usage("peak must be >= 0", v);
    } else {
      return die_usage("unknown option", a);
    }
    i += takes;
  }
  return 0;
}

/* workloads.json: --workloads, $MLP_BENCH_WORKLOADS, the installed copy,
 * then the source tree's (for runs from the build directory). */
static const char *workloads_path(const options *o) {
  if (o->workloads_file)
    return o->workloads_file;
  const char *env = getenv("MLP_BENCH_WORKLOADS");
  if (env && *env)
    return env;
  static const char *const candidates[] = {
      MLP_BENCH_DATADIR "/workloads.json",
      MLP_BENCH_SRCDIR "/workloads.json",
  };
  for (size_t i = 0; i < 2; i++)
    if (access(candidates[i], R_OK) == 0)
      return candidates[i];
  return candidates[0];
}

/*
 * When OpenBLAS runs a generic core on a CPU that has a much faster one,
 * re-executes this program once with OPENBLAS_CORETYPE set to the fix, as
 * the mlp program does (MLP_NO_BLAS_FIX=1 or --no-fix-core keeps the slow
 * core, with a warning). A set OPENBLAS_CORETYPE is always respected.
 */
static void check_core(const options *o, const mlp_blas_info *b, char **argv) {
  const char *env = getenv("OPENBLAS_CORETYPE");
  const char *no_fix = getenv("MLP_NO_BLAS_FIX");
  if (env && !*env)
    fprintf(stderr, "mlp-bench: warning: OPENBLAS_CORETYPE is set but "
                    "empty; OpenBLAS 0.3.21 then silently picks "
                    "Cooperlake\n");
  if (!b->slow_core)
    return;
  if (!o->no_fix_core && !(no_fix && !strcmp(no_fix, "1")) && !env &&
      b->suggested_core[0]) {
    fprintf(stderr,
            "mlp-bench: note: OpenBLAS runs its generic '%s' "
            "core; re-running with OPENBLAS_CORETYPE=%s "
            "(MLP_NO_BLAS_FIX=1 disables this)\n",
            b->core, b->suggested_core);
    fflush(stderr);
    setenv("OPENBLAS_CORETYPE", b->suggested_core, 1);
    execv("/proc/self/exe", argv);
    perror("mlp-bench: re-exec failed");
    unsetenv("OPENBLAS_CORETYPE");
  }
  fprintf(stderr,
          "mlp-bench: warning: OpenBLAS runs its generic '%s' core on a "
          "CPU that supports a much faster one; GEMMs run several times "
          "slower than they can.\n  Fix: run with OPENBLAS_CORETYPE=%s in "
          "the environment.\n",
          b->core, b->suggested_core[0] ? b->suggested_core : "<core>");
}

/* U(-1, 1) inputs from a fixed xorshift generator. */
static void fill_inputs(void *x, size_t n, mlp_dtype dtype, uint64_t seed) {
  uint64_t s = seed ? seed : 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    double u = (double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0;
    if (dtype == MLP_F32)
      ((float *)x)[i] = (float)u;
    else
      ((double *)x)[i] = u;
  }
}

typedef struct runner {
  const mlp_model *model;
  mlp_ctx *ctx;
  bench_floor *floor;
  const void *x;
  void *y;
  size_t batch;
  int fwd_blas_threads;   /* BLAS threads while the forward pass runs */
  int floor_blas_threads; /* and while the floor runs */
} runner;

static int run_forward(runner *r) {
  return mlp_forward(r->model, r->ctx, r->x, r->batch, r->y);
}

/* Seconds per call of `calls` calls of the forward pass (what = 0) or of
 * the floor (what = 1). */
static double time_calls(runner *r, int what, long calls) {
  mlp_blas_set_threads(what == 0 ? r->fwd_blas_threads : r->floor_blas_threads);
  double t0 = bench_now();
  if (what == 0)
    for (long i = 0; i < calls; i++)
      run_forward(r);
  else
    for (long i = 0; i < calls; i++)
      bench_floor_run(r->floor, r->x, r->batch);
  return (bench_now() - t0) / (double)calls;
}

/* Warm-up: at least 2 calls and min_time / 4 seconds. Returns the number
 * of calls that makes one repetition last about min_time. */
static long warm_up(runner *r, int what, double min_time) {
  long calls = 1, done = 0;
  double spent = 0, per = 0;
  while (done < 2 || spent < min_time / 4) {
    per = time_calls(r, what, calls);
    spent += per * (double)calls;
    done += calls;
    if (per * (double)calls < 0.01 && calls < (1L << 30))
      calls *= 2;
  }
  long n = (long)(min_time / (per > 0 ? per : 1e-9));
  return n < 1 ? 1 : n;
}

/* The output of the threaded context against a one-thread context's: a
 * benchmark of wrong results is worth nothing. Returns -1 on mismatch. */
static int check_split(const mlp_model *model, runner *r) {
  const size_t n = r->batch * mlp_model_width(model, mlp_model_layers(model));
  const size_t e = mlp_dtype_size(mlp_model_dtype(model));
  const double tol = mlp_model_dtype(model) == MLP_F32 ? 1e-4 : 1e-10;
  mlp_ctx *one = NULL;
  void *ref = NULL;
  double worst = 0;
  int rc = -1;
  if (posix_memalign(&ref, 64, n * e) ||
      mlp_ctx_create(&one, model, r->batch, 0, NULL, 0) ||
      mlp_forward(model, one, r->x, r->batch, ref)) {
    fprintf(stderr, "mlp-bench: reference pass: %s\n", mlp_last_error());
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    double a = e == 4 ? ((float *)ref)[i] : ((double *)ref)[i];
    double b = e == 4 ? ((float *)r->y)[i] : ((double *)r->y)[i];
    double d = fabs(a - b) / (1 + fabs(a));
    if (!(d <= worst))
      worst = d;
  }
  if (worst <= tol)
    rc = 0;
  else
    fprintf(stderr,
            "mlp-bench: the threaded pass differs from one thread "
            "by %g (relative) at batch %zu\n",
            worst, r->batch);
done:
  mlp_ctx_free(one);
  free(ref);
  return rc;
}

static int run_cell(const options *o, const mlp_model *model, const void *x,
                    void *y, size_t batch, int threads, cell_acc *acc,
                    size_t *workspace) {
  runner r = {model, NULL, NULL, x, y, batch, threads, threads};
  int rc = -1;
  if (mlp_blas_set_threads(threads) && threads != 1)
    fprintf(stderr, "mlp-bench: cannot set BLAS threads: %s\n",
            mlp_last_error());
  if (!o->blas_only)
    r.fwd_blas_threads = 1;
  acc->rss_per_cell = bench_rss_reset();
  *workspace = mlp_ctx_workspace_size(model, batch, 0);
  if (mlp_ctx_create(&r.ctx, model, batch, 0, NULL, 0)) {
    fprintf(stderr, "mlp-bench: context: %s\n", mlp_last_error());
    return -1;
  }
  if (!o->blas_only && mlp_ctx_set_threads(r.ctx, threads)) {
    fprintf(stderr, "mlp-bench: context threads: %s\n", mlp_last_error());
    goto done;
  }
  if (o->kernels) {
    mlp_kernels set = MLP_KERNELS_AUTO;
    for (int s = 1; s <= 3; s++)
      if (!strcmp(o->kernels, mlp_kernels_name((mlp_kernels)s)))
        set = (mlp_kernels)s;
    if (set == MLP_KERNELS_AUTO || mlp_ctx_set_kernels(r.ctx, set)) {
      fprintf(stderr, "mlp-bench: kernels %s: %s\n", o->kernels,
              mlp_last_error());
      goto done;
    }
  }
  if (run_forward(&r)) {
    fprintf(stderr, "mlp-bench: forward: %s\n", mlp_last_error());
    goto done;
  }
  if (!o->blas_only && threads > 1 && check_split(model, &r))
    goto done;
  r.floor = bench_floor_create(model, batch);
  if (!r.floor)
    goto done;

  long n_fwd = warm_up(&r, 0, o->min_time);
  long n_floor = warm_up(&r, 1, o->min_time);
  /* Alternate the two so that a change of machine load hits both. */
  for (int rep = 0; rep < o->reps; rep++) {
    double t = time_calls(&r, 0, n_fwd);
    acc->fwd_sps[acc->n_sps] = (double)batch / t;
    t = time_calls(&r, 1, n_floor);
    acc->floor_sps[acc->n_sps++] = (double)batch / t;
  }
  /* Latency: individually timed calls, about 0.1 s of them (at least 5,
   * so that slow cells stay short). */
  mlp_blas_set_threads(r.fwd_blas_threads);
  long n_lat = (long)(0.1 * (double)n_fwd / o->min_time);
  if (n_lat < 5)
    n_lat = 5;
  if (n_lat > MAX_LAT)
    n_lat = MAX_LAT;
  for (long i = 0; i < n_lat; i++) {
    double t0 = bench_now();
    run_forward(&r);
    acc->lat[acc->n_lat++] = bench_now() - t0;
  }
  size_t rss = bench_peak_rss();
  if (rss > acc->peak_rss)
    acc->peak_rss = rss;
  rc = 0;
done:
  bench_floor_free(r.floor);
  mlp_ctx_free(r.ctx);
  return rc;
}

double bench_flops_per_sample(const mlp_model *model) {
  double s = 0;
  for (size_t k = 1; k <= mlp_model_layers(model); k++)
    s += 2.0 * (double)mlp_model_width(model, k - 1) *
         (double)mlp_model_width(model, k);
  return s;
}

static int model_build(const options *o, const bench_workload *w, uint64_t seed,
                       mlp_model **model) {
  if (o->model_file) {
    mlp_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.dtype = o->dtype;
    lo.storage = o->layout;
    if (mlp_model_load(model, o->model_file, &lo) == MLP_OK)
      return 0;
    fprintf(stderr, "mlp-bench: %s: %s\n", o->model_file, mlp_last_error());
    return -1;
  }
  if (mlp_model_create(model, o->dtype, w->n_layers, w->widths, w->acts,
                       o->layout) ||
      mlp_model_init(*model, MLP_INIT_XAVIER_UNIFORM, seed, 1.0)) {
    fprintf(stderr, "mlp-bench: workload %s: %s\n", w->name, mlp_last_error());
    mlp_model_free(*model);
    *model = NULL;
    return -1;
  }
  return 0;
}

static void cell_finish(const bench_env *env, cell_acc *acc, double flops,
                        bench_cell *c) {
  /* bench_quantile sorts, so [0] and [n - 1] are then min and max */
  c->reps = (int)acc->n_sps;
  c->sps_med = bench_quantile(acc->fwd_sps, acc->n_sps, 0.5);
  c->sps_min = acc->fwd_sps[0];
  c->sps_max = acc->fwd_sps[acc->n_sps - 1];
  c->floor_sps_med = bench_quantile(acc->floor_sps, acc->n_sps, 0.5);
  c->floor_sps_min = acc->floor_sps[0];
  c->floor_sps_max = acc->floor_sps[acc->n_sps - 1];
  c->lat_p50 = bench_quantile(acc->lat, acc->n_lat, 0.5);
  c->lat_p95 = bench_quantile(acc->lat, acc->n_lat, 0.95);
  c->gflops = c->sps_med * flops / 1e9;
  c->floor_gflops = c->floor_sps_med * flops / 1e9;
  c->peak_share = env->peak > 0 ? c->gflops / (env->peak * c->threads) : 0;
  c->ratio = c->floor_sps_med / c->sps_med;
  c->floor_kind = bench_floor_kind(c->batch);
  c->peak_rss = acc->peak_rss;
  c->rss_per_cell = acc->rss_per_cell;
}

/* --model: one workload with the file's shape, named after the file. */
static int model_workload(const options *o, bench_workloads *wls) {
  mlp_model *m = NULL;
  bench_workload *w = calloc(1, sizeof *w);
  memset(wls, 0, sizeof *wls);
  if (!w || model_build(o, NULL, 0, &m)) {
    free(w);
    return -1;
  }
  if (mlp_model_layers(m) > BENCH_MAX_LAYERS) {
    fprintf(stderr, "mlp-bench: %s: more than %d layers\n", o->model_file,
            BENCH_MAX_LAYERS);
    mlp_model_free(m);
    free(w);
    return -1;
  }
  const char *base = strrchr(o->model_file, '/');
  snprintf(w->name, sizeof w->name, "%s", base ? base + 1 : o->model_file);
  w->n_layers = mlp_model_layers(m);
  for (size_t k = 0; k <= w->n_layers; k++)
    w->widths[k] = mlp_model_width(m, k);
  for (size_t k = 1; k <= w->n_layers; k++)
    w->acts[k - 1] = mlp_model_act(m, k);
  static const size_t dflt[] = {1, 32, 256, 4096};
  memcpy(w->batches, dflt, sizeof dflt);
  w->n_batches = 4;
  mlp_model_free(m);
  wls->items = w;
  wls->count = 1;
  wls->seed = 1;
  return 0;
}

int main(int argc, char **argv) {
  options o;
  int rc = parse_args(argc, argv, &o);
  if (rc)
    return rc;

  bench_env env;
  memset(&env, 0, sizeof env);
  mlp_blas_info_get(&env.blas);
  check_core(&o, &env.blas, argv);
  env.kernels = mlp_kernels_name(mlp_kernels_active());
  if (o.kernels)
    env.kernels = o.kernels;
  bench_cpu_name(env.cpu, sizeof env.cpu);
  if (!env.cpu[0] && env.blas.cpu)
    snprintf(env.cpu, sizeof env.cpu, "%s", env.blas.cpu);
  env.cores = sysconf(_SC_NPROCESSORS_ONLN);
  env.dtype = o.dtype;
  env.min_time = o.min_time;
  env.reps = o.reps;
  env.passes = o.passes;
  env.model_file = o.model_file;
  env.ctx_threads = !o.blas_only;
  env.peak_isa = "";
  if (o.peak < 0)
    env.peak = bench_peak_measure(&env.peak_isa);
  else
    env.peak = o.peak;

  bench_workloads wls;
  const char *wpath = workloads_path(&o);
  if (o.model_file) {
    if (model_workload(&o, &wls))
      return 1;
  } else if (bench_workloads_load(wpath, &wls)) {
    return 1;
  }
  /* The workloads to run, in the order asked for. */
  const bench_workload *run[BENCH_MAX_LIST];
  size_t n_run = 0;
  if (o.n_workloads == 0 || o.model_file)
    for (size_t i = 0; i < wls.count && n_run < BENCH_MAX_LIST; i++)
      run[n_run++] = &wls.items[i];
  for (size_t i = 0; i < o.n_workloads && !o.model_file; i++) {
    run[n_run] = bench_workloads_find(&wls, o.workloads[i]);
    if (!run[n_run]) {
      fprintf(stderr, "mlp-bench: no workload '%s' in %s\n", o.workloads[i],
              wpath);
      return 2;
    }
    n_run++;
  }

  /* Cells in report order: workload, batch, threads. */
  size_t n_cells = 0;
  for (size_t w = 0; w < n_run; w++)
    n_cells += (o.n_batches ? o.n_batches : run[w]->n_batches) * o.n_threads;
  if (n_cells == 0) {
    fprintf(stderr, "mlp-bench: nothing to run (no batch sizes)\n");
    return 2;
  }
  bench_cell *cells = calloc(n_cells, sizeof *cells);
  cell_acc *accs = calloc(n_cells, sizeof *accs);
  if (!cells || !accs) {
    fprintf(stderr, "mlp-bench: out of memory\n");
    free(cells);
    free(accs);
    return 1;
  }
  size_t max_rows = 1;
  for (size_t w = 0, c = 0; w < n_run; w++) {
    const size_t *bl = o.n_batches ? o.batches : run[w]->batches;
    size_t nb = o.n_batches ? o.n_batches : run[w]->n_batches;
    for (size_t b = 0; b < nb; b++)
      for (size_t t = 0; t < o.n_threads; t++, c++) {
        cells[c].wl = run[w];
        cells[c].batch = bl[b];
        cells[c].threads = o.threads[t];
        size_t n = (size_t)o.reps * (size_t)o.passes;
        accs[c].fwd_sps = calloc(n, sizeof(double));
        accs[c].floor_sps = calloc(n, sizeof(double));
        accs[c].lat = calloc((size_t)MAX_LAT * o.passes, sizeof(double));
        if (!accs[c].fwd_sps || !accs[c].floor_sps || !accs[c].lat) {
          fprintf(stderr, "mlp-bench: out of memory\n");
          exit(1);
        }
        if (bl[b] > max_rows)
          max_rows = bl[b];
      }
  }

  rc = 0;
  int progress = isatty(STDERR_FILENO);
  for (int pass = 0; pass < o.passes && !rc; pass++) {
    size_t c = 0;
    for (size_t w = 0; w < n_run && !rc; w++) {
      const bench_workload *wl = run[w];
      size_t in = wl->widths[0], out = wl->widths[wl->n_layers];
      size_t elem = mlp_dtype_size(o.dtype);
      mlp_model *model = NULL;
      void *x = NULL, *y = NULL;
      if (model_build(&o, wl, wls.seed + w, &model) ||
          posix_memalign(&x, 64, max_rows * in * elem) ||
          posix_memalign(&y, 64, max_rows * out * elem)) {
        rc = 1;
      } else {
        fill_inputs(x, max_rows * in, o.dtype, wls.seed);
        double flops = bench_flops_per_sample(model);
        for (; c < n_cells && cells[c].wl == wl && !rc; c++) {
          if (progress)
            fprintf(stderr, "\rmlp-bench: pass %d/%d %s b=%zu t=%d    ",
                    pass + 1, o.passes, wl->name, cells[c].batch,
                    cells[c].threads);
          rc = run_cell(&o, model, x, y, cells[c].batch, cells[c].threads,
                        &accs[c], &cells[c].workspace);
          if (!rc && pass == o.passes - 1)
            cell_finish(&env, &accs[c], flops, &cells[c]);
        }
      }
      free(x);
      free(y);
      mlp_model_free(model);
    }
  }
  if (progress)
    fprintf(stderr, "\r%60s\r", "");
  if (!rc) {
    if (o.json)
      bench_print_json(&env, cells, n_cells);
    else
      bench_print_table(&env, cells, n_cells);
    if (o.plot && bench_write_svg(o.plot, &env, cells, n_cells))
      rc = 1;
  }
  for (size_t c = 0; c < n_cells; c++) {
    free(accs[c].fwd_sps);
    free(accs[c].floor_sps);
    free(accs[c].lat);
  }
  free(accs);
  free(cells);
  bench_workloads_free(&wls);
  return rc;
}
