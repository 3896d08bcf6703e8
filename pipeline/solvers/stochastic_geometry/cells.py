"""Cells on the sphere: the area a station serves and the load of the typical user's station.

Sets of stations. For a ground point y and a distance rho, the tier-j stations within rho of y and visible from y are,
at every height h, a spherical cap of directions around y of half-angle (law of cosines; visibility = above y's
tangent plane, Park et al. (7)/(14))

    theta_j(h; rho) = min(arccos((R_h^2 + R_E^2 - rho^2) / (2 R_h R_E)), arccos(R_E / R_h)),   R_h = R0_j + h,

empty when rho < R_h - R_E. The mean number of tier-j stations in an intersection of such sets is
lambda_j R0_j^2 E_H[solid angle of the intersection of the caps]: two caps in closed form
(:func:`cap_intersection_area`), three by a 1-D integral over rings (:func:`triple_cap_intersection_area`).

Typical cell (Palm). A tier-k station x0 at height h0 serves the ground point y iff it is visible from y and no
station of any tier j lies in S_j(y), the set within psi_kj(|y - x0|) of y ((43): biased power beats x0), so

    E0[A]   = E_h0 int 1{vis} exp(-sum_j Lambda_j(S_j(y))) dy,
    E0[A^2] = E_h0 int int 1{vis} exp(-sum_j [Lambda_j(S_j(y)) + Lambda_j(S_j(y')) - Lambda_j(S_j(y) & S_j(y'))]) dy dy'

(:func:`typical_cell_area_moments`). Checks: E0[A] = P[k* = k] (R_E/R0_k)^2 / lambda_k, the ground area per
station; in the plane lambda^2 E0[A^2] = 1.280 (Gilbert 1962), i.e. the Gamma shape 3.57 behind Singh et al.'s 3.5.

Load given the number of visible stations [RECON: this conditioning is ours, docs/models/coverage.md]. Given
N_vis,k = n, the visible tier-k stations are n i.i.d. points of law Lambda_k restricted to the visible set C_o
(a binomial process); the serving one x1 is the nearest, at r1; the n - 1 others are i.i.d. on C_o \\ S_o (S_o: tier-k
points within r1 of the user o); tier-k points outside C_o and the other tiers stay Poisson (the other tiers empty
on their exclusions S^j_o = within psi_kj(r1) of o). A ground point y is in x1's cell iff x1 is visible from y and
no station beats it there:

    P[y in C | x1, n] = (1 - |S(y) & C_o \\ S_o| / |C_o \\ S_o|)^(n-1) exp(-|S(y) \\ C_o|) prod_{j!=k} exp(-Lambda_j(S_j(y) \\ S^j_o))

(|.| = Lambda_k), and P[y, y' in C | x1, n] is the same with S(y) | S(y') (pairs and triples of caps by
inclusion-exclusion). Integrated over y (and y, y') and averaged over x1 given n: the first two moments of the
typical user's cell given n (:func:`tagged_cell_moments_given_visible`). The users in it other than the typical
one are Poisson given the area (Slivnyak), so N - 1 | n has mean lambda_U E[A | n] and variance
lambda_U E[A | n] + lambda_U^2 Var(A | n).

The pair integral of the tagged cell is a 4-D integral per (r1, h1); it is estimated by importance sampling of the
point pairs on the quadrature grid of the one-point integral (seeded: same seed, same numbers), the one-point
integral by that grid itself.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pipeline.solvers.stochastic_geometry.model import NetLike, Network, Tier, _as_network, _psi_log
from pipeline.solvers.stochastic_geometry.quadrature import _gauss_legendre01, piecewise_nodes

CELL_RADII = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0, 16.0)  # ground-grid breakpoints, in typical cell radii


# ================================================================== caps on the unit sphere
def _vers(x: Any) -> np.ndarray:
    """1 - cos x = 2 sin^2(x / 2), exact for small angles."""
    return 2 * np.sin(np.asarray(x, float) / 2) ** 2


def cap_half_angle(earth_radius_m: float, radius_m: Any, distance_m: Any) -> np.ndarray:
    """Half-angle theta of the cap of directions at radius R_h within ``distance_m`` of a ground point and visible
    from it (module docstring); 0 when the distance is below R_h - R_E."""
    re = earth_radius_m
    rh, d = np.broadcast_arrays(np.asarray(radius_m, float), np.asarray(distance_m, float))
    cos_t = (rh**2 + re**2 - d**2) / (2 * rh * re)
    theta = np.arccos(np.clip(np.maximum(cos_t, re / rh), -1.0, 1.0))
    return np.where(d < rh - re, 0.0, theta)


def cap_intersection_area(t1: Any, t2: Any, gap: Any) -> np.ndarray:
    """Solid angle of the intersection of two caps of half-angles t1, t2 whose centres are ``gap`` apart:

        2 [pi - A0 - A1 - A2] + 2 (1 - cos t1) A1 + 2 (1 - cos t2) A2   (lens; Gauss-Bonnet),
        cos A0 = (cos g - cos t1 cos t2) / (sin t1 sin t2),  cos A1 = (cos t2 - cos g cos t1) / (sin g sin t1),
        cos A2 = (cos t1 - cos g cos t2) / (sin g sin t2),

    written with versines so small caps keep their precision; the smaller cap when one contains the other, 0 when
    apart."""
    t1, t2, g = np.broadcast_arrays(*(np.asarray(v, float) for v in (t1, t2, gap)))
    out = np.where(g >= t1 + t2, 0.0, np.where(g <= np.abs(t1 - t2), 2 * np.pi * _vers(np.minimum(t1, t2)), np.nan))
    lens = np.isnan(out)
    a, b, c = t1[lens], t2[lens], g[lens]
    va, vb, vc = _vers(a), _vers(b), _vers(c)
    x0 = np.clip((va + vb - va * vb - vc) / (np.sin(a) * np.sin(b)), -1, 1)
    x1 = np.clip((vc + va - vc * va - vb) / (np.sin(c) * np.sin(a)), -1, 1)
    x2 = np.clip((vc + vb - vc * vb - va) / (np.sin(c) * np.sin(b)), -1, 1)
    a1, a2 = np.arccos(x1), np.arccos(x2)
    out[lens] = 2 * (np.pi - np.arccos(x0) - a1 - a2) + 2 * va * a1 + 2 * vb * a2
    return np.maximum(out, 0.0)


def triple_cap_intersection_area(t1: Any, t2: Any, t3: Any, g12: Any, g13: Any, g23: Any, n_nodes: int = 16,
                                 ) -> np.ndarray:
    """Solid angle of the intersection of three caps (half-angles t_i, centre separations g_ij):

        int sin(z) |{phi : ring point (z, phi) around centre 1 in caps 2 and 3}| dz  over z in [0, t1],

    the ring meets cap i in the arc |phi - phi_i| <= arccos((cos t_i - cos g_1i cos z) / (sin g_1i sin z)), and the two
    arcs overlap in closed form; Gauss-Legendre over the z range where the ring meets both caps (``n_nodes`` = 16:
    error <= ~1 % of the smallest cap)."""
    t1, t2, t3, g12, g13, g23 = np.broadcast_arrays(*(np.asarray(v, float) for v in (t1, t2, t3, g12, g13, g23)))
    v12, v13, s12, s13 = _vers(g12), _vers(g13), np.sin(g12), np.sin(g13)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_delta = (v12 + v13 - v12 * v13 - _vers(g23)) / (s12 * s13)  # azimuth between centres 2 and 3 at centre 1
    delta = np.arccos(np.clip(np.nan_to_num(cos_delta, nan=1.0), -1, 1))[..., None]
    lo = np.maximum(0.0, np.maximum(g12 - t2, g13 - t3))
    hi = np.minimum(t1, np.minimum(g12 + t2, g13 + t3))
    span = np.maximum(hi - lo, 0.0)
    u, w = _gauss_legendre01(n_nodes)
    z = lo[..., None] + span[..., None] * u
    vz, sz = _vers(z), np.sin(z)
    with np.errstate(divide="ignore", invalid="ignore"):  # a centre on the ring's axis: +-inf -> all or nothing
        k2 = (v12[..., None] + vz * (1 - v12[..., None]) - _vers(t2)[..., None]) / (s12[..., None] * sz)
        k3 = (v13[..., None] + vz * (1 - v13[..., None]) - _vers(t3)[..., None]) / (s13[..., None] * sz)
    a = np.arccos(np.clip(np.nan_to_num(k2, nan=1.0), -1, 1))
    b = np.arccos(np.clip(np.nan_to_num(k3, nan=1.0), -1, 1))
    # overlap of the arcs [-a, a] and [delta - b, delta + b] on the circle (a, b <= pi, 0 <= delta <= pi)
    o1 = np.maximum(0.0, np.minimum(a, delta + b) - np.maximum(-a, delta - b))
    o2 = np.maximum(0.0, np.minimum(a, delta - 2 * np.pi + b) - np.maximum(-a, delta - 2 * np.pi - b))
    arc = np.minimum(o1 + o2, 2 * np.minimum(a, b))
    return (sz * arc * w).sum(-1) * span


def _great_circle(z1: Any, p1: Any, z2: Any, p2: Any) -> np.ndarray:
    """Angle between the directions (polar z1, azimuth p1) and (z2, p2) (haversine)."""
    h = _vers(np.asarray(z1) - z2) / 2 + np.sin(z1) * np.sin(z2) * _vers(np.asarray(p1) - p2) / 2
    return 2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


# ================================================================== grids
def _height_nodes(tier: Tier, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes of the U[a, b] height (one node for a single altitude); weights sum to 1."""
    if tier.height_max_m - tier.height_min_m <= 1e-9 * tier.base_radius_m:
        return np.array([tier.height_min_m]), np.array([1.0])
    u, w = _gauss_legendre01(n)
    return tier.height_min_m + (tier.height_max_m - tier.height_min_m) * u, w


