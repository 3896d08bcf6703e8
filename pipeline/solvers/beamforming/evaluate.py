"""Designs and the independent vector-domain evaluator (rates (4)-(7), constraints (17b)-(17f), and the
worst case of (44)-(47) over the CSI error balls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.solvers.beamforming.model import BeamformingProblem


@dataclass
class Beamformers:
    """A rank-one design: w (M, Nb) BS beams, v (Ns,) satellite backhaul beam, r_sens (Ns, Ns)
    sensing covariance V0, u (M, Ns) satellite direct-access beams (DAS only), tdma_sat_share
    (TDMA only: share of time given to the satellite slot)."""

    w: np.ndarray
    v: np.ndarray
    r_sens: np.ndarray
    u: np.ndarray | None = None
    tdma_sat_share: float | None = None


@dataclass(frozen=True)
class Tolerances:
    rate: float = 1e-4  # bit/s/Hz
    rel: float = 1e-5  # powers, EIRP, PSD


@dataclass(frozen=True)
class Evaluation:
    """Vector-domain score of a design (never uses the lifted matrices)."""

    sinr: np.ndarray
    rates: np.ndarray  # (M,) rates the users get (TDMA: time-shared; robust: encoded rates)
    sum_rate: float
    backhaul_rate: float  # R_s (robust: worst case)
    delivered_sum_rate: float  # min(sum_rate, backhaul) where a backhaul is needed
    beampattern_w: np.ndarray  # (T,) EIRP towards each target
    sat_power_w: float
    bs_power_w: float
    checks: dict
    violations: list
    worst_case_rates: np.ndarray | None = None

    @property
    def feasible(self) -> bool:
        return not self.violations


def _q(rows: np.ndarray, r: np.ndarray) -> np.ndarray:
    """row R row^H for each row (rows (..., n), R (n, n))."""
    return np.real(np.einsum("...i,ij,...j->...", rows, r, rows.conj()))


def _max_quad_ball(c: np.ndarray, a: np.ndarray, delta: float) -> float:
    """max_{||e|| <= delta} (c + e)^H A (c + e), A Hermitian PSD (trust-region subproblem, exact)."""
    lam, u = np.linalg.eigh((a + a.conj().T) / 2)
    lam = np.maximum(lam, 0.0)
    z = u.conj().T @ c
    lmax = lam[-1]
    if delta <= 0 or lmax <= 0:
        return float(np.real(np.sum(lam * np.abs(z) ** 2)))
    top = lam >= lmax * (1 - 1e-12)

    def norm_f(mu: float) -> float:
        return float(np.sqrt(np.sum((lam * np.abs(z) / (mu - lam)) ** 2)))
    lo = lmax * (1 + 1e-12) + 1e-300
    if np.all(np.abs(z[top]) < 1e-14 * max(np.linalg.norm(z), 1e-300)) and norm_f(lo) <= delta:  # hard case
        zz = np.where(top, 0, z)
        f = np.where(top, 0, lam * zz / np.where(top, 1, lmax - lam))
        rest = max(delta**2 - float(np.sum(np.abs(f) ** 2)), 0.0)
        return float(np.sum(lam * np.abs(zz + f) ** 2) + lmax * rest)
    hi = lmax + lmax * (np.linalg.norm(z) / delta + 1) + 1.0
    while norm_f(hi) > delta:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if norm_f(mid) > delta:
            lo = mid
        else:
            hi = mid
    mu = hi
    return float(np.sum(lam * np.abs(z) ** 2 * (mu / (mu - lam)) ** 2))


def evaluate(p: BeamformingProblem, b: Beamformers, *, robust: bool = False, encoded_rates: np.ndarray | None = None,
             tol: Tolerances = Tolerances()) -> Evaluation:
    """Recompute (4)-(7) and check (17b)-(17f) from the vectors.

    DAS (b.u given): users are served by the satellite, no backhaul. TDMA (b.tdma_sat_share = tau):
    the satellite slot (v, V0) and the BS slot (w) do not overlap, so there is no cross-tier
    interference and rates are scaled by the slot shares. robust=True: worst case over the error
    balls of (44)-(47), signal minimum and interference maximum taken separately (exact per term:
    closed form for rank-one signals, trust-region subproblem for interference); the users'
    encoded rates (default: the worst-case Shannon rates) must then be decodable, meet r0, and
    their sum must fit in the worst-case backhaul.
    """
    m = p.n_users
    w = np.asarray(b.w, complex).reshape(m, p.n_bs)
    v = np.asarray(b.v, complex).reshape(p.n_sat)
    r0 = np.asarray(b.r_sens, complex).reshape(p.n_sat, p.n_sat)
    u = np.zeros((m, p.n_sat), complex) if b.u is None else np.asarray(b.u, complex).reshape(m, p.n_sat)
    tau = b.tdma_sat_share
    uses_bs = bool(np.any(np.abs(w) > 0))
    cross = tau is None
    bs_rx = np.abs(p.h_ue @ w.T) ** 2  # [m, n] = |h_m^H w_n|^2
    sat_rx = np.abs(p.g_ue @ u.T) ** 2
    sat_bg = (np.abs(p.g_ue @ v) ** 2 + _q(p.g_ue, r0)) if cross else np.zeros(m)
    sig = np.diag(bs_rx) + np.diag(sat_rx)
    mui = bs_rx.sum(1) + sat_rx.sum(1) - sig
    sinr = sig / (mui + sat_bg + p.noise_ue_w)
    es_sig = abs(p.g_es @ v) ** 2
    es_int = float(_q(p.g_es, r0)) + (float(np.sum(np.abs(w @ p.h_es) ** 2)) if cross else 0.0)
    rates = np.log2(1 + sinr)
    r_s = math.log2(1 + es_sig / (es_int + p.noise_es_w))
    if tau is not None:
        rates, r_s = (1 - tau) * rates, tau * r_s
    wc = None
    if robust:
        wc, r_s = _worst_case(p, w, v, r0, tau)
        rates = wc if encoded_rates is None else np.asarray(encoded_rates, float)
    pattern = _q(p.a_sat, r0) + (np.abs(p.a_bs @ w.T) ** 2).sum(1) + (np.abs(p.a_sat @ u.T) ** 2).sum(1)
    p_sat = float(np.sum(np.abs(v) ** 2) + np.real(np.trace(r0)) + np.sum(np.abs(u) ** 2))
    p_bs = float(np.sum(np.abs(w) ** 2))
    viol: list[str] = []
    checks: dict[str, bool] = {}
    bad = np.flatnonzero(rates < p.rate_min - tol.rate)
    checks["qos (17b)"] = bad.size == 0
    if bad.size:
        viol.append(f"QoS (17b): user(s) {bad.tolist()} below r0 = {p.rate_min:.3f} bit/s/Hz "
                    f"(min {rates.min():.3f})")
    if robust and wc is not None:
        nd = np.flatnonzero(rates > wc + tol.rate)
        checks["decodable (robust)"] = nd.size == 0
        if nd.size:
            viol.append(f"robust decodability: encoded rate above the worst-case rate for user(s) {nd.tolist()}")
    need_backhaul = uses_bs
    checks["backhaul (17c)"] = (not need_backhaul) or rates.sum() <= r_s + tol.rate
    if not checks["backhaul (17c)"]:
        viol.append(f"backhaul (17c): sum rate {rates.sum():.4f} > backhaul rate {r_s:.4f} bit/s/Hz")
    sb = np.flatnonzero(pattern < p.gamma_w * (1 - tol.rel))
    checks["sensing (17d)"] = sb.size == 0
    if sb.size:
        viol.append(f"sensing (17d): EIRP below Gamma at target(s) {sb.tolist()} "
                    f"({10 * np.log10(max(pattern[sb].min(), 1e-30)):.2f} dBW)")
    checks["satellite power (17e)"] = p_sat <= p.p_sat_w * (1 + tol.rel)
    if not checks["satellite power (17e)"]:
        viol.append(f"satellite power (17e): {p_sat:.6g} W > Ps = {p.p_sat_w:.6g} W")
    checks["BS power (17f)"] = p_bs <= p.p_bs_w * (1 + tol.rel)
    if not checks["BS power (17f)"]:
        viol.append(f"BS power (17f): {p_bs:.6g} W > PT = {p.p_bs_w:.6g} W")
    ev_min = float(np.linalg.eigvalsh((r0 + r0.conj().T) / 2).min()) if p.n_sat else 0.0
    checks["V0 PSD (17a)"] = ev_min >= -tol.rel * p.p_sat_w
    if not checks["V0 PSD (17a)"]:
        viol.append(f"V0 PSD (17a): min eigenvalue {ev_min:.3g}")
    s = float(rates.sum())
    return Evaluation(sinr=sinr, rates=rates, sum_rate=s, backhaul_rate=r_s,
                      delivered_sum_rate=min(s, r_s) if need_backhaul else s, beampattern_w=pattern,
                      sat_power_w=p_sat, bs_power_w=p_bs, checks=checks, violations=viol, worst_case_rates=wc)


def _worst_case(p: BeamformingProblem, w: np.ndarray, v: np.ndarray, r0: np.ndarray, tau: float | None
                ) -> tuple[np.ndarray, float]:
    """Worst-case user rates and backhaul rate over the error balls (separate worst cases per term)."""
    m = p.n_users
    out = np.zeros(m)
    cov_w = w.T @ w.conj()  # sum_n w_n w_n^H (column convention)

    def radius(eps: float, row: np.ndarray, p_tx: float, noise: float) -> float:  # physical units
        return eps * float(np.linalg.norm(row)) if p.err_reading == "relative" else eps * math.sqrt(noise / p_tx)

    for k in range(m):
        c = p.h_ue[k].conj()
        dh = radius(p.err_h_ue, c, p.p_bs_w, p.noise_ue_w[k])
        s_min = max(abs(c.conj() @ w[k]) - dh * np.linalg.norm(w[k]), 0.0) ** 2
        mui = _max_quad_ball(c, cov_w - np.outer(w[k], w[k].conj()), dh)
        cg = p.g_ue[k].conj()
        sat = 0.0 if tau is not None else _max_quad_ball(cg, np.outer(v, v.conj()) + r0,
                                                         radius(p.err_g_ue, cg, p.p_sat_w, p.noise_ue_w[k]))
        out[k] = math.log2(1 + s_min / (mui + sat + p.noise_ue_w[k]))
    cs = p.g_es.conj()
    ds = radius(p.err_g_es, cs, p.p_sat_w, p.noise_es_w)
    s_es = max(abs(cs.conj() @ v) - ds * np.linalg.norm(v), 0.0) ** 2
    i_es = _max_quad_ball(cs, r0, ds)
    if tau is None:
        ch = p.h_es.conj()
        i_es += _max_quad_ball(ch, cov_w, radius(p.err_h_es, ch, p.p_bs_w, p.noise_es_w))
    r_s = math.log2(1 + s_es / (i_es + p.noise_es_w))
    if tau is not None:
        out, r_s = (1 - tau) * out, tau * r_s
    return out, r_s
