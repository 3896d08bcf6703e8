"""The local metric frame of a city area.

x points east, y north, z up (metres), origin at the area centre on the ground. It is a
transverse Mercator projection with scale 1 tangent at the origin: within a few km it
matches the local east-north-up tangent plane to well under a centimetre horizontally,
and it is a real CRS, so geopandas/pyproj convert to and from WGS84 exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pyproj import CRS, Transformer

WGS84 = "EPSG:4326"


@dataclass(frozen=True)
class LocalFrame:
    """Local east-north-up frame centred at (``lat0_deg``, ``lon0_deg``)."""

    lat0_deg: float
    lon0_deg: float

    @property
    def proj4(self) -> str:
        return (f"+proj=tmerc +lat_0={float(self.lat0_deg)!r} +lon_0={float(self.lon0_deg)!r} +k=1 "
                "+x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs")

    @property
    def crs(self) -> CRS:
        return CRS.from_proj4(self.proj4)

    def to_local(self, lon_deg: Any, lat_deg: Any) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 lon/lat (degrees) -> local x/y (metres)."""
        tr = Transformer.from_crs(WGS84, self.crs, always_xy=True)
        x, y = tr.transform(np.asarray(lon_deg, float), np.asarray(lat_deg, float))
        return np.asarray(x), np.asarray(y)

    def to_wgs84(self, x_m: Any, y_m: Any) -> tuple[np.ndarray, np.ndarray]:
        """Local x/y (metres) -> WGS84 lon/lat (degrees)."""
        tr = Transformer.from_crs(self.crs, WGS84, always_xy=True)
        lon, lat = tr.transform(np.asarray(x_m, float), np.asarray(y_m, float))
        return np.asarray(lon), np.asarray(lat)

    def to_dict(self) -> dict[str, Any]:
        return {"lat0_deg": self.lat0_deg, "lon0_deg": self.lon0_deg,
                "crs_proj4": self.proj4, "axes": "x east, y north, z up; metres"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LocalFrame":
        return cls(float(d["lat0_deg"]), float(d["lon0_deg"]))
