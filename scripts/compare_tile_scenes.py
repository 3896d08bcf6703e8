"""Per-tile scenes vs the whole city's scene: the same satellite tile tasks traced in both.

Traces every tile of the embedded city's map (``--tile-m``) for satellites at the given elevations and
azimuths, once in the city's scene and once in the tile's cropped scene
(:func:`pipeline.radio.maptasks.write_tile_scenes`), and prints how many finite cells differ and by how
much. Needs the ``scene`` and ``buildings`` stages' outputs of this checkout (``dvc repro scene``).

    .venv/bin/python scripts/compare_tile_scenes.py [--city helsinki] [--tile-m 300] [--sats 25,40 60,200]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import yaml
from project_copy import REPO

from pipeline.config import load_map
from pipeline.geometry.footprints import bbox_local_box
from pipeline.geometry.frame import LocalFrame
from pipeline.io.atomic import read_json
from pipeline.io.paths import CityPaths
from pipeline.radio.maptasks import plan_map_tasks, run_task, write_tile_scenes
from pipeline.radio.tracing import MapGrid
from pipeline.stages.radiomaps import map_job


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default="helsinki")
    ap.add_argument("--tile-m", type=float, default=300.0)
    ap.add_argument("--sats", nargs="+", default=["25,40", "60,200"], help="elevation,azimuth in degrees")
    args = ap.parse_args()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    paths = CityPaths(args.city, REPO)
    frame = LocalFrame.from_dict(read_json(paths.area_json)["frame"])
    bounds = bbox_local_box(load_map(args.city).bbox, frame).bounds
    grid = MapGrid.covering(bounds, params["raytracing"]["cell_size_m"], params["radio"]["rx_height_m"])
    job = dataclasses.replace(map_job(params, paths, grid, gpd.read_file(paths.buildings_local)), tile_size_m=args.tile_m)
    dirs = []
    for sat in args.sats:
        el, az = np.radians([float(v) for v in sat.split(",")])
        dirs.append([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])
    plan = [t for t in plan_map_tasks(job, [], np.array(dirs), np.full(len(dirs), 8e5)) if t.kind == "sat"]
    cells = differing = one_only = big = 0
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        scenes = write_tile_scenes(job, plan, Path(tmp))
        for task, xml in zip(plan, scenes, strict=True):
            whole = run_task(job, *task.args)[0]
            tile = run_task(job, *task.args, xml)[0]
            lit = (whole > 0) & (tile > 0)
            one_only += int(((whole > 0) != (tile > 0)).sum())  # a ray reached the cell in one scene only
            cells += int(lit.sum())
            differing += int((whole[lit] != tile[lit]).sum())
            if lit.any():
                diff = np.abs(10 * np.log10(whole[lit] / tile[lit]))
                worst = max(worst, float(diff.max()))
                big += int((diff > 1.0).sum())
    print(f"{args.city}: {len(plan)} tile tasks ({args.tile_m:g} m tiles, satellites {' '.join(args.sats)}), "
          f"{cells} cells finite in both, {differing} differ ({differing / max(cells, 1):.1e}; {big} by > 1 dB), "
          f"max |diff| {worst:.2f} dB; {one_only} cells finite in one scene only")


if __name__ == "__main__":
    main()
