#!/usr/bin/env python
"""Benchmark: time per slot of each link-selection algorithm for 10, 100 and 1000 cars under both models.

Instances are random in the paper's ranges (Nguyen-Kha et al., arXiv 2408.15394: h in 10^[-12,-8], g in
10^[-17,-15], P_B 40 dBm, P_S 30 dBW, 20 MHz, NF 7 dB) with the network scaled to the cars:
B = 2K/5 BS cells (capacity 5, one outside user each: room for 1.6 K links) and
S = max(2, K/50) satellites (capacity 20, two outside users each). The exact method is the MILP under
full power and SCIP's MINLP under per_user (its gap to its own bound is printed when the limit stops it).
Usage: .venv/bin/python scripts/bench_link_selection.py [--sizes 10,100,1000] [--max-exact-ue 100] [--repeats 3]
       [--max-exact-ue-per-user 10] [--max-sca-ue 10] [--exact-time-limit-s 120]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings

import numpy as np

from pipeline.solvers.link_selection import (
    evaluate, random_instance, solve_exact, solve_exact_per_user, solve_greedy, solve_heuristic, solve_sca,
    solve_time_share)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--max-exact-ue", type=int, default=100, help="largest K for the full-power MILP")
    ap.add_argument("--max-exact-ue-per-user", type=int, default=10, help="largest K for SCIP under per_user")
    ap.add_argument("--max-sca-ue", type=int, default=10)
    ap.add_argument("--max-heuristic-ue-per-user", type=int, default=100,
                    help="largest K for greedy + local search under per_user (each move re-evaluates the slot)")
    ap.add_argument("--exact-time-limit-s", type=float, default=120.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    print(f"{'model':<10} {'UEs':>5} {'B':>4} {'S':>3}  {'algorithm':<10} {'s/slot':>9}  {'sum rate':>10}  gap to optimum")
    for model in ("full_power", "per_user"):
        for k in (int(v) for v in args.sizes.split(",")):
            nb, ns = max(4, 2 * k // 5), max(2, k // 50)
            algos = {"greedy": lambda p: solve_greedy(p)}
            if model == "full_power" or k <= args.max_heuristic_ue_per_user:
                algos["heuristic"] = lambda p: solve_heuristic(p)
            if k <= args.max_sca_ue:
                algos["sca"] = lambda p: solve_sca(p)[:2]
                algos["time_share"] = lambda p: solve_time_share(dataclasses.replace(p, interference="full_power"))[:2]
            limit = args.max_exact_ue if model == "full_power" else args.max_exact_ue_per_user
            if k <= limit:
                if model == "full_power":
                    algos["optimal"] = lambda p: solve_exact(p, time_limit_s=args.exact_time_limit_s)
                else:
                    algos["optimal"] = lambda p: solve_exact_per_user(
                        p, time_limit_s=args.exact_time_limit_s, start=solve_heuristic(p))  # includes the heuristic's time
            results: dict[str, list[tuple[float, float]]] = {a: [] for a in algos}
            bounds = []
            for r in range(args.repeats):
                p = random_instance(np.random.default_rng(r), k, nb, ns, cap_bs=5, cap_sat=20, interference=model)
                for name, f in algos.items():
                    t0 = time.perf_counter()
                    out = f(p)
                    secs = time.perf_counter() - t0
                    if hasattr(out, "upper_bound"):  # SCIP's answer
                        bounds.append((out.upper_bound - out.sum_rate) / out.upper_bound)
                        out = (out.x, out.y)
                    results[name].append((secs, evaluate(p, *out).sum_rate))
            opt = np.array([v for _, v in results["optimal"]]) if "optimal" in results else None
            for name, vals in results.items():
                secs = np.mean([t for t, _ in vals])
                rate = np.array([v for _, v in vals])
                gap = f"{np.mean((opt - rate) / opt):.3%}" if opt is not None else "n/a (no exact run)"
                if name == "optimal" and bounds:
                    gap += f" (max gap to SCIP's bound {max(bounds):.2e})"
                print(f"{model:<10} {k:>5} {nb:>4} {ns:>3}  {name:<10} {secs:9.4f}  {rate.mean():10.2f}  {gap}", flush=True)


if __name__ == "__main__":
    main()
