#!/usr/bin/env python3
"""Writes the malformed model files of tests/data/models/malformed/ and
their expected statuses (EXPECTED: file, status, a phrase of the message).

Each file breaks one rule of the safetensors format or of libmlp's model
convention; tests/test_safetensors.c loads each and checks the status and
that the message names the tensor or key. Run it from anywhere:
    python3 tests/data/models/make_corpus.py
"""
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "malformed")
cases = []


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def raw(name, blob, status, phrase):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(blob)
    cases.append((name, status, phrase))


def st(name, header, data, status, phrase, hlen=None):
    """header: a dict (dumped as JSON) or a str (written as is)."""
    text = header if isinstance(header, str) else json.dumps(header)
    text = text.encode()
    n = len(text) if hlen is None else hlen
    raw(name, struct.pack("<Q", n) + text + data, status, phrase)


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


ACTS = {"activations": "relu,softmax"}


def good():
    """A valid two-layer model 3 -> 4 -> 2 (F32): header and data."""
    h = {"__metadata__": dict(ACTS),
         "layers.0.weight": t("F32", [4, 3], 0, 48),
         "layers.0.bias": t("F32", [4], 48, 64),
         "layers.1.weight": t("F32", [2, 4], 64, 96),
         "layers.1.bias": t("F32", [2], 96, 104)}
    return h, f32(*[0.1 * i for i in range(26)])


