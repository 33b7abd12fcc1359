/*
 * report.c - mlp-bench's three outputs: the human-readable table, the
 * JSON document (schema in docs/benchmarks.md) and the SVG chart.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define SCHEMA "mlp-bench/1"

/* 3 significant digits with k, M, G suffixes: 12.3k */
static const char *fmt_si(double v, char *buf, size_t n) {
  static const char *const suffix[] = {"", "k", "M", "G", "T"};
  int s = 0;
  while (fabs(v) >= 999.5 && s < 4) {
    v /= 1000;
    s++;
  }
  int dec = fabs(v) >= 99.95 ? 0 : fabs(v) >= 9.995 ? 1 : 2;
  char num[32];
  snprintf(num, sizeof num, "%.*f", dec, v);
  if (strchr(num, '.')) { /* 10.0 -> 10, 2.50 -> 2.5 */
    char *e = num + strlen(num) - 1;
    while (*e == '0')
      *e-- = '\0';
    if (*e == '.')
      *e = '\0';
  }
  snprintf(buf, n, "%s%s", num, suffix[s]);
  return buf;
}

static const char *fmt_time(double sec, char *buf, size_t n) {
  if (sec < 1e-6)
    snprintf(buf, n, "%.0f ns", sec * 1e9);
  else if (sec < 1e-3)
    snprintf(buf, n, "%.3g us", sec * 1e6);
  else if (sec < 1)
    snprintf(buf, n, "%.3g ms", sec * 1e3);
  else
    snprintf(buf, n, "%.3g s", sec);
  return buf;
}

static const char *fmt_bytes(double b, char *buf, size_t n) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1023.5 && u < 4) {
    b /= 1024;
    u++;
  }
  snprintf(buf, n, u ? "%.3g %s" : "%.0f %s", b, unit[u]);
  return buf;
}

static void print_header(FILE *to, const bench_env *e) {
  const mlp_blas_info *b = &e->blas;
  fprintf(to,
          "libmlp %s, %s, %d x %d timed repetitions of >= %.2g s "
          "per cell after a warm-up\n",
          mlp_version(), mlp_dtype_name(e->dtype), e->passes, e->reps,
          e->min_time);
  fprintf(to, "CPU: %s, %ld cores online", e->cpu[0] ? e->cpu : "?", e->cores);
  if (e->peak > 0)
    fprintf(to, "; FP32 peak %.1f GFLOPS per core (measured, %s FMA loop)",
            e->peak, e->peak_isa[0] ? e->peak_isa : "given");
  fprintf(to, "\nBLAS: %s %s, core %s, %d threads by default; kernels %s\n",
          b->vendor, b->version, b->core[0] ? b->core : "?", b->threads,
          e->kernels);
  if (b->config[0])
    fprintf(to, "BLAS config: %s\n", b->config);
  fprintf(to, "GEMM floor: %s\n",
          strcmp(bench_floor_provider_name(), "dnnl")
              ? "CBLAS sgemm/dgemm (gemv at batch 1)"
              : "oneDNN dnnl_sgemm (CBLAS gemv at batch 1, dgemm)");
  fprintf(to, "Threads: %s\n",
          e->ctx_threads ? "the context's (mlp_ctx_set_threads), each block "
                           "on a 1-thread BLAS; the floor on a T-thread BLAS"
                         : "the BLAS's alone (--blas-threads)");
  if (b->slow_core)
    fprintf(to, "WARNING: generic BLAS core; fix: OPENBLAS_CORETYPE=%s\n",
            b->suggested_core);
}

