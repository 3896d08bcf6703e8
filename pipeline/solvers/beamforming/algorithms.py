"""Algorithm 1 (PA1, perfect CSI) and Algorithm 2 (PA2, robust to norm-bounded CSI errors) of Wang & Wang.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.solvers.beamforming.ccp import (
    ROBUST_BOUNDS, Design, SolverOptions, Trace, _Cov, _covs, _cs_bound, _DcModel, _es_congruence, _herm_var, _lmi,
    _qsum, _radius, _scaled, _sensing)
from pipeline.solvers.beamforming.evaluate import Beamformers, Evaluation
from pipeline.solvers.beamforming.extraction import extract_rank_one
from pipeline.solvers.beamforming.model import LN2, BeamformingProblem

_FIX = "lower r0 (sinr_min_db), the sensing EIRP Gamma or the user count, or raise Ps / PT"


def _rx_matrix(covs: Sequence[_Cov], rows: np.ndarray) -> Any:
    """R[n, m] = row_m X_n row_m^H (transmitter n's power at receiver m)."""
    import cvxpy as cp

    return cp.vstack([x.q(rows) for x in covs])


def _joint_model(p: BeamformingProblem, robust: bool, bounds: str = "cauchy-schwarz", *,
                 eps_param: bool = False, gamma_param: bool = False) -> tuple[_DcModel, dict]:
    """The lifted DC programme of PA1 / PA2. ``eps_param`` (robust, Cauchy-Schwarz bounds): the four CSI
    radii are cvxpy parameters (``model.set_csi_error``); ``gamma_param``: the thresholds Gamma_t are
    p.gamma_w times a parameter (``model.set_sensing_scale``); so that a bisection compiles once."""
    import cvxpy as cp

    c = _scaled(p)
    m = p.n_users
    xs = _covs(p.n_bs, m)
    y, y0 = _Cov(p.n_sat), _Cov(p.n_sat, _es_congruence(c["gs"]))
    extra: list = []
    slacks: list = []
    if not robust:
        rx = _rx_matrix(xs, c["h"])
        s = cp.diag(rx)
        i = cp.sum(rx, axis=0) - s + y.q(c["g"]) + y0.q(c["g"])
        ss = y.q(c["gs"])[0]
        ds = _qsum(xs, c["hs"])[0] + y0.q(c["gs"])[0]
    else:
        s, pm, qm = cp.Variable(m, nonneg=True), cp.Variable(m, nonneg=True), cp.Variable(m, nonneg=True)
        ss, dh, dg = cp.Variable(nonneg=True), cp.Variable(nonneg=True), cp.Variable(nonneg=True)
        slacks = [s, pm, qm, ss, dh, dg]
        if bounds not in ROBUST_BOUNDS:
            raise ValueError(f"bounds must be one of {ROBUST_BOUNDS}")
        de = _radius(p, p.err_g_es, c["gs"])
        dhs = _radius(p, p.err_h_es, c["hs"])
        if bounds == "cauchy-schwarz":
            if eps_param:
                eps_par = {k: cp.Parameter(nonneg=True, value=getattr(p, f"err_{k}"))
                           for k in ("g_es", "g_ue", "h_es", "h_ue")}
                eps_sq = {k: cp.Parameter(nonneg=True, value=v.value**2) for k, v in eps_par.items()}
                csi_params = (eps_par, eps_sq)

            def rad(kind: str, row: np.ndarray) -> tuple[Any, Any]:  # (delta, delta^2) on a normalised row
                if not eps_param:
                    d = _radius(p, getattr(p, f"err_{kind}"), row)
                    return d, d * d
                coef = _radius(p, 1.0, row)
                return eps_par[kind] * coef, eps_sq[kind] * coef**2

            def cs(covs: list, row: np.ndarray, slack: Any, kind: str, lower: bool) -> list:
                d, d2 = rad(kind, row)
                return _cs_bound(covs, row, slack, d, lower, delta_sq=d2)

            for k in range(m):
                hk, gk = c["h"][k], c["g"][k]
                extra += cs([xs[k]], hk, s[k], "h_ue", lower=True)  # (64)
                extra += cs([x for n, x in enumerate(xs) if n != k], hk, pm[k], "h_ue", lower=False)  # (63)
                extra += cs([y, y0], gk, qm[k], "g_ue", lower=False)  # (62), (65)
            extra += cs([y], c["gs"], ss, "g_es", lower=True)  # (60)
            extra += cs(xs, c["hs"], dh, "h_es", lower=False)  # (61)
            extra += cs([y0], c["gs"], dg, "g_es", lower=False)
        else:
            # Algorithm 2 as printed: the signal terms keep the Cauchy-Schwarz lower bounds (74)-(76) (second-
            # order cones), the interference terms of (66)-(68) get S-procedure LMIs, each in compact Hermitian
            # copies (_herm_var): U_k = sum_{n != k} W_n (66), sum_n W_n (67), V + V0 (68). V0 -> ES, which the
            # paper leaves without an error term, keeps its Cauchy-Schwarz bound in V0's congruence
            # coordinates (an LMI on V0's plain entries cannot resolve the ES null, see _es_congruence).
            x_parts = [x.re_im() for x in xs]
            zr, zi = _herm_var(x_parts, extra)  # sum_n W_n
            sr, si = _herm_var([y.re_im(), y0.re_im()], extra)  # V + V0
            for k in range(m):
                hk, gk = c["h"][k], c["g"][k]
                dk = _radius(p, p.err_h_ue, hk)
                extra += _cs_bound([xs[k]], hk, s[k], dk, lower=True)  # (74)
                if m > 1:
                    u_k = _herm_var([(zr, zi), (-x_parts[k][0], -x_parts[k][1])], extra)
                    extra += _lmi(*u_k, hk, pm[k], dk, lower=False)  # (66)
                extra += _lmi(sr, si, gk, qm[k], _radius(p, p.err_g_ue, gk), lower=False)  # (68)
            extra += _cs_bound([y], c["gs"], ss, de, lower=True)  # (76)
            extra += _lmi(zr, zi, c["hs"], dh, dhs, lower=False)  # (67)
            extra += _cs_bound([y0], c["gs"], dg, de, lower=False)
        i, ds = pm + qm, dh + dg
    sens = _qsum(xs, c["a_bs"]) + y0.q(c["a_sat"]) if p.n_targets else None
    tr_x = sum(x.trace() for x in xs)
    gamma_scale = cp.Parameter(nonneg=True, value=1.0) if gamma_param else None
    fam = {"_hard": extra,
           "sensing (17d)": _sensing(sens, p, gamma_scale) if p.n_targets else [],
           "satellite power (17e)": [1 - y.trace() - y0.trace()],
           "BS power (17f)": [1 - tr_x]}
    model = _DcModel(s, i, families=fam, gamma_min=2**p.rate_min - 1, backhaul=("joint", ss, ds),
                     power=tr_x + y.trace() + y0.trace(), variables=[x.var for x in xs] + [y.var, y0.var] + slacks,
                     rate_min=p.rate_min)
    if robust and bounds == "s-procedure":
        model.kkt = "faer"
    if robust and eps_param and bounds == "cauchy-schwarz":
        model.csi_params = csi_params
    model.gamma_scale = gamma_scale
    return model, {"xs": xs, "y": y, "y0": y0}


def _joint(p: BeamformingProblem, opts: SolverOptions, robust: bool, bounds: str = "cauchy-schwarz",
           start: Design | None = None, diagnose: bool = True) -> Design:
    t0 = time.perf_counter()
    trace = Trace()
    model, v = _joint_model(p, robust, bounds)
    warm = start is not None and start.lifted is not None
    model.run(opts, trace, _FIX, start=start.lifted if warm else None, diagnose=diagnose)
    t1 = time.perf_counter()

    def extract() -> tuple[Beamformers, Evaluation, str]:
        xs = [x.value * p.p_bs_w for x in v["xs"]]
        y, y0 = v["y"].value * p.p_sat_w, _psd_project(v["y0"].value * p.p_sat_w)
        enc = None
        if robust:
            s, i, _, _ = model.point()
            enc = np.log2(1 + s / (i + 1))
        return extract_rank_one(p, xs, y, y0, robust=robust, encoded=enc, opts=opts)

    bf, ev, how = extract()
    used = len(model.history) - 1
    notes = []
    # an iterate from an inaccurate subproblem can be slightly infeasible: fall back to the latest
    # earlier iterate whose extracted design the evaluator accepts (the objective history is kept)
    for k in range(len(model.history) - 2, -1, -1):
        if ev.feasible:
            break
        for var, val in zip(model.variables, model.history[k]):
            var.save_value(val)
        bf, ev, how = extract()
        used = k
    if used < len(model.history) - 1:
        notes.append(f"the last iterate's design failed the evaluator; iterate {used} is reported")
    trace.extract_s = time.perf_counter() - t1
    trace.total_s = time.perf_counter() - t0
    if warm and not model.warm:
        notes.append("the warm start was infeasible here; started from phase 1")
    return Design("pa2" if robust else "pa1", bf, ev, trace.objective[used], trace, how,
                  encoded_rates=ev.rates if robust else None, notes=notes, sensing_dual=_sensing_dual(p, model),
                  lifted=model.history[used], warm_started=model.warm)


def _sensing_dual(p: BeamformingProblem, model: _DcModel) -> np.ndarray | None:
    """Dual of the sensing constraints (17d) in the last accepted CCP subproblem, as the sum-rate cost of
    raising Gamma_t by 1 dB [bit/s/Hz per dB]. The constraint is EIRP_t / Gamma_t - 1 >= 0 and the objective
    is in nats, so d(sum rate)/d(Gamma_t [dB]) = -lambda_t ln(10) / (10 ln 2) at a binding target. At a
    fixed point of the CCP the subproblem's KKT conditions are those of the lifted problem (26)-(31)."""
    if not p.n_targets or model.duals is None:
        return None
    cons = model.duals.get("sensing (17d)") or []
    out = np.zeros(p.n_targets)
    if cons and cons[0] is not None:
        out[np.flatnonzero(p.gamma_w > 0)] = np.maximum(cons[0], 0.0) * math.log(10) / (10 * LN2)
    return out


def is_feasible(p: BeamformingProblem, *, robust: bool = False, solver: str = "CLARABEL",
                bounds: str = "cauchy-schwarz", strict: bool = False) -> bool:
    """Whether the lifted problem (17) (robust: (44)-(47) with ``bounds``) has a feasible point:
    Algorithm 1's (2's) phase-1 SDP alone, no CCP iterations: every user exactly at r0, the backhaul
    carrying M r0 (a necessary condition for a rank-one design, and where the algorithms start).
    ``strict``: only a phase-1 SDP solved to optimality counts (see _DcModel.phase1)."""
    model, _ = _joint_model(p, robust, bounds)
    return model.phase1(solver, strict=strict) == "feasible"


def _psd_project(x: np.ndarray) -> np.ndarray:
    lam, u = np.linalg.eigh((x + x.conj().T) / 2)
    return (u * np.maximum(lam, 0.0)) @ u.conj().T


def solve_pa1(p: BeamformingProblem, opts: SolverOptions = SolverOptions(), *, start: Design | None = None,
              diagnose: bool = True) -> Design:
    """Algorithm 1: CCP on the lifted problem (26)-(31) with tangents (36)-(38).

    Start (step 1): the phase-1 SDP puts every user exactly at r0 (S_m = (2^r0 - 1)(I_m + 1)),
    asks R_s >= M r0 (linear: Ss >= (2^(M r0) - 1)(Ds + 1)) and minimises power. If that SDP is
    infeasible the lifted problem is too (users above r0 only need more backhaul), and the
    constraint families whose removal restores feasibility are named in
    :class:`BeamformingInfeasible`. Stop when the lifted sum rate rises by < tolerance.
    ``start``: a PA1 design of the same problem up to its thresholds Gamma_t (e.g. at higher ones) whose
    lifted point is feasible here replaces the phase-1 point (warm start; the CCP then never ends below it).
    ``diagnose=False``: an infeasible problem raises without naming the families (saves the elastic solves).
    """
    return _joint(p, opts, robust=False, start=start, diagnose=diagnose)


def solve_pa2(p: BeamformingProblem, opts: SolverOptions = SolverOptions(), *, bounds: str = "cauchy-schwarz") -> Design:
    """Algorithm 2: robust design for ||dg_s|| <= eps_s, ... (44)-(47), the radii relative to each
    estimated channel's norm or absolute on the noise-normalised channels (p.err_reading; the paper's
    0.08 has no stated normalisation).

    Slack variables: s_m <= min signal of user m, p_m >= max multi-user interference, q_m >= max
    satellite interference (V + V0), s_s <= min ES signal, d_h >= max BS->ES and d_g >= max
    V0->ES interference. Each user's *encoded* rate log2(1 + s_m / (p_m + q_m + 1)) is decodable
    for every admissible channel; the objective is their sum, the QoS (54) bounds each one and
    the backhaul (55) bounds their sum by the worst-case backhaul log2(1 + s_s / (d_h + d_g + 1)).
    The logs get the same tangents as PA1 (the paper's exponential form (69)-(70) is this SCA step
    after the ln/exp change of variables), so the objective never decreases.

    bounds="cauchy-schwarz" (default): the slacks are tied to the lifted matrices by the paper's
    (60)-(65) bounds, c^H X c -/+ 2 delta ||X c|| (+ delta^2 Tr X for the upper bound, which the
    paper drops; kept so that the bound is valid), second-order cones.
    bounds="s-procedure": Algorithm 2 as printed: Cauchy-Schwarz lower bounds for the signal terms
    (74)-(76) and the exact worst case of each interference term by the S-procedure LMIs (66)-(68).
    It improves on the Cauchy-Schwarz bounds only at second order in the radius (exact for rank-one
    interference terms, see docs/models/beamforming.md) and costs far more: every complex LMI is a
    real one of twice the size with a dense KKT block, and Clarabel often stalls on them
    (scripts/bench_beamforming.py --robust-scaling: ~6 s per CCP iteration at M = 2, ~25 s at M = 4,
    ~85 s at M = 6 on 2 shared cores; the Cauchy-Schwarz form 2-4 s at M = 2..8), so it is for small
    instances. The radii are read as p.err_reading (with_csi_error). Errors on one channel that enter
    signal and interference are bounded separately, as in the paper (conservative). With all radii 0
    this is PA1 written with slacks.
    """
    return _joint(p, opts, robust=True, bounds=bounds)
