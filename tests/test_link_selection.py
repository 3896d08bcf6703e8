"""Link selection (Nguyen-Kha et al., arXiv 2408.15394): the evaluator, the exact methods (HiGHS MILP under full
power, SCIP MINLP under per_user) against brute force, greedy never failing on a feasible slot, the paper's SCA
(Proposition 1's bound checked at random points) and the time-share scheme."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from pipeline.solvers.link_selection import (
    InfeasibleError, SlotProblem, brute_force, evaluate, random_instance, solve_exact, solve_greedy)

# the MILP's optimum is exact up to HiGHS's optimality tolerances: ties closer than this count as equal
TIE = 1e-7


def test_evaluator_closed_form():
    p = SlotProblem(h=np.array([[1e-9, 1e-10], [2e-9, 0.0]]), g=np.array([[1e-16], [3e-16]]), p_bs_w=10.0,
                    p_sat_w=100.0, noise_w=1e-13, cap_bs=3, cap_sat=5, other_bs=np.array([1, 0]),
                    other_sat=np.array([2]))
    x = np.array([[1, 0], [1, 0]], bool)
    y = np.array([[0], [1]], bool)
    ev = evaluate(p, x, y)
    assert ev.feasible
    i_sat = 100.0 * np.array([1e-16, 3e-16])
    i_bs = 10.0 * np.array([1.1e-9, 2e-9])
    r0 = math.log2(1 + (10.0 / 3) * 1e-9 / (i_sat[0] + 1e-13))
    r1 = math.log2(1 + (10.0 / 3) * 2e-9 / (i_sat[1] + 1e-13)) + math.log2(1 + (100.0 / 3) * 3e-16 / (i_bs[1] + 1e-13))
    assert ev.rates == pytest.approx([r0, r1])


def test_evaluator_flags_every_violation():
    p = random_instance(np.random.default_rng(0), 3, 2, 1, cap_bs=2, other_bs=1)
    x = np.array([[1, 1], [1, 0], [0, 0]], bool)
    y = np.zeros((3, 1), bool)
    v = evaluate(p, x, y).violations
    assert any("(2)" in s for s in v) and any("(3)" in s for s in v) and any("(6)" in s for s in v)


@pytest.mark.parametrize("seed", range(8))
def test_milp_equals_brute_force_and_greedy_is_never_better(seed):
    rng = np.random.default_rng(seed)
    p = random_instance(rng, 4, 2, 2)
    xo, yo = solve_exact(p)
    opt = evaluate(p, xo, yo)
    xb, yb = brute_force(p)
    assert opt.feasible
    assert opt.sum_rate == pytest.approx(evaluate(p, xb, yb).sum_rate, rel=1e-6)
    greedy = evaluate(p, *solve_greedy(p))
    assert greedy.feasible and greedy.sum_rate <= opt.sum_rate * (1 + TIE)


@pytest.mark.parametrize("seed", range(5))
def test_scip_per_user_optimum_equals_brute_force(seed):
    from pipeline.solvers.link_selection import solve_exact_per_user

    p = random_instance(np.random.default_rng(seed), 4, 3, 2, interference="per_user")
    sol = solve_exact_per_user(p)
    best = evaluate(p, *brute_force(p)).sum_rate
    assert sol.proven and evaluate(p, sol.x, sol.y).feasible
    assert sol.sum_rate == pytest.approx(best, rel=1e-6)
    assert best <= sol.upper_bound * (1 + 1e-6)
    x, y = solve_exact(p)  # solve_exact dispatches on the model
    assert evaluate(p, x, y).sum_rate == pytest.approx(best, rel=1e-6)


def test_per_user_and_full_power_optima_differ_and_each_is_best_under_its_own_model():
    from pipeline.solvers.link_selection import solve_exact_per_user

    rng = np.random.default_rng(7)
    differ = 0
    for _ in range(6):
        pu = random_instance(rng, 4, 2, 2, interference="per_user")
        fp = dataclasses.replace(pu, interference="full_power")
        x_fp, y_fp = solve_exact(fp)
        sol = solve_exact_per_user(pu)
        assert evaluate(pu, x_fp, y_fp).sum_rate <= sol.sum_rate * (1 + TIE)  # scored under per_user
        assert evaluate(fp, sol.x, sol.y).sum_rate <= evaluate(fp, x_fp, y_fp).sum_rate * (1 + TIE)
        differ += not (np.array_equal(sol.x, x_fp) and np.array_equal(sol.y, y_fp))
    assert differ >= 1  # the coupling changes the answer somewhere


def test_zero_gain_link_makes_a_slot_feasible_for_the_milp():
    """UE 1 reaches only BS 0, whose one free place UE 0 (stronger) also wants; the satellite has room but
    UE 1's gain to it is 0. A zero-rate satellite link is a valid association: the MILP must find it."""
    p = SlotProblem(h=np.array([[1e-9], [1e-10]]), g=np.array([[1e-16], [0.0]]), p_bs_w=10.0, p_sat_w=100.0,
                    noise_w=1e-13, cap_bs=2, cap_sat=3, other_bs=np.array([1]), other_sat=np.array([2]))
    x, y = solve_exact(p)
    ev = evaluate(p, x, y)
    assert ev.feasible and ev.sum_rate == pytest.approx(evaluate(p, *brute_force(p)).sum_rate, rel=1e-9)
    assert evaluate(p, *solve_greedy(p)).feasible


