#!/usr/bin/env python
"""Benchmark: one analytic coverage curve (Theorem 1 of Park et al., arXiv 2307.03343, 50 SINR thresholds) and one
Monte Carlo run of 1e5 drops for the default StinParams, plus their max |difference|.

Usage: .venv/bin/python scripts/bench_coverage.py [--drops 100000] [--seed 0] [--shadowing AS]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pipeline.solvers.stochastic_geometry import StinParams, simulate, sinr_coverage


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--drops", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shadowing", default=None, help="Table II preset (FHS, AS, ILS, RAYLEIGH); default: StinParams()")
    ap.add_argument("--repeats", type=int, default=3, help="analytic timing = best of this many runs")
    args = ap.parse_args()
    p = StinParams() if args.shadowing is None else StinParams().with_shadowing(args.shadowing)
    thr = np.linspace(-10, 30, 50)

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        an = sinr_coverage(p, thr)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    drops = simulate(p, args.drops, args.seed)
    t_mc = time.perf_counter() - t0
    mc = drops.sinr_coverage(thr)

    print(f"parameters: SR (b, m, Omega) = ({p.sr_b}, {p.sr_m}, {p.sr_omega}), m_T = {p.nakagami_m_tbs}, "
          f"lambda_S = {p.sat_density_per_km2:g}/km^2, lambda_T = {p.tbs_density_per_km2:g}/km^2")
    print(f"analytic coverage, {thr.size} thresholds: {min(times):.3f} s (best of {args.repeats}; "
          f"quadrature error estimate {an.error_estimate:.1e})")
    print(f"Monte Carlo, {args.drops} drops:        {t_mc:.3f} s")
    print(f"max |analytic - Monte Carlo|:          {np.max(np.abs(an.total - mc)):.4f} "
          f"(MC standard error <= {0.5 / np.sqrt(args.drops):.4f})")


if __name__ == "__main__":
    main()
