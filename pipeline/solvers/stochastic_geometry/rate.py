"""Load (mean or Poisson-Voronoi distribution) and rate coverage."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import stats

from pipeline.solvers.stochastic_geometry.constants import HUGE_SINR
from pipeline.solvers.stochastic_geometry.coverage import (
    CoverageResult, association_probabilities, coverage_given_tau, load_factors)
from pipeline.solvers.stochastic_geometry.model import NetLike, Network, _as_network


LOAD_MODELS = ("mean", "distribution")
CELL_AREA_SHAPE = 3.5  # Poisson-Voronoi cell area ~ Gamma(3.5, 3.5 lambda) (Ferenc & Neda 2007; Singh et al. [10])


def load_distribution(net: NetLike, user_density_per_km2: float, tail: float = 1e-8) -> list[np.ndarray]:
    """P[N_k = n + 1], n = 0, 1, ..., for every tier: the load of the typical user's station (Singh, Dhillon, Andrews 2013 [10]).

    The typical user's (tagged) tier-k cell has the size-biased area of a typical cell, Gamma(3.5 + 1, 3.5 / a_k)
    with a_k = P[k* = k] (R_E/R0_k)^2 / lambda_k its mean ground area per station, and holds Poisson(lambda_U area)
    other users, so N_k - 1 is negative binomial(4.5, 3.5 / (3.5 + c_k)), c_k = lambda_U a_k, of mean 1.28 c_k
    (the mean load (54) is 1 + 1.28 c_k). Truncated where the tail is below ``tail``."""
    if not (user_density_per_km2 >= 0):
        raise ValueError(f"user_density_per_km2 = {user_density_per_km2} must be >= 0 (users per km^2 of ground)")
    net = _as_network(net)
    assoc = association_probabilities(net)
    out = []
    for k, t in enumerate(net.tiers):
        c = 0.0 if t.density_per_km2 == 0 else (
            user_density_per_km2 * (t.earth_radius_m / t.base_radius_m) ** 2 * assoc[k] / t.density_per_km2)
        if c == 0:
            out.append(np.array([1.0]))
            continue
        p = CELL_AREA_SHAPE / (CELL_AREA_SHAPE + c)
        n_max = int(stats.nbinom.isf(tail, CELL_AREA_SHAPE + 1, p)) + 1
        out.append(stats.nbinom.pmf(np.arange(n_max + 1), CELL_AREA_SHAPE + 1, p))
    return out


def rate_coverage(net: NetLike, rate_threshold_bps: Any, user_density_per_km2: float | None = None,
                  load_model: str = "mean", **kw: Any) -> CoverageResult:
    """P[R > R_th] (26)/(50); with ``user_density_per_km2`` the load model is applied: ``"mean"`` is (53)-(55)
    (every tier-k user gets W / L_k, L_k the mean load (54)), ``"distribution"`` averages over the load
    distribution of :func:`load_distribution` (SINR and load taken independent, as in Singh et al. [10]):

        P[R > R_th] = sum_k sum_n P[N_k = n + 1] P[k* = k, SINR_k > 2^(R_th (n + 1) / W) - 1]
    """
    net = _as_network(net)
    rth = np.atleast_1d(np.asarray(rate_threshold_bps, float))
    if (rth < 0).any() or np.isnan(rth).any():
        raise ValueError("rate thresholds must be >= 0 bit/s")
    if load_model not in LOAD_MODELS:
        raise ValueError(f"load_model = {load_model!r} is unknown; use one of {LOAD_MODELS}")
    if user_density_per_km2 is not None and load_model == "distribution":
        return _rate_coverage_load_distribution(net, rth, user_density_per_km2, **kw)
    loads = np.ones(len(net.tiers)) if user_density_per_km2 is None else load_factors(net, user_density_per_km2)
    with np.errstate(over="ignore"):
        tau = np.expm1(np.log(2) * rth[None, :] * loads[:, None] / net.bandwidth_hz)
    res = coverage_given_tau(net, tau, **kw)
    return replace(res, thresholds=rth, loads=None if user_density_per_km2 is None else loads)


def _rate_coverage_load_distribution(net: Network, rth: np.ndarray, user_density_per_km2: float,
                                     grid_step_db: float = 1.0, **kw: Any) -> CoverageResult:
    """Per-tier SINR coverage on a dB grid (monotone cubic interpolation between grid points; the grid stops where the
    coverage of every tier is below 1e-9, found on a 2 dB pre-grid), averaged over the load distributions."""
    probs = load_distribution(net, user_density_per_km2)
    lo_db, hi_db = -80.0, 10 * math.log10(HUGE_SINR)
    with np.errstate(over="ignore", divide="ignore"):
        db = [10 * np.log10(np.expm1(np.log(2) * rth[:, None] * np.arange(1, p.size + 1)[None] / net.bandwidth_hz))
              for p in probs]
    need = np.concatenate([d[np.isfinite(d)].ravel() for d in db] + [np.array([lo_db])])
    g_lo, g_hi = max(lo_db, float(need.min()) - 1), min(hi_db, float(need.max()) + 1)
    coarse = np.arange(g_lo, g_hi + 2.0, 2.0)
    cov_c = coverage_given_tau(net, 10 ** (coarse / 10), **kw).per_tier.max(0)
    alive = np.flatnonzero(cov_c > 1e-9)
    top = float(coarse[min(alive[-1] + 1, coarse.size - 1)]) if alive.size else g_lo
    grid = np.arange(g_lo, top + grid_step_db, grid_step_db)
    res = coverage_given_tau(net, 10 ** (grid / 10), **kw)
    per_tier = np.zeros((len(net.tiers), rth.size))
    from scipy.interpolate import PchipInterpolator  # noqa: PLC0415

    for k, (p, d) in enumerate(zip(probs, db)):
        if grid.size < 2:
            continue
        x = np.clip(d, g_lo, None)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # flat stretches: zero slopes
            interp = PchipInterpolator(grid, res.per_tier[k])
        cov = np.where(x <= grid[-1], interp(np.minimum(x, grid[-1])), 0.0)  # (T, N)
        per_tier[k] = (np.clip(cov, 0.0, 1.0) * p[None]).sum(1)
    mean_loads = np.array([float((np.arange(1, p.size + 1) * p).sum()) for p in probs])
    return CoverageResult(rth, per_tier.sum(0), per_tier, res.association, res.error_estimate, net.names, mean_loads)


def rate_at_coverage(net: NetLike, target: float, user_density_per_km2: float | None = None,
                     max_sinr_db: float = 80.0, n_grid: int = 24, passes: int = 3, **kw: Any) -> float:
    """Rate (bit/s) that a fraction ``target`` of the users achieves, P[R > rate] = target (the
    "x-th percentile rate" of Park et al. §V); 0 when fewer than ``target`` users are covered at any
    rate (e.g. nothing visible). Bracketing on log-spaced grids, then log-linear interpolation."""
    net = _as_network(net)
    if not (0 < target < 1):
        raise ValueError(f"target = {target} must be a coverage fraction in (0, 1)")
    loads = np.ones(len(net.tiers)) if user_density_per_km2 is None else load_factors(net, user_density_per_km2)
    w = net.bandwidth_hz / loads.min()
    lo, hi = w * 1e-7, w * max_sinr_db / (10 * math.log10(2))
    for i_pass in range(passes):
        grid = np.geomspace(lo, hi, n_grid)
        cov = rate_coverage(net, grid, user_density_per_km2, **kw).total
        if i_pass == 0 and cov[0] < target:
            return 0.0
        if cov[-1] >= target:
            return float(grid[-1])
        i = int(np.flatnonzero(cov >= target)[-1])
        lo, hi, c0, c1 = grid[i], grid[i + 1], cov[i], cov[i + 1]
    frac = (c0 - target) / (c0 - c1) if c0 > c1 else 0.0
    return float(math.exp(math.log(lo) + frac * (math.log(hi) - math.log(lo))))
