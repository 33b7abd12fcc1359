/*
 * workloads.c - reads bench/workloads.json: named network shapes (dims,
 * activations) and their default batch sizes.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static char *file_read(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return NULL;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      char *p = realloc(buf, cap);
      if (!p) {
        free(buf);
        fclose(f);
        fprintf(stderr, "%s: out of memory\n", path);
        return NULL;
      }
      buf = p;
    }
    size_t got = fread(buf + len, 1, 4096, f);
    len += got;
    if (got < 4096)
      break;
  }
  fclose(f);
  buf[len] = '\0';
  return buf;
}

/* Fills a size list from a JSON array of positive integers. */
static int sizes_get(const cJSON *arr, size_t *out, size_t max, size_t *n) {
  if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 ||
      (size_t)cJSON_GetArraySize(arr) > max)
    return -1;
  *n = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, arr) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9)
      return -1;
    out[(*n)++] = (size_t)v->valuedouble;
  }
  return 0;
}

static int workload_parse(const cJSON *o, const size_t *dflt, size_t n_dflt,
                          bench_workload *w, const char *path) {
  snprintf(w->name, sizeof w->name, "%s", o->string);
  size_t nd = 0;
  if (sizes_get(cJSON_GetObjectItemCaseSensitive(o, "dims"), w->widths,
                BENCH_MAX_LAYERS + 1, &nd) ||
      nd < 2) {
    fprintf(stderr, "%s: workload %s: bad \"dims\"\n", path, w->name);
    return -1;
  }
  w->n_layers = nd - 1;
  const cJSON *acts = cJSON_GetObjectItemCaseSensitive(o, "activations");
  if (!cJSON_IsArray(acts) || (size_t)cJSON_GetArraySize(acts) != w->n_layers) {
    fprintf(stderr, "%s: workload %s: need %zu activations\n", path, w->name,
            w->n_layers);
    return -1;
  }
  size_t k = 0;
  const cJSON *a;
  cJSON_ArrayForEach(a, acts) {
    if (!cJSON_IsString(a) || mlp_act_parse(a->valuestring, &w->acts[k])) {
      fprintf(stderr, "%s: workload %s: unknown activation %s\n", path, w->name,
              cJSON_IsString(a) ? a->valuestring : "(not text)");
      return -1;
    }
    k++;
  }
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "batches");
  if (b) {
    if (sizes_get(b, w->batches, BENCH_MAX_LIST, &w->n_batches)) {
      fprintf(stderr, "%s: workload %s: bad \"batches\"\n", path, w->name);
      return -1;
    }
  } else {
    memcpy(w->batches, dflt, n_dflt * sizeof *dflt);
    w->n_batches = n_dflt;
  }
  return 0;
}

int bench_workloads_load(const char *path, bench_workloads *out) {
  memset(out, 0, sizeof *out);
  char *text = file_read(path);
  if (!text)
    return -1;
  cJSON *root = cJSON_Parse(text);
  free(text);
  if (!root) {
    fprintf(stderr, "%s: not valid JSON\n", path);
    return -1;
  }
  int rc = -1;
  size_t dflt[BENCH_MAX_LIST] = {1, 32, 256, 4096}, n_dflt = 4;
  const cJSON *db = cJSON_GetObjectItemCaseSensitive(root, "default_batches");
  const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
  const cJSON *wls = cJSON_GetObjectItemCaseSensitive(root, "workloads");
  if (db && sizes_get(db, dflt, BENCH_MAX_LIST, &n_dflt)) {
    fprintf(stderr, "%s: bad \"default_batches\"\n", path);
    goto done;
  }
  if (!cJSON_IsObject(wls) || cJSON_GetArraySize(wls) < 1) {
    fprintf(stderr, "%s: no \"workloads\" object\n", path);
    goto done;
  }
  out->seed = cJSON_IsNumber(seed) ? (uint64_t)seed->valuedouble : 1;
  out->items = calloc((size_t)cJSON_GetArraySize(wls), sizeof *out->items);
  if (!out->items) {
    fprintf(stderr, "%s: out of memory\n", path);
    goto done;
  }
  const cJSON *o;
  cJSON_ArrayForEach(o, wls) {
    if (workload_parse(o, dflt, n_dflt, &out->items[out->count], path))
      goto done;
    out->count++;
  }
  rc = 0;
done:
  cJSON_Delete(root);
  if (rc)
    bench_workloads_free(out);
  return rc;
}

void bench_workloads_free(bench_workloads *w) {
  free(w->items);
  w->items = NULL;
  w->count = 0;
}

const bench_workload *bench_workloads_find(const bench_workloads *w,
                                           const char *name) {
  for (size_t i = 0; i < w->count; i++)
    if (!strcmp(w->items[i].name, name))
      return &w->items[i];
  return NULL;
}
