#!/usr/bin/python3
"""Cross-checks libmlp's gradients against PyTorch's autograd.

For small float64 networks over every activation and every loss, builds
the same network in libmlp (through ctypes, on the public API) and in
PyTorch (nn.Linear layers, CrossEntropyLoss on the logits, MSELoss,
BCEWithLogitsLoss, all with reduction "mean"), runs a forward and a
backward pass on the same batch, and prints the largest relative
difference of any weight or bias gradient.

    /usr/bin/python3 scripts/grad-check-torch.py [build/lib/libmlp.so]

Exits 1 when a difference exceeds 1e-10, 77 when torch is missing.
"""
import ctypes as C
import math
import os
import sys

try:
    import torch
    from torch import nn
except ImportError:
    print("grad-check-torch: no torch; skipped")
    sys.exit(77)

here = os.path.dirname(os.path.abspath(__file__))
lib_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    here, "..", "build", "lib", "libmlp.so")
lib = C.CDLL(lib_path)
sz = C.c_size_t
vp = C.c_void_p
lib.mlp_model_create.argtypes = [C.POINTER(vp), C.c_int, sz,
                                 C.POINTER(sz), C.POINTER(C.c_int), C.c_int]
lib.mlp_model_set_layer.argtypes = [vp, sz, vp, C.c_int, vp]
lib.mlp_model_free.argtypes = [vp]
lib.mlp_ctx_create.argtypes = [C.POINTER(vp), vp, sz, C.c_uint, vp, sz]
lib.mlp_ctx_free.argtypes = [vp]
lib.mlp_forward.argtypes = [vp, vp, vp, sz, vp]
lib.mlp_grad_create.argtypes = [C.POINTER(vp), vp, sz]
lib.mlp_grad_free.argtypes = [vp]
lib.mlp_grad_params.argtypes = [vp, C.POINTER(sz)]
lib.mlp_grad_params.restype = C.POINTER(C.c_double)
lib.mlp_backward.argtypes = [vp, vp, vp, sz, C.c_int, vp, vp, vp]
lib.mlp_last_error.restype = C.c_char_p

F64, IN_OUT, KEEP = 2, 0, 1
ACTS = {"identity": 0, "relu": 1, "leaky_relu": 2, "sigmoid": 3, "tanh": 4,
        "gelu": 5, "silu": 6, "softmax": 7}
LOSSES = {"cross_entropy": 0, "mse": 1, "bce": 2}


def torch_act(name):
    return {"identity": nn.Identity(), "relu": nn.ReLU(),
            "leaky_relu": nn.LeakyReLU(0.01), "sigmoid": nn.Sigmoid(),
            "tanh": nn.Tanh(), "gelu": nn.GELU(), "silu": nn.SiLU(),
            "softmax": nn.Softmax(dim=1)}[name]


def check(dims, acts, loss, batch, seed):
    g = torch.Generator().manual_seed(seed)
    layers = [nn.Linear(dims[i], dims[i + 1]).double()
              for i in range(len(acts))]
    for l in layers:
        with torch.no_grad():
            l.weight.copy_(torch.randn(l.weight.shape, generator=g,
                                       dtype=torch.float64) * 0.5)
            l.bias.copy_(torch.randn(l.bias.shape, generator=g,
                                     dtype=torch.float64) * 0.1)
    x = torch.randn(batch, dims[0], generator=g, dtype=torch.float64) * 2
    labels = torch.arange(batch) % dims[-1]
    targets = torch.rand(batch, dims[-1], generator=g, dtype=torch.float64)

    # PyTorch: the last softmax/sigmoid is inside the loss for the
    # combined forms, as libmlp computes them.
    h = x
    for i, (l, a) in enumerate(zip(layers, acts)):
        h = l(h)
        last = i == len(acts) - 1
        if not (last and loss in ("cross_entropy", "bce")):
            h = torch_act(a)(h)
    if loss == "cross_entropy":
        out = nn.CrossEntropyLoss()(h, labels)
    elif loss == "bce":
        out = nn.BCEWithLogitsLoss()(h, targets)
    else:
        out = nn.MSELoss()(h, targets)
    out.backward()

    # libmlp, the same parameters and data.
    n = len(acts)
    widths = (sz * (n + 1))(*dims)
    cacts = (C.c_int * n)(*[ACTS[a] for a in acts])
    m, ctx, grad = vp(), vp(), vp()
    assert lib.mlp_model_create(C.byref(m), F64, n, widths, cacts,
                                IN_OUT) == 0
    keep = []
    for k, l in enumerate(layers, 1):
        w = l.weight.detach().t().contiguous().numpy()  # [in, out]
        b = l.bias.detach().numpy().copy()
        keep += [w, b]
        assert lib.mlp_model_set_layer(m, k, w.ctypes.data, IN_OUT,
                                       b.ctypes.data) == 0
    assert lib.mlp_ctx_create(C.byref(ctx), m, batch, KEEP, None, 0) == 0
    assert lib.mlp_grad_create(C.byref(grad), m, batch) == 0
    xn = x.numpy().copy()
    y = torch.zeros(batch, dims[-1], dtype=torch.float64).numpy()
    ln = labels.to(torch.int32).numpy().copy()
    tn = targets.numpy().copy()
    assert lib.mlp_forward(m, ctx, xn.ctypes.data, batch, y.ctypes.data) == 0
    rc = lib.mlp_backward(m, ctx, xn.ctypes.data, batch, LOSSES[loss],
                          ln.ctypes.data, tn.ctypes.data, grad)
    assert rc == 0, lib.mlp_last_error()
    count = sz()
    gp = lib.mlp_grad_params(grad, C.byref(count))
    ours = [gp[i] for i in range(count.value)]

    theirs = []
    for l in layers:
        theirs += l.weight.grad.t().contiguous().flatten().tolist()
        theirs += l.bias.grad.flatten().tolist()
    scale = max(abs(v) for v in theirs) or 1.0
    worst = max(abs(a - b) for a, b in zip(ours, theirs)) / scale
    lib.mlp_grad_free(grad)
    lib.mlp_ctx_free(ctx)
    lib.mlp_model_free(m)
    return worst


def main():
    dims = [5, 7, 6, 3]
    worst_all, failed = 0.0, False
    for i, a in enumerate(ACTS):
        for loss, last in (("cross_entropy", "softmax"), ("bce", "sigmoid"),
                           ("mse", a)):
            acts = [a, a, last]
            worst = check(dims, acts, loss, 9, 100 + i)
            worst_all = max(worst_all, worst)
            bad = not (worst <= 1e-10) or math.isnan(worst)
            failed = failed or bad
            print("%-10s %-10s %-13s max rel diff %.2e%s"
                  % (a, last, loss, worst, "  FAIL" if bad else ""))
    print("largest relative difference: %.2e" % worst_all)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
