"""ISAC analyses: whether the sensing constraint (17d) binds and its shadow price, the sum rate vs sensing
threshold trade-off up to infeasibility, Fig. 4's detection probability (a reconstructed Neyman-Pearson
detector) and PA2's largest feasible CSI radius under both readings of eps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.solvers.beamforming.algorithms import _joint_model, solve_pa1
from pipeline.solvers.beamforming.ccp import _OK, STRICT_VIOLATION, Design, SolverOptions, _Cov, _scaled, _solve
from pipeline.solvers.beamforming.evaluate import evaluate
from pipeline.solvers.beamforming.model import C_M_S, CSI_READINGS, BeamformingInfeasible, BeamformingProblem

BINDING_DUAL_MIN = 1e-3  # bit/s/Hz per dB: (17d) counts as binding when 1 dB more Gamma costs at least this
BINDING_SLACK_DB = 0.01  # ... and the design's EIRP is within this of Gamma_t (evaluator)
DETECTION_MODELS = ("swerling1", "nonfluctuating")


def sensing_report(p: BeamformingProblem, d: Design) -> dict:
    """Whether the sensing constraint (17d) is active at a PA1 / PA2 design: per target the threshold,
    the design's EIRP (evaluator), the slack EIRP / Gamma [dB] and the shadow price (:func:`_sensing_dual`).
    A target binds when its slack is below BINDING_SLACK_DB and its price above BINDING_DUAL_MIN."""
    idx = np.flatnonzero(p.gamma_w > 0)
    if idx.size == 0:
        return {"binding": False, "binding_targets": [], "note": "no sensing constraint (Gamma = 0)"}
    eirp = np.asarray(d.report.beampattern_w, float)
    slack = 10 * np.log10(np.maximum(eirp[idx], 1e-300) / p.gamma_w[idx])
    dual = np.zeros(idx.size) if d.sensing_dual is None else np.asarray(d.sensing_dual, float)[idx]
    bind = (slack < BINDING_SLACK_DB) & (dual > BINDING_DUAL_MIN)
    return {"binding": bool(bind.any()), "binding_targets": idx[bind].tolist(),
            "gamma_dbw": [round(10 * math.log10(float(g)), 4) for g in p.gamma_w[idx]],
            "eirp_dbw": [round(10 * math.log10(max(float(e), 1e-300)), 4) for e in eirp[idx]],
            "slack_db": [round(float(x), 5) for x in slack],
            "dual_bps_hz_per_db": [round(float(x), 6) for x in dual]}


def bs_sensing_limit_w(p: BeamformingProblem, solver: str = "CLARABEL") -> float:
    """The largest EIRP [W] the BS alone can put on every sensing target at once with all of P_T and no
    user served: max_{W >= 0, Tr W <= P_T} min_t a_bs,t W a_bs,t^H (one target: P_T ||a_bs||^2)."""
    import cvxpy as cp

    if not p.n_targets or not np.any(np.abs(p.a_bs) > 0):
        return 0.0
    if p.n_targets == 1:
        return float(p.p_bs_w * np.linalg.norm(p.a_bs[0]) ** 2)
    scale = float(np.max(np.linalg.norm(p.a_bs, axis=1)))
    x, tau = _Cov(p.n_bs), cp.Variable()
    prob = cp.Problem(cp.Maximize(tau), [x.q(p.a_bs / scale) >= tau, x.trace() <= 1])
    if _solve(prob, solver) not in _OK:
        raise RuntimeError(f"BS sensing-limit SDP failed ({prob.status})")
    return float(tau.value) * scale**2 * p.p_bs_w


def with_sensing_dbw(p: BeamformingProblem, gamma_dbw: float) -> BeamformingProblem:
    """The problem with every target's threshold Gamma_t set to ``gamma_dbw``."""
    return p.replace(gamma_w=np.full(p.n_targets, 10 ** (gamma_dbw / 10)))


