"""Independent Monte Carlo of the load model of Park et al. (arXiv 2307.03343, (53)-(55)): users are dropped,
associated and counted, with no load formula (docs/models/coverage.md §2, "Load").

One snapshot of the network of :mod:`pipeline.solvers.stochastic_geometry` (same tiers, heights, visibility,
fading, biased association, interference from every other visible point):

1. users: a PPP of density lambda_U on the Earth's surface, in a cap of angle Theta around the north pole
   (Theta = pi: the whole sphere, no edge);
2. stations of every tier: a PPP on the tier's base sphere with U[a, b] heights, in the cap of angle
   Theta + phi_max (phi_max = arccos(R_E / (R0 + b)), beyond which no station is visible from a user in the region);
3. every user is associated physically with its visible station of largest biased power P B K d^-alpha;
4. the load of a station is the number of users associated with it (counted over all users of the region);
5. every user measured (inside Theta - guard, so that the stations serving them have their whole cells in the
   region) gets the rate R = (W / N_b) log2(1 + SINR), N_b its station's load (itself included), and SINR its own
   desired power over the other visible stations' interference plus noise (fading drawn per link).

Rate coverage is the fraction of measured users with R > R_th (no visible station: rate 0). By the isotropy of
the sphere (or the stationarity far from the edge), every user is a typical user, so this is the Palm probability
the analysis computes; nothing in it uses the mean load (54) or the area law behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from pipeline.solvers.stochastic_geometry import M2_PER_KM2, NetLike, Network, _as_network

MAX_FULL_POINTS = 300_000  # stations per tier drawn over the whole cap; above, only in the union of the users' caps


@dataclass(frozen=True)
class UserSnapshots:
    """Measured users of all snapshots: serving tier (-1: none visible), SINR (linear), station load, snapshot."""

    serving: np.ndarray
    sinr: np.ndarray
    load: np.ndarray
    snapshot: np.ndarray
    bandwidth_hz: float
    tier_names: tuple[str, ...]
    users_total: int  # all users dropped (measured or in the guard band)
    serving_distance_m: np.ndarray  # distance to the serving station (nan: none visible)
    visible_in_serving_tier: np.ndarray  # number of visible stations of the serving tier (0: none visible)

    def rate_bps(self) -> np.ndarray:
        return np.where(self.serving >= 0, self.bandwidth_hz / np.maximum(self.load, 1) * np.log2(1 + self.sinr), 0.0)

    def rate_coverage(self, rate_threshold_bps: Any) -> np.ndarray:
        r = np.sort(self.rate_bps())
        rth = np.atleast_1d(np.asarray(rate_threshold_bps, float))
        return (r.size - np.searchsorted(r, rth, side="right")) / r.size

    def sinr_coverage(self, sinr_threshold_db: Any) -> np.ndarray:
        thr = 10 ** (np.atleast_1d(np.asarray(sinr_threshold_db, float)) / 10)
        return (self.sinr[None] > thr[:, None]).mean(1)

    def association(self) -> np.ndarray:
        return np.array([(self.serving == k).mean() for k in range(len(self.tier_names))])

    def loads_shuffled(self, rng: np.random.Generator, given: np.ndarray | None = None, bins: int = 20) -> UserSnapshots:
        """The same users with their loads permuted among the users of the same serving tier: the load law is kept and
        its link to the SINR cut (the independence the analysis assumes). With ``given``, loads are permuted only within
        ``bins`` quantile bins of that per-user quantity, so the part of the link that goes through it is kept."""
        out = self.load.copy()
        for k in range(len(self.tier_names)):
            sel = np.flatnonzero(self.serving == k)
            if sel.size < 2:
                continue
            label = np.zeros(sel.size, np.int64)
            if given is not None:
                v = np.asarray(given, float)[sel]
                edges = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1]))
                label = np.searchsorted(edges, v, side="right")
            order = np.argsort(label, kind="stable")
            starts = np.r_[0, np.flatnonzero(np.diff(label[order])) + 1, sel.size]
            for a, b in zip(starts[:-1], starts[1:]):
                idx = sel[order[a:b]]
                out[idx] = rng.permutation(out[idx])
        return replace(self, load=out)

    def load_sinr_rank_correlation(self) -> list[float | None]:
        """Spearman rank correlation of the station load and the SINR per serving tier (None: < 10 users or constant)."""
        from scipy.stats import spearmanr  # noqa: PLC0415

        out: list[float | None] = []
        for k in range(len(self.tier_names)):
            sel = self.serving == k
            ok = sel.sum() >= 10 and np.ptp(self.load[sel]) > 0 and np.ptp(self.sinr[sel]) > 0
            out.append(round(float(spearmanr(self.load[sel], self.sinr[sel])[0]), 4) if ok else None)
        return out

    def mean_load(self) -> np.ndarray:
        """Mean load of the measured users' stations per tier (Palm: the typical user's view, itself included)."""
        return np.array([self.load[self.serving == k].mean() if (self.serving == k).any() else np.nan
                         for k in range(len(self.tier_names))])


def _unit_cap(rng: np.random.Generator, n: int, cap_angle: float) -> np.ndarray:
    """n points uniform on the unit-sphere cap of angle ``cap_angle`` around +z."""
    cz = rng.uniform(math.cos(min(cap_angle, math.pi)), 1.0, n)
    phi = rng.uniform(0.0, 2 * math.pi, n)
    s = np.sqrt(np.maximum(0.0, 1 - cz**2))
    return np.stack([s * np.cos(phi), s * np.sin(phi), cz], axis=1)


def _union_of_caps(rng: np.random.Generator, users: np.ndarray, tree_u: cKDTree, phi: float, mean_per_cap: float) -> np.ndarray:
    """Exact PPP (unit directions) on the union of the caps of angle ``phi`` around the users: each user's cap gets
    its own Poisson points, and a point is kept only by the first cap (lowest user index) that contains it."""
    n_u = users.shape[0]
    if n_u == 0:
        return np.zeros((0, 3))
    counts = rng.poisson(mean_per_cap, n_u)
    owner = np.repeat(np.arange(n_u), counts)
    local = _unit_cap(rng, owner.size, phi)
    u = users[owner]
    helper = np.where(np.abs(u[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(u, e1)
    pts = local[:, :1] * e1 + local[:, 1:2] * e2 + local[:, 2:3] * u
    if pts.shape[0] == 0:
        return pts
    pairs = cKDTree(pts).sparse_distance_matrix(tree_u, 2 * math.sin(phi / 2) * (1 + 1e-9), output_type="coo_matrix")
    first = owner.copy()  # the owner's cap contains the point by construction
    np.minimum.at(first, pairs.row, pairs.col)
    return pts[first == owner]


def _snapshot(net: Network, lam_u_m2: float, region: float, guard: float, rng: np.random.Generator,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    re = net.tiers[0].earth_radius_m
    n_u = rng.poisson(lam_u_m2 * 2 * math.pi * re**2 * (1 - math.cos(region)))
    users = _unit_cap(rng, n_u, region)
    tree_u = cKDTree(users)
    best_metric = np.full(n_u, -np.inf)
    best_station = np.full(n_u, -1, np.int64)  # global station id
    best_tier = np.full(n_u, -1)
    best_dist = np.full(n_u, np.nan)
    visible = np.zeros((len(net.tiers), n_u), np.int64)  # visible stations per tier and user
    links = []  # per tier: (user idx, station global id, distance)
    offset = 0
    for k, t in enumerate(net.tiers):
        if t.density_per_km2 == 0:
            links.append((np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)))
            continue
        phi_max = math.acos(t.earth_radius_m / (t.base_radius_m + t.height_max_m))
        cap = min(math.pi, region + phi_max)
        mean_full = t.lam_m2 * 2 * math.pi * t.base_radius_m**2 * (1 - math.cos(cap))
        mean_union = n_u * t.lam_m2 * 2 * math.pi * t.base_radius_m**2 * (1 - math.cos(phi_max))
        if mean_full <= max(MAX_FULL_POINTS, mean_union):
            dirs = _unit_cap(rng, rng.poisson(mean_full), cap)
        else:
            dirs = _union_of_caps(rng, users, tree_u, phi_max, t.lam_m2 * 2 * math.pi * t.base_radius_m**2 * (1 - math.cos(phi_max)))
        n_s = dirs.shape[0]
        rho = t.base_radius_m + rng.uniform(t.height_min_m, t.height_max_m, n_s)
        pairs = cKDTree(dirs).sparse_distance_matrix(tree_u, 2 * math.sin(phi_max / 2), output_type="coo_matrix")
        s_idx, u_idx = pairs.row.astype(np.int64), pairs.col.astype(np.int64)
        cosang = (dirs[s_idx] * users[u_idx]).sum(1)
        vis = rho[s_idx] * cosang >= t.earth_radius_m  # above the user's tangent plane
        s_idx, u_idx, cosang = s_idx[vis], u_idx[vis], cosang[vis]
        d = np.sqrt(np.maximum(rho[s_idx] ** 2 + re**2 - 2 * rho[s_idx] * re * cosang, 0.0))
        metric = t.log_ref - t.pl_exponent * np.log(d)
        # per user, the best link of this tier
        order = np.lexsort((-metric, u_idx))
        first = np.r_[True, u_idx[order][1:] != u_idx[order][:-1]][: order.size]
        bu, bm, bs = u_idx[order][first], metric[order][first], s_idx[order][first]
        better = bm > best_metric[bu]
        best_metric[bu[better]] = bm[better]
        best_station[bu[better]] = bs[better] + offset
        best_tier[bu[better]] = k
        best_dist[bu[better]] = d[order][first][better]
        visible[k] = np.bincount(u_idx, minlength=n_u)
        links.append((u_idx, s_idx + offset, d))
        offset += n_s
    served = best_station >= 0
    load_of_station = np.bincount(best_station[served], minlength=max(offset, 1))
    inner = users[:, 2] >= math.cos(max(region - guard, 0.0))
    # SINR of the measured users
    desired = np.zeros(n_u)
    interf = np.zeros(n_u)
    for k, t in enumerate(net.tiers):
        u_idx, s_gid, d = links[k]
        if u_idx.size == 0:
            continue
        keep = inner[u_idx]
        u_idx, s_gid, d = u_idx[keep], s_gid[keep], d[keep]
        own = s_gid == best_station[u_idx]
        p_int = t.rx_interf * d ** -t.pl_exponent * t.fading.sample(rng, d.size)
        if t.active_fraction < 1:
            p_int = p_int * (rng.random(d.size) < t.active_fraction)
        interf += np.bincount(u_idx, weights=np.where(own, 0.0, p_int), minlength=n_u)
        if own.any():
            desired[u_idx[own]] = t.rx_serving * d[own] ** -t.pl_exponent * t.serving.sample(rng, int(own.sum()))
    sinr = np.where(served, desired / (interf + net.noise_w), 0.0)
    load = np.where(served, load_of_station[np.maximum(best_station, 0)], 0)
    n_vis = np.where(served, visible[np.maximum(best_tier, 0), np.arange(n_u)], 0)
    return best_tier[inner], sinr[inner], load[inner], n_u, best_dist[inner], n_vis[inner]


def simulate_users(net: NetLike, user_density_per_km2: float, n_snapshots: int, seed: int | np.random.Generator = 0, *,
                   region_km: float | None = None, guard_km: float = 0.0) -> UserSnapshots:
    """Snapshots of users and stations (module docstring). ``region_km``: radius (along the ground) of the user cap;
    None = the whole sphere (no guard needed). ``guard_km``: users within this distance of the cap's edge are
    associated and counted but not measured; it must exceed the largest cell (a few km for dense BSs)."""
    net = _as_network(net)
    if not (user_density_per_km2 > 0):
        raise ValueError(f"user_density_per_km2 = {user_density_per_km2} must be > 0")
    if n_snapshots < 1:
        raise ValueError(f"n_snapshots = {n_snapshots} must be >= 1")
    re = net.tiers[0].earth_radius_m
    region = math.pi if region_km is None else min(math.pi, region_km * 1e3 / re)
    guard = 0.0 if region_km is None else guard_km * 1e3 / re
    if region_km is not None and guard >= region:
        raise ValueError(f"guard_km = {guard_km} leaves no measured user inside region_km = {region_km}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    parts, total = [], 0
    for i in range(n_snapshots):
        tier, sinr, load, n_u, dist, n_vis = _snapshot(net, user_density_per_km2 / M2_PER_KM2, region, guard, rng)
        parts.append((tier, sinr, load, np.full(tier.size, i), dist, n_vis))
        total += n_u
    cat = [np.concatenate([p[j] for p in parts]) for j in range(6)]
    return UserSnapshots(cat[0], cat[1], cat[2], cat[3], net.bandwidth_hz, net.names, total, cat[4], cat[5])


def _expected_measured(net: Network, user_density_per_km2: float, region_km: float | None, guard_km: float) -> float:
    re_km = net.tiers[0].earth_radius_m / 1e3
    inner = math.pi if region_km is None else max(region_km - guard_km, 0.0) / re_km
    return user_density_per_km2 * 2 * math.pi * re_km**2 * (1 - math.cos(min(inner, math.pi)))


def _validate_case(task: tuple) -> dict[str, Any]:
    """One user density of :func:`validate_load_model` (top-level: runs in a spawned worker)."""
    from pipeline.solvers.stochastic_geometry import load_distribution, rate_coverage  # noqa: PLC0415

    net, lam_u, i, rth, users_per_density, seed, region_km, guard_km, batches, max_snapshots = task
    per = max(_expected_measured(net, lam_u, region_km, guard_km), 1.0)
    n_snap = int(min(max_snapshots, max(batches, math.ceil(users_per_density / per))))
    n_snap = batches * math.ceil(n_snap / batches)
    drops = simulate_users(net, lam_u, n_snap, np.random.default_rng([seed, i]), region_km=region_km, guard_km=guard_km)
    mc = drops.rate_coverage(rth)
    rates = drops.rate_bps()
    batch = drops.snapshot % batches
    bm = np.array([((rates[batch == b][None] > rth[:, None]).mean(1)) for b in range(batches)])
    se = bm.std(0, ddof=1) / math.sqrt(batches)
    vis = rate_coverage(net, rth, lam_u, load_model="visible_count", seed=seed)
    dist = rate_coverage(net, rth, lam_u, load_model="distribution")
    mean = rate_coverage(net, rth, lam_u, load_model="mean")
    # diagnostics: loads permuted among the users of a tier (no SINR-load correlation, same load law), also only
    # within bins of the serving distance or of the number of visible stations of the serving tier (what part of
    # the correlation a model conditioned on that quantity could capture), and the Kolmogorov-Smirnov distance
    # between the users' load law and the analysis' (per tier with users)
    shuffled = drops.loads_shuffled(np.random.default_rng([seed, i, 1])).rate_coverage(rth)
    given_distance = drops.loads_shuffled(np.random.default_rng([seed, i, 2]), drops.serving_distance_m).rate_coverage(rth)
    given_visible = drops.loads_shuffled(np.random.default_rng([seed, i, 3]), drops.visible_in_serving_tier).rate_coverage(rth)
    ks = []
    probs = load_distribution(net, lam_u)
    for k in range(len(net.tiers)):
        sel = np.flatnonzero(drops.serving == k)
        if sel.size:
            emp = np.bincount(drops.load[sel] - 1, minlength=probs[k].size)
            cdf_e = np.cumsum(emp) / sel.size
            cdf_a = np.cumsum(np.r_[probs[k], np.zeros(max(0, cdf_e.size - probs[k].size))])
            ks.append(round(float(np.max(np.abs(cdf_e - cdf_a[:cdf_e.size]))), 4))
        else:
            ks.append(None)
    diff = np.abs(vis.total - mc)
    diff_dist = np.abs(dist.total - mc)
    return {
        "user_density_per_km2": lam_u, "snapshots": n_snap, "users_measured": int(drops.sinr.size),
        "users_dropped": drops.users_total, "monte_carlo": mc, "mc_std_error": se,
        "analytic_visible_count": vis.total, "analytic_load_distribution": dist.total, "analytic_mean_load": mean.total,
        "max_abs_diff_visible_count": float(np.max(diff)),
        "max_abs_diff_beyond_2_std_errors": float(np.max(np.maximum(diff - 2 * se, 0.0))),
        "max_abs_diff_load_distribution": float(np.max(diff_dist)),
        "max_abs_diff_load_distribution_beyond_2_std_errors": float(np.max(np.maximum(diff_dist - 2 * se, 0.0))),
        "max_abs_diff_load_distribution_vs_shuffled_loads": float(np.max(np.abs(dist.total - shuffled))),
        "load_law_ks_distance": ks,
        "max_abs_diff_mc_vs_shuffled_loads": float(np.max(np.abs(mc - shuffled))),
        "max_abs_diff_mc_vs_loads_shuffled_given_serving_distance": float(np.max(np.abs(mc - given_distance))),
        "max_abs_diff_mc_vs_loads_shuffled_given_visible_count": float(np.max(np.abs(mc - given_visible))),
        "load_sinr_rank_correlation": drops.load_sinr_rank_correlation(),
        "max_abs_diff_mean_load": float(np.max(np.abs(mean.total - mc))),
        "mc_std_error_max": float(se.max()),
        "mean_load_monte_carlo": [None if not np.isfinite(v) else round(float(v), 3) for v in drops.mean_load()],
        "mean_load_analytic": np.round(vis.loads, 3).tolist(),
        "mean_load_singh": np.round(dist.loads, 3).tolist(),
        "association_monte_carlo": np.round(drops.association(), 4).tolist(),
        "association_analytic": np.round(dist.association, 4).tolist()}


def validate_load_model(net: NetLike, user_densities_per_km2: list[float], rate_threshold_bps: Any, *,
                        users_per_density: int = 100_000, seed: int = 0, region_km: float | None = None,
                        guard_km: float = 0.0, batches: int = 10, max_snapshots: int = 2000,
                        workers: int = 1) -> dict[str, Any]:
    """Rate coverage of the independent Monte Carlo (:func:`simulate_users`) against the analysis, per user density:
    the project's load model conditioned on the visible-station count (``load_model="visible_count"``), and the two
    references it replaces, Singh et al.'s load distribution (SINR and load independent) and Park et al.'s mean
    load (55).

    Snapshots are added until ``users_per_density`` users are measured; the Monte Carlo standard error is that of
    ``batches`` batch means of the snapshots (users of one snapshot share its stations, so they are not independent).
    ``workers`` > 1 runs the densities in that many spawned processes (same numbers: each density has its own seed)."""
    net = _as_network(net)
    rth = np.atleast_1d(np.asarray(rate_threshold_bps, float))
    out: dict[str, Any] = {"rate_bps": rth, "cases": []}
    tasks = [(net, float(lam_u), i, rth, users_per_density, seed, region_km, guard_km, batches, max_snapshots)
             for i, lam_u in enumerate(user_densities_per_km2)]
    if workers <= 1 or len(tasks) <= 1:
        out["cases"] = [_validate_case(t) for t in tasks]
    else:
        import multiprocessing as mp  # noqa: PLC0415
        from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
            out["cases"] = list(ex.map(_validate_case, tasks))
    return out
