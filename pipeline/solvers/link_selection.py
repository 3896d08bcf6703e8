"""Max-sum-rate BS/LEO association of seed 003 (Sections II-B to IV-B; seed-math.md 1.4-1.9).

Per slot t (the problem decouples over slots, seed-math 1.6), binary x[k, b] (UE k on BS
cell b) and y[k, s] (UE k on satellite s):

    (2) sum_b x[k, b] <= 1      (4) sum_s y[k, s] <= 1       (6) sum_b x + sum_s y >= 1
    (3) sum_k x[k, b] + N_o^B[b] <= N_max^B   (5) sum_k y[k, s] + N_o^S[s] <= N_max^S

Uniform power split: p_B[b] = P_B / D[b], D[b] = sum_k x[k, b] + N_o^B[b] (same for
satellites with E[s]). Rates (7)-(11):

    gamma_B[k, b] = p_B[b] h[k, b] / (I_S[k] + N),   gamma_S[k, s] = p_S[s] g[k, s] / (I_B[k] + N)
    R[k] = sum_b x log2(1 + gamma_B) + sum_s y log2(1 + gamma_S)

The cross-network interference is a documented switch (seed-math 1.5 could not recover it):
``full_power`` (default) I_S[k] = sum_s P_S g[k, s] (a transmitter with N_o >= 1 users
always radiates its full power), ``per_user`` I_S[k] = sum_s p_S[s] g[k, s].
Every algorithm's answer is scored by :func:`evaluate`.
"""

from __future__ import annotations

import math
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
    exactly the node's users fill it, so the objective is the sum rate. Links with zero gain
    get no variable.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp  # noqa: PLC0415
    from scipy.sparse import coo_matrix  # noqa: PLC0415

    p.check_feasible()
    k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
    r_b, r_s = _link_rates(p)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    cost: list[float] = []

    def new_vars(n: int, c: Any = 0.0) -> np.ndarray:
        first = len(cost)
        cost.extend(np.broadcast_to(np.asarray(c, float), (n,)).tolist())
        return np.arange(first, first + n)

    def add(idx: Any, coef: Any, low: float, high: float) -> None:
        idx = np.atleast_1d(np.asarray(idx, int))
        rows.extend([len(lo)] * idx.size)
        cols.extend(idx.tolist())
        vals.extend(np.broadcast_to(np.asarray(coef, float), idx.shape).tolist())
        lo.append(low)
        hi.append(high)

    links_of_ue: list[list[int]] = [[] for _ in range(k)]
    x_cols: list[tuple[str, int, int, int]] = []
    for kind, gains, rates, cap, other in (("b", p.h, r_b, p.cap_bs, p.other_bs), ("s", p.g, r_s, p.cap_sat, p.other_sat)):
        per_ue: list[list[int]] = [[] for _ in range(k)]
        for j in range(gains.shape[1]):
            users = np.flatnonzero(gains[:, j] > 0)
            n_other = int(other[j])
            if cap - n_other <= 0 or users.size == 0:
                continue
            levels = np.arange(n_other + 1, cap + 1)  # total loads with at least one study user
            room = (levels - n_other).astype(float)
            xv = new_vars(users.size)
            zv = new_vars(levels.size)
            w = new_vars(users.size * levels.size, -rates[users, j][:, levels - 1].ravel()).reshape(users.size, levels.size)
            add(zv, 1.0, 0.0, 1.0)
            add(np.concatenate([xv, zv]), np.concatenate([np.ones(users.size), -room]), 0.0, 0.0)
            for a, col in enumerate(xv):
                add(np.append(w[a], col), np.append(np.ones(levels.size), -1.0), -np.inf, 0.0)
                per_ue[users[a]].append(int(col))
                x_cols.append((kind, int(users[a]), j, int(col)))
            for n in range(levels.size):
                add(np.append(w[:, n], zv[n]), np.append(np.ones(users.size), -room[n]), -np.inf, 0.0)
        for kk in range(k):
            if per_ue[kk]:
                add(per_ue[kk], 1.0, -np.inf, 1.0)  # (2) / (4)
            links_of_ue[kk].extend(per_ue[kk])
    for kk in range(k):
        if not links_of_ue[kk]:
            raise InfeasibleError(f"UE {kk} has no link with a positive gain")
        add(links_of_ue[kk], 1.0, 1.0, np.inf)  # (6)
    a = coo_matrix((vals, (rows, cols)), shape=(len(lo), len(cost))).tocsr()
    res = milp(np.asarray(cost), constraints=LinearConstraint(a, lo, hi), integrality=np.ones(len(cost)),
               bounds=Bounds(0, 1), options={"time_limit": time_limit_s, "disp": False, "mip_rel_gap": 1e-9})
    if res.status == 2:
        raise InfeasibleError("HiGHS proved the slot infeasible")
    if res.x is None or res.status != 0:
        raise RuntimeError(f"HiGHS did not reach a proven optimum ({res.message})")
    x = np.zeros((k, nb), bool)
    y = np.zeros((k, ns), bool)
    for kind, kk, j, col in x_cols:
        (x if kind == "b" else y)[kk, j] = res.x[col] > 0.5
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


