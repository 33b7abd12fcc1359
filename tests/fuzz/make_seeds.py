#!/usr/bin/python3
"""Writes the fuzzers' starting inputs in seeds/<target>/ (standard library
only): small valid files of each format, which libFuzzer then mutates.
Inputs that once crashed a target belong in corpus/<target>/ instead."""
import gzip
import io
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, '..', 'data', 'datasets')


def out(target, name, data):
    d = os.path.join(HERE, 'seeds', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode='wb', mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def safetensors(tensors, metadata):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, body = {}, b''
    if metadata is not None:
        header['__metadata__'] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {'dtype': dtype, 'shape': shape,
                        'data_offsets': [len(body), len(body) + len(raw)]}
        body += raw
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    return struct.pack('<Q', len(h)) + h + body


def f32(n, k=0):
    return struct.pack('<%df' % n, *[((i + k) % 7 - 3) * 0.25
                                     for i in range(n)])


def main():
    shutil.rmtree(os.path.join(HERE, 'seeds'), ignore_errors=True)
    for name in ['f4.npy', 'u1.npy', 'i2_be.npy', 'f2.npy', 'f4_v3.npy',
                 'labels_i8.npy', 'empty.npy']:
        with open(os.path.join(DATA, 'npy', name), 'rb') as f:
            out('npy', name, f.read())
    with open(os.path.join(DATA, 'npy', 'f4_v2.npy'), 'rb') as f:
        out('npy', 'f4_v2.npy.gz', gz(f.read()))
    for name in ['u1.idx', 'i4.idx', 'f8.idx', 'u1.idx.gz']:
        with open(os.path.join(DATA, 'idx', name), 'rb') as f:
            out('idx', name, f.read())
    out('idx', 'labels.idx', bytes([0, 0, 8, 1, 0, 0, 0, 4, 3, 1, 4, 1]))
    with open(os.path.join(DATA, 'csv', 'small.csv'), 'rb') as f:
        small = f.read()
    out('csv', 'small.csv', small)
    out('csv', 'small.csv.gz', gz(small))
    out('csv', 'plain.csv', '1,2,3\n4,5,6\n')
    out('csv', 'header.csv', 'a;b;label\n0.5;-1e3;2\n"7";8;0\n')
    out('csv', 'tabs.csv', 'x\ty\n1\t2\n\n3\t4')
    out('csv', 'labels.csv', '3\n1\n4\n1\n5\n')

    conv = [('layers.0.weight', 'F32', [3, 4], f32(12)),
            ('layers.0.bias', 'F32', [3], f32(3, 1)),
            ('layers.1.weight', 'F32', [2, 3], f32(6, 2)),
            ('layers.1.bias', 'F32', [2], f32(2, 3))]
    out('safetensors', 'convention.safetensors',
        safetensors(conv, {'activations': 'relu,softmax'}))
    out('safetensors', 'leaky.safetensors',
        safetensors(conv, {'activations': 'leaky_relu:0.2,sigmoid'}))
    seq = [('0.weight', 'F16', [3, 4], struct.pack('<12e', *[0.5] * 12)),
           ('0.bias', 'BF16', [3], b'\x80\x3f' * 3),
           ('2.weight', 'F64', [2, 3], struct.pack('<6d', *range(6))),
           ('2.bias', 'F64', [2], struct.pack('<2d', 1, -1))]
    out('safetensors', 'sequential.safetensors', safetensors(seq, None))


if __name__ == '__main__':
    main()
