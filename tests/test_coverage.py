"""Empirical SC/MC coverage from CINR samples (pipeline.solvers.coverage)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pipeline.solvers.coverage import coverage_from_cinr, coverage_probability, heatmap_coverage, link_rates_bps


def test_coverage_probability_counts_finite_samples_only():
    v = np.array([-5.0, 0.0, 5.0, 10.0, np.nan, np.nan])
    np.testing.assert_allclose(coverage_probability(v, np.array([-10.0, 0.0, 7.0, 20.0])), [1.0, 0.5, 0.25, 0.0])
    per_row = coverage_probability(np.array([[1.0, 2.0], [np.nan, 3.0]]), np.array([1.5]), axis=1)
    np.testing.assert_allclose(per_row, [[0.5, 1.0]])


def test_mc_dominates_single_connectivity_and_matches_the_independent_closed_form():
    """With independent Gaussian CINRs (dB), P_MC = 1 - P[bs <= t] P[sat <= t] (closed form)."""
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    n = 200_000
    bs = rng.normal(5.0, 8.0, (2, n))
    sat = rng.normal(0.0, 4.0, (2, n))
    thr = np.linspace(-15, 25, 41)
    cov = coverage_from_cinr(bs, sat, thr, np.array([1e6]), 20e6)
    win = cov.sinr_coverage_window
    assert (win.sel(scheme="mc") >= np.maximum(win.sel(scheme="sc_bs"), win.sel(scheme="sc_sat")) - 1e-12).all()
    expected = 1 - norm.cdf(thr, 5, 8) * norm.cdf(thr, 0, 4)
    np.testing.assert_allclose(win.sel(scheme="mc"), expected, atol=5e-3)  # MC noise ~1/sqrt(4e5)
    np.testing.assert_allclose(win.sel(scheme="sc_bs"), norm.sf(thr, 5, 8), atol=5e-3)
    assert cov.sinr_coverage.sizes["time"] == 2


def test_rate_coverage_is_sinr_coverage_at_the_shannon_threshold():
    rng = np.random.default_rng(1)
    bs, sat = rng.normal(0, 10, (1, 5000)), rng.normal(-5, 6, (1, 5000))
    bw = 20e6
    rates = np.array([5e6, 20e6, 60e6])
    cov = coverage_from_cinr(bs, sat, 10 * np.log10(2 ** (rates / bw) - 1), rates, bw)
    for scheme in ("sc_bs", "sc_sat", "mc"):
        np.testing.assert_allclose(cov.rate_coverage_window.sel(rate_scheme=scheme).values,
                                   cov.sinr_coverage_window.sel(scheme=scheme).values, atol=1e-12)
    r = link_rates_bps(bs, sat, bw)
    assert (r["dc"] >= r["mc"]).all()  # both links' rates summed never lose to the better one alone
    assert (cov.rate_coverage_window.sel(rate_scheme="dc") >= cov.rate_coverage_window.sel(rate_scheme="mc")).all()


def test_heatmap_coverage_ignores_indoor_cells():
    cinr = np.array([[[10.0, -5.0], [np.nan, 20.0]]])  # (time, y, x); indoor cell NaN
    outdoor = np.array([[1, 1], [0, 0]], np.uint8)  # the 20 dB cell is flagged indoor too
    ds = xr.Dataset({"cinr_bs_db": (("time", "y", "x"), cinr), "cinr_leo_db": (("time", "y", "x"), cinr - 30),
                     "outdoor": (("y", "x"), outdoor)}, coords={"time": [0]}, attrs={"bandwidth_hz": 1e6})
    cov = heatmap_coverage(ds, np.array([0.0]), np.array([1e5]))
    assert cov.sinr_coverage_window.sel(scheme="sc_bs").values[0] == pytest.approx(0.5)
    assert int(cov.samples_per_slot[0]) == 2
    with pytest.raises(ValueError, match="no outdoor cell"):
        heatmap_coverage(ds.assign(outdoor=ds.outdoor * 0), np.array([0.0]), np.array([1e5]))


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="bandwidth_hz"):
        link_rates_bps(np.zeros(2), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="shape"):
        coverage_from_cinr(np.zeros((1, 3)), np.zeros((1, 4)), np.array([0.0]), np.array([1.0]), 1e6)


# ------------------------------------------------------------------ calibration of the analytic model
def test_path_loss_fit_recovers_a_known_law():
    from pipeline.solvers.coverage import fit_path_loss

    rng = np.random.default_rng(3)
    d = rng.uniform(20, 1000, 5000)
    p_db = 10.0 - 10 * 3.2 * np.log10(d) + rng.normal(0, 4, d.size)
    fit = fit_path_loss(d, p_db)
    assert fit["alpha"] == pytest.approx(3.2, abs=0.05) and fit["k_db"] == pytest.approx(10.0, abs=0.5)
    assert fit["residual_std_db"] == pytest.approx(4.0, rel=0.05)
    assert fit_path_loss(d, p_db, exponent=3.2)["k_db"] == pytest.approx(10.0, abs=0.2)
    with pytest.raises(ValueError, match="fewer than 3"):
        fit_path_loss(np.array([1.0, 2.0]), np.array([0.0, 1.0]))


def test_nakagami_moment_estimator_on_gamma_samples():
    from pipeline.solvers.coverage import fit_nakagami_m

    rng = np.random.default_rng(4)
    for m in (1.0, 2.5, 4.0):
        assert fit_nakagami_m(rng.gamma(m, 1 / m, 200_000)) == pytest.approx(m, rel=0.03)


def test_shadowed_rician_fit_picks_the_generating_preset():
    from pipeline.solvers.coverage import fit_shadowed_rician
    from pipeline.solvers.stochastic_geometry import SR_PRESETS

    rng = np.random.default_rng(5)
    sample = SR_PRESETS["FHS"].sample(rng, 4000)
    fit = fit_shadowed_rician(sample, max_samples=4000)
    assert fit["best_preset"] == "FHS" and fit["ks_by_preset"]["FHS"] < 0.05
    assert fit["ks_ml"] <= fit["ks_by_preset"]["FHS"] + 0.01  # ML never fits much worse than its start
    mean = 2 * fit["ml"]["b"] + fit["ml"]["omega"]
    assert mean == pytest.approx(sample.mean(), rel=0.1)


def test_constellation_density_closed_form():
    from pipeline.solvers.coverage import constellation_density_per_km2

    # 1584 satellites on the 6971 km sphere: 1584 / (4 pi 6971^2) = 2.594e-6 per km^2
    assert constellation_density_per_km2(1584, 600e3, 6371e3) == pytest.approx(2.5939e-6, rel=1e-4)