def bisect_feasible(violation: Callable[[float], float], lo: float, hi: float, *, tol: float,
                    geometric: bool = False, threshold: float = 0.0, hi_infeasible: bool = False) -> dict:
    """Largest x in [lo, hi] with ``violation(x) <= threshold`` for a violation that is ~0 below a boundary
    and grows past it (e.g. the elastic phase 1 with :data:`STRICT_VIOLATION`). Checks both ends, then
    bisects (``geometric``: on log x, to relative ``tol``; else to absolute ``tol``). Returns {"value" (the
    largest x found feasible, None if lo fails), "feasible_at", "infeasible_at" (None if hi is feasible:
    the boundary is >= hi), "violation_at_infeasible", "evaluations"}. ``hi_infeasible``: hi is known to be
    infeasible (not evaluated). (Regula falsi on the violation was tried: near the boundary the
    interior-point violation is too noisy, ~1e-2, for it to save steps.)"""
    n = 0
    v_hi = None

    def f(x: float) -> bool:
        nonlocal n, v_hi
        n += 1
        v = float(violation(x))
        if v > threshold:
            v_hi = v
        return v <= threshold

    if not f(lo):
        return {"value": None, "feasible_at": None, "infeasible_at": lo, "violation_at_infeasible": v_hi,
                "evaluations": n}
    if not hi_infeasible and f(hi):
        return {"value": hi, "feasible_at": hi, "infeasible_at": None, "violation_at_infeasible": None,
                "evaluations": n}
    v_at_hi = v_hi
    while (hi / lo - 1 if geometric else hi - lo) > tol:
        mid = math.sqrt(lo * hi) if geometric else 0.5 * (lo + hi)
        if f(mid):
            lo = mid
        else:
            hi, v_at_hi = mid, v_hi
    return {"value": lo, "feasible_at": lo, "infeasible_at": hi, "violation_at_infeasible": v_at_hi,
            "evaluations": n}


def max_feasible_sensing_dbw(p: BeamformingProblem, *, tol_db: float = 0.05, lo_dbw: float | None = None,
                             solver: str = "CLARABEL") -> dict:
    """Largest common threshold Gamma [dBW] at which PA1's phase-1 SDP is feasible (Algorithm 1 can start;
    beyond it every user at r0 with the backhaul and sensing is impossible), by bisection to ``tol_db``.
    Bracket: ``lo_dbw`` (default 30 dB below the upper end) and the EIRP each target would get if both
    transmitters spent their whole budgets on it alone, an upper bound on any feasible Gamma."""
    if not p.n_targets:
        raise ValueError("the problem has no sensing target")
    full = p.p_bs_w * np.linalg.norm(p.a_bs, axis=1) ** 2 + p.p_sat_w * np.linalg.norm(p.a_sat, axis=1) ** 2
    hi = 10 * math.log10(float(full.min())) + 0.1
    lo = hi - 30.0 if lo_dbw is None else lo_dbw
    model, _ = _joint_model(with_sensing_dbw(p, hi), False, gamma_param=True)  # compiled once

    def violation(g: float) -> float:
        model.set_sensing_scale(10 ** ((g - hi) / 10))
        return model.phase1_violation(solver)
    return bisect_feasible(violation, lo, hi, tol=tol_db, threshold=STRICT_VIOLATION)


def max_feasible_csi_error(p: BeamformingProblem, reading: str, *, rel_tol: float = 0.05,
                           bounds: str = "cauchy-schwarz", solver: str = "CLARABEL") -> dict:
    """Largest CSI error radius eps (all four of (44)-(47), read as ``reading``, see
    :meth:`BeamformingProblem.with_csi_error`) at which PA2's phase-1 SDP is feasible (elastic violation
    <= STRICT_VIOLATION), by bisection on log eps to ``rel_tol``. Bracket: 1e-3 of the upper end (value None
    if even that fails), and the radius at which the weakest user's Cauchy-Schwarz signal bound
    ||c||^2 - 2 delta ||c|| reaches 0, so that its QoS fails when r0 > 0 (relative 0.5; absolute half the
    smallest noise-normalised BS-user row norm; not evaluated then)."""
    if reading not in CSI_READINGS:
        raise ValueError(f"reading must be one of {CSI_READINGS}")
    hi = 0.5 if reading == "relative" else 0.5 * float(np.min(np.linalg.norm(_scaled(p)["h"], axis=1)))
    if bounds == "cauchy-schwarz":  # one compiled model, the radii as parameters
        model, _ = _joint_model(p.with_csi_error(hi, reading), True, eps_param=True)

        def violation(e: float) -> float:
            model.set_csi_error(e)
            return model.phase1_violation(solver)
    else:
        def violation(e: float) -> float:
            return _joint_model(p.with_csi_error(e, reading), True, bounds)[0].phase1_violation(solver)
    out = bisect_feasible(violation, 1e-3 * hi, hi, tol=rel_tol, geometric=True, threshold=STRICT_VIOLATION,
                          hi_infeasible=p.rate_min > 0)
    return {**out, "reading": reading, "bounds": bounds}


