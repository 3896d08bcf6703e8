"""Map segments and base-station sites (Nguyen-Kha et al., arXiv 2408.15394: one BS per segment, on its highest building).

The area is tiled from its south-west corner into segments of ``lat_deg`` x ``lon_deg``
(edge segments are clipped to the area). A building volume belongs to the segment that
holds its anchor point, the pole of inaccessibility of its largest polygon
(``shapely.polylabel``), which always lies inside the footprint. Each segment with
buildings gets one site at the anchor of its highest volume (ties: larger footprint, then
lower id), ``mast_height_m`` above the roof.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely
from shapely.ops import polylabel
from shapely.geometry import Polygon, box

from pipeline.config import BBox
from pipeline.geometry.frame import WGS84, LocalFrame

POLYLABEL_TOLERANCE_M = 0.1


def segment_grid(bbox: BBox, lat_deg: float, lon_deg: float) -> gpd.GeoDataFrame:
    """Segments (WGS84) tiling the bbox: ``segment_id`` 'rRcC', row from south, col from west."""
    n_rows = max(1, math.ceil((bbox.north - bbox.south) / lat_deg - 1e-9))
    n_cols = max(1, math.ceil((bbox.east - bbox.west) / lon_deg - 1e-9))
    records = []
    for r in range(n_rows):
        for c in range(n_cols):
            s = bbox.south + r * lat_deg
            w = bbox.west + c * lon_deg
            geom = box(w, s, min(w + lon_deg, bbox.east), min(s + lat_deg, bbox.north))
            records.append({"segment_id": f"r{r}c{c}", "row": r, "col": c, "geometry": geom})
    return gpd.GeoDataFrame(records, geometry="geometry", crs=WGS84)


def anchor_point(geometry) -> shapely.Point:  # noqa: ANN001
    """A point inside the footprint, far from its walls (pole of inaccessibility)."""
    poly = geometry if isinstance(geometry, Polygon) else max(geometry.geoms, key=lambda g: g.area)
    return polylabel(poly, tolerance=POLYLABEL_TOLERANCE_M)


def assign_segments(volumes: gpd.GeoDataFrame, bbox: BBox, lat_deg: float, lon_deg: float,
                    frame: LocalFrame) -> gpd.GeoDataFrame:
    """Add ``anchor_x_m``, ``anchor_y_m``, ``anchor_lon``, ``anchor_lat``, ``segment_id``."""
    out = volumes.copy()
    anchors = [anchor_point(g) for g in out.geometry]
    ax = np.array([p.x for p in anchors])
    ay = np.array([p.y for p in anchors])
    lon, lat = frame.to_wgs84(ax, ay)
    n_rows = max(1, math.ceil((bbox.north - bbox.south) / lat_deg - 1e-9))
    n_cols = max(1, math.ceil((bbox.east - bbox.west) / lon_deg - 1e-9))
    rows = np.clip(np.floor((lat - bbox.south) / lat_deg).astype(int), 0, n_rows - 1)
    cols = np.clip(np.floor((lon - bbox.west) / lon_deg).astype(int), 0, n_cols - 1)
    out["anchor_x_m"], out["anchor_y_m"] = ax, ay
    out["anchor_lon"], out["anchor_lat"] = lon, lat
    out["segment_id"] = [f"r{r}c{c}" for r, c in zip(rows, cols)]
    return out


def place_sites(volumes: gpd.GeoDataFrame, mast_height_m: float) -> gpd.GeoDataFrame:
    """One BS per segment with buildings, on the roof of its highest volume.

    ``volumes`` must carry the columns of :func:`assign_segments`. Returns WGS84 points with
    ``site_id``, ``segment_id``, ``lon``, ``lat``, ``x_m``, ``y_m``, ``z_m``,
    ``building_id``, ``volume_id``, ``roof_height_m``.
    """
    ranked = volumes.assign(_area=volumes.geometry.area).sort_values(
        ["segment_id", "height_m", "_area", "volume_id"], ascending=[True, False, False, True])
    top = ranked.drop_duplicates("segment_id", keep="first").copy()
    # segment order: south to north, west to east
    top["_row"] = top["segment_id"].str.extract(r"r(\d+)c")[0].astype(int)
    top["_col"] = top["segment_id"].str.extract(r"c(\d+)$")[0].astype(int)
    top = top.sort_values(["_row", "_col"]).reset_index(drop=True)
    sites = gpd.GeoDataFrame({
        "site_id": [f"bs{i:02d}" for i in range(len(top))],
        "segment_id": top["segment_id"].to_numpy(),
        "lon": top["anchor_lon"].to_numpy(),
        "lat": top["anchor_lat"].to_numpy(),
        "x_m": top["anchor_x_m"].round(3).to_numpy(),
        "y_m": top["anchor_y_m"].round(3).to_numpy(),
        "z_m": (top.get("ground_z_m", 0.0) + top["height_m"] + mast_height_m).round(3).to_numpy(),
        "roof_height_m": top["height_m"].to_numpy(),
        "building_id": top["building_id"].to_numpy(),
        "volume_id": top["volume_id"].to_numpy(),
    }, geometry=gpd.points_from_xy(top["anchor_lon"], top["anchor_lat"]), crs=WGS84)
    return sites
