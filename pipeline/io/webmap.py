"""``stin view``: one self-contained HTML map page of a city's outputs, that works offline.

The page inlines Leaflet 1.9.4 (``pipeline/io/vendor/leaflet``, BSD 2-Clause) and every layer:

- the CINR maps of ``heatmaps.nc`` (every ``cinr_*_db`` variable: BS and LEO; one overlay per network,
  a slot selector swaps the slot's image), each rendered to a palette PNG with one fixed colour map and
  range in dB for all layers (NaN: transparent), resampled by nearest cell onto a grid regular in Web
  Mercator (what Leaflet's image overlays assume) from the local transverse-Mercator frame;
- building footprints (``buildings.geojson``, simplified to ~0.5 m and rounded to ~0.1 m), the BS sites
  (``sites.geojson``; sector bearings from ``radiomaps.nc`` when it is there), the car routes
  (``routes.geojson``) and the cars at the slot (``trajectory.nc``);
- the sub-satellite ground tracks of every satellite above the elevation mask during the window
  (from ``orbits.nc``'s look angles: observer + slant range x direction, back to WGS84), hundreds of
  km from the city;
- a legend (colour bar in dB, value under the cursor), a scale bar, and OpenStreetMap tiles as an
  optional layer, off: nothing is fetched from the network unless the user turns them on.

:func:`build_page` works on in-memory datasets (tests); :func:`load_inputs` and :func:`write_webmap`
read a ``data/<city>`` folder.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from pyproj import Geod, Transformer

from pipeline.errors import StinError
from pipeline.geometry.frame import WGS84, LocalFrame
from pipeline.io.atomic import atomic_path, json_safe

VENDOR_DIR = Path(__file__).resolve().parent / "vendor" / "leaflet"
PAGE_DIR = Path(__file__).resolve().parent / "webmap_page"  # the page's HTML skeleton, its CSS and its script
LEAFLET_VERSION = "1.9.4"
DEFAULT_VMIN_DB = -50.0  # one fixed range for every CINR layer, so colours compare across networks and slots
DEFAULT_VMAX_DB = 40.0   # (Helsinki: BS p10-p90 -14..35 dB, LEO -48..-12 dB; project choice)
COLORMAP = "viridis"     # as the project's CINR figures (pipeline/io/figures.py)
PALETTE_LEVELS = 255     # palette index 0 is transparent (NaN / outside the grid), 1..255 the colour map
BUILDING_TOLERANCE_DEG = 5e-6  # ~0.3-0.6 m: footprint simplification (page size; the maps have 5 m cells)
COORD_DECIMALS = 6       # ~0.1 m in WGS84 degrees
TRACK_DECIMALS = 4       # ~10 m: satellite ground tracks lie hundreds of km away
SECTOR_LINE_M = 60.0     # drawn length of a sector's bearing from its site
CINR_LABELS = {"cinr_bs_db": "CINR BS (terrestrial)", "cinr_leo_db": "CINR LEO (satellite)"}
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


@dataclass
class WebmapInputs:
    """What the page shows; every layer but the CINR maps is optional (None: left out)."""

    frame: LocalFrame
    heatmaps: xr.Dataset
    bbox: tuple[float, float, float, float] | None = None  # south, west, north, east (area.json)
    buildings: Any = None       # GeoDataFrame in WGS84 (buildings.geojson)
    sites: Any = None           # GeoDataFrame in WGS84 (sites.geojson)
    routes: Any = None          # GeoDataFrame in WGS84 (routes.geojson)
    trajectory: xr.Dataset | None = None
    orbits: xr.Dataset | None = None
    sector_bearings: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # site -> [(sector, deg)]
    skipped: list[str] = field(default_factory=list)  # optional inputs not found (reported by the CLI)


@dataclass(frozen=True)
class WebmapSummary:
    path: Path
    size_bytes: int
    layers: dict[str, int]
    skipped: tuple[str, ...]


# ---- CINR rasters -------------------------------------------------------------------------------------------

def palette_rgb(cmap: str = COLORMAP) -> np.ndarray:
    """(PALETTE_LEVELS, 3) uint8 colours of the colour map from its low to its high end."""
    from matplotlib import colormaps  # noqa: PLC0415

    rgba = colormaps[cmap](np.linspace(0.0, 1.0, PALETTE_LEVELS))
    return np.round(rgba[:, :3] * 255).astype(np.uint8)


def _nearest_index(coord: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the cell of a monotonic ascending cell-centre axis holding each query; valid mask."""
    coord = np.asarray(coord, float)  # at least 2 cells (RasterWarp.for_grid checks)
    edges = np.concatenate([[coord[0] - (coord[1] - coord[0]) / 2], (coord[1:] + coord[:-1]) / 2,
                            [coord[-1] + (coord[-1] - coord[-2]) / 2]])
    idx = np.searchsorted(edges, query, side="right") - 1
    valid = (idx >= 0) & (idx < coord.size)
    return np.clip(idx, 0, coord.size - 1), valid


