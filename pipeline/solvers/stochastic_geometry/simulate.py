"""Monte Carlo drops of the same model, their SINR and rate coverage."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.solvers.stochastic_geometry.coverage import _loads_from_assoc
from pipeline.solvers.stochastic_geometry.model import NetLike, Network, _as_network


# ================================================================== Monte Carlo
@dataclass(frozen=True)
class Drops:
    """Per-drop Monte Carlo outcome (typical user per drop)."""

    serving: np.ndarray  # (D,) tier index, -1 if nothing visible
    sinr: np.ndarray  # (D,) linear SINR of the serving link (0 if unserved)
    nearest_m: np.ndarray  # (K, D) nearest visible distance per tier (inf if none)
    n_visible: np.ndarray  # (K, D) visible points per tier
    tier_names: tuple[str, ...]

    def sinr_coverage(self, sinr_threshold_db: Any) -> np.ndarray:
        thr = 10 ** (np.atleast_1d(np.asarray(sinr_threshold_db, float)) / 10)
        return (self.sinr[None, :] > thr[:, None]).mean(1)

    def coverage_given_tau(self, tau: np.ndarray) -> np.ndarray:
        """(K, T) joint coverage P[k* = k, SINR > tau[k]]."""
        tau = np.asarray(tau, float)
        out = np.zeros(tau.shape)
        for k in range(tau.shape[0]):
            s = np.sort(self.sinr[self.serving == k])
            out[k] = (s.size - np.searchsorted(s, tau[k], side="right")) / self.serving.size
        return out

    def association(self) -> np.ndarray:
        return np.array([(self.serving == k).mean() for k in range(len(self.tier_names))])


def simulate(net: NetLike, n_drops: int, seed: int | np.random.Generator = 0, *,
             max_points_per_chunk: int = 2_000_000) -> Drops:
    """Monte Carlo drops of the exact model (same seed => same output).

    Per tier and drop: Poisson(lambda |cap|) points uniform on the base-sphere cap
    {1 - cos(theta) <= u_max = (R0 + b - R_E)/(R0 + b)} (the only points that can be visible;
    thinning of the full PPP), heights U[a, b], visible iff (R0 + h) cos(theta) >= R_E, distance
    d^2 = (R0 + h - R_E)^2 + 2 R_E (R0 + h) (1 - cos(theta)). Nearest visible point per tier,
    biased max-power association, serving fading drawn from the tier's serving fading, every other
    visible point interferes with G_I and its own fading (kept with probability active_fraction).
    """
    net = _as_network(net)
    if n_drops < 1:
        raise ValueError(f"n_drops = {n_drops} must be >= 1")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    caps = []
    for t in net.tiers:
        rho_b = t.base_radius_m + t.height_max_m
        u_max = (rho_b - t.earth_radius_m) / rho_b
        caps.append((u_max, t.lam_m2 * 2 * math.pi * t.base_radius_m**2 * u_max))
    per_drop = max(1.0, sum(c[1] for c in caps))
    chunk = int(max(1, min(n_drops, max_points_per_chunk // per_drop)))
    parts = [_simulate_chunk(net, caps, min(chunk, n_drops - i), rng) for i in range(0, n_drops, chunk)]
    return Drops(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                 np.concatenate([p[2] for p in parts], axis=1), np.concatenate([p[3] for p in parts], axis=1),
                 net.names)


def _simulate_chunk(net: Network, caps: list[tuple[float, float]], nd: int, rng: np.random.Generator,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_t = len(net.tiers)
    nearest = np.full((n_t, nd), np.inf)
    nvis = np.zeros((n_t, nd), np.int64)
    pts = []
    for k, (t, (u_max, mean_cap)) in enumerate(zip(net.tiers, caps)):
        counts = rng.poisson(mean_cap, nd) if mean_cap > 0 else np.zeros(nd, np.int64)
        tot = int(counts.sum())
        drop = np.repeat(np.arange(nd), counts)
        u = rng.uniform(0.0, u_max, tot)
        h = rng.uniform(t.height_min_m, t.height_max_m, tot)
        rho = t.base_radius_m + h
        e = rho - t.earth_radius_m
        vis = u * rho <= e
        drop, u, rho, e = drop[vis], u[vis], rho[vis], e[vis]
        d = np.sqrt(e**2 + 2 * t.earth_radius_m * rho * u)
        power = t.rx_interf * d ** -t.pl_exponent * t.fading.sample(rng, d.size)
        if t.active_fraction < 1:
            power = power * (rng.random(d.size) < t.active_fraction)
        np.minimum.at(nearest[k], drop, d)
        nvis[k] = np.bincount(drop, minlength=nd)
        pts.append((drop, d, power))
    metric = np.full((n_t, nd), -np.inf)
    for k, t in enumerate(net.tiers):
        ok = np.isfinite(nearest[k])
        metric[k, ok] = t.log_ref - t.pl_exponent * np.log(nearest[k, ok])
    serving = np.where(np.isfinite(metric.max(0)), metric.argmax(0), -1)
    interf = np.zeros(nd)
    desired = np.zeros(nd)
    for k, t in enumerate(net.tiers):
        drop, d, power = pts[k]
        own = (serving[drop] == k) & (d == nearest[k][drop])
        interf += np.bincount(drop, weights=np.where(own, 0.0, power), minlength=nd)
        x0 = t.serving.sample(rng, nd)
        sel = serving == k
        desired[sel] = t.rx_serving * nearest[k, sel] ** -t.pl_exponent * x0[sel]
    sinr = np.where(serving >= 0, desired / (interf + net.noise_w), 0.0)
    return serving, sinr, nearest, nvis


def mc_rate_coverage(net: NetLike, drops: Drops, rate_threshold_bps: Any,
                     user_density_per_km2: float | None = None) -> np.ndarray:
    """Monte Carlo P[R > R_th]; with a user density the loads (54) use the drops' own association frequencies (the
    mean-load formula itself, so this checks the per-tier thresholds, not the load model:
    :func:`pipeline.solvers.load_simulation.simulate_users` counts the users instead)."""
    net = _as_network(net)
    rth = np.atleast_1d(np.asarray(rate_threshold_bps, float))
    loads = np.ones(len(net.tiers)) if user_density_per_km2 is None else _loads_from_assoc(
        net, drops.association(), user_density_per_km2)
    with np.errstate(over="ignore"):
        tau = np.expm1(np.log(2) * rth[None, :] * loads[:, None] / net.bandwidth_hz)
    return drops.coverage_given_tau(tau).sum(0)
