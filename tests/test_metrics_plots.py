"""Headline metrics and plot tables: what dvc.yaml declares matches what the stages write, the DVC metrics
table fits a terminal, and the CDF tables are right against hand-computed values."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml

from conftest import REPO
from pipeline.errors import StinError
from pipeline.io.metrics import HEADLINES, MAX_COLUMNS, RESULTS_FILE, headline, write_headline
from pipeline.io.plotdata import cdf_table, write_plot_table

DVC = yaml.safe_load((REPO / "dvc.yaml").read_text())


def test_headline_table_fits_and_matches_dvc_yaml():
    names = [n for stage in HEADLINES.values() for n in stage]
    assert len(names) == len(set(names)), "a headline name used twice merges two columns in `dvc metrics show`"
    assert len(names) <= MAX_COLUMNS
    for stage, spec in DVC["stages"].items():
        declared = [next(iter(m)) if isinstance(m, dict) else m for m in spec.get("metrics", [])]
        name = RESULTS_FILE.get(stage, stage)
        if HEADLINES.get(stage):
            assert declared == [f"results/${{city}}/metrics/{name}.json"], stage
        else:
            assert declared == [], stage
    assert "metrics" not in DVC  # no top-level metrics (wall times differ on every run: not for comparing)


def test_plot_definitions_name_stage_outputs():
    outs = {next(iter(o)) if isinstance(o, dict) else o for s in DVC["stages"].values() for o in s.get("outs", [])}
    for entry in DVC["plots"]:
        (title, spec), = entry.items()
        files = [spec["y"]] if isinstance(spec["y"], str) else list(spec["y"])
        for f in files:
            assert f in outs, (title, f)


def test_headline_lookup_and_errors(tmp_path):
    results = {"sum_rate_bps_hz": {"optimal": 785.3}, "gap_heuristic": 0.001, "gap_greedy": 0.02, "gap_sca": 0.5,
               "handover": {"handover_reduction": 0.4, "sum_rate_loss": 0.01}}
    out = headline("link_selection", results)
    assert out["sum_rate_optimal_bps_hz"] == 785.3 and out["handover_reduction"] == 0.4
    del results["gap_greedy"]
    with pytest.raises(StinError, match="gap_greedy"):
        headline("link_selection", results)
    (tmp_path / "fidelity.json").write_text('{"friis_error_db_median": 0.04, "sat_los_error_db_median": 0.1, '
                                            '"los_probability_mad": {"tr38811_urban": 0.11}}')
    target = write_headline("fidelity_report", tmp_path)
    assert target == tmp_path / "metrics" / "fidelity.json"
    assert yaml.safe_load(target.read_text())["los_probability_mad_tr38811"] == 0.11
    assert write_headline("routes", tmp_path) is None


def test_cdf_table_against_hand_counts(tmp_path):
    table = cdf_table({"bs": np.array([-1.2, 0.0, 0.4, 3.0, np.nan]), "sat": np.array([-3.0, -2.9])}, step_db=1.0)
    np.testing.assert_array_equal(table["cinr_db"], [-3, -2, -1, 0, 1, 2, 3])
    np.testing.assert_allclose(table["bs"], [0, 0, 0.25, 0.5, 0.75, 0.75, 1.0])  # the NaN is not a sample
    np.testing.assert_allclose(table["sat"], [0.5, 1, 1, 1, 1, 1, 1])
    path = tmp_path / "plots" / "cdf.csv"
    write_plot_table(path, {**table, "note": ["a"] * 7})
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 7 and float(rows[2]["bs"]) == 0.25 and rows[0]["note"] == "a"
    write_plot_table(path, {"x": [1.0, 2.0], "y": [float("nan"), None]})
    assert path.read_text().splitlines() == ["x,y", "1.0,", "2.0,"]
    with pytest.raises(ValueError, match="different lengths"):
        write_plot_table(path, {"x": [1.0], "y": [1.0, 2.0]})
    assert path.read_text().splitlines()[0] == "x,y"  # the failed write left the old file
