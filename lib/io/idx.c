/*
 * idx.c - the IDX format of MNIST and Fashion-MNIST: two zero bytes, a
 * type byte (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64),
 * the number of dimensions, each dimension as a big-endian uint32, then
 * the big-endian data in C order.
 */
#include <string.h>

#include "io.h"

int mlp__idx_open(mlp_dataset *ds) {
  unsigned char magic[4], dim[4];
  size_t count = 1, bytes;
  int st;

  if ((st = mlp__src_read_exact(&ds->src, magic, 4, "the IDX magic")) != MLP_OK)
    return st;
  if (magic[0] != 0 || magic[1] != 0)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: byte 0: not an IDX file (the "
                     "magic must start with two zero bytes)",
                     ds->path);
  switch (magic[2]) {
  case 0x08:
    ds->etype = MLP__U8;
    break;
  case 0x09:
    ds->etype = MLP__I8;
    break;
  case 0x0B:
    ds->etype = MLP__I16;
    break;
  case 0x0C:
    ds->etype = MLP__I32;
    break;
  case 0x0D:
    ds->etype = MLP__F32;
    break;
  case 0x0E:
    ds->etype = MLP__F64;
    break;
  default:
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: byte 2: unknown IDX type code "
                     "0x%02X",
                     ds->path, magic[2]);
  }
  ds->big = 1;
  if (magic[3] == 0)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: byte 3: IDX file with 0 "
                     "dimensions",
                     ds->path);
  if (magic[3] > MLP__MAX_DIMS)
    return mlp__fail(MLP_ERR_FORMAT,
                     "%s: byte 3: %u dimensions (at most "
                     "%d)",
                     ds->path, magic[3], MLP__MAX_DIMS);
  ds->ndim = magic[3];
  for (size_t i = 0; i < ds->ndim; i++) {
    if ((st = mlp__src_read_exact(&ds->src, dim, 4, "an IDX dimension")) !=
        MLP_OK)
      return st;
    uint32_t v = (uint32_t)dim[0] << 24 | (uint32_t)dim[1] << 16 |
                 (uint32_t)dim[2] << 8 | dim[3];
    ds->dims[i] = v;
    if (mlp__mul_overflow(count, v, &count))
      return mlp__fail(MLP_ERR_OVERFLOW,
                       "%s: the IDX dimensions multiply "
                       "beyond size_t",
                       ds->path);
  }
  ds->data_off = 4 + 4 * (uint64_t)ds->ndim;

  /* A plain file must hold the data exactly; a gzip stream is checked as
   * it is read. */
  if (mlp__src_mapped(&ds->src)) {
    if (mlp__mul_overflow(count, mlp__etype_size(ds->etype), &bytes) ||
        mlp__add_overflow(bytes, (size_t)ds->data_off, &bytes))
      return mlp__fail(MLP_ERR_OVERFLOW,
                       "%s: the IDX data size exceeds "
                       "size_t",
                       ds->path);
    if (bytes != ds->src.size)
      return mlp__fail(MLP_ERR_FORMAT,
                       "%s: the IDX header gives %zu bytes "
                       "of data after byte %llu, the file has %zu bytes "
                       "there",
                       ds->path, bytes - (size_t)ds->data_off,
                       (unsigned long long)ds->data_off,
                       ds->src.size - (size_t)ds->data_off);
  }
  return MLP_OK;
}
