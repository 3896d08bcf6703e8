"""Empirical SC/MC coverage from CINR samples (pipeline.solvers.coverage), Park et al.'s model under the maps'
interference rule, and the city model calibrated to ray-traced maps (pipeline.solvers.city_model)."""

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


def test_mc_coverage_matches_the_independent_closed_form():
    """With independent Gaussian CINRs (dB), P_MC = 1 - P[bs <= t] P[sat <= t] (closed form)."""
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    n = 200_000
    bs = rng.normal(5.0, 8.0, (2, n))
    sat = rng.normal(0.0, 4.0, (2, n))
    thr = np.linspace(-15, 25, 41)
    cov = coverage_from_cinr(bs, sat, thr, np.array([1e6]), 20e6)
    win = cov.sinr_coverage_window
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
    np.testing.assert_allclose(r["dc"], bw * (np.log2(1 + 10 ** (bs / 10)) + np.log2(1 + 10 ** (sat / 10))))


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


def test_park_cross_network_bs_link_equals_noise_limited_closed_form():
    """Without satellites the maps' rule leaves the best BS link noise-limited (no other BS interferes):
    P[SINR > t] = int Q(m, m t sigma^2 d^a / P) f_R(r) dr over the nearest visible BS (Park et al. (38), (52))."""
    from scipy import integrate, stats

    from pipeline.solvers.coverage import park_cross_network_coverage
    from pipeline.solvers.stochastic_geometry import Nakagami, Network, Tier

    re = 6371e3
    sat = Tier("sat", 0.0, re + 600e3, 0.0, 0.0, 40.0, 0.0, 0.0, 2.0)
    tbs = Tier("tbs", 0.02, re, 30.0, 30.0, 46.0, 0.0, 0.0, 3.0, fading=Nakagami(2.0), path_loss_ref_db=-40.0)
    noise = 10 ** ((-94 - 30) / 10)
    thr = np.array([-5.0, 5.0, 15.0])
    cov = park_cross_network_coverage(Network((sat, tbs), noise, 20e6), thr)
    for i, t in enumerate(10 ** (thr / 10)):
        f = lambda r, t=t: stats.gamma.sf(2 * t * noise * r**3 / tbs.rx_serving, 2) * tbs.nearest_pdf(r)  # noqa: E731
        ref, _ = integrate.quad(f, tbs.x_lo, tbs.x_hi, points=[tbs.x_lo * 2, 2e3, 1e4], limit=400, epsabs=1e-12)
        assert cov["sc_bs"][i] == pytest.approx(tbs.visibility_probability() * ref, abs=2e-5)
    assert np.all(cov["sc_sat"] == 0.0)


# ------------------------------------------------------------------ city model (pipeline.solvers.city_model)
def _binned_normal(edges, mean, sd, void=None):
    from scipy.stats import norm

    p = np.diff(norm.cdf(edges, mean, sd))
    p[0] += norm.cdf(edges[0], mean, sd)
    p[-1] += norm.sf(edges[-1], mean, sd)
    p /= p.sum()
    return p if void is None else np.r_[p * (1 - void), void]


TRUTH = {"class_prob": np.array([0.6, 0.4]), "reach_scale_m": np.array([900.0, 300.0]), "reach_shape": np.array([2.0, 1.2]),
         "bs_atten": [(-25.0, 8.0), (-50.0, 10.0)], "sat_atten": [(-3.0, 3.0, 0.02), (-25.0, 8.0, 0.3)]}


