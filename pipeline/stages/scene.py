"""DVC stage ``scene``: volumes -> Sionna RT scene, map segments and base-station sites."""

from __future__ import annotations

import sys
from typing import Any

import geopandas as gpd

from pipeline.config import load_map, number, section
from pipeline.errors import StinError
from pipeline.geometry.footprints import bbox_local_box
from pipeline.geometry.frame import LocalFrame
from pipeline.geometry.scene import MaterialTable, write_scene
from pipeline.geometry.terrain import terrain_from_area
from pipeline.geometry.sites import assign_segments, place_sites, segment_grid
from pipeline.io.atomic import atomic_dir, read_json, write_json
from pipeline.io.paths import CityPaths
from pipeline.io.vector import write_vector
from pipeline.stages._common import run_stage


MAX_MAST_HEIGHT_M = 50.0  # above the roof; rooftop macro masts are 3-10 m, lattice towers rarely exceed 50 m


def mast_height(sp: dict[str, Any]) -> float:
    """params.yaml scene.mast_height_m, a rooftop mast's height above the roof."""
    value = number(sp, "mast_height_m", "params.yaml scene", positive=False, minimum=0)
    if value > MAX_MAST_HEIGHT_M:
        raise StinError(f"params.yaml scene: mast_height_m = {value} m is no rooftop mast",
                        f"use 0-{MAX_MAST_HEIGHT_M:g} m (rooftop macro masts are 3-10 m)")
    return value


def build(params: dict[str, Any], paths: CityPaths) -> dict[str, Any]:
    """Run the stage body; returns the scene metrics."""
    city = params["city"]
    sp = section(params, "scene")
    where = "params.yaml scene"
    mast_height_m = mast_height(sp)
    ground_margin_m = number(sp, "ground_margin_m", where, positive=False, minimum=0)
    table = MaterialTable.from_params(sp)
    map_cfg = load_map(city)
    area = read_json(paths.area_json)
    if area is None or not paths.buildings_local.is_file():
        raise StinError(f"buildings of '{city}' not found in {paths.data_dir}",
                        "run the buildings stage first ('dvc repro buildings')")
    current = dict(zip(("south", "west", "north", "east"), map_cfg.bbox.as_tuple()))
    if area["bbox"] != current:
        raise StinError(f"{paths.buildings_local} was made for bbox {area['bbox']}, but map '{city}' now says {current}",
                        "rerun the buildings stage ('dvc repro')")
    frame = LocalFrame.from_dict(area["frame"])
    volumes = gpd.read_file(paths.buildings_local, engine="pyogrio")
    volumes = assign_segments(volumes, map_cfg.bbox, map_cfg.segment_lat_deg, map_cfg.segment_lon_deg, frame)
    sites = place_sites(volumes, mast_height_m)
    segments = segment_grid(map_cfg.bbox, map_cfg.segment_lat_deg, map_cfg.segment_lon_deg)
    counts = volumes.groupby("segment_id")["building_id"].nunique()
    segments["n_buildings"] = segments["segment_id"].map(counts).fillna(0).astype(int)
    segments["site_id"] = segments["segment_id"].map(sites.set_index("segment_id")["site_id"])

    metadata = {"city": city, "frame": area["frame"], "bbox": current,
                "mast_height_m": mast_height_m, "n_volumes": int(len(volumes))}
    with atomic_dir(paths.scene_dir) as tmp:
        stats = write_scene(tmp, volumes, table, bbox_local_box(map_cfg.bbox, frame).bounds,
                            ground_margin_m, metadata, mesh_mode=str(sp.get("mesh", "per_material")),
                            terrain=terrain_from_area(area))
    write_vector(segments, paths.segments_geojson)
    write_vector(sites, paths.sites_geojson)
    metrics = {
        "n_buildings": int(volumes["building_id"].nunique()),
        "height_source_share": area["summary"]["height_source_share"],
        "n_segments_with_buildings": int((segments["n_buildings"] > 0).sum()),
        "n_sites": int(len(sites)),
        "n_triangles": int(stats["n_triangles"]),
        "mesh": stats["mesh"], "n_shapes": int(stats["n_shapes"]),
    }
    write_json(paths.scene_metrics, metrics)
    print(f"[scene] {city}: {metrics['n_triangles']} triangles, {metrics['n_sites']} sites in "
          f"{metrics['n_segments_with_buildings']}/{len(segments)} segments; materials "
          f"{stats['volumes_per_material']}")
    return metrics


def main() -> int:
    return run_stage("scene", build)


if __name__ == "__main__":
    sys.exit(main())
