/*
 * status.c - status codes, their names and descriptions, and the per-thread
 * message of the last failure.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MLP__MSG_MAX 512

static _Thread_local char last_message[MLP__MSG_MAX];

static mlp_log_fn log_fn;
static void *log_user;

struct status_entry {
  int status;
  const char *name;
  const char *text;
};

static const struct status_entry statuses[] = {
    {MLP_OK, "MLP_OK", "success"},
    {MLP_ERR_NULL, "MLP_ERR_NULL", "a required pointer is NULL"},
    {MLP_ERR_ARG, "MLP_ERR_ARG", "an argument is out of range"},
    {MLP_ERR_SHAPE, "MLP_ERR_SHAPE", "shapes do not match"},
    {MLP_ERR_OVERFLOW, "MLP_ERR_OVERFLOW", "a size overflows"},
    {MLP_ERR_NOMEM, "MLP_ERR_NOMEM", "out of memory"},
    {MLP_ERR_ACTIVATION, "MLP_ERR_ACTIVATION", "unknown activation"},
    {MLP_ERR_DTYPE, "MLP_ERR_DTYPE", "unknown or mismatched dtype"},
    {MLP_ERR_BATCH, "MLP_ERR_BATCH", "invalid batch size"},
    {MLP_ERR_CONTEXT, "MLP_ERR_CONTEXT", "context belongs to another model"},
    {MLP_ERR_NONFINITE, "MLP_ERR_NONFINITE", "NaN or infinite value"},
    {MLP_ERR_LABEL, "MLP_ERR_LABEL", "class label out of range"},
    {MLP_ERR_LOSS, "MLP_ERR_LOSS", "unknown loss or wrong output layer"},
    {MLP_ERR_STATE, "MLP_ERR_STATE", "call out of order"},
    {MLP_ERR_UNSUPPORTED, "MLP_ERR_UNSUPPORTED", "not supported here"},
    {MLP_ERR_IO, "MLP_ERR_IO", "input/output error"},
    {MLP_ERR_FORMAT, "MLP_ERR_FORMAT", "malformed file"},
    {MLP_ERR_INTERRUPTED, "MLP_ERR_INTERRUPTED", "interrupted"},
};

static const struct status_entry *status_find(int status) {
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
    if (statuses[i].status == status)
      return &statuses[i];
  return NULL;
}

const char *mlp_status_name(int status) {
  const struct status_entry *e = status_find(status);
  return e ? e->name : "MLP_ERR_UNKNOWN";
}

const char *mlp_strerror(int status) {
  const struct status_entry *e = status_find(status);
  return e ? e->text : "unknown status code";
}

const char *mlp_last_error(void) { return last_message; }

void mlp_set_log_callback(mlp_log_fn fn, void *user) {
  log_fn = fn;
  log_user = user;
}

int mlp__fail(int status, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  /* The analyzer of clang 14 misreads va_start here. */
  vsnprintf(last_message, sizeof last_message, fmt, ap); // NOLINT
  va_end(ap);
  if (log_fn)
    log_fn(status, last_message, log_user);
  return status;
}

void mlp__clear_error(void) { last_message[0] = '\0'; }