@dataclass(frozen=True)
class RasterWarp:
    """Nearest-cell resampling of a local (y, x) grid onto an image regular in Web Mercator."""

    rows: np.ndarray    # (H, W) source y index of each image pixel
    cols: np.ndarray    # (H, W) source x index
    valid: np.ndarray   # (H, W) pixel inside the grid
    bounds: tuple[tuple[float, float], tuple[float, float]]  # ((south, west), (north, east)) degrees

    @classmethod
    def for_grid(cls, x_m: np.ndarray, y_m: np.ndarray, frame: LocalFrame, upsample: int = 1) -> "RasterWarp":
        x_m, y_m = np.asarray(x_m, float), np.asarray(y_m, float)
        if x_m.size < 2 or y_m.size < 2 or np.any(np.diff(x_m) <= 0) or np.any(np.diff(y_m) <= 0):
            raise StinError("heatmaps.nc has no ascending x/y grid of at least 2 x 2 cells",
                            "rerun the heatmaps stage (`dvc repro`)")
        dx, dy = x_m[1] - x_m[0], y_m[1] - y_m[0]
        ex = np.array([x_m[0] - dx / 2, x_m[-1] + dx / 2])
        ey = np.array([y_m[0] - dy / 2, y_m[-1] + dy / 2])
        # the grid's outline (corners and edge points) in Web Mercator: the image's extent
        t = np.linspace(0.0, 1.0, 17)
        ox = np.concatenate([ex[0] + (ex[1] - ex[0]) * t, np.full(t.size, ex[1]),
                             ex[1] - (ex[1] - ex[0]) * t, np.full(t.size, ex[0])])
        oy = np.concatenate([np.full(t.size, ey[0]), ey[0] + (ey[1] - ey[0]) * t,
                             np.full(t.size, ey[1]), ey[1] - (ey[1] - ey[0]) * t])
        to_merc = Transformer.from_crs(frame.crs, "EPSG:3857", always_xy=True)
        mx, my = to_merc.transform(ox, oy)
        mx0, mx1, my0, my1 = float(np.min(mx)), float(np.max(mx)), float(np.min(my)), float(np.max(my))
        pixel = max((mx1 - mx0) / x_m.size, (my1 - my0) / y_m.size) / max(1, int(upsample))
        width, height = int(math.ceil((mx1 - mx0) / pixel)), int(math.ceil((my1 - my0) / pixel))
        mx1, my0 = mx0 + width * pixel, my1 - height * pixel  # whole pixels, anchored at the north-west corner
        px = mx0 + (np.arange(width) + 0.5) * pixel
        py = my1 - (np.arange(height) + 0.5) * pixel  # image rows run north to south
        gx, gy = np.meshgrid(px, py)
        lx, ly = Transformer.from_crs("EPSG:3857", frame.crs, always_xy=True).transform(gx, gy)
        cols, vx = _nearest_index(x_m, lx)
        rows, vy = _nearest_index(y_m, ly)
        to_geo = Transformer.from_crs("EPSG:3857", WGS84, always_xy=True)
        west, south = to_geo.transform(mx0, my0)
        east, north = to_geo.transform(mx1, my1)
        return cls(rows, cols, vx & vy, ((float(south), float(west)), (float(north), float(east))))

    def apply(self, values: np.ndarray) -> np.ndarray:
        out = np.asarray(values, float)[self.rows, self.cols]
        out[~self.valid] = np.nan
        return out


