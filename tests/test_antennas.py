"""Antenna patterns against their closed forms at known angles, and the same patterns
evaluated by Sionna RT from its registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import j1

from pipeline.radio.antennas import (
    bessel_3db_beamwidth_deg, bessel_gain_db, f1336_sectoral_gain_db, f1336_theta_3db_deg, pattern_gain_db,
    tr38901_element_gain_db, ura_array_gain_db)

DEG = math.pi / 180


def test_tr38901_element_known_angles():
    # boresight 8 dBi; half the 65 deg beamwidth off axis: -3 dB; A_max floor 30 dB
    assert tr38901_element_gain_db(90 * DEG, 0) == pytest.approx(8.0)
    assert tr38901_element_gain_db(90 * DEG, 32.5 * DEG) == pytest.approx(5.0)
    assert tr38901_element_gain_db((90 + 32.5) * DEG, 0) == pytest.approx(5.0)
    assert tr38901_element_gain_db(90 * DEG, 180 * DEG) == pytest.approx(8.0 - 30.0)
    assert tr38901_element_gain_db(0.0, 0.0) == pytest.approx(8.0 - 12 * (90 / 65) ** 2)  # zenith
    assert tr38901_element_gain_db(0.0, 180 * DEG) == pytest.approx(8.0 - 30.0)  # A_max caps the sum


def test_bessel_pattern_known_points():
    # TR 38.821 LEO-600 S-band: 2 m aperture at 2 GHz has a 4.4127 deg 3 dB beamwidth
    bw = bessel_3db_beamwidth_deg(2.0, 2e9)
    assert bw == pytest.approx(4.4127, rel=3e-3)
    assert bessel_gain_db(0.0, aperture_diameter_m=2.0, freq_hz=2e9, g_max_dbi=30.0) == pytest.approx(30.0)
    assert bessel_gain_db(bw / 2 * DEG, aperture_diameter_m=2.0, freq_hz=2e9, g_max_dbi=30.0) == pytest.approx(27.0, abs=0.02)
    # first side lobe of the Airy pattern: x = 5.1356, 4 (J1(x)/x)^2 = -17.57 dB
    ka = 2 * math.pi * 2e9 / 299_792_458.0 * 1.0
    theta = math.asin(5.1356 / ka)
    assert bessel_gain_db(theta, aperture_diameter_m=2.0, freq_hz=2e9, g_max_dbi=0.0) == pytest.approx(-17.57, abs=0.01)
    assert bessel_gain_db(100 * DEG, aperture_diameter_m=2.0, freq_hz=2e9, g_max_dbi=30.0) == pytest.approx(-70.0)


def test_f1336_known_angles():
    g0, phi3 = 16.0, 65.0
    th3 = f1336_theta_3db_deg(g0, phi3)
    assert th3 == pytest.approx(31000 * 10 ** (-1.6) / 65)
    assert f1336_sectoral_gain_db(0, 0, g0_dbi=g0, phi_3db_deg=phi3) == pytest.approx(g0)
    assert f1336_sectoral_gain_db(phi3 / 2, 0, g0_dbi=g0, phi_3db_deg=phi3) == pytest.approx(g0 - 3.0)
    assert f1336_sectoral_gain_db(0, th3 / 2, g0_dbi=g0, phi_3db_deg=phi3) == pytest.approx(g0 - 3.0)
    # straight behind the antenna R = 0: the gain is G0 + G180 whatever the elevation
    g180 = -12 + 10 * math.log10(1 + 8 * 0.7) - 15 * math.log10(180 / th3)
    for el in (0.0, 10.0, 45.0):
        assert f1336_sectoral_gain_db(180, el, g0_dbi=g0, phi_3db_deg=phi3) == pytest.approx(g0 + g180)


def test_array_gain_peak_and_null():
    assert ura_array_gain_db(90 * DEG, 0.0, rows=4, cols=4, vertical_spacing_wl=0.5,
                             horizontal_spacing_wl=0.5) == pytest.approx(10 * math.log10(16))
    # 4 columns at lambda/2: first azimuth null where sin(phi) = 2 / 4
    null = ura_array_gain_db(90 * DEG, math.asin(0.5), rows=1, cols=4, vertical_spacing_wl=0.5, horizontal_spacing_wl=0.5)
    assert null < -100


@pytest.mark.parametrize("name, kwargs, reference", [
    ("stin_element", {}, lambda t, p: tr38901_element_gain_db(t, p)),
    ("stin_element", {"g_max_dbi": 6.0, "theta_3db_deg": 80.0, "phi_3db_deg": 70.0},
     lambda t, p: tr38901_element_gain_db(t, p, g_max_dbi=6.0, theta_3db_deg=80.0, phi_3db_deg=70.0)),
    ("stin_f1336", {"g0_dbi": 16.0, "phi_3db_deg": 65.0},
     lambda t, p: f1336_sectoral_gain_db(np.degrees(p), 90 - np.degrees(t), g0_dbi=16.0, phi_3db_deg=65.0)),
    ("stin_f1336", {"g0_dbi": 16.0, "phi_3db_deg": 65.0, "sidelobes": "average", "electrical_tilt_deg": 3.0},
     lambda t, p: f1336_sectoral_gain_db(np.degrees(p), 90 - np.degrees(t), g0_dbi=16.0, phi_3db_deg=65.0,
                                         sidelobes="average", electrical_tilt_deg=3.0)),
    ("stin_patch", {"g_max_dbi": 6.0, "theta_3db_deg": 65.0},
     lambda t, p: 6.0 - np.minimum(12 * (np.degrees(np.arccos(np.sin(t) * np.cos(p))) / 65.0) ** 2, 30.0)),
    ("stin_bessel", {"aperture_diameter_m": 2.0, "freq_hz": 3.5e9, "g_max_dbi": 30.0},
     lambda t, p: bessel_gain_db(np.arccos(np.sin(t) * np.cos(p)), aperture_diameter_m=2.0, freq_hz=3.5e9, g_max_dbi=30.0)),
])
def test_registered_sionna_patterns_match_closed_forms(name, kwargs, reference):
    rng = np.random.default_rng(7)
    theta = rng.uniform(0.01, math.pi - 0.01, 400)
    phi = rng.uniform(-math.pi, math.pi, 400)
    if name == "stin_bessel":  # resolve the main lobe and the first side lobes
        theta = np.concatenate([theta, math.pi / 2 + rng.uniform(-0.15, 0.15, 400)])
        phi = np.concatenate([phi, rng.uniform(-0.15, 0.15, 400)])
    got = pattern_gain_db(name, theta, phi, **kwargs)
    want = reference(theta, phi)
    peak = want.max()
    main = want > peak - 25  # in dB where float32 resolves it; near nulls compare linear power
    assert np.max(np.abs(got[main] - want[main])) < 2e-3
    assert np.max(np.abs(10 ** (got / 10) - 10 ** (want / 10))) < 1e-5 * 10 ** (peak / 10)


def test_drjit_bessel_j1_matches_scipy():
    import drjit as dr  # noqa: F401
    import mitsuba as mi

    from pipeline.radio.antennas import _j1_drjit
    from pipeline.runtime import import_sionna_rt

    import_sionna_rt()
    x = np.linspace(0, 40, 2001)
    got = np.asarray(_j1_drjit(mi.Float(x.astype(np.float32))).numpy())
    assert np.max(np.abs(got - j1(x))) < 1e-6


@pytest.mark.slow
def test_sector_antenna_orientation_in_sionna_matches_closed_form():
    """A tilted, rotated F.1336 sector in an empty scene: radio map = Friis x closed-form gain."""

    from pipeline.radio.link import free_space_path_gain, lin_to_db
    from pipeline.radio.tracing import BsConfig, MapGrid, trace_bs_maps
    from pipeline.runtime import import_sionna_rt

    rt = import_sionna_rt()
    scene = rt.load_scene()
    scene.frequency = 3.5e9
    bs = BsConfig(sector_bearings_deg=(60.0,), mechanical_downtilt_deg=10.0, electrical_downtilt_deg=0.0,
                  pattern="f1336", array_rows=1,
                  array_cols=1, vertical_spacing_wl=0.5, horizontal_spacing_wl=0.5,
                  pattern_kwargs={"g0_dbi": 16.0, "phi_3db_deg": 65.0})
    grid = MapGrid.covering((-300, -300, 300, 300), 10.0, 1.5)
    gain, names = trace_bs_maps(scene, [("bs", 0.0, 0.0, 30.0)], bs, grid, samples_per_tx=4_000_000,
                                max_depth=0, diffraction=False, seed=1)
    assert names == ["bs-s0"]
    d = grid.centers - np.array([0, 0, 30.0])
    dist = np.linalg.norm(d, axis=-1)
    u = d / dist[..., None]
    yaw, pitch, _ = bs.orientation(60.0)
    rz = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    ry = np.array([[math.cos(pitch), 0, math.sin(pitch)], [0, 1, 0], [-math.sin(pitch), 0, math.cos(pitch)]])
    local = u @ (rz @ ry)  # R^T u for R = Rz Ry
    az = np.degrees(np.arctan2(local[..., 1], local[..., 0]))
    el = np.degrees(np.arcsin(np.clip(local[..., 2], -1, 1)))
    expected = lin_to_db(free_space_path_gain(dist, 3.5e9)) + f1336_sectoral_gain_db(az, el, g0_dbi=16.0, phi_3db_deg=65.0)
    got = lin_to_db(gain[0])
    lit = dist > 50
    err = got[lit] - expected[lit]
    assert np.median(np.abs(err)) < 0.3
    # the beam points north-east and down: the strongest cell lies in that quadrant
    iy, ix = np.unravel_index(np.argmax(gain[0] * (dist > 50)), grid.shape)
    assert grid.x_m[ix] > 0 and grid.y_m[iy] > 0


def test_f1336_average_side_lobes():
    """Recommends 3.1.2: G180 = -15 + 10 log10(1 + 8 k_a) - 15 log10(180 / theta_3), 3 dB below 3.1.1's."""
    from pipeline.radio.antennas import f1336_theta_3db_deg

    kw = dict(g0_dbi=16.0, phi_3db_deg=65.0)
    th3 = f1336_theta_3db_deg(16.0, 65.0)
    g180_avg = -15 + 10 * math.log10(1 + 8 * 0.7) - 15 * math.log10(180 / th3)
    back_avg = f1336_sectoral_gain_db(180.0, 0.0, sidelobes="average", **kw)
    back_peak = f1336_sectoral_gain_db(180.0, 0.0, **kw)
    assert back_avg == pytest.approx(16.0 + g180_avg, abs=1e-9)
    assert back_peak - back_avg == pytest.approx(3.0, abs=1e-9)
    # the main beam is the same; the far elevation side lobes drop by 3 dB as well (-lambda_kv - 3 - C log10 x)
    assert f1336_sectoral_gain_db(0.0, 0.0, sidelobes="average", **kw) == pytest.approx(16.0)
    x_far = 60.0  # deg above the horizon: 4 <= x_v < 90 / theta_3
    assert (f1336_sectoral_gain_db(0.0, x_far, **kw) - f1336_sectoral_gain_db(0.0, x_far, sidelobes="average", **kw)
            == pytest.approx(3.0, abs=1e-9))


