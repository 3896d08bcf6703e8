"""Load (Park et al.'s mean, Singh et al.'s Poisson-Voronoi distribution, or ours given the visible-station count)
and rate coverage."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats
from scipy.interpolate import PchipInterpolator

from pipeline.solvers.stochastic_geometry.constants import HUGE_SINR, M2_PER_KM2
from pipeline.solvers.stochastic_geometry.cells import tagged_cell_moments_given_visible
from pipeline.solvers.stochastic_geometry.coverage import (
    CoverageResult, association_probabilities, coverage_given_tau, coverage_given_visible, load_factors)
from pipeline.solvers.stochastic_geometry.model import NetLike, Network, _as_network


LOAD_MODELS = ("mean", "distribution", "visible_count")
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

        P[R > R_th] = sum_k sum_n P[N_k = n + 1] P[k* = k, SINR_k > 2^(R_th (n + 1) / W) - 1],

    ``"visible_count"`` conditions both on the number m of visible stations of the serving tier
    (:func:`load_given_visible`; SINR and load taken independent given m) [RECON: ours, docs/models/coverage.md]:

        P[R > R_th] = sum_k sum_m P[N_vis,k = m, k* = k] sum_n P[N_k = n + 1 | m] P[SINR_k > 2^(R_th (n + 1) / W) - 1 | m].
    """
    net = _as_network(net)
    rth = np.atleast_1d(np.asarray(rate_threshold_bps, float))
    if (rth < 0).any() or np.isnan(rth).any():
        raise ValueError("rate thresholds must be >= 0 bit/s")
    if load_model not in LOAD_MODELS:
        raise ValueError(f"load_model = {load_model!r} is unknown; use one of {LOAD_MODELS}")
    if user_density_per_km2 is not None and load_model == "distribution":
        return _rate_coverage_load_distribution(net, rth, user_density_per_km2, **kw)
    if user_density_per_km2 is not None and load_model == "visible_count":
        return _rate_coverage_visible_count(net, rth, user_density_per_km2, **kw)
    loads = np.ones(len(net.tiers)) if user_density_per_km2 is None else load_factors(net, user_density_per_km2)
    with np.errstate(over="ignore"):
        tau = np.expm1(np.log(2) * rth[None, :] * loads[:, None] / net.bandwidth_hz)
    res = coverage_given_tau(net, tau, **kw)
    return replace(res, thresholds=rth, loads=None if user_density_per_km2 is None else loads)


def _load_thresholds_db(rth: np.ndarray, n_max: int, bandwidth_hz: float) -> np.ndarray:
    """SINR thresholds (dB, (T, n_max)) for R_th with n = 1..n_max users sharing the station: 2^(R_th n / W) - 1
    (inf where it overflows, -inf at R_th = 0)."""
    with np.errstate(over="ignore", divide="ignore"):
        return 10 * np.log10(np.expm1(np.log(2) * rth[:, None] * np.arange(1, n_max + 1)[None] / bandwidth_hz))


def _sinr_grid_db(net: Network, need_db: np.ndarray, tiers: Any, alive_cut: float, step_db: float,
                  **kw: Any) -> tuple[np.ndarray, float]:
    """A dB grid (and its start) covering the finite thresholds ``need_db`` (within [-80 dB, HUGE_SINR]) that stops
    where the coverage of ``tiers`` falls below ``alive_cut``, found on a 2 dB pre-grid."""
    lo_db, hi_db = -80.0, 10 * math.log10(HUGE_SINR)
    fin = need_db[np.isfinite(need_db)]
    g_lo = max(lo_db, float(fin.min()) - 1) if fin.size else lo_db
    g_hi = min(hi_db, float(fin.max()) + 1) if fin.size else lo_db
    coarse = np.arange(g_lo, g_hi + 2.0, 2.0)
    alive = np.flatnonzero(coverage_given_tau(net, 10 ** (coarse / 10), **kw).per_tier[tiers].max(0) > alive_cut)
    top = float(coarse[min(alive[-1] + 1, coarse.size - 1)]) if alive.size else g_lo
    return np.arange(g_lo, top + step_db, step_db), g_lo