def encode_png(values: np.ndarray, vmin: float, vmax: float, palette: np.ndarray) -> bytes:
    """A palette PNG of (rows north to south) ``values``: NaN transparent, the rest clipped to [vmin, vmax]."""
    from PIL import Image  # noqa: PLC0415  (a matplotlib dependency)

    finite = np.isfinite(values)
    scaled = np.clip((np.where(finite, values, vmin) - vmin) / (vmax - vmin), 0.0, 1.0)
    index = np.where(finite, 1 + np.rint(scaled * (PALETTE_LEVELS - 1)), 0).astype(np.uint8)
    img = Image.fromarray(index, mode="P")
    img.putpalette(np.concatenate([[0, 0, 0], palette.reshape(-1)]).astype(np.uint8).tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True, transparency=0)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def cinr_variables(heatmaps: xr.Dataset) -> list[str]:
    """The CINR layers of a heatmaps dataset: ``cinr_*_db`` on the (y, x) grid (BS first, then LEO, then others)."""
    names = [v for v in heatmaps.data_vars if re.fullmatch(r"cinr_\w+_db", str(v))
             and {"y", "x"} <= set(heatmaps[v].dims)]
    order = {"cinr_bs_db": 0, "cinr_leo_db": 1}
    return sorted(names, key=lambda v: (order.get(v, 2), v))


def cinr_layers(heatmaps: xr.Dataset, frame: LocalFrame, vmin: float, vmax: float, *,
                upsample: int = 1) -> tuple[list[dict[str, Any]], RasterWarp]:
    """One entry per CINR variable: name, label, units and one PNG data URI per slot (1 for a static map)."""
    if not vmax > vmin:
        raise StinError(f"the colour range {vmin:g}..{vmax:g} dB is empty", "pass --vmin-db below --vmax-db")
    names = cinr_variables(heatmaps)
    if not names:
        raise StinError("heatmaps.nc holds no cinr_*_db map", "rerun the heatmaps stage (`dvc repro`)")
    warp = RasterWarp.for_grid(heatmaps["x"].values, heatmaps["y"].values, frame, upsample)
    palette = palette_rgb()
    layers = []
    for name in names:
        da = heatmaps[name]
        da = da.transpose("time", "y", "x") if "time" in da.dims else da.transpose("y", "x").expand_dims("time")
        images = [data_uri(encode_png(warp.apply(da.values[t]), vmin, vmax, palette)) for t in range(da.shape[0])]
        label = CINR_LABELS.get(name, str(da.attrs.get("long_name", name)))
        layers.append({"name": name, "label": label, "units": str(da.attrs.get("units", "dB")), "images": images})
    return layers, warp


# ---- vector layers ------------------------------------------------------------------------------------------

def _round_geometry(geom, decimals: int):  # noqa: ANN001, ANN202
    import shapely  # noqa: PLC0415

    return shapely.transform(geom, lambda c: np.round(c, decimals))


