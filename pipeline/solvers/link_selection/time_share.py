"""This project's time-share minorise-maximise scheme (full power): the relaxed sum rate, its concave
minorants, rounding and repair; :func:`maximise_minorants` is shared with the paper's SCA and the handover window.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.solvers.link_selection.problem import InfeasibleError, SlotProblem


@dataclass
class ScaTrace:
    """Relaxed objective per SCA iteration (entry 0 is the starting point), the iteration
    count, the relaxation and the starting point used, and why it stopped."""

    objective: list[float]
    iterations: int
    start: str = "uniform"
    stopped: str = "converged"
    method: str = "time_share"


def maximise_minorants(trace: ScaTrace, start: Any, solve_at: Callable[[Any], tuple[Any, str]],
                       value_of: Callable[[Any], float], max_iterations: int, tolerance: float) -> Any:
    """The minorise-maximise loop shared by every SCA here: ``solve_at(iterate)`` solves the convex subproblem
    built at the iterate and returns (new iterate, solver status), the new iterate None when the solver failed.
    A new iterate is kept while the relaxed objective ``value_of`` does not drop (the minorant is tight at the
    iterate, so a drop is solver inaccuracy); stop when it changes by at most ``tolerance`` times its value.
    Appends to ``trace.objective`` (which holds the start's value), sets ``trace.iterations`` and
    ``trace.stopped``; returns the last iterate kept."""
    current = start
    for it in range(max_iterations):
        new, status = solve_at(current)
        if new is None:  # keep the last solved iterate: the sequence so far is a valid, monotone run
            trace.stopped = f"subproblem solver failure at iteration {it + 1} ({status})"
            break
        value = value_of(new)
        if value < trace.objective[-1] - 1e-6 * max(1.0, abs(trace.objective[-1])):
            trace.stopped = f"solver inaccuracy at iteration {it + 1}"  # keep the better iterate
            break
        current = new
        trace.objective.append(value)
        trace.iterations = it + 1
        if abs(trace.objective[-1] - trace.objective[-2]) <= tolerance * max(1.0, abs(trace.objective[-1])):
            break
    else:
        trace.stopped = "iteration limit"
    return current


def _sinr_full_power(p: SlotProblem) -> tuple[np.ndarray, np.ndarray]:
    """A_B = P_B h / (I_S + N), A_S = P_S g / (I_B + N): link SINRs of a node's whole power (full-power interference)."""
    a_b = p.p_bs_w * p.h / ((p.p_sat_w * p.g).sum(1) + p.noise_w)[:, None]
    a_s = p.p_sat_w * p.g / ((p.p_bs_w * p.h).sum(1) + p.noise_w)[:, None]
    return a_b, a_s


# smallest node load used in the SCA's rate functions (a node with no outside users and no
# fractional users would otherwise divide by zero; any binary node with users has load >= 1)
_MIN_LOAD = 1e-3


_DPP_MAX_LINKS = 20_000  # above this many (UE, node) pairs cvxpy recompiles each iteration instead (memory)


def _relaxed_sum_rate(p: SlotProblem, x: np.ndarray, y: np.ndarray) -> float:
    """Time-share relaxed sum rate sum x log2(1 + A / D) (full power); the exact sum rate at binary points."""
    a_b, a_s = _sinr_full_power(p)
    d = np.maximum(x.sum(0) + p.other_bs, _MIN_LOAD)
    e = np.maximum(y.sum(0) + p.other_sat, _MIN_LOAD)
    return float((x * np.log2(1 + a_b / d)).sum() + (y * np.log2(1 + a_s / e)).sum())


def solve_time_share(p: SlotProblem, *, max_iterations: int = 30, tolerance: float = 1e-4, epsilon: float = 0.5,
                     solver: str = "CLARABEL", start: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, ScaTrace]:
    """A minorise-maximise scheme of this project on the time-share relaxation (full-power interference only);
    not the paper's SCA (that is :func:`solve_sca`), though it keeps Algorithm 1's skeleton: relax, iterate
    convex subproblems, round by (19)-(20), repair.

    Relax x, y to [0, 1] and read x as a time share: R = sum x log2(1 + A / D), A = P h / (I + N) fixed
    under full power, D = sum_k x + N_o the node's load. c(D) = log2(1 + A / D) is convex, so c(D) >=
    alpha + beta D (tangent at D_i, beta = -A / (ln2 D_i (D_i + A)) <= 0), and since x >= 0,
    x c(D) >= alpha x + beta x D with x D = ((x + D)^2 - (x - D)^2) / 4 <= ((x + D)^2 - tangent of
    (x - D)^2 at the iterate) / 4: a concave quadratic minorant (a second-order cone program), tight at the
    iterate, so the relaxed objective never decreases. Under full power it amounts to a linear programme
    per load level; its optimum is almost binary, so rounding loses little.

    Start x = 0.5 / |B|, y = 0.5 / |S| unless ``start`` is given; stop when the relaxed objective changes by
    at most ``tolerance`` times its value.
    """
    import cvxpy as cp  # noqa: PLC0415

    if p.interference != "full_power":
        raise ValueError("solve_time_share supports interference='full_power' only (with per_user interference "
                         "the SINR of one network depends on the other's loads); use solve_sca")
    p.check_feasible()
    k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
    if start is None:
        xi, yi = np.full((k, nb), 0.5 / max(nb, 1)), np.full((k, ns), 0.5 / max(ns, 1))
    else:
        xi, yi = (np.clip(np.asarray(v, float), 0, 1) for v in start)
    trace = ScaTrace([_relaxed_sum_rate(p, xi, yi)], 0, "uniform" if start is None else "given")
    model = TimeShareModel(p)
    prob = cp.Problem(cp.Maximize(model.objective), model.constraints)

    def solve_at(iterate: tuple[np.ndarray, np.ndarray]) -> tuple[Any, str]:
        model.update(*iterate)
        try:
            # DPP compiles once and re-solves fast, but its parameter tensor grows as (K n)^2: off for big slots
            prob.solve(solver=solver, ignore_dpp=k * (nb + ns) > _DPP_MAX_LINKS)
        except cp.error.SolverError:
            return None, prob.status
        if model.x.value is None or prob.status not in ("optimal", "optimal_inaccurate"):
            return None, prob.status
        return (np.clip(model.x.value, 0, 1), np.clip(model.y.value, 0, 1)), prob.status

    xi, yi = maximise_minorants(trace, (xi, yi), solve_at, lambda it: _relaxed_sum_rate(p, *it),
                                max_iterations, tolerance)
    xr, yr = round_association(p, xi, yi, epsilon)
    return xr, yr, trace


class TimeShareModel:
    """One slot's time-share minorant in cvxpy (see :func:`solve_time_share`): the relaxed variables ``x``, ``y``,
    the ``objective`` (its coefficients are parameters, set at an iterate by :meth:`update`) and the
    ``constraints`` (2)-(6) on [0, 1]. Shared by :func:`solve_time_share` and the window version in
    :mod:`pipeline.solvers.handover`."""

    def __init__(self, p: SlotProblem) -> None:
        import cvxpy as cp  # noqa: PLC0415

        k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
        self.p = p
        self.gains = _sinr_full_power(p)
        self.other = (np.asarray(p.other_bs, float), np.asarray(p.other_sat, float))
        self.x, self.y = cp.Variable((k, nb), nonneg=True), cp.Variable((k, ns), nonneg=True)
        ones_k = np.ones((k, 1))
        self.objective = 0
        self.params: list[tuple[Any, ...]] = []
        load_links: list[Any] = []
        for var, a, o in ((self.x, self.gains[0], self.other[0]), (self.y, self.gains[1], self.other[1])):
            n = a.shape[1]
            load = cp.Variable(n)  # node loads D as their own variables: keeps the cone matrix sparse (k nnz per column)
            load_links.append(load == cp.sum(var, axis=0) + o)
            load_m = ones_k @ cp.reshape(load, (1, n), order="C")  # (k, n): every UE row sees its node's load
            # alpha x + beta x D >= alpha x - |beta| ((x + D)^2 + q^2 - 2 q (x - D)) / 4, q = x_i - D_i, written
            # as coef_x x + coef_d D - |beta| (x + D)^2 / 4 + const (the constant does not move the argmax; DPP form)
            coef_x, coef_d = cp.Parameter((k, n)), cp.Parameter((k, n))
            neg_beta = cp.Parameter((k, n), nonneg=True)
            self.objective += (cp.sum(cp.multiply(coef_x, var)) + cp.sum(cp.multiply(coef_d, load_m))
                               - cp.sum(cp.multiply(neg_beta, cp.square(var + load_m))) / 4)
            self.params.append((coef_x, coef_d, neg_beta))
        x, y = self.x, self.y
        self.constraints = [x <= 1, y <= 1, cp.sum(x, axis=1) <= 1, cp.sum(y, axis=1) <= 1,  # (2), (4)
                            cp.sum(x, axis=1) + cp.sum(y, axis=1) >= 1,  # (6)
                            cp.sum(x, axis=0) + self.other[0] <= p.cap_bs,  # (3)
                            cp.sum(y, axis=0) + self.other[1] <= p.cap_sat, *load_links]  # (5)

    def update(self, xi: np.ndarray, yi: np.ndarray) -> None:
        """Set the minorant's coefficients at the iterate (xi, yi)."""
        for pars, xv, a, o in zip(self.params, (xi, yi), self.gains, self.other):
            d_i = np.maximum(xv.sum(0) + o, _MIN_LOAD)[None, :]
            c = np.log2(1 + a / d_i)  # c(D_i); tangent c(D) >= c(D_i) + beta (D - D_i)
            beta = -a / (d_i * (d_i + a)) / math.log(2)
            q = xv - d_i
            pars[0].value = c - beta * d_i - beta * q / 2  # alpha + |beta| q / 2
            pars[1].value = beta * q / 2  # -|beta| q / 2
            pars[2].value = -beta


def round_association(p: SlotProblem, xf: np.ndarray, yf: np.ndarray, epsilon: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(19)-(20): each UE keeps its largest fractional BS and satellite entries if >= epsilon;
    a UE left without a link keeps the larger of its two maxima; overloaded nodes drop their
    weakest links (moving a UE that would be left alone to the best node with room)."""
    k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
    x = np.zeros((k, nb), bool)
    y = np.zeros((k, ns), bool)
    bb, sb = xf.argmax(1), yf.argmax(1)
    for kk in range(k):
        if nb and xf[kk, bb[kk]] >= epsilon:
            x[kk, bb[kk]] = True
        if ns and yf[kk, sb[kk]] >= epsilon:
            y[kk, sb[kk]] = True
        if not (x[kk].any() or y[kk].any()):
            if ns == 0 or (nb and xf[kk, bb[kk]] >= yf[kk, sb[kk]]):
                x[kk, bb[kk]] = True
            else:
                y[kk, sb[kk]] = True
    return repair(p, x, y)


def repair(p: SlotProblem, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Make an association feasible: fix overloaded nodes, then give link-less UEs a free node."""
    x, y = x.copy(), y.copy()
    for assoc, gains, cap, other in ((x, p.h, p.cap_bs, p.other_bs), (y, p.g, p.cap_sat, p.other_sat)):
        for j in range(assoc.shape[1]):
            while assoc[:, j].sum() + other[j] > cap:
                members = np.flatnonzero(assoc[:, j])
                # drop first the weakest member that keeps another link
                has_other = (x.sum(1) + y.sum(1))[members] > 1
                pool = members[has_other] if has_other.any() else members
                assoc[pool[np.argmin(gains[pool, j])], j] = False
    load_b = x.sum(0) + p.other_bs
    load_s = y.sum(0) + p.other_sat
    for kk in np.flatnonzero(~(x.any(1) | y.any(1))):
        cand_b = [(p.p_bs_w * p.h[kk, b], "b", b) for b in range(x.shape[1]) if load_b[b] < p.cap_bs]
        cand_s = [(p.p_sat_w * p.g[kk, s], "s", s) for s in range(y.shape[1]) if load_s[s] < p.cap_sat]
        if not cand_b + cand_s:
            raise InfeasibleError("no free node left for a UE during repair")
        _, kind, j = max(cand_b + cand_s)
        if kind == "b":
            x[kk, j] = True
            load_b[j] += 1
        else:
            y[kk, j] = True
            load_s[j] += 1
    return x, y
