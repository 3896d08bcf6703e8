"""Exact optima: the load-level MILP under full-power interference (HiGHS via scipy; :class:`FullPowerMilp`,
reused by the handover window) and the MINLP under the paper's per-user interference (SCIP, node-limited,
with its bound), plus brute force for tiny instances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.solvers.link_selection.problem import InfeasibleError, SlotProblem, evaluate
from pipeline.solvers.link_selection.sca import _snr_terms


def _link_rates(p: SlotProblem) -> tuple[np.ndarray, np.ndarray]:
    """Rates r_B[k, b, n] and r_S[k, s, n] when the node serves n users in total (full-power interference)."""
    if p.interference != "full_power":
        raise ValueError("the load-level MILP is exact for interference='full_power' only; "
                         "use brute_force for per_user on small instances")
    i_sat = (p.p_sat_w * p.g).sum(1)
    i_bs = (p.p_bs_w * p.h).sum(1)
    n_b = np.arange(1, p.cap_bs + 1)
    n_s = np.arange(1, p.cap_sat + 1)
    r_b = np.log2(1 + p.p_bs_w * p.h[:, :, None] / (n_b[None, None, :] * (i_sat + p.noise_w)[:, None, None]))
    r_s = np.log2(1 + p.p_sat_w * p.g[:, :, None] / (n_s[None, None, :] * (i_bs + p.noise_w)[:, None, None]))
    return r_b, r_s


def solve_exact(p: SlotProblem, time_limit_s: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact optimum by a mixed-integer linear model solved with HiGHS (scipy.optimize.milp).

    With full-power interference a link's rate depends only on its node's load n, so per
    node j the model picks at most one load level z[j, n] (n counts the outside users too):

        sum_k x[k, j] = sum_n (n - N_o[j]) z[j, n]
        sum_n w[k, j, n] <= x[k, j],   sum_k w[k, j, n] <= (n - N_o[j]) z[j, n]

    and earns r[k, j, n] w[k, j, n]. At an integer point only the chosen level has room, and
    exactly the node's users fill it, so the objective is the sum rate. A link of zero gain is a
    variable too (rate 0: it can still satisfy (6) when capacity is short elsewhere).

    Under ``per_user`` interference this dispatches to :func:`solve_exact_per_user`.
    """
    if p.interference == "per_user":
        sol = solve_exact_per_user(p, time_limit_s=time_limit_s)
        return sol.x, sol.y
    model = FullPowerMilp()
    cols = model.add_slot(p)
    return model.association(model.solve(time_limit_s), cols, p)


