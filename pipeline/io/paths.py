"""Where each stage reads and writes: ``data/<city>/`` and ``results/<city>/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CityPaths:
    """File layout of one city (see the stage table in README.md)."""

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

    # radio stages
    @property
    def orbits_nc(self) -> Path:
        return self.data_dir / "orbits.nc"

    @property
    def routes_geojson(self) -> Path:
        return self.data_dir / "routes.geojson"

    @property
    def trajectory_nc(self) -> Path:
        return self.data_dir / "trajectory.nc"

    @property
    def raypaths_nc(self) -> Path:
        return self.data_dir / "raypaths.nc"

    @property
    def channels_nc(self) -> Path:
        return self.data_dir / "channels.nc"

    @property
    def channels_metrics(self) -> Path:
        return self.results_dir / "channels.json"

    @property
    def radiomaps_nc(self) -> Path:
        return self.data_dir / "radiomaps.nc"

    @property
    def heatmaps_nc(self) -> Path:
        return self.data_dir / "heatmaps.nc"

    @property
    def geotiff_dir(self) -> Path:
        return self.data_dir / "geotiff"

    @property
    def figures_dir(self) -> Path:
        return self.results_dir / "figures"

    @property
    def fidelity_json(self) -> Path:
        return self.results_dir / "fidelity.json"

    @property
    def fidelity_checks_json(self) -> Path:
        return self.data_dir / "fidelity_checks.json"

    @property
    def radiomaps_metrics(self) -> Path:
        return self.results_dir / "radiomaps.json"

    # metrics
    @property
    def scene_metrics(self) -> Path:
        return self.results_dir / "scene.json"

    @property
    def timings(self) -> Path:
        return self.results_dir / "timings.json"
