#!/usr/bin/python3
"""Cross-checks libmlp's gradients and optimisers against PyTorch.

For small float64 networks over every activation and every loss, builds
the same network in libmlp (through ctypes, on the public API) and in
PyTorch (nn.Linear layers, CrossEntropyLoss on the logits, MSELoss,
BCEWithLogitsLoss, all with reduction "mean"), runs a forward and a
backward pass on the same batch, and prints the largest relative
difference of any weight or bias gradient. Then five training steps with
each optimiser (SGD, momentum, Nesterov, Adam, AdamW; weight decay on the
weights only, as libmlp does) in both, and the largest difference of the
parameters after them.

    /usr/bin/python3 tests/torch/grad_check_torch.py [build/lib/libmlp.so]

Exits 1 when a gradient differs by more than 1e-10 (relative) or a
parameter by more than 1e-12, 77 when torch is missing.
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
    here, "..", "..", "build", "lib", "libmlp.so")
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
lib.mlp_model_params.argtypes = [vp, C.POINTER(sz)]
lib.mlp_model_params.restype = C.POINTER(C.c_double)


class OptimConfig(C.Structure):
    """mlp_optim_config of mlp.h, field for field."""
    _fields_ = [("kind", C.c_int), ("lr", C.c_double),
                ("momentum", C.c_double), ("beta1", C.c_double),
                ("beta2", C.c_double), ("eps", C.c_double),
                ("weight_decay", C.c_double), ("schedule", C.c_int),
                ("step_size", C.c_uint64), ("gamma", C.c_double),
                ("total", C.c_uint64), ("lr_min", C.c_double),
                ("warmup", C.c_uint64)]


lib.mlp_optim_config_default.argtypes = [C.POINTER(OptimConfig), C.c_int]
lib.mlp_optim_create.argtypes = [C.POINTER(vp), vp, C.POINTER(OptimConfig)]
lib.mlp_optim_step.argtypes = [vp, vp, vp]
lib.mlp_optim_free.argtypes = [vp]

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


def check_optim(kind, wd, steps=5):
    """Parameters after `steps` training steps in both; max abs diff."""
    dims, batch = [4, 8, 3], 6
    g = torch.Generator().manual_seed(7 + kind)
    layers = [nn.Linear(dims[i], dims[i + 1]).double() for i in range(2)]
    for l in layers:
        with torch.no_grad():
            l.weight.copy_(torch.randn(l.weight.shape, generator=g,
                                       dtype=torch.float64) * 0.5)
            l.bias.copy_(torch.randn(l.bias.shape, generator=g,
                                     dtype=torch.float64) * 0.1)
    x = torch.randn(batch, dims[0], generator=g, dtype=torch.float64)
    labels = torch.arange(batch) % dims[-1]

    m, ctx, grad, opt = vp(), vp(), vp(), vp()
    assert lib.mlp_model_create(C.byref(m), F64, 2, (sz * 3)(*dims),
                                (C.c_int * 2)(ACTS["tanh"], ACTS["softmax"]),
                                IN_OUT) == 0
    for k, l in enumerate(layers, 1):
        w = l.weight.detach().t().contiguous().numpy()
        b = l.bias.detach().numpy().copy()
        assert lib.mlp_model_set_layer(m, k, w.ctypes.data, IN_OUT,
                                       b.ctypes.data) == 0
    cfg = OptimConfig()
    lib.mlp_optim_config_default(C.byref(cfg), kind)
    cfg.lr = 0.05
    cfg.weight_decay = wd
    assert lib.mlp_optim_create(C.byref(opt), m, C.byref(cfg)) == 0
    assert lib.mlp_ctx_create(C.byref(ctx), m, batch, KEEP, None, 0) == 0
    assert lib.mlp_grad_create(C.byref(grad), m, batch) == 0
    xn = x.numpy().copy()
    ln = labels.to(torch.int32).numpy().copy()
    y = torch.zeros(batch, dims[-1], dtype=torch.float64).numpy()

    weights = [l.weight for l in layers]
    biases = [l.bias for l in layers]
    groups = [{"params": weights, "weight_decay": wd},
              {"params": biases, "weight_decay": 0.0}]
    if kind == 0:
        topt = torch.optim.SGD(groups, lr=0.05)
    elif kind in (1, 2):
        topt = torch.optim.SGD(groups, lr=0.05, momentum=0.9,
                               nesterov=kind == 2)
    elif kind == 3:
        topt = torch.optim.Adam(groups, lr=0.05)
    else:
        topt = torch.optim.AdamW(groups, lr=0.05)
    for _ in range(steps):
        assert lib.mlp_forward(m, ctx, xn.ctypes.data, batch,
                               y.ctypes.data) == 0
        assert lib.mlp_backward(m, ctx, xn.ctypes.data, batch, 0,
                                ln.ctypes.data, None, grad) == 0
        assert lib.mlp_optim_step(opt, m, grad) == 0
        topt.zero_grad()
        nn.CrossEntropyLoss()(layers[1](torch.tanh(layers[0](x))),
                              labels).backward()
        topt.step()
    count = sz()
    p = lib.mlp_model_params(m, C.byref(count))
    ours = [p[i] for i in range(count.value)]
    theirs = []
    for l in layers:
        theirs += l.weight.detach().t().contiguous().flatten().tolist()
        theirs += l.bias.detach().flatten().tolist()
    lib.mlp_optim_free(opt)
    lib.mlp_grad_free(grad)
    lib.mlp_ctx_free(ctx)
    lib.mlp_model_free(m)
    return max(abs(a - b) for a, b in zip(ours, theirs))


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
    names = ["sgd", "momentum", "nesterov", "adam", "adamw"]
    for kind, name in enumerate(names):
        for wd in (0.0, 0.1):
            diff = check_optim(kind, wd)
            bad = not (diff <= 1e-12)
            failed = failed or bad
            print("%-9s wd %.1f: parameters after 5 steps, max diff %.2e%s"
                  % (name, wd, diff, "  FAIL" if bad else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
