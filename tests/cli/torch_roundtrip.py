#!/usr/bin/env python3
"""torch_roundtrip.py PATH/TO/mlp: PyTorch <-> libmlp model files.

Exports nn.Sequential models with save_mlp (the function shown in
docs/formats-models.md), runs them with `mlp run` and compares with
PyTorch's outputs; and loads files written by `mlp init` into PyTorch with
load_mlp and compares again. F32, F64, F16 and BF16 tensors.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch import nn

MLP = sys.argv[1]
T = tempfile.mkdtemp(prefix="mlp-torch-")
failures = 0


# --- the exporter of docs/formats-models.md --------------------------------
def save_mlp(model, path, activations=None, dtype=torch.float32):
    """Writes the nn.Linear layers of `model` as safetensors."""
    names = {torch.float32: "F32", torch.float64: "F64",
             torch.float16: "F16", torch.bfloat16: "BF16"}
    header, blobs, offset = {}, [], 0
    if activations:
        header["__metadata__"] = {"activations": ",".join(activations)}
    for name, t in model.state_dict().items():
        t = t.detach().to(dtype).contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes()  # little-endian hosts
        header[name] = {"dtype": names[dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))
# ---------------------------------------------------------------------------


def load_mlp(path):
    """Reads a libmlp model file into (nn.Sequential of nn.Linear, acts)."""
    blob = open(path, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    acts = header.pop("__metadata__")["activations"].split(",")
    types = {"F32": np.float32, "F64": np.float64}
    data = blob[8 + n:]

    def tensor(name):
        t = header[name]
        b, e = t["data_offsets"]
        a = np.frombuffer(data[b:e], types[t["dtype"]]).reshape(t["shape"])
        return torch.from_numpy(a.copy())

    layers = []
    for k in range(len(acts)):
        w, b = tensor("layers.%d.weight" % k), tensor("layers.%d.bias" % k)
        lin = nn.Linear(w.shape[1], w.shape[0]).to(w.dtype)
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        layers.append(lin)
    return nn.Sequential(*layers), acts


ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
       "identity": lambda z: z, "gelu": nn.functional.gelu,
       "silu": nn.functional.silu, "softmax": lambda z: torch.softmax(z, 1)}


def forward(linears, acts, x):
    for lin, act in zip(linears, acts):
        x = lin(x)
        if act.startswith("leaky_relu"):
            slope = float(act.split(":")[1]) if ":" in act else 0.01
            x = nn.functional.leaky_relu(x, slope)
        else:
            x = ACT[act](x)
    return x


def mlp(*args, expect=0):
    p = subprocess.run([MLP] + list(args), capture_output=True, text=True)
    if p.returncode != expect:
        raise RuntimeError("mlp %s: exit %d: %s" % (" ".join(args),
                                                   p.returncode, p.stderr))
    return p


def check(desc, got, want, tol):
    global failures
    err = float(np.abs(got - want).max())
    ok = got.shape == want.shape and err <= tol
    print("%s: %s, max error %.3g (tolerance %g)" %
          ("ok" if ok else "FAIL", desc, err, tol))
    failures += not ok


def run_file(model_path, x, *extra):
    xp, yp = os.path.join(T, "x.npy"), os.path.join(T, "y.npy")
    np.save(xp, x)
    mlp("run", model_path, xp, "-o", yp, *extra)
    return np.load(yp)


def main():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8),
                        nn.Tanh(), nn.Linear(8, 4))
    acts = ["relu", "tanh", "softmax"]
    linears = [m for m in net if isinstance(m, nn.Linear)]
    x = torch.randn(50, 6)
    path = os.path.join(T, "net.safetensors")

    # F32 and F64, with activations in the file.
    save_mlp(net, path, acts)
    with torch.no_grad():
        want = forward(linears, acts, x).numpy()
    check("F32 export", run_file(path, x.numpy()), want, 1e-5)
    save_mlp(net, path, acts, torch.float64)
    with torch.no_grad():
        want64 = forward([l.double() for l in linears], acts,
                         x.double()).numpy()
    check("F64 export", run_file(path, x.double().numpy()), want64, 1e-12)
    for l in linears:
        l.float()

    # F16 and BF16: compare with PyTorch on the same rounded weights.
    for dt, name in ((torch.float16, "F16"), (torch.bfloat16, "BF16")):
        save_mlp(net, path, acts, dt)
        rounded = [nn.Linear(l.in_features, l.out_features) for l in linears]
        with torch.no_grad():
            for r, l in zip(rounded, linears):
                r.weight.copy_(l.weight.to(dt).float())
                r.bias.copy_(l.bias.to(dt).float())
            want16 = forward(rounded, acts, x).numpy()
        check(name + " export", run_file(path, x.numpy()), want16, 1e-5)

    # No activations in the file: refused, then given on the command line.
    save_mlp(net, path)
    np.save(os.path.join(T, "x.npy"), x.numpy())
    p = mlp("run", path, os.path.join(T, "x.npy"), "-o",
            os.path.join(T, "y.npy"), expect=1)
    print("ok: no activations refused:", p.stderr.strip())
    check("activations from the command line",
          run_file(path, x.numpy(), "--activations", ",".join(acts)), want,
          1e-5)

    # More activations, including a leaky ReLU slope.
    net2 = nn.Sequential(nn.Linear(5, 9), nn.GELU(), nn.Linear(9, 7),
                         nn.SiLU(), nn.Linear(7, 6), nn.LeakyReLU(0.2),
                         nn.Linear(6, 2), nn.Sigmoid())
    acts2 = ["gelu", "silu", "leaky_relu:0.2", "sigmoid"]
    save_mlp(net2, path, acts2)
    x2 = torch.randn(30, 5)
    with torch.no_grad():
        want2 = net2(x2).numpy()
    check("gelu/silu/leaky_relu/sigmoid", run_file(path, x2.numpy()), want2,
          1e-5)

    # mlp init -> PyTorch.
    mp = os.path.join(T, "init.safetensors")
    mlp("init", "--dims", "6,12,4", "--activations", "relu,softmax",
        "--seed", "3", "-o", mp)
    seq, acts3 = load_mlp(mp)
    with torch.no_grad():
        want3 = forward(list(seq), acts3, x).numpy()
    check("mlp init loaded in PyTorch", run_file(mp, x.numpy()), want3, 1e-5)

    shutil.rmtree(T)
    print("%d failures" % failures)
    sys.exit(1 if failures else 0)


main()