void bench_print_table(const bench_env *e, const bench_cell *cells, size_t n) {
  print_header(stdout, e);
  printf("\n%-8s %6s %3s %9s %19s %9s %9s %7s %5s %9s %6s %10s %10s\n",
         "workload", "batch", "thr", "samples/s", "[min .. max]", "p50 lat",
         "p95 lat", "GFLOPS", "peak", "floor s/s", "/floor", "workspace",
         "peak RSS");
  for (size_t i = 0; i < n; i++) {
    const bench_cell *c = &cells[i];
    char a[32], b[32], d[32], l1[32], l2[32], f[32], w[32], r[32], mm[80];
    char peak[16] = "-";
    if (c->peak_share > 0)
      snprintf(peak, sizeof peak, "%.0f%%", 100 * c->peak_share);
    snprintf(mm, sizeof mm, "[%s .. %s]", fmt_si(c->sps_min, b, 32),
             fmt_si(c->sps_max, d, 32));
    printf("%-8s %6zu %3d %9s %19s %9s %9s %7.1f %5s %9s %6.2f %10s %10s\n",
           c->wl->name, c->batch, c->threads, fmt_si(c->sps_med, a, 32), mm,
           fmt_time(c->lat_p50, l1, 32), fmt_time(c->lat_p95, l2, 32),
           c->gflops, peak, fmt_si(c->floor_sps_med, f, 32), c->ratio,
           fmt_bytes((double)c->workspace, w, 32),
           fmt_bytes((double)c->peak_rss, r, 32));
  }
  printf("\nsamples/s: median over repetitions; floor: the same layers' "
         "BLAS calls alone (gemv at batch 1, else gemm),\ntimed in the same "
         "repetitions; /floor = forward time / floor time (1.00 = no "
         "overhead); peak = GFLOPS /\n(threads x per-core peak); peak RSS: "
         "%s.\n",
         n && cells[0].rss_per_cell ? "high-water mark during the cell"
                                    : "process high-water mark so far");
}

static void json_add_blas(cJSON *root, const mlp_blas_info *b) {
  cJSON *o = cJSON_AddObjectToObject(root, "blas");
  cJSON_AddStringToObject(o, "vendor", b->vendor);
  cJSON_AddStringToObject(o, "version", b->version);
  cJSON_AddStringToObject(o, "config", b->config);
  cJSON_AddStringToObject(o, "core", b->core);
  cJSON_AddNumberToObject(o, "threads", b->threads);
  cJSON_AddBoolToObject(o, "slow_core", b->slow_core);
  cJSON_AddStringToObject(o, "suggested_core", b->suggested_core);
}

static cJSON *json_cell(const bench_cell *c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "workload", c->wl->name);
  cJSON *dims = cJSON_AddArrayToObject(o, "dims");
  for (size_t k = 0; k <= c->wl->n_layers; k++)
    cJSON_AddItemToArray(dims, cJSON_CreateNumber((double)c->wl->widths[k]));
  cJSON *acts = cJSON_AddArrayToObject(o, "activations");
  for (size_t k = 0; k < c->wl->n_layers; k++)
    cJSON_AddItemToArray(acts,
                         cJSON_CreateString(mlp_act_name(c->wl->acts[k])));
  cJSON_AddNumberToObject(o, "batch", (double)c->batch);
  cJSON_AddNumberToObject(o, "threads", c->threads);
  cJSON_AddNumberToObject(o, "reps", c->reps);
  cJSON_AddNumberToObject(o, "samples_per_s", c->sps_med);
  cJSON_AddNumberToObject(o, "samples_per_s_min", c->sps_min);
  cJSON_AddNumberToObject(o, "samples_per_s_max", c->sps_max);
  cJSON_AddNumberToObject(o, "latency_p50_s", c->lat_p50);
  cJSON_AddNumberToObject(o, "latency_p95_s", c->lat_p95);
  cJSON_AddNumberToObject(o, "gflops", c->gflops);
  if (c->peak_share > 0)
    cJSON_AddNumberToObject(o, "peak_share", c->peak_share);
  else
    cJSON_AddNullToObject(o, "peak_share");
  cJSON_AddStringToObject(o, "floor_kind", c->floor_kind);
  cJSON_AddNumberToObject(o, "floor_samples_per_s", c->floor_sps_med);
  cJSON_AddNumberToObject(o, "floor_samples_per_s_min", c->floor_sps_min);
  cJSON_AddNumberToObject(o, "floor_samples_per_s_max", c->floor_sps_max);
  cJSON_AddNumberToObject(o, "floor_gflops", c->floor_gflops);
  cJSON_AddNumberToObject(o, "forward_over_floor", c->ratio);
  cJSON_AddNumberToObject(o, "workspace_bytes", (double)c->workspace);
  cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)c->peak_rss);
  cJSON_AddBoolToObject(o, "peak_rss_per_cell", c->rss_per_cell);
  return o;
}

