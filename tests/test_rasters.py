"""GeoTIFF outputs: the local-grid file keeps the exact cells; the EPSG:4326 Cloud-Optimised GeoTIFF opens
with a standard CRS and holds, at each cell centre's longitude/latitude, that cell's value."""

from __future__ import annotations

import numpy as np
import rasterio

from pipeline.geometry.frame import LocalFrame
from pipeline.io.rasters import write_cog_wgs84, write_geotiff


def test_local_and_wgs84_geotiffs(tmp_path):
    frame = LocalFrame(60.17, 24.94)  # Helsinki
    x = np.arange(-200.0, 200.0, 5.0)
    y = np.arange(-150.0, 150.0, 5.0)
    rng = np.random.default_rng(1)
    bands = rng.uniform(-20, 40, (2, y.size, x.size)).astype(np.float32)
    bands[:, :3, :] = np.nan  # masked cells stay nodata
    write_geotiff(tmp_path / "local.tif", bands, x, y, frame.proj4, band_names=["t0", "t1"])
    write_cog_wgs84(tmp_path / "wgs84.tif", bands, x, y, frame.proj4, band_names=["t0", "t1"])
    with rasterio.open(tmp_path / "local.tif") as src:
        np.testing.assert_array_equal(src.read()[:, ::-1, :], bands)  # rows north-up in the file
    with rasterio.open(tmp_path / "wgs84.tif") as src:
        assert src.crs.to_epsg() == 4326 and src.count == 2
        assert src.descriptions == ("t0", "t1")
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        data = src.read()
        # interior cell centres, mapped to lon/lat, read back the cell's own value (nearest resampling)
        iy, ix = np.meshgrid(np.arange(10, y.size - 5, 7), np.arange(5, x.size - 5, 7), indexing="ij")
        lon, lat = frame.to_wgs84(x[ix], y[iy])
        rows, cols = rasterio.transform.rowcol(src.transform, lon.ravel(), lat.ravel())
        got = data[:, rows, cols]
        want = bands[:, iy.ravel(), ix.ravel()]
        assert np.mean(got == want) > 0.99  # half-cell pixels: every sampled cell centre reads its own cell
        assert np.isnan(data).any() and np.isfinite(data).mean() > 0.5
        # the grid spans the same place
        west, south = frame.to_wgs84(x[0], y[0])
        east, north = frame.to_wgs84(x[-1], y[-1])
        b = src.bounds
        assert abs(b.left - west) < 1e-3 and abs(b.right - east) < 1e-3
        assert abs(b.bottom - south) < 1e-3 and abs(b.top - north) < 1e-3
