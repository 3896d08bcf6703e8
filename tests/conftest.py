"""Shared fixtures: a throw-away project folder and map files written on the fly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (params.yaml + maps/) in tmp, made the working directory."""
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "maps", tmp_path / "maps")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_map(project_dir: Path, city: str, **overrides) -> Path:
    """Write maps/<city>.yaml based on the test fixture's bbox, with overrides."""
    from osm_fixture import BBOX  # noqa: PLC0415

    data = {
        "bbox": dict(BBOX),
        "source": {"type": "osm_online"},
        "segment_size_deg": {"lat": 0.001, "lon": 0.0015},
        "heights": {"level_height_m": 3.0, "default_height_m": 10.0, "by_type_m": {"garage": 3.0},
                    "min_height_by_type_m": {"roof": 3.5}},
    }
    data.update(overrides)
    path = project_dir / "maps" / f"{city}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def set_city(project_dir: Path, city: str) -> None:
    params = yaml.safe_load((project_dir / "params.yaml").read_text())
    params["city"] = city
    (project_dir / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")


def outputs_under(project_dir: Path) -> list[str]:
    """Every file the pipeline wrote (data/ and results/), for no-partial-output checks."""
    found = []
    for sub in ("data", "results"):
        root = project_dir / sub
        if root.exists():
            found += [str(p.relative_to(project_dir)) for p in root.rglob("*")
                      if p.is_file() and ".osmnx-cache" not in p.parts]
    return sorted(found)


# ---- CPU or GPU: one switch, as Sionna RT's own test suite does -----------------------
def pytest_addoption(parser):
    parser.addoption("--gpu", action="store_true", default=False,
                     help="run ray-tracing tests on the CUDA variant (default: the CPU/LLVM variant)")


def pytest_configure(config):
    import os

    from pipeline.runtime import RT_VARIANT_ENV

    os.environ[RT_VARIANT_ENV] = "cuda_ad_mono_polarized" if config.getoption("--gpu") else "llvm_ad_mono_polarized"


def pytest_collection_modifyitems(config, items):
    """Longest first (stable otherwise): the whole-pipeline runs, then the other slow tests, then the rest. On
    two workers (`make test`, work stealing from the back of the queue) the long runs start at once and the
    short tests fill the other worker, instead of a pipeline run starting last."""
    items.sort(key=lambda item: (item.get_closest_marker("slow") is None, item.path.name != "test_pipeline.py"))


@pytest.fixture(scope="session")
def helsinki(tmp_path_factory):
    """buildings + scene of the embedded default, run once per test session."""
    from pipeline.io.paths import CityPaths
    from pipeline.stages import buildings as buildings_stage
    from pipeline.stages import scene as scene_stage
    from pipeline.stages._common import run_stage

    root = tmp_path_factory.mktemp("helsinki")
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    shutil.copytree(REPO / "maps", root / "maps")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        assert run_stage("buildings", buildings_stage.build) == 0
        assert run_stage("scene", scene_stage.build) == 0
    return CityPaths("helsinki", root)


def readme_example(name: str) -> str:
    """The Python block after ``<!-- example:NAME -->`` in the README (tests run every such example)."""
    readme = (REPO / "README.md").read_text()
    marker = f"<!-- example:{name} -->"
    assert marker in readme, marker
    return readme.split(marker)[1].split("```python")[1].split("```")[0]


README_EXAMPLES = ("channels", "torch", "sionna", "deepmimo")
