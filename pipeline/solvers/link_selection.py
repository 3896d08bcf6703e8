"""Max-sum-rate BS/LEO association of Nguyen-Kha, Ha, Lagunas, Chatzinotas, Grotz, "Seamless 5G Automotive
Connectivity with Integrated Satellite Terrestrial Networks in C-Band", arXiv 2408.15394 (Sections II-B to IV-B;
the equations, lost from the text we have, are reconstructed in docs/link_selection.md).

Per slot t (problem (12) decouples over slots: nothing couples them), binary x[k, b] (UE k on BS
cell b) and y[k, s] (UE k on satellite s):

    (2) sum_b x[k, b] <= 1      (4) sum_s y[k, s] <= 1       (6) sum_b x + sum_s y >= 1
    (3) sum_k x[k, b] + N_o^B[b] <= N_max^B   (5) sum_k y[k, s] + N_o^S[s] <= N_max^S

Uniform power split: p_B[b] = P_B / D[b], D[b] = sum_k x[k, b] + N_o^B[b] (same for
satellites with E[s]). Rates (7)-(11):

    gamma_B[k, b] = p_B[b] h[k, b] / (I_S[k] + N),   gamma_S[k, s] = p_S[s] g[k, s] / (I_B[k] + N)
    R[k] = sum_b x log2(1 + gamma_B) + sum_s y log2(1 + gamma_S)

The cross-network interference is a switch: ``per_user`` (the paper's model, eqs. (7), (9): the
interferer's per-user power) I_S[k] = sum_s p_S[s] g[k, s], so one network's rates depend on the other's
loads; ``full_power`` I_S[k] = sum_s P_S g[k, s] (a transmitter always radiates its full power), which
decouples the networks (then the load-level MILP is exact). Every algorithm's answer is scored by
:func:`evaluate`. Algorithms: exact (:func:`solve_exact`: a MILP under full power, a MINLP with SCIP under
per_user), the paper's SCA (:func:`solve_sca`, Algorithm 1 with Proposition 1, reconstructed), a
time-share minorise-maximise scheme of this project (:func:`solve_time_share`, full power), greedy
(:func:`solve_greedy`, Algorithm 2 reconstructed) and greedy + local search (:func:`solve_heuristic`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

INTERFERENCE_MODELS = ("full_power", "per_user")


class InfeasibleError(ValueError):
    """No association satisfies the capacity and at-least-one-link constraints."""


@dataclass(frozen=True)
class SlotProblem:
    """One slot of the link-selection problem (linear gains, powers in W)."""

    h: np.ndarray  # (K, B) BS-cell gains
    g: np.ndarray  # (K, S) satellite gains
    p_bs_w: float
    p_sat_w: float
    noise_w: float
    cap_bs: int
    cap_sat: int
    other_bs: np.ndarray = field(default=None)  # (B,) users outside the study
    other_sat: np.ndarray = field(default=None)  # (S,)
    interference: str = "full_power"

    def __post_init__(self) -> None:
        if self.interference not in INTERFERENCE_MODELS:
            raise ValueError(f"interference must be one of {INTERFERENCE_MODELS}")
        if self.other_bs is None:
            object.__setattr__(self, "other_bs", np.zeros(self.h.shape[1], int))
        if self.other_sat is None:
            object.__setattr__(self, "other_sat", np.zeros(self.g.shape[1], int))

    @property
    def n_ue(self) -> int:
        return self.h.shape[0]

    @property
    def free_bs(self) -> np.ndarray:
        return np.maximum(self.cap_bs - np.asarray(self.other_bs), 0)

    @property
    def free_sat(self) -> np.ndarray:
        return np.maximum(self.cap_sat - np.asarray(self.other_sat), 0)

    def check_feasible(self) -> None:
        """Raise :class:`InfeasibleError` if the UEs cannot all get a link."""
        usable = int(self.free_bs.sum() + self.free_sat.sum())
        if usable < self.n_ue:
            raise InfeasibleError(f"{self.n_ue} UEs but only {usable} free links (capacities minus other users); "
                                  "raise N_max or lower the other users")


@dataclass(frozen=True)
class Evaluation:
    """Exact score of one association."""

    rates: np.ndarray  # (K,) bit/s/Hz
    sum_rate: float
    feasible: bool
    violations: list[str]
    sinr_bs: np.ndarray  # (K, B) SINR of each potential BS link under this association's loads
    sinr_sat: np.ndarray  # (K, S)


def evaluate(p: SlotProblem, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Rates, sum rate and constraint check of a binary association (x: K x B, y: K x S)."""
    x = np.asarray(x, float).round()
    y = np.asarray(y, float).round()
    d = x.sum(0) + p.other_bs
    e = y.sum(0) + p.other_sat
    pb = p.p_bs_w / np.maximum(d, 1)
    ps = p.p_sat_w / np.maximum(e, 1)
    if p.interference == "full_power":
        i_sat = (p.p_sat_w * p.g).sum(1)
        i_bs = (p.p_bs_w * p.h).sum(1)
    else:
        i_sat = (ps * p.g).sum(1)
        i_bs = (pb * p.h).sum(1)
    sinr_bs = pb * p.h / (i_sat + p.noise_w)[:, None]
    sinr_sat = ps * p.g / (i_bs + p.noise_w)[:, None]
    rates = (x * np.log2(1 + sinr_bs)).sum(1) + (y * np.log2(1 + sinr_sat)).sum(1)
    v = []
    if (x.sum(1) > 1).any():
        v.append("a UE on more than one BS (2)")
    if (y.sum(1) > 1).any():
        v.append("a UE on more than one satellite (4)")
    if (d > p.cap_bs).any():
        v.append("BS capacity exceeded (3)")
    if (e > p.cap_sat).any():
        v.append("satellite capacity exceeded (5)")
    if ((x.sum(1) + y.sum(1)) < 1).any():
        v.append("a UE without any link (6)")
    return Evaluation(rates, float(rates.sum()), not v, v, sinr_bs, sinr_sat)