def test_f1336_electrical_tilt_moves_the_beam_down():
    kw = dict(g0_dbi=16.0, phi_3db_deg=65.0)
    tilted = f1336_sectoral_gain_db(0.0, np.array([-8.0, 0.0, 90.0, -90.0]), electrical_tilt_deg=8.0, **kw)
    assert tilted[0] == pytest.approx(16.0)  # the peak is now 8 deg below the horizon
    assert tilted[1] < 16.0 - 3.0  # the horizon lies outside the 3 dB beam (theta_3 = 11.9 deg)
    # the zenith and nadir stay where they were
    untilted = f1336_sectoral_gain_db(0.0, np.array([90.0, -90.0]), **kw)
    assert tilted[2:] == pytest.approx(untilted)
    got = pattern_gain_db("stin_f1336", np.radians(90 - np.array([-8.0, 0.0, 20.0])), np.zeros(3),
                          electrical_tilt_deg=8.0, **kw)
    want = f1336_sectoral_gain_db(0.0, np.array([-8.0, 0.0, 20.0]), electrical_tilt_deg=8.0, **kw)
    assert got == pytest.approx(want, abs=1e-3)


@pytest.mark.slow
def test_panel_electrical_tilt_steers_the_radio_map_beam():
    """An 8-row tr38901 panel tilted 10 deg electrically: Sionna's map peaks where the array factor says."""
    from pipeline.radio.link import free_space_path_gain, lin_to_db
    from pipeline.radio.tracing import BsConfig, MapGrid, trace_bs_maps
    from pipeline.runtime import import_sionna_rt

    rt = import_sionna_rt()
    scene = rt.load_scene()
    scene.frequency = 3.5e9
    bs = BsConfig(sector_bearings_deg=(90.0,), mechanical_downtilt_deg=0.0, electrical_downtilt_deg=10.0,
                  pattern="tr38901", array_rows=8, array_cols=1, vertical_spacing_wl=0.5, horizontal_spacing_wl=0.5,
                  pattern_kwargs={"g_max_dbi": 8.0})
    grid = MapGrid.covering((0, -2, 1000, 2), 4.0, 1.5)  # a line of cells due east (the boresight)
    gain, _ = trace_bs_maps(scene, [("bs", 0.0, 0.0, 40.0)], bs, grid, samples_per_tx=20_000_000,
                            max_depth=0, diffraction=False, seed=2)
    x = grid.x_m
    dist = np.hypot(x, 38.5)
    depression = np.arctan2(38.5, x)  # below the horizon
    theta = math.pi / 2 + depression  # zenith angle in the panel frame
    expected = (lin_to_db(free_space_path_gain(dist, 3.5e9)) + tr38901_element_gain_db(theta, 0.0)
                + ura_array_gain_db(theta, 0.0, rows=8, cols=1, vertical_spacing_wl=0.5, horizontal_spacing_wl=0.5,
                                    steer_theta=math.radians(100.0)))
    got = lin_to_db(gain[0].mean(axis=0))
    lit = (x > 60) & np.isfinite(got) & (expected > expected.max() - 20)
    assert np.median(np.abs(got[lit] - expected[lit])) < 0.5
