"""Routes between origin/destination pairs and the positions of each car at every slot.

A car leaves its origin at the first slot and follows the fastest path (osmnx
``shortest_path`` by travel time) at each edge's speed; at its destination it stays, or
starts the route again (``at_destination: loop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox
from shapely.geometry import LineString, Point

from pipeline.errors import StinError
from pipeline.geometry.frame import LocalFrame


# Cars per city (project bound): the paths are streamed to disk slot by slot, so memory holds one slot
# (1000 cars on Helsinki: 1.4 GB per worker, 0.47 GB in the stage, README "City scale"); beyond 2000 cars a
# typo (count: 20000) is the likelier cause, and the tracing time (hours per 1000 cars on 2 cores) the limit
MAX_CARS = 2000


@dataclass(frozen=True)
class Route:
    """One UE's route in the local frame: polyline with cumulative distance and time."""

    ue_id: str
    line: LineString
    cum_distance_m: np.ndarray  # at each vertex
    cum_time_s: np.ndarray  # at each vertex

    @property
    def length_m(self) -> float:
        return float(self.cum_distance_m[-1])

    @property
    def duration_s(self) -> float:
        return float(self.cum_time_s[-1])


def snap(graph: nx.MultiDiGraph, frame: LocalFrame, lat: float, lon: float, ue_id: str, what: str,
         max_snap_m: float, area) -> int:  # noqa: ANN001
    """Nearest graph node to (lat, lon); an error naming the UE if too far or outside the area."""
    x, y = (float(v) for v in frame.to_local(lon, lat))
    if not area.contains(Point(x, y)):
        raise StinError(f"route of {ue_id}: {what} ({lat}, {lon}) lies outside the map area",
                        "move it inside the map's bbox in routes/<city>.yaml")
    node, dist = ox.distance.nearest_nodes(graph, x, y, return_dist=True)
    if dist > max_snap_m:
        raise StinError(f"route of {ue_id}: {what} ({lat}, {lon}) is {dist:.0f} m from the drivable road network",
                        f"put it on a road (within routes.max_snap_m = {max_snap_m:g} m)")
    return int(node)


def build_route(graph: nx.MultiDiGraph, ue_id: str, origin: int, destination: int) -> Route:
    """Fastest path origin -> destination as a polyline with per-vertex distance and time."""
    try:
        nodes = ox.shortest_path(graph, origin, destination, weight="travel_time")
    except nx.NetworkXNoPath:
        nodes = None
    if nodes is None or len(nodes) < 2:
        raise StinError(f"route of {ue_id}: no drivable path from node {origin} to node {destination}",
                        "pick points on connected roads (one-way streets count)")
    xs, ys, dist, times = [], [], [0.0], [0.0]
    for u, v in zip(nodes[:-1], nodes[1:]):
        data = min(graph.get_edge_data(u, v).values(), key=lambda d: d["travel_time"])
        if "geometry" in data:
            coords = list(data["geometry"].coords)
        else:
            coords = [(graph.nodes[u]["x"], graph.nodes[u]["y"]), (graph.nodes[v]["x"], graph.nodes[v]["y"])]
        speed = data["speed_kph"] / 3.6
        if xs:  # skip the vertex shared with the previous edge
            coords = coords[1:]
        else:
            xs.append(coords[0][0])
            ys.append(coords[0][1])
            coords = coords[1:]
        for cx, cy in coords:
            step = math.hypot(cx - xs[-1], cy - ys[-1])
            xs.append(cx)
            ys.append(cy)
            dist.append(dist[-1] + step)
            times.append(times[-1] + step / speed)
    return Route(ue_id, LineString(list(zip(xs, ys))), np.array(dist), np.array(times))


