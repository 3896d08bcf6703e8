#!/usr/bin/env python
"""Benchmark: time per slot of each link-selection algorithm for 10, 100 and 1000 UEs.

Instances are random in the ranges of seed-math 1.10 (h in 10^[-12,-8], g in 10^[-17,-15],
P_B 40 dBm, P_S 30 dBW, 20 MHz, NF 7 dB) with the network scaled to the UEs:
B = 2K/5 BS cells (capacity 5, one outside user each: room for 1.6 K links) and
S = max(2, K/50) satellites (capacity 20, two outside users each).
Usage: .venv/bin/python scripts/bench_link_selection.py [--max-exact-ue 100] [--max-sca-ue 10]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from pipeline.solvers.link_selection import (
    evaluate, random_instance, solve_exact, solve_greedy, solve_heuristic, solve_sca)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--max-exact-ue", type=int, default=100)
    ap.add_argument("--max-sca-ue", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    print(f"{'UEs':>5} {'B':>4} {'S':>3}  {'algorithm':<9} {'s/slot':>9}  {'sum rate':>10}  gap to optimum")
    for k in (int(v) for v in args.sizes.split(",")):
        nb, ns = max(4, 2 * k // 5), max(2, k // 50)
        algos = {"greedy": solve_greedy, "heuristic": solve_heuristic}
        if k <= args.max_sca_ue:
            algos["sca"] = lambda p: solve_sca(p)[:2]
        if k <= args.max_exact_ue:
            algos["optimal"] = lambda p: solve_exact(p, time_limit_s=600.0)
        results: dict[str, list[tuple[float, float]]] = {a: [] for a in algos}
        for r in range(args.repeats):
            p = random_instance(np.random.default_rng(r), k, nb, ns, cap_bs=5, cap_sat=20)
            for name, f in algos.items():
                t0 = time.perf_counter()
                x, y = f(p)
                results[name].append((time.perf_counter() - t0, evaluate(p, x, y).sum_rate))
        opt = np.array([v for _, v in results["optimal"]]) if "optimal" in results else None
        for name, vals in results.items():
            secs = np.mean([t for t, _ in vals])
            rate = np.array([v for _, v in vals])
            gap = f"{np.mean((opt - rate) / opt):.3%}" if opt is not None else "n/a (no exact run)"
            print(f"{k:>5} {nb:>4} {ns:>3}  {name:<9} {secs:9.4f}  {rate.mean():10.2f}  {gap}")


if __name__ == "__main__":
    main()
