#!/usr/bin/python3
"""Writes the dataset test fixtures in this directory (run from anywhere).

numpy writes the .npy files, so that the reader is checked against an
independent writer; the IDX files are packed by hand with struct. Every
array holds value(i) at flat index i (see value() below and tests/io_util.h,
which computes the same numbers), so a test needs no copy of the data.
"""
import gzip
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPE = (5, 3, 2)  # 5 rows of 6 columns


def value(i, kind):
    """The element at flat index i for a dtype kind ('b', 'u', 'i', 'f')."""
    if kind == 'b':
        return 1 if i % 3 == 0 else 0
    if kind == 'u':
        return (i * 7) % 23
    if kind == 'i':
        return (i * 7) % 23 - 11
    return ((i * 7) % 23 - 11) * 0.25


def array(dtype):
    dt = np.dtype(dtype)
    n = int(np.prod(SHAPE))
    return np.array([value(i, dt.kind) for i in range(n)],
                    dtype=dt).reshape(SHAPE)


def save(name, arr, version=None):
    path = os.path.join(HERE, 'npy', name)
    with open(path, 'wb') as f:
        np.lib.format.write_array(f, arr, version=version)


def gz(src, dst):
    with open(src, 'rb') as f, open(dst, 'wb') as out:
        with gzip.GzipFile(fileobj=out, mode='wb', mtime=0) as g:
            g.write(f.read())


def main():
    os.makedirs(os.path.join(HERE, 'npy'), exist_ok=True)
    os.makedirs(os.path.join(HERE, 'idx'), exist_ok=True)
    for t in ['b1', 'u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8',
              'f2', 'f4', 'f8']:
        orders = ['|'] if t[1] == '1' else ['<', '>']
        for o in orders:
            name = t + ('_be' if o == '>' else '')
            save(name + '.npy', array(o + t if o != '|' else t))
    for v in [(1, 0), (2, 0), (3, 0)]:
        save('f4_v%d.npy' % v[0], array('<f4'), version=v)
    gz(os.path.join(HERE, 'npy', 'f8_be.npy'),
       os.path.join(HERE, 'npy', 'f8_be.npy.gz'))
    # 1-D labels and an empty (0, 4) array.
    save('labels_i8.npy', np.array([3, 0, 9, 1, 1], dtype='<i8'))
    save('labels_f4.npy', np.array([3, 0, 9, 1, 1], dtype='<f4'))
    save('labels_bad.npy', np.array([3, 0, -1, 1], dtype='<i4'))
    save('empty.npy', np.zeros((0, 4), dtype='<f4'))

    # CSV: a header, a label column in the middle, CRLF line ends, a
    # quoted field, a blank line; and the same gzip-compressed.
    os.makedirs(os.path.join(HERE, 'csv'), exist_ok=True)
    text = 'a, label ,b\r\n1.5,2,-3\r\n\r\n"4",0, 5e-1\r\n7,1,8\r\n'
    path = os.path.join(HERE, 'csv', 'small.csv')
    with open(path, 'w', newline='') as f:
        f.write(text)
    gz(path, path + '.gz')
    # Two lines of 300000 fields: longer than the first gzip line buffer.
    line = ','.join(str(j % 10) for j in range(300000)) + '\n'
    with open(os.path.join(HERE, 'csv', 'wide.csv.gz'), 'wb') as out:
        with gzip.GzipFile(fileobj=out, mode='wb', mtime=0) as g:
            g.write((line + line).encode())

    codes = {'u1': 0x08, 'i1': 0x09, 'i2': 0x0B, 'i4': 0x0C, 'f4': 0x0D,
             'f8': 0x0E}
    for t, code in codes.items():
        arr = array('>' + t if t[1] != '1' else t)
        data = struct.pack('>BBBB', 0, 0, code, len(SHAPE))
        data += b''.join(struct.pack('>I', d) for d in SHAPE)
        data += arr.astype(arr.dtype.newbyteorder('>')).tobytes()
        path = os.path.join(HERE, 'idx', t + '.idx')
        with open(path, 'wb') as f:
            f.write(data)
        gz(path, path + '.gz')


if __name__ == '__main__':
    main()
