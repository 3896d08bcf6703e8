"""SINR coverage (Park et al. Theorem 1): interference Laplace transform, association, serving distance."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats

from pipeline.solvers.stochastic_geometry.constants import HUGE_SINR, VOID_CUT
from pipeline.solvers.stochastic_geometry.model import NetLike, Network, Tier, _as_network, _psi_log
from pipeline.solvers.stochastic_geometry.quadrature import piecewise_nodes, poisson_mixture_probs


# ================================================================== analytic pieces
def interference_laplace(tier: Tier, s: Any, exclusion_m: Any, n_nodes: int = 48) -> np.ndarray:
    """Conditional Laplace transform (48)/(49) of the tier's interference beyond ``exclusion_m``.

    E[exp(-s I)], I = sum over visible points farther than the exclusion of P G_I K |H|^2 x^-alpha
    (thinned by active_fraction). s and exclusion_m broadcast.
    """
    s, e = np.broadcast_arrays(np.asarray(s, float), np.asarray(exclusion_m, float))
    if tier.density_per_km2 == 0:
        return np.ones(s.shape)
    x, w = piecewise_nodes(np.maximum(e, tier.x_lo), tier.breakpoints, n_nodes)
    t = s[..., None] * tier.rx_interf * x ** -tier.pl_exponent
    one_minus = -np.expm1(tier.fading.log_mgf(t))
    return np.exp(-tier.active_fraction * (one_minus * tier.intensity(x) * w).sum(-1))


def _outer_breakpoints(net: Network, k: int) -> tuple[np.ndarray, float]:
    """Breakpoints of the serving-distance integral of tier k and the cut where the void < e^-VOID_CUT."""
    tk = net.tiers[k]
    pts = list(tk.breakpoints)
    for j, tj in enumerate(net.tiers):
        if j != k and tj.density_per_km2 > 0:
            # psi_kj(r) = bp  <=>  r = psi_jk(bp)
            pts += list(np.exp(_psi_log(tj, tk, np.log(tj.breakpoints))))
    grid = np.geomspace(tk.x_lo, tk.x_hi, 513)
    v = _void_total(net, k, grid)
    over = np.flatnonzero(v > VOID_CUT)
    cut = float(grid[over[0]]) if over.size else tk.x_hi
    cut = max(cut, float(grid[1]))
    pts = sorted({p for p in pts if tk.x_lo <= p < cut} | {tk.x_lo, cut})
    return np.array(pts), cut


def _void_total(net: Network, k: int, r: np.ndarray, include_own: bool = True) -> np.ndarray:
    """Lambda_k(r) + sum_j Lambda_j(psi_kj(r)): minus log of P[no point beats the serving one] (without
    ``include_own``, only the other tiers' sum)."""
    tk = net.tiers[k]
    v = tk.void(r) if include_own else np.zeros(np.shape(r))
    for j, tj in enumerate(net.tiers):
        if j != k and tj.density_per_km2 > 0:
            v = v + tj.void(np.exp(_psi_log(tk, tj, np.log(r))))
    return v


def _serving_distance_nodes(net: Network, k: int, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes r and weights dr of the tier-k serving distance (split at every kink, cut where the void
    probability vanishes)."""
    bps, _ = _outer_breakpoints(net, k)
    return piecewise_nodes(net.tiers[k].x_lo, bps, n_nodes)


def _serving_distance_weights(net: Network, k: int, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes r of the tier-k serving distance and their weights lambda_k(r) exp(-sum_j void_j) dr:
    the density of "the serving station is of tier k at distance r" (Lemma 3), summing to P[k* = k]."""
    r, wr = _serving_distance_nodes(net, k, n_nodes)
    return r, net.tiers[k].intensity(r) * np.exp(-_void_total(net, k, r)) * wr


def _interferer_terms(tk: Tier, tj: Tier, same_tier: bool, s: np.ndarray, r: np.ndarray, n_in: int,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tier-j interferers of a tier-k user served at r (s = beta' tau r^alpha / (P G_0 K), (T, R)): the quadrature
    (x, w (R, X)) beyond the exclusion (r for j = k, psi_kj(r) otherwise) and t = s P_j G_jI K_j x^-alpha_j (T, R, X)."""
    excl = r if same_tier else np.exp(_psi_log(tk, tj, np.log(r)))
    x, wx = piecewise_nodes(np.maximum(excl, tj.x_lo), tj.breakpoints, n_in)  # (R, X)
    t = s[:, :, None] * (tj.rx_interf * x ** -tj.pl_exponent)[None]  # (T, R, X)
    return x, wx, t


def _noise_and_poisson_terms(net: Network, k: int, s: np.ndarray, r: np.ndarray, n_max: int, n_in: int,
                             skip_tier: int | None = None) -> np.ndarray:
    """q (n_max + 1, T, R): the power series in z of log L(s (1 - z)) for the noise and the Poisson interferers of
    every tier except ``skip_tier`` (module docstring of the package: q_0 <= 0, q_j >= 0)."""
    tk = net.tiers[k]
    q = np.zeros((n_max + 1,) + s.shape)
    q[0] = -s * net.noise_w
    if n_max >= 1:
        q[1] = s * net.noise_w
    for j, tj in enumerate(net.tiers):
        if tj.density_per_km2 == 0 or j == skip_tier:
            continue
        x, wx, t = _interferer_terms(tk, tj, j == k, s, r, n_in)
        omega = tj.active_fraction * tj.intensity(x) * wx
        q[0] -= np.einsum("trx,rx->tr", -np.expm1(tj.fading.log_mgf(t)), omega)
        for n, d in enumerate(tj.fading.lt_terms(t, n_max)):
            if n >= 1:
                q[n] += np.einsum("trx,rx->tr", d, omega)
    return q


def _joint_coverage(net: Network, tau: np.ndarray, n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """P[k* = k, SINR_k > tau[k, i]] (K, T) and P[k* = k] (K,) with fixed node counts."""
    n_t = tau.shape[1]
    cov = np.zeros((len(net.tiers), n_t))
    assoc = np.zeros(len(net.tiers))
    for k, tk in enumerate(net.tiers):
        if tk.density_per_km2 == 0:
            continue
        r, dens = _serving_distance_weights(net, k, n_out)
        assoc[k] = dens.sum()
        rate, g = tk.serving.erlang_series()
        n_max = len(g) - 1
        w_tail = np.cumsum(g[::-1])[::-1]
        tk_tau = tau[k]
        finite = tk_tau <= HUGE_SINR
        s = rate * np.where(finite, tk_tau, 0.0)[:, None] * r[None, :] ** tk.pl_exponent / tk.rx_serving  # (T, R)
        q = _noise_and_poisson_terms(net, k, s, r, n_max, n_in)
        p = poisson_mixture_probs(q)
        pc = np.tensordot(w_tail, p, axes=(0, 0))  # (T, R)
        cov[k] = np.where(finite, pc @ dens, 0.0)
    return cov, assoc


def _series_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Coefficients of the product of two power series in z (axis 0), truncated to a's length."""
    out = np.zeros_like(a)
    for m in range(a.shape[0]):
        out[m] = (a[: m + 1] * b[m::-1]).sum(0)
    return out


def coverage_given_visible(net: NetLike, k: int, tau: Any, n_values: Any, n_out: int = 24, n_in: int = 18,
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SINR coverage of a tier-k user given the number n of visible tier-k stations [RECON: ours,
    docs/models/coverage.md]: (r (R,), w (N, R), cov (N, T, R)) with w the quadrature weights of
    P[N_vis,k = n, k* = k, R_k in dr] and cov = P[SINR > tau | n, r].

    Given n, the visible tier-k stations are n i.i.d. distances of density f = Lambda_k' / N_bar_k; the serving one
    is the nearest, so P[n, k* = k, r] = Poisson(n; N_bar) n f(r) (1 - F(r))^(n-1) exp(-sum_{j!=k} Lambda_j(psi_kj(r)))
    (summing over n gives Lemma 3's density); the n - 1 others interfere from beyond r, i.i.d. of density
    f / (1 - F(r)), so their Laplace transform is D(s)^(n-1), D = E[M(s P G_I K x^-alpha)], and the power series in
    z of L(s (1 - z)) is exp(q(z)) D(z)^(n-1) with q the noise and Poisson tiers as in Theorem 1."""
    net = _as_network(net)
    tk = net.tiers[k]
    if tk.density_per_km2 == 0:
        raise ValueError(f"tier {tk.name!r} has density 0: nothing is visible")
    tau = np.atleast_1d(np.asarray(tau, float))
    n_values = np.atleast_1d(np.asarray(n_values, int))
    if n_values.size and (n_values.min() < 1 or np.any(np.diff(n_values) <= 0)):
        raise ValueError("n_values must be increasing counts >= 1 (the serving station is visible)")
    n_bar = tk.mean_visible()
    r, wr = _serving_distance_nodes(net, k, n_out)
    beyond = np.maximum(n_bar - tk.void(r), 1e-300)  # N_bar (1 - F(r))
    others = np.exp(-_void_total(net, k, r, include_own=False)) * wr  # no other tier beats the server
    rate, g = tk.serving.erlang_series()
    n_max = len(g) - 1
    w_tail = np.cumsum(g[::-1])[::-1]
    finite = tau <= HUGE_SINR
    s = rate * np.where(finite, tau, 0.0)[:, None] * r[None, :] ** tk.pl_exponent / tk.rx_serving  # (T, R)
    p_poisson = poisson_mixture_probs(_noise_and_poisson_terms(net, k, s, r, n_max, n_in, skip_tier=k))
    x, wx, t = _interferer_terms(tk, tk, True, s, r, n_in)
    f_beyond = tk.intensity(x) * wx / beyond[:, None]  # density of one other visible station's distance
    d_series = np.zeros_like(p_poisson)
    for m, d in enumerate(tk.fading.lt_terms(t, n_max)):
        d_series[m] = tk.active_fraction * np.einsum("trx,rx->tr", d, f_beyond)
    d_series[0] += 1 - tk.active_fraction * f_beyond.sum(1)[None]  # an inactive interferer: M = 1
    weights = np.zeros((n_values.size, r.size))
    cov = np.zeros((n_values.size, tau.size, r.size))
    power = np.zeros_like(d_series)
    power[0] = 1.0
    done = 0  # power = D^done
    for i, n in enumerate(n_values):
        while done < n - 1:
            power = _series_product(power, d_series)
            done += 1
        p = _series_product(p_poisson, power)
        cov[i] = np.where(finite[:, None], np.tensordot(w_tail, p, axes=(0, 0)), 0.0)
        weights[i] = stats.poisson.pmf(n, n_bar) * n * (tk.intensity(r) / n_bar) * (beyond / n_bar) ** (n - 1) * others
    return r, weights, np.clip(cov, 0.0, 1.0)


@dataclass(frozen=True)
class CoverageResult:
    """Analytic coverage: per-tier joint P[k* = k, covered], their sum, and diagnostics."""

    thresholds: np.ndarray  # as given by the caller (SINR in dB, or rate in bit/s)
    total: np.ndarray  # (T,)
    per_tier: np.ndarray  # (K, T)
    association: np.ndarray  # (K,) P[k* = k] = P_vis,k A_k
    error_estimate: float  # max |difference| between the two quadrature levels
    tier_names: tuple[str, ...]
    loads: np.ndarray | None = None  # (K,) L_k when the load model was used


def coverage_given_tau(net: NetLike, tau: Any, *, tol: float = 1e-5, nodes: tuple[int, int] = (16, 12),
                       max_refine: int = 3) -> CoverageResult:
    """Joint coverage for per-tier linear SINR thresholds tau (K, T) (or (T,) shared), error-controlled."""
    net = _as_network(net)
    tau = np.asarray(tau, float)
    if tau.ndim <= 1:
        tau = np.broadcast_to(np.atleast_1d(tau), (len(net.tiers), np.atleast_1d(tau).size))
    if np.isnan(tau).any() or (tau < 0).any():
        raise ValueError("SINR thresholds must be >= 0 in linear scale (no NaN)")
    n_out, n_in = nodes
    prev, _ = _joint_coverage(net, tau, n_out, n_in)
    for _level in range(max_refine + 1):
        n_out2, n_in2 = (3 * n_out + 1) // 2, (3 * n_in + 1) // 2
        cov, assoc = _joint_coverage(net, tau, n_out2, n_in2)
        if not (np.isfinite(cov).all() and np.isfinite(assoc).all()):
            raise FloatingPointError("non-finite coverage from the quadrature; check the parameters")
        err = float(np.max(np.abs(cov - prev))) if cov.size else 0.0
        if err <= tol:
            break
        prev, n_out, n_in = cov, n_out2, n_in2
    else:
        raise RuntimeError(f"coverage quadrature did not reach tol={tol} (last change {err:.2e}) "
                           f"with {n_out2}/{n_in2} nodes per piece; loosen tol or raise nodes")
    cov = np.clip(cov, 0.0, 1.0)
    return CoverageResult(tau[0].copy(), cov.sum(0), cov, assoc, err, net.names)


def association_probabilities(net: NetLike, n_nodes: int = 64) -> np.ndarray:
    """P[k* = k] = P_vis,k A_k for every tier (Lemma 3 (43), Corollary 3 (46)); sums to
    1 - exp(-sum N_bar)."""
    net = _as_network(net)
    out = np.zeros(len(net.tiers))
    for k, tk in enumerate(net.tiers):
        if tk.density_per_km2 == 0:
            continue
        out[k] = float(_serving_distance_weights(net, k, n_nodes)[1].sum())
    return out


def conditional_association(net: NetLike) -> np.ndarray:
    """A_k = P[k* = k | tier k visible] (43)/(46); NaN-free: 0 for an empty tier."""
    net = _as_network(net)
    joint = association_probabilities(net)
    pv = np.array([t.visibility_probability() for t in net.tiers])
    return np.divide(joint, pv, out=np.zeros_like(joint), where=pv > 0)


def serving_distance_pdf(net: NetLike, k: int, r: Any) -> np.ndarray:
    """f_{R_k | k* = k}(r) (44)/(47)."""
    net = _as_network(net)
    a = association_probabilities(net)[k]
    if a <= 0:
        raise ValueError(f"tier {net.tiers[k].name!r} is never associated; its serving-distance pdf is undefined")
    r = np.asarray(r, float)
    return net.tiers[k].intensity(r) * np.exp(-_void_total(net, k, np.maximum(r, 1e-9))) / a


def load_factors(net: NetLike, user_density_per_km2: float) -> np.ndarray:
    """L_k = 1 + 1.28 lambda_U (R_E/R0_k)^2 P[k* = k] / lambda_k (54) (Singh et al. [10]; the
    (R_E/R0)^2 factor is ours [RECON], docs/models/coverage.md); 1 for an empty tier."""
    if not (user_density_per_km2 >= 0):
        raise ValueError(f"user_density_per_km2 = {user_density_per_km2} must be >= 0 (users per km^2 of ground)")
    net = _as_network(net)
    assoc = association_probabilities(net)
    return _loads_from_assoc(net, assoc, user_density_per_km2)


def _loads_from_assoc(net: Network, assoc: np.ndarray, user_density_per_km2: float) -> np.ndarray:
    out = np.ones(len(net.tiers))
    for k, t in enumerate(net.tiers):
        if t.density_per_km2 > 0:
            out[k] = 1 + 1.28 * user_density_per_km2 * (t.earth_radius_m / t.base_radius_m) ** 2 * assoc[k] / t.density_per_km2
    return out


def sinr_coverage(net: NetLike, sinr_threshold_db: Any, **kw: Any) -> CoverageResult:
    """Theorem 1 (50)-(52) in SINR form: P[SINR > threshold], thresholds in dB (vectorised)."""
    thr = np.atleast_1d(np.asarray(sinr_threshold_db, float))
    res = coverage_given_tau(net, 10 ** (thr / 10), **kw)
    return replace(res, thresholds=thr)
