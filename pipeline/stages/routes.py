"""DVC stage ``routes``: vehicle routes -> data/<city>/routes.geojson and trajectory.nc.

Positions are sampled at every slot of the ``orbits`` window (the cars depart at its
first slot).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from pipeline.config import load_map, load_yaml_text, number, section
from pipeline.errors import StinError
from pipeline.geometry.footprints import area_polygon_local
from pipeline.geometry.frame import WGS84, LocalFrame
from pipeline.geometry.terrain import terrain_from_area
from pipeline.io.atomic import read_json
from pipeline.io.netcdf import read_netcdf, write_netcdf
from pipeline.io.paths import CityPaths
from pipeline.io.vector import write_vector
from pipeline.routes.network import drive_graph
from pipeline.routes.trajectory import build_route, parse_routes_file, random_pairs, sample_positions, snap
from pipeline.stages._common import run_stage


def build(params: dict[str, Any], paths: CityPaths) -> None:
    city = params["city"]
    rp = section(params, "routes")
    w = "params.yaml routes"
    map_cfg = load_map(city)
    routes_file = Path("routes") / f"{city}.yaml"
    if not routes_file.is_file():
        raise StinError(f"routes file {routes_file} not found", "write one (see routes/helsinki.yaml)")
    data = load_yaml_text(routes_file.read_text(encoding="utf-8"), f"routes file {routes_file}") or {}
    if not isinstance(data, dict):
        raise StinError(f"routes file {routes_file} is not a mapping", "write 'routes:' and/or 'random:' blocks")
    explicit, rnd = parse_routes_file(data, str(routes_file))
    at_destination = str(rp.get("at_destination", "stay"))
    if at_destination not in ("stay", "loop"):
        raise StinError(f"{w}.at_destination {at_destination!r} is unknown", "use stay or loop")
    area = read_json(paths.area_json)
    if area is None or not paths.orbits_nc.is_file():
        raise StinError(f"inputs of '{city}' missing", "run the earlier stages first ('dvc repro')")
    frame = LocalFrame.from_dict(area["frame"])
    graph = drive_graph(map_cfg, frame, number(rp, "fallback_speed_kph", w))
    area_poly = area_polygon_local(map_cfg.bbox, frame)
    max_snap = number(rp, "max_snap_m", w)
    pairs: list[tuple[str, int, int]] = []
    for i, r in enumerate(explicit):
        ue = str(r.get("id", f"ue{i:02d}"))
        o = snap(graph, frame, *r["origin"], ue, "origin", max_snap, area_poly)
        d = snap(graph, frame, *r["destination"], ue, "destination", max_snap, area_poly)
        pairs.append((ue, o, d))
    if rnd:
        drawn = random_pairs(graph, int(number(rnd, "count", f"{routes_file} random")),
                             int(rnd.get("seed", 0)), float(rnd.get("min_distance_m", 0.0)))
        pairs += [(f"ue{len(explicit) + k:02d}", o, d) for k, (o, d) in enumerate(drawn)]
    if not pairs:
        raise StinError(f"{routes_file} defines no route", "add routes or a random block")
    ids = [p[0] for p in pairs]
    if len(set(ids)) != len(ids):
        raise StinError(f"{routes_file}: duplicate UE ids", "give every route its own id")
    routes = [build_route(graph, ue, o, d) for ue, o, d in pairs]

    orbits = read_netcdf(paths.orbits_nc)
    times = orbits["time"].values
    seconds = (times - times[0]) / np.timedelta64(1, "s")
    samples = [sample_positions(r, seconds, at_destination) for r in routes]
    stack = {k: np.stack([s[k] for s in samples], axis=1) for k in samples[0]}
    lon, lat = frame.to_wgs84(stack["x_m"], stack["y_m"])
    z = np.full_like(stack["x_m"], number(rp, "ue_height_m", w))
    terrain = terrain_from_area(area)
    if terrain is not None:  # the car's antenna is ue_height_m above the road
        z = z + terrain.height_at(stack["x_m"], stack["y_m"])
    ds = xr.Dataset(
        {**{k: (("time", "ue"), v) for k, v in stack.items()},
         "z_m": (("time", "ue"), z), "lon": (("time", "ue"), lon), "lat": (("time", "ue"), lat),
         "route_length_m": (("ue",), np.array([r.length_m for r in routes])),
         "route_duration_s": (("ue",), np.array([r.duration_s for r in routes]))},
        coords={"time": times, "ue": ids},
        attrs={"city": city, "crs_proj4": frame.proj4, "at_destination": at_destination,
               "note": "x_m/y_m/z_m in the local frame; heading from north, clockwise"},
    )
    lines = gpd.GeoDataFrame({"ue": ids, "length_m": [round(r.length_m, 1) for r in routes],
                              "duration_s": [round(r.duration_s, 1) for r in routes]},
                             geometry=[r.line for r in routes], crs=frame.crs).to_crs(WGS84)
    write_netcdf(ds, paths.trajectory_nc)
    write_vector(lines, paths.routes_geojson)
    print(f"[routes] {city}: {len(routes)} UEs, routes {min(r.length_m for r in routes):.0f}-"
          f"{max(r.length_m for r in routes):.0f} m, {len(times)} slots; road graph "
          f"{graph.number_of_nodes()} nodes / {graph.number_of_edges()} edges")


def main() -> int:
    return run_stage("routes", build)


if __name__ == "__main__":
    sys.exit(main())
