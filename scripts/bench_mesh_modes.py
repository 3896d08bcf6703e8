"""Tracing cost of the two scene layouts (params.yaml scene.mesh): one merged mesh per material vs
one shape per OSM building, on a city whose buildings stage has run.

Builds both scenes from data/<city>/buildings_local.gpkg into a temporary folder and times, for each:
loading the scene, one BS site's radio maps (its sectors, as the radiomaps stage traces them: one
Dr.Jit thread) and one satellite map; it also checks that both layouts give the same maps.

    .venv/bin/python scripts/bench_mesh_modes.py [--city helsinki]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np

from pipeline.config import load_map, load_params, number, section
from pipeline.geometry.footprints import bbox_local_box
from pipeline.geometry.frame import LocalFrame
from pipeline.geometry.scene import MaterialTable, write_scene
from pipeline.io.atomic import read_json
from pipeline.io.paths import CityPaths
from pipeline.orbits.constellation import slant_range_m
from pipeline.radio.fidelity import direction_enu
from pipeline.radio.maptasks import run_task
from pipeline.radio.tracing import MapGrid, load_rt_scene
from pipeline.stages.radiomaps import map_job


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default=None, help="city (default: params.yaml city)")
    args = ap.parse_args()
    params = load_params()
    city = args.city or params["city"]
    params["city"] = city
    paths = CityPaths(city)
    area = read_json(paths.area_json)
    map_cfg = load_map(city)
    frame = LocalFrame.from_dict(area["frame"])
    volumes = gpd.read_file(paths.buildings_local)
    sites = gpd.read_file(paths.sites_geojson)
    table = MaterialTable.from_params(section(params, "scene"))
    bounds = bbox_local_box(map_cfg.bbox, frame).bounds
    grid = MapGrid.covering(bounds, number(params["raytracing"], "cell_size_m", "raytracing"),
                            number(params["radio"], "rx_height_m", "radio"))
    site = sites.iloc[0]
    payload = [(site.site_id, float(site.x_m), float(site.y_m), float(site.z_m))]
    el = 45.0
    sat = (direction_enu(el, 135.0), float(slant_range_m(np.array(el), params["orbits"]["walker"]["altitude_m"])))
    maps = {}
    print(f"{city}: {volumes['building_id'].nunique()} buildings, {len(volumes)} volumes, grid {grid.shape}")
    print(f"{'mesh':>13} {'shapes':>7} {'triangles':>9} {'write s':>8} {'load s':>7} {'BS site s':>9} {'sat map s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("per_material", "per_building"):
            out = Path(tmp) / mode
            t0 = time.perf_counter()
            stats = write_scene(out, volumes, table, bounds, float(params["scene"]["ground_margin_m"]), {},
                                mesh_mode=mode)
            t_write = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_rt_scene(out / "scene.xml", float(params["radio"]["freq_hz"]))
            t_load = time.perf_counter() - t0
            job = dataclasses.replace(map_job(params, paths, grid, volumes), scene_xml=out / "scene.xml")
            run_task(job, "sat", sat)  # warm-up: scene load and kernel compilation in this process
            t0 = time.perf_counter()
            bs_maps, _ = run_task(job, "bs", payload)
            t_bs = time.perf_counter() - t0
            t0 = time.perf_counter()
            sat_map, _ = run_task(job, "sat", sat)
            t_sat = time.perf_counter() - t0
            maps[mode] = (bs_maps, sat_map)
            print(f"{mode:>13} {stats['n_shapes']:7d} {stats['n_triangles']:9d} {t_write:8.2f} {t_load:7.2f} "
                  f"{t_bs:9.2f} {t_sat:9.2f}")
    for k, what in enumerate(("BS sectors", "satellite")):
        a, b = (np.asarray(maps[m][k]) for m in ("per_material", "per_building"))
        both = (a > 0) & (b > 0)
        diff = np.abs(10 * np.log10(a[both]) - 10 * np.log10(b[both])) if both.any() else np.zeros(1)
        print(f"{what}: cells reached {int((a > 0).sum())} vs {int((b > 0).sum())}; "
              f"median |dB diff| {np.median(diff):.4f}, max {diff.max():.3f}")


if __name__ == "__main__":
    main()