@dataclass(frozen=True)
class RadarSetting:
    """Monostatic detector behind Fig. 4 (a reconstruction: Wang & Wang plot a detection probability
    against Gamma but give no detector, receiver or target model). The node whose array ``receiver``
    names ("satellite" or "bs") receives the echo with maximum-ratio combining over its elements
    (receive gain ||a_rx,t||^2, the same rows as (17d)); the echo SNR of target t after ``samples``
    coherently integrated samples is the radar equation applied to the beampattern gain of (17d):

        SNR_t = P(theta_t) G_rx,t lambda^2 rcs N / ((4 pi)^3 d_t^4 sigma^2),   P(theta_t) = EIRP of (17d)

    and a Neyman-Pearson detector at false-alarm probability ``pfa`` decides on |y|^2 of the matched-
    filter output (:func:`detection_probability`)."""

    receiver: str = "satellite"
    pfa: float = 1e-6
    rcs_m2: float = 10.0
    samples: float = 1.0
    target_model: str = "swerling1"


def detection_probability(snr: Any, pfa: float, model: str = "swerling1") -> np.ndarray:
    """P_D of the Neyman-Pearson detector |y|^2 > -sigma^2 ln(pfa) on one complex matched-filter output
    y = alpha + n, n ~ CN(0, sigma^2), SNR = E|alpha|^2 / sigma^2:

    - "swerling1": alpha ~ CN(0, SNR sigma^2) (Rayleigh-fluctuating RCS): P_D = pfa^(1 / (1 + SNR));
    - "nonfluctuating": |alpha| fixed, phase uniform (the NP test is then |y| > tau): P_D = Q_1(sqrt(2 SNR),
      sqrt(-2 ln pfa)), Marcum Q, as the survival function of a non-central chi^2 with 2 degrees of freedom."""
    snr = np.maximum(np.asarray(snr, float), 0.0)
    if not 0 < pfa < 1:
        raise ValueError("pfa must lie in (0, 1)")
    if model == "swerling1":
        return pfa ** (1.0 / (1.0 + snr))
    if model == "nonfluctuating":
        from scipy.stats import ncx2

        return ncx2.sf(-2.0 * math.log(pfa), 2, 2.0 * snr)
    raise ValueError(f"model must be one of {DETECTION_MODELS}")


def echo_snr_per_w(p: BeamformingProblem, radar: RadarSetting, *, freq_hz: float | None = None) -> np.ndarray:
    """(T,) echo SNR per watt of beampattern gain P(theta_t) (see :class:`RadarSetting`). Needs the
    receiver's and the targets' positions and the carrier in ``p.meta`` ("sat_xyz" or the BS's "site_xyz" /
    "bs_xyz",
    and "target_xyz"); the receiver noise is the ES's (satellite) or the users' (BS)."""
    meta = p.meta
    if radar.receiver == "satellite":
        rx_xyz, rows, noise = meta["sat_xyz"], p.a_sat, p.noise_es_w
    elif radar.receiver == "bs":
        rx_xyz, rows, noise = meta.get("site_xyz", meta.get("bs_xyz")), p.a_bs, float(np.mean(p.noise_ue_w))
    else:
        raise ValueError("receiver must be 'satellite' or 'bs'")
    rng = np.linalg.norm(np.asarray(meta["target_xyz"], float) - np.asarray(rx_xyz, float), axis=-1)
    lam = C_M_S / (meta["freq_hz"] if freq_hz is None else freq_hz)
    g_rx = np.linalg.norm(rows, axis=1) ** 2
    return g_rx * lam**2 * radar.rcs_m2 * radar.samples / ((4 * math.pi) ** 3 * rng**4 * noise)


def detection_curve(p: BeamformingProblem, radar: RadarSetting, eirp_w: Any, *, freq_hz: float | None = None
                    ) -> np.ndarray:
    """P_D of each target (last axis) at beampattern gains ``eirp_w`` (..., T) [W]."""
    return detection_probability(np.asarray(eirp_w, float) * echo_snr_per_w(p, radar, freq_hz=freq_hz),
                                 radar.pfa, radar.target_model)