void bench_print_json(const bench_env *e, const bench_cell *cells, size_t n) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "schema", SCHEMA);
  cJSON_AddStringToObject(root, "libmlp_version", mlp_version());
  cJSON_AddStringToObject(root, "dtype", mlp_dtype_name(e->dtype));
  cJSON *m = cJSON_AddObjectToObject(root, "machine");
  cJSON_AddStringToObject(m, "cpu", e->cpu);
  cJSON_AddNumberToObject(m, "cores_online", (double)e->cores);
  if (e->peak > 0)
    cJSON_AddNumberToObject(m, "fp32_peak_gflops_per_core", e->peak);
  else
    cJSON_AddNullToObject(m, "fp32_peak_gflops_per_core");
  cJSON_AddStringToObject(m, "peak_isa", e->peak_isa);
  json_add_blas(root, &e->blas);
  cJSON_AddStringToObject(root, "kernels", e->kernels);
  cJSON_AddStringToObject(root, "floor_provider", bench_floor_provider_name());
  cJSON_AddStringToObject(root, "threading",
                          e->ctx_threads ? "context" : "blas");
  cJSON *t = cJSON_AddObjectToObject(root, "timing");
  cJSON_AddNumberToObject(t, "min_time_s", e->min_time);
  cJSON_AddNumberToObject(t, "reps", e->reps);
  cJSON_AddNumberToObject(t, "passes", e->passes);
  cJSON *arr = cJSON_AddArrayToObject(root, "cells");
  for (size_t i = 0; i < n; i++)
    cJSON_AddItemToArray(arr, json_cell(&cells[i]));
  char *s = cJSON_Print(root);
  if (s)
    puts(s);
  else
    fprintf(stderr, "mlp-bench: out of memory printing JSON\n");
  free(s);
  cJSON_Delete(root);
}

/* ------------------------------------------------------------------------
 * SVG: one panel per workload, samples/s (log) against batch (log), one
 * colour per thread count; forward solid with its min..max range, the
 * GEMM floor dashed.
 */

#define PW 520 /* panel width and height */
#define PH 360
#define ML 70 /* plot margins inside a panel */
#define MR 20
#define MT 50
#define MB 50

static const char *const colour[] = {"#1f77b4", "#d62728", "#2ca02c",
                                     "#9467bd", "#ff7f0e", "#8c564b"};

typedef struct axis {
  double lo, hi; /* log10 range */
} axis;

static double ax_map(const axis *a, double v, double px0, double px1) {
  double t = a->hi > a->lo ? (log10(v) - a->lo) / (a->hi - a->lo) : 0.5;
  return px0 + t * (px1 - px0);
}

static void svg_text(FILE *f, double x, double y, const char *anchor, int size,
                     const char *text) {
  fprintf(f,
          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
          "font-size=\"%d\">",
          x, y, anchor, size);
  for (const char *p = text; *p; p++) {
    if (*p == '<')
      fputs("&lt;", f);
    else if (*p == '>')
      fputs("&gt;", f);
    else if (*p == '&')
      fputs("&amp;", f);
    else
      fputc(*p, f);
  }
  fputs("</text>\n", f);
}

