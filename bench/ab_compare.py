#!/usr/bin/env python3
"""A/B of two peer_bench builds from runs made alternately (old, new, old, new, ...).

    python3 bench/ab_compare.py --old old1.txt old2.txt ... --new new1.txt new2.txt ...

Pairs run i of the old build with run i of the new one (made one after the
other) and prints, for every case and contender, the medians over the runs of
each build, the ratio new / old of each pair (its median and range), the same
for the CPU-time medians, and the ratio of the two builds' within-run ratios
against LibTorch and against the GEMM floor, which the load of the moment
affects least (LibTorch and the floor are the same code in both binaries).
"""
import argparse
import re
import statistics
import sys

LINE = re.compile(
    r"^  (?P<case>.+?)\s+(?P<who>wengert|torch|floor|fused)\s+(?P<median>[\d.]+) (?P<unit>\w+)\s+"
    r"(?P<min>[\d.]+) \w+\s+(?P<max>[\d.]+) \w+\s+(?P<rest>.*)$")


def parse(path):
    """{(case, who): (wall median, cpu median, unit)} of one run."""
    out = {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if not m:
                continue
            rest = m.group("rest").split()
            cpu = float(rest[-3])  # cpu median, cpu/wall, it/round are the last three columns
            out[(m.group("case"), m.group("who"))] = (float(m.group("median")), cpu, m.group("unit"))
    return out


def spread(values):
    return "%.3f [%.3f-%.3f]" % (statistics.median(values), min(values), max(values))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", nargs="+", required=True)
    ap.add_argument("--new", nargs="+", required=True)
    a = ap.parse_args()
    if len(a.old) != len(a.new):
        sys.exit("as many old runs as new ones, please (they are paired in order)")
    old = [parse(p) for p in a.old]
    new = [parse(p) for p in a.new]
    keys = [k for k in old[0] if all(k in r for r in old + new)]
    print("| case | who | old median | new median | new/old wall [range] | new/old cpu [range] "
          "| new/old of (vs torch) | new/old of (vs floor) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for case, who in keys:
        unit = old[0][(case, who)][2]
        wall = [n[(case, who)][0] / o[(case, who)][0] for o, n in zip(old, new)]
        cpu = [n[(case, who)][1] / o[(case, who)][1] for o, n in zip(old, new)]

        def relative(against):
            if who == against or (case, against) not in old[0]:
                return ""
            return spread([(n[(case, who)][0] / n[(case, against)][0]) / (o[(case, who)][0] / o[(case, against)][0])
                           for o, n in zip(old, new)])

        print("| %s | %s | %.3f %s | %.3f %s | %s | %s | %s | %s |" % (
            case, who, statistics.median(r[(case, who)][0] for r in old), unit,
            statistics.median(r[(case, who)][0] for r in new), unit, spread(wall), spread(cpu),
            relative("torch"), relative("floor")))


if __name__ == "__main__":
    main()