# ------------------------------------------------------------------ exact optimum (MILP)
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


# ------------------------------------------------------------------ greedy (Nguyen-Kha et al. Algorithm 2)
def solve_greedy(p: SlotProblem) -> tuple[np.ndarray, np.ndarray]:
    """The paper's Algorithm 2 (its MATLAB-index text was lost; reconstruction), respecting capacities.

    Loads start at N_o; UEs are visited in descending order of their best received SNR (P h or P g, so
    the two networks' gain scales compare). Pass 1: each UE takes its strongest node (BS by
    ``sort(H(:,k,t),'descend')`` or satellite by ``sort(G(:,k,t),'descend')``) that has free capacity,
    a zero-gain node if nothing else is free. Pass 2 (dual connectivity): in the same order, each UE adds
    the strongest free node of the other network with a positive gain. So every UE gets a link whenever
    the free capacity covers the UEs (then an association exists): greedy never fails on a feasible slot.
    """
    p.check_feasible()
    k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
    load = [np.asarray(p.other_bs, int).copy(), np.asarray(p.other_sat, int).copy()]
    caps = (p.cap_bs, p.cap_sat)
    assoc = [np.zeros((k, nb), bool), np.zeros((k, ns), bool)]
    snr = [p.p_bs_w * p.h, p.p_sat_w * p.g]
    best = np.maximum(snr[0].max(1, initial=0.0), snr[1].max(1, initial=0.0))
    order = np.argsort(-best, kind="stable")
    for kk in order:  # pass 1: one link each, the strongest free node of either network
        options = [(snr[net][kk, j], -net, j, net) for net in (0, 1) for j in range(assoc[net].shape[1])
                   if load[net][j] < caps[net]]
        if not options:
            raise InfeasibleError("greedy found no free node for a UE")  # unreachable after check_feasible
        _, _, j, net = max(options)
        assoc[net][kk, j] = True
        load[net][j] += 1
    for kk in order:  # pass 2: a second link in the other network while capacity remains
        net = 1 if assoc[0][kk].any() else 0
        for j in np.argsort(-snr[net][kk], kind="stable"):
            if snr[net][kk, j] <= 0:
                break
            if load[net][j] < caps[net]:
                assoc[net][kk, j] = True
                load[net][j] += 1
                break
    return assoc[0], assoc[1]


def random_instance(rng: np.random.Generator, k: int, nb: int, ns: int, *, cap_bs: int = 4, cap_sat: int = 6,
                    other_bs: int = 1, other_sat: int = 2, interference: str = "full_power") -> SlotProblem:
    """Random slot in the ranges of this project's first check of the reconstructed SCA (project choice, not the
    paper's): h in 10^[-12, -8], g in 10^[-17, -15],
    P_B = 40 dBm, P_S = 30 dBW, 20 MHz, NF 7 dB, T_ant 290 K."""
    from pipeline.radio.link import noise_power_w  # noqa: PLC0415

    return SlotProblem(h=10 ** rng.uniform(-12, -8, (k, nb)), g=10 ** rng.uniform(-17, -15, (k, ns)),
                       p_bs_w=10.0, p_sat_w=1000.0, noise_w=noise_power_w(20e6, 7.0, 290.0),
                       cap_bs=cap_bs, cap_sat=cap_sat, other_bs=np.full(nb, other_bs),
                       other_sat=np.full(ns, other_sat), interference=interference)


