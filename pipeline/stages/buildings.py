"""DVC stage ``buildings``: OSM footprints of the city area -> cleaned volumes with heights.

Writes ``data/<city>/buildings.geojson`` (WGS84), ``buildings_local.gpkg`` (local frame)
and ``area.json`` (bbox, local frame origin) for the downstream stages.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from pipeline.config import load_map, number, section
from pipeline.errors import StinError
from pipeline.geometry.footprints import bbox_local_box, clean_footprints, read_osm_buildings, summarize
from pipeline.geometry.frame import WGS84, LocalFrame
from pipeline.geometry.terrain import terrain_record
from pipeline.io.atomic import write_json
from pipeline.io.paths import CityPaths
from pipeline.io.vector import write_vector
from pipeline.stages._common import run_stage


def build(params: dict[str, Any], paths: CityPaths) -> dict[str, Any]:
    """Run the stage body; returns the summary."""
    city = params["city"]
    bp = section(params, "buildings")
    where = "params.yaml buildings"
    max_area_km2 = number(bp, "max_area_km2", where)
    map_cfg = load_map(city)
    area_km2 = map_cfg.bbox.area_km2()
    if area_km2 > max_area_km2:
        raise StinError(f"map '{city}' covers {area_km2:.1f} km2, more than buildings.max_area_km2 = {max_area_km2}",
                        "shrink the bbox in the map file or raise buildings.max_area_km2 in params.yaml")
    frame = LocalFrame(*map_cfg.bbox.center)
    raw = read_osm_buildings(map_cfg)
    volumes = clean_footprints(raw, map_cfg, frame,
                               min_area_m2=number(bp, "min_footprint_area_m2", where),
                               min_width_m=number(bp, "min_feature_width_m", where, positive=False, minimum=0))
    if len(volumes) == 0:
        s, w, n, e = map_cfg.bbox.as_tuple()
        raise StinError(f"no buildings found in the area {s},{w},{n},{e} of map '{city}' "
                        f"({len(raw)} raw OSM features)",
                        "move or widen the bbox in the map file, or check its data source")
    # terrain (map file `terrain:`): each building stands on the lowest ground under its footprint
    terrain, terrain_rec = terrain_record(map_cfg, frame, bbox_local_box(map_cfg.bbox, frame).bounds)
    volumes["ground_z_m"] = (0.0 if terrain is None
                             else np.array([round(terrain.footprint_base(g), 3) for g in volumes.geometry]))
    summary = summarize(volumes)
    write_vector(volumes.to_crs(WGS84), paths.buildings_geojson)
    write_vector(volumes, paths.buildings_local)
    # the map file's content (not its comments or layout): later stages depend on area.json instead of
    # the map file, so a comment or a reordering in it reruns this stage only
    map_content = json.loads(json.dumps(map_cfg.content, sort_keys=True, default=str))
    area = {"city": city, "bbox": dict(zip(("south", "west", "north", "east"), map_cfg.bbox.as_tuple())),
            "frame": frame.to_dict(), "source": map_cfg.source, "summary": summary, "map": map_content}
    if terrain_rec is not None:
        area["terrain"] = terrain_rec
    write_json(paths.area_json, area)
    shares = ", ".join(f"{k} {v:.0%}" for k, v in summary["height_source_share"].items())
    print(f"[buildings] {city}: {summary['n_buildings']} buildings, {summary['n_volumes']} volumes "
          f"({summary['n_parts']} building parts); height source: {shares}; "
          f"height {summary['height_m_min']:.1f}-{summary['height_m_max']:.1f} m"
          + (f"; terrain {terrain_rec['z_min_m']:+.1f} to {terrain_rec['z_max_m']:+.1f} m about the centre's "
             f"{terrain_rec['datum_m']:.1f} m" if terrain_rec else ""))
    return summary


def main() -> int:
    return run_stage("buildings", build)


if __name__ == "__main__":
    sys.exit(main())
