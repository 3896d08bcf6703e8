"""Vector outputs (GeoJSON, GeoPackage) written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd

from pipeline.io.atomic import atomic_path

_DRIVERS = {".geojson": "GeoJSON", ".gpkg": "GPKG"}
# GDAL stamps a GeoPackage's gpkg_contents.last_change with the current time; a fixed date makes the
# same data give the same bytes (so DVC sees no change and reruns nothing downstream)
GPKG_FIXED_DATE = "2000-01-01T00:00:00.000Z"


def write_vector(gdf: gpd.GeoDataFrame, path: str | os.PathLike) -> None:
    """Write ``gdf`` to ``path`` (format from the extension) via a temporary file."""
    path = Path(path)
    driver = _DRIVERS[path.suffix.lower()]
    if driver == "GPKG":
        import pyogrio  # noqa: PLC0415

        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_FIXED_DATE})
    with atomic_path(path) as tmp:
        gdf.to_file(tmp, driver=driver, engine="pyogrio", layer=path.name.split(".")[0])
