#!/usr/bin/env python
"""Benchmark: `dvc repro` of the embedded default from scratch, then with nothing changed.

Runs in a throw-away copy of the project so the working tree's data/ stays untouched.
Prints wall times of both runs and the per-stage times the stages recorded.
Usage: .venv/bin/python scripts/bench_pipeline.py
"""

from __future__ import annotations

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
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("dvc.yaml", "params.yaml"):
            shutil.copy(REPO / name, work / name)
        for name in ("maps", "pipeline"):
            shutil.copytree(REPO / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        dvc(work, "init", "--no-scm", "-q")
        cold = dvc(work, "repro")
        warm = dvc(work, "repro")
        city = "helsinki"
        timings = json.loads((work / "results" / city / "timings.json").read_text())
        scene = json.loads((work / "results" / city / "scene.json").read_text())
    print(f"dvc repro from scratch:        {cold:6.2f} s")
    print(f"dvc repro, nothing changed:    {warm:6.2f} s")
    for stage, seconds in timings.items():
        print(f"  stage {stage:<22} {seconds:6.2f} s (inside the stage)")
    print(f"buildings + scene:             {sum(timings.values()):6.2f} s")
    print(f"scene: {scene['n_buildings']} buildings, {scene['n_triangles']} triangles, "
          f"{scene['n_sites']} sites")


if __name__ == "__main__":
    main()
