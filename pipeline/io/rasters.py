"""GeoTIFF layers (rasterio) for GIS tools such as QGIS."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from pipeline.io.atomic import atomic_path


def write_geotiff(path: str | os.PathLike, bands: np.ndarray, x_m: np.ndarray, y_m: np.ndarray,
                  crs_proj4: str, band_names: list[str] | None = None) -> None:
    """Write (band, y, x) float data on an ascending-y grid of square cells as a GeoTIFF.

    NaN is the nodata value (masked cells).
    """
    bands = np.asarray(bands, dtype=np.float32)
    if bands.ndim == 2:
        bands = bands[None]
    cell = float(x_m[1] - x_m[0]) if len(x_m) > 1 else 1.0
    transform = from_origin(float(x_m[0]) - cell / 2, float(y_m[-1]) + cell / 2, cell, cell)
    with atomic_path(Path(path)) as tmp:
        with rasterio.open(tmp, "w", driver="GTiff", height=bands.shape[1], width=bands.shape[2],
                           count=bands.shape[0], dtype="float32", crs=CRS.from_proj4(crs_proj4),
                           transform=transform, nodata=np.nan, compress="deflate") as dst:
            dst.write(bands[:, ::-1, :])  # north-up rows
            for i, name in enumerate(band_names or []):
                dst.set_band_description(i + 1, name)
