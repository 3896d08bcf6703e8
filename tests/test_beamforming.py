"""Joint satellite/BS ISAC beamforming (Wang & Wang, Sensors 2026): evaluator, Algorithms 1-2, benchmarks, infeasibility."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

from pipeline.solvers.beamforming import (
    CSI_READINGS,
    DETECTION_MODELS,
    Beamformers,
    BeamformingInfeasible,
    PaperSetting,
    RadarSetting,
    SolverOptions,
    bs_sensing_limit_w,
    detection_probability,
    echo_snr_per_w,
    evaluate,
    is_feasible,
    max_feasible_csi_error,
    max_feasible_sensing_dbw,
    paper_problem,
    problem_from_channels,
    s1528_gain_dbi,
    sensing_tradeoff,
    solve_das,
    solve_ibs,
    solve_pa1,
    solve_pa2,
    solve_tdma,
    upa_steering,
    with_sensing_dbw,
)
from pipeline.solvers.beamforming.evaluate import _max_quad_ball

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
    from pipeline.solvers.beamforming.city import subset_users

    one = subset_users(paper, [0])
    perfect = solve_pa1(one, Q)
    for bounds in ("cauchy-schwarz", "s-procedure"):
        d = solve_pa2(one.with_csi_error(0.005), dataclasses.replace(Q, max_iterations=4), bounds=bounds)
        assert d.report.feasible, (bounds, d.report.violations)
        assert 0 < d.sum_rate <= perfect.sum_rate + 1e-3


# ------------------------------------------------------------------ ISAC: sensing threshold, Fig. 4, CSI radius
def _one_user(gamma_dbw=None, rate_min=0.0, seed=5):
    """One BS user (no satellite interference, an ample backhaul) and, with ``gamma_dbw``, one target of
    the BS: max |h w|^2 s.t. ||w||^2 <= P, |a w|^2 >= Gamma has a closed form (w in span{h, a})."""
    rng = np.random.default_rng(seed)
    h = _cn(rng, 1, 4) * 1e-5
    a = upa_steering(np.radians(40.0), 1, 4).conj()[None, :]
    targets = {} if gamma_dbw is None else {"a_sat_targets": np.zeros((1, 2)), "a_bs_targets": a,
                                            "sensing_eirp_w": 10 ** (gamma_dbw / 10)}
    p = problem_from_channels(h, np.zeros((1, 2)), np.ones(2) * 1e-3, np.zeros(4), p_sat_w=1.0, p_bs_w=2.0,
                              noise_w=1e-10, rate_min=rate_min, **targets)
    return p, h[0], a[0]


def _one_user_rate(h, a, gamma_dbw, p_w=2.0, noise_w=1e-10):
    """Closed form: w = sqrt(P) (cos t u1 + sin t e^{j phi} u2), u1 = MRT, u2 the rest of a; the smallest t
    that meets the target maximises the rate; None where no w meets it."""
    u1 = h.conj() / np.linalg.norm(h)
    ac = a.conj()
    r = ac - (u1.conj() @ ac) * u1
    c1, c2 = abs(u1.conj() @ ac), abs((r / np.linalg.norm(r)).conj() @ ac)
    x = math.sqrt(10 ** (gamma_dbw / 10) / p_w) / math.hypot(c1, c2)
    if x > 1:
        return None
    t = max(0.0, math.atan2(c2, c1) - math.acos(x))
    return math.log2(1 + p_w * np.linalg.norm(h) ** 2 * math.cos(t) ** 2 / noise_w)


def test_sensing_tradeoff_and_dual_match_the_closed_form():
    """PA1 against the closed-form optimum of one user and one target: the sum rate along Gamma (the
    trade-off curve, falling), (17d)'s shadow price against the closed form's slope (envelope theorem), the
    binding flag, and infeasibility past the largest EIRP the BS can reach."""
    _, h, a = _one_user()
    p0, _, _ = _one_user(0.0)
    mrt_dbw = 10 * math.log10(2.0 * abs(a @ h.conj()) ** 2 / np.linalg.norm(h) ** 2)
    gammas = [mrt_dbw - 3.0, 0.0, 5.0, 8.0]
    rows, designs = sensing_tradeoff(p0, gammas + [10.0], SolverOptions())  # 9.03 dBW is the BS's reach
    rates = [r["sum_rate_bps_hz"] for r in rows[:-1]]
    assert np.all(np.diff(rates) < 0)
    assert rows[-1]["sum_rate_bps_hz"] is None and not rows[-1]["feasible"]
    for g, row in zip(gammas, rows):
        assert row["sum_rate_bps_hz"] == pytest.approx(_one_user_rate(h, a, g), abs=1e-4), g
        slope = -(_one_user_rate(h, a, g + 0.01) - _one_user_rate(h, a, g - 0.01)) / 0.02  # bit/s/Hz per dB
        sens = row["sensing"]
        assert sens["dual_bps_hz_per_db"][0] == pytest.approx(slope, rel=0.02, abs=1e-4), g
        assert sens["binding"] is (g > mrt_dbw)
    # a cold start lands on the same curve as the warm-started continuation
    cold = solve_pa1(with_sensing_dbw(p0, 5.0), SolverOptions())
    assert not cold.warm_started and designs[5.0].warm_started
    assert cold.sum_rate == pytest.approx(designs[5.0].sum_rate, abs=1e-4)


def test_largest_feasible_gamma_brackets_the_bs_reach():
    p0, h, a = _one_user(0.0)
    reach = 10 * math.log10(2.0 * np.linalg.norm(a) ** 2)  # all of P_T on the target
    res = max_feasible_sensing_dbw(p0, tol_db=0.02, lo_dbw=0.0)
    assert res["feasible_at"] <= reach + 0.01 and res["infeasible_at"] >= reach - 0.01
    assert bs_sensing_limit_w(p0) == pytest.approx(2.0 * np.linalg.norm(a) ** 2, rel=1e-6)
    two = p0.replace(a_bs=np.stack([upa_steering(0.0, 1, 4), upa_steering(np.pi / 2, 1, 4)]).conj(),
                     a_sat=np.zeros((2, 2)), gamma_w=np.ones(2))  # orthogonal responses, ||a||^2 = 4 each
    assert abs(np.vdot(two.a_bs[0], two.a_bs[1])) < 1e-9
    assert bs_sensing_limit_w(two) == pytest.approx(2.0 * 4 / 2, rel=1e-5)  # the power splits evenly


@pytest.mark.parametrize("model", DETECTION_MODELS)
def test_detection_probability_closed_form_vs_monte_carlo(model):
    """The Neyman-Pearson detector |y|^2 > -sigma^2 ln(pfa) simulated: its false-alarm rate is pfa and its
    detection rate the closed form (Swerling 1: pfa^(1/(1+SNR)); non-fluctuating: Marcum Q_1)."""
    rng = np.random.default_rng(7)
    pfa, n = 0.01, 400_000
    tau = -math.log(pfa)  # sigma^2 = 1
    noise = _cn(rng, n)
    assert np.mean(np.abs(noise) ** 2 > tau) == pytest.approx(pfa, abs=4 * math.sqrt(pfa / n))
    for snr in (0.5, 3.0, 10.0):
        if model == "swerling1":
            amp = math.sqrt(snr) * _cn(rng, n)
        else:
            amp = math.sqrt(snr) * np.exp(2j * np.pi * rng.random(n))
        mc = np.mean(np.abs(amp + _cn(rng, n)) ** 2 > tau)
        assert float(detection_probability(snr, pfa, model)) == pytest.approx(mc, abs=5 * math.sqrt(0.25 / n)), snr
    assert np.all(np.diff(detection_probability(np.linspace(0, 50, 11), 1e-6, model)) > 0)


def test_echo_snr_is_the_radar_equation():
    p = paper_problem(0)
    radar = RadarSetting(receiver="satellite", rcs_m2=10.0, samples=1.0)
    d = np.linalg.norm(p.meta["target_xyz"] - p.meta["sat_xyz"], axis=1)
    lam = 299_792_458.0 / p.meta["freq_hz"]
    want = np.linalg.norm(p.a_sat, axis=1) ** 2 * lam**2 * 10.0 / ((4 * math.pi) ** 3 * d**4 * p.noise_es_w)
    np.testing.assert_allclose(echo_snr_per_w(p, radar), want, rtol=1e-12)
    assert 9.9e5 < d.min() and d.max() < 1.01e6  # targets seen from 1000 km


@pytest.mark.parametrize("reading", CSI_READINGS)
def test_csi_radius_bisection_brackets_the_closed_form(reading):
    """One user, no interference: the Cauchy-Schwarz signal bound ||c||^2 - 2 delta ||c|| (normalised c) must
    reach gamma = ||c||^2 / 4, so delta* = 3 ||c|| / 8: relative eps* = 0.375, absolute eps* = 0.375 ||c||.
    The bisection brackets it; just below is feasible (and PA2's design passes the exact worst case), just
    above is not."""
    p, h, _ = _one_user()
    snr = 2.0 * np.linalg.norm(h) ** 2 / 1e-10
    p = p.replace(rate_min=math.log2(1 + snr / 4))
    want = 0.375 if reading == "relative" else 0.375 * math.sqrt(snr)
    res = max_feasible_csi_error(p, reading, rel_tol=0.02)
    assert res["feasible_at"] <= want * 1.002 and res["infeasible_at"] >= want * 0.998
    assert res["infeasible_at"] / res["feasible_at"] <= 1.02 + 1e-9
    assert is_feasible(p.with_csi_error(0.97 * want, reading), robust=True, strict=True)
    assert not is_feasible(p.with_csi_error(1.03 * want, reading), robust=True, strict=True)
    d = solve_pa2(p.with_csi_error(0.9 * want, reading), Q)
    assert d.report.feasible, d.report.violations


def test_absolute_csi_reading_holds_against_sampled_errors():
    """The absolute reading bounds ||e|| by eps on the noise-normalised channel, i.e. eps sigma / sqrt(P_tx) on
    the physical one: PA2's encoded rates stay decodable for errors of that size (3 users of the paper setting)."""
    eps = 0.05
    paper = paper_problem(0, dataclasses.replace(PaperSetting(), n_users=3))
    pr = paper.with_csi_error(eps, "absolute")
    d = solve_pa2(pr, Q)
    assert d.report.feasible, d.report.violations
    rng = np.random.default_rng(8)
    scale = {"h_ue": math.sqrt(paper.noise_ue_w[0] / paper.p_bs_w), "g_ue": math.sqrt(paper.noise_ue_w[0] / paper.p_sat_w),
             "g_es": math.sqrt(paper.noise_es_w / paper.p_sat_w), "h_es": math.sqrt(paper.noise_es_w / paper.p_bs_w)}
    for _ in range(30):
        def pert(x, s):
            e = _cn(rng, *x.shape)
            return x + eps * s * e / np.linalg.norm(e, axis=-1, keepdims=True)
        q = pr.replace(**{k: pert(getattr(pr, k), s) for k, s in scale.items()})
        ev = evaluate(q, d.beams)
        assert np.all(ev.rates >= d.encoded_rates - 1e-6)
        assert ev.backhaul_rate >= d.encoded_rates.sum() - 1e-6


def test_bs_sensing_limit_against_its_dual():
    """max_{W >= 0, Tr W <= P} min_t a_t W a_t^H = min over target weights mu of P lambda_max(sum_t mu_t a_t^H a_t)
    (minimax): two targets at random directions, the dual by a grid over mu."""
    p0, _, _ = _one_user(0.0)
    rng = np.random.default_rng(9)
    rows = _cn(rng, 2, 4)
    two = p0.replace(a_bs=rows, a_sat=np.zeros((2, 2)), gamma_w=np.ones(2))
    grams = [np.outer(r.conj(), r) for r in rows]
    dual = min(np.linalg.eigvalsh(mu * grams[0] + (1 - mu) * grams[1])[-1] for mu in np.linspace(0, 1, 20001))
    assert bs_sensing_limit_w(two) == pytest.approx(2.0 * dual, rel=1e-5)


def test_library_sweep_is_the_one_runner_serial_and_parallel_alike():
    """sweep() runs the tasks the DVC stages run (run_tasks): two spawned worker processes give the numbers one
    gives, and each point is that point's problem solved directly (values and schemes not mixed up)."""
    from pipeline.solvers.beamforming import SWEEPS, setting_for, sweep

    values = [-6.0, 0.0]  # IBS cannot meet the backhaul at -6 dBW: nan and the reason
    one = sweep("p_bs_dbw", values, schemes=("ibs",), quick=True)
    two = sweep("p_bs_dbw", values, schemes=("ibs",), quick=True, workers=2)
    np.testing.assert_array_equal(one.sum_rate["ibs"], two.sum_rate["ibs"])
    assert one.status == two.status and one.values == values
    assert math.isnan(one.sum_rate["ibs"][0]) and "infeasible" in one.status["ibs"][0].lower()
    direct = solve_ibs(paper_problem(0, setting_for(PaperSetting(), "p_bs_dbw", 0.0)), SolverOptions.quick())
    assert one.sum_rate["ibs"][1] == round(float(direct.sum_rate), 6)
    assert one.status["ibs"][1] == "; ".join(direct.report.violations)  # IBS does not guarantee QoS (waived)
    with pytest.raises(ValueError, match="parameter must be one of"):
        sweep("bandwidth_hz", [1.0])
    assert "p_bs_dbw" in SWEEPS