def synthetic_city(seed=0, n_sites=20, nx=100, ny=160, cell=10.0, n_slots=3):
    """Maps of a city drawn from the latent-class model with the known parameters TRUTH (2 classes, i.i.d. per cell),
    CINR computed with the heatmaps' rule (docs/models/cinr.md: cross-network interference, full-power load)."""
    from pipeline.solvers.city_model import BS_EDGES_DB, SAT_EDGES_DB, free_space_db, weibull_reach

    rng = np.random.default_rng(seed)
    w, h = nx * cell, ny * cell
    x, y = (np.arange(nx) + 0.5) * cell - w / 2, (np.arange(ny) + 0.5) * cell - h / 2
    cls = rng.choice(2, (ny, nx), p=TRUTH["class_prob"])
    sx, sy = rng.uniform(-w / 2, w / 2, n_sites), rng.uniform(-h / 2, h / 2, n_sites)
    sz = rng.choice([20.0, 30.0, 45.0], n_sites)
    xx, yy = np.meshgrid(x, y)
    freq, rx = 3.5e9, 1.5
    d = np.sqrt((xx[None] - sx[:, None, None]) ** 2 + (yy[None] - sy[:, None, None]) ** 2 + (sz[:, None, None] - rx) ** 2)
    reach = rng.random(d.shape) < weibull_reach(d, TRUTH["reach_scale_m"][cls][None], TRUTH["reach_shape"][cls][None])
    mu = np.array([m for m, _ in TRUTH["bs_atten"]])[cls][None]
    sd = np.array([s for _, s in TRUTH["bs_atten"]])[cls][None]
    att = np.clip(mu + sd * rng.standard_normal(d.shape), BS_EDGES_DB[0], BS_EDGES_DB[-1] - 1e-6)
    g_bs = np.where(reach, 10 ** ((free_space_db(d, freq) + att) / 10), 0.0)
    slant = np.tile([1.05e6, 1.1e6], (n_slots, 1))
    smu, ssd, svoid = (np.array([v[i] for v in TRUTH["sat_atten"]])[cls] for i in range(3))
    g_sat = np.zeros((n_slots, 2, ny, nx))
    for t in range(n_slots):
        for r in range(2):
            a = np.clip(smu + ssd * rng.standard_normal((ny, nx)), SAT_EDGES_DB[0], SAT_EDGES_DB[-1] - 1e-6)
            g_sat[t, r] = np.where(rng.random((ny, nx)) < svoid, 0.0, 10 ** ((free_space_db(slant[t, r], freq) + a) / 10))
    p_b, c_sat, noise, floor = 10 ** 1.6, 10 ** 4.7, 10 ** ((-94 - 30) / 10), 1e-25
    rx_bs, rx_sat = p_b * np.maximum(g_bs, floor), c_sat * np.maximum(g_sat, floor)
    i_s = rx_sat.sum(1)
    heat = xr.Dataset(
        {"cinr_bs_db": (("time", "y", "x"), 10 * np.log10(rx_bs.max(0)[None] / (i_s + noise))),
         "cinr_leo_db": (("time", "y", "x"), 10 * np.log10(rx_sat.max(1) / (rx_bs.sum(0)[None] + noise))),
         "interference_from_sat_dbm": (("time", "y", "x"), 10 * np.log10(i_s) + 30),
         "outdoor": (("y", "x"), np.ones((ny, nx), np.uint8))},
        coords={"time": np.arange(n_slots), "y": y, "x": x},
        attrs={"cell_size_m": cell, "rx_height_m": rx, "freq_hz": freq, "noise_dbm": -94.0, "bandwidth_hz": 20e6,
               "bs_tx_power_dbm": 46.0, "load_bs_users": 1.0, "receiver_wanted_gain_db": 0.0})
    radio = xr.Dataset(
        {"path_gain_bs": (("bs", "y", "x"), g_bs), "bs_site": (("bs",), np.array([f"s{i:02d}" for i in range(n_sites)])),
         "bs_x_m": (("bs",), sx), "bs_y_m": (("bs",), sy), "bs_z_m": (("bs",), sz),
         "path_gain_sat": (("time", "rank", "y", "x"), g_sat), "sat_slant_range_m": (("time", "rank"), slant),
         "serving_sat": (("time", "rank"), np.ones((n_slots, 2), int))},
        coords={"time": np.arange(n_slots), "y": y, "x": x})
    return heat, radio, c_sat


@pytest.fixture(scope="module")
def synthetic():
    from pipeline.solvers.city_model import calibrate_city_model

    heat, radio, c_sat = synthetic_city()
    return heat, radio, c_sat, calibrate_city_model(heat, radio, n_classes=2, max_cells=8000)


def test_calibration_recovers_the_parameters_of_a_synthetic_city(synthetic):
    """8000 cells x 20 sites: the class shares, reach laws, attenuation medians, satellite no-ray shares and the
    satellites' LoS reference are recovered (tolerances: a few standard errors of the estimates)."""
    from pipeline.solvers.city_model import free_space_db

    heat, radio, c_sat, model = synthetic
    np.testing.assert_allclose(model.class_prob, TRUTH["class_prob"], atol=0.02)  # binomial s.e. 0.005
    np.testing.assert_allclose(model.reach_scale_m, TRUTH["reach_scale_m"], rtol=0.03)
    np.testing.assert_allclose(model.reach_shape, TRUTH["reach_shape"], rtol=0.05)
    info = model.to_dict()
    np.testing.assert_allclose(info["bs_attenuation_median_db"], [m for m, _ in TRUTH["bs_atten"]], atol=2.0)  # 2 dB bins
    np.testing.assert_allclose(info["sat_no_ray_prob"], [v for *_, v in TRUTH["sat_atten"]], atol=0.01)
    np.testing.assert_allclose(model.sat_ref_w[:, 0], c_sat * 10 ** (free_space_db(1.05e6, 3.5e9) / 10), rtol=1e-6)
    assert model.site_density_per_m2 * 1e6 == pytest.approx(20 / 1.6, rel=1e-9)


