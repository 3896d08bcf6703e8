"""Terrain from a DEM: read in any CRS, buildings on the ground, a hill that blocks the line of sight,
and radio maps measured on the terrain surface (checked against the planar map on flat ground and
against Friis on a slope)."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from pipeline.geometry.frame import LocalFrame
from pipeline.geometry.synthcity import DEFAULT_CENTER, DEM_BASE_M, synth_dem
from pipeline.geometry.terrain import Terrain

HILL_M, SIGMA_M, SLOPE = 40.0, 40.0, 0.03


def _z(x, y, slope=SLOPE, hill=HILL_M):
    return DEM_BASE_M + slope * x + hill * np.exp(-(x**2 + y**2) / (2 * SIGMA_M**2))


@pytest.fixture()
def hill_dem(tmp_path):
    path = tmp_path / "dem.tif"  # written in UTM 32N, read in the city's transverse-Mercator frame
    synth_dem(path, center=DEFAULT_CENTER, side_m=400.0, slope=SLOPE, hill_height_m=HILL_M, hill_sigma_m=SIGMA_M)
    return path


def _terrain(path, half=350.0, cell=5.0):
    return Terrain.from_dem(path, LocalFrame(*DEFAULT_CENTER), (-half, -half, half, half), cell)


def test_dem_in_another_crs_reads_back_in_the_local_frame(hill_dem):
    terrain = _terrain(hill_dem)
    assert terrain.datum_m == pytest.approx(_z(0.0, 0.0), abs=0.3)  # the centre's elevation is z = 0
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-300, 300, 200), rng.uniform(-300, 300, 200)
    expected = _z(x, y) - _z(0.0, 0.0)
    # two bilinear resamplings (5 m DEM posts, 5 m grid) of a hill with curvature <= H / sigma^2 = 0.025 /m
    assert np.max(np.abs(terrain.height_at(x, y) - expected)) < 0.6


def test_flat_dem_is_flat_ground(tmp_path):
    path = tmp_path / "flat.tif"
    synth_dem(path, center=DEFAULT_CENTER, side_m=400.0)
    terrain = _terrain(path)
    assert terrain.datum_m == pytest.approx(DEM_BASE_M, abs=1e-3) and np.abs(terrain.z_m).max() < 1e-3


def test_dem_that_misses_the_area_is_one_clear_error(hill_dem):
    from pipeline.errors import StinError

    with pytest.raises(StinError, match="does not cover the area"):
        _terrain(hill_dem, half=2000.0)


def _scene(tmp_path, terrain, volumes=None):
    from pipeline.geometry.scene import MaterialTable, write_scene
    from pipeline.radio.tracing import load_rt_scene

    if volumes is None:
        volumes = gpd.GeoDataFrame({"facade_material": [], "building_material": [], "building": [],
                                    "min_height_m": [], "height_m": [], "ground_z_m": []}, geometry=[])
    table = MaterialTable(default="concrete", by_building_material={}, by_building_type={},
                          ground="medium_dry_ground", thickness_m=0.2)
    out = tmp_path / "scene"
    stats = write_scene(out, volumes, table, (-300, -300, 300, 300), 20.0, {}, terrain=terrain)
    return load_rt_scene(out / "scene.xml", 3.5e9), stats


def test_the_hill_blocks_the_line_of_sight_and_the_slope_does_not(tmp_path, hill_dem):
    """A BS mast 10 m above the ground west of the hill and a car 1.5 m above the ground east of it:
    the terrain mesh blocks the ray exactly when the straight line passes under the hill's surface."""
    from pipeline.radio.direct import Penetration, wall_loss_db

    pen = Penetration(True, 4, {"concrete": 19.0})
    for hill, blocked in ((HILL_M, True), (0.0, False)):
        dem = tmp_path / f"dem{hill:g}.tif"
        synth_dem(dem, center=DEFAULT_CENTER, side_m=400.0, slope=SLOPE, hill_height_m=hill, hill_sigma_m=SIGMA_M)
        terrain = _terrain(dem)
        scene, _ = _scene(tmp_path / f"s{hill:g}", terrain)
        bs = np.array([-150.0, 0.0, float(terrain.height_at(np.array(-150.0), np.array(0.0))) + 10.0])
        car = np.array([150.0, 0.0, float(terrain.height_at(np.array(150.0), np.array(0.0))) + 1.5])
        # geometry: the line's height over the hill top vs the ground there
        line_at_top = bs[2] + (car[2] - bs[2]) * 0.5
        assert bool(line_at_top < float(terrain.height_at(np.array(0.0), np.array(0.0)))) is blocked
        d = car - bs
        loss = wall_loss_db(scene, bs[None], (d / np.linalg.norm(d))[None], np.array([np.linalg.norm(d) - 0.01]), pen)
        assert bool(math.isinf(loss[0])) is blocked  # the ground is opaque (no TR 38.901 loss for it)