def tradeoff_gammas_dbw(gamma_dbw: float, gamma_max: dict, *, below_db: float, points: int,
                        margin_db: float = 0.25, beyond_db: float = 0.5) -> list[float]:
    """Thresholds of the sum-rate / sensing trade-off: ``points`` evenly spaced [dB] from ``below_db`` under
    the default Gamma (which is added) to ``margin_db`` under the largest feasible one (``gamma_max`` from
    :func:`max_feasible_sensing_dbw`; within ~0.1 dB of the boundary the phase-1 SDP is ill-conditioned and
    feasibility depends on solver tolerances), then one ``beyond_db`` past the first infeasible one (PA1
    must report it infeasible)."""
    top = gamma_max.get("value")
    if top is None:
        return [gamma_dbw]
    top -= margin_db if gamma_max.get("infeasible_at") is not None else 0.0
    lo = min(gamma_dbw - below_db, top)
    out = [round(float(g), 3) for g in np.linspace(lo, top, max(points, 2))]
    if lo < gamma_dbw < top:  # the default threshold itself
        out = sorted(set(out) | {round(float(gamma_dbw), 3)})
    if gamma_max.get("infeasible_at") is not None:
        out.append(round(float(gamma_max["infeasible_at"]) + beyond_db, 3))
    return out


def sensing_tradeoff(p: BeamformingProblem, gammas_dbw: Sequence[float], opts: SolverOptions = SolverOptions(),
                     ) -> tuple[list[dict], dict]:
    """Sum rate vs the common sensing threshold Gamma (Wang & Wang's Fig. 4 trade-off): PA1 at each Gamma,
    from the highest down, each CCP warm-started from the design at the next higher Gamma (continuation:
    that design is feasible at a lower threshold, so the curve found is never below a cold start from it;
    phase 1 where there is none or it was infeasible). Where the higher-Gamma design's beams, re-scored
    by the evaluator at this Gamma, deliver more than this Gamma's own extracted design (rank-one
    extraction losses), they are kept ("design_from_gamma_dbw"; the shadow price stays this Gamma's).
    Returns per point {gamma_dbw, sum_rate_bps_hz (None if infeasible), feasible (evaluator), sensing
    (:func:`sensing_report`), ...} in ascending Gamma, and the designs by Gamma."""
    rows: dict[float, dict] = {}
    designs: dict[float, Design] = {}
    prev: Design | None = None
    prev_g = None
    for g in sorted(set(float(x) for x in gammas_dbw), reverse=True):
        q = with_sensing_dbw(p, g)
        t0 = time.perf_counter()
        try:
            d = solve_pa1(q, opts, start=prev, diagnose=False)
        except BeamformingInfeasible as exc:
            rows[g] = {"gamma_dbw": g, "sum_rate_bps_hz": None, "feasible": False, "infeasible": str(exc),
                       "binding": exc.families, "seconds_total": round(time.perf_counter() - t0, 3)}
            prev = None
            continue
        kept = None
        if prev is not None:  # its beams meet a lower threshold too; rank-one extraction can lose more here
            ev = evaluate(q, prev.beams)
            if ev.feasible and (not d.report.feasible or ev.delivered_sum_rate > d.sum_rate + 1e-9):
                d = dataclasses.replace(prev, report=ev, sensing_dual=d.sensing_dual, trace=d.trace,
                                        warm_started=d.warm_started)
                kept = prev_g
        designs[g] = d
        rep = sensing_report(q, d)
        rows[g] = {"gamma_dbw": g, "sum_rate_bps_hz": round(float(d.sum_rate), 6),
                   "backhaul_rate_bps_hz": round(float(d.report.backhaul_rate), 6), "feasible": d.report.feasible,
                   "violations": d.report.violations, "sensing": rep, "iterations": d.trace.iterations,
                   "warm_started": d.warm_started, "design_from_gamma_dbw": kept,
                   "seconds_total": round(time.perf_counter() - t0, 3)}
        if d.report.feasible:
            prev, prev_g = d, (g if kept is None else kept)
        else:
            prev = None
    return [rows[g] for g in sorted(rows)], designs