# ------------------------------------------------------------------ greedy (seed 003 Algorithm 2)
def solve_greedy(p: SlotProblem) -> tuple[np.ndarray, np.ndarray]:
    """Seed 003 Algorithm 2 as reconstructed in seed-math 1.9.

    Loads start at N_o. UEs are visited in descending order of their best channel gain; each
    takes the strongest BS with free capacity (``sort(H(:,k,t),'descend')``) and then the
    strongest satellite with free capacity (dual connectivity when capacity permits).
    A UE left without any link makes the instance infeasible for greedy.
    """
    p.check_feasible()
    k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
    load_b = np.asarray(p.other_bs, int).copy()
    load_s = np.asarray(p.other_sat, int).copy()
    x = np.zeros((k, nb), bool)
    y = np.zeros((k, ns), bool)
    # compare BS and satellite links on received SNR so that the two gain scales are comparable
    best = np.maximum((p.p_bs_w * p.h).max(1, initial=0.0), (p.p_sat_w * p.g).max(1, initial=0.0))
    for kk in np.argsort(-best, kind="stable"):
        for b in np.argsort(-p.h[kk], kind="stable"):
            if load_b[b] < p.cap_bs and p.h[kk, b] > 0:
                x[kk, b] = True
                load_b[b] += 1
                break
        for s in np.argsort(-p.g[kk], kind="stable"):
            if load_s[s] < p.cap_sat and p.g[kk, s] > 0:
                y[kk, s] = True
                load_s[s] += 1
                break
    if not (x.any(1) | y.any(1)).all():
        raise InfeasibleError("greedy left a UE without a link (capacities exhausted by stronger UEs)")
    return x, y


def random_instance(rng: np.random.Generator, k: int, nb: int, ns: int, *, cap_bs: int = 4, cap_sat: int = 6,
                    other_bs: int = 1, other_sat: int = 2, interference: str = "full_power") -> SlotProblem:
    """Random slot in the ranges of seed-math 1.10: h in 10^[-12, -8], g in 10^[-17, -15],
    P_B = 40 dBm, P_S = 30 dBW, 20 MHz, NF 7 dB, T_ant 290 K."""
    from pipeline.radio.link import noise_power_w  # noqa: PLC0415

    return SlotProblem(h=10 ** rng.uniform(-12, -8, (k, nb)), g=10 ** rng.uniform(-17, -15, (k, ns)),
                       p_bs_w=10.0, p_sat_w=1000.0, noise_w=noise_power_w(20e6, 7.0, 290.0),
                       cap_bs=cap_bs, cap_sat=cap_sat, other_bs=np.full(nb, other_bs),
                       other_sat=np.full(ns, other_sat), interference=interference)


# ------------------------------------------------------------------ SCA (seed 003 Algorithm 1)
SCA_RELAXATIONS = ("time_share", "folded")


@dataclass
class ScaTrace:
    """Relaxed objective per SCA iteration (entry 0 is the starting point), the iteration
    count, the relaxation and the starting point used, and why it stopped."""

    objective: list[float]
    iterations: int
    start: str = "uniform"
    stopped: str = "converged"
    relaxation: str = "time_share"


def _sinr_full_power(p: SlotProblem) -> tuple[np.ndarray, np.ndarray]:
    """A_B = P_B h / (I_S + N), A_S = P_S g / (I_B + N): link SINRs of a node's whole power (full-power interference)."""
    a_b = p.p_bs_w * p.h / ((p.p_sat_w * p.g).sum(1) + p.noise_w)[:, None]
    a_s = p.p_sat_w * p.g / ((p.p_bs_w * p.h).sum(1) + p.noise_w)[:, None]
    return a_b, a_s


# smallest node load used in the SCA's rate functions (a node with no outside users and no
# fractional users would otherwise divide by zero; any binary node with users has load >= 1)
_MIN_LOAD = 1e-3
_DPP_MAX_LINKS = 20_000  # above this many (UE, node) pairs cvxpy recompiles each iteration instead (memory)