@pytest.mark.parametrize("model", ["full_power", "per_user"])
def test_greedy_never_fails_when_an_association_exists(model):
    """Binding capacities (K = 5, 2 places per BS and 3 per satellite, one outside user each): the old greedy
    gave every car both links first and failed on all 30 such instances; now it fails only where brute force
    finds no association either."""
    rng = np.random.default_rng(11)
    failed = 0
    for _ in range(30):
        p = random_instance(rng, 5, 2, 1, cap_bs=2, cap_sat=3, other_bs=1, other_sat=1, interference=model)
        try:
            best = evaluate(p, *brute_force(p)).sum_rate
        except InfeasibleError:
            with pytest.raises(InfeasibleError):
                solve_greedy(p)
            continue
        ev = evaluate(p, *solve_greedy(p))
        assert ev.feasible and ev.sum_rate <= best * (1 + TIE)
        failed += 0
    assert failed == 0


def test_infeasible_capacities_are_reported():
    p = random_instance(np.random.default_rng(2), 6, 1, 1, cap_bs=2, cap_sat=3, other_bs=1, other_sat=1)
    with pytest.raises(InfeasibleError, match="free links"):
        solve_exact(p)
    with pytest.raises(InfeasibleError):
        solve_greedy(p)


@pytest.mark.parametrize("seed", range(6))
def test_sca_is_monotone_feasible_and_never_above_optimum(seed):
    from pipeline.solvers.link_selection import solve_heuristic, solve_sca, solve_time_share

    p = random_instance(np.random.default_rng(seed), 4, 2, 2)
    opt = evaluate(p, *solve_exact(p))
    for solve in (solve_time_share, solve_sca):
        x, y, trace = solve(p)
        assert all(b >= a - 1e-6 * abs(a) for a, b in zip(trace.objective, trace.objective[1:]))  # (18) is an inner bound
        sca = evaluate(p, x, y)
        assert sca.feasible and sca.sum_rate <= opt.sum_rate * (1 + TIE)
    pu = dataclasses.replace(p, interference="per_user")
    x, y, trace = solve_sca(pu)
    assert trace.iterations >= 1 and all(b >= a - 1e-6 * abs(a) for a, b in zip(trace.objective, trace.objective[1:]))
    assert evaluate(pu, x, y).feasible and evaluate(pu, x, y).sum_rate <= evaluate(pu, *brute_force(pu)).sum_rate * (1 + TIE)
    heur = evaluate(p, *solve_heuristic(p))
    greedy = evaluate(p, *solve_greedy(p))
    assert heur.feasible and greedy.sum_rate - 1e-9 <= heur.sum_rate <= opt.sum_rate * (1 + TIE)


def test_repair_fixes_overloads():
    from pipeline.solvers.link_selection import repair

    p = random_instance(np.random.default_rng(4), 5, 1, 1, cap_bs=3, cap_sat=8, other_bs=1, other_sat=1)
    x = np.ones((5, 1), bool)
    y = np.zeros((5, 1), bool)
    xr, yr = repair(p, x, y)
    assert evaluate(p, xr, yr).feasible


def test_sca_handles_strong_links_from_the_uniform_start():
    """SINRs ~1e9 (BS gains x 1e4): the time-share scheme converges from the uniform start, and the paper's SCA
    (its subproblem scaled by 2^-w_i) still returns a feasible answer."""
    from pipeline.solvers.link_selection import solve_sca, solve_time_share

    p = random_instance(np.random.default_rng(2), 8, 12, 2)
    p = SlotProblem(h=p.h * 1e4, g=p.g, p_bs_w=p.p_bs_w, p_sat_w=p.p_sat_w, noise_w=p.noise_w, cap_bs=p.cap_bs,
                    cap_sat=p.cap_sat, other_bs=p.other_bs, other_sat=p.other_sat)  # strong BS links
    opt = evaluate(p, *solve_exact(p)).sum_rate
    for solve in (solve_time_share, solve_sca):
        x, y, trace = solve(p)
        assert trace.start == "uniform" and trace.iterations >= 1
        sca = evaluate(p, x, y)
        assert sca.feasible and sca.sum_rate <= opt * (1 + TIE)
        if solve is solve_time_share:
            assert trace.stopped == "converged" and sca.sum_rate >= 0.99 * opt