def test_calibrated_model_predicts_the_synthetic_city_coverage(synthetic):
    """Analysis of the calibrated model against the synthetic maps it was fitted to (one realisation of 20 sites:
    its coverage differs from the PPP average by ~0.01), every scheme and threshold."""
    heat, _, _, model = synthetic
    thr = np.arange(-20.0, 31.0, 2.5)
    cov = model.coverage(thr)
    emp = heatmap_coverage(heat, thr, np.array([1e6])).sinr_coverage_window
    for scheme in ("sc_bs", "sc_sat", "mc"):
        assert np.max(np.abs(cov[scheme] - emp.sel(scheme=scheme).values)) <= 0.02, scheme


def test_city_model_analysis_matches_its_own_monte_carlo(synthetic):
    """The analysis replaces the BS sum below the strongest site by its conditional mean; the model's own draws
    (no approximation, 60 000 samples: std. error <= 0.002) check it."""
    _, _, _, model = synthetic
    thr = np.arange(-20.0, 31.0, 5.0)
    cov = model.coverage(thr)
    sim = model.simulate(60_000, 3)
    tau = 10 ** (thr / 10)[:, None]
    mc = {"sc_bs": (sim["gamma_bs"][None] > tau).mean(1), "sc_sat": (sim["gamma_sat"][None] > tau).mean(1),
          "mc": (np.maximum(sim["gamma_bs"], sim["gamma_sat"])[None] > tau).mean(1)}
    for scheme, v in mc.items():
        assert np.max(np.abs(cov[scheme] - v)) <= 0.01, scheme


def test_latent_class_em_on_direct_link_samples():
    """EM on link outcomes drawn from two known classes (no maps): shares and reach scales come back; one class
    fits worse (BIC)."""
    from pipeline.solvers.city_model import BS_EDGES_DB, fit_latent_classes

    rng = np.random.default_rng(11)
    n, s = 6000, 10
    cls = rng.random(n) < 0.3
    d = rng.uniform(30, 1500, (n, s))
    scale = np.where(cls, 250.0, 1000.0)[:, None]
    reached = rng.random((n, s)) < np.exp(-(d / scale) ** 1.5)
    att = np.where(cls[:, None], -55.0, -20.0) + 6 * rng.standard_normal((n, s))
    b = np.clip(np.searchsorted(BS_EDGES_DB, att, side="right") - 1, 0, BS_EDGES_DB.size - 2)
    two = fit_latent_classes(d, reached, b, 2)
    one = fit_latent_classes(d, reached, b, 1)
    np.testing.assert_allclose(two["class_prob"], [0.7, 0.3], atol=0.02)
    np.testing.assert_allclose(two["reach_scale_m"], [1000.0, 250.0], rtol=0.05)
    assert two["bic"] < one["bic"]


def test_city_model_rejects_bad_inputs(synthetic):
    from pipeline.solvers.city_model import calibrate_city_model

    heat, radio, _, model = synthetic
    with pytest.raises(ValueError, match="n_classes"):
        calibrate_city_model(heat, radio, n_classes=0)
    from dataclasses import replace

    with pytest.raises(ValueError, match="class_prob"):
        replace(model, class_prob=np.array([0.5, 0.6]))


def test_city_calibration_figure(tmp_path, synthetic):
    from pipeline.solvers.coverage_plots import plot_city_calibration

    heat, _, _, model = synthetic
    thr = np.arange(-20.0, 31.0, 5.0)
    emp = heatmap_coverage(heat, thr, np.array([1e6])).sinr_coverage_window
    empirical = {s: emp.sel(scheme=s).values for s in ("sc_bs", "sc_sat", "mc")}
    out = plot_city_calibration(thr, empirical, {"two classes": model.coverage(thr, n_pos=24, n_nodes=600)},
                                tmp_path / "cal.png", "synthetic")
    assert out.stat().st_size > 10_000
