"""The far-field satellite source: hook, weights, plane-wave accuracy, efficiency, buildings."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest

from pipeline.errors import StinError
from pipeline.radio import farfield
from pipeline.radio.farfield import LaunchArea, check_hooks, proxy_position, ray_efficiency, solid_angle_check
from pipeline.radio.fidelity import _ground_scene, direction_enu, fresnel_vertical, los_mask, p2040_permittivity
from pipeline.radio.link import free_space_path_gain, lin_to_db
from pipeline.radio.tracing import MapGrid, load_rt_scene, trace_satellite_maps


def test_hook_is_present_in_the_pinned_sionna():
    check_hooks()


def test_hook_check_fails_loudly_when_sionna_changes(monkeypatch):
    monkeypatch.delattr(farfield._RM_MODULE, "spawn_ray_from_sources")
    with pytest.raises(RuntimeError, match="far-field hook broken"):
        check_hooks()


def test_ray_solid_angles_add_up_to_the_rectangle():
    # rectangle a x b seen from distance d on its axis: 4 asin(ab / sqrt((a^2 + 4d^2)(b^2 + 4d^2)))
    a, b, d = 800.0, 1200.0, 5000.0
    area = LaunchArea(-a / 2, -b / 2, a / 2, b / 2, 0.0)
    expected = 4 * math.asin(a * b / math.sqrt((a * a + 4 * d * d) * (b * b + 4 * d * d)))
    assert solid_angle_check(area, np.array([0.0, 0.0, d]), 1_000_000) == pytest.approx(expected, rel=1e-4)


def test_plane_wave_over_ground_matches_free_space_plus_fresnel():
    """Ground only: LoS + ground reflection of a satellite at 40 deg (incoherent, as radio maps sum)."""
    freq = 3.5e9
    scene = _ground_scene(freq, 400.0, "medium_dry_ground")
    grid = MapGrid.covering((-200, -200, 200, 200), 10.0, 1.5)
    el, slant = 40.0, 882.3e3
    d = direction_enu(el, 200.0)
    gain = trace_satellite_maps(scene, d[None], np.array([slant]), grid, samples=2_000_000, max_depth=1,
                                diffraction=False, seed=3, proxy_distance_m=50e3, launch_margin_m=20.0)[0]
    sat = np.array([0.0, 0.0, 0.0]) + slant * d
    r = np.linalg.norm(grid.centers - sat, axis=-1)
    gamma = fresnel_vertical(np.radians(el), p2040_permittivity(freq))
    ref = free_space_path_gain(r, freq) * (1 + abs(gamma) ** 2)
    err = lin_to_db(gain) - lin_to_db(ref)
    assert np.median(np.abs(err)) < 0.5
    assert abs(np.mean(err)) < 0.2
    # and its rays land where they are aimed (the share is the map / launch-area ratio here)
    launch = LaunchArea(*grid.bounds, 1.5).grown(5.0)
    eff, naive = ray_efficiency(scene, proxy_position(d, (0.0, 0.0), 50e3), launch, grid.bounds, 200_000)
    assert eff >= 0.9 and naive < 1e-3


def test_satellite_below_the_horizon_is_refused():
    scene = _ground_scene(3.5e9, 100.0, "medium_dry_ground")
    grid = MapGrid.covering((-50, -50, 50, 50), 10.0, 1.5)
    with pytest.raises(StinError, match="below the horizon"):
        trace_satellite_maps(scene, np.array([[0.0, 0.7, -0.7]]), np.array([1e6]), grid, samples=1000,
                             max_depth=0, diffraction=False, seed=1, proxy_distance_m=50e3, launch_margin_m=0.0)


@pytest.mark.slow
def test_buildings_shadow_the_satellite_in_helsinki(helsinki):
    """No silent fallback to free space: NLoS street cells are far below it, LoS cells match it."""
    from pipeline.stages.radiomaps import outdoor_mask

    scene = load_rt_scene(helsinki.scene_xml, 3.5e9)
    buildings = gpd.read_file(helsinki.buildings_local)
    grid = MapGrid.covering((-300, -300, 300, 300), 5.0, 1.5)
    el, slant = 30.0, 1075.1e3
    d = direction_enu(el, 170.0)
    gain = trace_satellite_maps(scene, d[None], np.array([slant]), grid, samples=2_000_000, max_depth=3,
                                diffraction=True, seed=5, proxy_distance_m=50e3, launch_margin_m=20.0)[0]
    outdoor = outdoor_mask(grid, buildings.geometry)
    los = los_mask(scene, grid.centers, d)
    fs = free_space_path_gain(np.linalg.norm(grid.centers - slant * d, axis=-1), 3.5e9)
    rel = lin_to_db(gain) - lin_to_db(fs)
    nlos_street = outdoor & ~los
    assert nlos_street.mean() > 0.1
    assert np.median(rel[nlos_street]) < -10  # shadowed by buildings
    assert (gain[nlos_street] > 0).mean() > 0.5  # yet reached by reflections / diffraction
    assert np.median(np.abs(rel[outdoor & los])) < 1.5  # LoS plus a weak ground reflection


def test_same_seed_same_map():
    scene = _ground_scene(3.5e9, 120.0, "medium_dry_ground")
    grid = MapGrid.covering((-60, -60, 60, 60), 10.0, 1.5)
    d = direction_enu(35.0, 80.0)

    def run(seed):
        return trace_satellite_maps(scene, d[None], np.array([1e6]), grid, samples=200_000, max_depth=1,
                                    diffraction=False, seed=seed, proxy_distance_m=50e3, launch_margin_m=5.0)

    first = run(7)
    assert (first > 0).any()
    # the same rays every time; only the order of Dr.Jit's parallel float32 scatter-adds may vary
    np.testing.assert_allclose(first, run(7), rtol=1e-5, atol=0)


def test_launch_area_grows_on_the_far_side_by_the_shadow_of_the_tallest_wall():
    """Satellite to the east at 30 deg: rays toward the top of a 50 m wall at the west edge cross the
    1.5 m plane (50 - 1.5) / tan(30 deg) = 84.0 m further west; the other sides stay."""
    area = LaunchArea(-100.0, -200.0, 100.0, 200.0, 1.5)
    el = math.radians(30.0)
    grown = area.covering_facades(np.array([math.cos(el), 0.0, math.sin(el)]), 50.0)
    assert grown.x_min_m == pytest.approx(-100.0 - 48.5 / math.tan(el))
    assert (grown.x_max_m, grown.y_min_m, grown.y_max_m) == pytest.approx((100.0, -200.0, 200.0))
    # toward the north-east: both far sides grow by their share; a zenith satellite needs nothing
    ne = area.covering_facades(np.array([0.5, 0.5, math.sqrt(0.5)]), 50.0)
    share = 48.5 * 0.5 / math.sqrt(0.5)  # tan(45 deg) = 1: 48.5 m along the horizontal, split east / north
    assert ne.x_min_m == pytest.approx(-100.0 - share) and ne.y_min_m == pytest.approx(-200.0 - share)
    assert area.covering_facades(np.array([0.0, 0.0, 1.0]), 50.0) == area
