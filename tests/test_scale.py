"""City scale: tiles, sector ranges, and the tracing stage on a real Dask scheduler."""

from __future__ import annotations

import hashlib
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO
from pipeline.radio.tracing import MapGrid
from test_compute import dask_cluster


def test_tiles_cover_the_grid_once_and_windows_hold_the_cells_in_a_rectangle():
    grid = MapGrid.covering((0.0, 0.0, 1003.0, 497.0), 5.0, 1.5)
    count = np.zeros(grid.shape, int)
    for rows, cols in grid.tiles(200.0):
        count[rows, cols] += 1
        assert rows.stop - rows.start <= 40 and cols.stop - cols.start <= 40
    assert (count == 1).all()
    rows, cols = grid.window_within(100.0, 50.0, 300.0, 120.0)
    assert grid.x_m[cols].min() >= 100 and grid.x_m[cols].max() <= 300
    assert grid.y_m[rows].min() >= 50 and grid.y_m[rows].max() <= 120
    assert grid.x_m[cols.start - 1] < 100 and grid.x_m[cols.stop] > 300
    assert grid.window_within(5000.0, 0.0, 6000.0, 10.0) is None
    tile = grid.window(rows, cols)
    np.testing.assert_array_equal(tile.centers, grid.centers[rows, cols])


def test_bs_max_range_closes_the_link_budget_and_matches_the_default():
    """At the returned distance the budget is exactly margin below the noise (TR 38.901 UMa NLOS), and
    params.yaml's raytracing.bs_max_range_m is that distance for the link and ue defaults."""
    from pipeline.radio.link import bs_max_range_m, lin_to_db, noise_power_w, uma_nlos_path_loss_db

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    link, ue, bs = params["link"], params["ue"], params["bs"]
    noise_dbm = float(lin_to_db(noise_power_w(float(link["bandwidth_hz"]), link["noise_figure_db"],
                                              link["antenna_temperature_k"])) + 30)
    rx_gain = ue["element_gain_dbi"] + 10 * math.log10(ue["array_rows"] * ue["array_cols"])
    d = bs_max_range_m(link["bs_tx_power_dbm"], bs["f1336_max_gain_dbi"], rx_gain, noise_dbm, 10.0,
                       float(params["radio"]["freq_hz"]))
    received = link["bs_tx_power_dbm"] + bs["f1336_max_gain_dbi"] + rx_gain - uma_nlos_path_loss_db(d, 3.5e9)
    assert received == pytest.approx(noise_dbm - 10.0, abs=1e-9)
    assert params["raytracing"]["bs_max_range_m"] == pytest.approx(d, rel=0.01)
    # TR 38.901 Table 7.4.1-1 at 1 km, 3.5 GHz: 13.54 + 39.08 * 3 + 20 log10(3.5) = 141.66 dB
    assert uma_nlos_path_loss_db(1000.0, 3.5e9) == pytest.approx(141.66, abs=0.01)


def test_task_plan_traces_sectors_in_range_and_satellites_per_tile_at_the_same_ray_density():
    import dataclasses

    from pipeline.radio.maptasks import MapJob, launch_area_m2, plan_map_tasks, satellite_reach_m
    from pipeline.radio.tracing import BsConfig

    grid = MapGrid.covering((0.0, 0.0, 2000.0, 1000.0), 10.0, 1.5)
    bs = BsConfig.from_params(yaml.safe_load((REPO / "params.yaml").read_text())["bs"])
    job = MapJob(scene_xml=Path("x"), freq_hz=3.5e9, grid=grid, bs=bs, receiver=None, penetration=None,
                 max_depth=1, diffraction=False, seed=1, bs_samples_per_tx=1000, sat_samples=100_000,
                 proxy_distance_m=5e4, launch_margin_m=20.0, max_height_m=30.0, tile_size_m=500.0,
                 bs_max_range_m=300.0)
    sites = [(f"s{i}", x, 500.0, 30.0) for i, x in enumerate((100.0, 150.0, 200.0, 250.0, 1900.0))]
    plan = plan_map_tasks(job, sites, np.array([[0.0, 0.6, 0.8], [0.3, 0.0, 0.95]]), np.array([7e5, 6e5]))
    bs_tasks = [t for t in plan if t.kind == "bs"]
    assert [len(t.payload) for t in bs_tasks] == [4, 1]
    rows, cols = bs_tasks[0].window
    assert grid.x_m[cols].max() <= 250 + 300 and grid.x_m[cols].min() >= 0  # 4 sites near x = 100..250
    rows, cols = bs_tasks[1].window
    assert grid.x_m[cols].min() >= 1900 - 300
    assert bs_tasks[1].index == slice(4 * len(bs.sector_bearings_deg), 5 * len(bs.sector_bearings_deg))
    sat_tasks = [t for t in plan if t.kind == "sat"]
    assert len(sat_tasks) == 2 * 8  # two satellites x (4 x 2) tiles
    density = [t.samples / launch_area_m2(grid.window(*t.window), 20.0) for t in sat_tasks]
    assert np.allclose(density, 100_000 / launch_area_m2(grid, 20.0), rtol=1e-3)
    # scenes: a BS task's holds its sites +/- the range; a tile's the tile + launch margin + the reach of the
    # rays that descend onto it, at the lowest elevation of either satellite's proxy over the tile
    assert bs_tasks[1].scene_box == (1900 - 300, 500 - 300, 1900 + 300, 500 + 300)
    assert [t.window for t in sat_tasks[:2]] == [sat_tasks[0].window] * 2  # tile by tile
    x0, y0, x1, y1 = grid.window(*sat_tasks[0].window).bounds
    bx0, by0, bx1, by1 = sat_tasks[0].scene_box
    reach = x0 - 20.0 - bx0
    assert (y0 - 20.0 - by0, bx1 - x1 - 20.0, by1 - y1 - 20.0) == pytest.approx((reach, reach, reach))
    tan_el_sat = min(0.8 / 0.6, 0.95 / 0.3)  # the lower satellite: 53 deg
    assert (30.0 + 1.5) / tan_el_sat < reach < 1.1 * (30.0 + 1.5) / tan_el_sat  # the proxy 50 km off: a bit lower
    far = dataclasses.replace(job, proxy_distance_m=1e12)
    assert satellite_reach_m(far, np.array([[0.0, 0.6, 0.8]]), (0.0, 0.0, 500.0, 500.0)) == pytest.approx(
        31.5 / tan_el_sat, rel=1e-6)