def random_pairs(graph: nx.MultiDiGraph, count: int, seed: int, min_distance_m: float) -> list[tuple[int, int]]:
    """``count`` origin/destination node pairs at least ``min_distance_m`` apart (seeded)."""
    rng = np.random.default_rng(seed)
    nodes = np.array(sorted(graph.nodes))
    xy = np.array([[graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in nodes])
    pairs: list[tuple[int, int]] = []
    for _ in range(1000 * max(count, 1)):
        if len(pairs) == count:
            break
        i, j = rng.choice(len(nodes), 2, replace=False)
        if np.hypot(*(xy[i] - xy[j])) >= min_distance_m and nx.has_path(graph, nodes[i], nodes[j]):
            pairs.append((int(nodes[i]), int(nodes[j])))
    if len(pairs) < count:
        raise StinError(f"could not draw {count} random routes at least {min_distance_m:g} m long",
                        "lower routes.random.min_distance_m or the count")
    return pairs


def sample_positions(route: Route, seconds: np.ndarray, at_destination: str) -> dict[str, np.ndarray]:
    """Position, speed and heading of the car at each time (seconds since departure)."""
    t = np.asarray(seconds, float)
    if at_destination == "loop" and route.duration_s > 0:
        t = np.mod(t, route.duration_s)
    t = np.clip(t, 0.0, route.duration_s)
    s = np.interp(t, route.cum_time_s, route.cum_distance_m)
    pts = [route.line.interpolate(float(v)) for v in s]
    x = np.array([p.x for p in pts])
    y = np.array([p.y for p in pts])
    seg = np.clip(np.searchsorted(route.cum_distance_m, s, side="right") - 1, 0, len(route.cum_distance_m) - 2)
    coords = np.asarray(route.line.coords)
    dx = coords[seg + 1, 0] - coords[seg, 0]
    dy = coords[seg + 1, 1] - coords[seg, 1]
    seg_len = np.maximum(np.hypot(dx, dy), 1e-9)
    seg_time = np.maximum(route.cum_time_s[seg + 1] - route.cum_time_s[seg], 1e-9)
    moving = np.asarray(seconds, float) < route.duration_s if at_destination == "stay" else np.ones(len(t), bool)
    speed = np.where(moving, seg_len / seg_time, 0.0)
    heading = np.degrees(np.arctan2(dx, dy)) % 360.0  # from north, clockwise
    return {"x_m": x, "y_m": y, "distance_m": s, "speed_m_s": speed, "heading_deg": heading,
            "vel_east_m_s": speed * dx / seg_len, "vel_north_m_s": speed * dy / seg_len}


def parse_routes_file(data: dict[str, Any], where: str) -> tuple[list[dict], dict | None]:
    """Explicit routes and the random-route block of ``routes/<city>.yaml``."""
    from pipeline.schema import RoutesFile, validate  # noqa: PLC0415

    validate(RoutesFile, data, where)
    explicit = data.get("routes") or []
    if not isinstance(explicit, list):
        raise StinError(f"{where}: 'routes' must be a list", "write '- id: ..., origin: [lat, lon], destination: [lat, lon]'")
    for i, r in enumerate(explicit):
        for key in ("origin", "destination"):
            v = r.get(key) if isinstance(r, dict) else None
            if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(c, (int, float)) for c in v)):
                raise StinError(f"{where}: route {i} needs '{key}: [lat, lon]'", "give both as two numbers in degrees")
    rnd = data.get("random")
    if rnd is not None and not isinstance(rnd, dict):
        raise StinError(f"{where}: 'random' must be a mapping", "write count, seed and min_distance_m under it")
    from pipeline.config import integer, number, refuse_unknown  # noqa: PLC0415

    refuse_unknown(data, ("routes", "random"), where)
    if rnd is not None:  # whole numbers, checked before the road network is read

        rnd = {**rnd, "count": integer(rnd, "count", f"{where} random", maximum=MAX_CARS),
               "seed": integer(rnd, "seed", f"{where} random", minimum=0, default=0),
               "min_distance_m": number({"m": rnd.get("min_distance_m", 0.0)}, "m",
                                        f"{where} random min_distance_m", positive=False, minimum=0)}
    if len(explicit) + (rnd["count"] if rnd else 0) > MAX_CARS:
        raise StinError(f"{where}: more than {MAX_CARS} cars", f"use at most {MAX_CARS} (memory of the path tensors)")
    return explicit, rnd
