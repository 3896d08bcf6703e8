"""Link budget: noise, NTN losses and CINR against the standards' own numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from pipeline.radio.cinr import LinkParams, aperture_gain_dbi, compute_cinr
from pipeline.radio.link import (
    atmospheric_loss_db, free_space_path_gain, lin_to_db, noise_power_w, scintillation_loss_db)

LINK = {"bs_tx_power_dbm": 46.0, "sat_eirp_density_dbw_mhz": 34.0, "sat_aperture_m": 2.0,
        "sat_beam_target": "center", "bandwidth_hz": 20e6, "noise_figure_db": 7.0, "antenna_temperature_k": 290.0,
        "include_scintillation": True, "include_atmospheric": True, "path_gain_floor_db": -250.0}
UE = {"array_rows": 4, "array_cols": 4, "element_gain_dbi": 6.0, "element_3db_deg": 65.0}


@pytest.mark.parametrize("nf, t_ant, bw, expected_dbm", [
    (7, 290, 20e6, -93.96), (7, 290, 100e6, -86.98), (9, 290, 20e6, -91.96), (7, 150, 20e6, -94.40), (5, 290, 100e6, -88.98),
])
def test_noise_power_matches_standards_table(nf, t_ant, bw, expected_dbm):
    # docs/models/cinr.md, table of T_sys / N
    assert lin_to_db(noise_power_w(bw, nf, t_ant)) + 30 == pytest.approx(expected_dbm, abs=0.01)


def test_handheld_g_over_t_matches_tr38821():
    t_sys = 290 + (10 ** 0.7 - 1) * 290
    assert 0 - 10 * math.log10(t_sys) == pytest.approx(-31.62, abs=0.01)  # TR 38.821 Table 6.1.3.3-1


@pytest.mark.parametrize("elev, d_km, fspl_db", [(10, 1931.6, 169.05), (30, 1075.1, 163.96), (90, 600.0, 158.89)])
def test_free_space_loss_matches_tr38811_table(elev, d_km, fspl_db):
    # FSPL = 32.45 + 20 log10 f[GHz] + 20 log10 d[m]; 3GPP uses c = 3e8, we use the exact c
    assert -lin_to_db(free_space_path_gain(d_km * 1e3, 3.5e9)) == pytest.approx(fspl_db, abs=0.01)


def test_scintillation_and_gases():
    assert scintillation_loss_db(3.5e9) == pytest.approx(0.95, abs=0.01)
    assert scintillation_loss_db(2e9) == pytest.approx(2.20, abs=0.01)  # TR 38.821 SC9 link budget
    assert atmospheric_loss_db(3.5e9, 90.0) == pytest.approx(0.0385, abs=1e-3)
    assert atmospheric_loss_db(3.5e9, 10.0) == pytest.approx(0.22, abs=0.01)


def _toy_radiomaps(g_bs: float, g_sat: float, with_sat: bool = True) -> xr.Dataset:
    """One cell 100 m east of a BS at 30 m and a satellite at zenith (range 600 km)."""
    return xr.Dataset(
        {
            "path_gain_bs": (("bs", "y", "x"), np.full((1, 1, 1), g_bs)),
            "path_gain_sat": (("time", "rank", "y", "x"), np.full((1, 1, 1, 1), g_sat)),
            "serving_sat": (("time", "rank"), np.array([[0 if with_sat else -1]])),
            "sat_elevation_deg": (("time", "rank"), np.array([[90.0]])),
            "sat_slant_range_m": (("time", "rank"), np.array([[600e3]])),
            "sat_direction_enu": (("time", "rank", "enu"), np.array([[[0.0, 0.0, 1.0]]])),
            "outdoor": (("y", "x"), np.ones((1, 1), np.uint8)),
            "bs_x_m": (("bs",), np.array([-100.0])), "bs_y_m": (("bs",), np.array([0.0])),
            "bs_z_m": (("bs",), np.array([31.5])),
        },
        coords={"x": [0.0], "y": [0.0], "time": [np.datetime64("2026-01-01T12:00")], "bs": ["bs00-s0"],
                "lon": (("y", "x"), [[0.0]]), "lat": (("y", "x"), [[0.0]])},
        attrs={"freq_hz": 3.5e9, "rx_height_m": 1.5},
    )


def test_satellite_peak_gain_follows_its_aperture():
    # (pi D / lambda)^2: 2 m at 3.5 GHz is 37.3 dBi, 2 m at 2 GHz 32.4 dBi (TR 38.821 quotes 30 dBi there with
    # an aperture efficiency below 1)
    assert aperture_gain_dbi(2.0, 3.5e9) == pytest.approx(37.30, abs=0.01)
    assert aperture_gain_dbi(2.0, 2.0e9) == pytest.approx(32.44, abs=0.01)
    assert LinkParams.from_params(LINK, UE, 3.5e9).sat_max_gain_dbi == pytest.approx(37.30, abs=0.01)


@pytest.mark.parametrize("receiver, wanted_db", [("fixed_array", 0.0), ("steered_array", 10 * math.log10(16))])
def test_cinr_closed_form_on_one_cell(receiver, wanted_db):
    """The maps store gains with the receive pattern of every ray; CINR adds powers, the satellite
    aperture and NTN losses, and the wanted-link array gain of the steered model only."""
    g_bs, g_sat = 1e-10, 1e-16
    link = LinkParams.from_params({**LINK, "load": {"bs_users": 2, "sat_users": 4}}, {**UE, "receiver": receiver},
                                  3.5e9)
    heat = compute_cinr(_toy_radiomaps(g_bs, g_sat), link, np.array([0.0, 0.0, 0.0]))
    p_b = 10 ** ((46 - 30) / 10) / 2  # per-user power over the stated load
    g_max = aperture_gain_dbi(2.0, 3.5e9)
    p_s = 10 ** ((34 + 10 * math.log10(20) - g_max) / 10) / 4
    ntn = g_max - scintillation_loss_db(3.5e9) - atmospheric_loss_db(3.5e9, 90.0)  # boresight: G_max
    n = noise_power_w(20e6, 7.0, 290.0)
    w = 10 ** (wanted_db / 10)
    s_b, i_b = w * p_b * g_bs, p_s * g_sat * 10 ** (ntn / 10)
    s_s, i_s = w * p_s * g_sat * 10 ** (ntn / 10), p_b * g_bs
    assert float(heat.cinr_bs_db[0, 0, 0]) == pytest.approx(10 * math.log10(s_b / (i_b + n)), abs=1e-3)
    assert float(heat.cinr_leo_db[0, 0, 0]) == pytest.approx(10 * math.log10(s_s / (i_s + n)), abs=1e-3)


def test_quoted_booleans_are_refused():
    with pytest.raises(Exception, match="include_scintillation"):
        LinkParams.from_params({**LINK, "include_scintillation": "false"}, UE, 3.5e9)


def test_slot_without_satellite_is_finite_not_nan():
    link = LinkParams.from_params(LINK, UE, 3.5e9)
    rm = _toy_radiomaps(1e-10, 1e-16, with_sat=False)
    rm["serving_sat"] = (("time", "rank"), np.array([[-1]]))
    with pytest.raises(Exception, match="no serving satellite"):
        compute_cinr(rm, link, np.zeros(3))
    # two slots, the second without a satellite: CINR stays finite
    two = xr.concat([_toy_radiomaps(1e-10, 1e-16), _toy_radiomaps(1e-10, 0.0, with_sat=False)], dim="time",
                    data_vars="minimal", coords="minimal", compat="override")
    for v in ("path_gain_bs", "outdoor", "bs_x_m", "bs_y_m", "bs_z_m"):
        two[v] = _toy_radiomaps(1e-10, 1e-16)[v]
    heat = compute_cinr(two, link, np.zeros(3))
    assert np.isfinite(heat.cinr_bs_db.values).all() and np.isfinite(heat.cinr_leo_db.values).all()
    assert float(heat.cinr_leo_db[1, 0, 0]) < -100  # no satellite: the gain floor, not NaN


def test_cinr_in_blocks_of_rows_equals_one_call(monkeypatch, tmp_path):
    """The heatmaps stage reads the radio maps block of rows by block of rows (memory: one block of every
    sector's map): the CINR is the one-call CINR cell for cell, including the satellite's off-axis angle,
    which is measured from the whole map's centre, not the block's."""
    from pipeline.radio import cinr

    rng = np.random.default_rng(0)
    ny, nx, n_bs = 7, 5, 3
    rm = xr.Dataset(
        {"path_gain_bs": (("bs", "y", "x"), rng.uniform(1e-12, 1e-8, (n_bs, ny, nx))),
         "path_gain_sat": (("time", "rank", "y", "x"), rng.uniform(1e-17, 1e-15, (2, 1, ny, nx))),
         "serving_sat": (("time", "rank"), np.array([[0], [3]])),
         "sat_elevation_deg": (("time", "rank"), np.array([[60.0], [35.0]])),
         "sat_slant_range_m": (("time", "rank"), np.array([[680e3], [1050e3]])),
         "sat_direction_enu": (("time", "rank", "enu"), np.array([[[0.0, 0.5, 0.866]], [[0.57, 0.0, 0.82]]])),
         "outdoor": (("y", "x"), (rng.random((ny, nx)) > 0.2).astype(np.uint8)),
         "bs_x_m": (("bs",), [0.0, 0.0, 0.0]), "bs_y_m": (("bs",), [0.0, 0.0, 0.0]), "bs_z_m": (("bs",), [30.0] * 3)},
        coords={"x": np.arange(nx) * 400.0, "y": np.arange(ny) * 400.0,
                "time": [np.datetime64("2026-01-01T12:00"), np.datetime64("2026-01-01T12:01")],
                "bs": ["a-s0", "a-s1", "a-s2"], "lon": (("y", "x"), np.zeros((ny, nx))),
                "lat": (("y", "x"), np.zeros((ny, nx)))},
        attrs={"freq_hz": 3.5e9, "rx_height_m": 1.5})
    link = LinkParams.from_params(LINK, UE, 3.5e9)
    target = np.array([300.0, 900.0, 0.0])
    whole = compute_cinr(rm, link, target)
    rm.to_netcdf(tmp_path / "rm.nc")
    monkeypatch.setattr(cinr, "CINR_BLOCK_VALUES", 2 * n_bs * nx)  # blocks of 2 rows: 4 blocks
    with xr.open_dataset(tmp_path / "rm.nc") as lazy:
        blocked = cinr.compute_cinr_blocked(lazy, link, target)
    for v in whole.data_vars:
        np.testing.assert_allclose(blocked[v].values, whole[v].values, rtol=1e-6, err_msg=v)
    assert blocked.sizes == whole.sizes
