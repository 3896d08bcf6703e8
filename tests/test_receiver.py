"""The car's receiver: one model, its Sionna twin, the radio-map hook and the direct ray."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from pipeline.radio.receiver import ReceiverModel

RX = ReceiverModel()  # params.yaml defaults: fixed 4 x 4 array, 6 dBi, 65 deg element


def _enu(elevation_deg, azimuth_deg):
    e, a = np.radians(elevation_deg), np.radians(azimuth_deg)
    return np.stack(np.broadcast_arrays(np.cos(e) * np.sin(a), np.cos(e) * np.cos(a), np.sin(e)), axis=-1)


def test_element_is_rotationally_symmetric_at_every_elevation():
    az = np.arange(0.0, 360.0, 1.0)
    for el in range(5, 90, 5):
        g = RX.element_gain_db(_enu(el, az))
        assert g.max() - g.min() < 1e-9
    # the TR 38.901 vertical cut about the zenith: G_max - 12 (alpha / 65)^2
    assert RX.element_gain_db(_enu(5.0, 75.0)) == pytest.approx(6.0 - 12 * (85 / 65) ** 2)
    assert RX.element_gain_db(_enu(90.0, 0.0)) == pytest.approx(6.0)


def test_sionna_patch_pattern_is_the_receiver_element():
    from pipeline.radio.fidelity import ue_element_azimuth_spread_db

    spread = ue_element_azimuth_spread_db(RX)
    assert spread["sionna_pattern"] < 0.01
    assert spread["sionna_vs_model_max_abs_db"] < 0.01


def test_fixed_array_peak_and_sphere_average():
    assert RX.array_factor_db(_enu(90.0, 0.0)) == pytest.approx(10 * math.log10(16))
    # sphere average of |AF|^2 / N (numerical quadrature) = (1/N) sum_mn sinc(k |r_m - r_n|) (analytic)
    n = 2_000_000  # Fibonacci lattice: equal-area points on the sphere
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    u = np.stack([np.sqrt(1 - z * z) * np.cos(np.pi * (1 + 5**0.5) * i), np.sqrt(1 - z * z) * np.sin(np.pi * (1 + 5**0.5) * i), z], -1)
    r = 0.5 * np.array([(i, j) for i in range(4) for j in range(4)], float)  # positions in wavelengths
    kd = 2 * np.pi * np.linalg.norm(r[:, None] - r[None], axis=-1)
    analytic = np.where(kd > 0, np.sin(kd) / np.where(kd > 0, kd, 1.0), 1.0).sum() / 16
    assert np.mean(10 ** (RX.array_factor_db(u) / 10)) == pytest.approx(analytic, rel=1e-4)
    # nulls of a 4-element line at u = 0.5 (d = lambda / 2)
    assert RX.array_factor_db(np.array([0.5, 0.0, math.sqrt(0.75)])) < -100


def test_steered_model_puts_the_array_gain_on_the_wanted_link_only():
    steered = ReceiverModel(mode="steered_array")
    up = _enu(60.0, 10.0)
    assert steered.ray_gain_db(up) == pytest.approx(steered.element_gain_db(up))
    assert steered.wanted_gain_db == pytest.approx(10 * math.log10(16))
    assert RX.wanted_gain_db == 0.0


def test_drjit_gain_matches_numpy():
    import mitsuba as mi

    from pipeline.runtime import import_sionna_rt

    import_sionna_rt()
    u = _enu(np.linspace(2, 88, 50)[:, None], np.linspace(0, 350, 36)[None]).reshape(-1, 3)
    for model in (RX, ReceiverModel(mode="steered_array")):
        got = np.asarray(model.drjit_ray_gain(mi.Vector3f(*(u[:, k].astype(np.float32) for k in range(3)))).numpy())
        want = model.ray_gain(u)
        assert np.max(np.abs(10 * np.log10(got) - 10 * np.log10(want))) < 1e-3


def test_receiver_hook_is_checked(monkeypatch):
    from sionna.rt.radio_map_solvers.planar_radio_map import PlanarRadioMap

    from pipeline.radio.mapsolver import check_receiver_hook

    check_receiver_hook()

    def add_paths(self, fields, weights, si, k, active):  # noqa: ANN001, ANN202
        return None

    monkeypatch.setattr(PlanarRadioMap, "add_paths", add_paths)
    with pytest.raises(RuntimeError, match="receive-pattern hook broken"):
        check_receiver_hook()


def _box_scene(tmp_path, height_m=20.0):
    from pipeline.geometry.frame import LocalFrame
    from pipeline.geometry.scene import MaterialTable, write_scene
    from pipeline.radio.tracing import load_rt_scene

    frame = LocalFrame(60.0, 25.0)
    volumes = gpd.GeoDataFrame([dict(volume_id=0, building_id="way/1", building="yes", building_material=None,
                                     facade_material=None, height_m=height_m, min_height_m=0.0,
                                     geometry=box(40, -10, 60, 10))], geometry="geometry", crs=frame.crs)
    table = MaterialTable(default="concrete", by_building_material={}, by_building_type={}, ground="medium_dry_ground",
                          thickness_m=0.2)
    write_scene(tmp_path, volumes, table, (-200.0, -200.0, 200.0, 200.0), 10.0, {"frame": frame.to_dict()})
    return load_rt_scene(tmp_path / "scene.xml", 3.5e9)


def test_wall_loss_counts_walls_and_leaves_its_inputs_alone(tmp_path):
    from pipeline.radio.direct import Penetration, direct_gain, wall_loss_db

    scene = _box_scene(tmp_path)
    pen = Penetration.from_params({"enabled": True, "max_walls": 4, "tr38901_a_b_db": {"concrete": [5.0, 4.0]}}, 3.5e9)
    assert pen.loss_db_by_material["concrete"] == pytest.approx(19.0)  # TR 38.901: 5 + 4 f[GHz]
    pts = np.array([[0.0, 0.0, 1.5], [0.0, 50.0, 1.5], [0.0, 0.0, 1.5]])
    before = pts.copy()
    east = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    loss = wall_loss_db(scene, pts, east, np.array([100.0, 100.0, 100.0]), pen)
    assert loss == pytest.approx([38.0, 0.0, 0.0])  # in and out of the box; beside it; straight up
    assert np.array_equal(pts, before)
    # a segment that ends inside the box crosses one wall; with penetration off nothing gets through
    assert wall_loss_db(scene, pts[:1], east[:1], np.array([50.0]), pen) == pytest.approx([19.0])
    assert np.isinf(wall_loss_db(scene, pts[:1], east[:1], None, Penetration.off())[0])
    # direct gain: Friis x 10^(-38/10) behind the box
    from pipeline.radio.link import free_space_path_gain

    g, u, _ = direct_gain(scene, pts[:1], np.array([100.0, 0.0, 1.5]), None, 3.5e9, pen)
    assert g[0] == pytest.approx(free_space_path_gain(100.0, 3.5e9) * 10 ** (-3.8), rel=1e-6)
    assert u[0] == pytest.approx([1.0, 0.0, 0.0])


@pytest.mark.slow
def test_map_with_receiver_hook_matches_friis_times_both_patterns():
    """Empty scene, tilted sector, the car's fixed array: Sionna's Monte Carlo map through the hook
    vs the exact direct ray (NumPy BS pattern x Friis x receiver pattern)."""
    from pipeline.radio.direct import Penetration
    from pipeline.radio.link import lin_to_db
    from pipeline.radio.tracing import BsConfig, MapGrid, trace_bs_maps
    from pipeline.runtime import import_sionna_rt

    rt = import_sionna_rt()
    scene = rt.load_scene()
    scene.frequency = 3.5e9
    bs = BsConfig(sector_bearings_deg=(60.0,), mechanical_downtilt_deg=10.0, electrical_downtilt_deg=0.0,
                  pattern="f1336", array_rows=1, array_cols=1, vertical_spacing_wl=0.5, horizontal_spacing_wl=0.5,
                  pattern_kwargs={"g0_dbi": 16.0, "phi_3db_deg": 65.0, "sidelobes": "average"})
    grid = MapGrid.covering((-300, -300, 300, 300), 10.0, 1.5)
    mc, _ = trace_bs_maps(scene, [("bs", 0.0, 0.0, 30.0)], bs, grid, samples_per_tx=4_000_000, max_depth=0,
                          diffraction=False, seed=1, receiver=RX)
    exact, _ = trace_bs_maps(scene, [("bs", 0.0, 0.0, 30.0)], bs, grid, samples_per_tx=1000, max_depth=0,
                             diffraction=False, seed=1, receiver=RX, penetration=Penetration.off())
    ok = (np.hypot(grid.centers[..., 0], grid.centers[..., 1]) > 50) & (mc[0] > 0)
    err = lin_to_db(mc[0][ok]) - lin_to_db(exact[0][ok])
    assert np.median(np.abs(err)) < 0.3
    # without the hook the map would miss the receive pattern by ~10 dB at the horizon
    iso, _ = trace_bs_maps(scene, [("bs", 0.0, 0.0, 30.0)], bs, grid, samples_per_tx=1000, max_depth=0,
                           diffraction=False, seed=1, penetration=Penetration.off())
    assert np.median(np.abs(lin_to_db(iso[0][ok]) - lin_to_db(exact[0][ok]))) > 5


def test_radio_map_tasks_are_reproducible(tmp_path):
    """Same task twice, diffraction on: identical maps (one Dr.Jit thread per task)."""
    from pipeline.radio.direct import Penetration
    from pipeline.radio.maptasks import MapJob, run_task
    from pipeline.radio.tracing import BsConfig, MapGrid

    _box_scene(tmp_path)
    bs = BsConfig.from_params({"pattern": "f1336", "f1336_max_gain_dbi": 16.0, "f1336_phi_3db_deg": 65.0,
                               "sector_bearings_deg": [0.0, 120.0, 240.0], "mechanical_downtilt_deg": 6.0})
    job = MapJob(scene_xml=tmp_path / "scene.xml", freq_hz=3.5e9, grid=MapGrid.covering((-150, -150, 150, 150), 5.0, 1.5),
                 bs=bs, receiver=RX, penetration=Penetration(True, 4, {"concrete": 19.0}), max_depth=2,
                 diffraction=True, seed=7, bs_samples_per_tx=100_000, sat_samples=100_000, proxy_distance_m=50e3,
                 launch_margin_m=20.0, max_height_m=20.0)
    for kind, payload in (("bs", [("s", 0.0, 0.0, 25.0)]), ("sat", (np.array([0.3, 0.4, 0.866]), 800e3))):
        a = run_task(job, kind, payload)
        b = run_task(job, kind, payload)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert (a[0] > a[1]).any()  # the tracer added reflected / diffracted power to the direct ray


def test_tilted_panel_in_the_path_solver_matches_the_closed_form_and_the_map():
    """An 8 x 1 tr38901 panel tilted 10 deg electrically: the path solver's per-port coefficients
    combined with the panel weights (as the channels stage does) give Friis x element x array factor,
    the closed form the radio maps' direct ray uses."""
    import mitsuba as mi

    from pipeline.radio.link import free_space_path_gain, lin_to_db
    from pipeline.radio.raypaths import add_receivers, solve
    from pipeline.radio.tracing import BsConfig
    from pipeline.runtime import import_sionna_rt

    rt = import_sionna_rt()
    from pipeline.radio.antennas import register_patterns

    register_patterns()
    scene = rt.load_scene()
    scene.frequency = 3.5e9
    bs = BsConfig(sector_bearings_deg=(90.0,), mechanical_downtilt_deg=3.0, electrical_downtilt_deg=10.0,
                  pattern="tr38901", array_rows=8, array_cols=1, vertical_spacing_wl=0.5, horizontal_spacing_wl=0.5,
                  pattern_kwargs={"g_max_dbi": 8.0})
    scene.tx_array = rt.PlanarArray(**bs.array_kwargs())
    scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="VH")
    site = np.array([0.0, 0.0, 40.0])
    (name, pos, ori), = bs.sector_transmitters([("s", 0.0, 0.0, 40.0)])
    scene.add(rt.Transmitter(name, position=mi.Point3f(*pos), orientation=mi.Point3f(*ori)))
    rx = np.array([[x, y, 1.5] for x in (60.0, 150.0, 300.0) for y in (-80.0, 0.0, 50.0)])
    add_receivers(scene, rx, np.zeros_like(rx), [f"r{i}" for i in range(len(rx))], (0.0, 0.0, 0.0))
    ps = solve(scene, samples_per_src=10_000, max_depth=0, diffraction=False, seed=1)
    w = bs.tx_weights(scene)
    a = np.einsum("rmtnp,n->rmtp", ps.a, w)  # (rx, rx_ant, tx, path)
    got = lin_to_db((np.abs(a[:, :, 0, :]) ** 2).sum(axis=(1, 2)))
    u = (site - rx) / np.linalg.norm(site - rx, axis=1, keepdims=True)  # from the car to the BS
    want = lin_to_db(free_space_path_gain(np.linalg.norm(site - rx, axis=1), 3.5e9)) + bs.gain_db(-u, 90.0)
    np.testing.assert_allclose(got, want, atol=0.05)
    # without the weights (one port, as the channels used to sum) the tilt and array gain are lost
    one_port = lin_to_db((np.abs(ps.a[:, :, 0, 0, :]) ** 2).sum(axis=(1, 2)))
    assert np.max(np.abs(one_port - want)) > 3.0