class FullPowerMilp:
    """HiGHS model (scipy.optimize.milp) holding one or more slots of :func:`solve_exact`'s load-level
    MILP (minimising minus the sum rate) plus whatever linear terms a caller adds (the handover-aware
    selection over a window, :mod:`pipeline.solvers.handover`)."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.cost: list[float] = []
        self.integral: list[int] = []

    def new_vars(self, n: int, c: Any = 0.0, integral: bool = True) -> np.ndarray:
        first = len(self.cost)
        self.cost.extend(np.broadcast_to(np.asarray(c, float), (n,)).tolist())
        self.integral.extend([int(integral)] * n)
        return np.arange(first, first + n)

    def add(self, idx: Any, coef: Any, low: float, high: float) -> None:
        idx = np.atleast_1d(np.asarray(idx, int))
        self.rows.extend([len(self.lo)] * idx.size)
        self.cols.extend(idx.tolist())
        self.vals.extend(np.broadcast_to(np.asarray(coef, float), idx.shape).tolist())
        self.lo.append(low)
        self.hi.append(high)

    def add_slot(self, p: SlotProblem) -> dict[tuple[str, int, int], int]:
        """The slot's variables and constraints; returns the column of each link {(kind, ue, node): col}."""
        if p.interference != "full_power":
            raise ValueError("the load-level MILP is exact for interference='full_power' only")
        p.check_feasible()
        k = p.n_ue
        r_b, r_s = _link_rates(p)
        links_of_ue: list[list[int]] = [[] for _ in range(k)]
        x_cols: dict[tuple[str, int, int], int] = {}
        for kind, gains, rates, cap, other in (("b", p.h, r_b, p.cap_bs, p.other_bs), ("s", p.g, r_s, p.cap_sat, p.other_sat)):
            per_ue: list[list[int]] = [[] for _ in range(k)]
            for j in range(gains.shape[1]):
                n_other = int(other[j])
                if cap - n_other <= 0:
                    continue
                levels = np.arange(n_other + 1, min(cap, n_other + k) + 1)  # loads with 1..K study users
                room = (levels - n_other).astype(float)
                xv = self.new_vars(k)  # every car, zero-gain links included (rate 0)
                zv = self.new_vars(levels.size)
                w = self.new_vars(k * levels.size, -rates[:, j][:, levels - 1].ravel()).reshape(k, levels.size)
                self.add(zv, 1.0, 0.0, 1.0)
                self.add(np.concatenate([xv, zv]), np.concatenate([np.ones(k), -room]), 0.0, 0.0)
                for a, col in enumerate(xv):
                    self.add(np.append(w[a], col), np.append(np.ones(levels.size), -1.0), -np.inf, 0.0)
                    per_ue[a].append(int(col))
                    x_cols[kind, a, j] = int(col)
                for n in range(levels.size):
                    self.add(np.append(w[:, n], zv[n]), np.append(np.ones(k), -room[n]), -np.inf, 0.0)
            for kk in range(k):
                if per_ue[kk]:
                    self.add(per_ue[kk], 1.0, -np.inf, 1.0)  # (2) / (4)
                links_of_ue[kk].extend(per_ue[kk])
        for kk in range(k):
            if not links_of_ue[kk]:
                raise InfeasibleError(f"UE {kk} has no node with free capacity")
            self.add(links_of_ue[kk], 1.0, 1.0, np.inf)  # (6)
        return x_cols

    def solve(self, time_limit_s: float = 60.0, rel_gap: float = 1e-9) -> np.ndarray:
        from scipy.optimize import Bounds, LinearConstraint, milp  # noqa: PLC0415
        from scipy.sparse import coo_matrix  # noqa: PLC0415

        a = coo_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.lo), len(self.cost))).tocsr()
        res = milp(np.asarray(self.cost), constraints=LinearConstraint(a, self.lo, self.hi),
                   integrality=np.asarray(self.integral), bounds=Bounds(0, 1),
                   options={"time_limit": time_limit_s, "disp": False, "mip_rel_gap": rel_gap})
        if res.status == 2:
            raise InfeasibleError("HiGHS proved the problem infeasible")
        if res.x is None or res.status != 0:
            raise RuntimeError(f"HiGHS did not reach a proven optimum ({res.message})")
        return res.x

    @staticmethod
    def association(solution: np.ndarray, x_cols: dict[tuple[str, int, int], int], p: SlotProblem
                    ) -> tuple[np.ndarray, np.ndarray]:
        x = np.zeros((p.n_ue, p.h.shape[1]), bool)
        y = np.zeros((p.n_ue, p.g.shape[1]), bool)
        for (kind, kk, j), col in x_cols.items():
            (x if kind == "b" else y)[kk, j] = solution[col] > 0.5
        return x, y


def brute_force(p: SlotProblem) -> tuple[np.ndarray, np.ndarray]:
    """Exhaustive search over every association (tiny instances; any interference model)."""
    import itertools  # noqa: PLC0415

    p.check_feasible()
    k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
    choices = [(b, s) for b in range(-1, nb) for s in range(-1, ns) if (b, s) != (-1, -1)]
    if len(choices) ** k > 2_000_000:
        raise ValueError("instance too large for brute force")
    best, best_xy = -math.inf, None
    for combo in itertools.product(choices, repeat=k):
        x = np.zeros((k, nb), bool)
        y = np.zeros((k, ns), bool)
        for kk, (b, s) in enumerate(combo):
            if b >= 0:
                x[kk, b] = True
            if s >= 0:
                y[kk, s] = True
        ev = evaluate(p, x, y)
        if ev.feasible and ev.sum_rate > best:
            best, best_xy = ev.sum_rate, (x, y)
    if best_xy is None:
        raise InfeasibleError("no feasible association")
    return best_xy


