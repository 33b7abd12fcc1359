#!/usr/bin/python3
"""libmlp against every peer, from a peers-harness raw file (.jsonl).

    bench/peers/libmlp_ratios.py results.raw.jsonl [--libmlp libmlp-cpl]

Prints markdown: for each workload, batch and thread count, the speed of
the chosen libmlp peer divided by each other peer's (samples/s over
samples/s: 1.50 = libmlp is 1.5x faster, 0.80 = it is 20 % slower),
then the issue-4 targets checked against those figures. With several
passes in the file, each cell uses its best pass (as the harness does).
"""
import argparse
import json
import math


def load(path):
    best = {}
    for line in open(path):
        r = json.loads(line)
        if "samples_per_s" not in r:
            continue
        key = (r["peer"], r["workload"], r["batch"], r["threads"])
        if key not in best or r["samples_per_s"] > best[key]["samples_per_s"]:
            best[key] = r
    return best


def fmt_sps(x):
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return "%.3g%s" % (x / div, suf)
    return "%.3g" % x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--libmlp", default="libmlp-cpl")
    ap.add_argument("--floor", default="gemm-floor-cpl")
    a = ap.parse_args()
    best = load(a.raw)
    peers = []
    for (p, _, _, _) in best:
        if p not in peers:
            peers.append(p)
    cells = sorted({(w, b, t) for (_, w, b, t) in best},
                   key=lambda c: (["seed", "mnist", "wide", "deep"].index(c[0])
                                  if c[0] in ("seed", "mnist", "wide", "deep")
                                  else 9, c[1], c[2]))
    others = [p for p in peers if p != a.libmlp]
    print("| workload | batch | thr | %s samples/s | %s |" %
          (a.libmlp, " | ".join("vs " + p for p in others)))
    print("|---|---:|---:|---:|" + "---:|" * len(others))
    for (w, b, t) in cells:
        me = best.get((a.libmlp, w, b, t))
        if not me:
            continue
        row = []
        for p in others:
            r = best.get((p, w, b, t))
            row.append("%.2f" % (me["samples_per_s"] / r["samples_per_s"])
                       if r else "n/a")
        print("| %s | %d | %d | %s | %s |" % (w, b, t,
              fmt_sps(me["samples_per_s"]), " | ".join(row)))

    def sps(p, w, b, t):
        r = best.get((p, w, b, t))
        return r["samples_per_s"] if r else None

    print("\nTargets (from these figures):\n")
    print("| target | cell | libmlp | reference | ratio | holds |")
    print("|---|---|---:|---:|---:|:-:|")

    def line(target, cell, mine, ref, ok):
        if mine is None or ref is None:
            return
        print("| %s | %s | %s | %s | %.2f | %s |" % (
            target, cell, fmt_sps(mine), fmt_sps(ref), mine / ref,
            "yes" if ok(mine / ref) else "**no**"))

    for (w, b, t) in cells:
        c = "%s b=%d t=%d" % (w, b, t)
        me = sps(a.libmlp, w, b, t)
        if b == 1 and w in ("mnist", "deep", "wide"):
            refs = [x for x in (sps(p, w, b, t) for p in
                    ("numpy-cpl", "ort", "onednn")) if x]
            if refs:
                line("b=1: >= best of numpy, ORT, oneDNN", c, me, max(refs),
                     lambda r: r >= 1.0)
        if b >= 32 and w != "seed":
            line(">= ORT at b >= 32", c, me, sps("ort", w, b, t),
                 lambda r: r >= 1.0)
            line(">= 0.8x oneDNN at b >= 32", c, me, sps("onednn", w, b, t),
                 lambda r: r >= 0.8)
        if w == "seed" and b == 1:
            if me is not None:
                print("| seed b=1 >= 10M samples/s | %s | %s | 10M | %.2f "
                      "| %s |" % (c, fmt_sps(me), me / 1e7,
                                  "yes" if me >= 1e7 else "**no**"))
        if t == 2 and b >= 256 and w in ("mnist", "deep"):
            one = sps(a.libmlp, w, b, 1)
            if me is not None and one is not None:
                print("| 2 threads >= 1.8x 1 thread | %s | %s | %s | %.2f "
                      "| %s |" % (c, fmt_sps(me), fmt_sps(one), me / one,
                                  "yes" if me / one >= 1.8 else "**no**"))


if __name__ == "__main__":
    main()