def detection_data(p: BeamformingProblem, radar: RadarSetting, tradeoff: Sequence[dict], *,
                   gamma_grid_dbw: Sequence[float] | None = None) -> dict:
    """Fig. 4 (reconstructed detector, :class:`RadarSetting`): P_D of every target at each trade-off design's
    beampattern gain (evaluator) and their minimum, the P_D a design meeting Gamma exactly guarantees (per
    target at Gamma, minimum over targets), against Gamma; and the echo SNR per watt."""
    k = echo_snr_per_w(p, radar)
    pts = [r for r in tradeoff if r.get("sum_rate_bps_hz") is not None]
    eirp = np.array([[10 ** (e / 10) for e in r["sensing"]["eirp_dbw"]] for r in pts]) if pts else np.zeros((0, 0))
    idx = np.flatnonzero(p.gamma_w > 0)
    pd = detection_probability(eirp * k[idx], radar.pfa, radar.target_model) if pts else np.zeros((0, 0))
    grid = np.asarray(gamma_grid_dbw if gamma_grid_dbw is not None else [r["gamma_dbw"] for r in tradeoff], float)
    guaranteed = detection_probability(10 ** (grid[:, None] / 10) * k[idx], radar.pfa, radar.target_model).min(1)
    return {"reconstruction": "Neyman-Pearson detector on the matched-filter output, echo SNR from the radar "
                              "equation on the (17d) beampattern gain (no detector in Wang & Wang)",
            "receiver": radar.receiver, "pfa": radar.pfa, "rcs_m2": radar.rcs_m2, "samples": radar.samples,
            "target_model": radar.target_model,
            "echo_snr_per_w_db": [round(10 * math.log10(float(x)), 3) for x in k[idx]],
            "gamma_dbw": [r["gamma_dbw"] for r in pts],
            "sum_rate_bps_hz": [r["sum_rate_bps_hz"] for r in pts],
            "detection_probability": [round(float(x), 6) for x in pd.min(1)] if pts else [],
            "detection_probability_per_target": [[round(float(x), 6) for x in row] for row in pd],
            "guaranteed_gamma_dbw": [round(float(x), 3) for x in grid],
            "guaranteed_detection_probability": [round(float(x), 6) for x in guaranteed]}


ISAC_ANALYSES = ("isac_tradeoff", "isac_eps_relative", "isac_eps_absolute")


def isac_analysis(p: BeamformingProblem, kind: str, opts: SolverOptions, isac: dict[str, Any]) -> dict[str, Any]:
    """One ISAC analysis of a setting (docs/models/beamforming.md "ISAC"), JSON-ready:

    - "isac_tradeoff": the largest feasible common Gamma (bisection on PA1's phase 1), the sum rate vs
      Gamma curve up to it and one infeasible point (PA1, continuation), and Fig. 4's detection data;
    - "isac_eps_relative" / "isac_eps_absolute": the largest CSI radius at which PA2's phase 1 is
      feasible under that reading (bisection).

    ``isac``: points, below_db, gamma_max_tol_db, csi_rel_tol and radar (:class:`RadarSetting`), as in
    params.yaml beamforming.isac."""
    if kind not in ISAC_ANALYSES:
        raise ValueError(f"kind must be one of {ISAC_ANALYSES}")
    t0 = time.perf_counter()
    if kind == "isac_tradeoff":
        gamma_dbw = 10 * math.log10(float(p.gamma_w.max()))
        gmax = max_feasible_sensing_dbw(p, tol_db=isac["gamma_max_tol_db"], lo_dbw=gamma_dbw)
        if gmax["value"] is None:  # the default Gamma is infeasible itself: search below it
            gmax = max_feasible_sensing_dbw(p, tol_db=isac["gamma_max_tol_db"])
        gammas = tradeoff_gammas_dbw(gamma_dbw, gmax, below_db=isac["below_db"], points=isac["points"])
        rows, _ = sensing_tradeoff(p, gammas, opts)
        top = max([r["gamma_dbw"] for r in rows if r.get("sum_rate_bps_hz") is not None] or [gammas[0]])
        det = detection_data(p, isac["radar"], rows, gamma_grid_dbw=np.linspace(gammas[0], top, 61).round(3).tolist())
        return {"gamma_dbw": round(gamma_dbw, 4), "gamma_max": {k: (round(v, 4) if isinstance(v, float) else v)
                                                                for k, v in gmax.items()},
                "tradeoff": rows, "detection": det, "seconds_total": round(time.perf_counter() - t0, 3),
                "method": "PA1 at each Gamma from the highest down, each warm-started from the design at the next "
                          "higher Gamma (continuation); the last Gamma lies 0.5 dB past the bisection's first "
                          "infeasible one"}
    reading = kind.removeprefix("isac_eps_")
    out = max_feasible_csi_error(p, reading, rel_tol=isac["csi_rel_tol"])
    return {**{k: (round(v, 6) if isinstance(v, float) else v) for k, v in out.items()},
            "seconds_total": round(time.perf_counter() - t0, 3)}
