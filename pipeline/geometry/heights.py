"""Building heights from OSM tags.

Rules, in order (``height_source`` records which one applied):

1. ``height`` tag: metres, with units and junk parsed (``"12"``, ``"12 m"``, ``"12,5"``,
   ``"40 ft"``, ``"10'6\""``, ``"3;4"``) -> ``"height"``;
2. ``building:levels`` (+ ``roof:levels``) x level height -> ``"levels"``;
3. a default for the building type from the map file -> ``"type_default"``;
4. the city default height from the map file -> ``"city_default"``.

The base of a volume is ``min_height`` (parsed like ``height``), else
``building:min_level`` x level height, else a per-type default (e.g. ``roof``
canopies), else 0. A base at or above the top is ignored.
Multi-valued tags (``"3;4"``, ranges ``"3-4"``) use the largest value: OSM uses ``;`` for
several parts of one object, and the tallest part is what blocks rays.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import HeightDefaults

FOOT_M = 0.3048  # international foot (exact, 1959 agreement)
INCH_M = 0.0254  # international inch (exact)
MAX_BUILDING_HEIGHT_M = 1000.0  # tallest structure (Burj Khalifa) is 828 m: above is junk
MAX_LEVELS = 250.0  # tallest building has 163 floors: above is junk

_NUMBER = r"[-+]?\d+(?:\.\d+)?|[-+]?\.\d+"
_FEET_INCHES_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:'|ft|feet|foot)\s*(\d+(?:\.\d+)?)\s*(?:\"|''|in|inch|inches)?$")
_VALUE_UNIT_RE = re.compile(rf"^({_NUMBER})\s*([a-z'\"]*)\.?$")
_UNIT_M = {
    "": 1.0, "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0, "mt": 1.0,
    "cm": 0.01, "km": 1000.0,
    "ft": FOOT_M, "feet": FOOT_M, "foot": FOOT_M, "'": FOOT_M,
    "in": INCH_M, "inch": INCH_M, "inches": INCH_M, "\"": INCH_M,
}
_APPROX_RE = re.compile(r"^(?:~|ca\.?|approx\.?|about|circa|c\.|>=?|<=?)\s*")


def _is_missing(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, float) and math.isnan(raw):
        return True
    return bool(pd.isna(raw)) if not isinstance(raw, (str, list, tuple)) else False


def _candidates(raw: Any) -> list[str]:
    """Split a tag value into single-value strings ("3;4" -> ["3", "4"], "3-4" -> ["3", "4"])."""
    text = str(raw).strip().lower()
    pieces: list[str] = []
    for piece in re.split(r"[;|/]", text):
        piece = piece.strip()
        if not piece:
            continue
        # European decimal comma: "12,5" -> "12.5" (a comma list "3,4" is read the same way)
        if re.fullmatch(r"\d+,\d+\s*[a-z]*", piece):
            piece = piece.replace(",", ".")
        range_match = re.fullmatch(rf"({_NUMBER})\s*(?:-|–|to)\s*({_NUMBER})\s*([a-z'\"]*)", piece)
        if range_match:
            unit = range_match.group(3)
            pieces.extend([range_match.group(1) + unit, range_match.group(2) + unit])
        else:
            pieces.extend(p.strip() for p in piece.split(",") if p.strip())
    return pieces


def _single_length_m(text: str) -> float | None:
    text = _APPROX_RE.sub("", text.strip())
    fi = _FEET_INCHES_RE.match(text)
    if fi:
        return float(fi.group(1)) * FOOT_M + float(fi.group(2)) * INCH_M
    m = _VALUE_UNIT_RE.match(text)
    if not m:
        return None
    unit = m.group(2)
    if unit not in _UNIT_M:
        return None
    return float(m.group(1)) * _UNIT_M[unit]


def parse_length_m(raw: Any) -> float | None:
    """A length tag (``height``, ``min_height``) in metres, or None if unusable.

    >>> parse_length_m("12.5 m"), parse_length_m("40 ft"), parse_length_m("3;4")
    (12.5, 12.192, 4.0)
    """
    if _is_missing(raw):
        return None
    values = [v for v in (_single_length_m(c) for c in _candidates(raw)) if v is not None]
    values = [v for v in values if 0.0 < v <= MAX_BUILDING_HEIGHT_M]
    return max(values) if values else None


def parse_length_or_zero_m(raw: Any) -> float | None:
    """Like :func:`parse_length_m` but accepts 0 (a base on the ground)."""
    if _is_missing(raw):
        return None
    values = [v for v in (_single_length_m(c) for c in _candidates(raw)) if v is not None]
    values = [v for v in values if 0.0 <= v <= MAX_BUILDING_HEIGHT_M]
    return max(values) if values else None


def parse_levels(raw: Any, *, allow_zero: bool = False) -> float | None:
    """A level count (``building:levels``, ``roof:levels``, ``building:min_level``), or None.

    >>> parse_levels("4"), parse_levels("3.5"), parse_levels("3;4"), parse_levels("many")
    (4.0, 3.5, 4.0, None)
    """
    if _is_missing(raw):
        return None
    values = []
    for c in _candidates(raw):
        c = _APPROX_RE.sub("", c)
        if re.fullmatch(_NUMBER, c):
            v = float(c)
            if (v > 0 or (allow_zero and v == 0)) and v <= MAX_LEVELS:
                values.append(v)
    return max(values) if values else None


def infer_height(tags: dict[str, Any], defaults: HeightDefaults) -> tuple[float, float, str]:
    """(height_m, min_height_m, height_source) of one volume from its OSM tags.

    ``height_m`` is the top above ground, ``min_height_m`` the base
    (``height_m - min_height_m`` is the extruded thickness).
    """
    level_m = defaults.level_height_m
    btype = str(tags.get("building") or "yes")
    height = parse_length_m(tags.get("height"))
    if height is not None:
        source = "height"
    else:
        levels = parse_levels(tags.get("building:levels"))
        if levels is not None:
            roof_levels = parse_levels(tags.get("roof:levels"), allow_zero=True) or 0.0
            height, source = (levels + roof_levels) * level_m, "levels"
        elif btype in defaults.by_type_m:
            height, source = defaults.by_type_m[btype], "type_default"
        else:
            height, source = defaults.default_height_m, "city_default"

    base = parse_length_or_zero_m(tags.get("min_height"))
    if base is None:
        min_level = parse_levels(tags.get("building:min_level"), allow_zero=True)
        if min_level is not None:
            base = min_level * level_m
        else:
            base = defaults.min_height_by_type_m.get(btype, 0.0)
    if base >= height:
        base = 0.0
    return float(height), float(base), source


def infer_heights(frame: pd.DataFrame, defaults: HeightDefaults) -> pd.DataFrame:
    """Add ``height_m``, ``min_height_m`` and ``height_source`` columns to a tag table."""
    tag_cols = [c for c in ("building", "height", "building:levels", "roof:levels",
                            "min_height", "building:min_level") if c in frame.columns]
    rows = frame[tag_cols].to_dict("records")
    result = [infer_height(r, defaults) for r in rows]
    out = frame.copy()
    out["height_m"] = np.array([r[0] for r in result], dtype=float)
    out["min_height_m"] = np.array([r[1] for r in result], dtype=float)
    out["height_source"] = [r[2] for r in result]
    return out
