#!/usr/bin/python3
"""Writes the malformed dataset corpus in malformed/ and its MANIFEST.

Each MANIFEST line (tab-separated) is: file, options ('-' or k=v[,k=v]),
the call that must fail (open, read, skip: read without buffers, or
labels), the expected status, and
a piece of the expected message. tests/test_dataset.c runs them all.
Needs only the standard library.
"""
import gzip
import io
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'malformed')
CASES = []


def npy(header, data=b'', version=1, magic=b'\x93NUMPY', hlen=None):
    h = header.encode('latin-1')
    if hlen is None:
        hlen = len(h)
    if version == 1:
        pre = magic + bytes([1, 0]) + struct.pack('<H', hlen)
    else:
        pre = magic + bytes([version, 0]) + struct.pack('<I', hlen)
    return pre + h + data


def hdr(descr="'<f4'", order='False', shape='(2, 3)'):
    return "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (
        descr, order, shape)


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode='wb', mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def case(name, data, phase, status, message, options='-'):
    with open(os.path.join(HERE, name), 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    CASES.append((name, options, phase, status, message))


def idx(code, dims, data=b'', ndim=None):
    out = bytes([0, 0, code, len(dims) if ndim is None else ndim])
    return out + b''.join(struct.pack('>I', d) for d in dims) + data


def main():
    os.makedirs(HERE, exist_ok=True)
    for f in os.listdir(HERE):
        os.remove(os.path.join(HERE, f))
    good = b'\0' * 24
    F = 'MLP_ERR_FORMAT'
    O = 'MLP_ERR_OVERFLOW'
    # .npy
    case('bad_magic.npy', npy(hdr(), good, magic=b'\x93NUMPZ'), 'open', F,
         'not a .npy file')
    case('version4.npy', npy(hdr(), good, version=4), 'open', F,
         'version 4.0 is not supported')
    case('short_preamble.npy', b'\x93NUMPY\x01', 'open', F,
         'truncated at byte 0: the .npy preamble')
    case('header_len_huge.npy', npy(hdr(), good, version=2,
                                    hlen=0xFFFFFFFF), 'open', F,
         'exceeds the 65536-byte limit')
    case('header_cut.npy', npy(hdr(), hlen=200), 'open', F,
         'truncated at byte 10: the .npy header needs 200 bytes')
    case('fortran.npy', npy(hdr(order='True'), good), 'open', F,
         'Fortran-order arrays are not supported')
    case('object.npy', npy(hdr(descr="'|O'"), good), 'open', F,
         'object arrays are not supported')
    case('structured.npy', npy(hdr(descr="[('a', '<f4')]"), good), 'open',
         F, 'structured dtypes')
    case('unicode.npy', npy(hdr(descr="'<U4'"), good), 'open', F,
         "dtype '<U4' is not supported")
    case('complex.npy', npy(hdr(descr="'<c8'"), good), 'open', F,
         "dtype '<c8' is not supported")
    case('f3.npy', npy(hdr(descr="'<f3'"), good), 'open', F,
         "dtype '<f3' is not supported")
    case('no_order.npy', npy(hdr(descr="'|f4'"), good), 'open', F,
         "no byte order")
    case('missing_shape.npy',
         npy("{'descr': '<f4', 'fortran_order': False}", good), 'open', F,
         'lacks one of')
    case('unknown_key.npy', npy(hdr()[:-1] + "'x': 1, }", good), 'open', F,
         'unknown or repeated key')
    case('repeated_key.npy',
         npy("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, "
             "'shape': (2, 3), }", good), 'open', F,
         'unknown or repeated key')
    case('not_dict.npy', npy('[1, 2]', good), 'open', F,
         'not a dict literal')
    case('shape_negative.npy', npy(hdr(shape='(-1, 3)'), good), 'open', F,
         'non-negative integer')
    case('shape_text.npy', npy(hdr(shape="'big'"), good), 'open', F,
         "'shape' must be a tuple")
    case('shape_huge.npy', npy(hdr(shape='(99999999999999999999999, 3)')),
         'open', O, 'dimension exceeds size_t')
    case('shape_product.npy',
         npy(hdr(shape='(1, 4294967296, 4294967296, 4294967296)')), 'open',
         O, 'dimensions multiply beyond size_t')
    case('shape_bytes.npy',
         npy(hdr(shape='(4294967296, 4294967296)')), 'open', O,
         'data size exceeds size_t')
    case('dims33.npy', npy(hdr(shape='(' + '1, ' * 33 + ')')), 'open', F,
         'more than 32 dimensions')
    case('scalar.npy', npy(hdr(shape='()'), b'\0' * 4), 'open', F,
         '0-dimensional')
    case('data_cut.npy', npy(hdr(shape='(10, 10)'), b'\0' * 100), 'open',
         F, 'truncated: the header gives 400 bytes of data')
    case('nul_header.npy', npy(hdr()[:10] + '\0' + hdr()[11:], good),
         'open', F, 'NUL byte in the .npy header')
    case('unterminated.npy', npy("{'descr: <f4}", good), 'open', F,
         'unterminated string')
    case('order_value.npy', npy(hdr(order="'no'"), good), 'open', F,
         "'fortran_order' must be True or False")
    case('trailing_text.npy', npy(hdr() + ' x', good), 'open', F,
         'unexpected text after the dict')
    case('labels_negative.npy',
         npy(hdr(descr="'<i4'", shape='(3,)'), struct.pack('<3i', 1, -4, 2)),
         'labels', 'MLP_ERR_LABEL', 'row 1: -4 is not a class index')
    case('labels_fraction.npy',
         npy(hdr(descr="'<f8'", shape='(2,)'), struct.pack('<2d', 1, 2.5)),
         'labels', 'MLP_ERR_LABEL', 'row 1: 2.5 is not a class index')
    case('labels_wide.npy', npy(hdr(), good), 'labels', 'MLP_ERR_SHAPE',
         'needs one value per row, this one has 3')
    noise = b''.join(struct.pack('<I', (i * 2654435761) % 2**32 >> 7)
                     for i in range(64 * 64))
    full = npy(hdr(shape='(64, 64)'), noise)
    case('gz_cut.npy.gz', gz(full)[:-3000], 'read', F,
         'unexpected end of file')
    bad = bytearray(gz(full))
    for i in range(len(bad) // 2, len(bad) // 2 + 20):
        bad[i] ^= 0x5A
    # zlib inflates up to 512 KiB ahead, so this small file fails at open.
    case('gz_corrupt.npy.gz', bytes(bad), 'open', F, 'corrupt gzip data')
    zeros = bytearray(gz(npy(hdr(shape='(1024, 1024)'), bytes(4 << 20))))
    zeros[-8] ^= 0xFF
    case('gz_crc.npy.gz', bytes(zeros), 'read', F,
         'corrupt gzip data near uncompressed byte')
    case('gz_short.npy.gz', gz(npy(hdr(shape='(100, 3)'), good)), 'read',
         F, 'truncated at byte')
    # IDX
    case('type.idx', idx(0x0A, [2, 2], b'\0' * 4), 'open', F,
         'unknown IDX type code 0x0A')
    case('dims0.idx', idx(0x08, []), 'open', F, 'IDX file with 0 dimensions')
    case('dims40.idx', idx(0x08, [1] * 40), 'open', F,
         '40 dimensions (at most 32)')
    case('dims_cut.idx', idx(0x08, [2], ndim=3), 'open', F,
         'truncated at byte 8: an IDX dimension needs 4 bytes')
    case('data_short.idx', idx(0x08, [3, 4], b'\0' * 11), 'open', F,
         'the IDX header gives 12 bytes of data after byte 12, the file '
         'has 11')
    case('data_long.idx', idx(0x0D, [2], b'\0' * 9), 'open', F,
         'gives 8 bytes of data after byte 8, the file has 9')
    case('magic.idx', b'\x01\x00\x08\x01\x00\x00\x00\x01\x00', 'open', F,
         'not an IDX file')
    case('overflow.idx', idx(0x0E, [0xFFFFFFFF] * 3), 'open', O,
         'IDX dimensions multiply beyond size_t')
    case('overflow_bytes.idx', idx(0x0E, [0xFFFFFFFF, 0xFFFFFFFF]), 'open',
         O, 'data size exceeds size_t')
    case('cut.idx.gz', gz(idx(0x08, [10, 10], b'\7' * 60)), 'read', F,
         'truncated at byte 12: the array data needs 100 bytes, 60 left')
    # Skipping rows (x and labels NULL) of a short stream fails too.
    case('skip_cut.idx.gz', gz(idx(0x08, [10, 10], b'\7' * 60)), 'skip', F,
         'truncated at byte 12: the array data needs 100 bytes, 60 left')
    # CSV
    case('ragged.csv', 'a,b,c\n1,2,3\n4,5\n', 'open', F,
         'line 3: 2 fields, expected 3 as on line 1')
    case('bad_number.csv', '1,2,3\n4,5,6\n7,8,9\n1,2,abc\n', 'read', F,
         "line 4, column 3: 'abc' is not a number")
    case('empty_field.csv', '1,2,3\n1,,3\n', 'read', F,
         'line 2, column 2: empty field')
    case('quote.csv', '1,2\n"3,4\n', 'open', F,
         'line 2, column 1: unterminated quote')
    case('after_quote.csv', '1,2\n"3"x,4\n', 'open', F,
         'line 2, column 1: text after a closing quote')
    case('label_fraction.csv', 'x,y\n1,0\n2,1.5\n', 'read', 'MLP_ERR_LABEL',
         "line 3, column 2: label '1.5' is not a class index",
         'label=last')
    case('label_negative.csv', '1;2;-3\n', 'read', 'MLP_ERR_LABEL',
         "line 1, column 3: label '-3' is not a class index", 'label=last')
    case('label_column.csv', '1,2,3\n', 'open', 'MLP_ERR_ARG',
         'label column 5 (from 0) but line 1 has 3 fields', 'label=5')
    case('header_forced.csv', 'a,b\n1,2\nc,d\n', 'read', F,
         "line 3, column 1: 'c' is not a number", 'header=yes')
    case('mystery.bin', 'hello', 'open', F, 'cannot tell the format')
    with open(os.path.join(HERE, 'MANIFEST'), 'w') as f:
        f.write('# file\toptions\tcall\tstatus\tmessage '
                '(written by ../make_malformed.py)\n')
        for c in CASES:
            f.write('\t'.join(c) + '\n')


if __name__ == '__main__':
    main()
