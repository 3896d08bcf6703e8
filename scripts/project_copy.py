"""A throw-away copy of this project for the benchmark scripts: code, maps, routes and dvc.yaml, a
params.yaml with some values changed, and the earlier stages' outputs of this checkout."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CODE = ("maps", "routes", "pipeline", "schemas")


def copy_project(root: Path, city: str, **groups: dict[str, Any]) -> dict:
    """Copy the project's code into ``root`` (created) with ``params.yaml`` for ``city``, each keyword
    updating that params group (``raytracing={"tile_size_m": 500.0}``); returns the params written."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    for name in CODE:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["city"] = city
    for group, values in groups.items():
        params[group].update(values)
    write_params(root, params)
    return params


def write_params(root: Path, params: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def copy_outputs(root: Path, city: str, names: Iterable[str], stage_hint: str) -> Path:
    """Copy ``data/<city>/<name>`` of this checkout into ``root``; exits naming ``stage_hint`` when one is
    missing. Returns the copy's data folder."""
    data = root / "data" / city
    data.mkdir(parents=True, exist_ok=True)
    for name in names:
        src = REPO / "data" / city / name
        if not src.exists():
            sys.exit(f"{src} not found: run 'dvc repro {stage_hint}' first")
        (shutil.copytree if src.is_dir() else shutil.copy)(src, data / name)
    return data