def test_buildings_stand_on_the_lowest_ground_under_them(tmp_path, hill_dem):
    terrain = _terrain(hill_dem)
    fp = box(100, -10, 120, 10)
    base = terrain.footprint_base(fp)
    corners = terrain.height_at(np.array([100.0, 120.0, 120.0, 100.0]), np.array([-10.0, -10.0, 10.0, 10.0]))
    assert base == pytest.approx(corners.min(), abs=1e-6)
    volumes = gpd.GeoDataFrame({"facade_material": [None], "building_material": [None], "building": ["yes"],
                                "min_height_m": [0.0], "height_m": [12.0], "ground_z_m": [base],
                                "building_id": ["way/1"]}, geometry=[fp])
    scene, stats = _scene(tmp_path, terrain, volumes)
    b = scene.objects["buildings-concrete"].mi_mesh.bbox()
    assert float(b.min.z) == pytest.approx(base, abs=1e-3) and float(b.max.z) == pytest.approx(base + 12.0, abs=1e-3)
    assert stats["n_triangles"] > 1000  # the ground is the DEM's surface, not two triangles


def test_radio_map_on_flat_terrain_equals_the_planar_map(tmp_path):
    """The mesh measurement surface (two triangles per cell) gives the planar map's cells back, in the
    same order, on flat ground: an off-centre transmitter makes any mix-up of cells visible."""
    import mitsuba as mi

    from pipeline.radio.tracing import MapGrid, clear_devices, solve_radio_map
    from pipeline.runtime import import_sionna_rt

    rt = import_sionna_rt()
    flat = tmp_path / "flat.tif"
    synth_dem(flat, center=DEFAULT_CENTER, side_m=400.0)
    terrain = _terrain(flat)
    scene, _ = _scene(tmp_path, terrain)
    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    scene.rx_array = scene.tx_array
    scene.add(rt.Transmitter("tx", position=mi.Point3f(-60.0, 35.0, 20.0)))
    grid = MapGrid.covering((-150, -100, 150, 100), 10.0, 1.5)
    planar = solve_radio_map(rt.RadioMapSolver(), scene, grid, 4_000_000, max_depth=0, diffraction=False, seed=1)[0]
    on_ground = solve_radio_map(rt.RadioMapSolver(), scene, grid.on_terrain(terrain), 4_000_000, max_depth=0,
                                diffraction=False, seed=1)[0]
    clear_devices(scene)
    both = (planar > 0) & (on_ground > 0)
    assert both.mean() > 0.99
    err = 10 * np.log10(on_ground[both] / planar[both])
    assert np.median(np.abs(err)) < 0.3 and abs(np.mean(err)) < 0.1


def test_radio_map_on_a_slope_follows_friis_at_each_cells_height(tmp_path):
    """On a tilted plane (no hill) the map's cells sit 1.5 m above the slope: line-of-sight gains
    follow Friis at those 3-D distances (the planar map at z = 1.5 would be off by metres uphill)."""
    import mitsuba as mi

    from pipeline.radio.link import free_space_path_gain
    from pipeline.radio.tracing import MapGrid, clear_devices, solve_radio_map
    from pipeline.runtime import import_sionna_rt

    rt = import_sionna_rt()
    dem = tmp_path / "slope.tif"
    synth_dem(dem, center=DEFAULT_CENTER, side_m=400.0, slope=0.15)
    terrain = _terrain(dem)
    scene, _ = _scene(tmp_path, terrain)
    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    scene.rx_array = scene.tx_array
    tx = np.array([0.0, 0.0, 30.0])
    scene.add(rt.Transmitter("tx", position=mi.Point3f(*(float(v) for v in tx))))
    grid = MapGrid.covering((-150, -150, 150, 150), 10.0, 1.5).on_terrain(terrain)
    gain = solve_radio_map(rt.RadioMapSolver(), scene, grid, 4_000_000, max_depth=0, diffraction=False, seed=1)[0]
    clear_devices(scene)
    centers = grid.centers
    ref = free_space_path_gain(np.linalg.norm(centers - tx, axis=-1), 3.5e9)
    ok = gain > 0
    assert ok.mean() > 0.95
    err = 10 * np.log10(gain[ok] / ref[ok])
    assert np.median(np.abs(err)) < 0.3
