/*
 * util.h - what the commands of the mlp program share: exit codes, error
 * lines, argument parsing, the progress bar, Ctrl-C handling and the
 * OpenBLAS core fix. Built on the public header only, so bench programs
 * and tools/cmd_train.c can use it as well.
 */
#ifndef MLP_TOOL_UTIL_H
#define MLP_TOOL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <mlp.h>

/* Exit codes of every command (docs/mlp.1.scd lists them). */
enum {
  TOOL_EXIT_OK = 0,           /* success */
  TOOL_EXIT_FAILURE = 1,      /* a file, model or data error */
  TOOL_EXIT_USAGE = 2,        /* bad command line */
  TOOL_EXIT_INTERRUPTED = 130 /* stopped by SIGINT or SIGTERM */
};

/* The name errors are prefixed with ("mlp run"); set by each command. */
void tool_set_name(const char *name);
const char *tool_name(void);

/* Prints "<name>: <message>\n" on stderr: one line, always. */
void tool_error(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* The same for a failed library call: "<name>: <mlp_last_error()>", or
 * the status's description when the library left no message. Returns
 * TOOL_EXIT_FAILURE, or TOOL_EXIT_INTERRUPTED for MLP_ERR_INTERRUPTED. */
int tool_fail(int status);

/*
 * Argument parsing helpers. Each returns 0 on success; on failure it
 * prints one line naming the option (via tool_error) and returns -1.
 */
/* After getopt_long returned '?' or ':' (optstring must start with ':'
 * and opterr be 0): prints one line naming the bad option and pointing to
 * --help; returns TOOL_EXIT_USAGE. */
int tool_bad_option(int c, char **argv);

/* A decimal integer in [min, max]. */
int tool_parse_size(const char *opt, const char *text, size_t min, size_t max,
                    size_t *out);
/* A finite number; "a/b" is accepted as a fraction ("1/255"). */
int tool_parse_double(const char *opt, const char *text, double *out);
/* A comma-separated list of positive integers ("784,256,10"); *list is
 * malloc'ed (free it). */
int tool_parse_sizes(const char *opt, const char *text, size_t **list,
                     size_t *count);
/* A comma-separated list of activation names; *list is malloc'ed. */
int tool_parse_acts(const char *opt, const char *text, mlp_act **list,
                    size_t *count);
/* "f32" or "f64". */
int tool_parse_dtype(const char *opt, const char *text, mlp_dtype *out);

/*
 * The options of a pass over a dataset that run and eval share: --batch
 * ('b'), --threads ('t'), --scale ('s'), --activations ('a') and
 * --allow-nonfinite ('N').
 */
typedef struct tool_pass_opts {
  size_t batch;        /* rows per forward pass (256) */
  size_t threads;      /* BLAS threads; 0: the BLAS's own choice */
  double scale;        /* factor for integer inputs (1) */
  const char *acts;    /* activations for files that name none, or NULL */
  unsigned load_flags; /* MLP_LOAD_ALLOW_NONFINITE or 0 */
} tool_pass_opts;
void tool_pass_opts_init(tool_pass_opts *o);
/* Takes getopt's option c and its argument: 1 when it is one of the shared
 * options, 0 when it is not, -1 after printing the error of a bad value. */
int tool_pass_opt(int c, const char *arg, tool_pass_opts *o);

/*
 * Loads the model file at path. acts_text (NULL: none) is a comma list of
 * activations used when the file names none; flags are MLP_LOAD_* (with
 * MLP_LOAD_OVERRIDE_ACTS the list replaces the file's). Prints the error
 * line itself; returns 0 or the exit code.
 */
int tool_load_model(const char *path, const char *acts_text, unsigned flags,
                    mlp_model **model);

/* Human-readable bytes ("1.5 MiB") into buf. */
const char *tool_bytes(char *buf, size_t size, double bytes);

/*
 * Progress bar on stderr, drawn only when stderr is a terminal and at
 * most ten times a second. total is the number of rows (0: unknown).
 */
typedef struct tool_progress {
  const char *label;
  size_t total, done;
  int enabled;
  double started, last_drawn;
} tool_progress;
void tool_progress_start(tool_progress *p, const char *label, size_t total);
void tool_progress_add(tool_progress *p, size_t rows);
/* Clears the bar's line (call before printing results or errors). */
void tool_progress_end(tool_progress *p);

/* Seconds since an arbitrary start (a monotonic clock). */
double tool_now(void);

/*
 * SIGINT and SIGTERM: the first one sets a flag the commands poll between
 * batches (then they remove their temporary output and exit 130), and
 * removes the registered temporary file at once; a second one kills the
 * program with the signal's default action.
 */
void tool_signals_install(void);
int tool_interrupted(void);
/* The temporary output to remove on a signal (NULL: none). The string
 * must stay valid until replaced. */
void tool_signals_temp_path(const char *path);

/*
 * The OpenBLAS core fix. OpenBLAS 0.3.21 picks the generic "Prescott" core
 * on CPUs it does not know and then runs several times slower. When
 * mlp_blas_info_get() reports slow_core, OPENBLAS_CORETYPE is unset and
 * MLP_NO_BLAS_FIX is not "1", this sets OPENBLAS_CORETYPE to the suggested
 * core, prints one line on stderr saying so (and how to disable it), and
 * re-executes the program (/proc/self/exe) with the same argv: OpenBLAS
 * reads the variable only when it loads. Returns only when nothing was
 * done or the exec failed (a notice is printed then too). prog names the
 * program in the notice ("mlp"). Call it first thing in main().
 */
void tool_blas_fix(const char *prog, char **argv);
/* 1 when this process is the re-executed one (tool_blas_fix set the
 * core), for `mlp info` to say so. */
int tool_blas_fixed(void);

#endif /* MLP_TOOL_UTIL_H */
