#!/usr/bin/env python
"""Benchmark: Wang & Wang's (Sensors 2026) joint satellite/BS ISAC beamforming at the paper's size (M = 8, 3 x 3 UPA, Ns = 7).

Prints, per scheme, the delivered sum rate (from the independent evaluator), whether every
constraint holds, CCP iterations, time per iteration and to convergence, for Algorithm 1
(pa1), Algorithm 2 (pa2, at each --csi-error; the paper's 0.08 is read as a relative radius) and
the DAS / TDMA / IBS benchmarks.
Usage: .venv/bin/python scripts/bench_beamforming.py [--seed 0] [--quick] [--csi-error 0.08,0.005]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from pipeline.solvers.beamforming import (
    BeamformingInfeasible,
    SolverOptions,
    paper_problem,
    solve_das,
    solve_ibs,
    solve_pa1,
    solve_pa2,
    solve_tdma,
)


def _row(name: str, d, wall: float) -> str:
    tr, r = d.trace, d.report
    per_it = float(np.mean(tr.iteration_s)) if tr.iteration_s else float("nan")
    status = "all constraints met" if r.feasible else "; ".join(r.violations)
    return (f"{name:<16} {r.delivered_sum_rate:9.3f} {r.backhaul_rate:9.3f} {tr.iterations:5d} {per_it:8.3f} "
            f"{wall:8.2f}  {tr.stopped} | {d.extraction} | {status}" + (f" | {'; '.join(d.notes)}" if d.notes else ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="SolverOptions.quick() instead of the paper's nu = 1e-5, K = 30")
    ap.add_argument("--csi-error", default="0.08,0.005", help="relative CSI error radii for PA2")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    opts = SolverOptions.quick() if args.quick else SolverOptions()
    p = paper_problem(args.seed)
    print(f"seed {args.seed}: M = {p.n_users}, Nb = {p.n_bs}, Ns = {p.n_sat}, T = {p.n_targets}, "
          f"Ps = {10 * np.log10(p.p_sat_w):.1f} dBW, PT = {10 * np.log10(p.p_bs_w):.1f} dBW, r0 = {p.rate_min:.3f}; "
          f"tolerance {opts.tolerance:g}, max {opts.max_iterations} iterations")
    print(f"{'scheme':<16} {'sum rate':>9} {'R_s':>9} {'iter':>5} {'s/iter':>8} {'total s':>8}  stop | rank one | constraints")
    runs: list = [("pa1", solve_pa1, p)]
    for eps in (float(e) for e in args.csi_error.split(",") if e):
        runs.append((f"pa2 eps={eps:g}", solve_pa2, p.with_csi_error(eps)))
    runs += [("das", solve_das, p), ("tdma", solve_tdma, p), ("ibs", solve_ibs, p)]
    results = {}
    for name, solver, prob in runs:
        t0 = time.perf_counter()
        try:
            d = solver(prob, opts)
        except BeamformingInfeasible as exc:
            print(f"{name:<16} infeasible ({time.perf_counter() - t0:.1f} s): {exc}")
            continue
        results[name] = d
        print(_row(name, d, time.perf_counter() - t0))
    if "pa1" in results:
        ref = results["pa1"].sum_rate
        for name, d in results.items():
            if name.startswith("pa2"):
                print(f"robust gap {name}: {ref - d.sum_rate:.3f} bit/s/Hz ({100 * (ref - d.sum_rate) / ref:.1f} % of PA1)")
        obj = results["pa1"].trace.objective
        print("PA1 objective per iterate: " + " ".join(f"{v:.4f}" for v in obj))


if __name__ == "__main__":
    main()
