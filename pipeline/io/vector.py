"""Vector outputs (GeoJSON, GeoPackage) written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd

from pipeline.io.atomic import atomic_path

_DRIVERS = {".geojson": "GeoJSON", ".gpkg": "GPKG"}


def write_vector(gdf: gpd.GeoDataFrame, path: str | os.PathLike) -> None:
    """Write ``gdf`` to ``path`` (format from the extension) via a temporary file."""
    path = Path(path)
    driver = _DRIVERS[path.suffix.lower()]
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, driver=driver, engine="pyogrio", layer=path.name.split(".")[0])
