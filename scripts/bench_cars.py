"""Channels along routes vs the number of cars: wall time and peak memory of the raypaths and channels stages.

For each car count a fresh copy of the project (the embedded default, or ``--city``) gets the earlier
stages' outputs of this checkout (buildings, scene, orbits: run them first, e.g. ``dvc repro orbits``), a
routes file with that many random cars (the explicit routes kept), and runs the stages ``routes``,
``raypaths`` and ``channels`` on the Dask engine of params.yaml. Prints, per count: tasks, wall time, the
peak memory of a worker and of each stage's own process, and the size of raypaths.nc.

    .venv/bin/python scripts/bench_cars.py [--cars 10 100 1000] [--slots 12]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from project_copy import REPO, copy_outputs, copy_project, write_params

EARLIER = ("area.json", "buildings.geojson", "buildings_local.gpkg", "scene", "sites.geojson", "segments.geojson",
           "orbits.nc", "radiomaps.nc", "heatmaps.nc")


def stage(root: Path, name: str) -> float:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", f"pipeline.stages.{name}"], cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"stage {name} failed:\n{out.stderr[-3000:]}")
    return time.perf_counter() - start


def measure(city: str, n_cars: int, slots: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        params = copy_project(root, city)
        src = REPO / "data" / city
        data = copy_outputs(root, city, EARLIER, "heatmaps")
        if slots is not None:  # fewer slots: cut the orbits file (the map stages are not rerun)
            import xarray as xr  # noqa: PLC0415

            with xr.open_dataset(src / "orbits.nc") as orbits:
                orbits.isel(time=slice(0, slots)).load().to_netcdf(data / "orbits.nc")
            params["orbits"]["n_slots"] = slots
        write_params(root, params)
        routes = yaml.safe_load((REPO / "routes" / f"{city}.yaml").read_text())
        explicit = len(routes.get("routes") or [])
        routes["random"] = {**(routes.get("random") or {"seed": 0}), "count": max(1, n_cars - explicit)}
        (root / "routes" / f"{city}.yaml").write_text(yaml.safe_dump(routes, sort_keys=False))
        walls = {name: stage(root, name) for name in ("routes", "raypaths", "channels")}
        timings = json.loads((root / "results" / city / "timings.json").read_text())
        return {"cars": n_cars, "slots": params["orbits"]["n_slots"], "tasks": timings.get("raypaths.tasks"),
                "raypaths_s": round(walls["raypaths"], 1), "channels_s": round(walls["channels"], 1),
                "worker_peak_mb": timings.get("raypaths.worker_peak_rss_mb"),
                "raypaths_stage_peak_mb": round(timings.get("raypaths.stage_peak_rss_mb", 0), 1),
                "channels_stage_peak_mb": round(timings.get("channels.stage_peak_rss_mb", 0), 1),
                "raypaths_nc_mb": round((data / "raypaths.nc").stat().st_size / 2**20, 1),
                "channels_nc_mb": round((data / "channels.nc").stat().st_size / 2**20, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cars", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--slots", type=int, default=None, help="use the first N slots only (default: all)")
    ap.add_argument("--city", default="helsinki")
    args = ap.parse_args()
    rows = []
    for n in args.cars:
        rows.append(measure(args.city, n, args.slots))
        print(rows[-1], flush=True)
    print()
    print(f"{'cars':>5} {'slots':>5} {'tasks':>5} {'raypaths s':>10} {'channels s':>10} {'worker MB':>9} "
          f"{'raypaths MB':>11} {'channels MB':>11} {'raypaths.nc MB':>14}")
    for r in rows:
        print(f"{r['cars']:5d} {r['slots']:5d} {str(r['tasks']):>5} {r['raypaths_s']:10.1f} {r['channels_s']:10.1f} "
              f"{str(r['worker_peak_mb']):>9} {r['raypaths_stage_peak_mb']:11.1f} {r['channels_stage_peak_mb']:11.1f} "
              f"{r['raypaths_nc_mb']:14.1f}")


if __name__ == "__main__":
    main()