static void svg_panel(FILE *f, double ox, double oy, const bench_cell *cells,
                      size_t n, const bench_workload *wl, const int *thr,
                      size_t n_thr) {
  double bmin = 1e300, bmax = 0, ymin = 1e300, ymax = 0;
  size_t used = 0;
  for (size_t i = 0; i < n; i++) {
    const bench_cell *c = &cells[i];
    if (c->wl != wl)
      continue;
    used++;
    bmin = fmin(bmin, (double)c->batch);
    bmax = fmax(bmax, (double)c->batch);
    ymin = fmin(ymin, fmin(c->sps_min, c->floor_sps_med));
    ymax = fmax(ymax, fmax(c->sps_max, c->floor_sps_med));
  }
  if (used == 0 || bmax <= 0 || ymax <= 0)
    return; /* nothing measured to draw */
  axis ax = {log10(bmin) - 0.15, log10(bmax) + 0.15};
  axis ay = {floor(log10(ymin) * 4) / 4, ceil(log10(ymax) * 4) / 4};
  if (ay.hi - ay.lo < 0.5)
    ay.hi = ay.lo + 0.5;
  double x0 = ox + ML, x1 = ox + PW - MR, y0 = oy + PH - MB, y1 = oy + MT;
  char buf[64], lab[96];

  fprintf(f,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
          "fill=\"white\" stroke=\"#999\"/>\n",
          x0, y1, x1 - x0, y0 - y1);
  snprintf(lab, sizeof lab, "%s (", wl->name);
  for (size_t k = 0; k <= wl->n_layers && strlen(lab) < 70; k++) {
    snprintf(buf, sizeof buf, "%s%zu", k ? "-" : "", wl->widths[k]);
    strncat(lab, buf, sizeof lab - strlen(lab) - 2);
  }
  strcat(lab, ")");
  svg_text(f, ox + PW / 2.0, oy + 22, "middle", 15, lab);

  /* y grid: 1, 2, 5 per decade */
  for (int d = (int)floor(ay.lo); d <= (int)ceil(ay.hi); d++) {
    static const double m[] = {1, 2, 5};
    for (int j = 0; j < 3; j++) {
      double v = m[j] * pow(10, d);
      if (log10(v) < ay.lo - 1e-9 || log10(v) > ay.hi + 1e-9)
        continue;
      double y = ax_map(&ay, v, y0, y1);
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
              "stroke=\"%s\"/>\n",
              x0, y, x1, y, j ? "#eee" : "#ccc");
      svg_text(f, x0 - 6, y + 4, "end", 11, fmt_si(v, buf, sizeof buf));
    }
  }
  /* x ticks at the measured batch sizes */
  for (size_t i = 0; i < n; i++) {
    if (cells[i].wl != wl || (i > 0 && cells[i - 1].wl == wl &&
                              cells[i - 1].batch == cells[i].batch))
      continue;
    double x = ax_map(&ax, (double)cells[i].batch, x0, x1);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#eee\"/>\n",
            x, y0, x, y1);
    snprintf(buf, sizeof buf, "%zu", cells[i].batch);
    svg_text(f, x, y0 + 16, "middle", 11, buf);
  }
  svg_text(f, (x0 + x1) / 2, y0 + 36, "middle", 12, "batch size (rows)");
  fprintf(f,
          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
          "font-size=\"12\" transform=\"rotate(-90 %.1f %.1f)\">"
          "samples/s</text>\n",
          ox + 16, (y0 + y1) / 2, ox + 16, (y0 + y1) / 2);

  for (size_t t = 0; t < n_thr; t++) {
    const char *col = colour[t % 6];
    for (int floor_line = 1; floor_line >= 0; floor_line--) {
      fprintf(f,
              "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\""
              "%s points=\"",
              col, floor_line ? "1.5" : "2.5",
              floor_line ? " stroke-dasharray=\"6 4\"" : "");
      for (size_t i = 0; i < n; i++) {
        const bench_cell *c = &cells[i];
        if (c->wl != wl || c->threads != thr[t])
          continue;
        fprintf(
            f, "%.1f,%.1f ", ax_map(&ax, (double)c->batch, x0, x1),
            ax_map(&ay, floor_line ? c->floor_sps_med : c->sps_med, y0, y1));
      }
      fputs("\"/>\n", f);
    }
    for (size_t i = 0; i < n; i++) {
      const bench_cell *c = &cells[i];
      if (c->wl != wl || c->threads != thr[t])
        continue;
      double x = ax_map(&ax, (double)c->batch, x0, x1);
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
              "stroke=\"%s\" stroke-width=\"1.5\"/>\n",
              x, ax_map(&ay, c->sps_min, y0, y1), x,
              ax_map(&ay, c->sps_max, y0, y1), col);
      fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n", x,
              ax_map(&ay, c->sps_med, y0, y1), col);
      fprintf(f,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" "
              "fill=\"white\" stroke=\"%s\"/>\n",
              x - 3.5, ax_map(&ay, c->floor_sps_med, y0, y1) - 3.5, col);
      /* forward/floor time ratio next to the point */
      snprintf(buf, sizeof buf, "%.2f", c->ratio);
      fprintf(f,
              "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
              "fill=\"%s\">%s</text>\n",
              x + 6, ax_map(&ay, c->sps_med, y0, y1) + (t % 2 ? 14 : -6), col,
              buf);
    }
  }
}

