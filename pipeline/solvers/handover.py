"""Handover-aware link selection over a time window.

Nguyen-Kha, Ha, Lagunas, Chatzinotas, Grotz, "Enhanced Throughput and Seamless Handover Solutions for Urban
5G-Vehicle C-Band ISTNs", arXiv 2507.10308 (IEEE TCOM 2025) extend the per-slot max-sum-rate association
(:mod:`pipeline.solvers.link_selection`, arXiv 2408.15394) with what a vehicle cares about: fewer connection
changes over the window, traded against the sum rate with a weight. Their formulation was not available to
us; this module's model (our reconstruction):

    maximise   sum_t SR_t(x_t, y_t)  -  weight * sum_{t >= 1} sum_k H_k,t
    H_k,t = number of links car k holds at slot t that it did not hold at slot t - 1

A link is a (network, node) pair: a BS cell, or a satellite by its identity in the constellation (the
serving ranks of two slots may be different satellites), so BS-to-BS, BS-to-satellite and
satellite-to-satellite changes each count one, adding a second link counts one and dropping one counts
none. Rates under full-power interference (the time-coupled problem is then a MILP; per-slot constraints
(2)-(6) as in the per-slot problem). Three solutions:

- :func:`solve_window_exact`: the time-coupled MILP (HiGHS), exact;
- :func:`solve_window_online`: receding horizon: at slot t it sees the association it committed at t - 1
  and a prediction of the next ``horizon`` slots (the cars' routes and the satellites' orbits are known
  ahead, so the prediction here is the ray-traced gains of those slots), solves that window exactly and
  commits slot t only;
- :func:`solve_window_sca`: an SCA-style method (this project's): the time-share minorant of each slot plus
  the exact concave handover penalty on the relaxed links, iterated, then rounded slot by slot;
- per-slot optimal (weight 0 in every slot: :func:`solve_window_exact` with ``weight=0``), the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.solvers.link_selection import FullPowerMilp, SlotProblem, evaluate


@dataclass(frozen=True)
class WindowProblem:
    """A window of slots over the same cars and BS cells; ``sat_ids[t, s]`` is the constellation index of
    satellite column s at slot t (-1: none)."""

    slots: list[SlotProblem]
    sat_ids: np.ndarray  # (T, S)
    slot_duration_s: float

    def __post_init__(self) -> None:
        k = {p.n_ue for p in self.slots}
        nb = {p.h.shape[1] for p in self.slots}
        if len(k) != 1 or len(nb) != 1:
            raise ValueError("every slot of a window needs the same cars and BS cells")
        if np.asarray(self.sat_ids).shape != (len(self.slots), self.slots[0].g.shape[1]):
            raise ValueError("sat_ids must be (slots, satellite columns)")

    @property
    def n_ue(self) -> int:
        return self.slots[0].n_ue

    def node_key(self, t: int, kind: str, j: int) -> tuple[str, int]:
        """The identity of a node: ("b", cell) or ("s", satellite index in the constellation)."""
        return (kind, j) if kind == "b" else ("s", int(self.sat_ids[t, j]))


Association = list[tuple[np.ndarray, np.ndarray]]  # (x_t, y_t) per slot


@dataclass(frozen=True)
class WindowEvaluation:
    sum_rate: float  # bit/s/Hz summed over cars and slots
    handovers: int  # links established at slots t >= 1 that the car did not hold at t - 1
    handovers_per_ue_per_min: float
    objective: float  # sum_rate - weight * handovers
    per_ue_handovers: np.ndarray  # (K,)


def links_of(window: WindowProblem, t: int, x: np.ndarray, y: np.ndarray) -> list[set[tuple[str, int]]]:
    """The node identities each car holds at slot t."""
    out = []
    for k in range(window.n_ue):
        held = {window.node_key(t, "b", int(j)) for j in np.flatnonzero(x[k])}
        held |= {window.node_key(t, "s", int(j)) for j in np.flatnonzero(y[k])}
        out.append(held)
    return out


def count_handovers(window: WindowProblem, assoc: Association, previous: list[set] | None = None) -> np.ndarray:
    """(K,) links established per car over the window (``previous``: the links held just before its first slot;
    None: the first slot's links are not counted)."""
    counts = np.zeros(window.n_ue, int)
    before = previous
    for t, (x, y) in enumerate(assoc):
        now = links_of(window, t, x, y)
        if before is not None:
            counts += np.array([len(now[k] - before[k]) for k in range(window.n_ue)])
        before = now
    return counts


def evaluate_window(window: WindowProblem, assoc: Association, weight: float) -> WindowEvaluation:
    """Sum rate (each slot by :func:`~pipeline.solvers.link_selection.evaluate`), handovers and the objective."""
    rate = 0.0
    for p, (x, y) in zip(window.slots, assoc, strict=True):
        ev = evaluate(p, x, y)
        if not ev.feasible:
            raise ValueError(f"infeasible association in the window: {ev.violations}")
        rate += ev.sum_rate
    per_ue = count_handovers(window, assoc)
    minutes = len(window.slots) * window.slot_duration_s / 60.0
    total = int(per_ue.sum())
    return WindowEvaluation(rate, total, total / (window.n_ue * minutes), rate - weight * total, per_ue)


def _window_model(window: WindowProblem, weight: float, first: int, last: int,
                  previous: list[set] | None) -> tuple[FullPowerMilp, list[dict]]:
    """The time-coupled MILP over slots first..last-1, handovers counted against ``previous`` at ``first``."""
    model = FullPowerMilp()
    cols = [model.add_slot(window.slots[t]) for t in range(first, last)]
    for i, t in enumerate(range(first, last)):
        held: dict[tuple[int, tuple[str, int]], list[int]] = {}
        for (kind, k, j), col in cols[i].items():
            held.setdefault((k, window.node_key(t, kind, j)), []).append(col)
        if i == 0 and previous is None:
            continue
        before: dict[tuple[int, tuple[str, int]], list[int]] = {}
        if i > 0:
            for (kind, k, j), col in cols[i - 1].items():
                before.setdefault((k, window.node_key(t - 1, kind, j)), []).append(col)
        for (k, key), now_cols in held.items():
            n = model.new_vars(1, weight, integral=False)  # n >= a_t - a_{t-1}, n >= 0: a new link costs weight
            if i > 0:
                prev_cols = before.get((k, key), [])
                model.add(np.concatenate([n, now_cols, prev_cols]),
                          np.concatenate([[1.0], -np.ones(len(now_cols)), np.ones(len(prev_cols))]), 0.0, np.inf)
            else:  # against the committed association before the window
                held_before = 1.0 if key in previous[k] else 0.0
                model.add(np.concatenate([n, now_cols]), np.concatenate([[1.0], -np.ones(len(now_cols))]),
                          -held_before, np.inf)
    return model, cols


def solve_window_exact(window: WindowProblem, weight: float, time_limit_s: float = 300.0) -> Association:
    """The exact handover-aware association over the whole window (time-coupled MILP; weight 0: per-slot optima)."""
    if weight == 0:  # decoupled: one MILP per slot (same optimum, faster)
        out = []
        for p in window.slots:
            model = FullPowerMilp()
            cols = model.add_slot(p)
            out.append(model.association(model.solve(time_limit_s), cols, p))
        return out
    model, cols = _window_model(window, weight, 0, len(window.slots), None)
    solution = model.solve(time_limit_s)
    return [model.association(solution, c, p) for c, p in zip(cols, window.slots, strict=True)]


def solve_window_online(window: WindowProblem, weight: float, horizon: int = 3, time_limit_s: float = 60.0
                        ) -> Association:
    """Receding horizon: at each slot, the exact model over that slot and the next ``horizon - 1`` predicted
    ones, handovers counted against the association committed at the previous slot; slot t is committed."""
    if horizon < 1:
        raise ValueError("horizon must be >= 1 slot")
    out: Association = []
    previous: list[set] | None = None
    for t in range(len(window.slots)):
        last = min(len(window.slots), t + horizon)
        model, cols = _window_model(window, weight, t, last, previous)
        x, y = model.association(model.solve(time_limit_s), cols[0], window.slots[t])
        out.append((x, y))
        previous = links_of(window, t, x, y)
    return out


def window_relaxed_objective(window: WindowProblem, relaxed: Association, weight: float) -> float:
    """Time-share relaxed sum rate of every slot minus weight x the relaxed new links sum max(0, a_t - a_{t-1})."""
    from pipeline.solvers.link_selection import _relaxed_sum_rate  # noqa: PLC0415

    value = sum(_relaxed_sum_rate(p, x, y) for p, (x, y) in zip(window.slots, relaxed, strict=True))
    for t in range(1, len(relaxed)):
        now, before = _held(window, t, *relaxed[t]), _held(window, t - 1, *relaxed[t - 1])
        value -= weight * sum(max(0.0, v - before.get(key, 0.0)) for key, v in now.items())
    return value


def _held(window: WindowProblem, t: int, x: np.ndarray, y: np.ndarray) -> dict[tuple[int, tuple[str, int]], float]:
    """{(car, node identity): share} of a (relaxed) association at slot t."""
    out: dict[tuple[int, tuple[str, int]], float] = {}
    for kind, assoc in (("b", x), ("s", y)):
        for k, j in zip(*np.nonzero(np.ones_like(assoc, bool)), strict=True):
            key = (int(k), window.node_key(t, kind, int(j)))
            out[key] = out.get(key, 0.0) + float(assoc[k, j])
    return out


def solve_window_sca(window: WindowProblem, weight: float, max_iterations: int = 30, tolerance: float = 1e-4,
                     solver: str = "CLARABEL") -> tuple[Association, list[float]]:
    """An SCA-style solution over the window (this project's, full power): the time-share minorant of every slot
    (:class:`~pipeline.solvers.link_selection.TimeShareModel`) plus the exact concave handover penalty
    -weight sum max(0, a_t - a_{t-1}) on the relaxed links, maximised jointly and iterated (tight at the
    iterate: the relaxed objective never decreases), then each slot rounded by (19)-(20) and repaired.
    Returns the association and the relaxed objective per iteration."""
    import cvxpy as cp  # noqa: PLC0415

    from pipeline.solvers.link_selection import (  # noqa: PLC0415
        ScaTrace, TimeShareModel, maximise_minorants, round_association)

    models = [TimeShareModel(p) for p in window.slots]
    penalty = 0
    for t in range(1, len(models)):
        for kind in ("b", "s"):
            now = models[t].x if kind == "b" else models[t].y
            before = models[t - 1].x if kind == "b" else models[t - 1].y
            for j in range(now.shape[1]):
                key = window.node_key(t, kind, j)
                prev = [jj for jj in range(before.shape[1]) if window.node_key(t - 1, kind, jj) == key]
                held_before = sum(before[:, jj] for jj in prev) if prev else 0
                penalty += cp.sum(cp.pos(now[:, j] - held_before))
    objective = sum(m.objective for m in models) - weight * penalty
    prob = cp.Problem(cp.Maximize(objective), [c for m in models for c in m.constraints])
    relaxed = [(np.full(m.x.shape, 0.5 / m.x.shape[1]), np.full(m.y.shape, 0.5 / max(m.y.shape[1], 1))) for m in models]

    def solve_at(iterate: Association) -> tuple[Association | None, str]:
        for m, (xi, yi) in zip(models, iterate, strict=True):
            m.update(xi, yi)
        prob.solve(solver=solver)
        if prob.status not in ("optimal", "optimal_inaccurate"):
            return None, prob.status
        return [(np.clip(m.x.value, 0, 1), np.clip(m.y.value, 0, 1)) for m in models], prob.status

    def value_of(iterate: Association) -> float:
        return window_relaxed_objective(window, iterate, weight)

    trace = ScaTrace([value_of(relaxed)], 0, method="window_time_share")
    relaxed = maximise_minorants(trace, relaxed, solve_at, value_of, max_iterations, tolerance)
    return [round_association(p, x, y) for p, (x, y) in zip(window.slots, relaxed, strict=True)], trace.objective
