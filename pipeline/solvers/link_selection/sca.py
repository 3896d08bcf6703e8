"""The paper's SCA (Algorithm 1 with Proposition 1; reconstructed, docs/link_selection.md).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pipeline.solvers.link_selection.problem import SlotProblem
from pipeline.solvers.link_selection.time_share import ScaTrace, maximise_minorants, round_association


def _snr_terms(p: SlotProblem) -> tuple[np.ndarray, np.ndarray]:
    """A_B = P_B h / N (K, B) and A_S = P_S g / N (K, S): a node's whole power over the noise."""
    return p.p_bs_w * p.h / p.noise_w, p.p_sat_w * p.g / p.noise_w


def _interference_plus_noise(p: SlotProblem, d: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """v_B[k] = 1 + sum_s A_S[k, s] / E_s (BS links of UE k) and v_S[k] = 1 + sum_b A_B[k, b] / D_b, over the
    noise; under full power the loads are replaced by 1 (every node radiates P)."""
    a_b, a_s = _snr_terms(p)
    if p.interference == "full_power":
        return 1 + a_s.sum(1), 1 + a_b.sum(1)
    return 1 + (a_s / e[None, :]).sum(1), 1 + (a_b / d[None, :]).sum(1)


def paper_relaxed_sum_rate(p: SlotProblem, x: np.ndarray, y: np.ndarray) -> float:
    """The relaxed objective of the paper's SCA: sum over every link of f(u, v) = log2(u + v) - log2(v) with the
    association folded into the signal, u = A x^2 / D (BS) or A y^2 / E (satellite), v the interference plus
    noise of :func:`_interference_plus_noise` at the fractional loads. Equals the sum rate at binary points."""
    a_b, a_s = _snr_terms(p)
    d = np.asarray(x, float).sum(0) + p.other_bs
    e = np.asarray(y, float).sum(0) + p.other_sat
    v_b, v_s = _interference_plus_noise(p, d, e)
    u_b = a_b * np.asarray(x, float) ** 2 / d[None, :]
    u_s = a_s * np.asarray(y, float) ** 2 / e[None, :]
    return float(np.log2(1 + u_b / v_b[:, None]).sum() + np.log2(1 + u_s / v_s[:, None]).sum())


def paper_sca_minorant(p: SlotProblem, x: np.ndarray, y: np.ndarray, xi: np.ndarray, yi: np.ndarray) -> float:
    """The objective of subproblem (18) built at the iterate (xi, yi), evaluated at (x, y) with the smallest
    slack omega that (17b) allows: a lower bound of :func:`paper_relaxed_sum_rate` (x, y), equal to it at the
    iterate (tested). Used to check the reconstruction; :func:`solve_sca` solves the same model in cvxpy."""
    a_b, a_s = _snr_terms(p)
    x, y, xi, yi = (np.asarray(v, float) for v in (x, y, xi, yi))
    d, e = x.sum(0) + p.other_bs, y.sum(0) + p.other_sat
    di, ei = xi.sum(0) + p.other_bs, yi.sum(0) + p.other_sat
    v_b, v_s = _interference_plus_noise(p, d, e)  # exact, convex in the loads: in (17b)
    vi_b, vi_s = _interference_plus_noise(p, di, ei)
    if p.interference == "full_power":
        vt_b, vt_s = v_b, v_s
    else:  # tangents of the convex 1 / E and 1 / D: affine minorants, inside the log of (17a)
        vt_b = 1 + (a_s * (2 / ei - e / ei**2)[None, :]).sum(1)
        vt_s = 1 + (a_b * (2 / di - d / di**2)[None, :]).sum(1)
    total = 0.0
    for a, z, zi, load, load_i, vt, v, v_i in ((a_b, x, xi, d, di, vt_b, v_b, vi_b), (a_s, y, yi, e, ei, vt_s, v_s, vi_s)):
        u_t = a * (2 * zi * z / load_i[None, :] - zi**2 * load[None, :] / load_i[None, :] ** 2)  # tangent of x^2 / D
        w_i = np.log2(v_i)
        # (17b): v <= 2^w_i (1 + ln2 (w - w_i))  <=>  w >= w_i + (v / 2^w_i - 1) / ln2
        w = w_i + (v / v_i - 1) / math.log(2)
        arg = u_t + vt[:, None]
        if (arg <= 0).any():
            return -math.inf  # outside (17a)'s domain: not a point of the subproblem
        total += float((np.log2(arg) - w[:, None]).sum())
    return total


def solve_sca(p: SlotProblem, *, max_iterations: int = 30, tolerance: float = 1e-4, epsilon: float = 0.5,
              solver: str = "CLARABEL", start: tuple[np.ndarray, np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray, ScaTrace]:
    """The paper's Algorithm 1: SCA with Proposition 1's convex inner approximation, rounding (19)-(20), repair.

    Reconstruction (the equations were lost from the text; every step the text names is kept): relax x, y
    to [0, 1]; each link's rate is f(u, v) = log2(1 + u / v) = log2(u + v) - log2(v) with the association
    folded into the signal, u = P h x^2 / (D N) (x^2 / D is jointly convex and equals x p_B h / N at binary
    x) and v = 1 + I / N its interference plus noise. Proposition 1: with a slack w,
    r <= f(u, v)  <=  (16a) r <= log2(u + v) - w,  (16b) 2^w >= v; taking the first-order expansion of the
    exponential in (16b) gives (17b) v <= 2^w_i (1 + ln2 (w - w_i)), convex since v (sums of P g / E) is
    convex in the loads; in (17a) u and v are replaced by their tangents at the iterate (affine minorants
    of convex functions), so log2(u_t + v_t) is concave. Every point of (18) then has r below the relaxed
    rate and the bound is tight at the iterate: the relaxed objective never decreases
    (:func:`paper_sca_minorant` states the bound; a test checks it at random points). Under ``per_user``
    v depends on the other network's loads; under ``full_power`` v is a constant and w = log2(v).
    One slack per UE and network (v is the same for all of a UE's BS links, and for its satellite links).

    Start x = 0.5 / |B|, y = 0.5 / |S|, w = log2 v there, unless ``start`` is given; stop when the relaxed
    objective changes by at most ``tolerance`` times its value, or after ``max_iterations``. Needs at least
    one outside user per node (N_o >= 1: every transmitter always radiates, as in the paper).
    """
    import cvxpy as cp  # noqa: PLC0415

    if (np.asarray(p.other_bs) < 1).any() or (np.asarray(p.other_sat) < 1).any():
        raise ValueError("solve_sca needs N_o >= 1 outside users on every node (the loads divide the power)")
    p.check_feasible()
    k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
    a_b, a_s = _snr_terms(p)
    o_b, o_s = np.asarray(p.other_bs, float), np.asarray(p.other_sat, float)
    if start is None:
        xi, yi = np.full((k, nb), 0.5 / max(nb, 1)), np.full((k, ns), 0.5 / max(ns, 1))
    else:
        xi, yi = (np.clip(np.asarray(v, float), 0, 1) for v in start)
    trace = ScaTrace([paper_relaxed_sum_rate(p, xi, yi)], 0, "uniform" if start is None else "given",
                     method="paper_sca")
    ln2 = math.log(2)

    def solve_at(iterate: tuple[np.ndarray, np.ndarray]) -> tuple[Any, str]:
        xi, yi = iterate
        x, y = cp.Variable((k, nb), nonneg=True), cp.Variable((k, ns), nonneg=True)
        d, e = cp.Variable(nb), cp.Variable(ns)
        w_b, w_s = cp.Variable(k), cp.Variable(k)
        di, ei = xi.sum(0) + o_b, yi.sum(0) + o_s
        vi_b, vi_s = _interference_plus_noise(p, di, ei)
        cons = [d == cp.sum(x, axis=0) + o_b, e == cp.sum(y, axis=0) + o_s, x <= 1, y <= 1,
                cp.sum(x, axis=1) <= 1, cp.sum(y, axis=1) <= 1, cp.sum(x, axis=1) + cp.sum(y, axis=1) >= 1,
                d <= p.cap_bs, e <= p.cap_sat]
        if p.interference == "full_power":
            v_b, v_s = vi_b, vi_s  # constants
            vt_b, vt_s = vi_b, vi_s
        else:
            v_b = 1 + a_s @ cp.inv_pos(e)  # (K,) convex
            v_s = 1 + a_b @ cp.inv_pos(d)
            vt_b = 1 + a_s @ (2 / ei) - a_s @ cp.multiply(1 / ei**2, e)  # tangents (affine)
            vt_s = 1 + a_b @ (2 / di) - a_b @ cp.multiply(1 / di**2, d)
        objective = 0
        for a, z, zi, load, load_i, vt, v, v_i, w, n in ((a_b, x, xi, d, di, vt_b, v_b, vi_b, w_b, nb),
                                                          (a_s, y, yi, e, ei, vt_s, v_s, vi_s, w_s, ns)):
            ones = np.ones((k, 1))
            load_m = ones @ cp.reshape(load, (1, n), order="C")
            # log(u_t + v_t) written as log(c) + log((u_t + v_t) / c), c = u + v at the iterate: arguments near 1
            # whatever the SNR (gains of 1e9 otherwise stall the conic solver)
            c = a * zi**2 / load_i[None, :] + v_i[:, None]
            u_t = (cp.multiply(2 * a * zi / load_i[None, :] / c, z)
                   - cp.multiply(a * zi**2 / load_i[None, :] ** 2 / c, load_m))
            if isinstance(vt, np.ndarray):
                vt_m = vt[:, None] / c
            else:
                vt_m = cp.multiply(cp.reshape(vt, (k, 1), order="C") @ np.ones((1, n)), 1 / c)
            objective += cp.sum(cp.log(u_t + vt_m)) / ln2 - n * cp.sum(w)
            # (17b), scaled by 2^-w_i:  v / v_i <= 1 + ln2 (w - w_i)
            cons.append(cp.multiply(1 / v_i, v) <= 1 + ln2 * (w - np.log2(v_i)))
        prob = cp.Problem(cp.Maximize(objective), cons)
        try:
            prob.solve(solver=solver)
        except cp.error.SolverError:
            return None, prob.status
        if x.value is None or prob.status not in ("optimal", "optimal_inaccurate"):
            return None, prob.status
        return (np.clip(x.value, 0, 1), np.clip(y.value, 0, 1)), prob.status

    xi, yi = maximise_minorants(trace, (xi, yi), solve_at, lambda it: paper_relaxed_sum_rate(p, *it),
                                max_iterations, tolerance)
    xr, yr = round_association(p, xi, yi, epsilon)
    return xr, yr, trace
