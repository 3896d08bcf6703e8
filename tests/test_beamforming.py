"""Joint satellite/BS ISAC beamforming (Wang & Wang, Sensors 2026): evaluator, Algorithms 1-2, benchmarks, infeasibility."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

from pipeline.solvers.beamforming import (
    Beamformers,
    BeamformingInfeasible,
    PaperSetting,
    SolverOptions,
    _max_quad_ball,
    evaluate,
    paper_problem,
    problem_from_channels,
    s1528_gain_dbi,
    solve_das,
    solve_ibs,
    solve_pa1,
    solve_pa2,
    solve_tdma,
)

Q = SolverOptions.quick()
QB = dataclasses.replace(Q, max_iterations=4)  # benchmarks: fewer CCP steps keep the file under a minute

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _cn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)) / math.sqrt(2)


@pytest.fixture(scope="module")
def paper():
    return paper_problem(0)


@pytest.fixture(scope="module")
def pa1(paper):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return solve_pa1(paper, Q)


def test_same_seed_same_channels():
    a, b, c = paper_problem(7), paper_problem(7), paper_problem(8)
    for name in ("h_ue", "g_ue", "g_es", "h_es", "a_sat", "a_bs"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.allclose(a.h_ue, c.h_ue)
    assert a.h_ue.shape == (8, 9) and a.g_ue.shape == (8, 7) and a.n_targets == 4


def test_s1528_envelope():
    gm, psib = 52.0, 1.6
    assert s1528_gain_dbi(0.0) == pytest.approx(gm)
    assert s1528_gain_dbi(psib) == pytest.approx(gm - 3.0)
    y = 1.5 * psib
    assert s1528_gain_dbi(y - 1e-9) == pytest.approx(s1528_gain_dbi(y + 1e-9), abs=1e-6)  # continuous at Y
    assert s1528_gain_dbi(120.0) == pytest.approx(5.0)


def test_evaluator_against_hand_computation():
    rng = np.random.default_rng(1)
    m, nb, ns = 3, 4, 2
    h, g, gs, hs = _cn(rng, m, nb), _cn(rng, m, ns), _cn(rng, ns), _cn(rng, nb)
    p = problem_from_channels(h, g, gs, hs, p_sat_w=2.0, p_bs_w=1.0, noise_w=0.1, rate_min=0.1,
                              a_sat_targets=np.abs(_cn(rng, 1, ns)), sensing_eirp_w=1e-3)
    w, v = _cn(rng, m, nb) * 0.3, _cn(rng, ns) * 0.5
    r0 = np.diag([0.2, 0.1]).astype(complex)
    ev = evaluate(p, Beamformers(w=w, v=v, r_sens=r0))
    # the paper's notation: h_m^H w with h_m = conj(row)
    for k in range(m):
        hk, gk = h[k].conj(), g[k].conj()
        sig = abs(hk.conj() @ w[k]) ** 2
        inter = sum(abs(hk.conj() @ w[n]) ** 2 for n in range(m) if n != k)
        inter += abs(gk.conj() @ v) ** 2 + np.real(gk.conj() @ r0 @ gk)
        assert ev.rates[k] == pytest.approx(math.log2(1 + sig / (inter + 0.1)))
    d_s = sum(abs(hs @ w[n]) ** 2 for n in range(m)) + np.real(gs @ r0 @ gs.conj())
    assert ev.backhaul_rate == pytest.approx(math.log2(1 + abs(gs @ v) ** 2 / (d_s + 0.1)))
    assert ev.bs_power_w == pytest.approx(np.sum(np.abs(w) ** 2))
    bad = evaluate(p, Beamformers(w=w * 3, v=v, r_sens=r0))
    assert not bad.checks["BS power (17f)"] and any("(17f)" in s for s in bad.violations)


def test_worst_case_quadratic_is_exact():
    rng = np.random.default_rng(2)
    for _ in range(5):
        c, x = _cn(rng, 3), _cn(rng, 3, 2)
        a = x @ x.conj().T
        delta = 0.4
        best = _max_quad_ball(c, a, delta)
        e = _cn(rng, 20000, 3)
        e = delta * e / np.linalg.norm(e, axis=1, keepdims=True)
        vals = np.real(np.einsum("ki,ij,kj->k", (c + e).conj(), a, c + e))
        assert vals.max() <= best * (1 + 1e-9)
        assert vals.max() >= best * 0.97  # a dense sample of the sphere gets close to the maximum


def test_single_user_closed_form_mrt():
    """No sensing, no satellite leakage, a backhaul that never binds: the optimum is MRT."""
    rng = np.random.default_rng(3)
    h = _cn(rng, 1, 4) * 1e-5
    p = problem_from_channels(h, np.zeros((1, 2)), np.ones(2) * 1e-3, np.zeros(4), p_sat_w=1.0, p_bs_w=2.0,
                              noise_w=1e-10)
    d = solve_pa1(p, Q)
    assert d.report.feasible
    assert d.sum_rate == pytest.approx(math.log2(1 + 2.0 * np.linalg.norm(h) ** 2 / 1e-10), abs=1e-4)
    w = d.beams.w[0]
    assert abs(np.vdot(w, h[0].conj())) / (np.linalg.norm(w) * np.linalg.norm(h)) == pytest.approx(1, abs=1e-6)


def test_pa1_monotone_rank_one_and_evaluated(pa1):
    obj = np.asarray(pa1.trace.objective)
    assert np.all(np.diff(obj) >= -1e-9 * obj[:-1])
    assert pa1.trace.rejected == 0 and obj[-1] > obj[0] + 0.1  # real progress, no refused step
    assert pa1.extraction == "eigenvector"  # lifted W_m, V rank one up to rank_tol
    assert pa1.report.feasible, pa1.report.violations
    assert pa1.sum_rate == pytest.approx(pa1.objective, abs=1e-3)  # vectors reproduce the lifted rate
    assert pa1.report.sum_rate <= pa1.report.backhaul_rate + 1e-4
    assert np.all(pa1.report.beampattern_w >= 0.99999 * paper_problem(0).gamma_w)


def test_joint_design_beats_benchmarks(paper, pa1):
    for solver in (solve_das, solve_tdma, solve_ibs):
        d = solver(paper, QB)
        assert d.report.delivered_sum_rate <= pa1.sum_rate + 1e-6, (d.scheme, d.sum_rate, pa1.sum_rate)
        assert np.isfinite(d.sum_rate) and d.report.sat_power_w <= paper.p_sat_w * (1 + 1e-5)


def test_robust_design_below_perfect_csi(paper, pa1):
    eps = 0.005
    pr = paper.with_csi_error(eps)
    d = solve_pa2(pr, Q)
    assert d.report.feasible, d.report.violations  # worst case (exact per term) meets the design
    assert 0.8 * pa1.sum_rate <= d.sum_rate <= pa1.sum_rate + 1e-3
    # sampled admissible channels: every encoded rate is decodable and the backhaul carries them
    rng = np.random.default_rng(4)
    for _ in range(30):
        def pert(x):
            e = _cn(rng, *x.shape)
            return x + eps * np.linalg.norm(x, axis=-1, keepdims=True) * e / np.linalg.norm(e, axis=-1, keepdims=True)
        q = pr.replace(h_ue=pert(pr.h_ue), g_ue=pert(pr.g_ue), g_es=pert(pr.g_es), h_es=pert(pr.h_es))
        ev = evaluate(q, d.beams)
        assert np.all(ev.rates >= d.encoded_rates - 1e-6)
        assert ev.backhaul_rate >= d.encoded_rates.sum() - 1e-6


def test_robust_with_zero_radius_is_pa1(paper, pa1):
    d = solve_pa2(paper.with_csi_error(0.0), Q)
    assert d.sum_rate == pytest.approx(pa1.sum_rate, rel=1e-3)


def test_backhaul_saturation(paper):
    bound = math.log2(1 + paper.p_sat_w * np.linalg.norm(paper.g_es) ** 2 / paper.noise_es_w)  # interference-free R_s
    rates = []
    for pt in (20.0, 30.0):
        d = solve_pa1(paper.with_powers(p_bs_dbw=pt), Q)
        assert d.report.feasible
        assert d.report.sum_rate == pytest.approx(d.report.backhaul_rate, abs=0.05)  # backhaul binds
        assert d.sum_rate < bound
        rates.append(d.sum_rate)
    # 10 dB more BS power would add ~M log2(10) = 26 bit/s/Hz to an access-limited sum rate
    assert rates[1] - rates[0] < 0.5


def test_infeasible_qos_names_it():
    p = paper_problem(0, dataclasses.replace(PaperSetting(), n_users=3, sinr_min_db=40.0))
    with pytest.raises(BeamformingInfeasible) as exc:
        solve_pa1(p, Q)
    assert "qos (17b)" in exc.value.families and "sensing (17d)" not in exc.value.families
    assert "; fix: " in str(exc.value) and "r0" in str(exc.value)


def test_infeasible_sensing_names_it():
    p = paper_problem(0, dataclasses.replace(PaperSetting(), n_users=3, sensing_eirp_dbw=100.0))
    with pytest.raises(BeamformingInfeasible) as exc:
        solve_pa1(p, Q)
    assert exc.value.families == ["sensing (17d)"]
    assert "Gamma" in str(exc.value)


def test_robust_design_with_a_single_user(paper, pa1):
    """One admitted user (a small city's sector): no other user's beam interferes, and the robust
    design (both bounds) solves and stays below the single user's perfect-CSI design."""
    from pipeline.solvers.beamforming_city import subset_users

    one = subset_users(paper, [0])
    perfect = solve_pa1(one, Q)
    for bounds in ("cauchy-schwarz", "s-procedure"):
        d = solve_pa2(one.with_csi_error(0.005), dataclasses.replace(Q, max_iterations=4), bounds=bounds)
        assert d.report.feasible, (bounds, d.report.violations)
        assert 0 < d.sum_rate <= perfect.sum_rate + 1e-3
