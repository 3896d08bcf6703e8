"""The DVC pipeline end to end on the embedded default, in a throw-away copy of the repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import README_EXAMPLES, REPO, readme_example


def _dvc(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # `python` = this venv
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=2400)  # a hang guard, not a speed target


@pytest.fixture()
def repo_copy(tmp_path: Path) -> Path:
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    for name in ("maps", "routes", "pipeline"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    assert _dvc(tmp_path, "init", "--no-scm", "-q").returncode == 0
    return tmp_path


@pytest.mark.slow
def test_dvc_repro_end_to_end_then_nothing_to_do(repo_copy):
    first = _dvc(repo_copy, "repro")
    assert first.returncode == 0, first.stderr[-2000:]
    data = repo_copy / "data" / "helsinki"
    for name in ("buildings.geojson", "buildings_local.gpkg", "sites.geojson", "segments.geojson",
                 "scene/scene.xml"):
        assert (data / name).is_file(), name
    results = repo_copy / "results" / "helsinki"
    metrics = json.loads((results / "scene.json").read_text())
    assert metrics["n_buildings"] >= 450

    # radio core outputs and their contract
    import numpy as np
    import xarray as xr

    with xr.open_dataset(data / "heatmaps.nc") as heat:
        assert heat.cinr_bs_db.dims == ("time", "y", "x") and heat.cinr_leo_db.dims == ("time", "y", "x")
        assert heat.outdoor.dims == ("y", "x")
        outdoor = heat.outdoor.values.astype(bool)
        assert outdoor.mean() > 0.5
        for v in ("cinr_bs_db", "cinr_leo_db"):
            assert np.isfinite(heat[v].values[:, outdoor]).all()  # never NaN where a UE can stand
    with xr.open_dataset(data / "heatmaps.nc") as heat:
        heat_slots = heat.sizes["time"]
    for name in ("cinr_bs_db.tif", "cinr_leo_db.tif", "cinr_bs_db_wgs84.tif", "cinr_leo_db_wgs84.tif"):
        assert (data / "geotiff" / name).is_file()
    assert (results / "figures" / "cinr_heatmaps.png").is_file()
    fidelity = json.loads((results / "fidelity.json").read_text())
    assert fidelity["friis_error_db_median"] <= 0.5 and fidelity["sat_los_error_db_median"] <= 0.5
    assert fidelity["sat_ray_efficiency"] >= 0.9 > 1000 * fidelity["naive_sat_ray_efficiency"]
    assert set(fidelity["los_probability"]["30"]) == {"raytraced", "tr38811_dense_urban", "tr38811_urban", "itu_p1410",
                                                      "points", "edge_margin_m"}
    assert set(fidelity["p1410_params"]) >= {"alpha", "beta", "gamma_m"} and 0 < fidelity["p1410_params"]["alpha"] < 1
    assert fidelity["los_probability"]["10"]["edge_margin_m"] > fidelity["los_probability"]["60"]["edge_margin_m"]
    assert (results / "figures" / "fidelity_los_probability.png").is_file()
    # channel self-consistency (issue: trustworthy channels)
    assert fidelity["ue_element_azimuth_spread_db"] <= 0.5
    assert fidelity["sat_los_delay_error_ns_max"] <= 0.1 and fidelity["sat_doppler_error_hz_max"] <= 1.0
    assert fidelity["radiomap_repeat_max_abs_diff_db"] == 0
    assert set(fidelity["cinr_distance_spearman"]) == {"bs", "leo"} and 0 <= fidelity["sat_sc_coverage_0db"] <= 1

    # channels along the routes
    from pipeline.io import link_gains, load_channels

    ds = load_channels(data / "channels.nc")
    assert ds["gain_db"].dims == ("time", "ue", "tx") and ds.sizes["ue"] == 10
    assert ds.sizes["time"] == yaml.safe_load((repo_copy / "params.yaml").read_text())["orbits"]["n_slots"]
    assert np.isfinite(ds["gain_db"].values).all()
    g = link_gains(ds, 0)
    assert (g["bs"].max(axis=1) > 0).all()  # every car hears some BS sector
    channels = json.loads((results / "channels.json").read_text())
    for key in ("route_vs_map_gain_diff_db_median", "route_vs_map_gain_diff_db_p90", "sat_points_with_path_share",
                "sat_mean_paths_per_point", "sat_nlos_points_with_path_share", "naive_sat_points_with_path_share",
                "naive_sat_mean_paths_per_point", "naive_sat_nlos_points_with_path_share"):
        assert key in channels
    # the two tracers agree on the same links, and so do the CINRs of maps and channels
    assert channels["route_vs_map_gain_diff_db_median"] <= 2 and channels["route_vs_map_gain_diff_db_p90"] <= 8
    assert channels["route_vs_map_cinr_diff_db_median"] <= 1
    assert len(list((results / "figures" / "routes").glob("route_cinr_*.png"))) == 10

    # link selection on the ray-traced channels
    ls = json.loads((results / "link_selection.json").read_text())
    rates = ls["sum_rate_bps_hz"]
    assert set(rates) == {"sca", "time_share", "greedy", "optimal", "heuristic"}
    assert ls["interference_model"] == "per_user" and ls["algorithm_failures"] == []
    for name in ("sca", "time_share", "greedy", "heuristic"):  # nobody beats the exact optimum, or its bound
        assert rates[name] <= rates["optimal"] * (1 + 1e-6) or ls["optimal_proven_slots"] < ls["slots_solved"]
        assert rates[name] <= ls["optimal_upper_bound_bps_hz"] * (1 + 1e-6)
    assert ls["gap_sca"] >= -1e-6 and ls["gap_greedy"] >= -1e-6 and ls["sca_iterations"] >= 1
    assert ls["gap_sca_per_user"] == ls["gap_sca"]
    assert 0 <= ls["sat_served_share"] <= 1 and 0 <= ls["sat_rate_share"] <= 1
    assert (results / "figures" / "link_selection.png").is_file()

    # coverage: ray-traced SC/MC, Park et al. analytic vs Monte Carlo, Li & Shang case study
    cov = json.loads((results / "coverage.json").read_text())
    assert 0 <= cov["sg_analytic_vs_mc_max_abs_diff"] <= 0.01
    for entry in cov["city_coverage"].values():
        assert set(entry) >= {"sc_bs", "sc_sat", "mc", "analytic_mc"}
    assert cov["city_calibrated_max_abs_error"] <= 0.05  # the calibrated model under the maps' interference rule
    # rate coverage with loads: the visible-count load model against users dropped and counted (issue goal 0.01),
    # where Singh et al.'s independent load distribution misses by more
    assert 0 <= cov["sg_rate_analytic_vs_independent_mc_max_abs_diff"] <= 0.01
    assert cov["sg_rate_singh_load_distribution_vs_independent_mc_max_abs_diff"] > 0.015
    assert len(list((results / "figures" / "coverage").glob("*.png"))) == 10

    # beamforming (Wang & Wang): paper setting and ray-traced city, every design re-scored independently
    bf = json.loads((results / "beamforming.json").read_text())
    assert set(bf["sum_rate_bps_hz"]) == {"pa1", "pa2", "das", "tdma", "ibs"}
    assert bf["constraints_satisfied"] is True and bf["pa1_iterations"] >= 1
    for part in (bf["sum_rate_bps_hz"], bf["city"]["sum_rate_bps_hz"]):
        assert part["pa1"] > 0 and all(v is None or v <= part["pa1"] + 1e-6 for v in part.values())
    assert bf["city"]["users"] and len(list((results / "figures" / "beamforming").glob("*.png"))) == 9
    assert bf["city"]["sensing_binding"] is True  # the default city threshold makes sensing cost rate
    sweeps = json.loads((results / "beamforming_sweeps.json").read_text())
    assert set(sweeps["sweeps"]) == {"p_sat_dbw", "p_bs_dbw", "bs_antennas", "n_users"}
    assert len(list((results / "figures" / "beamforming_sweeps").glob("fig*.png"))) == 4

    # the README's examples run as written on the real channels (NumPy, PyTorch, Sionna, DeepMIMO)
    assert len(readme_example("channels").strip().splitlines()) <= 14
    for name in README_EXAMPLES:
        out = subprocess.run([sys.executable, "-c", readme_example(name)], cwd=repo_copy, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, (name, out.stderr[-3000:])
    assert "sum rate" in subprocess.run([sys.executable, "-c", readme_example("channels")], cwd=repo_copy,
                                        capture_output=True, text=True, timeout=120).stdout
    shutil.rmtree(data / "deepmimo")  # the DeepMIMO example's export: not a pipeline output

    # the offline map page of the real outputs (its browser test is tests/test_webmap.py)
    viewed = subprocess.run([sys.executable, "-c", "from pipeline.cli import app; app(['view', 'helsinki'])"], cwd=repo_copy,
                            capture_output=True, text=True, timeout=300)
    assert viewed.returncode == 0, viewed.stderr[-2000:]
    page = (results / "map.html").read_text()
    assert 0.3e6 < len(page) < 20e6 and "https://unpkg" not in page and page.count("data:image/png;base64") >= 24
    # the WGS84 Cloud-Optimised GeoTIFFs beside the local-grid ones
    import rasterio

    with rasterio.open(data / "geotiff" / "cinr_bs_db_wgs84.tif") as src:
        assert src.crs.to_epsg() == 4326 and src.count == heat_slots

    # nothing changed: nothing runs (its time is measured by scripts/bench_pipeline.py)
    second = _dvc(repo_copy, "repro")
    assert second.returncode == 0
    assert "Running stage" not in second.stdout and "up to date" in second.stdout

    # byte-identical reruns: each cheap stage forced again gives the same bytes (DVC's own hashes)
    import hashlib

    def digests() -> dict[str, str]:
        return {str(f.relative_to(repo_copy)): hashlib.md5(f.read_bytes()).hexdigest()
                for f in sorted((repo_copy / "data" / "helsinki").rglob("*")) if f.is_file()}

    before = digests()
    for stage in ("buildings", "scene", "orbits", "routes", "heatmaps", "fidelity"):
        forced = _dvc(repo_copy, "repro", "-f", "-s", stage)
        assert forced.returncode == 0, forced.stderr[-2000:]
    assert digests() == before
    # a comment in the map file reruns the buildings stage only (its outputs do not change)
    map_file = repo_copy / "maps" / "helsinki.yaml"
    map_file.write_text(map_file.read_text() + "# a comment\n")
    commented = _dvc(repo_copy, "repro")
    assert commented.returncode == 0, commented.stderr[-2000:]
    ran = {line.split("'")[1] for line in commented.stdout.splitlines() if line.startswith("Running stage")}
    assert ran <= {"buildings", "routes"}, ran  # routes reads the map file too; neither changes an output
    assert digests() == before

    # headline metrics (a few per stage: `dvc metrics show` fits a terminal) and the plot tables
    shown = _dvc(repo_copy, "metrics", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    columns = {name for rev in json.loads(shown.stdout).values() for f in rev["data"].values()
               for name in f["data"]}
    assert 20 <= len(columns) <= 40, sorted(columns)
    for entry in yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]:
        (title, spec), = entry.items()
        for f, cols in ({spec["y"]: []} if isinstance(spec["y"], str) else spec["y"]).items():
            cols = [cols] if isinstance(cols, str) else cols
            header = (repo_copy / f.replace("${city}", "helsinki")).read_text().splitlines()[0].split(",")
            assert spec["x"] in header and set(cols) <= set(header), (title, header)
    plots = _dvc(repo_copy, "plots", "show", "--json")
    assert plots.returncode == 0, plots.stderr[-2000:]

    # a transmit power changes the stages that use powers (CINR maps, channels, beamforming) and no tracing
    # stage (`dvc status`: which stages a repro would start from; the rerun itself is the experiment test's)
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    params["link"]["bs_tx_power_dbm"] = 40.0
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = _dvc(repo_copy, "status", "--json")
    assert status.returncode == 0, status.stderr[-2000:]
    assert set(json.loads(status.stdout)) == {"heatmaps", "channels", "beamforming"}


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, GIT_AUTHOR_NAME="ci", GIT_AUTHOR_EMAIL="ci@example.org", GIT_COMMITTER_NAME="ci",
               GIT_COMMITTER_EMAIL="ci@example.org")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)  # a hang guard


# Fewer slots and lighter solver settings keep the new-city test short: the same -S a user would pass (the
# embedded default runs every stage at its full settings in test_dvc_repro_end_to_end_then_nothing_to_do).
LIGHT = ("-S", "city=ci-town", "-S", "orbits.n_slots=4",
         "-S", "link_selection.exact_node_limit=500",  # SCIP nodes per slot
         "-S", "beamforming.isac.tradeoff_points=3", "-S", "beamforming.isac.gamma_max_tol_db=0.5",
         "-S", "beamforming.isac.csi_radius_rel_tol=0.25",  # coarser bisections
         # the paper-setting sweeps at the Section 5 base point only (one solve)
         "-S", "beamforming.sweeps.p_sat_dbw=[30.0]", "-S", "beamforming.sweeps.p_bs_dbw=[0.0]",
         "-S", "beamforming.sweeps.bs_antennas=[[3, 3]]", "-S", "beamforming.sweeps.n_users=[8]",
         # the load model's Monte Carlo at 1/25 and 1/10 of its users (it does not depend on the city)
         "-S", "coverage.load_validation.stin_users_per_density=60000",
         "-S", "coverage.load_validation.tn_users_per_density=15000")


@pytest.mark.slow
def test_a_new_synthetic_city_runs_every_stage_as_a_dvc_experiment(tmp_path):
    """A city the project never saw, made from a local OSM file by `stin synth-city` (with a 210 m tower),
    runs every stage through `dvc exp run -S city=...` with no file written by hand, and the experiment
    records every stage's metrics (lighter settings: LIGHT)."""
    repo = tmp_path / "project"
    repo.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, repo / name)
    shutil.copytree(REPO / "pipeline", repo / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "maps").mkdir()
    (repo / "routes").mkdir()
    shutil.copy(REPO / "maps" / "helsinki.yaml", repo / "maps" / "helsinki.yaml")
    code = ("import sys; from pipeline.cli import app; "
            "app(['synth-city', 'ci-town', '--size-km', '0.3', '--towers', '1', '--routes', '4', '--seed', '5'])")
    made = _run(repo, sys.executable, "-c", code)
    assert made.returncode == 0, made.stderr
    assert "next: dvc exp run -S city=ci-town" in made.stdout
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "project"],
                [sys.executable, "-m", "dvc", "init", "-q"], ["git", "commit", "-qam", "dvc init"]):
        out = _run(repo, *cmd)
        assert out.returncode == 0, (cmd, out.stderr)
    run = _run(repo, sys.executable, "-m", "dvc", "exp", "run", "-n", "ci-base", *LIGHT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name in stages:
        assert f"Running stage '{name}'" in run.stdout, name
    results = repo / "results" / "ci-town"
    scene = json.loads((results / "scene.json").read_text())
    assert scene["n_buildings"] == 49 and scene["n_sites"] == 4
    ls = json.loads((results / "link_selection.json").read_text())
    assert ls["slots_solved"] + len(ls["infeasible_slots"]) == 4 and ls["slots_solved"] >= 1
    bf = json.loads((results / "beamforming.json").read_text())
    assert bf["constraints_satisfied"] is True
    fidelity = json.loads((results / "fidelity.json").read_text())
    assert set(fidelity["los_probability_mad"]) >= {"itu_p1410", "itu_p1410_generator", "tr38811_urban"}
    # every metrics file is strict JSON (no NaN), and the experiment holds them all
    for f in results.glob("*.json"):
        json.loads(f.read_text(), parse_constant=lambda c: pytest.fail(f"{f.name} holds {c}"))
    shown = _run(repo, sys.executable, "-m", "dvc", "exp", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    recorded = json.dumps(json.loads(shown.stdout))
    for name in ("scene.json", "radiomaps.json", "heatmaps.json", "fidelity.json", "channels.json",
                 "link_selection.json", "coverage.json", "beamforming.json"):
        assert f"results/ci-town/metrics/{name}" in recorded, name
    # a second experiment (a lower BS power) reruns from the CINR maps on, and `dvc plots diff` overlays the two;
    # its targets are the stages whose tables the plots show (and what they depend on)
    again = _run(repo, sys.executable, "-m", "dvc", "exp", "run", "-n", "ci-bs40", *LIGHT, "-S",
                 "link.bs_tx_power_dbm=40", "link_selection", "coverage")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "Running stage 'heatmaps'" in again.stdout and "Running stage 'radiomaps'" not in again.stdout
    diff = _run(repo, sys.executable, "-m", "dvc", "plots", "diff", "ci-base", "ci-bs40", "--json")
    assert diff.returncode == 0, diff.stderr[-2000:]
    plots = json.loads(diff.stdout)
    assert not plots.get("errors"), plots.get("errors")
    titles = [next(iter(p)) for p in yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]]
    assert set(titles) <= set(plots["data"]), set(plots["data"])
    for title in titles:
        (item,) = plots["data"][title]
        revisions = {row["rev"] for row in item["content"]["data"]["values"]}
        assert revisions == {"ci-base", "ci-bs40"}, (title, revisions)  # both experiments' data on each plot
    cdf = {r: [row for row in plots["data"][titles[0]][0]["content"]["data"]["values"] if row["rev"] == r]
           for r in ("ci-base", "ci-bs40")}
    assert cdf["ci-base"] != cdf["ci-bs40"]  # 6 dB less BS power: another CINR distribution