def _value(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else round(float(v), 2)
    return str(v) if not isinstance(v, (int, str, bool)) else v


def feature_collection(gdf, columns: dict[str, str], *, tolerance_deg: float = 0.0,  # noqa: ANN001
                       decimals: int = COORD_DECIMALS) -> dict[str, Any]:
    """A compact WGS84 GeoJSON dict: ``columns`` maps the kept columns to their short property names."""
    if gdf.crs is not None and not gdf.crs.equals(WGS84):
        gdf = gdf.to_crs(WGS84)
    geoms = gdf.geometry
    if tolerance_deg > 0:
        geoms = geoms.simplify(tolerance_deg, preserve_topology=True)
    features = []
    for (_, row), geom in zip(gdf.iterrows(), geoms):
        if geom is None or geom.is_empty:
            continue
        props = {short: _value(row[col]) for col, short in columns.items() if col in gdf.columns}
        features.append({"type": "Feature", "properties": props,
                         "geometry": _round_geometry(geom, decimals).__geo_interface__})
    return {"type": "FeatureCollection", "features": features}


def site_layer(sites, bearings: dict[str, list[tuple[str, float]]], frame: LocalFrame) -> list[dict[str, Any]]:  # noqa: ANN001
    """One entry per BS site: position, popup fields and its sectors' bearing lines."""
    if sites.crs is not None and not sites.crs.equals(WGS84):
        sites = sites.to_crs(WGS84)
    out = []
    for _, row in sites.iterrows():
        lon, lat = float(row.geometry.x), float(row.geometry.y)
        sid = str(row.get("site_id", ""))
        x0, y0 = (float(v) for v in frame.to_local(lon, lat))
        sectors = []
        for name, bearing in bearings.get(sid, []):
            b = math.radians(bearing)
            elon, elat = frame.to_wgs84(x0 + SECTOR_LINE_M * math.sin(b), y0 + SECTOR_LINE_M * math.cos(b))
            sectors.append({"name": name, "bearing_deg": round(float(bearing), 1),
                            "end": [round(float(elat), COORD_DECIMALS), round(float(elon), COORD_DECIMALS)]})
        fields = {k: _value(row[k]) for k in ("segment_id", "z_m", "roof_height_m", "building_id")
                  if k in sites.columns}
        out.append({"id": sid, "lat": round(lat, COORD_DECIMALS), "lon": round(lon, COORD_DECIMALS),
                    "fields": fields, "sectors": sectors})
    return out


def sector_bearings(radiomaps: xr.Dataset) -> dict[str, list[tuple[str, float]]]:
    """site -> [(sector name, bearing from north, degrees)] from a radio-map dataset's bs coordinates."""
    if "bs_bearing_deg" not in radiomaps or "bs_site" not in radiomaps.coords:
        return {}
    out: dict[str, list[tuple[str, float]]] = {}
    for name, site, bearing in zip(radiomaps["bs"].values, radiomaps["bs_site"].values,
                                   radiomaps["bs_bearing_deg"].values):
        out.setdefault(str(site), []).append((str(name), float(bearing)))
    return out


def subsatellite_points(orbits: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time, sat) latitude, longitude (degrees) and height (m) of every satellite, WGS84, from the look
    angles of ``orbits.nc``: the inverse of pipeline.orbits.constellation.look_angles (observer on the
    ellipsoid at observer_lat/lon_deg)."""
    lat0, lon0 = float(orbits.attrs["observer_lat_deg"]), float(orbits.attrs["observer_lon_deg"])
    ox, oy, oz = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True).transform(lon0, lat0, 0.0)
    la, lo = math.radians(lat0), math.radians(lon0)
    rot = np.array([[-math.sin(lo), math.cos(lo), 0.0],
                    [-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)],
                    [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]])
    enu = orbits["direction_enu"].transpose("time", "sat", "enu").values \
        * orbits["slant_range_m"].transpose("time", "sat").values[..., None]
    ecef = enu @ rot + np.array([ox, oy, oz])  # enu = rel @ rot.T
    lon, lat, h = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True).transform(
        ecef[..., 0], ecef[..., 1], ecef[..., 2])
    return np.asarray(lat), np.asarray(lon), np.asarray(h)


def _slot_index(times: np.ndarray, other: np.ndarray) -> np.ndarray:
    """For each of ``times`` the index of the nearest of ``other`` (both datetime64)."""
    t = np.asarray(times, "datetime64[ns]").astype(np.int64)
    o = np.asarray(other, "datetime64[ns]").astype(np.int64)
    return np.abs(t[:, None] - o[None, :]).argmin(axis=1)


def satellite_layer(orbits: xr.Dataset, times: np.ndarray) -> dict[str, Any]:
    """Ground tracks of every satellite above the mask in some slot; the serving set per page slot."""
    el = orbits["elevation_deg"].transpose("time", "sat").values
    az = orbits["azimuth_deg"].transpose("time", "sat").values
    mask = float(orbits.attrs.get("min_elevation_deg", 0.0))
    serving = orbits["serving_sat"].transpose("time", "rank").values if "serving_sat" in orbits else \
        np.full((el.shape[0], 0), -1)
    shown = np.flatnonzero((el >= mask).any(axis=0) | np.isin(np.arange(el.shape[1]), serving[serving >= 0]))
    lat, lon, h = subsatellite_points(orbits.isel(sat=shown))
    names = [str(s) for s in orbits["sat"].values[shown]]
    where = {int(s): k for k, s in enumerate(shown)}
    slot_of = _slot_index(times, orbits["time"].values)
    tracks = []
    for k, s in enumerate(shown):
        served = [int(i) for i in range(len(slot_of)) if s in serving[slot_of[i]]]
        lon_k = np.degrees(np.unwrap(np.radians(lon[:, k])))  # no jump across the antimeridian
        tracks.append({"id": names[k], "lat": np.round(lat[:, k], TRACK_DECIMALS).tolist(),
                       "lon": np.round(lon_k, TRACK_DECIMALS).tolist(),
                       "el": np.round(el[:, s], 1).tolist(), "az": np.round(az[:, s], 1).tolist(),
                       "alt_km": round(float(np.mean(h[:, k])) / 1e3, 1), "served_slots": served})
    per_slot = [[{"track": where[int(s)], "rank": r, "step": int(slot_of[i])}
                 for r, s in enumerate(serving[slot_of[i]]) if s >= 0] for i in range(len(slot_of))]
    # where the tracks are, seen from the city (they lie hundreds of km away: the page says where to look)
    lat0, lon0 = float(orbits.attrs["observer_lat_deg"]), float(orbits.attrs["observer_lon_deg"])
    nearest_km, direction = None, ""
    if shown.size:
        geod = Geod(ellps="WGS84")
        az, _, dist = geod.inv(np.full(lat.size, lon0), np.full(lat.size, lat0), lon.ravel(), lat.ravel())
        k = int(np.argmin(dist))
        nearest_km = round(float(dist[k]) / 1e3)
        direction = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")[int(((az[k] % 360) + 22.5) // 45) % 8]
    return {"tracks": tracks, "serving": per_slot, "mask_deg": mask, "nearest_km": nearest_km,
            "direction": direction, "description": str(orbits.attrs.get("description", ""))}


def car_layer(trajectory: xr.Dataset, times: np.ndarray) -> dict[str, Any]:
    """Car positions at each page slot (nearest trajectory time)."""
    slot_of = _slot_index(times, trajectory["time"].values)
    lat = trajectory["lat"].transpose("time", "ue").values[slot_of]
    lon = trajectory["lon"].transpose("time", "ue").values[slot_of]
    speed = trajectory["speed_m_s"].transpose("time", "ue").values[slot_of] if "speed_m_s" in trajectory else None
    return {"ids": [str(u) for u in trajectory["ue"].values],
            "lat": np.round(lat, COORD_DECIMALS).tolist(), "lon": np.round(lon, COORD_DECIMALS).tolist(),
            "speed": None if speed is None else np.round(speed, 1).tolist()}


# ---- the page -----------------------------------------------------------------------------------------------

def _vendor_text(name: str) -> str:
    path = VENDOR_DIR / name
    if not path.is_file():
        raise StinError(f"the vendored Leaflet file {path} is missing", "reinstall stin-raytrace (pip install -e .)")
    return path.read_text(encoding="utf-8")


def _page_part(name: str) -> str:
    """One file of the page template (pipeline/io/webmap_page: page.html with @@markers@@, page.css, page.js)."""
    path = PAGE_DIR / name
    if not path.is_file():
        raise StinError(f"the map page template {path} is missing", "reinstall stin-raytrace (pip install -e .)")
    return path.read_text(encoding="utf-8")


def leaflet_assets() -> tuple[str, str]:
    """Leaflet's CSS (its images inlined as data URIs) and JS, ready to inline."""
    css = _vendor_text("leaflet.css")

    def inline(match: re.Match) -> str:
        img = VENDOR_DIR / "images" / match.group(1)
        return f"url({data_uri(img.read_bytes())})" if img.is_file() else "none"

    css = re.sub(r"url\(images/([\w.-]+)\)", inline, css)
    js = re.sub(r"^//# sourceMappingURL=.*$", "", _vendor_text("leaflet.js"), flags=re.M)
    if "</script" in js.lower():
        raise StinError("the vendored leaflet.js contains '</script'", "restore pipeline/io/vendor/leaflet")
    return css, js


def _ticks(vmin: float, vmax: float) -> list[float]:
    span = vmax - vmin
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1e3, 1e4) if span / s <= 10)
    first = math.ceil(vmin / step) * step
    return [round(v, 6) for v in np.arange(first, vmax + step * 1e-9, step)]


