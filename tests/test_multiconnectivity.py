"""Li & Shang (arXiv 2411.04675): the SS-SBS case study (Monte Carlo against the analysis, the MC gain over the best
SC link, what decides where it peaks), the multi-satellite architecture of Figs. 3-4, Nakagami closed forms."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from pipeline.solvers.multiconnectivity import (
    CaseStudyParams, analytic_coverage, fig6_sensitivity, mc_gain, nakagami_coverage_closed_form, satellite_sinr_percentiles,
    simulate_case)
from pipeline.solvers.multisatellite import (
    MultiSatParams, estimated_phase_error, fig3_data, fig4_data, mean_amplitude, simulate_ms, single_satellite_coverage)
from pipeline.solvers.stochastic_geometry import Nakagami

THR_DB = np.linspace(-20, 30, 26)


@pytest.fixture(scope="module")
def paper_run():
    p = CaseStudyParams()
    return p, simulate_case(p, 200_000, 17).coverage(THR_DB), analytic_coverage(p, THR_DB)


def test_sum_combining_matches_the_convolution_of_the_two_links():
    """SINR_N + SINR_T > theta with independent links: P = E_T[P_N(theta - SINR_T)], the two analytic single-link
    CCDFs convolved numerically on a 0.1 dB grid (BS unserved: SINR_T = 0 with probability 1 - P(a BS within R_T))."""
    p = replace(CaseStudyParams(), combining="sum")
    thr = np.array([15.0, 20.0, 23.0, 26.0])
    mc = simulate_case(p, 100_000, 3).coverage(thr)
    y_db = np.linspace(-40.0, 40.0, 801)
    an = analytic_coverage(replace(p, combining="selection"), np.r_[-300.0, y_db])
    served, ccdf_t = an["bs"][0], an["bs"][1:]  # P[SINR_T > 0], P[SINR_T > y_k]
    sat_db, ccdf_n = np.r_[-300.0, y_db], an["sat"]
    y = 10 ** (y_db / 10)
    mass = -np.diff(np.r_[ccdf_t, 0.0])  # P[SINR_T in (y_k, y_k+1]], the last bin: above 40 dB
    for i, t in enumerate(10 ** (thr / 10)):
        p_n_alone = np.interp(10 * np.log10(t), sat_db, ccdf_n)
        need = 10 * np.log10(np.maximum(t - y, 1e-30))
        p_n = np.where(y >= t, 1.0, np.interp(need, sat_db, ccdf_n))
        ref = (1 - ccdf_t[0]) * p_n_alone + (mass * p_n).sum()  # unserved or below -40 dB: the satellite alone
        assert mc["mc"][i] == pytest.approx(ref, abs=0.01)
    assert served == pytest.approx(0.701, abs=1e-3)


def test_monte_carlo_matches_analysis(paper_run):
    _, mc, an = paper_run
    for key in ("sat", "bs", "mc"):
        assert np.max(np.abs(mc[key] - an[key])) <= 0.01, key
    g_mc, g_an = mc_gain(mc, THR_DB), mc_gain(an, THR_DB)
    assert np.max(np.abs(g_mc["gain"] - g_an["gain"])) <= 0.01  # 200k drops: gain std. error <= 0.0011


def test_mc_gain_peak_of_two_known_curves():
    """Independent links with known CCDFs a, b: G(theta) = (1 - (1 - a)(1 - b)) - max(a, b) = min(a, b)(1 - max(a, b))."""
    thr = np.linspace(-20, 30, 501)
    a = 1 / (1 + np.exp(thr / 3))
    b = 1 / (1 + np.exp((thr - 10.0) / 3))
    g = mc_gain({"sat": a, "bs": b, "mc": 1 - (1 - a) * (1 - b)}, thr)
    np.testing.assert_allclose(g["gain"], np.minimum(a, b) * (1 - np.maximum(a, b)), atol=1e-12)
    i = int(np.argmax(np.minimum(a, b) * (1 - np.maximum(a, b))))
    assert g["peak_threshold_db"] == pytest.approx(thr[i]) and g["peak_at_low_threshold"] == (thr[i] <= 0.0)


def test_satellite_link_percentiles_explain_the_fig6_discrepancy():
    """The measurement behind docs/models/coverage.md §3: with the §V lobes (30 vs 10 dBi) and 4-antenna MRT the
    single-satellite SINR stays above ~13 dB for 99 % of UEs, so SC-satellite coverage is 1 - P(nothing visible) up
    to ~5 dB; the §V noise power changes nothing; interferers seen through their main lobes move the peak down."""
    p = CaseStudyParams()
    pct = satellite_sinr_percentiles(p, 100_000, 1)
    an = analytic_coverage(p, [pct["p1"], pct["p50"]])
    assert 1 - an["sat"][0] == pytest.approx(0.01, abs=0.003)  # the percentile agrees with Theorem 1
    assert 1 - an["sat"][1] == pytest.approx(0.5, abs=0.01)
    assert pct["p1"] > 10.0
    sens = fig6_sensitivity(p, THR_DB)["variants"]
    np.testing.assert_allclose(sens["no_noise"]["sat"], sens["paper_sec5"]["sat"], atol=1e-3)
    assert sens["paper_sec5"]["peak_threshold_db"] > 15.0
    assert sens["side_lobe_equals_main_lobe"]["peak_threshold_db"] < sens["paper_sec5"]["peak_threshold_db"] - 10.0


def test_case_study_numbers_of_the_notes(paper_run):
    """Li & Shang §V derived numbers (docs/models/coverage.md): P(a BS within R_T) = 0.701, ~10.8 visible
    satellites, P(none) ~ 2e-5."""
    p, mc, _ = paper_run
    tier = p.sat_tier()
    assert tier.mean_visible() == pytest.approx(10.8, abs=0.05)
    assert math.exp(-tier.mean_visible()) == pytest.approx(2e-5, rel=0.1)
    low = analytic_coverage(p, [-60.0])
    assert float(low["bs"][0]) == pytest.approx(1 - math.exp(-6e-3 * math.pi * 8**2), abs=1e-4)
    assert float(low["bs"][0]) == pytest.approx(0.701, abs=1e-3)
    assert float(low["sat"][0]) == pytest.approx(1 - math.exp(-tier.mean_visible()), abs=1e-6)
    # zenith received power 50 + 30 - 20 log10(5e5) = -34 dBm (pure d^-alpha)
    assert 10 * math.log10(tier.rx_serving / 4 * (500e3) ** -2) + 30 == pytest.approx(-34.0, abs=0.05)
    assert mc["bs"][0] == pytest.approx(0.701, abs=0.005)


@pytest.mark.parametrize("m", [1, 2, 4])
def test_nakagami_link_closed_form_matches_samples(m):
    """One Nakagami-m link: P[SNR > theta] = Q(m, m theta / SNR) (Gamma CCDF), against the sampler
    both simulators use, and the MRT gain Gamma(N m, 1/m) against its Gamma CCDF."""
    rng = np.random.default_rng(m)
    mean_snr = 10.0
    snr = mean_snr * Nakagami(m).sample(rng, 300_000)
    thr = np.linspace(-10, 20, 31)
    emp = (snr[None] > 10 ** (thr / 10)[:, None]).mean(1)
    assert np.max(np.abs(emp - nakagami_coverage_closed_form(mean_snr, thr, m))) < 0.004
    n_ant = 4
    mrt = n_ant * Nakagami(m * n_ant).sample(rng, 300_000)
    x = np.linspace(0.5, 10, 20)
    emp = (mrt[None] > x[:, None]).mean(1)
    assert np.max(np.abs(emp - stats.gamma.sf(x, m * n_ant, scale=1 / m))) < 0.004


def test_active_satellite_thinning_analysis_matches_monte_carlo():
    """Interfering satellites thinned to those with a UE (lambda_U of Li & Shang's Fig. 3 caption): Theorem 1 with the
    active fraction against the Monte Carlo that drops the interferers with that probability (30k drops: 5 sigma)."""
    p = replace(CaseStudyParams(), sat_density_per_km2=1e-5, ue_gain_dbi=10.0, ue_density_per_km2=4e-6, sat_antennas=1,
                nakagami_m=2.0)
    assert 0 < p.sat_active_fraction < 1
    an = analytic_coverage(p, THR_DB)
    mc = simulate_case(p, 30_000, 5).coverage(THR_DB)
    assert np.max(np.abs(an["sat"] - mc["sat"])) <= 0.015


# ------------------------------------------------------------------ multi-satellite architecture (Figs. 3-4)
@pytest.mark.parametrize("m", [1, 2])
def test_single_satellite_cluster_reduces_to_theorem_1(m):
    """K = 1, every satellite active, eta = 1: the MS Monte Carlo is the SC satellite link (50k drops: s.e. 0.0022)."""
    p = replace(MultiSatParams(), cluster_size=1, ue_density_per_km2=None, nakagami_m=float(m))
    mc = simulate_ms(p, 50_000, 2 + m).coverage(THR_DB)
    assert np.max(np.abs(mc - single_satellite_coverage(p, THR_DB))) <= 0.01


def test_pilot_contamination_closed_form():
    """Rayleigh channel, one equal-power contaminating UE, no noise: y = h0 + h1, E[|h0| cos(phi0 - arg y)] =
    E[Re(h0 y*) / |y|] = E|y| / 2 = sqrt(pi) / (2 sqrt 2) = E|h0| / sqrt 2 (LMMSE: E[h0 | y] = y / 2)."""
    rng = np.random.default_rng(4)
    n = 400_000
    amp = np.sqrt(rng.exponential(1.0, n))
    phase = rng.uniform(-np.pi, np.pi, n)
    h1 = np.sqrt(rng.exponential(1.0, n)) * np.exp(1j * rng.uniform(-np.pi, np.pi, n))
    err = estimated_phase_error(rng, amp, phase, h1[:, None], np.zeros(n))
    assert float(np.mean(amp * np.cos(err))) == pytest.approx(mean_amplitude(1.0) / np.sqrt(2), rel=0.005)
    assert mean_amplitude(1.0) == pytest.approx(np.sqrt(np.pi) / 2)
    assert float(np.mean(amp)) == pytest.approx(mean_amplitude(1.0), rel=0.003)
    assert mean_amplitude(2.0) == pytest.approx(0.9400, abs=1e-4)  # Gamma(2.5) / (Gamma(2) sqrt 2)


def test_coherent_beamforming_mean_power_closed_form():
    """Perfect CSI, c_j = sqrt(eta_j beta_j): E[S_bf | c] = rho G (sum c^2 + E[a]^2 ((sum c)^2 - sum c^2)) and
    E[S_nobf | c] = rho G sum c^2, so the ratio of the means minus 1 is E[a]^2 times a geometry term that does not
    depend on m: (r(m=4) - 1) / (r(m=1) - 1) = (E[a]_4 / E[a]_1)^2 (40k drops each: ~1 % s.e.)."""
    base = replace(MultiSatParams(), ue_density_per_km2=None)
    ratios = {}
    for m in (1.0, 4.0):
        d = simulate_ms(replace(base, nakagami_m=m), 40_000, 9)
        ratios[m] = d.signal_ideal_w.mean() / d.signal_nobf_w.mean()
    # (r - 1) is proportional to E[a]^2 for the same geometry law
    assert (ratios[4.0] - 1) / (ratios[1.0] - 1) == pytest.approx(mean_amplitude(4.0) ** 2 / mean_amplitude(1.0) ** 2, rel=0.03)


def test_estimated_csi_approaches_ideal_with_many_pilots_and_fig4_trend():
    p = replace(MultiSatParams(), nakagami_m=2.0)
    d = simulate_ms(p, 20_000, 1, pilots=(1, 1_000_000))
    assert d.signal_estimated_w[1_000_000].mean() / d.signal_ideal_w.mean() == pytest.approx(1.0, abs=0.01)
    assert d.signal_estimated_w[1].mean() < 0.85 * d.signal_ideal_w.mean()  # ~1.4 contaminating UEs per satellite
    f4 = fig4_data(p, pilots=(1, 8), n_drops=20_000)
    assert f4["ks_distance"][8] < 0.5 * f4["ks_distance"][1]  # KS s.e. ~0.01 at 20k drops


def test_multi_satellite_parameters_are_checked():
    for kw, match in (({"cluster_size": 0}, "cluster_size"), ({"sat_density_per_km2": -1.0}, "sat_density_per_km2"),
                      ({"ue_density_per_km2": 0.0}, "ue_density_per_km2")):
        with pytest.raises(ValueError, match=match):
            MultiSatParams(**kw)
    with pytest.raises(ValueError, match="unknown multi-satellite"):
        MultiSatParams.from_mapping({"cluster": 3})
    with pytest.raises(ValueError, match="pilots"):
        simulate_ms(MultiSatParams(), 10, pilots=(0,))


def test_scheduling_probabilities_follow_the_mode_decomposition():
    p = replace(CaseStudyParams(), p_sched_sat=0.6, p_sched_bs=0.8)
    an = analytic_coverage(p, THR_DB)
    mc = simulate_case(p, 100_000, 4).coverage(THR_DB)
    pn, pt = an["sat"], an["bs"]
    notes = 0.6 * 0.8 * (1 - (1 - pn) * (1 - pt)) + 0.6 * 0.2 * pn + 0.4 * 0.8 * pt  # mode decomposition, docs/models/coverage.md
    np.testing.assert_allclose(an["mc"], notes, atol=1e-12)
    assert np.max(np.abs(mc["mc"] - an["mc"])) <= 0.01


def test_monte_carlo_is_seeded():
    p = CaseStudyParams()
    a, b = simulate_case(p, 3000, 8), simulate_case(p, 3000, 8)
    np.testing.assert_array_equal(a.sinr_bs, b.sinr_bs)
    np.testing.assert_array_equal(a.sinr_sat, b.sinr_sat)
    assert not np.array_equal(a.sinr_bs, simulate_case(p, 3000, 9).sinr_bs)


@pytest.mark.parametrize("kw,match", [
    ({"bs_density_per_km2": -1.0}, "bs_density_per_km2"),
    ({"sat_density_per_km2": float("nan")}, "sat_density_per_km2"),
    ({"nakagami_m": 0.0}, "nakagami_m"),
    ({"bs_antennas": 0}, "bs_antennas"),
    ({"bs_service_radius_m": 40e3}, "bs_service_radius_m"),
    ({"combining": "mrc"}, "combining"),
    ({"p_sched_bs": 1.5}, "p_sched_bs"),
    ({"ue_density_per_km2": -4e-6}, "ue_density_per_km2"),
])
def test_bad_parameters_raise_one_clear_line(kw, match):
    with pytest.raises(ValueError, match=match) as err:
        CaseStudyParams(**kw)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="unknown case-study parameter"):
        CaseStudyParams.from_mapping({"bs_densty": 1.0})


def test_non_integer_mrt_order_needs_monte_carlo():
    p = CaseStudyParams(nakagami_m=0.7)
    with pytest.raises(ValueError, match="not an integer"):
        analytic_coverage(p, [0.0])
    assert np.isfinite(simulate_case(p, 2000, 0).sinr_bs).all()


def test_figure_helpers_write_images(tmp_path):
    from pipeline.solvers.coverage_plots import plot_mc_fig6, plot_mc_gain, plot_ms_fig3, plot_ms_fig4
    from pipeline.solvers.multiconnectivity import fig6_data

    thr = np.linspace(-20, 30, 11)
    d6 = fig6_data(n_drops=20_000, sinr_threshold_db=thr)
    assert np.max(np.abs(d6["analytic"]["mc"] - d6["monte_carlo"]["mc"])) <= 0.02
    sens = fig6_sensitivity(sinr_threshold_db=thr)
    d3 = fig3_data(m_values=(2,), sinr_threshold_db=thr, n_drops=5_000)
    d4 = fig4_data(pilots=(1, 4), n_drops=5_000)
    assert plot_mc_fig6(d6, tmp_path / "f6.png").stat().st_size > 10_000
    assert plot_mc_gain(d6, sens, tmp_path / "g6.png").stat().st_size > 10_000
    assert plot_ms_fig3(d3, tmp_path / "f3.png").stat().st_size > 10_000
    assert plot_ms_fig4(d4, tmp_path / "f4.png").stat().st_size > 10_000
