"""Height tag parsing and the height rules, on tag spellings seen in real OSM data."""

import pytest

from pipeline.config import HeightDefaults
from pipeline.geometry.heights import infer_height, parse_length_m, parse_levels

DEFAULTS = HeightDefaults(level_height_m=3.0, default_height_m=15.0,
                          by_type_m={"garage": 3.0, "church": 25.0},
                          min_height_by_type_m={"roof": 3.5})


@pytest.mark.parametrize("raw, expected_m", [
    ("12", 12.0), ("12 m", 12.0), ("12m", 12.0), ("12.5m", 12.5), ("12.13 m", 12.13),
    ("12,5", 12.5), ("12 metres", 12.0), ("12 meters", 12.0), ("2.5 M", 2.5), (" 7 ", 7.0),
    ("40 ft", 40 * 0.3048), ("40ft", 40 * 0.3048), ("40'", 40 * 0.3048), ("40 feet", 40 * 0.3048),
    ("10'6\"", 10 * 0.3048 + 6 * 0.0254), ("~15", 15.0), ("approx. 20 m", 20.0), ("ca. 9", 9.0),
    ("3;4", 4.0), ("12;15 m", 15.0), ("5-7", 7.0), ("1200 cm", 12.0), (12, 12.0), (12.5, 12.5),
])
def test_parse_length_real_spellings(raw, expected_m):
    assert parse_length_m(raw) == pytest.approx(expected_m)


@pytest.mark.parametrize("raw", [None, float("nan"), "", "unknown", "yes", "-3", "0", "0 m",
                                 "tall", "1e3", "5000", "12 furlongs", ";"])
def test_parse_length_rejects_junk(raw):
    assert parse_length_m(raw) is None


@pytest.mark.parametrize("raw, expected", [("4", 4.0), ("3.5", 3.5), ("3;4", 4.0), ("2-3", 3.0),
                                           ("12,5", 12.5), (" 7", 7.0), (6, 6.0)])
def test_parse_levels(raw, expected):
    assert parse_levels(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "many", "-1", "0", "300", "3 floors"])
def test_parse_levels_rejects_junk(raw):
    assert parse_levels(raw) is None


def test_zero_levels_allowed_where_meaningful():
    assert parse_levels("0", allow_zero=True) == 0.0


def test_height_tag_wins_over_levels():
    assert infer_height({"height": "21 m", "building:levels": "3"}, DEFAULTS) == (21.0, 0.0, "height")


def test_levels_are_not_ignored():
    # the trap seen in peer projects: building:levels silently ignored
    assert infer_height({"building:levels": "5"}, DEFAULTS) == (15.0, 0.0, "levels")
    assert infer_height({"building:levels": "5", "roof:levels": "1"}, DEFAULTS) == (18.0, 0.0, "levels")


def test_junk_height_falls_back_to_levels():
    assert infer_height({"height": "unknown", "building:levels": "2"}, DEFAULTS) == (6.0, 0.0, "levels")


def test_type_and_city_defaults():
    assert infer_height({"building": "garage"}, DEFAULTS) == (3.0, 0.0, "type_default")
    assert infer_height({"building": "yes"}, DEFAULTS) == (15.0, 0.0, "city_default")
    assert infer_height({}, DEFAULTS) == (15.0, 0.0, "city_default")


def test_base_from_min_height_and_min_level():
    assert infer_height({"height": "30", "min_height": "12 m"}, DEFAULTS) == (30.0, 12.0, "height")
    assert infer_height({"building:levels": "7", "building:min_level": "2"}, DEFAULTS) == (21.0, 6.0, "levels")
    assert infer_height({"building": "roof"}, DEFAULTS) == (15.0, 3.5, "city_default")


def test_base_at_or_above_top_is_ignored():
    assert infer_height({"height": "10", "min_height": "12"}, DEFAULTS) == (10.0, 0.0, "height")
