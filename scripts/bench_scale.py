"""Scale benchmark: the radio-map tracer on synthetic cities of growing area (and on Helsinki).

For each size a fresh project gets a `stin synth-city` (ITU-R P.1410 urban statistics, one BS site per
0.5 km x 0.5 km segment, so the site density stays the same), runs the stages up to `radiomaps` on the
Dask engine of params.yaml (`compute`), and prints time per km^2 and per cell, the tasks, the share of
the stage spent inside the ray tracer and the peak memory of a worker and of the stage's own process.

    .venv/bin/python scripts/bench_scale.py [--sizes-km2 2 8 16] [--slots 2] [--helsinki] [--keep DIR]
                                            [--bs-max-range-m M]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from project_copy import REPO, copy_project, write_params

STAGES = ("buildings", "scene", "orbits", "radiomaps")
SEGMENT_KM = 0.5  # one BS site per 0.5 km x 0.5 km (Helsinki's default map: 12 sites on 1.7 km^2)


def run(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return time.perf_counter() - start


def project(root: Path, city: str, slots: int) -> None:
    copy_project(root, city, orbits={"n_slots": slots})


def measure(root: Path, city: str, stages: tuple[str, ...] = STAGES) -> dict:
    for stage in stages:
        wall = run([sys.executable, "-m", f"pipeline.stages.{stage}"], root)
    timings = json.loads((root / "results" / city / "timings.json").read_text())
    rm = json.loads((root / "results" / city / "radiomaps.json").read_text())
    area = json.loads((root / "data" / city / "area.json").read_text())
    scene = json.loads((root / "results" / city / "scene.json").read_text())
    stage_s = timings["radiomaps"]
    from pipeline.config import BBox  # noqa: PLC0415

    b = area["bbox"]
    return {"area_km2": BBox(b["south"], b["west"], b["north"], b["east"]).area_km2(), "cells": rm["grid_cells"],
            "sites": scene["n_sites"], "buildings": scene["n_buildings"], "bs_sectors": rm["n_bs_sectors"],
            "sat_maps": rm["n_sat_maps"], "tasks": timings.get("radiomaps.tasks"), "stage_s": stage_s,
            "stage_wall_s": wall, "tracer_s": timings["radiomaps.raytracer_s"],
            "worker_peak_mb": timings.get("radiomaps.worker_peak_rss_mb"),
            "stage_peak_mb": timings.get("radiomaps.stage_peak_rss_mb")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes-km2", type=float, nargs="+", default=[2.0, 8.0, 16.0])
    ap.add_argument("--slots", type=int, default=2, help="satellite slots (orbits.n_slots)")
    ap.add_argument("--helsinki", action="store_true", help="also the embedded default")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the projects in this folder and reuse them when there (only radiomaps is rerun)")
    ap.add_argument("--bs-max-range-m", type=float, default=None, help="override raytracing.bs_max_range_m")
    args = ap.parse_args()
    rows = []
    cases = [(f"scale{a:g}", a) for a in args.sizes_km2] + ([("helsinki", None)] if args.helsinki else [])
    for city, area_km2 in cases:
        with tempfile.TemporaryDirectory() as tmp:
            root = (args.keep / city) if args.keep else Path(tmp)
            ready = (root / "data" / city / "orbits.nc").is_file()
            if not ready:
                root.mkdir(parents=True, exist_ok=True)
                project(root, city, args.slots)
                if area_km2 is not None:
                    side = math.sqrt(area_km2)
                    run([str(Path(sys.executable).parent / "stin"), "synth-city", city, "--size-km", f"{side:.3f}",
                         "--segments", str(max(1, round(side / SEGMENT_KM))), "--routes", "2"], root)
            shutil.rmtree(root / "pipeline")
            shutil.copytree(REPO / "pipeline", root / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
            params = yaml.safe_load((root / "params.yaml").read_text())
            if args.bs_max_range_m is not None:
                params["raytracing"]["bs_max_range_m"] = args.bs_max_range_m
            write_params(root, params)
            rows.append({"city": city, **measure(root, city, ("radiomaps",) if ready else STAGES)})
            r = rows[-1]
            print(f"{city}: {r}", flush=True)
    print()
    print(f"{'city':<10} {'km^2':>6} {'cells':>9} {'sites':>5} {'tasks':>5} {'stage s':>8} {'s/km^2':>7} "
          f"{'us/cell':>8} {'tracer':>7} {'worker MB':>9} {'stage MB':>8}")
    for r in rows:
        a = r["area_km2"] or float("nan")
        print(f"{r['city']:<10} {a:6.2f} {r['cells']:9d} {r['sites']:5d} {str(r['tasks']):>5} {r['stage_s']:8.1f} "
              f"{r['stage_s'] / a:7.1f} {1e6 * r['stage_s'] / r['cells']:8.1f} {r['tracer_s'] / r['stage_s']:7.0%} "
              f"{str(r['worker_peak_mb']):>9} {str(r['stage_peak_mb']):>8}")
    synth = [r for r in rows if r["city"] != "helsinki" and r["area_km2"]]
    if len(synth) >= 2:
        first, last = synth[0], synth[-1]
        ratio = (last["stage_s"] / last["area_km2"]) / (first["stage_s"] / first["area_km2"])
        print(f"time per km^2 at {last['area_km2']:.1f} km^2 / at {first['area_km2']:.1f} km^2: {ratio:.2f}")


if __name__ == "__main__":
    main()
