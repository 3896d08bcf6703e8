"""The DVC pipeline end to end on the embedded default, in a throw-away copy of the repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO


def _dvc(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # `python` = this venv
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture()
def repo_copy(tmp_path: Path) -> Path:
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    for name in ("maps", "pipeline"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    assert _dvc(tmp_path, "init", "--no-scm", "-q").returncode == 0
    return tmp_path


@pytest.mark.slow
def test_dvc_repro_end_to_end_then_nothing_to_do(repo_copy):
    first = _dvc(repo_copy, "repro")
    assert first.returncode == 0, first.stderr[-2000:]
    data = repo_copy / "data" / "helsinki"
    for name in ("buildings.geojson", "buildings_local.gpkg", "sites.geojson", "segments.geojson",
                 "scene/scene.xml"):
        assert (data / name).is_file(), name
    metrics = json.loads((repo_copy / "results" / "helsinki" / "scene.json").read_text())
    assert metrics["n_buildings"] >= 450

    # nothing changed: nothing runs (its time is measured by scripts/bench_pipeline.py)
    second = _dvc(repo_copy, "repro")
    assert second.returncode == 0
    assert "Running stage" not in second.stdout and "up to date" in second.stdout

    # a scene parameter reruns the scene stage only
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    params["scene"]["mast_height_m"] = 8.0
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    third = _dvc(repo_copy, "repro")
    assert third.returncode == 0, third.stderr[-2000:]
    assert "Running stage 'scene'" in third.stdout and "Running stage 'buildings'" not in third.stdout
