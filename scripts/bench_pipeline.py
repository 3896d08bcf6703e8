#!/usr/bin/env python
"""Benchmark: `dvc repro` of a city (the embedded default unless --city) from scratch, then with nothing changed.

Also prints the time per stage and the share spent inside the ray tracer.

Runs in a throw-away copy of the project so the working tree's data/ stays untouched.
Prints wall times of both runs and the per-stage times the stages recorded.
Usage: .venv/bin/python scripts/bench_pipeline.py [--city synth]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def dvc(cwd: Path, *args: str) -> float:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default="helsinki", help="a city of maps/ (default: helsinki)")
    city = ap.parse_args().city
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("dvc.yaml", "params.yaml"):
            shutil.copy(REPO / name, work / name)
        for name in ("maps", "routes", "pipeline"):
            shutil.copytree(REPO / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        dvc(work, "init", "--no-scm", "-q")
        params = (work / "params.yaml").read_text().splitlines()
        params = [f"city: {city}" if line.startswith("city:") else line for line in params]
        (work / "params.yaml").write_text("\n".join(params) + "\n")
        cold = dvc(work, "repro")
        warm = dvc(work, "repro")
        timings = json.loads((work / "results" / city / "timings.json").read_text())
        scene = json.loads((work / "results" / city / "scene.json").read_text())
        radiomaps = json.loads((work / "results" / city / "radiomaps.json").read_text())
        raypaths = json.loads((work / "results" / city / "raypaths.json").read_text())
        fidelity = json.loads((work / "results" / city / "fidelity.json").read_text())
    print(f"city {city}")
    print(f"dvc repro from scratch:        {cold:6.2f} s")
    print(f"dvc repro, nothing changed:    {warm:6.2f} s")
    for stage, seconds in timings.items():
        if "." not in stage:  # "stage.detail" keys: wall times inside a stage (below)
            print(f"  stage {stage:<22} {seconds:6.2f} s (inside the stage)")
    radiomaps["raytracer_s"] = timings["radiomaps.raytracer_s"]
    raypaths["raytracer_s"] = timings["raypaths.raytracer_s"]
    tracer = radiomaps["raytracer_s"] + raypaths["raytracer_s"]
    print(f"buildings + scene:             {timings['buildings'] + timings['scene']:6.2f} s")
    print(f"inside the ray tracer:         {tracer:6.2f} s (radio maps of {radiomaps['n_bs_sectors']} BS sectors and "
          f"{radiomaps['n_sat_maps']} satellite maps {radiomaps['raytracer_s']:.1f} s, paths of "
          f"{raypaths['n_receivers']} receivers x {raypaths['n_slots']} slots {raypaths['raytracer_s']:.1f} s)")
    print(f"ray tracer share of the run:   {tracer / cold:6.1%}; overhead around it "
          f"{(cold - tracer) / tracer:.1%} of the tracing time")
    print(f"scene: {scene['n_buildings']} buildings, {scene['n_triangles']} triangles, "
          f"{scene['n_sites']} sites; grid {radiomaps['grid_cells']} cells")
    print(f"fidelity: Friis {fidelity['friis_error_db_median']} dB, two-ray {fidelity['two_ray_error_db_median']} dB, "
          f"satellite LoS {fidelity['sat_los_error_db_median']} dB, ray efficiency {fidelity['sat_ray_efficiency']:.1%} "
          f"(naive {fidelity['naive_sat_ray_efficiency']:.4%})")


if __name__ == "__main__":
    main()