def _coverage_at_db(grid: np.ndarray, g_lo: float, coverage: np.ndarray, thresholds_db: np.ndarray) -> np.ndarray:
    """Coverage on ``grid`` at ``thresholds_db`` (monotone cubic; below the grid its first value, above it 0)."""
    x = np.clip(thresholds_db, g_lo, None)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # flat stretches: zero slopes
        interp = PchipInterpolator(grid, coverage)
    return np.clip(np.where(x <= grid[-1], interp(np.minimum(x, grid[-1])), 0.0), 0.0, 1.0)


def _rate_coverage_load_distribution(net: Network, rth: np.ndarray, user_density_per_km2: float,
                                     grid_step_db: float = 1.0, **kw: Any) -> CoverageResult:
    """Per-tier SINR coverage on a dB grid (monotone cubic interpolation between grid points; the grid stops where the
    coverage of every tier is below 1e-9, found on a 2 dB pre-grid), averaged over the load distributions."""
    probs = load_distribution(net, user_density_per_km2)
    db = [_load_thresholds_db(rth, p.size, net.bandwidth_hz) for p in probs]
    need = np.concatenate([d.ravel() for d in db] + [np.array([-80.0])])  # the grid starts at -80 dB
    grid, g_lo = _sinr_grid_db(net, need, slice(None), 1e-9, grid_step_db, **kw)
    res = coverage_given_tau(net, 10 ** (grid / 10), **kw)
    per_tier = np.zeros((len(net.tiers), rth.size))
    for k, (p, d) in enumerate(zip(probs, db)):
        if grid.size < 2:
            continue
        per_tier[k] = (_coverage_at_db(grid, g_lo, res.per_tier[k], d) * p[None]).sum(1)
    mean_loads = np.array([float((np.arange(1, p.size + 1) * p).sum()) for p in probs])
    return CoverageResult(rth, per_tier.sum(0), per_tier, res.association, res.error_estimate, net.names, mean_loads)


@dataclass(frozen=True)
class VisibleCountLoad:
    """Load of the typical user's tier-k station given the number n of visible tier-k stations."""

    tier: int
    n_values: np.ndarray  # (N,) visible counts
    probability: np.ndarray  # (N,) P[N_vis,k = n, k* = k]
    mean_others: np.ndarray  # (N,) E[N_k - 1 | n] (users other than the typical one)
    var_others: np.ndarray  # (N,) Var(N_k - 1 | n)
    serving_distance_m: np.ndarray  # (R,) quadrature nodes of the serving distance
    weights: np.ndarray  # (N, R) quadrature weights of P[N_vis,k = n, k* = k, R_k in dr]

    def pmf(self, n_max: int) -> np.ndarray:
        """P[N_k - 1 = l | n], l = 0..n_max (N, n_max + 1): negative binomial with the two moments (Poisson when the
        area does not vary)."""
        mu = self.mean_others
        extra = np.maximum(self.var_others - mu, 0.0)  # lambda_U^2 Var(A | n)
        l = np.arange(n_max + 1)[None]
        out = stats.poisson.pmf(l, mu[:, None])
        nb = extra > 1e-9 * np.maximum(mu, 1e-300) ** 2
        if nb.any():
            out[nb] = stats.nbinom.pmf(l, (mu[nb] ** 2 / extra[nb])[:, None], (mu[nb] / (mu[nb] + extra[nb]))[:, None])
        return out


def visible_count_values(tier_mean_visible: float, tail: float = 1e-9) -> np.ndarray:
    """Visible counts 1..n_max with P[Poisson(N_bar) > n_max] <= tail."""
    return np.arange(1, int(stats.poisson.isf(tail, tier_mean_visible)) + 2)


