"""The buildings and scene stages on the embedded Helsinki map, and their error paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import requests
import yaml

from conftest import REPO, outputs_under, set_city, write_map
from pipeline.io.paths import CityPaths
from pipeline.stages import buildings as buildings_stage
from pipeline.stages import scene as scene_stage
from pipeline.stages._common import run_stage
from test_footprints import _offline_overpass


def test_helsinki_buildings(helsinki):
    b = gpd.read_file(helsinki.buildings_geojson)
    assert b.crs.to_epsg() == 4326
    assert b["building_id"].nunique() >= 450
    assert (b["height_m"] > 0).all() and (b["height_m"] > b["min_height_m"]).all()
    assert set(b["height_source"]) <= {"height", "levels", "type_default", "city_default"}
    assert (b["height_source"] == "levels").mean() > 0.3  # building:levels is used, not ignored
    assert (b["kind"] == "part").sum() > 100  # building:part volumes kept
    assert b.is_valid.all()
    local = gpd.read_file(helsinki.buildings_local)
    assert local.crs.coordinate_operation.method_name == "Transverse Mercator" and len(local) == len(b)
    cx, cy = local.union_all().centroid.coords[0]
    assert abs(cx) < 300 and abs(cy) < 300  # frame centred on the area


def test_helsinki_scene_metrics(helsinki):
    metrics = json.loads(helsinki.scene_metrics.read_text())
    assert set(metrics) == {"n_buildings", "height_source_share", "n_segments_with_buildings",
                            "n_sites", "n_triangles", "mesh", "n_shapes"}
    assert metrics["n_buildings"] >= 450
    assert metrics["mesh"] == "per_material" and metrics["n_shapes"] >= 2  # buildings by material + ground
    assert sum(metrics["height_source_share"].values()) == pytest.approx(1.0, abs=1e-3)
    assert metrics["n_sites"] == metrics["n_segments_with_buildings"] > 0
    assert metrics["n_triangles"] > 10_000
    timings = json.loads(helsinki.timings.read_text())
    assert set(timings) >= {"buildings", "scene"} and all(v > 0 for v in timings.values())


def test_each_site_stands_on_the_highest_building_of_its_segment(helsinki):
    from pipeline.config import load_map
    from pipeline.geometry.frame import LocalFrame
    from pipeline.geometry.sites import assign_segments

    area = json.loads(helsinki.area_json.read_text())
    map_cfg = load_map("helsinki", helsinki.root / "maps")
    volumes = assign_segments(gpd.read_file(helsinki.buildings_local), map_cfg.bbox,
                              map_cfg.segment_lat_deg, map_cfg.segment_lon_deg,
                              LocalFrame.from_dict(area["frame"]))
    sites = gpd.read_file(helsinki.sites_geojson)
    segments = gpd.read_file(helsinki.segments_geojson)
    mast = yaml.safe_load((helsinki.root / "params.yaml").read_text())["scene"]["mast_height_m"]
    assert set(sites.segment_id) == set(segments.segment_id[segments.n_buildings > 0])
    for site in sites.itertuples():
        in_segment = volumes[volumes.segment_id == site.segment_id]
        assert site.roof_height_m == in_segment.height_m.max()
        assert site.z_m == pytest.approx(in_segment.height_m.max() + mast)
        roof = volumes[volumes.volume_id == site.volume_id].geometry.iloc[0]
        assert roof.contains(gpd.points_from_xy([site.x_m], [site.y_m])[0])  # on the roof, not beside it
        seg_geom = segments[segments.segment_id == site.segment_id].geometry.iloc[0]
        assert seg_geom.buffer(1e-9).contains(site.geometry)


@pytest.mark.slow
def test_helsinki_scene_loads_and_radio_map_is_finite(helsinki):
    from pipeline.runtime import import_sionna_rt

    rt = import_sionna_rt()
    import mitsuba as mi

    scene = rt.load_scene(str(helsinki.scene_xml))
    metrics = json.loads(helsinki.scene_metrics.read_text())
    assert sum(int(o.mi_mesh.face_count()) for o in scene.objects.values()) == metrics["n_triangles"]
    site = gpd.read_file(helsinki.sites_geojson).iloc[0]
    scene.frequency = 3.5e9  # n78 (params.yaml radio.freq_hz default)
    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    scene.rx_array = scene.tx_array
    scene.add(rt.Transmitter("bs", position=mi.Point3f(float(site.x_m), float(site.y_m), float(site.z_m))))
    rm = rt.RadioMapSolver()(scene, center=mi.Point3f(float(site.x_m), float(site.y_m), 1.5),
                             orientation=mi.Point3f(0, 0, 0), size=mi.Point2f(300, 300),
                             cell_size=mi.Point2f(10, 10), samples_per_tx=200_000, max_depth=2)
    gain = rm.path_gain.numpy()
    assert np.isfinite(gain).all()
    lit = gain[gain > 0]
    assert lit.size > 0.1 * gain.size
    # nothing may beat free space at the 1.5 m-high cell right under the mast (~z - 1.5 m away)
    wavelength = 3e8 / 3.5e9
    assert lit.max() <= (wavelength / (4 * np.pi * (site.z_m - 1.5))) ** 2 * 1.01


# ---- error paths: one line, exit code 2, no outputs ------------------------------------
def _run_failing(stage, capsys, project):
    code = run_stage(stage.__name__.rsplit(".", 1)[-1], stage.build)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err and "fix:" in err
    assert outputs_under(project) == []
    return err


def test_area_without_buildings(project, capsys):
    # inside the embedded file's header box, on the Toolonlahti park and bay (the harbour south of the Market
    # Square is outside the file: refused as beyond its coverage, test_bad_inputs)
    write_map(project, "harbour", bbox={"south": 60.1730, "west": 24.9440, "north": 60.1738, "east": 24.9455},
              source={"type": "embedded", "dataset": "helsinki_pbf"})
    set_city(project, "harbour")
    err = _run_failing(buildings_stage, capsys, project)
    assert "no buildings found" in err


def test_bbox_larger_than_limit(project, capsys):
    write_map(project, "huge", bbox={"south": 60.0, "west": 24.5, "north": 60.5, "east": 25.5},
              source={"type": "embedded", "dataset": "helsinki_pbf"})
    set_city(project, "huge")
    assert "max_area_km2" in _run_failing(buildings_stage, capsys, project)


def test_inverted_bbox(project, capsys):
    write_map(project, "upside", bbox={"south": 60.18, "west": 24.93, "north": 60.16, "east": 24.95})
    set_city(project, "upside")
    assert "inverted" in _run_failing(buildings_stage, capsys, project)


def test_missing_map_file(project, capsys):
    set_city(project, "nowhere")
    assert "stin new-city" in _run_failing(buildings_stage, capsys, project)


def test_unknown_source(project, capsys):
    write_map(project, "odd", source={"type": "wfs"})
    set_city(project, "odd")
    assert "unknown source type" in _run_failing(buildings_stage, capsys, project)


def test_corrupt_osm_file(project, capsys, tmp_path):
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"garbage" * 100)
    write_map(project, "corrupt", source={"type": "osm_file", "path": str(bad)})
    set_city(project, "corrupt")
    assert "cannot read OSM file" in _run_failing(buildings_stage, capsys, project)


def test_no_network(project, capsys, monkeypatch):
    _offline_overpass(monkeypatch, error=requests.ConnectionError("offline"))
    write_map(project, "online")
    set_city(project, "online")
    assert "Overpass" in _run_failing(buildings_stage, capsys, project)


def test_scene_without_buildings(project, capsys):
    assert "run the buildings stage first" in _run_failing(scene_stage, capsys, project)


def test_stale_buildings_are_refused(project, capsys, monkeypatch):
    """A changed area must not silently reuse footprints made for the old one."""
    import json as _json

    from osm_fixture import overpass_json

    _offline_overpass(monkeypatch, response=overpass_json())
    write_map(project, "town")
    set_city(project, "town")
    assert run_stage("buildings", buildings_stage.build) == 0
    before = outputs_under(project)
    from osm_fixture import BBOX
    write_map(project, "town", bbox={**BBOX, "north": BBOX["north"] + 0.001})
    code = run_stage("scene", scene_stage.build)
    err = capsys.readouterr().err
    assert code == 2 and "rerun the buildings stage" in err
    assert outputs_under(project) == before  # nothing from the scene stage
    del _json


def test_online_city_end_to_end(project, monkeypatch):
    from osm_fixture import overpass_json

    _offline_overpass(monkeypatch, response=overpass_json())
    write_map(project, "town")
    set_city(project, "town")
    assert run_stage("buildings", buildings_stage.build) == 0
    assert run_stage("scene", scene_stage.build) == 0
    paths = CityPaths("town", Path("."))
    metrics = json.loads(paths.scene_metrics.read_text())
    assert metrics["n_buildings"] == 5
    sites = gpd.read_file(paths.sites_geojson)
    assert sites.roof_height_m.max() == 30.0  # the 10-level building:part is the tallest
    assert paths.scene_xml.is_file()


def test_no_visible_satellite_is_one_clear_error(project, capsys):
    from pipeline.stages import orbits as orbits_stage

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["orbits"]["min_elevation_deg"] = 89.99
    params["orbits"]["n_slots"] = 1
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert "no satellite rises above" in _run_failing(orbits_stage, capsys, project)


def test_quiet_and_verbose_log_levels(tmp_path):
    """STIN_LOG_LEVEL=WARNING (stin -q): no progress bar, no chatter, the stage's summary line and its time;
    the default shows everything; an unknown level is one error line. Each run in a fresh process, as DVC
    starts stages (tqdm reads its switch when first imported)."""
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    code = ("import sys\nimport pipeline.stages\nfrom tqdm import tqdm\nfrom pipeline.stages._common import run_stage\n"
            "def body(params, paths):\n    print('chatter from a library')\n"
            "    for _ in tqdm(range(3), desc='tracing'):\n        pass\n    print('[demo] 3 things traced')\n"
            "sys.exit(run_stage('demo', body))\n")

    def run(level: str):
        env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "STIN_LOG_LEVEL")}
        env.update(STIN_LOG_LEVEL=level, PYTHONPATH=str(REPO))
        return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)

    quiet = run("WARNING")
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stdout.splitlines()
    assert lines[0] == "[demo] 3 things traced" and lines[1].startswith("[demo] done in") and len(lines) == 2
    assert "tracing" not in quiet.stderr  # no progress bar
    loud = run("INFO")
    assert "chatter from a library" in loud.stdout and "tracing" in loud.stderr and "[demo] 3 things" in loud.stdout
    bad = run("LOUD")
    assert bad.returncode == 2 and "STIN_LOG_LEVEL=LOUD is not a log level" in bad.stderr