def test_time_share_is_within_one_percent_of_the_optimum_on_average():
    """The time-share scheme within 1 % of the exact optimum on average (full power, random instances in the
    paper's ranges)."""
    from pipeline.solvers.link_selection import solve_time_share

    gaps, greedy_gaps, iterations = [], [], []
    for seed in range(8):
        p = random_instance(np.random.default_rng(100 + seed), 10, 4, 2, cap_bs=5, cap_sat=20)
        opt = evaluate(p, *solve_exact(p)).sum_rate
        x, y, trace = solve_time_share(p)
        gaps.append(1 - evaluate(p, x, y).sum_rate / opt)
        greedy_gaps.append(1 - evaluate(p, *solve_greedy(p)).sum_rate / opt)
        iterations.append(trace.iterations)
    assert min(gaps) >= -TIE and np.mean(gaps) <= 0.01
    assert np.mean(gaps) < np.mean(greedy_gaps)
    assert max(iterations) <= 15  # "converges in a few iterations"


@pytest.mark.parametrize("model", ["full_power", "per_user"])
def test_relaxations_equal_the_sum_rate_at_binary_points(model):
    from pipeline.solvers.link_selection import _relaxed_sum_rate, paper_relaxed_sum_rate

    p = random_instance(np.random.default_rng(5), 6, 3, 2, interference=model)
    x, y = solve_greedy(p)
    exact = evaluate(p, x, y).sum_rate
    assert paper_relaxed_sum_rate(p, x.astype(float), y.astype(float)) == pytest.approx(exact, rel=1e-9)
    if model == "full_power":
        assert _relaxed_sum_rate(p, x.astype(float), y.astype(float)) == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("model", ["full_power", "per_user"])
def test_proposition_1_bound_is_below_the_relaxed_rate_everywhere_and_tight_at_the_iterate(model):
    """The reconstruction's inequality: the subproblem's objective (tangents of x^2 / D and of v, the slack from
    the linearised exponential) never exceeds the relaxed sum rate, and equals it at the point it is built at."""
    from pipeline.solvers.link_selection import paper_relaxed_sum_rate, paper_sca_minorant

    rng = np.random.default_rng(3)
    p = random_instance(rng, 5, 3, 2, interference=model)
    checked = 0
    for _ in range(200):
        xi, yi = rng.uniform(0, 1, (5, 3)) / 3, rng.uniform(0, 1, (5, 2)) / 2
        near = rng.uniform() < 0.5  # half the points near the iterate (inside (17a)'s domain), half anywhere
        x = np.clip(xi * rng.uniform(0.6, 1.6, xi.shape), 0, 1) if near else rng.uniform(0, 1, (5, 3)) / 3
        y = np.clip(yi * rng.uniform(0.6, 1.6, yi.shape), 0, 1) if near else rng.uniform(0, 1, (5, 2)) / 2
        assert paper_sca_minorant(p, xi, yi, xi, yi) == pytest.approx(paper_relaxed_sum_rate(p, xi, yi), rel=1e-9)
        bound = paper_sca_minorant(p, x, y, xi, yi)
        assert bound <= paper_relaxed_sum_rate(p, x, y) + 1e-9
        checked += np.isfinite(bound)
    assert checked > 80  # enough points lie in (17a)'s domain: the check is not vacuous


def test_scip_never_returns_less_than_its_starting_association():
    """A node limit of 1 stops SCIP at once: it must hand back the incumbent it was given (a complete
    solution: loads, inverse loads and rates filled in), with a bound above it."""
    from pipeline.solvers.link_selection import solve_exact_per_user, solve_heuristic

    p = random_instance(np.random.default_rng(4), 8, 6, 2, cap_bs=5, cap_sat=20, interference="per_user")
    start = solve_heuristic(p)
    sol = solve_exact_per_user(p, start=start, node_limit=1)
    assert sol.sum_rate >= evaluate(p, *start).sum_rate * (1 - 1e-12)
    assert sol.upper_bound >= sol.sum_rate