def main():
    os.makedirs(HERE, exist_ok=True)
    for f in os.listdir(HERE):
        os.remove(os.path.join(HERE, f))
    h, d = good()

    # The header length.
    raw("empty.safetensors", b"", "MLP_ERR_FORMAT", "fewer than the 8")
    raw("short.safetensors", b"\x10\x00\x00", "MLP_ERR_FORMAT",
        "fewer than the 8")
    st("hlen_beyond.safetensors", h, d, "MLP_ERR_FORMAT",
       "header length 100000", hlen=100000)
    st("hlen_2p63.safetensors", h, d, "MLP_ERR_FORMAT",
       "header length 9223372036854775808", hlen=2**63)
    st("hlen_short.safetensors", h, d, "MLP_ERR_FORMAT", "invalid JSON",
       hlen=40)

    # The JSON.
    st("not_object.safetensors", "[1, 2]", b"", "MLP_ERR_FORMAT",
       "not a JSON object")
    st("json_truncated.safetensors", '{"layers.0.weight": {"dtype": "F32"',
       b"", "MLP_ERR_FORMAT", "invalid JSON")
    st("json_invalid.safetensors", '{"layers.0.weight": }', b"",
       "MLP_ERR_FORMAT", "invalid JSON")
    st("json_trailing.safetensors", json.dumps(h) + " x", d,
       "MLP_ERR_FORMAT", "unexpected bytes after")
    st("json_nul.safetensors", json.dumps(h) + "\0", d, "MLP_ERR_FORMAT",
       "unexpected bytes after")
    st("entry_not_object.safetensors", {"layers.0.weight": 3}, b"",
       "MLP_ERR_FORMAT", "'layers.0.weight': entry is not an object")
    st("entry_fields.safetensors", {"layers.0.weight": {"dtype": "F32"}},
       b"", "MLP_ERR_FORMAT", "'layers.0.weight': needs")
    st("metadata_not_string.safetensors",
       {"__metadata__": {"activations": 3}}, b"", "MLP_ERR_FORMAT",
       "__metadata__.activations is not a string")
    st("no_tensors.safetensors", {"__metadata__": ACTS}, b"",
       "MLP_ERR_FORMAT", "no layers")

    # Byte ranges.
    def bad(name, key, value, status, phrase, data=d):
        hh, _ = good()
        hh[key] = value
        st(name, hh, data, status, phrase)

    bad("offsets_beyond.safetensors", "layers.1.bias", t("F32", [2], 96, 200),
        "MLP_ERR_FORMAT", "'layers.1.bias': data_offsets [96, 200] go beyond")
    bad("offsets_reversed.safetensors", "layers.1.bias",
        t("F32", [2], 104, 96), "MLP_ERR_FORMAT",
        "'layers.1.bias': data_offsets [104, 96] are reversed")
    bad("offsets_overlap.safetensors", "layers.1.weight",
        t("F32", [2, 4], 60, 92), "MLP_ERR_FORMAT", "overlap")
    bad("offsets_hole.safetensors", "layers.1.bias", t("F32", [2], 96, 104),
        "MLP_ERR_FORMAT", "belong to no tensor", data=d + b"\0" * 8)
    bad("offsets_fraction.safetensors", "layers.1.bias",
        t("F32", [2], 96.5, 104), "MLP_ERR_FORMAT",
        "'layers.1.bias': data_offsets holds 96.5")
    bad("offsets_negative.safetensors", "layers.1.bias",
        t("F32", [2], -8, 104), "MLP_ERR_FORMAT",
        "'layers.1.bias': data_offsets holds -8")
    bad("offsets_huge.safetensors", "layers.1.bias",
        t("F32", [2], 96, 10**30), "MLP_ERR_OVERFLOW", "'layers.1.bias'")
    bad("offsets_count.safetensors", "layers.1.bias",
        {"dtype": "F32", "shape": [2], "data_offsets": [96]},
        "MLP_ERR_FORMAT", "'layers.1.bias': data_offsets must have 2")
    bad("offsets_string.safetensors", "layers.1.bias",
        {"dtype": "F32", "shape": [2], "data_offsets": ["96", 104]},
        "MLP_ERR_FORMAT", "'layers.1.bias': data_offsets must be numbers")

    # Dtypes and shapes.
    bad("dtype_unknown.safetensors", "layers.0.bias", t("F8", [4], 48, 64),
        "MLP_ERR_DTYPE", "'layers.0.bias': dtype \"F8\"")
    bad("dtype_int.safetensors", "layers.0.bias", t("I32", [4], 48, 64),
        "MLP_ERR_DTYPE", "'layers.0.bias': dtype \"I32\"")
    bad("shape_mismatch.safetensors", "layers.0.weight",
        t("F32", [4, 4], 0, 48), "MLP_ERR_FORMAT",
        "'layers.0.weight': 16 elements of F32 need 64 bytes")
    bad("shape_overflow.safetensors", "layers.0.weight",
        t("F32", [2**40, 2**40, 2**40], 0, 48), "MLP_ERR_OVERFLOW",
        "'layers.0.weight'")
    bad("shape_bytes_overflow.safetensors", "layers.0.weight",
        t("F32", [2**31, 2**31], 0, 48), "MLP_ERR_OVERFLOW",
        "'layers.0.weight': its byte size")
    bad("weight_3d.safetensors", "layers.0.weight",
        t("F32", [4, 3, 1], 0, 48), "MLP_ERR_SHAPE",
        "'layers.0.weight' has 3 dimensions")
    bad("bias_shape.safetensors", "layers.0.bias", t("F32", [2, 2], 48, 64),
        "MLP_ERR_SHAPE", "'layers.0.bias' must have shape [4]")

    hh, _ = good()
    hh["layers.1.weight"] = t("F32", [2, 5], 64, 104)
    hh["layers.1.bias"] = t("F32", [2], 104, 112)
    st("no_chain.safetensors", hh, d + f32(0, 0), "MLP_ERR_SHAPE",
       "'layers.1.weight' [2, 5] takes 5 inputs but 'layers.0.weight' "
       "gives 4")
    hh = {"__metadata__": {"activations": "relu"},
          "layers.0.weight": t("F32", [0, 3], 0, 0),
          "layers.0.bias": t("F32", [0], 0, 0)}
    st("zero_width.safetensors", hh, b"", "MLP_ERR_SHAPE",
       "'layers.0.weight' has shape [0, 3]")

    # Names.
    hh, _ = good()
    del hh["layers.1.bias"]
    st("missing_bias.safetensors", hh, d[:96], "MLP_ERR_FORMAT",
       "'layers.1.weight' has no bias 'layers.1.bias'")
    hh, _ = good()
    del hh["layers.1.weight"]
    hh["layers.1.bias"] = t("F32", [2], 64, 72)
    st("missing_weight.safetensors", hh, d[:72], "MLP_ERR_FORMAT",
       "'layers.1.bias' has no weight 'layers.1.weight'")
    hh, _ = good()
    hh["layers.0.running_mean"] = t("F32", [2], 104, 112)
    st("unexpected_tensor.safetensors", hh, d + f32(0, 0), "MLP_ERR_FORMAT",
       "unexpected tensor 'layers.0.running_mean'")
    text = json.dumps(h)[:-1] + ', "layers.1.bias": ' + \
        json.dumps(t("F32", [2], 104, 112)) + "}"
    st("duplicate.safetensors", text, d + f32(0, 0), "MLP_ERR_FORMAT",
       "'layers.1.bias' appears twice")
    hh = {"a.0.weight": t("F32", [4, 3], 0, 48),
          "a.0.bias": t("F32", [4], 48, 64),
          "b.0.weight": t("F32", [2, 4], 64, 96),
          "b.0.bias": t("F32", [2], 96, 104),
          "__metadata__": ACTS}
    st("order_ambiguous.safetensors", hh, d, "MLP_ERR_FORMAT",
       "cannot order layers 'a.0' and 'b.0'")

    # Activations.
    def acts(name, text, status, phrase):
        hh, _ = good()
        if text is None:
            del hh["__metadata__"]
        else:
            hh["__metadata__"] = {"activations": text}
        st(name, hh, d, status, phrase)

    acts("acts_unknown.safetensors", "relu,rleu", "MLP_ERR_ACTIVATION",
         "__metadata__.activations: unknown activation 'rleu'")
    acts("acts_miscount.safetensors", "relu", "MLP_ERR_ACTIVATION",
         "__metadata__.activations names 1 activations for 2 layers")
    acts("acts_too_many.safetensors", "relu,relu,softmax",
         "MLP_ERR_ACTIVATION", "names 3 activations for 2 layers")
    acts("acts_empty.safetensors", "", "MLP_ERR_ACTIVATION",
         "names 1 activations for 2 layers")
    acts("acts_empty_item.safetensors", "relu,", "MLP_ERR_ACTIVATION",
         "__metadata__.activations: unknown activation '' (item 2)")
    acts("acts_bad_slope.safetensors", "leaky_relu:x,softmax",
         "MLP_ERR_ACTIVATION", "bad leaky_relu slope 'x'")
    acts("acts_missing.safetensors", None, "MLP_ERR_ACTIVATION",
         "names no activations")

    # Values.
    nan = bytearray(d)
    nan[20:24] = struct.pack("<f", float("nan"))
    st("nan_weight.safetensors", h, bytes(nan), "MLP_ERR_NONFINITE",
       "'layers.0.weight': element [1, 2] is nan")
    inf = bytearray(d)
    inf[100:104] = struct.pack("<f", float("-inf"))
    st("inf_bias.safetensors", h, bytes(inf), "MLP_ERR_NONFINITE",
       "'layers.1.bias': element [1] is -inf")

    with open(os.path.join(HERE, "EXPECTED"), "w") as f:
        f.write("# file status phrase-of-the-message "
                "(written by ../make_corpus.py)\n")
        for name, status, phrase in cases:
            f.write("%s %s %s\n" % (name, status, phrase))


main()
