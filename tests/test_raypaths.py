"""Path solving: batched receivers, Doppler, the far-field path hook and the move to the satellite."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest

from pipeline.radio import raypaths
from pipeline.radio.farfield import LaunchArea, proxy_position
from pipeline.radio.link import free_space_path_gain, lin_to_db
from pipeline.radio.raypaths import (
    add_receivers, aimed_candidates, check_path_solver_hook, clear_devices, proxy_paths_to_satellite, solve)
from pipeline.radio.tracing import load_rt_scene
from pipeline.runtime import import_sionna_rt
from conftest import REPO
from pipeline.compute import ComputeConfig

C = 299_792_458.0
FREQ = 3.5e9


def test_path_hook_present_and_checked(monkeypatch):
    check_path_solver_hook()
    from sionna.rt.path_solvers import sb_candidate_generator as gen

    monkeypatch.delattr(gen, "spawn_ray_from_sources")
    with pytest.raises(RuntimeError, match="far-field path hook broken"):
        check_path_solver_hook()


def _empty_scene():
    rt = import_sionna_rt()
    scene = rt.load_scene()
    scene.frequency = FREQ
    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="VH")
    return rt, scene


def test_doppler_of_a_satellite_and_a_car_matches_radial_velocities():
    import mitsuba as mi

    rt, scene = _empty_scene()
    u = np.array([0.3, -0.5, 0.81])
    u /= np.linalg.norm(u)
    v_sat = np.array([-5200.0, 4100.0, 2500.0])  # m/s, ENU
    proxy = proxy_position(u, (0.0, 0.0), 50e3)
    scene.add(rt.Transmitter("sat", position=mi.Point3f(*map(float, proxy)), velocity=mi.Vector3f(*map(float, v_sat))))
    v_car = np.array([8.0, 6.0, 0.0])
    add_receivers(scene, np.array([[0.0, 0.0, 1.5], [20.0, 0.0, 1.5]]), np.array([[0, 0, 0], v_car]), ["still", "car"],
                  (0.0, 0.0, 0.0))
    ps = solve(scene, samples_per_src=1000, max_depth=0, diffraction=False, seed=1)
    lam = C / FREQ
    range_rate = v_sat @ u  # d|s - o|/dt for a ground point o
    expected_still = -range_rate / lam
    to_sat_car = proxy - np.array([20.0, 0.0, 1.5])
    to_sat_car /= np.linalg.norm(to_sat_car)
    expected_car = (-(v_sat @ to_sat_car) + v_car @ to_sat_car) / lam  # approaching the satellite raises f
    assert ps.los[0, 0].any() and ps.los[1, 0].any()
    assert float(ps.doppler[0, 0][ps.los[0, 0]][0]) == pytest.approx(expected_still, rel=1e-4)
    assert float(ps.doppler[1, 0][ps.los[1, 0]][0]) == pytest.approx(expected_car, rel=1e-4)
    assert expected_still > 0 if range_rate < 0 else expected_still < 0


def test_proxy_paths_move_to_the_true_slant_range():
    import mitsuba as mi

    rt, scene = _empty_scene()
    u = np.array([0.0, 0.6, 0.8])
    proxy = proxy_position(u, (0.0, 0.0), 50e3)
    scene.add(rt.Transmitter("sat", position=mi.Point3f(*map(float, proxy))))
    rx = np.array([[10.0, -30.0, 1.5]])
    add_receivers(scene, rx, np.zeros((1, 3)), ["ue"], (0.0, 0.0, 0.0))
    ps = solve(scene, samples_per_src=1000, max_depth=0, diffraction=False, seed=1)
    sat = 882.3e3 * u
    proxy_paths_to_satellite(ps, proxy, sat, FREQ, 0, rx)
    d_true = float(np.linalg.norm(sat - rx[0]))
    los = ps.los[0, 0]
    assert ps.tau[0, 0][los][0] * C == pytest.approx(d_true, rel=1e-6)
    power = float((np.abs(ps.a[0, :, 0, :, :][..., los]) ** 2).sum())
    assert lin_to_db(power) == pytest.approx(lin_to_db(free_space_path_gain(d_true, FREQ)), abs=0.01)


def test_los_delay_phase_and_doppler_of_a_far_receiver_follow_the_true_satellite():
    """A car 850 m from the map centre: its LoS path's delay is |s - p| / c to 0.1 ns and its Doppler
    the analytic radial velocities of the satellite and the car to 1 Hz. (With the map origin as the
    LoS path's first vertex the delay was off by ~23 ns; with the proxy's directions the Doppler by
    up to ~1.4 kHz.) The absolute carrier phase is not checked: Sionna computes it in float32 over
    the 50 km proxy range (~0.3 rad resolution)."""
    import mitsuba as mi

    rt, scene = _empty_scene()
    u = np.array([0.35, -0.55, 0.7583])
    u /= np.linalg.norm(u)
    v_sat = np.array([-5200.0, 4100.0, 2500.0])
    proxy = proxy_position(u, (0.0, 0.0), 50e3)
    scene.add(rt.Transmitter("sat", position=mi.Point3f(*map(float, proxy)), velocity=mi.Vector3f(*map(float, v_sat))))
    rx = np.array([[-600.0, 600.0, 1.5], [700.0, -480.0, 1.5]])
    v_car = np.array([[12.0, -5.0, 0.0], [0.0, 0.0, 0.0]])
    add_receivers(scene, rx, v_car, ["a", "b"], (0.0, 0.0, 0.0))
    ps = solve(scene, samples_per_src=1000, max_depth=0, diffraction=False, seed=1)
    sat = 871.4e3 * u
    proxy_paths_to_satellite(ps, proxy, sat, FREQ, 0, rx, v_sat, v_car)
    lam = C / FREQ
    for k in range(2):
        los = ps.los[k, 0]
        d = float(np.linalg.norm(sat - rx[k]))
        to_sat = (sat - rx[k]) / d
        assert abs(ps.tau[k, 0][los][0] - d / C) < 0.1e-9
        expected = (-(v_sat @ to_sat) + v_car[k] @ to_sat) / lam
        assert abs(ps.doppler[k, 0][los][0] - expected) < 1.0


@pytest.mark.slow
def test_batched_receivers_equal_one_by_one(helsinki):
    """Sionna users reported batched receivers changing channels: here they must not."""
    import mitsuba as mi

    rt = import_sionna_rt()
    scene = load_rt_scene(helsinki.scene_xml, FREQ)
    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="stin_f1336", polarization="V",
                                    g0_dbi=16.0, phi_3db_deg=65.0)
    scene.rx_array = rt.PlanarArray(num_rows=2, num_cols=2, pattern="stin_element", polarization="VH",
                                    g_max_dbi=6.0, theta_3db_deg=65.0, phi_3db_deg=65.0)
    site = gpd.read_file(helsinki.sites_geojson).iloc[4]
    rng = np.random.default_rng(3)
    pts = np.column_stack([site.x_m + rng.uniform(-250, 250, 6), site.y_m + rng.uniform(-250, 250, 6), np.full(6, 1.5)])
    vel = np.column_stack([rng.uniform(-10, 10, 6), rng.uniform(-10, 10, 6), np.zeros(6)])

    def run(sel):
        clear_devices(scene)
        scene.add(rt.Transmitter("bs", position=mi.Point3f(float(site.x_m), float(site.y_m), float(site.z_m)),
                                 orientation=mi.Point3f(0.3, 0.1, 0.0)))
        add_receivers(scene, pts[sel], vel[sel], [f"ue{i}" for i in sel], (0.0, -math.pi / 2, 0.0))
        return solve(scene, samples_per_src=100_000, max_depth=3, diffraction=True, seed=9)

    batch = run(list(range(6)))
    found = 0
    for i in range(6):
        one = run([i])
        nb, no = batch.valid[i, 0], one.valid[0, 0]
        assert nb.sum() == no.sum()
        found += int(no.sum())
        order_b, order_o = np.argsort(batch.tau[i, 0][nb]), np.argsort(one.tau[0, 0][no])
        np.testing.assert_allclose(batch.tau[i, 0][nb][order_b], one.tau[0, 0][no][order_o], rtol=1e-6)
        ab = batch.a[i][:, 0][..., nb][..., order_b]
        ao = one.a[0][:, 0][..., no][..., order_o]
        np.testing.assert_allclose(ab, ao, rtol=1e-4, atol=1e-12)
        np.testing.assert_allclose(batch.doppler[i, 0][nb][order_b], one.doppler[0, 0][no][order_o], rtol=1e-4, atol=1e-3)
    assert found > 6  # the check compared real multipath, not empty sets


@pytest.mark.slow
def test_bs_sectors_in_tasks_equal_one_call_whatever_the_workers(helsinki, monkeypatch):
    """The raypaths stage traces BS sectors in fixed tasks on worker processes, each on one Dr.Jit thread:
    the paths equal those of one solver call for every sector, and do not depend on the number of workers
    (so two runs give the same bytes)."""
    from pipeline.config import load_params
    from pipeline.radio.tracing import BsConfig

    bs = BsConfig.from_params(load_params(REPO / "params.yaml")["bs"])
    sites = gpd.read_file(helsinki.sites_geojson)
    rows = [(r.site_id, float(r.x_m), float(r.y_m), float(r.z_m)) for r in sites.itertuples()][:3]
    tx = bs.sector_transmitters(rows)  # 9 sectors
    rng = np.random.default_rng(5)
    centre = sites[["x_m", "y_m"]].to_numpy()[:3].mean(0)
    pts = np.column_stack([centre + rng.uniform(-200, 200, (4, 2)), np.full(4, 30.0)])  # above most roofs
    job = raypaths.BsPathJob(scene_xml=helsinki.scene_xml, freq_hz=FREQ, tx_array=bs.array_kwargs(),
                             rx_array=dict(num_rows=2, num_cols=2, pattern="stin_element", polarization="VH",
                                           g_max_dbi=6.0, theta_3db_deg=65.0, phi_3db_deg=65.0),
                             rx_positions=pts, rx_velocities=np.zeros_like(pts), rx_names=("a", "b", "c", "d"),
                             rx_orientation=(0.0, -math.pi / 2, 0.0), samples_per_src=60_000, max_depth=2,
                             diffraction=False, seed=4)
    whole = raypaths._bs_task(job, tx)
    monkeypatch.setattr(raypaths, "BS_SECTORS_PER_TASK", 4)  # tasks of 4, 4 and 1 sectors
    serial = raypaths.solve_bs_sectors(job, tx, ComputeConfig(scheduler="serial"))
    parallel = raypaths.solve_bs_sectors(job, tx, ComputeConfig(scheduler="local", workers=2))
    assert whole.valid.sum() > 9  # real multipath compared
    for field in ("a", "tau", "theta_t", "phi_t", "theta_r", "phi_r", "doppler", "valid", "los", "first_vertex"):
        w, s, p = getattr(whole, field), getattr(serial, field), getattr(parallel, field)
        n = w.shape[-1] if field != "first_vertex" else w.shape[-2]
        # the tasks' path axes are padded to the longest task; beyond the one call's width only padding
        s_cut = s[..., :n] if field != "first_vertex" else s[..., :n, :]
        np.testing.assert_array_equal(s, p, err_msg=field)
        np.testing.assert_array_equal(s_cut, w, err_msg=field)


@pytest.mark.slow
def test_far_field_path_solver_finds_more_satellite_paths_than_naive(helsinki):
    import mitsuba as mi

    rt = import_sionna_rt()
    scene = load_rt_scene(helsinki.scene_xml, FREQ)
    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="VH")
    u = np.array([0.25, -0.55, 0.8])
    u /= np.linalg.norm(u)
    proxy = proxy_position(u, (0.0, 0.0), 50e3)
    scene.add(rt.Transmitter("sat", position=mi.Point3f(*map(float, proxy))))
    import shapely

    rng = np.random.default_rng(5)
    pts = np.column_stack([rng.uniform(-400, 400, 120), rng.uniform(-700, 700, 120), np.full(120, 1.5)])
    footprints = shapely.union_all(gpd.read_file(helsinki.buildings_local).geometry.to_numpy())
    pts = pts[~shapely.contains_xy(footprints, pts[:, 0], pts[:, 1])][:40]  # street-level points only
    add_receivers(scene, pts, np.zeros_like(pts), [f"p{i}" for i in range(len(pts))], (0.0, 0.0, 0.0))
    with aimed_candidates(LaunchArea(-520, -850, 520, 840, 1.5).grown(20)):
        far = solve(scene, samples_per_src=300_000, max_depth=3, diffraction=True, seed=1)
    naive = solve(scene, samples_per_src=300_000, max_depth=3, diffraction=True, seed=1)
    assert far.num_paths.mean() > 2 * naive.num_paths.mean()
    nlos = ~far.los[:, 0].any(-1)
    assert (far.num_paths[nlos, 0] > 0).mean() > 0.5  # shadowed points still get reflections/diffraction
    assert (naive.num_paths[nlos, 0] > 0).mean() < (far.num_paths[nlos, 0] > 0).mean()
    assert raypaths.SPEED_OF_LIGHT_M_S == C