@dataclass(frozen=True)
class ExactSolution:
    """An exact solver's answer: the association, its sum rate (by :func:`evaluate`), an upper bound on the
    optimum, and whether the solver proved optimality (gap below its tolerance) within its time limit."""

    x: np.ndarray
    y: np.ndarray
    sum_rate: float
    upper_bound: float
    proven: bool
    seconds: float

    @property
    def gap(self) -> float:
        """(bound - value) / bound: 0 when proven, else how far the answer may be from the optimum."""
        return max(0.0, (self.upper_bound - self.sum_rate) / self.upper_bound) if self.upper_bound > 0 else 0.0


# links whose best possible rate (lowest load, least interference) is below this carry no rate variable in
# the MINLP (rate 0 for the model); the bound then adds what they could carry, so it stays an upper bound
PER_USER_LINK_RATE_FLOOR = 1e-6  # bit/s/Hz (project choice: 1e-5 of a weak link's rate)


def solve_exact_per_user(p: SlotProblem, time_limit_s: float = 60.0, gap: float = 1e-6,
                         start: tuple[np.ndarray, np.ndarray] | None = None, configure: Any = None,
                         node_limit: int | None = None) -> ExactSolution:
    """Global optimum under ``per_user`` interference: a mixed-integer nonlinear model solved by SCIP's
    spatial branch-and-bound (pyscipopt).

    Per node j a one-hot load level z[j, n] (n = N_o .. N_max; sum_k x[k, j] + N_o = sum_n n z[j, n]) gives
    its inverse load l_j = sum_n z[j, n] / n, linear. Per link with the UE on it, in noise units,
    r <= log2(1 + I + A l_j) - log2(1 + I) (the log-difference form of log2(1 + SINR)), I = sum over the
    other network of A' l' (linear), and r <= r_max x (r_max at the lowest load and interference). SCIP
    proves the optimum to ``gap`` (relative) or returns its best answer and dual bound at ``node_limit``
    branch-and-bound nodes (deterministic: the same answer on any machine) or ``time_limit_s`` (a guard).
    ``start``: a feasible association handed to SCIP as its first incumbent (e.g. the heuristic's);
    ``configure``: a callable given the pyscipopt Model before solving (SCIP settings)."""
    import time as _time  # noqa: PLC0415

    from pyscipopt import Model, log, quicksum  # noqa: PLC0415

    if p.interference != "per_user":
        raise ValueError("solve_exact_per_user is for interference='per_user'; solve_exact handles full_power")
    p.check_feasible()
    t0 = _time.perf_counter()
    k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
    a_b, a_s = _snr_terms(p)
    m = Model()
    m.hideOutput()
    x = {(i, j): m.addVar(vtype="B") for i in range(k) for j in range(nb)}
    y = {(i, j): m.addVar(vtype="B") for i in range(k) for j in range(ns)}
    inv: dict[tuple[str, int], Any] = {}
    level_vars: dict[tuple[str, int], tuple[list[int], list[Any]]] = {}
    nets = (("b", p.cap_bs, p.other_bs, nb, x), ("s", p.cap_sat, p.other_sat, ns, y))
    for kind, cap, other, n_nodes, assoc in nets:
        for j in range(n_nodes):
            levels = list(range(int(other[j]), min(cap, int(other[j]) + k) + 1))  # no more than the K cars
            z = [m.addVar(vtype="B") for _ in levels]
            level_vars[kind, j] = (levels, z)
            m.addCons(quicksum(z) == 1)
            m.addCons(quicksum(assoc[i, j] for i in range(k)) + int(other[j]) == quicksum(n * zn for n, zn in zip(levels, z)))
            inv[kind, j] = m.addVar(lb=1.0 / max(levels[-1], 1), ub=1.0 / max(levels[0], 1))
            m.addCons(inv[kind, j] == quicksum(zn / max(n, 1) for n, zn in zip(levels, z)))  # evaluate: P / max(D, 1)
    for i in range(k):
        m.addCons(quicksum(x[i, j] for j in range(nb)) <= 1)  # (2)
        m.addCons(quicksum(y[i, j] for j in range(ns)) <= 1)  # (4)
        m.addCons(quicksum(x[i, j] for j in range(nb)) + quicksum(y[i, j] for j in range(ns)) >= 1)  # (6)
    rates, rate_vars, pruned_bound = [], [], 0.0
    for i in range(k):
        i_from_sat = quicksum(a_s[i, j] * inv["s", j] for j in range(ns))
        i_from_bs = quicksum(a_b[i, j] * inv["b", j] for j in range(nb))
        most_b = np.minimum(p.cap_bs, np.asarray(p.other_bs) + k).clip(1)  # the highest load a node can reach
        most_s = np.minimum(p.cap_sat, np.asarray(p.other_sat) + k).clip(1)
        least = {"b": 1 + float((a_s[i] / most_s).sum()), "s": 1 + float((a_b[i] / most_b).sum())}
        for kind, a, n_nodes, assoc, interference, other in (("b", a_b, nb, x, i_from_sat, p.other_bs),
                                                              ("s", a_s, ns, y, i_from_bs, p.other_sat)):
            r_max = np.log2(1 + a[i] / (np.maximum(np.asarray(other, float) + 1, 1) * least[kind]))
            small = r_max < PER_USER_LINK_RATE_FLOOR
            pruned_bound += float(r_max[small].max()) if small.any() else 0.0  # one link per UE and network
            for j in np.flatnonzero(~small):
                r = m.addVar(lb=0.0, ub=float(r_max[j]))
                m.addCons(r <= float(r_max[j]) * assoc[i, j])
                m.addCons(r * math.log(2) <= log(1 + interference + float(a[i, j]) * inv[kind, j]) - log(1 + interference))
                rates.append(r)
                rate_vars.append((kind, i, int(j), r))
    m.setObjective(quicksum(rates), "maximize")
    m.setParam("limits/time", float(time_limit_s))
    m.setParam("limits/gap", float(gap))
    if node_limit is not None:
        m.setParam("limits/totalnodes", int(node_limit))
    start_eval = None
    if start is not None:  # a complete solution (levels, inverse loads, rates): SCIP's first incumbent
        xs, ys = (np.asarray(v, bool) for v in start)
        start_eval = evaluate(p, xs, ys)
        if start_eval.feasible:
            sol = m.createSol()
            for assoc, vals in ((x, xs), (y, ys)):
                for (i, j), var in assoc.items():
                    m.setSolVal(sol, var, float(vals[i, j]))
            for (kind, j), (levels, z) in level_vars.items():
                other = (p.other_bs if kind == "b" else p.other_sat)[j]
                load = int(other) + int((xs if kind == "b" else ys)[:, j].sum())
                for n, zn in zip(levels, z):
                    m.setSolVal(sol, zn, float(n == load))
                m.setSolVal(sol, inv[kind, j], 1.0 / max(load, 1))
            for kind, i, j, r in rate_vars:
                on = (xs if kind == "b" else ys)[i, j]
                sinr = (start_eval.sinr_bs if kind == "b" else start_eval.sinr_sat)[i, j]
                m.setSolVal(sol, r, float(np.log2(1 + sinr)) * (1 - 1e-9) if on else 0.0)
            m.addSol(sol, free=True)
    # measured on Helsinki slots (10 cars, 36 cells, 2 satellites): fast separation, and no primal heuristics
    # when an incumbent is given, prove the optimum 2.4x faster than SCIP's defaults (27.5 s vs 64.7 s, 3 slots)
    from pyscipopt import SCIP_PARAMSETTING  # noqa: PLC0415

    m.setSeparating(SCIP_PARAMSETTING.FAST)
    if start is not None:
        m.setHeuristics(SCIP_PARAMSETTING.OFF)
    if configure is not None:
        configure(m)
    m.optimize()
    if m.getStatus() == "infeasible":
        raise InfeasibleError("SCIP proved the slot infeasible")
    if m.getNSols() == 0:
        raise RuntimeError(f"SCIP found no association within {time_limit_s} s ({m.getStatus()})")
    xs = np.array([[m.getVal(x[i, j]) > 0.5 for j in range(nb)] for i in range(k)], bool).reshape(k, nb)
    ys = np.array([[m.getVal(y[i, j]) > 0.5 for j in range(ns)] for i in range(k)], bool).reshape(k, ns)
    value = evaluate(p, xs, ys).sum_rate
    if start_eval is not None and start_eval.feasible and start_eval.sum_rate > value:  # never below the start
        xs, ys, value = np.asarray(start[0], bool), np.asarray(start[1], bool), start_eval.sum_rate
    bound = max(float(m.getDualbound()) + pruned_bound, value)
    return ExactSolution(xs, ys, value, bound, m.getStatus() in ("optimal", "gaplimit"), _time.perf_counter() - t0)
