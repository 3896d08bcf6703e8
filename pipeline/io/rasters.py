"""GeoTIFF layers for GIS tools such as QGIS and web maps: on the project's local metric grid (rasterio,
the exact cells) and reprojected to WGS84 (EPSG:4326) as Cloud-Optimised GeoTIFFs (rioxarray), which
open as they are anywhere."""

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


WGS84 = "EPSG:4326"
COG_OVERSAMPLE = 2  # WGS84 pixels per cell side (project choice: nearest resampling then keeps each cell)
M_PER_DEG_LAT = 111_320.0  # metres per degree of latitude (WGS84 mean; only sets the pixel size)


def write_cog_wgs84(path: str | os.PathLike, bands: np.ndarray, x_m: np.ndarray, y_m: np.ndarray,
                    crs_proj4: str, band_names: list[str] | None = None) -> None:
    """Write (band, y, x) float data of the local grid (ascending y) as a Cloud-Optimised GeoTIFF in
    EPSG:4326, reprojected by rioxarray with nearest-neighbour resampling onto pixels half a cell wide (every
    output pixel holds one traced cell's value, never a blend of dB values); NaN is nodata. Band names go into the band
    descriptions (e.g. the slot times)."""
    import rioxarray  # noqa: F401, PLC0415  (registers the .rio accessor)
    import xarray as xr  # noqa: PLC0415
    from rasterio.enums import Resampling  # noqa: PLC0415

    bands = np.asarray(bands, dtype=np.float32)
    if bands.ndim == 2:
        bands = bands[None]
    names = list(band_names) if band_names else [f"band {i + 1}" for i in range(bands.shape[0])]
    local = xr.DataArray(bands[:, ::-1, :], dims=("band", "y", "x"),
                         coords={"band": np.arange(1, bands.shape[0] + 1), "y": np.asarray(y_m)[::-1],
                                 "x": np.asarray(x_m)})
    local = local.rio.write_crs(CRS.from_proj4(crs_proj4).to_wkt()).rio.write_nodata(np.nan, encoded=False)
    # pixels half a cell in size (in metres at the grid's centre latitude), so that every cell keeps its own
    # pixels despite the small rotation between the local grid and the meridians
    cell_m = float(x_m[1] - x_m[0]) if len(x_m) > 1 else 1.0
    lat0 = float(local.rio.transform_bounds(WGS84)[1] + local.rio.transform_bounds(WGS84)[3]) / 2
    res_lat = cell_m / COG_OVERSAMPLE / M_PER_DEG_LAT
    res_lon = res_lat / np.cos(np.radians(lat0))
    geo = local.rio.reproject(WGS84, resolution=(res_lon, res_lat), resampling=Resampling.nearest, nodata=np.nan)
    geo.attrs["long_name"] = tuple(names)  # rioxarray writes these as the band descriptions
    with atomic_path(Path(path), ".tif") as tmp:
        geo.rio.to_raster(tmp, driver="COG", compress="DEFLATE", dtype="float32")