def _relaxed_sum_rate(p: SlotProblem, x: np.ndarray, y: np.ndarray, relaxation: str = "time_share") -> float:
    """Relaxed sum rate of a fractional association; both relaxations equal the exact sum rate at binary points.

    ``time_share``: sum x log2(1 + A / D);  ``folded``: sum log2(1 + A x^2 / D) (seed-math 1.7).
    """
    a_b, a_s = _sinr_full_power(p)
    d = np.maximum(x.sum(0) + p.other_bs, _MIN_LOAD)
    e = np.maximum(y.sum(0) + p.other_sat, _MIN_LOAD)
    if relaxation == "time_share":
        return float((x * np.log2(1 + a_b / d)).sum() + (y * np.log2(1 + a_s / e)).sum())
    return float(np.log2(1 + a_b * x**2 / d).sum() + np.log2(1 + a_s * y**2 / e).sum())


def solve_sca(p: SlotProblem, *, max_iterations: int = 30, tolerance: float = 1e-4, epsilon: float = 0.5,
              relaxation: str = "time_share", solver: str = "CLARABEL",
              start: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, ScaTrace]:
    """Seed 003 Algorithm 1 (SCA over the relaxed association, then rounding (19)-(20) and repair).

    Relax x, y to [0, 1] and iterate convex subproblems (18) whose objective is a global
    under-estimator of the relaxed sum rate, tight at the current iterate, so the relaxed
    objective never decreases (minorise-maximise). Full-power interference makes the SINR of
    a link A / D with A = P h / (I + N) fixed and D = sum_k x + N_o its node's load. How the
    paper relaxes the rate was lost (seed-math 1.7-1.10); two documented relaxations:

    ``time_share`` (default): R = sum x log2(1 + A / D), x read as a time share (eq. (8) with x
    relaxed). c(D) = log2(1 + A / D) is convex, so c(D) >= alpha + beta D (tangent at D_i,
    beta = -A / (ln2 D_i (D_i + A)) <= 0), and since x >= 0,
    x c(D) >= alpha x + beta x D with x D = ((x + D)^2 - (x - D)^2) / 4 <= ((x + D)^2 - tangent
    of (x - D)^2 at the iterate) / 4: a concave quadratic minorant (a second-order cone
    program, no exponential cone). Its optimum is almost binary, so rounding loses little.

    ``folded``: R = sum log2(1 + A x^2 / D), the reconstruction of seed-math 1.7 with the
    tangent of the jointly convex x^2 / D inside the log. At high SINR it rewards splitting a
    UE over many nodes (each link's log counts separately), so its stationary points are far
    from binary and rounding loses 10-45 % on random instances; kept for comparison. The log
    is extended linearly below 0 (phi(u) = log(1 + u) for u >= 0, u otherwise: concave, below
    log(1 + max(u, 0))) so a negative tangent never makes the subproblem infeasible.

    Start (seed-math 1.9): x = 0.5 / |B|, y = 0.5 / |S| unless ``start`` is given. Stop when the
    relaxed objective changes by at most ``tolerance`` times its value (relative; seed-math 1.9
    stops on |SR(i) - SR(i-1)| <= eps). Full-power interference only.
    """
    import cvxpy as cp  # noqa: PLC0415

    if p.interference != "full_power":
        raise ValueError("solve_sca supports interference='full_power' only (with per_user interference the SINR "
                         "of one network depends on the other's loads); use brute_force on small instances")
    if relaxation not in SCA_RELAXATIONS:
        raise ValueError(f"unknown SCA relaxation {relaxation!r}; use one of {SCA_RELAXATIONS}")
    p.check_feasible()
    k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
    a_b, a_s = _sinr_full_power(p)
    other = (np.asarray(p.other_bs, float), np.asarray(p.other_sat, float))
    if start is None:
        xi, yi = np.full((k, nb), 0.5 / max(nb, 1)), np.full((k, ns), 0.5 / max(ns, 1))
    else:
        xi, yi = (np.clip(np.asarray(v, float), 0, 1) for v in start)
    trace = ScaTrace([_relaxed_sum_rate(p, xi, yi, relaxation)], 0, "uniform" if start is None else "given",
                     relaxation=relaxation)
    x, y = cp.Variable((k, nb), nonneg=True), cp.Variable((k, ns), nonneg=True)
    ones_k = np.ones((k, 1))
    objective = 0
    params: list[tuple[Any, ...]] = []
    load_links: list[Any] = []
    for var, a, o in ((x, a_b, other[0]), (y, a_s, other[1])):
        n = a.shape[1]
        load = cp.Variable(n)  # node loads D as their own variables: keeps the cone matrix sparse (k nnz per column, not k^2)
        load_links.append(load == cp.sum(var, axis=0) + o)
        load_m = ones_k @ cp.reshape(load, (1, n), order="C")  # (k, n): every UE row sees its node's load
        if relaxation == "time_share":
            # alpha x + beta x D >= alpha x - |beta| ((x + D)^2 + q^2 - 2 q (x - D)) / 4, q = x_i - D_i, written
            # as coef_x x + coef_d D - |beta| (x + D)^2 / 4 + const (the constant does not move the argmax; DPP form)
            coef_x, coef_d = cp.Parameter((k, n)), cp.Parameter((k, n))
            neg_beta = cp.Parameter((k, n), nonneg=True)
            objective += (cp.sum(cp.multiply(coef_x, var)) + cp.sum(cp.multiply(coef_d, load_m))
                          - cp.sum(cp.multiply(neg_beta, cp.square(var + load_m))) / 4)
            params.append((coef_x, coef_d, neg_beta))
        else:
            c1, c2 = cp.Parameter((k, n), nonneg=True), cp.Parameter((k, n), nonneg=True)
            z_pos, z_neg = cp.Variable((k, n), nonneg=True), cp.Variable((k, n), nonpos=True)
            # A x^2 / D >= A (2 x_i x / D_i - x_i^2 D / D_i^2) = c1 x - c2 D  (tangent, c1 = 2 A x_i / D_i)
            params.append((c1, c2, z_pos, z_neg, cp.multiply(c1, var) - cp.multiply(c2, load_m)))
            objective += cp.sum(cp.log(1 + z_pos) + z_neg) / math.log(2)
    cons = [x <= 1, y <= 1, cp.sum(x, axis=1) <= 1, cp.sum(y, axis=1) <= 1,  # (2), (4)
            cp.sum(x, axis=1) + cp.sum(y, axis=1) >= 1,  # (6)
            cp.sum(x, axis=0) + other[0] <= p.cap_bs, cp.sum(y, axis=0) + other[1] <= p.cap_sat,  # (3), (5)
            *load_links]
    if relaxation == "folded":
        cons += [zp + zn == u for _, _, zp, zn, u in params]
    prob = cp.Problem(cp.Maximize(objective), cons)
    for it in range(max_iterations):
        for (pars, xv, a, o) in zip(params, (xi, yi), (a_b, a_s), other):
            d_i = np.maximum(xv.sum(0) + o, _MIN_LOAD)[None, :]
            if relaxation == "time_share":
                c = np.log2(1 + a / d_i)  # c(D_i); tangent c(D) >= c(D_i) + beta (D - D_i)
                beta = -a / (d_i * (d_i + a)) / math.log(2)
                q = xv - d_i
                pars[0].value = c - beta * d_i - beta * q / 2  # alpha + |beta| q / 2
                pars[1].value = beta * q / 2  # -|beta| q / 2
                pars[2].value = -beta
            else:
                pars[0].value, pars[1].value = 2 * a * xv / d_i, a * xv**2 / d_i**2
        try:
            # DPP compiles once and re-solves fast, but its parameter tensor grows as (K n)^2: off for big slots
            prob.solve(solver=solver, ignore_dpp=k * (nb + ns) > _DPP_MAX_LINKS)
        except cp.error.SolverError:
            x.value = None
        if x.value is None or prob.status not in ("optimal", "optimal_inaccurate"):
            # keep the last solved iterate: the sequence so far is a valid, monotone SCA run
            trace.stopped = f"subproblem solver failure at iteration {it + 1} ({prob.status})"
            break
        x_new, y_new = np.clip(x.value, 0, 1), np.clip(y.value, 0, 1)
        value = _relaxed_sum_rate(p, x_new, y_new, relaxation)
        if value < trace.objective[-1] - 1e-6 * max(1.0, abs(trace.objective[-1])):
            # solver inaccuracy only: the minorant guarantees ascent (keep the better iterate)
            trace.stopped = f"solver inaccuracy at iteration {it + 1}"
            break
        xi, yi = x_new, y_new
        trace.objective.append(value)
        trace.iterations = it + 1
        if abs(trace.objective[-1] - trace.objective[-2]) <= tolerance * max(1.0, abs(trace.objective[-1])):
            break
    else:
        trace.stopped = "iteration limit"
    xr, yr = round_association(p, xi, yi, epsilon)
    return xr, yr, trace


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