def page_data(inputs: WebmapInputs, *, city: str, vmin: float, vmax: float,
              upsample: int = 1) -> tuple[dict[str, Any], dict[str, int]]:
    """The JSON the page's script draws, and the count of each layer's items."""
    heat = inputs.heatmaps
    times = heat["time"].values if "time" in heat.coords else np.array([], "datetime64[ns]")
    layers, warp = cinr_layers(heat, inputs.frame, vmin, vmax, upsample=upsample)
    n_slots = max(len(c["images"]) for c in layers)
    labels = [str(t)[:19].replace("T", " ") + " UTC" for t in times] if len(times) == n_slots else \
        [f"slot {i}" for i in range(n_slots)]
    if len(times) != n_slots:
        times = np.array([np.datetime64("NaT")] * n_slots, "datetime64[ns]")
    (s, w), (n, e) = warp.bounds
    city_bounds = [[s, w], [n, e]]
    if inputs.bbox is not None:
        bs, bw, bn, be = inputs.bbox
        city_bounds = [[min(s, bs), min(w, bw)], [max(n, bn), max(e, be)]]
    palette = palette_rgb()
    attrs = heat.attrs
    info = {k: attrs[k] for k in ("noise_dbm", "bandwidth_hz", "freq_hz", "cell_size_m", "rx_height_m", "receiver")
            if k in attrs}
    data: dict[str, Any] = {
        "city": city, "times": labels, "cinr": layers, "cinr_bounds": [list(b) for b in warp.bounds],
        "city_bounds": city_bounds, "bbox": list(inputs.bbox) if inputs.bbox is not None else None,
        "vmin": vmin, "vmax": vmax, "ticks": _ticks(vmin, vmax), "units": "dB",
        "palette": ["#%02x%02x%02x" % tuple(int(c) for c in rgb) for rgb in palette],
        "levels": PALETTE_LEVELS, "info": json_safe({k: _value(v) for k, v in info.items()}),
        "osm": {"url": OSM_TILES, "attribution": OSM_ATTRIBUTION},
    }
    counts = {"cinr_layers": len(layers), "slots": n_slots}
    if inputs.buildings is not None:
        data["buildings"] = feature_collection(
            inputs.buildings, {"building_id": "id", "name": "name", "building": "type", "kind": "kind",
                               "height_m": "height_m", "min_height_m": "min_height_m", "height_source": "source"},
            tolerance_deg=BUILDING_TOLERANCE_DEG)
        counts["buildings"] = len(data["buildings"]["features"])
    if inputs.sites is not None:
        data["sites"] = site_layer(inputs.sites, inputs.sector_bearings, inputs.frame)
        counts["sites"] = len(data["sites"])
    if inputs.routes is not None:
        data["routes"] = feature_collection(inputs.routes, {"ue": "ue", "length_m": "length_m",
                                                            "duration_s": "duration_s"})
        counts["routes"] = len(data["routes"]["features"])
    if inputs.trajectory is not None and len(times) and not np.isnat(times).any():
        data["cars"] = car_layer(inputs.trajectory, times)
        counts["cars"] = len(data["cars"]["ids"])
    if inputs.orbits is not None:
        orbit_times = times if len(times) and not np.isnat(times).any() else inputs.orbits["time"].values[:n_slots]
        data["satellites"] = satellite_layer(inputs.orbits, orbit_times)
        counts["satellite_tracks"] = len(data["satellites"]["tracks"])
        counts["serving_satellites"] = sum(1 for t in data["satellites"]["tracks"] if t["served_slots"])
    return data, counts


