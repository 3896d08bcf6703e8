"""Ground elevation from a digital elevation model (DEM), in the city's local frame.

A map file may name a DEM (``terrain: path/to/dem.tif``, relative to the map file; any raster
and CRS GDAL reads, e.g. Copernicus GLO-30 or SRTM tiles). It is reprojected (rasterio, bilinear)
onto a regular grid of the local frame covering the area plus a margin, and heights are given
relative to the DEM's height at the area centre (the frame's origin, z = 0), so flat ground is
z = 0 everywhere, as without a DEM. Buildings stand on it, masts and car antennas are heights
above it, the ground mesh of the scene is its triangulated surface, and radio maps are measured
on it (``MapGrid.ground_z_m``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.errors import StinError
from pipeline.geometry.frame import LocalFrame


@dataclass(frozen=True)
class Terrain:
    """Heights z (m, relative to the centre's) on a regular local grid x_m (nx,) by y_m (ny,)."""

    x_m: np.ndarray
    y_m: np.ndarray
    z_m: np.ndarray  # (ny, nx)
    datum_m: float  # DEM elevation at the frame origin (z = 0)

    def height_at(self, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
        """Bilinear ground height at the points (any shape); clamped to the grid beyond its edges."""
        from scipy.interpolate import RegularGridInterpolator  # noqa: PLC0415

        x = np.clip(np.asarray(x_m, float), self.x_m[0], self.x_m[-1])
        y = np.clip(np.asarray(y_m, float), self.y_m[0], self.y_m[-1])
        f = RegularGridInterpolator((self.y_m, self.x_m), self.z_m, method="linear")
        return f(np.stack([y.ravel(), x.ravel()], axis=-1)).reshape(np.shape(x))

    def footprint_base(self, geometry) -> float:  # noqa: ANN001
        """Lowest ground under a footprint (its vertices and centroid): walls reach the ground on a slope."""
        polys = [geometry] if geometry.geom_type == "Polygon" else list(geometry.geoms)
        pts = np.concatenate([np.asarray(p.exterior.coords)[:, :2] for p in polys]
                             + [np.array([[geometry.centroid.x, geometry.centroid.y]])])
        return float(self.height_at(pts[:, 0], pts[:, 1]).min())

    def mesh(self, bounds: tuple[float, float, float, float]):  # noqa: ANN201
        """The ground surface over ``bounds`` (x0, y0, x1, y1) as a trimesh (two triangles per DEM cell, normals +z)."""
        import trimesh  # noqa: PLC0415

        x0, y0, x1, y1 = bounds
        xs = np.unique(np.clip(np.concatenate([[x0], self.x_m[(self.x_m > x0) & (self.x_m < x1)], [x1]]), x0, x1))
        ys = np.unique(np.clip(np.concatenate([[y0], self.y_m[(self.y_m > y0) & (self.y_m < y1)], [y1]]), y0, y1))
        xx, yy = np.meshgrid(xs, ys)
        vertices = np.stack([xx.ravel(), yy.ravel(), self.height_at(xx, yy).ravel()], axis=-1)
        return trimesh.Trimesh(vertices=vertices, faces=grid_faces(len(ys), len(xs)), process=False)

    @classmethod
    def from_dem(cls, path: Path, frame: LocalFrame, bounds: tuple[float, float, float, float],
                 cell_size_m: float) -> "Terrain":
        """Reproject the DEM at ``path`` onto the local frame over ``bounds`` at ``cell_size_m``."""
        import rasterio  # noqa: PLC0415
        from rasterio.warp import Resampling, reproject  # noqa: PLC0415

        if not Path(path).is_file():
            raise StinError(f"terrain DEM {path} not found", "fix 'terrain:' in the map file (a GeoTIFF path)")
        x0, y0, x1, y1 = bounds
        nx = int(np.ceil((x1 - x0) / cell_size_m)) + 1
        ny = int(np.ceil((y1 - y0) / cell_size_m)) + 1
        x = x0 + np.arange(nx) * cell_size_m
        y = y0 + np.arange(ny) * cell_size_m
        out = np.full((ny, nx), np.nan, np.float64)
        # destination rows run north to south in a raster: build it flipped, then flip back
        transform = rasterio.transform.from_origin(x0 - cell_size_m / 2, y[-1] + cell_size_m / 2, cell_size_m, cell_size_m)
        try:
            with rasterio.open(path) as src:
                if src.crs is None:
                    raise StinError(f"terrain DEM {path} has no CRS", "use a georeferenced GeoTIFF (gdalinfo shows its CRS)")
                nodata = src.nodata
                reproject(source=rasterio.band(src, 1), destination=out, dst_transform=transform,
                          dst_crs=frame.crs.to_wkt(), dst_nodata=np.nan, src_nodata=nodata,
                          resampling=Resampling.bilinear)
        except rasterio.errors.RasterioIOError as exc:
            raise StinError(f"cannot read terrain DEM {path} ({str(exc)[:80]})", "give a GeoTIFF GDAL can open") from None
        z = out[::-1]
        if not np.isfinite(z).all():
            share = float(np.mean(~np.isfinite(z)))
            raise StinError(f"terrain DEM {path} does not cover the area ({share:.0%} of it has no data)",
                            "use a DEM that covers the map's bbox plus scene.ground_margin_m")
        terrain = cls(x, y, z, 0.0)
        datum = float(terrain.height_at(np.array(0.0), np.array(0.0)))
        return cls(x, y, z - datum, datum)


def grid_faces(ny: int, nx: int) -> np.ndarray:
    """Triangles of a (ny, nx) vertex grid (row-major), two per cell in cell order (iy, ix),
    counter-clockwise seen from above (normals +z)."""
    iy, ix = np.meshgrid(np.arange(ny - 1), np.arange(nx - 1), indexing="ij")
    v00 = (iy * nx + ix).ravel()
    v10, v01, v11 = v00 + 1, v00 + nx, v00 + nx + 1
    return np.stack([np.stack([v00, v10, v11], -1), np.stack([v00, v11, v01], -1)], axis=1).reshape(-1, 3)


TERRAIN_CELL_M = 10.0  # resampling grid of the DEM (Copernicus GLO-30 posts are ~30 m; finer costs nothing here)
TERRAIN_MARGIN_M = 100.0  # the DEM grid covers the area plus this (>= params.yaml scene.ground_margin_m)


def terrain_record(map_cfg, frame: LocalFrame, area_bounds: tuple[float, float, float, float]  # noqa: ANN001
                   ) -> tuple["Terrain | None", dict | None]:
    """The map's terrain (None for flat ground) and the record stored in area.json that every later
    stage rebuilds it from (:func:`terrain_from_area`)."""
    spec = map_cfg.terrain
    if spec is None:
        return None, None
    cell, margin = float(spec.get("cell_size_m", TERRAIN_CELL_M)), float(spec.get("margin_m", TERRAIN_MARGIN_M))
    x0, y0, x1, y1 = area_bounds
    bounds = (x0 - margin, y0 - margin, x1 + margin, y1 + margin)
    terrain = Terrain.from_dem(Path(spec["path"]), frame, bounds, cell)
    record = {"path": str(spec["path"]), "cell_size_m": cell, "margin_m": margin, "bounds_m": list(bounds),
              "datum_m": round(terrain.datum_m, 3), "z_min_m": round(float(terrain.z_m.min()), 3),
              "z_max_m": round(float(terrain.z_m.max()), 3)}
    return terrain, record


def terrain_from_area(area: dict) -> "Terrain | None":
    """The terrain a city's buildings stage used (area.json ``terrain``), or None for flat ground."""
    rec = area.get("terrain")
    if not rec:
        return None
    return Terrain.from_dem(Path(rec["path"]), LocalFrame.from_dict(area["frame"]), tuple(rec["bounds_m"]),
                            float(rec["cell_size_m"]))