int bench_write_svg(const char *path, const bench_env *e,
                    const bench_cell *cells, size_t n) {
  const bench_workload *wls[BENCH_MAX_LIST];
  int thr[BENCH_MAX_LIST];
  size_t n_wl = 0, n_thr = 0;
  for (size_t i = 0; i < n; i++) {
    if (n_wl == 0 || wls[n_wl - 1] != cells[i].wl)
      if (n_wl < BENCH_MAX_LIST)
        wls[n_wl++] = cells[i].wl;
    size_t t = 0;
    while (t < n_thr && thr[t] != cells[i].threads)
      t++;
    if (t == n_thr && n_thr < BENCH_MAX_LIST)
      thr[n_thr++] = cells[i].threads;
  }
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cols = n_wl > 1 ? 2 : 1, rows = (n_wl + cols - 1) / cols;
  double w = (double)(cols * PW), h = (double)(rows * PH) + 110;
  fprintf(f,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
          "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
          "font-family=\"sans-serif\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"#fafafa\"/>\n",
          w, h, w, h);
  char title[512];
  snprintf(title, sizeof title,
           "libmlp %s forward pass (%s) vs GEMM floor: %s %s core %s",
           mlp_version(), mlp_dtype_name(e->dtype), e->blas.vendor,
           e->blas.version, e->blas.core);
  svg_text(f, w / 2, 24, "middle", 16, title);
  snprintf(title, sizeof title,
           "%s, kernels %s, median of %d runs of "
           ">= %.2g s; bars: min..max; labels: forward time / floor time",
           e->cpu, e->kernels, e->reps * e->passes, e->min_time);
  svg_text(f, w / 2, 44, "middle", 11, title);
  for (size_t i = 0; i < n_wl; i++) {
    const size_t col = i % cols, row = i / cols; /* panels on a grid */
    svg_panel(f, (double)col * PW, 50 + (double)row * PH, cells, n, wls[i], thr,
              n_thr);
  }

  /* legend */
  double ly = 50 + (double)rows * PH + 20, lx = 20;
  for (size_t t = 0; t < n_thr; t++) {
    char lab[64];
    const char *col = colour[t % 6];
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"%s\" stroke-width=\"2.5\"/>\n"
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n",
            lx, ly, lx + 30, ly, col, lx + 15, ly, col);
    snprintf(lab, sizeof lab, "libmlp, %d thread%s", thr[t],
             thr[t] == 1 ? "" : "s");
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%s</text>\n",
            lx + 36, ly + 4, lab);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"%s\" stroke-width=\"1.5\" "
            "stroke-dasharray=\"6 4\"/>\n"
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" "
            "fill=\"white\" stroke=\"%s\"/>\n",
            lx, ly + 22, lx + 30, ly + 22, col, lx + 11.5, ly + 18.5, col);
    snprintf(lab, sizeof lab, "GEMM floor, %d thread%s", thr[t],
             thr[t] == 1 ? "" : "s");
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">%s</text>\n",
            lx + 36, ly + 26, lab);
    lx += 200;
  }
  fputs("</svg>\n", f);
  if (fclose(f)) {
    perror(path);
    return -1;
  }
  return 0;
}
