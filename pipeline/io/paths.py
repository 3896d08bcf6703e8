"""Where each stage reads and writes: ``data/<city>/`` and ``results/<city>/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CityPaths:
    """File layout of one city (see the stage table in DESIGN.md)."""

    city: str
    root: Path = Path(".")

    @property
    def data_dir(self) -> Path:
        return self.root / "data" / self.city

    @property
    def results_dir(self) -> Path:
        return self.root / "results" / self.city

    # buildings stage
    @property
    def buildings_geojson(self) -> Path:
        return self.data_dir / "buildings.geojson"

    @property
    def buildings_local(self) -> Path:
        return self.data_dir / "buildings_local.gpkg"

    @property
    def area_json(self) -> Path:
        return self.data_dir / "area.json"

    # scene stage
    @property
    def scene_dir(self) -> Path:
        return self.data_dir / "scene"

    @property
    def scene_xml(self) -> Path:
        return self.scene_dir / "scene.xml"

    @property
    def sites_geojson(self) -> Path:
        return self.data_dir / "sites.geojson"

    @property
    def segments_geojson(self) -> Path:
        return self.data_dir / "segments.geojson"

    # metrics
    @property
    def scene_metrics(self) -> Path:
        return self.results_dir / "scene.json"

    @property
    def timings(self) -> Path:
        return self.results_dir / "timings.json"
