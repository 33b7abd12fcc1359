#!/usr/bin/python3
"""PyTorch's training step on the benchmark networks, the peer of
bench/train_bench.c: forward, cross-entropy (or MSE) loss, backward and an
SGD-with-momentum update, float32, batch rows of random data.

    OPENBLAS_CORETYPE=Cooperlake bench/train_step_torch.py \
        [--workload mnist,deep] [--batch 256] [--threads 1,2]

Prints the median (--stat min: the fastest) milliseconds per step over
--reps repetitions of loops of at least --min-time seconds, in the table
format of train-bench.
"""
import argparse
import time

import torch
from torch import nn

WORKLOADS = {
    "seed": ([2, 3, 2, 2], ["relu", "relu", "softmax"]),
    "mnist": ([784, 512, 512, 10], ["relu", "relu", "softmax"]),
    "wide": ([1024, 4096, 4096, 1024], ["relu", "relu", "identity"]),
    "deep": ([256] * 9 + [10], ["tanh"] * 8 + ["softmax"]),
}


def build(dims, acts):
    mods = []
    for i, a in enumerate(acts):
        mods.append(nn.Linear(dims[i], dims[i + 1]))
        # The softmax of the last layer is folded into CrossEntropyLoss,
        # which takes logits: the same computation as libmlp's combined
        # softmax + cross-entropy.
        if a == "relu":
            mods.append(nn.ReLU())
        elif a == "tanh":
            mods.append(nn.Tanh())
        elif a not in ("softmax", "identity"):
            raise ValueError(a)
    return nn.Sequential(*mods)


def measure(fn, min_time, reps, use_min, clock):
    start = clock()
    while clock() - start < min_time / 4:
        fn()
    times = []
    for _ in range(reps):
        n, s = 0, clock()
        while True:
            fn()
            n += 1
            e = clock()
            if e - s >= min_time:
                break
        times.append((e - s) / n)
    times.sort()
    return times[0] if use_min else times[len(times) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workload", default="mnist,deep")
    p.add_argument("--batch", default="256")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--min-time", type=float, default=0.3)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--stat", choices=["median", "min"], default="median")
    # cpu: the process's CPU time, which other programs on a busy machine
    # do not inflate (as train-bench --clock cpu).
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    a = p.parse_args()
    torch.manual_seed(1)
    print("# torch %s, SGD momentum 0.9; %s of %d, %s clock"
          % (torch.__version__, a.stat, a.reps, a.clock))
    print("%-6s %6s %3s %10s" % ("work", "batch", "thr", "step_ms"))
    for w in a.workload.split(","):
        dims, acts = WORKLOADS[w]
        for b in [int(x) for x in a.batch.split(",")]:
            for t in [int(x) for x in a.threads.split(",")]:
                torch.set_num_threads(t)
                model = build(dims, acts)
                opt = torch.optim.SGD(model.parameters(), lr=0.01,
                                      momentum=0.9)
                x = torch.rand(b, dims[0]) * 2 - 1
                if acts[-1] == "softmax":
                    loss_fn = nn.CrossEntropyLoss()
                    target = torch.arange(b) % dims[-1]
                else:
                    loss_fn = nn.MSELoss()
                    target = torch.rand(b, dims[-1])

                def step():
                    opt.zero_grad(set_to_none=False)
                    loss = loss_fn(model(x), target)
                    loss.backward()
                    opt.step()

                clock = (time.process_time if a.clock == "cpu"
                         else time.perf_counter)
                ms = 1e3 * measure(step, a.min_time, a.reps,
                                   a.stat == "min", clock)
                print("%-6s %6d %3d %10.3f" % (w, b, t, ms), flush=True)


if __name__ == "__main__":
    main()