def build_page(inputs: WebmapInputs, *, city: str, vmin: float = DEFAULT_VMIN_DB, vmax: float = DEFAULT_VMAX_DB,
               upsample: int = 1) -> tuple[str, dict[str, int]]:
    """The whole HTML page (a string) and the count of each layer's items."""
    data, counts = page_data(inputs, city=city, vmin=vmin, vmax=vmax, upsample=upsample)
    css, js = leaflet_assets()
    payload = json.dumps(json_safe(data), separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    page = (_page_part("page.html").replace("@@LEAFLET_VERSION@@", LEAFLET_VERSION)
            .replace("@@TITLE@@", html.escape(f"{city}: CINR map (stin-raytrace)"))
            .replace("@@LEAFLET_CSS@@", css).replace("@@STIN_CSS@@", _page_part("page.css"))
            .replace("@@STIN_JS@@", _page_part("page.js")))
    # the big pieces last, so no marker inside them is ever replaced
    head, rest = page.split("@@LEAFLET_JS@@")
    rest_a, rest_b = rest.split("@@DATA@@")
    return head + js + rest_a + payload + rest_b, counts


# ---- files --------------------------------------------------------------------------------------------------

def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise StinError(f"{path} not found ({what})", "run `dvc repro` first (or pass --data-dir)")
    return path


def load_inputs(data_dir: str | os.PathLike) -> WebmapInputs:
    """Read a ``data/<city>`` folder: area.json and heatmaps.nc are needed, the rest is shown when present."""
    import geopandas as gpd  # noqa: PLC0415

    d = Path(data_dir)
    if not d.is_dir():
        raise StinError(f"data folder {d} not found", "run `dvc repro` first (or pass --data-dir)")
    area = json.loads(_require(d / "area.json", "the area's local frame").read_text(encoding="utf-8"))
    heat_path = _require(d / "heatmaps.nc", "the CINR maps")
    with xr.open_dataset(heat_path, engine="netcdf4") as ds:
        keep = cinr_variables(ds)
        if not keep:
            raise StinError(f"{heat_path} holds no cinr_*_db map", "rerun the heatmaps stage (`dvc repro`)")
        heat = ds[keep].load()
    attrs = heat.attrs
    if "frame_lat0_deg" in attrs and "frame_lon0_deg" in attrs:
        frame = LocalFrame(float(attrs["frame_lat0_deg"]), float(attrs["frame_lon0_deg"]))
    else:
        frame = LocalFrame.from_dict(area["frame"])
    b = area.get("bbox")
    inputs = WebmapInputs(frame=frame, heatmaps=heat,
                          bbox=(b["south"], b["west"], b["north"], b["east"]) if b else None)
    vectors = {"buildings": "buildings.geojson", "sites": "sites.geojson", "routes": "routes.geojson"}
    for attr, name in vectors.items():
        if (d / name).is_file():
            setattr(inputs, attr, gpd.read_file(d / name))
        else:
            inputs.skipped.append(name)
    for attr, name in (("trajectory", "trajectory.nc"), ("orbits", "orbits.nc")):
        if (d / name).is_file():
            with xr.open_dataset(d / name, engine="netcdf4") as ds:
                setattr(inputs, attr, ds.load())
        else:
            inputs.skipped.append(name)
    if (d / "radiomaps.nc").is_file():  # sector bearings only (a few numbers of a large file)
        with xr.open_dataset(d / "radiomaps.nc", engine="netcdf4") as ds:
            if "bs_bearing_deg" in ds:
                inputs.sector_bearings = sector_bearings(ds[["bs_bearing_deg"]].load())
    else:
        inputs.skipped.append("radiomaps.nc (sector bearings)")
    return inputs


def write_page(html_text: str, out_html: str | os.PathLike) -> int:
    """Write the page atomically; its size in bytes."""
    out = Path(out_html)
    with atomic_path(out) as tmp:
        tmp.write_text(html_text, encoding="utf-8")
    return out.stat().st_size


def write_webmap(data_dir: str | os.PathLike, out_html: str | os.PathLike, *, city: str,
                 vmin: float = DEFAULT_VMIN_DB, vmax: float = DEFAULT_VMAX_DB, upsample: int = 1) -> WebmapSummary:
    """Read ``data_dir`` (a ``data/<city>`` folder) and write the map page to ``out_html``."""
    inputs = load_inputs(data_dir)
    text, counts = build_page(inputs, city=city, vmin=vmin, vmax=vmax, upsample=upsample)
    size = write_page(text, out_html)
    return WebmapSummary(Path(out_html), size, counts, tuple(inputs.skipped))
