/*
 * fuzz_dataset.h - the body the dataset fuzz targets share: the input
 * becomes an in-memory file (memfd), which is opened with a forced
 * format and read every way the API allows: whole, in batches, as labels,
 * after seeks. Any status is fine; a crash, a leak or a sanitizer report
 * is a bug.
 */
#ifndef MLP_FUZZ_DATASET_H
#define MLP_FUZZ_DATASET_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data to a fresh memfd; returns its descriptor, path in path. */
static int fuzz_memfd(const uint8_t *data, size_t size, char *path,
                      size_t cap) {
  int fd = memfd_create("mlp-fuzz", MFD_CLOEXEC);
  size_t done = 0;
  if (fd < 0)
    abort(); /* the harness itself is broken */
  while (done < size) {
    ssize_t w = write(fd, data + done, size - done);
    if (w <= 0)
      abort();
    done += (size_t)w;
  }
  snprintf(path, cap, "/proc/self/fd/%d", fd);
  return fd;
}

static void fuzz_dataset(const uint8_t *data, size_t size, mlp_format format) {
  char path[64];
  int fd = fuzz_memfd(data, size, path, sizeof path);
  mlp_dataset_options o;
  mlp_dataset *ds;

  mlp_dataset_options_init(&o);
  o.format = format;
  /* The first byte picks the options the parser sees. */
  if (size > 0) {
    o.dtype = data[0] & 1 ? MLP_F64 : MLP_F32;
    o.csv_label_column = (long)((data[0] >> 1) & 3) - 2;
    o.csv_header = (mlp_csv_header)((data[0] >> 3) % 3);
    o.scale = data[0] & 0x20 ? 1.0 / 255 : 1.0;
  }
  if (mlp_dataset_open(&ds, path, &o) == MLP_OK) {
    size_t rows = mlp_dataset_rows(ds), cols = mlp_dataset_cols(ds), n;
    size_t batch = cols == 0 ? 16 : cols > 4096 ? 1 : 4096 / cols;
    int32_t labels[16];
    void *x = NULL;
    if (batch > 16)
      batch = 16;
    /* A gzip file's header is only checked against its data as it is
     * read, so cols may be huge here: bound the buffer first. */
    if (cols <= ((size_t)1 << 20))
      x = malloc((cols ? cols : 1) * 8 * batch);
    if (x != NULL) {
      /* Reads are bounded: a gzip header may claim 2^40 rows. */
      for (int k = 0; k < 256; k++)
        if (mlp_dataset_read(ds, x, batch, labels, &n) != MLP_OK || n == 0)
          break;
      mlp_dataset_seek(ds, rows / 2);
      mlp_dataset_read(ds, x, 1, labels, &n);
      mlp_dataset_seek(ds, rows);
      mlp_dataset_read(ds, x, 1, labels, &n);
      mlp_dataset_rewind(ds);
      for (int k = 0; k < 256; k++)
        if (mlp_dataset_read(ds, NULL, 7, NULL, &n) != MLP_OK || n == 0)
          break;
    }
    free(x);
    mlp_dataset_rewind(ds);
    for (int k = 0; k < 256; k++)
      if (mlp_dataset_read_labels(ds, labels, 16, &n) != MLP_OK || n == 0)
        break;
    mlp_dataset_close(ds);
  }
  close(fd);
}

#endif /* MLP_FUZZ_DATASET_H */