def load_given_visible(net: NetLike, user_density_per_km2: float, k: int, *, r_nodes: int = 16, samples: int = 3000,
                       seed: int = 0, tail: float = 1e-9, coverage_nodes: tuple[int, int] = (24, 18)) -> VisibleCountLoad:
    """Moments of the tier-k station load seen by the typical user given the visible count n (module
    :mod:`~pipeline.solvers.stochastic_geometry.cells`): E[N - 1 | n] = lambda_U E[A | n],
    Var(N - 1 | n) = lambda_U E[A | n] + lambda_U^2 Var(A | n), with E[A^j | n] the average over the serving distance
    given n of E[A^j | r1, n] (computed at ``r_nodes`` quantiles of the serving distance, monotone cubic in log r)."""
    if not (user_density_per_km2 >= 0):
        raise ValueError(f"user_density_per_km2 = {user_density_per_km2} must be >= 0 (users per km^2 of ground)")
    net = _as_network(net)
    tk = net.tiers[k]
    n_values = visible_count_values(tk.mean_visible(), tail)
    r, w, _ = coverage_given_visible(net, k, [0.0], n_values, *coverage_nodes)
    lam = user_density_per_km2 / M2_PER_KM2
    pn = w.sum(1)
    if lam == 0:
        zero = np.zeros(n_values.size)
        return VisibleCountLoad(k, n_values, pn, zero, zero, r, w)
    cdf = np.cumsum(w.sum(0))
    tails = np.array([1e-4, 1e-3, 1e-2])
    inner = (np.arange(max(r_nodes - 6, 1)) + 0.5) / max(r_nodes - 6, 1)
    levels = np.concatenate([tails, 0.02 + 0.96 * inner, 1 - tails[::-1]]) * cdf[-1]
    nodes = np.unique(np.interp(levels, cdf, r))  # quantiles of the serving distance: nodes where the users are
    if nodes.size < 2:  # every user at one distance
        nodes = np.array([r.min(), r.max()])
    m1, m2 = tagged_cell_moments_given_visible(net, k, nodes, n_values, samples=samples, seed=seed)
    log_r = np.clip(np.log(r), np.log(nodes[0]), np.log(nodes[-1]))
    m1_r = PchipInterpolator(np.log(nodes), m1, axis=0)(log_r).T  # (N, R), monotone cubic in log r
    m2_r = PchipInterpolator(np.log(nodes), m2, axis=0)(log_r).T
    safe = np.maximum(pn, 1e-300)
    mean_area = (w * m1_r).sum(1) / safe
    var_area = np.maximum((w * m2_r).sum(1) / safe - mean_area**2, 0.0)
    return VisibleCountLoad(k, n_values, pn, lam * mean_area, lam * mean_area + lam**2 * var_area, r, w)


def _rate_coverage_visible_count(net: Network, rth: np.ndarray, user_density_per_km2: float, grid_step_db: float = 0.5,
                                 samples: int = 3000, seed: int = 0, tail: float = 1e-9) -> CoverageResult:
    """The ``"visible_count"`` model: per tier and visible count, the SINR coverage on a dB grid (monotone cubic
    interpolation; the grid stops where the tier's coverage is below 1e-12, found on a 2 dB pre-grid) averaged over
    the load given that count."""
    per_tier = np.zeros((len(net.tiers), rth.size))
    mean_loads = np.ones(len(net.tiers))
    for k, tk in enumerate(net.tiers):
        if tk.density_per_km2 == 0:
            continue
        load = load_given_visible(net, user_density_per_km2, k, samples=samples, seed=seed, tail=tail)
        pn = load.probability
        mean_loads[k] = 1 + float((pn * load.mean_others).sum() / max(pn.sum(), 1e-300))
        l_max = int(np.max(load.mean_others + 12 * np.sqrt(load.var_others))) + 10
        pl = load.pmf(l_max)  # (N, L)
        need = _load_thresholds_db(rth, l_max + 1, net.bandwidth_hz)
        grid, g_lo = _sinr_grid_db(net, need, [k], 1e-12, grid_step_db)
        if grid.size < 2:
            continue
        _, w, cov = coverage_given_visible(net, k, 10 ** (grid / 10), load.n_values)
        cov_n = np.einsum("nr,ntr->nt", w, cov) / np.maximum(pn, 1e-300)[:, None]  # P[SINR > tau | n, k* = k]
        for i in range(load.n_values.size):
            if pn[i] > 0:
                per_tier[k] += pn[i] * (_coverage_at_db(grid, g_lo, cov_n[i], need) * pl[i][None]).sum(1)
    res = coverage_given_tau(net, np.array([1.0]))  # association and quadrature error of the network
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
