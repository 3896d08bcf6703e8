"""Li & Shang (arXiv 2411.04675) case study: MC vs SC coverage (Monte Carlo against the analysis), Nakagami closed forms."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from pipeline.solvers.multiconnectivity import (
    FIG3_DEFAULTS, CaseStudyParams, analytic_coverage, fig3_data, nakagami_coverage_closed_form, simulate_case)
from pipeline.solvers.stochastic_geometry import Nakagami

THR_DB = np.linspace(-20, 30, 26)


@pytest.fixture(scope="module")
def paper_run():
    p = CaseStudyParams()
    return p, simulate_case(p, 200_000, 17).coverage(THR_DB), analytic_coverage(p, THR_DB)


def test_multiconnectivity_never_below_either_single_link(paper_run):
    _, mc, _ = paper_run
    assert np.all(mc["mc"] >= np.maximum(mc["sat"], mc["bs"]))
    assert np.all(np.diff(mc["mc"]) <= 0) and np.all(np.diff(mc["bs"]) <= 0)
    joint = simulate_case(replace(CaseStudyParams(), combining="sum"), 50_000, 3).coverage(THR_DB)
    assert np.all(joint["mc"] >= np.maximum(joint["sat"], joint["bs"]))
    assert np.all(joint["mc"] >= mc["mc"] - 0.01)  # summing SINRs never loses against selecting one


def test_monte_carlo_matches_analysis(paper_run):
    _, mc, an = paper_run
    for key in ("sat", "bs", "mc"):
        assert np.max(np.abs(mc[key] - an[key])) <= 0.01, key
    assert np.all(an["mc"] >= np.maximum(an["sat"], an["bs"]) - 1e-12)


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


@pytest.mark.parametrize("m", [1, 3])
def test_fig3_beamforming_analysis_matches_monte_carlo(m):
    data = fig3_data(m_values=(m,), sinr_threshold_db=np.linspace(-20, 30, 26), n_drops=30_000, seed=5)
    for key in ("bf", "no_bf"):
        e = data[key][m]
        assert np.max(np.abs(e["analytic"] - e["monte_carlo"])) <= 0.015  # 30k drops: 5 sigma
    assert np.all(data["bf"][m]["analytic"] >= data["no_bf"][m]["analytic"] - 1e-9)
    p = replace(CaseStudyParams(), **FIG3_DEFAULTS)
    assert 0 < p.sat_active_fraction < 1


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
    from pipeline.solvers.coverage_plots import plot_mc_fig3, plot_mc_fig6
    from pipeline.solvers.multiconnectivity import fig6_data

    d6 = fig6_data(n_drops=20_000, sinr_threshold_db=np.linspace(-20, 30, 11))
    assert np.max(np.abs(d6["analytic"]["mc"] - d6["monte_carlo"]["mc"])) <= 0.02
    d3 = fig3_data(m_values=(2,), sinr_threshold_db=np.linspace(-20, 30, 11), n_drops=5_000)
    assert plot_mc_fig6(d6, tmp_path / "f6.png").stat().st_size > 10_000
    assert plot_mc_fig3(d3, tmp_path / "f3.png").stat().st_size > 10_000
