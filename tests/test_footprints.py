"""Reading OSM (file, recorded Overpass response, embedded pbf) and cleaning footprints."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import requests
from shapely.geometry import MultiPolygon, Polygon, box

from conftest import write_map
from osm_fixture import LAT0, LON0, osm_xml
from pipeline.config import load_map
from pipeline.errors import StinError
from pipeline.geometry.footprints import (
    clean_footprints, normalize_columns, polygonal, read_osm_buildings)
from pipeline.geometry.frame import WGS84, LocalFrame

FIXTURE_JSON = Path(__file__).with_name("data") / "overpass_buildings.json"


def _offline_overpass(monkeypatch, response=None, error=None):
    """Serve the recorded Overpass response (or raise ``error``) instead of the network."""
    import osmnx as ox
    import osmnx._http
    import osmnx._overpass

    calls = []

    def fake_post(url, data=None, **kwargs):
        calls.append(data)
        if error is not None:
            raise error
        r = requests.models.Response()
        r.status_code = 200
        r._content = json.dumps(response).encode()
        r.url = url
        return r

    # the recorded response (or error) stands in for the network: no connectivity probe either
    import pipeline.io.online

    monkeypatch.setattr(pipeline.io.online, "require_network", lambda url, what, timeout_s=5.0: None)
    monkeypatch.setattr(osmnx._overpass.requests, "post", fake_post)
    monkeypatch.setattr(osmnx._http, "_config_dns", lambda url: None)
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    monkeypatch.setattr(ox.settings, "use_cache", False)
    return calls


def _by_osm(volumes, osm_type, osm_id):
    rows = volumes[(volumes.osm_type == osm_type) & (volumes.osm_id == osm_id)]
    assert len(rows) == 1, f"{osm_type}/{osm_id}: {len(rows)} rows"
    return rows.iloc[0]


def _check_fixture_volumes(volumes):
    """What the fixture extract must turn into, whatever the reader."""
    box_101 = _by_osm(volumes, "way", 101)
    assert box_101.height_m == pytest.approx(12.0) and box_101.height_source == "height"
    assert box_101.footprint_area_m2 == pytest.approx(200.0, rel=0.01)
    ell = _by_osm(volumes, "way", 102)
    assert ell.height_m == pytest.approx(12.0) and ell.height_source == "levels"
    assert ell.footprint_area_m2 == pytest.approx(500.0, rel=0.01)  # concave L kept exactly
    courtyard = _by_osm(volumes, "relation", 201)
    assert courtyard.footprint_area_m2 == pytest.approx(1200.0, rel=0.01)  # hole kept
    assert len(courtyard.geometry.interiors) == 1
    assert courtyard.height_m == 20.0
    part = _by_osm(volumes, "way", 106)
    assert (part.kind, part.height_m, part.min_height_m) == ("part", 30.0, 3.0)
    assert part.building_id == "way/105"
    rest = _by_osm(volumes, "way", 105)
    assert rest.kind == "outline_rest"  # only the half the part leaves uncovered
    assert rest.footprint_area_m2 == pytest.approx(400.0, rel=0.02)
    assert rest.height_m == 6.0
    glass = _by_osm(volumes, "way", 107)
    assert glass.height_m == 4.0 and glass.building_material == "glass"
    assert volumes.building_id.nunique() == 5
    assert (volumes.height_m > 0).all()


def test_osm_xml_file_is_read_and_cleaned(project, tmp_path):
    osm = tmp_path / "fixture.osm"
    osm.write_text(osm_xml(), encoding="utf-8")
    write_map(project, "xmltown", source={"type": "osm_file", "path": str(osm)})
    map_cfg = load_map("xmltown")
    raw = read_osm_buildings(map_cfg)
    volumes = clean_footprints(raw, map_cfg, LocalFrame(LAT0, LON0), min_area_m2=4.0, min_width_m=1.0)
    _check_fixture_volumes(volumes)


def test_osm_bz2_file_is_read(project, tmp_path):
    import bz2

    osm = tmp_path / "fixture.osm.bz2"
    osm.write_bytes(bz2.compress(osm_xml().encode()))
    write_map(project, "bz2town", source={"type": "osm_file", "path": str(osm)})
    map_cfg = load_map("bz2town")
    volumes = clean_footprints(read_osm_buildings(map_cfg), map_cfg, LocalFrame(LAT0, LON0),
                               min_area_m2=4.0, min_width_m=1.0)
    _check_fixture_volumes(volumes)


def test_online_fetch_from_recorded_overpass_response(project, monkeypatch):
    calls = _offline_overpass(monkeypatch, response=json.loads(FIXTURE_JSON.read_text()))
    write_map(project, "onlinetown", source={"type": "osm_online"})
    map_cfg = load_map("onlinetown")
    raw = read_osm_buildings(map_cfg)
    assert calls, "the Overpass path was not exercised"
    assert "building" in calls[0]["data"]
    volumes = clean_footprints(raw, map_cfg, LocalFrame(LAT0, LON0), min_area_m2=4.0, min_width_m=1.0)
    _check_fixture_volumes(volumes)


def test_online_fetch_without_network_is_one_clear_error(project, monkeypatch):
    _offline_overpass(monkeypatch, error=requests.ConnectionError("no route to host"))
    write_map(project, "offline", source={"type": "osm_online"})
    with pytest.raises(StinError) as exc:
        read_osm_buildings(load_map("offline"))
    msg = str(exc.value)
    assert "cannot reach the Overpass API" in msg and "osm_file" in msg and "\n" not in msg


@pytest.mark.parametrize("name, content", [
    ("broken.osm.pbf", b"\x00\x01 definitely not protobuf" * 50),
    ("broken.osm", b"<osm><node id='1' lat='51.5'"),
    ("broken.osm.bz2", b"BZh9 not really bzip2"),
])
def test_corrupt_osm_file_is_one_clear_error(project, tmp_path, name, content):
    bad = tmp_path / name
    bad.write_bytes(content)
    write_map(project, "corrupt", source={"type": "osm_file", "path": str(bad)})
    with pytest.raises(StinError) as exc:
        read_osm_buildings(load_map("corrupt"))
    assert "cannot read OSM file" in str(exc.value) and "\n" not in str(exc.value)


def test_missing_osm_file_is_one_clear_error(project):
    write_map(project, "nofile", source={"type": "osm_file", "path": "nowhere.osm.pbf"})
    with pytest.raises(StinError, match="not found"):
        read_osm_buildings(load_map("nofile"))


def test_embedded_helsinki_has_parts_multipolygons_and_holes(project):
    raw = read_osm_buildings(load_map("helsinki"))
    assert len(raw) > 550  # 486 outlines + building parts
    assert raw["building:part"].notna().sum() > 100
    assert (raw.geometry.geom_type == "MultiPolygon").any()
    assert any(len(g.interiors) for g in raw.geometry if g.geom_type == "Polygon")


# ---- cleaning on hand-made geometries -------------------------------------------------
def _raw(rows):
    frame = LocalFrame(LAT0, LON0)
    gdf = gpd.GeoDataFrame([{k: v for k, v in r.items() if k != "geometry"} for r in rows],
                           geometry=[r["geometry"] for r in rows], crs=frame.crs).to_crs(WGS84)
    return normalize_columns(gdf), frame


def _map(project):
    write_map(project, "synthetic")
    return load_map("synthetic")


def test_bowtie_is_repaired_not_dropped(project):
    bowtie = Polygon([(0, 0), (20, 20), (20, 0), (0, 20)])  # self-intersecting
    assert not bowtie.is_valid
    raw, frame = _raw([{"osm_type": "way", "osm_id": 1, "building": "yes", "geometry": bowtie}])
    volumes = clean_footprints(raw, _map(project), frame, min_area_m2=4.0, min_width_m=1.0)
    assert len(volumes) == 1
    assert volumes.geometry.iloc[0].is_valid
    assert volumes.footprint_area_m2.iloc[0] == pytest.approx(200.0, rel=0.01)


def test_multipolygon_with_holes_is_kept(project):
    outer = Polygon([(0, 0), (40, 0), (40, 40), (0, 40)], holes=[[(10, 10), (30, 10), (30, 30), (10, 30)]])
    annex = box(60, 0, 70, 10)
    raw, frame = _raw([{"osm_type": "relation", "osm_id": 9, "building": "yes",
                        "geometry": MultiPolygon([outer, annex])}])
    volumes = clean_footprints(raw, _map(project), frame, min_area_m2=4.0, min_width_m=1.0)
    geom = volumes.geometry.iloc[0]
    assert geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    assert volumes.footprint_area_m2.iloc[0] == pytest.approx(1200.0 + 100.0, rel=0.01)


def test_slivers_and_lines_are_dropped_and_edges_clipped(project):
    map_cfg = _map(project)
    frame = LocalFrame(LAT0, LON0)
    x_east = float(frame.to_local(map_cfg.bbox.east, LAT0)[0])
    raw, frame = _raw([
        {"osm_type": "way", "osm_id": 1, "building": "yes", "geometry": box(0, 0, 1, 1)},  # 1 m2 sliver
        {"osm_type": "way", "osm_id": 2, "building": "yes", "geometry": box(x_east - 10, 0, x_east + 30, 10)},
        {"osm_type": "way", "osm_id": 3, "building": "yes", "geometry": box(x_east + 50, 0, x_east + 60, 10)},
    ])
    volumes = clean_footprints(raw, map_cfg, frame, min_area_m2=4.0, min_width_m=1.0)
    assert list(volumes.osm_id) == [2]
    assert volumes.footprint_area_m2.iloc[0] == pytest.approx(100.0, rel=0.02)  # clipped at the edge


def test_part_without_height_inherits_its_outline(project):
    raw, frame = _raw([
        {"osm_type": "way", "osm_id": 1, "building": "church", "height": "30", "geometry": box(0, 0, 40, 20)},
        {"osm_type": "way", "osm_id": 2, "building:part": "yes", "geometry": box(0, 0, 20, 20)},
        {"osm_type": "way", "osm_id": 3, "building:part": "yes", "height": "50", "geometry": box(20, 0, 40, 20)},
    ])
    volumes = clean_footprints(raw, _map(project), frame, min_area_m2=4.0, min_width_m=1.0)
    # the parts tile the outline: no outline rest (seams are opened away)
    assert sorted(volumes.kind) == ["part", "part"]
    assert _by_osm(volumes, "way", 2).height_m == 30.0
    assert _by_osm(volumes, "way", 3).height_m == 50.0
    assert set(volumes.building_id) == {"way/1"}


def test_polygonal_keeps_only_areas():
    from shapely.geometry import GeometryCollection, LineString, Point
    gc = GeometryCollection([Point(0, 0), LineString([(0, 0), (1, 1)]), box(0, 0, 2, 2)])
    assert polygonal(gc).area == 4.0
    assert polygonal(LineString([(0, 0), (1, 1)])) is None
