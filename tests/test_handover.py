"""Handover-aware link selection over a window: counting, the exact time-coupled MILP against brute force,
the online receding horizon against the exact optimum."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pipeline.solvers.handover import (
    WindowProblem, count_handovers, evaluate_window, solve_window_exact, solve_window_online)
from pipeline.solvers.link_selection import SlotProblem, random_instance


def _window(seed: int, k: int = 2, nb: int = 2, ns: int = 1, slots: int = 3, sat_ids=None) -> WindowProblem:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    ps = [random_instance(rng, k, nb, ns, cap_bs=3, cap_sat=4, other_bs=1, other_sat=1) for _ in range(slots)]
    ids = np.tile(np.arange(ns), (slots, 1)) if sat_ids is None else np.asarray(sat_ids)
    return WindowProblem(ps, ids, 10.0)


def test_handovers_count_new_links_by_node_identity():
    w = _window(0, k=1, nb=2, ns=2, slots=4, sat_ids=[[7, 8], [7, 8], [8, 9], [8, 9]])
    b = lambda j: np.eye(2, dtype=bool)[[j]]  # noqa: E731
    none = np.zeros((1, 2), bool)
    assoc = [(b(0), none),  # BS 0
             (b(1), none),  # BS 0 -> BS 1: one
             (none, b(0)),  # BS 1 -> satellite column 0 = satellite 8: one
             (b(1), b(0))]  # satellite 8 stays (column 0 is satellite 8 again), BS 1 added: one
    assert count_handovers(w, assoc).tolist() == [3]
    ev = evaluate_window(w, assoc, weight=2.0)
    assert ev.handovers == 3 and ev.objective == pytest.approx(ev.sum_rate - 6.0)
    assert ev.handovers_per_ue_per_min == pytest.approx(3 / (4 * 10 / 60))


def _brute_force_window(w: WindowProblem, weight: float) -> float:
    k, nb, ns = w.n_ue, w.slots[0].h.shape[1], w.slots[0].g.shape[1]
    choices = [(b, s) for b in range(-1, nb) for s in range(-1, ns) if (b, s) != (-1, -1)]
    per_slot = []
    for combo in itertools.product(choices, repeat=k):
        x = np.zeros((k, nb), bool)
        y = np.zeros((k, ns), bool)
        for kk, (b, s) in enumerate(combo):
            x[kk, b] = b >= 0
            y[kk, s] = s >= 0
        per_slot.append((x, y))
    best = -np.inf
    for assoc in itertools.product(per_slot, repeat=len(w.slots)):
        try:
            best = max(best, evaluate_window(w, list(assoc), weight).objective)
        except ValueError:  # infeasible in some slot
            continue
    return best


@pytest.mark.parametrize("weight", [0.0, 1.5, 6.0])
def test_exact_window_equals_brute_force(weight):
    w = _window(3)
    exact = evaluate_window(w, solve_window_exact(w, weight), weight).objective
    assert exact == pytest.approx(_brute_force_window(w, weight), rel=1e-7)


def test_weight_trades_sum_rate_for_handovers_and_online_with_full_horizon_is_exact():
    w = _window(5, k=4, nb=4, ns=2, slots=6)
    fronts = [evaluate_window(w, solve_window_exact(w, v), v) for v in (0.0, 2.0, 50.0)]
    handovers = [f.handovers for f in fronts]
    rates = [f.sum_rate for f in fronts]
    assert handovers == sorted(handovers, reverse=True) and rates == sorted(rates, reverse=True)
    assert handovers[-1] < handovers[0]  # a heavy weight changes the answer on this window
    for weight in (2.0, 50.0):
        exact = evaluate_window(w, solve_window_exact(w, weight), weight).objective
        full = evaluate_window(w, solve_window_online(w, weight, horizon=len(w.slots)), weight).objective
        short = evaluate_window(w, solve_window_online(w, weight, horizon=1), weight).objective
        assert full == pytest.approx(exact, rel=1e-7)  # re-solving with the committed past keeps the optimum
        assert short <= exact * (1 + 1e-9)


def test_window_needs_the_same_cars_every_slot():
    a = SlotProblem(h=np.ones((2, 1)), g=np.ones((2, 1)), p_bs_w=1.0, p_sat_w=1.0, noise_w=1.0, cap_bs=3, cap_sat=3)
    b = SlotProblem(h=np.ones((3, 1)), g=np.ones((3, 1)), p_bs_w=1.0, p_sat_w=1.0, noise_w=1.0, cap_bs=3, cap_sat=3)
    with pytest.raises(ValueError, match="same cars"):
        WindowProblem([a, b], np.zeros((2, 1), int), 10.0)


def test_window_sca_is_monotone_feasible_and_below_the_exact_objective():
    from pipeline.solvers.handover import solve_window_sca

    w = _window(5, k=4, nb=4, ns=2, slots=5)
    for weight in (0.0, 2.0):
        assoc, history = solve_window_sca(w, weight)
        assert len(history) >= 2 and all(b >= a - 1e-6 * abs(a) for a, b in zip(history, history[1:]))
        sca = evaluate_window(w, assoc, weight).objective  # raises on an infeasible slot
        assert sca <= evaluate_window(w, solve_window_exact(w, weight), weight).objective * (1 + 1e-9)


def test_an_infeasible_window_is_a_reason_not_an_error_for_every_method():
    """The link-selection stage's window task: a slot with fewer free places than cars (3 cars, one free place
    on the BS cell and one on the satellite) has no window association; every method returns the reason, so
    the stage records the study as skipped instead of failing its other tasks on the same cluster call."""
    from pipeline.stages.link_selection import window_solution

    rng = np.random.default_rng(3)
    fits = random_instance(rng, 3, 1, 1, cap_bs=4, cap_sat=4, other_bs=1, other_sat=1)
    crowded = random_instance(rng, 3, 1, 1, cap_bs=2, cap_sat=2, other_bs=1, other_sat=1)
    window = WindowProblem([fits, crowded], np.zeros((2, 1), int), 10.0)
    for horizon in (None, 0, 1):
        reason = window_solution(window, 1.0, horizon, 60.0)
        assert isinstance(reason, str) and reason, horizon
    assert not isinstance(window_solution(WindowProblem([fits, fits], np.zeros((2, 1), int), 10.0), 1.0, None, 60.0),
                          str)
