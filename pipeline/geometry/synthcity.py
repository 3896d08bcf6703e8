"""A synthetic city written as a real OpenStreetMap XML file.

The layout follows the statistical city of ITU-R P.1410 (the building-blockage model that
Al-Hourani and Guvenc, "On Modeling Satellite-to-Ground Path-Loss in Urban Environments",
IEEE Commun. Lett. 25(3), 2021, use for satellites), so its statistics are known exactly:

- ``alpha``: built-up area / total area;
- ``beta``: buildings per km^2;
- ``gamma_m``: scale of the Rayleigh distribution of building heights,
  ``f(h) = h / gamma^2 exp(-h^2 / (2 gamma^2))``.

Buildings are squares of side ``sqrt(alpha) s`` on a square lattice of pitch
``s = 1 / sqrt(beta)``, so the built-up ratio is ``alpha`` and the density ``beta``; the streets
between them carry tagged drivable roads (``highway`` = primary / residential / unclassified,
``maxspeed`` on some, none on others) that run to the edge of the box, plus one footway that
cars must not use. Heights are seeded Rayleigh draws (floored at ``min_height_m``); optional
towers replace the heights of randomly chosen buildings. The file goes through the same
reader as any download (``source: osm_file``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from pipeline.errors import StinError
from pipeline.geometry.frame import LocalFrame

# "Urban" environment of ITU-R P.1410 as tabulated by Al-Hourani, Kandeepan and Lardner,
# "Optimal LAP Altitude for Maximum Coverage", IEEE Wireless Commun. Lett. 3(6), 2014, Table I
# (suburban 0.1/750/8, urban 0.3/500/15, dense urban 0.5/300/20, high-rise 0.5/300/50);
# quoted from that paper, not checked against the Recommendation's own text here.
P1410_ENVIRONMENTS = {
    "suburban": (0.1, 750.0, 8.0),
    "urban": (0.3, 500.0, 15.0),
    "dense_urban": (0.5, 300.0, 20.0),
    "high_rise": (0.5, 300.0, 50.0),
}
MIN_HEIGHT_M = 3.0  # one storey (OSM wiki "Simple 3D Buildings": ~3 m per level); project floor
DEFAULT_CENTER = (45.0, 7.0)  # (lat, lon) of the synthetic city: an arbitrary mid-latitude point
ROAD_SPEEDS_KPH = {"primary": 50, "residential": 30}  # urban limits (project choice); unclassified: untagged


@dataclass(frozen=True)
class SynthCity:
    """What :func:`synth_city_osm` built: the box, the statistics and the counts."""

    south: float
    west: float
    north: float
    east: float
    side_m: float
    pitch_m: float
    alpha: float
    beta_per_km2: float
    gamma_m: float
    n_buildings: int
    n_roads: int
    heights_m: np.ndarray

    @property
    def bbox(self) -> dict[str, float]:
        return {"south": self.south, "west": self.west, "north": self.north, "east": self.east}


def synth_city_osm(path: Path, *, size_km: float, alpha: float, beta_per_km2: float, gamma_m: float,
                   seed: int = 0, towers: int = 0, tower_height_m: float = 210.0,
                   center: tuple[float, float] = DEFAULT_CENTER) -> SynthCity:
    """Write the synthetic city of side ~``size_km`` to ``path`` (OSM XML 0.6); see the module doc."""
    if not (0.0 < alpha < 1.0):
        raise StinError(f"alpha {alpha} must be in (0, 1)", "give the built-up area ratio, e.g. 0.3")
    if beta_per_km2 <= 0 or gamma_m <= 0 or size_km <= 0:
        raise StinError("size, beta and gamma must be > 0", "e.g. --size-km 0.5 --beta 500 --gamma 15")
    pitch = 1000.0 / math.sqrt(beta_per_km2)  # lattice pitch s = 1/sqrt(beta) [m]
    n = max(2, round(size_km * 1000.0 / pitch))
    if n > 400:
        raise StinError(f"{n} x {n} buildings is beyond the generator's guard", "use a smaller --size-km")
    if towers > n * n:
        raise StinError(f"{towers} towers but only {n * n} buildings", "lower --towers")
    side = n * pitch
    half = side / 2.0
    width = math.sqrt(alpha) * pitch  # building side: alpha = width^2 / pitch^2
    rng = np.random.default_rng(seed)
    heights = np.maximum(rng.rayleigh(gamma_m, size=n * n), MIN_HEIGHT_M)
    if towers:
        heights[rng.choice(n * n, size=towers, replace=False)] = tower_height_m
    frame = LocalFrame(*center)

    nodes: list[tuple[int, float, float]] = []
    ways: list[tuple[int, list[int], dict[str, str]]] = []

    def node(x: float, y: float) -> int:
        lon, lat = frame.to_wgs84(x, y)
        nodes.append((len(nodes) + 1, float(lat), float(lon)))
        return len(nodes)

    for i in range(n):
        for j in range(n):
            cx, cy = -half + (i + 0.5) * pitch, -half + (j + 0.5) * pitch
            h = width / 2.0
            ring = [node(cx - h, cy - h), node(cx + h, cy - h), node(cx + h, cy + h), node(cx - h, cy + h)]
            ways.append((len(ways) + 1, ring + ring[:1],
                         {"building": "yes", "height": f"{heights[i * n + j]:.1f}"}))
    n_buildings = len(ways)

    # streets on the interior lattice lines, shared nodes at every crossing, cut at the box edge
    lines = [-half + k * pitch for k in range(1, n)]
    crossing: dict[tuple[int, int], int] = {}
    for a, xa in enumerate(lines):
        for b, yb in enumerate(lines):
            crossing[(a, b)] = node(xa, yb)
    for axis in ("ns", "ew"):
        for a, xa in enumerate(lines):
            ends = (node(xa, -half), node(xa, half)) if axis == "ns" else (node(-half, xa), node(half, xa))
            inner = [crossing[(a, b)] if axis == "ns" else crossing[(b, a)] for b in range(len(lines))]
            kind = "primary" if a == len(lines) // 2 else ("unclassified" if a % 3 == 2 else "residential")
            tags = {"highway": kind, "name": f"{'North' if axis == 'ns' else 'East'} street {a + 1}"}
            if kind in ROAD_SPEEDS_KPH:
                tags["maxspeed"] = str(ROAD_SPEEDS_KPH[kind])
            if kind == "primary":
                tags["lanes"] = "2"
            ways.append((len(ways) + 1, [ends[0], *inner, ends[1]], tags))
    # a footpath across the middle: in the file, never in the drivable network
    ways.append((len(ways) + 1, [node(-half, -half + pitch / 2), node(half, half - pitch / 2)],
                 {"highway": "footway"}))
    n_roads = len(ways) - n_buildings

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<osm version="0.6" generator="stin synth-city">']
    out += [f'  <node id="{i}" version="1" lat="{lat:.8f}" lon="{lon:.8f}"/>' for i, lat, lon in nodes]
    for wid, refs, tags in ways:
        out.append(f'  <way id="{wid}" version="1">')
        out += [f'    <nd ref="{r}"/>' for r in refs]
        out += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        out.append("  </way>")
    out.append("</osm>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")

    lon0, lat0 = frame.to_wgs84(np.array([-half, half]), np.array([-half, half]))
    return SynthCity(south=round(float(lat0[0]), 7), west=round(float(lon0[0]), 7),
                     north=round(float(lat0[1]), 7), east=round(float(lon0[1]), 7),
                     side_m=side, pitch_m=pitch, alpha=alpha, beta_per_km2=beta_per_km2, gamma_m=gamma_m,
                     n_buildings=n_buildings, n_roads=n_roads, heights_m=heights)


DEM_CRS = "EPSG:32632"  # UTM 32N: the synthetic city's default centre (7 E) lies in it; any GDAL CRS works
DEM_POST_M = 5.0  # DEM post spacing of the synthetic terrain (finer than Copernicus GLO-30's ~30 m)
DEM_BASE_M = 120.0  # elevation of the synthetic city's centre above the geoid (arbitrary)


def synth_dem(path: Path, *, center: tuple[float, float], side_m: float, margin_m: float = 300.0,
              slope: float = 0.0, hill_height_m: float = 0.0, hill_xy_m: tuple[float, float] = (0.0, 0.0),
              hill_sigma_m: float = 40.0, crs: str = DEM_CRS) -> None:
    """A GeoTIFF DEM (in ``crs``, not the city's frame) around the synthetic city: a plane rising
    ``slope`` (m/m) toward the east plus a Gaussian hill of ``hill_height_m`` at ``hill_xy_m`` (local
    frame) of standard deviation ``hill_sigma_m``:

        z(x, y) = DEM_BASE_M + slope x + H exp(-((x - x_h)^2 + (y - y_h)^2) / (2 sigma^2)).
    """
    import rasterio  # noqa: PLC0415
    from pyproj import Transformer  # noqa: PLC0415

    frame = LocalFrame(*center)
    to_dem = Transformer.from_crs(frame.crs, crs, always_xy=True)
    from_dem = Transformer.from_crs(crs, frame.crs, always_xy=True)
    half = side_m / 2 + margin_m
    corners = np.array([(-half, -half), (half, -half), (half, half), (-half, half)])
    ex, ey = to_dem.transform(corners[:, 0], corners[:, 1])
    e0, n0, e1, n1 = min(ex), min(ey), max(ex), max(ey)
    ncols, nrows = int(np.ceil((e1 - e0) / DEM_POST_M)), int(np.ceil((n1 - n0) / DEM_POST_M))
    ee, nn = np.meshgrid(e0 + (np.arange(ncols) + 0.5) * DEM_POST_M, n1 - (np.arange(nrows) + 0.5) * DEM_POST_M)
    x, y = from_dem.transform(ee, nn)
    z = (DEM_BASE_M + slope * x
         + hill_height_m * np.exp(-((x - hill_xy_m[0]) ** 2 + (y - hill_xy_m[1]) ** 2) / (2 * hill_sigma_m**2)))
    profile = {"driver": "GTiff", "height": nrows, "width": ncols, "count": 1, "dtype": "float32", "crs": crs,
               "transform": rasterio.transform.from_origin(e0, n1, DEM_POST_M, DEM_POST_M), "nodata": -9999.0}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z.astype(np.float32), 1)