# ------------------------------------------------------------------ time-share minorise-maximise (this project)


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


# ------------------------------------------------------------------ heuristic for large instances
def local_search(p: SlotProblem, x: np.ndarray, y: np.ndarray, max_passes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """1-move local search: each UE tries every other BS / satellite (or dropping one of its
    two links); a move is kept when :func:`evaluate`'s sum rate rises. Never worse than its start."""
    x, y = x.copy(), y.copy()
    best = evaluate(p, x, y).sum_rate
    for _ in range(max_passes):
        improved = False
        for kk in range(p.n_ue):
            for assoc in (x, y):
                current = np.flatnonzero(assoc[kk])
                options = [None, *range(assoc.shape[1])]
                for target in options:
                    if (target is None and not current.size) or (target is not None and current.size and target == current[0]):
                        continue
                    saved = assoc[kk].copy()
                    assoc[kk] = False
                    if target is not None:
                        assoc[kk, target] = True
                    ev = evaluate(p, x, y)
                    if ev.feasible and ev.sum_rate > best + 1e-9:
                        best, improved = ev.sum_rate, True
                        current = np.flatnonzero(assoc[kk])
                    else:
                        assoc[kk] = saved
        if not improved:
            break
    return x, y


def local_search_full_power(p: SlotProblem, x: np.ndarray, y: np.ndarray, max_passes: int = 5,
                            candidates: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Incremental 1-move local search for full-power interference.

    There a node's users earn F_j(S) = sum_{i in S} log2(1 + A_ij / (|S| + N_o[j])) with
    A = P h / (I + N) fixed, so a move changes only the two nodes involved: each candidate
    move (a UE to one of its ``candidates`` strongest BS cells or to any satellite, or
    dropping one of two links) costs O(capacity), which scales to thousands of UEs.
    """
    if p.interference != "full_power":
        return local_search(p, x, y, max_passes)
    x, y = x.copy(), y.copy()
    a_b, a_s = _sinr_full_power(p)
    nets = [(x, a_b, p.cap_bs, np.asarray(p.other_bs, int)), (y, a_s, p.cap_sat, np.asarray(p.other_sat, int))]
    members = [[set(np.flatnonzero(assoc[:, j])) for j in range(assoc.shape[1])] for assoc, *_ in nets]

    def node_value(net: int, j: int, users: set) -> float:
        if not users:
            return 0.0
        _, a, _, other = nets[net]
        idx = np.fromiter(users, int)
        return float(np.log2(1 + a[idx, j] / (len(users) + other[j])).sum())

    top_b = np.argsort(-a_b, axis=1)[:, :candidates]
    for _ in range(max_passes):
        improved = False
        for k in range(p.n_ue):
            for net, (assoc, a, cap, other) in enumerate(nets):
                cur = np.flatnonzero(assoc[k])
                cur_j = int(cur[0]) if cur.size else None
                other_links = int(nets[1 - net][0][k].any())
                options = list(top_b[k]) if net == 0 else list(range(assoc.shape[1]))
                base_cur = node_value(net, cur_j, members[net][cur_j]) if cur_j is not None else 0.0
                loss = (node_value(net, cur_j, members[net][cur_j] - {k}) - base_cur) if cur_j is not None else 0.0
                best_delta, best_target = 1e-12, "stay"
                if cur_j is not None and other_links:  # drop this link, keep the other network's
                    best_delta, best_target = max((best_delta, best_target), (loss, None), key=lambda t: t[0])
                for j in options:
                    j = int(j)
                    if j == cur_j or a[k, j] <= 0 or len(members[net][j]) + other[j] >= cap:
                        continue
                    gain = node_value(net, j, members[net][j] | {k}) - node_value(net, j, members[net][j])
                    if loss + gain > best_delta:
                        best_delta, best_target = loss + gain, j
                if best_target == "stay":
                    continue
                if cur_j is not None:
                    members[net][cur_j].discard(k)
                    assoc[k, cur_j] = False
                if best_target is not None:
                    members[net][best_target].add(k)
                    assoc[k, best_target] = True
                improved = True
        if not improved:
            break
    return x, y


def solve_heuristic(p: SlotProblem, max_passes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Greedy followed by the incremental 1-move local search (for instances too large for the exact model)."""
    return local_search_full_power(p, *solve_greedy(p), max_passes=max_passes)


# ------------------------------------------------------------------ the paper's SCA (Algorithm 1, Proposition 1)
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


# ------------------------------------------------------------------ exact optimum under per_user (SCIP)
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
