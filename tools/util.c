/*
 * util.c - shared helpers of the mlp program (see util.h).
 */
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_name = "mlp";

void tool_set_name(const char *name) { g_name = name; }

const char *tool_name(void) { return g_name; }

void tool_error(const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s: ", g_name);
  va_start(ap, fmt);
  /* The analyzer of clang 14 misreads va_start here. */
  vfprintf(stderr, fmt, ap); // NOLINT
  va_end(ap);
  fputc('\n', stderr);
}

int tool_fail(int status) {
  const char *msg = mlp_last_error();
  if (status == MLP_ERR_INTERRUPTED) {
    tool_error("interrupted");
    return TOOL_EXIT_INTERRUPTED;
  }
  tool_error("%s", msg && *msg ? msg : mlp_strerror(status));
  return TOOL_EXIT_FAILURE;
}

/* ------------------------------------------------------------------------
 * Arguments
 */

int tool_bad_option(int c, char **argv) {
  const char *opt = optind > 0 ? argv[optind - 1] : "?";
  char shortopt[3] = {'-', (char)optopt, '\0'};
  /* For a short option, argv[optind - 1] may hold several; name the one. */
  if (optopt && opt[0] == '-' && opt[1] != '-')
    opt = shortopt;
  if (c == ':')
    tool_error("option '%s' needs a value (try '%s --help')", opt, tool_name());
  else
    tool_error("unknown option '%s' (try '%s --help')", opt, tool_name());
  return TOOL_EXIT_USAGE;
}

int tool_parse_size(const char *opt, const char *text, size_t min, size_t max,
                    size_t *out) {
  char *end;
  unsigned long long v;
  errno = 0;
  if (!text || text[0] < '0' || text[0] > '9')
    goto bad;
  v = strtoull(text, &end, 10);
  if (errno || *end != '\0' || v < min || v > max)
    goto bad;
  *out = (size_t)v;
  return 0;
bad:
  tool_error("%s: '%s' is not an integer in [%zu, %zu]", opt, text ? text : "",
             min, max);
  return -1;
}

int tool_parse_double(const char *opt, const char *text, double *out) {
  char *end;
  double v, d = 1;
  errno = 0;
  v = strtod(text, &end);
  if (end != text && *end == '/') {
    const char *den = end + 1;
    d = strtod(den, &end);
    if (end == den || d == 0)
      end = (char *)den - 1; /* force the error below */
  }
  if (end == text || *end != '\0' || errno || !isfinite(v / d)) {
    tool_error("%s: '%s' is not a finite number", opt, text);
    return -1;
  }
  *out = v / d;
  return 0;
}

/* Splits text at commas; calls fn(item, index, ctx) for each. */
static int split_list(const char *opt, const char *text, size_t *count,
                      int (*fn)(const char *, size_t, void *), void *ctx) {
  size_t n = 0;
  const char *p = text;
  char item[64];
  if (!text || !*text) {
    tool_error("%s: empty list", opt);
    return -1;
  }
  for (;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0 || len >= sizeof item) {
      tool_error("%s: bad item %zu in '%s'", opt, n + 1, text);
      return -1;
    }
    memcpy(item, p, len);
    item[len] = '\0';
    if (fn && fn(item, n, ctx) != 0) {
      return -1;
    }
    n++;
    if (!end)
      break;
    p = end + 1;
  }
  *count = n;
  return 0;
}

typedef struct list_ctx {
  const char *opt;
  void *items;
} list_ctx;

static int put_size(const char *item, size_t i, void *ctx) {
  list_ctx *c = ctx;
  return tool_parse_size(c->opt, item, 1, SIZE_MAX / 2,
                         &((size_t *)c->items)[i]);
}

static int put_act(const char *item, size_t i, void *ctx) {
  list_ctx *c = ctx;
  if (mlp_act_parse(item, &((mlp_act *)c->items)[i]) != MLP_OK) {
    tool_error("%s: unknown activation '%s' (identity, relu, leaky_relu, "
               "sigmoid, tanh, gelu, silu, softmax)",
               c->opt, item);
    return -1;
  }
  return 0;
}

/* Counts the items, allocates, then parses each into the array. */
static int parse_list(const char *opt, const char *text, size_t elem,
                      int (*fn)(const char *, size_t, void *), void **list,
                      size_t *count) {
  list_ctx c = {opt, NULL};
  size_t n;
  if (split_list(opt, text, &n, NULL, NULL) != 0)
    return -1;
  c.items = calloc(n, elem);
  if (!c.items) {
    tool_error("out of memory");
    return -1;
  }
  if (split_list(opt, text, &n, fn, &c) != 0) {
    free(c.items);
    return -1;
  }
  *list = c.items;
  *count = n;
  return 0;
}

int tool_parse_sizes(const char *opt, const char *text, size_t **list,
                     size_t *count) {
  void *items;
  if (parse_list(opt, text, sizeof(size_t), put_size, &items, count) != 0)
    return -1;
  *list = items;
  return 0;
}

int tool_parse_acts(const char *opt, const char *text, mlp_act **list,
                    size_t *count) {
  void *items;
  if (parse_list(opt, text, sizeof(mlp_act), put_act, &items, count) != 0)
    return -1;
  *list = items;
  return 0;
}

