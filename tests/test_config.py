"""Map files and params: every bad input is one clear line naming the fix."""

from __future__ import annotations

import pytest
import yaml

from conftest import write_map
from pipeline.config import BBox, load_map, load_params
from pipeline.errors import StinError


@pytest.mark.parametrize("value, fragment", [
    ("60.18,24.90,60.17,24.95", "inverted (south"),
    ("60.17,24.95,60.18,24.90", "inverted (west"),
    ("95,24.9,96,24.95", "outside lat"),
    ("60.17,24.9,60.18", "not four numbers"),
    ("a,b,c,d", "not four numbers"),
    (None, "missing or malformed"),
    ({"south": 1, "west": 2, "north": 3}, "lacks 'east'"),
])
def test_bad_bbox(value, fragment):
    with pytest.raises(StinError) as exc:
        BBox.parse(value, "test")
    assert fragment in str(exc.value) and "fix:" in str(exc.value) and "\n" not in str(exc.value)


def test_bbox_area_km2_matches_spherical_zone():
    # 0.01 deg x 0.01 deg at the equator ~ 1.112 km x 1.112 km
    assert BBox(0.0, 0.0, 0.01, 0.01).area_km2() == pytest.approx(1.2364, rel=1e-3)


def test_missing_map_file_names_new_city(project):
    with pytest.raises(StinError) as exc:
        load_map("atlantis")
    assert "maps/atlantis.yaml not found" in str(exc.value) and "stin new-city atlantis" in str(exc.value)


def test_unknown_source(project):
    write_map(project, "weird", source={"type": "carrier_pigeon"})
    with pytest.raises(StinError, match="source.type = 'carrier_pigeon': unknown source type"):
        load_map("weird")


def test_bad_osm_extension(project):
    write_map(project, "shp", source={"type": "osm_file", "path": "city.shp"})
    with pytest.raises(StinError, match="unknown extension"):
        load_map("shp")


def test_bad_height_default(project):
    write_map(project, "neg", heights={"level_height_m": -3, "default_height_m": 10})
    with pytest.raises(StinError, match="heights.level_height_m = -3: Input should be greater than 0"):
        load_map("neg")


def test_invalid_yaml(project):
    (project / "maps" / "broken.yaml").write_text("bbox: [1, 2\nsource: {", encoding="utf-8")
    with pytest.raises(StinError, match="not valid YAML"):
        load_map("broken")


def test_params_city_must_be_a_name(project):
    (project / "params.yaml").write_text(yaml.safe_dump({"city": "../etc"}), encoding="utf-8")
    with pytest.raises(StinError, match="city = '../etc': not a lower-case name"):
        load_params()


def test_repo_maps_are_valid():
    from pathlib import Path

    maps_dir = Path(__file__).resolve().parents[1] / "maps"
    helsinki = load_map("helsinki", maps_dir)
    assert helsinki.source_type == "embedded" and helsinki.bbox.area_km2() < 3
    london = load_map("london", maps_dir)
    assert london.source_type == "osm_online" and london.segment_lat_deg == 0.005
