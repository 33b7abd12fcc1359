/*
 * sys.c - clocks, quantiles, peak RSS and the CPU's name for mlp-bench.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"

double bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_quantile(double *v, size_t n, double q) {
  if (n == 0)
    return 0.0;
  qsort(v, n, sizeof *v, cmp_double);
  /* linear interpolation between the closest ranks */
  double pos = q * (double)(n - 1);
  size_t i = (size_t)pos;
  if (i + 1 >= n)
    return v[n - 1];
  return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

int bench_rss_reset(void) {
  /* Linux >= 4.0: "5" resets VmHWM to the current RSS. */
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f)
    return 0;
  int ok = fputs("5", f) >= 0;
  ok = (fclose(f) == 0) && ok;
  return ok;
}

size_t bench_peak_rss(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  if (f) {
    while (fgets(line, sizeof line, f)) {
      unsigned long kb;
      if (sscanf(line, "VmHWM: %lu kB", &kb) == 1) {
        fclose(f);
        return (size_t)kb * 1024;
      }
    }
    fclose(f);
  }
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    return (size_t)ru.ru_maxrss * 1024; /* kB on Linux */
  return 0;
}

void bench_cpu_name(char *buf, size_t n) {
  buf[0] = '\0';
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f)
    return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0)
      continue;
    const char *v = strchr(line, ':');
    if (!v)
      break;
    v++;
    while (*v == ' ' || *v == '\t')
      v++;
    snprintf(buf, n, "%s", v);
    buf[strcspn(buf, "\n")] = '\0';
    break;
  }
  fclose(f);
}