def _cell_angle(tier: Tier) -> float:
    """Ground angle of the radius of a disc of the mean ground area per station, 1 / (lambda (R0/R_E)^2)."""
    re = tier.earth_radius_m
    return math.sqrt(1 / (math.pi * tier.lam_m2 * (tier.base_radius_m / re) ** 2)) / re


def _ground_nodes(tier: Tier, radius_m: float, n_z: int, extra: tuple[float, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Ground angles z (from the station's sub-point) where the station at ``radius_m`` is visible, with weights
    w sin(z) (solid angle per unit azimuth), split at multiples of the typical cell radius."""
    zmax = math.acos(tier.earth_radius_m / radius_m)
    cell = _cell_angle(tier)
    bps = sorted({0.0, zmax} | {min(zmax, f * cell) for f in CELL_RADII} | {min(zmax, e) for e in extra})
    z, wz = piecewise_nodes(0.0, np.array(bps), n_z, log=False)
    return z, wz * np.sin(z)


def _exclusion_caps(net: Network, k: int, distance_m: np.ndarray, r_o: float | None, n_h: int) -> list[dict[str, Any]]:
    """Per tier j: station-measure weights per height node (lambda_j R0_j^2 w_h), the caps S_j(y) of every ground point
    whose serving tier-k station is ``distance_m`` away (theta_y (H, G)), the caps S^j_o of the user o served at
    ``r_o`` (theta_o (H,)) and the visibility caps C_o (theta_vis (H,))."""
    tk = net.tiers[k]
    re = tk.earth_radius_m
    out = []
    for j, tj in enumerate(net.tiers):
        if tj.density_per_km2 == 0:
            continue
        h, wh = _height_nodes(tj, n_h)
        rh = tj.base_radius_m + h
        if j == k:
            rho_y, rho_o = distance_m, r_o
        else:
            rho_y = np.exp(_psi_log(tk, tj, np.log(np.maximum(distance_m, 1e-9))))
            rho_o = None if r_o is None else float(np.exp(_psi_log(tk, tj, np.log(r_o))))
        out.append({
            "own": j == k, "coef": tj.lam_m2 * tj.base_radius_m**2 * wh,
            "theta_y": cap_half_angle(re, rh[:, None], rho_y[None]),
            "theta_o": None if rho_o is None else cap_half_angle(re, rh, np.full(rh.shape, rho_o)),
            "theta_vis": np.arccos(re / rh)})
    return out


# ================================================================== typical cell
def typical_cell_area_moments(net: NetLike, k: int, *, n_h0: int = 6, n_z: int = 12, n_phi: int = 24,
                              n_h: int = 12) -> tuple[float, float]:
    """(E0[A], E0[A^2]) of a typical tier-k station's cell on the ground (m^2, m^4), module docstring."""
    net = _as_network(net)
    tk = net.tiers[k]
    if tk.density_per_km2 == 0:
        raise ValueError(f"tier {tk.name!r} has density 0: it has no cells")
    re = tk.earth_radius_m
    up, wp = _gauss_legendre01(n_phi)
    phi, wphi = np.pi * up, 2 * np.pi * wp  # y' azimuth relative to y, [0, pi] twice
    h0s, w0s = _height_nodes(tk, n_h0)
    m1 = m2 = 0.0
    for h0, w0 in zip(h0s, w0s):
        rx = tk.base_radius_m + h0
        z, wz = _ground_nodes(tk, rx, n_z)
        d = np.sqrt(np.maximum(rx**2 + re**2 - 2 * rx * re * np.cos(z), 0.0))
        sets = _exclusion_caps(net, k, d, None, n_h)
        void = sum(c["coef"] @ (2 * np.pi * _vers(c["theta_y"])) for c in sets)
        p1 = np.exp(-void)
        wy = wz * re**2
        m1 += w0 * float(2 * np.pi * (p1 * wy).sum())
        i1, i2, ip = np.meshgrid(np.arange(z.size), np.arange(z.size), np.arange(phi.size), indexing="ij")
        gap = _great_circle(z[i1], 0.0, z[i2], phi[ip])
        shared = sum(np.tensordot(c["coef"], cap_intersection_area(c["theta_y"][:, i1], c["theta_y"][:, i2], gap[None]),
                                  axes=(0, 0)) for c in sets)
        m2 += w0 * float((p1[i1] * p1[i2] * np.exp(shared) * wy[i1] * wy[i2] * wphi[ip]).sum() * 2 * np.pi)
    return m1, m2


# ================================================================== typical user's cell given n visible
def tagged_cell_moments_given_visible(net: NetLike, k: int, r_nodes: Any, n_values: Any, *, samples: int = 3000,
                                      seed: int = 0, n_hx: int = 3, n_z: int = 10, n_phi: int = 24, n_h: int = 10,
                                      n_triple: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """E[A | r1, n] and E[A^2 | r1, n] (m^2, m^4; arrays (R, N)) of the cell of the typical user's tier-k station,
    served at distance r1 with n visible tier-k stations (module docstring); the height of the serving station is
    averaged with its density at distance r1 (proportional to 1 / (R0 + h) on the heights that reach r1, (32))."""
    net = _as_network(net)
    tk = net.tiers[k]
    re = tk.earth_radius_m
    n_values = np.asarray(n_values)
    if n_values.size == 0 or n_values.min() < 1:
        raise ValueError("n_values must be visible-station counts >= 1 (the serving station is one of them)")
    n_bar = tk.mean_visible()
    n_ref = max(1, round(n_bar))
    rng = np.random.default_rng(seed)
    up, wp = _gauss_legendre01(n_phi)
    phi, wphi = 2 * np.pi * up, 2 * np.pi * wp
    r_nodes = np.atleast_1d(np.asarray(r_nodes, float))
    m1_out = np.zeros((r_nodes.size, n_values.size))
    m2_out = np.zeros_like(m1_out)
    power = (n_values - 1)[None]
    for i, r1 in enumerate(r_nodes):
        hc, hd = tk._h_crit(np.array(r1))
        h_lo, h_hi = max(tk.height_min_m, float(hc)), min(tk.height_max_m, float(hd))
        if tk.height_max_m - tk.height_min_m <= 1e-9 * tk.base_radius_m:
            hx, whx = np.array([tk.height_min_m]), np.array([1.0])
        else:
            u, w = _gauss_legendre01(n_hx)
            hx = h_lo + (h_hi - h_lo) * u
            whx = w / (tk.base_radius_m + hx)
            whx = whx / whx.sum()
        rest = max(n_bar - float(tk.void(np.array(r1))), 1e-300)  # |C_o \ S_o|
        for h1, w1 in zip(hx, whx):
            rx = tk.base_radius_m + h1
            cos_b = (rx**2 + re**2 - r1**2) / (2 * rx * re)
            beta = math.acos(min(1.0, cos_b))  # ground angle from x1's sub-point to the user
            z, wz = _ground_nodes(tk, rx, n_z, (beta,))
            zz, pp = (a.ravel() for a in np.meshgrid(z, phi, indexing="ij"))
            wy = np.outer(wz, wphi).ravel() * re**2
            d = np.sqrt(np.maximum(rx**2 + re**2 - 2 * rx * re * np.cos(zz), 0.0))
            g_oy = _great_circle(zz, pp, beta, 0.0)
            sets = _exclusion_caps(net, k, d, r1, n_h)
            log_common = np.zeros(zz.size)
            own_in = np.zeros(zz.size)  # |S(y) & C_o \ S_o|
            for c in sets:
                v = c["coef"] @ (2 * np.pi * _vers(c["theta_y"]))
                with_o = c["coef"] @ cap_intersection_area(c["theta_y"], c["theta_o"][:, None], g_oy[None])
                if c["own"]:
                    with_c = c["coef"] @ cap_intersection_area(c["theta_y"], c["theta_vis"][:, None], g_oy[None])
                    own_in = with_c - with_o
                    log_common -= np.maximum(v - with_c, 0.0)
                else:
                    log_common -= np.maximum(v - with_o, 0.0)
            common = np.exp(log_common)
            keep = np.clip(1 - own_in / rest, 0.0, 1.0)
            p1 = common[:, None] * keep[:, None] ** power  # (G, N)
            m1 = wy @ p1
            m1_out[i] += w1 * m1
            # pairs: importance sampling on the grid, proposal ~ wy * P[y in C | x1, n_ref] (n = 1 if that vanishes)
            q = wy * common * keep ** (n_ref - 1)
            if not q.sum() > 0:
                q = wy * common
            q_sum = float(q.sum())
            if not q_sum > 0:  # the station serves no ground point
                continue
            a = rng.choice(zz.size, samples, p=q / q_sum)
            b = rng.choice(zz.size, samples, p=q / q_sum)
            g_ab = _great_circle(zz[a], pp[a], zz[b], pp[b])
            shared_other = np.zeros(samples)
            shared_in = np.zeros(samples)  # |S(a) & S(b) & C_o \ S_o|
            shared_out = np.zeros(samples)  # |S(a) & S(b) \ C_o|
            for c in sets:
                ty = c["theta_y"]
                pair = cap_intersection_area(ty[:, a], ty[:, b], g_ab[None])  # (H, S)
                hh, ss = np.nonzero(pair > 0)

                def triple(theta_third: np.ndarray) -> np.ndarray:
                    out = np.zeros(pair.shape)
                    out[hh, ss] = triple_cap_intersection_area(
                        ty[hh, a[ss]], ty[hh, b[ss]], theta_third[hh], g_ab[ss], g_oy[a[ss]], g_oy[b[ss]], n_triple)
                    return out

                with_o = triple(c["theta_o"])
                if c["own"]:
                    with_c = triple(c["theta_vis"])
                    shared_in = c["coef"] @ (with_c - with_o)
                    shared_out = c["coef"] @ (pair - with_c)
                else:
                    shared_other += c["coef"] @ (pair - with_o)
            keep2 = np.clip(1 - (own_in[a] + own_in[b] - shared_in) / rest, 0.0, 1.0)
            p2 = (common[a] * common[b] * np.exp(shared_other + shared_out))[:, None] * keep2[:, None] ** power
            ratio = (wy[a] * wy[b] / (q[a] * q[b]))[:, None]
            cov = q_sum**2 * np.mean(ratio * (p2 - p1[a] * p1[b]), axis=0)  # Var(A | x1, n), the covariance form
            m2_out[i] += w1 * (cov + m1**2)
    return m1_out, m2_out