int tool_parse_dtype(const char *opt, const char *text, mlp_dtype *out) {
  if (strcmp(text, "f32") == 0)
    *out = MLP_F32;
  else if (strcmp(text, "f64") == 0)
    *out = MLP_F64;
  else {
    tool_error("%s: '%s' is not f32 or f64", opt, text);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------------
 * Progress
 */

double tool_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress_draw(tool_progress *p) {
  double elapsed = tool_now() - p->started;
  double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
  if (p->total > 0) {
    char bar[31];
    size_t fill = p->done >= p->total ? 30 : p->done * 30 / p->total;
    memset(bar, '#', fill);
    memset(bar + fill, '.', 30 - fill);
    bar[30] = '\0';
    fprintf(stderr, "\r%s [%s] %3d%% %zu/%zu rows, %.0f rows/s ", p->label, bar,
            (int)(p->done * 100.0 / (double)p->total), p->done, p->total, rate);
  } else {
    fprintf(stderr, "\r%s %zu rows, %.0f rows/s ", p->label, p->done, rate);
  }
  fflush(stderr);
  p->last_drawn = tool_now();
}

void tool_progress_start(tool_progress *p, const char *label, size_t total) {
  memset(p, 0, sizeof *p);
  p->label = label;
  p->total = total;
  p->enabled = isatty(STDERR_FILENO);
  p->started = tool_now();
  p->last_drawn = p->started;
}

void tool_progress_add(tool_progress *p, size_t rows) {
  p->done += rows;
  if (p->enabled && tool_now() - p->last_drawn >= 0.1)
    progress_draw(p);
}

void tool_progress_end(tool_progress *p) {
  if (p->enabled && p->last_drawn > p->started) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
  }
  p->enabled = 0;
}

/* ------------------------------------------------------------------------
 * Signals
 */

static volatile sig_atomic_t g_interrupted;
static const char *volatile g_temp_path;

static void on_signal(int sig) {
  const char *temp = g_temp_path;
  g_interrupted = sig;
  if (temp)
    unlink(temp);       /* async-signal-safe */
  signal(sig, SIG_DFL); /* a second signal ends the program at once */
}

void tool_signals_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int tool_interrupted(void) { return g_interrupted != 0; }

void tool_signals_temp_path(const char *path) { g_temp_path = path; }

/* ------------------------------------------------------------------------
 * The OpenBLAS core fix
 */

#define BLAS_FIXED_ENV "MLP_BLAS_FIXED"

void tool_blas_fix(const char *prog, char **argv) {
  mlp_blas_info info;
  const char *no_fix = getenv("MLP_NO_BLAS_FIX");

  if (getenv("OPENBLAS_CORETYPE") || (no_fix && strcmp(no_fix, "1") == 0))
    return;
  if (mlp_blas_info_get(&info) != MLP_OK || !info.slow_core ||
      !info.suggested_core || !*info.suggested_core)
    return;
  if (setenv("OPENBLAS_CORETYPE", info.suggested_core, 1) != 0 ||
      setenv(BLAS_FIXED_ENV, info.suggested_core, 1) != 0)
    return;
  fprintf(stderr,
          "%s: note: OpenBLAS chose the slow %s core on this CPU; "
          "running with OPENBLAS_CORETYPE=%s instead (MLP_NO_BLAS_FIX=1 "
          "disables this)\n",
          prog, info.core && *info.core ? info.core : "generic",
          info.suggested_core);
  fflush(stderr);
  execv("/proc/self/exe", argv);
  /* Still here: carry on with the slow core, and say so. */
  fprintf(stderr,
          "%s: note: re-running failed (%s); continuing with the "
          "slow core\n",
          prog, strerror(errno));
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(BLAS_FIXED_ENV);
}

int tool_blas_fixed(void) {
  const char *fixed = getenv(BLAS_FIXED_ENV), *core;
  core = getenv("OPENBLAS_CORETYPE");
  return fixed && core && strcmp(fixed, core) == 0;
}

/* ------------------------------------------------------------------------
 * Models
 */

int tool_load_model(const char *path, const char *acts_text, unsigned flags,
                    mlp_model **model) {
  mlp_load_options opts;
  mlp_act *acts = NULL;
  size_t n_acts = 0;
  int rc;

  memset(&opts, 0, sizeof opts);
  if (acts_text) {
    if (tool_parse_acts("--activations", acts_text, &acts, &n_acts) != 0)
      return TOOL_EXIT_USAGE;
    opts.acts = acts;
    opts.n_acts = n_acts;
  } else {
    flags &= ~MLP_LOAD_OVERRIDE_ACTS;
  }
  opts.flags = flags;
  rc = mlp_model_load(model, path, &opts);
  free(acts);
  if (rc == MLP_ERR_ACTIVATION && !acts_text &&
      strstr(mlp_last_error(), "names no activations")) {
    tool_error("%s (give them with --activations LIST)", mlp_last_error());
    return TOOL_EXIT_FAILURE;
  }
  return rc == MLP_OK ? TOOL_EXIT_OK : tool_fail(rc);
}

const char *tool_bytes(char *buf, size_t size, double bytes) {
  static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    u++;
  }
  snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}

void tool_pass_opts_init(tool_pass_opts *o) {
  o->batch = 256;
  o->threads = 0;
  o->scale = 1.0;
  o->acts = NULL;
  o->load_flags = 0;
}

int tool_pass_opt(int c, const char *arg, tool_pass_opts *o) {
  switch (c) {
  case 'b':
    return tool_parse_size("--batch", arg, 1, 1u << 24, &o->batch) ? -1 : 1;
  case 't':
    return tool_parse_size("--threads", arg, 1, 1024, &o->threads) ? -1 : 1;
  case 's':
    return tool_parse_double("--scale", arg, &o->scale) ? -1 : 1;
  case 'a':
    o->acts = arg;
    return 1;
  case 'N':
    o->load_flags |= MLP_LOAD_ALLOW_NONFINITE;
    return 1;
  }
  return 0;
}
