"""Routes on the road network and the cars' positions at every slot."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import LineString

from pipeline.config import load_map
from pipeline.errors import StinError
from pipeline.geometry.footprints import area_polygon_local
from pipeline.geometry.frame import LocalFrame
from pipeline.routes.network import drive_graph
from pipeline.routes.trajectory import Route, build_route, parse_routes_file, random_pairs, sample_positions, snap


@pytest.fixture(scope="module")
def helsinki_graph():
    from conftest import REPO

    map_cfg = load_map("helsinki", REPO / "maps")
    frame = LocalFrame(*map_cfg.bbox.center)
    return drive_graph(map_cfg, frame, 30.0), frame, area_polygon_local(map_cfg.bbox, frame)


def _straight_route() -> Route:
    # 100 m at 10 m/s then 100 m at 5 m/s, due north then due east
    return Route("ue", LineString([(0, 0), (0, 100), (100, 100)]), np.array([0.0, 100.0, 200.0]),
                 np.array([0.0, 10.0, 30.0]))


def test_positions_follow_speeds_and_stay_at_the_destination():
    s = sample_positions(_straight_route(), np.array([0.0, 5.0, 10.0, 20.0, 30.0, 50.0]), "stay")
    assert s["x_m"] == pytest.approx([0, 0, 0, 50, 100, 100])
    assert s["y_m"] == pytest.approx([0, 50, 100, 100, 100, 100])
    assert s["speed_m_s"] == pytest.approx([10, 10, 5, 5, 0, 0])
    assert s["heading_deg"][:2] == pytest.approx([0.0, 0.0]) and s["heading_deg"][3] == pytest.approx(90.0)
    assert s["vel_north_m_s"][1] == pytest.approx(10.0) and s["vel_east_m_s"][3] == pytest.approx(5.0)


def test_loop_restarts_the_route():
    s = sample_positions(_straight_route(), np.array([35.0]), "loop")
    assert (s["x_m"][0], s["y_m"][0]) == pytest.approx((0.0, 50.0))


def test_helsinki_routes_are_connected_and_timed(helsinki_graph):
    graph, frame, area = helsinki_graph
    pairs = random_pairs(graph, 5, seed=7, min_distance_m=400.0)
    assert pairs == random_pairs(graph, 5, seed=7, min_distance_m=400.0)  # same seed, same routes
    for k, (o, d) in enumerate(pairs):
        route = build_route(graph, f"ue{k}", o, d)
        assert route.length_m >= 400.0 * 0.99
        speeds = np.diff(route.cum_distance_m) / np.maximum(np.diff(route.cum_time_s), 1e-9)
        assert speeds.min() > 1.0 and speeds.max() < 30.0  # urban speeds [m/s]
        start = np.asarray(route.line.coords[0])
        assert start == pytest.approx([graph.nodes[o]["x"], graph.nodes[o]["y"]])


def test_point_outside_the_area_names_the_ue(helsinki_graph):
    graph, frame, area = helsinki_graph
    with pytest.raises(StinError, match="route of ue07: origin .* outside the map area"):
        snap(graph, frame, 60.30, 24.94, "ue07", "origin", 150.0, area)


def test_point_off_the_road_network_names_the_ue(helsinki_graph):
    graph, frame, area = helsinki_graph
    # in the middle of the Esplanadi park, far from any drivable road node
    with pytest.raises(StinError, match="route of ue03: destination .* from the drivable road network"):
        snap(graph, frame, 60.1675, 24.9470, "ue03", "destination", 5.0, area)


def test_disconnected_points_name_the_ue(helsinki_graph):
    import networkx as nx

    graph, frame, area = helsinki_graph
    g = graph.copy()
    lonely = max(g.nodes) + 1
    g.add_node(lonely, x=0.0, y=0.0)
    with pytest.raises(StinError, match="route of ue05: no drivable path"):
        build_route(g, "ue05", next(iter(graph.nodes)), lonely)
    assert not nx.has_path(g, next(iter(graph.nodes)), lonely)


def test_routes_file_validation():
    with pytest.raises(StinError, match=r"routes\[0\]\.origin: Field required"):
        parse_routes_file({"routes": [{"id": "a", "destination": [1, 2]}]}, "routes/x.yaml")
