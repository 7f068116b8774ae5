#!/usr/bin/env python3
"""Markdown tables of the medians in ops_bench / mlp_bench JSON output.

    OPENBLAS_NUM_THREADS=1 build/bench/ops_bench --benchmark_repetitions=5 \
        --benchmark_report_aggregates_only=true --benchmark_out=ops.json --benchmark_out_format=json
    OPENBLAS_NUM_THREADS=1 build/bench/mlp_bench --benchmark_repetitions=5 \
        --benchmark_report_aggregates_only=true --benchmark_out=mlp.json --benchmark_out_format=json
    python3 bench/summarize.py ops.json mlp.json

Per-op figures are the median time of one iteration divided by the chain
length (1000). backward = (forward+backward) - forward.
"""
import json
import re
import sys

CHAIN = 1000
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
SHAPES = {"0": "(1,)", "1": "(32, 50)"}
KINDS = {"0": "add/mul/tanh", "1": "add", "2": "mul", "3": "tanh"}
CASES = ["BM_Record", "BM_NoGrad", "BM_ForwardBackward", "BM_RawXtensor"]
CONFIGS = {"0": "digits: batch 32, 64-50-10 sigmoid", "1": "batch 128, 784-512-256-10 relu"}


def aggregates(paths):
    """{run_name: {aggregate_name: entry}} over all files."""
    out = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        for b in data["benchmarks"]:
            if b.get("run_type") != "aggregate":
                continue
            out.setdefault(b["run_name"], {})[b["aggregate_name"]] = b
    return out


def ns(entry, key):
    return entry[key] * TO_NS[entry["time_unit"]]


def ops_table(agg):
    rows = []
    for name, a in agg.items():
        m = re.fullmatch(r"(BM_\w+)/shape:(\d)/kind:(\d)", name)
        if not m or "median" not in a:
            continue
        case, shape, kind = m.groups()
        med, cv = a["median"], a.get("cv", {})
        rows.append((CASES.index(case) if case in CASES else 99, shape, kind, case,
                     ns(med, "real_time") / CHAIN, ns(med, "cpu_time") / CHAIN,
                     100 * cv.get("real_time", float("nan"))))
    if not rows:
        return
    print("| case | shape | ops | ns/op (real, median) | ns/op (CPU, median) | CV real % |")
    print("|---|---|---|---:|---:|---:|")
    for _, shape, kind, case, real, cpu, cv in sorted(rows):
        print(f"| {case} | {SHAPES[shape]} | {KINDS[kind]} | {real:.0f} | {cpu:.0f} | {cv:.1f} |")
    print()


def floors_table(agg):
    rows = [(n, agg[n]["median"]) for n in ("BM_MakeNode", "BM_DefaultArray") if "median" in agg.get(n, {})]
    if not rows:
        return
    print("| floor | ns (real, median) | ns (CPU, median) |")
    print("|---|---:|---:|")
    for name, med in rows:
        print(f"| {name} | {ns(med, 'real_time'):.0f} | {ns(med, 'cpu_time'):.0f} |")
    print()


def mlp_table(agg):
    def med(name, key="real_time"):
        a = agg.get(name, {}).get("median")
        return ns(a, key) / 1e3 if a else None  # microseconds

    printed = False
    for cfg, label in CONFIGS.items():
        fwd = med(f"BM_MLP_Forward/config:{cfg}")
        fb = med(f"BM_MLP_ForwardBackward/config:{cfg}")
        if fwd is None or fb is None:
            continue
        nog = med(f"BM_MLP_ForwardNoGrad/config:{cfg}")
        bwd_manual = med(f"BM_MLP_Backward/config:{cfg}/manual_time")
        if not printed:
            print("| MLP | forward µs | forward no_grad µs | forward+backward µs | backward µs (difference) "
                  "| backward/forward | backward µs (timed alone) | its ratio |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            printed = True
        bwd = fb - fwd
        fmt = lambda v: "n/a" if v is None else f"{v:.1f}"
        ratio_manual = "n/a" if bwd_manual is None else f"{bwd_manual / fwd:.2f}"
        print(f"| {label} | {fwd:.1f} | {fmt(nog)} | {fb:.1f} | {bwd:.1f} | {bwd / fwd:.2f} "
              f"| {fmt(bwd_manual)} | {ratio_manual} |")
    if printed:
        print()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    agg = aggregates(sys.argv[1:])
    ops_table(agg)
    floors_table(agg)
    mlp_table(agg)


if __name__ == "__main__":
    main()
