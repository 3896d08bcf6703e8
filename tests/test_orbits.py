"""Walker-delta and TLE orbits, look angles against closed-form geometry and SGP4."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest
from pyproj import Transformer

from pipeline.errors import StinError
from pipeline.orbits.constellation import (
    WalkerDelta, eci_to_ecef, gmst_rad, look_angles, select_serving, sgp4_states, slant_range_m, tle_states)
from pipeline.orbits.window import compute_orbits

EPOCH = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
SHELL = WalkerDelta(altitude_m=600e3, inclination_deg=53.0, n_planes=12, sats_per_plane=10, phasing=1)
ISS_TLE = """ISS (ZARYA)
1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927
2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537
"""


def test_walker_geometry():
    raan, u0 = SHELL.elements()
    assert len(raan) == 120
    assert np.degrees(raan[10] - raan[0]) == pytest.approx(30.0)  # 360 / P between planes
    assert np.degrees(u0[1] - u0[0]) == pytest.approx(36.0)  # 360 / S in a plane
    assert np.degrees(u0[10] - u0[0]) == pytest.approx(3.0)  # F * 360 / T phase offset
    pos, vel = SHELL.eci_states(np.array([0.0, 600.0]))
    r = np.linalg.norm(pos, axis=-1)
    assert r == pytest.approx(6_371_000.0 + 600e3)  # TR 38.811 mean Earth radius + altitude
    v = np.linalg.norm(vel, axis=-1)
    assert v == pytest.approx(math.sqrt(3.986004418e14 / (6_371_000.0 + 600e3)))  # circular speed
    z_max = np.abs(pos[..., 2]).max() / r.max()
    assert z_max <= math.sin(math.radians(53.0)) + 1e-9


def test_two_body_matches_sgp4_of_the_same_elements():
    seconds = np.arange(0, 1200, 60.0)
    pos, vel = SHELL.eci_states(seconds)
    pos2, vel2 = sgp4_states(SHELL.satrecs(EPOCH), EPOCH, seconds)
    # SGP4 adds J2 short-period terms and uses WGS-72 constants: ~10 km, never a frame error
    assert np.linalg.norm(pos - pos2, axis=-1).max() < 25e3
    assert np.linalg.norm(vel - vel2, axis=-1).max() < 30.0


@pytest.mark.parametrize("lat, lon, tolerance", [
    (0.0, 24.94, 1e-4),  # on the equator the geodetic and geocentric verticals coincide
    (60.17, 24.94, 1e-2),  # at 60 N they differ by 0.19 deg, which matters at low elevation
])
def test_slant_range_matches_tr38811_formula_and_table(lat, lon, tolerance):
    # TR 38.811 eq. 6.6-3 reference values (docs/models/farfield.md): LEO-600 at 30 deg: 1075.1 km
    assert slant_range_m(np.array(30.0), 600e3) == pytest.approx(1075.1e3, abs=100)
    assert slant_range_m(np.array(90.0), 600e3) == pytest.approx(600e3)
    seconds = np.arange(0, 600, 30.0)
    pos, vel = SHELL.eci_states(seconds)
    pe, ve = eci_to_ecef(pos, vel, gmst_rad(EPOCH, seconds))
    la = look_angles(pe, ve, lat, lon)
    ox, oy, oz = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True).transform(lon, lat, 0.0)
    r_obs = math.sqrt(ox**2 + oy**2 + oz**2)  # local geocentric radius: the formula assumes a sphere
    up = la.elevation_deg > 5
    altitude = np.linalg.norm(pe, axis=-1)[up] - r_obs
    expected = slant_range_m(la.elevation_deg[up], altitude, earth_radius_m=r_obs)
    assert up.sum() > 10
    assert np.max(np.abs(la.slant_range_m[up] / expected - 1)) < tolerance


def test_range_rate_and_doppler_sign():
    seconds = np.array([-0.1, 0.0, 0.1])
    pos, vel = SHELL.eci_states(seconds)
    pe, ve = eci_to_ecef(pos, vel, gmst_rad(EPOCH, seconds))
    la = look_angles(pe, ve, 60.17, 24.94)
    numeric = (la.slant_range_m[2] - la.slant_range_m[0]) / 0.2  # central difference
    assert np.max(np.abs(numeric - la.range_rate_m_s[1])) < 0.05  # m/s


def test_serving_set_is_the_highest_above_the_mask():
    elevation = np.array([[5.0, 40.0, 12.0, 60.0], [2.0, 3.0, 9.0, 11.0]])
    sel = select_serving(elevation, 2, 10.0)
    assert sel.tolist() == [[3, 1], [3, -1]]


def test_window_dataset(tmp_path):
    params = {"source": "walker", "walker": {"altitude_m": 600e3, "inclination_deg": 53.0, "n_planes": 72,
                                            "sats_per_plane": 22, "phasing": 1},
              "start_utc": "2026-01-01T12:00:00Z", "slot_duration_s": 10.0, "n_slots": 3,
              "min_elevation_deg": 10.0, "n_serving": 2}
    ds = compute_orbits(params, 60.17, 24.94, 3.5e9)
    assert ds.sizes == {"time": 3, "sat": 1584, "rank": 2, "enu": 3}
    s = ds.serving_sat.values
    assert (s >= 0).all()
    el = ds.elevation_deg.values
    for t in range(3):
        assert el[t, s[t, 0]] == el[t].max() and el[t, s[t, 1]] >= 10
    # Doppler = -v_r f / c
    assert float(ds.doppler_hz[0, 0]) == pytest.approx(-float(ds.range_rate_m_s[0, 0]) * 3.5e9 / 299_792_458.0)


def test_tle_file_through_sgp4(tmp_path):
    f = tmp_path / "iss.tle"
    f.write_text(ISS_TLE)
    epoch = datetime(2008, 9, 20, 12, 25, 40, tzinfo=timezone.utc)
    pos, vel, names = tle_states(f, epoch, np.array([0.0, 60.0]))
    assert names == ["ISS (ZARYA)"]
    altitude_km = (np.linalg.norm(pos, axis=-1) - 6_371e3) / 1e3
    assert np.all((altitude_km > 300) & (altitude_km < 450))
    assert np.linalg.norm(vel, axis=-1) == pytest.approx(7.7e3, rel=0.02)


def test_malformed_tle_is_a_clear_error(tmp_path):
    f = tmp_path / "bad.tle"
    f.write_text("ISS\n1 25544U garbage\n")
    with pytest.raises(StinError, match="malformed"):
        tle_states(f, EPOCH, np.array([0.0]))


def test_bad_walker_phasing():
    params = {"source": "walker", "walker": {"altitude_m": 600e3, "inclination_deg": 53.0, "n_planes": 4,
                                            "sats_per_plane": 2, "phasing": 4},
              "start_utc": "2026-01-01", "slot_duration_s": 1.0, "n_slots": 1, "min_elevation_deg": 10.0,
              "n_serving": 1}
    with pytest.raises(StinError, match="phasing"):
        compute_orbits(params, 60.0, 25.0, 3.5e9)


def test_serving_attributes_pick_the_ranked_satellites():
    import xarray as xr

    from pipeline.orbits.window import serving_attributes

    ds = xr.Dataset({"elevation_deg": (("time", "sat"), np.array([[5.0, 40.0, 60.0], [50.0, 3.0, 4.0]])),
                     "direction_enu": (("time", "sat", "enu"), np.arange(18.0).reshape(2, 3, 3)),
                     "serving_sat": (("time", "rank"), np.array([[2, 1], [0, -1]]))})
    att = serving_attributes(ds, ("elevation_deg", "direction_enu"))
    np.testing.assert_array_equal(att["elevation_deg"], [[60.0, 40.0], [50.0, np.nan]])
    assert att["direction_enu"][0, 0].tolist() == [6.0, 7.0, 8.0]
    assert np.isnan(att["direction_enu"][1, 1]).all()
