"""Data of Park et al. Figs. 3-5."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from pipeline.solvers.stochastic_geometry.model import StinParams
from pipeline.solvers.stochastic_geometry.rate import rate_at_coverage, rate_coverage
from pipeline.solvers.stochastic_geometry.simulate import mc_rate_coverage, simulate


# ================================================================== figure data (Park et al. Figs. 3-5)
def fig3_data(params: StinParams | None = None, rate_threshold_bps: Any = None,
              sat_densities_per_km2: Sequence[float] = (1e-7, 5e-7, 2e-6), n_drops: int = 100_000,
              seed: int = 0) -> dict[str, Any]:
    """Fig. 3: Theorem 1 vs simulation with Rayleigh fading everywhere (Park et al. §IV), one curve
    per satellite density (the caption's values are [MISSING]; these are placeholders)."""
    base = (params or StinParams()).with_shadowing("RAYLEIGH")
    base = replace(base, nakagami_m_tbs=1.0)
    rth = np.geomspace(1e5, 5e8, 50) if rate_threshold_bps is None else np.asarray(rate_threshold_bps, float)
    out: dict[str, Any] = {"rate_bps": rth, "sat_density_per_km2": list(sat_densities_per_km2),
                           "analytic": [], "monte_carlo": [], "max_abs_diff": []}
    for i, lam in enumerate(sat_densities_per_km2):
        p = replace(base, sat_density_per_km2=float(lam))
        an = rate_coverage(p, rth).total
        mc = mc_rate_coverage(p, simulate(p, n_drops, seed + i), rth)
        out["analytic"].append(an)
        out["monte_carlo"].append(mc)
        out["max_abs_diff"].append(float(np.max(np.abs(an - mc))))
    return out


def fig4_data(params: StinParams | None = None, sat_densities_per_km2: Sequence[float] = (0.0, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4),
              presets: Sequence[str] = ("FHS", "AS"), tbs_density_per_km2: float = 1e-4,
              rate_threshold_bps: Any = None, median_target: float = 0.5) -> dict[str, Any]:
    """Fig. 4: coverage extension in a rural area (Park et al. §V-A): rate coverage curves and the
    median rate versus satellite density for each shadowing preset. lambda_S = 0 is TN only.
    The rural TBS density and the densities swept are [PLACEHOLDER]s (Fig. 4 values [MISSING])."""
    base = replace(params or StinParams(), tbs_density_per_km2=tbs_density_per_km2)
    rth = np.geomspace(1e4, 3e8, 50) if rate_threshold_bps is None else np.asarray(rate_threshold_bps, float)
    out: dict[str, Any] = {"rate_bps": rth, "sat_density_per_km2": list(sat_densities_per_km2),
                           "tbs_density_per_km2": tbs_density_per_km2, "coverage": {}, "median_rate_bps": {}}
    for name in presets:
        p0 = base.with_shadowing(name)
        curves, medians = [], []
        for lam in sat_densities_per_km2:
            p = replace(p0, sat_density_per_km2=float(lam))
            curves.append(rate_coverage(p, rth).total)
            medians.append(rate_at_coverage(p, median_target))
        out["coverage"][name] = np.array(curves)
        out["median_rate_bps"][name] = np.array(medians)
    return out


def fig5_data(params: StinParams | None = None, sat_bias_db: Sequence[float] = tuple(range(0, 61, 5)),
              combos: Sequence[tuple[float, float]] = ((0.1, 60.0), (0.1, 80.0), (1.0, 80.0)),
              presets: Sequence[str] = ("AS", "FHS"), tbs_density_per_km2: float = 1.0,
              user_density_per_km2: float = 100.0, achieved_fraction: float = 0.95) -> dict[str, Any]:
    """Fig. 5: offloading in a dense urban area (Park et al. §V-B): the rate achieved by
    ``achieved_fraction`` of the users (load model (53)-(55)) versus the satellite bias B_S, for
    (lambda_S, G_S0 dBi) combinations, and the no-satellite baseline. The percentile, densities,
    user density and gains of the paper are [MISSING]; these defaults are placeholders chosen so that
    the offloading gain the text describes appears (it needs lambda_S ~ lambda_T, a large B_S and a
    high G_S0 in this pure d^-alpha model)."""
    base = replace(params or StinParams(), tbs_density_per_km2=tbs_density_per_km2)
    out: dict[str, Any] = {"sat_bias_db": list(sat_bias_db), "combos": list(combos), "achieved_fraction": achieved_fraction,
                           "user_density_per_km2": user_density_per_km2, "rate_bps": {}, "no_satellite_bps": {}}
    for name in presets:
        p0 = base.with_shadowing(name)
        out["no_satellite_bps"][name] = rate_at_coverage(replace(p0, sat_density_per_km2=0.0), achieved_fraction,
                                                         user_density_per_km2)
        rows = []
        for lam, gain in combos:
            rows.append([rate_at_coverage(replace(p0, sat_density_per_km2=lam, sat_gain_serving_dbi=gain,
                                                  sat_bias_db=float(bias)), achieved_fraction, user_density_per_km2)
                         for bias in sat_bias_db])
        out["rate_bps"][name] = np.array(rows)
    return out
