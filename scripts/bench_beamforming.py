#!/usr/bin/env python
"""Benchmark: Wang & Wang's (Sensors 2026) joint satellite/BS ISAC beamforming at the paper's size (M = 8, 3 x 3 UPA, Ns = 7).

Prints, per scheme, the delivered sum rate (from the independent evaluator), whether every
constraint holds, CCP iterations, time per iteration and to convergence, for Algorithm 1
(pa1), Algorithm 2 (pa2, at each --csi-error; the paper's 0.08 is read as a relative radius) and
the DAS / TDMA / IBS benchmarks.
Usage: .venv/bin/python scripts/bench_beamforming.py [--seed 0] [--quick] [--csi-error 0.08,0.005]
       .venv/bin/python scripts/bench_beamforming.py --robust-scaling 4,6,8 [--iterations 2] [--csi-error 0.005]
The second form times Algorithm 2 per CCP iteration for M users of the paper setting under both robust
bounds (Cauchy-Schwarz SOCs; the S-procedure LMIs of (66)-(68)): phase 1, each iteration, the Clarabel
interior-point iterations of the last subproblem, and the sum rate reached.
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


def robust_scaling(users: list[int], *, seed: int, eps: float, iterations: int) -> None:
    """Algorithm 2 per CCP iteration vs M under both robust bounds (the S-procedure's cost)."""
    import dataclasses

    import cvxpy as cp

    from pipeline.solvers.beamforming import PaperSetting

    opts = dataclasses.replace(SolverOptions(), max_iterations=iterations, tolerance=0.0)
    solves: list[tuple[str, float, int]] = []
    orig = cp.Problem.solve

    def counted(self, *a, **k):  # every Clarabel call: status, wall time, interior-point iterations
        t0 = time.perf_counter()
        try:
            return orig(self, *a, **k)
        finally:
            st = self.solver_stats
            solves.append((str(self.status), time.perf_counter() - t0, st.num_iters if st and st.num_iters else 0))

    cp.Problem.solve = counted
    print(f"PA2 scaling, paper setting seed {seed}, relative eps = {eps:g}, {iterations} CCP iterations")
    print(f"{'M':>3} {'bounds':<15} {'phase1 s':>9} {'s/iteration':>12} {'solves':>7} {'IPM its':>8} {'sum rate':>9}  stop")
    for m in users:
        p = paper_problem(seed, dataclasses.replace(PaperSetting(), n_users=m)).with_csi_error(eps)
        for bounds in ("cauchy-schwarz", "s-procedure"):
            solves.clear()
            t0 = time.perf_counter()
            try:
                d = solve_pa2(p, opts, bounds=bounds)
            except BeamformingInfeasible as exc:
                print(f"{m:3d} {bounds:<15} infeasible ({time.perf_counter() - t0:.1f} s): {exc.families}")
                continue
            tr = d.trace
            per = float(np.mean(tr.iteration_s)) if tr.iteration_s else float("nan")
            print(f"{m:3d} {bounds:<15} {tr.phase1_s:9.2f} {per:12.2f} {len(solves):7d} "
                  f"{sum(s[2] for s in solves):8d} {d.sum_rate:9.4f}  {tr.stopped} | "
                  f"{'; '.join(sorted({s[0] for s in solves}))}", flush=True)
    cp.Problem.solve = orig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="SolverOptions.quick() instead of the paper's nu = 1e-5, K = 30")
    ap.add_argument("--csi-error", default="0.08,0.005", help="relative CSI error radii for PA2")
    ap.add_argument("--robust-scaling", default="", help="comma-separated user counts: time Algorithm 2 per "
                                                          "iteration under both robust bounds instead")
    ap.add_argument("--iterations", type=int, default=2, help="CCP iterations per run of --robust-scaling")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    if args.robust_scaling:
        eps = float(args.csi_error.split(",")[-1])
        robust_scaling([int(m) for m in args.robust_scaling.split(",")], seed=args.seed, eps=eps,
                       iterations=args.iterations)
        return
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
