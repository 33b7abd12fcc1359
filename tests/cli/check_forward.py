#!/usr/bin/env python3
"""check_forward.py MODEL INPUT.csv OUTPUT.npy: recomputes the forward pass
of a libmlp model file with numpy, independently of libmlp (its own
safetensors reader), and compares it with the output `mlp run` wrote."""
import json
import struct
import sys

import numpy as np

ACTS = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "softmax": lambda z: np.exp(z - z.max(1, keepdims=True)) /
    np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True),
}


def load(path):
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    acts = header.pop("__metadata__")["activations"].split(",")
    types = {"F32": "<f4", "F64": "<f8"}

    def tensor(name):
        t = header[name]
        b, e = t["data_offsets"]
        return np.frombuffer(data[b:e], types[t["dtype"]]).reshape(t["shape"])

    layers = [(tensor("layers.%d.weight" % k), tensor("layers.%d.bias" % k))
              for k in range(len(acts))]
    return layers, acts


def main():
    layers, acts = load(sys.argv[1])
    x = np.loadtxt(sys.argv[2], delimiter=",", ndmin=2)
    got = np.load(sys.argv[3])
    y = x.astype(np.float64)
    for (w, b), act in zip(layers, acts):
        y = ACTS[act](y @ w.T.astype(np.float64) + b)
    err = np.abs(got - y).max()
    tol = 1e-5 if got.dtype == np.float32 else 1e-12
    print("max |mlp - numpy| = %.3g (tolerance %g)" % (err, tol))
    sys.exit(0 if got.shape == y.shape and err <= tol else 1)


main()