def _project(root: Path, **raytracing) -> Path:
    root.mkdir(parents=True)
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    for name in ("maps", "routes", "pipeline", "schemas"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["city"] = "synth"
    params["orbits"]["n_slots"] = 2
    params["raytracing"].update(raytracing)
    # paths: a slot per BS task (two task groups), fewer rays (the identity, not the channels, is tested)
    params["raypaths"].update(receivers_per_task=1, bs_samples_per_src=20_000, sat_samples_per_src=30_000)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def _stage(root: Path, name: str, scheduler: str) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["compute"]["scheduler"] = scheduler
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run = subprocess.run([sys.executable, "-m", f"pipeline.stages.{name}"], cwd=root, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]


@pytest.mark.slow
def test_radio_maps_on_a_real_dask_cluster_equal_the_single_process_run_and_tiles_show_no_seam(tmp_path):
    """The radiomaps and raypaths stages of a small city through a real scheduler with two worker processes
    give the bytes of the in-process run; traced in 100 m tiles, its satellite maps agree with the untiled ones
    (BS maps are the same rays: identical cells) and show no step at the tile edges."""
    import xarray as xr

    serial = _project(tmp_path / "serial")
    for name in ("buildings", "scene", "orbits", "routes"):
        _stage(serial, name, "serial")
    for name in ("data", "results"):
        shutil.copytree(serial / name, tmp_path / "copy" / name)
    distributed = _project(tmp_path / "distributed")
    tiled = _project(tmp_path / "tiled", tile_size_m=100.0)
    for root in (distributed, tiled):
        for name in ("data", "results"):
            shutil.copytree(tmp_path / "copy" / name, root / name)
    _stage(serial, "radiomaps", "serial")
    _stage(serial, "raypaths", "serial")
    with dask_cluster(2) as address:
        _stage(distributed, "radiomaps", address)
        _stage(distributed, "raypaths", address)
        _stage(tiled, "radiomaps", address)
    # the cluster's workers ran radio maps before the paths (a scene that served radio maps once gave paths
    # a few ulps apart: tracing.worker_scene reloads it when the purpose changes); serial ran them fresh
    for name in ("radiomaps.nc", "raypaths.nc"):
        md5 = {r: hashlib.md5((r / "data" / "synth" / name).read_bytes()).hexdigest() for r in (serial, distributed)}
        assert md5[serial] == md5[distributed], name
    with xr.open_dataset(serial / "data" / "synth" / "raypaths.nc") as rp:
        assert rp.sizes["time"] == 2 and rp.sizes["path"] > 100  # real multipath compared, stored by paths found
        assert int(rp.num_paths.sum()) == rp.sizes["path"]

    a = xr.open_dataset(serial / "data" / "synth" / "radiomaps.nc")
    b = xr.open_dataset(tiled / "data" / "synth" / "radiomaps.nc")
    bs_a, bs_b = a.path_gain_bs.values, b.path_gain_bs.values
    assert np.array_equal(bs_a > 0, bs_b > 0)
    both = (bs_a > 0) & (bs_b > 0)
    assert np.median(np.abs(10 * np.log10(bs_a[both] / bs_b[both]))) < 1e-3
    outdoor = a.outdoor.values.astype(bool)
    sa = 10 * np.log10(np.maximum(a.path_gain_sat.values, 1e-30))
    sb = 10 * np.log10(np.maximum(b.path_gain_sat.values, 1e-30))
    lit = (sa > -200) & (sb > -200) & outdoor
    diff = np.abs(sa - sb)[lit]
    assert np.median(diff) < 0.5, np.median(diff)  # the same satellites at the same ray density
    # seams: the step between neighbouring cells across a tile edge vs between neighbours elsewhere
    n = round(100.0 / float(a.attrs["cell_size_m"]))
    step = np.abs(np.diff(sb, axis=-1))
    ok = lit[..., 1:] & lit[..., :-1]
    edge = np.zeros(step.shape[-1], bool)
    edge[n - 1::n] = True
    at_edges, elsewhere = np.median(step[..., edge][ok[..., edge]]), np.median(step[..., ~edge][ok[..., ~edge]])
    print(f"tiled vs untiled satellite maps: median |diff| {np.median(diff):.3f} dB, p90 {np.percentile(diff, 90):.3f} dB "
          f"over {lit.sum()} lit cells; median step between neighbours at tile edges {at_edges:.3f} dB, "
          f"elsewhere {elsewhere:.3f} dB; BS cells median |diff| {np.median(np.abs(10 * np.log10(bs_a[both] / bs_b[both]))):.2e} dB")
    assert at_edges < elsewhere + 0.5, (at_edges, elsewhere)
