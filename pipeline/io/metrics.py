"""Headline metrics: a few numbers per stage that DVC shows (``dvc metrics show``, ``dvc exp show``).

Every stage writes its full results to ``results/<city>/<name>.json`` (a plain output); the numbers a
person compares across experiments are copied from it into ``results/<city>/metrics/<name>.json``, the
only files dvc.yaml declares as metrics. :data:`HEADLINES` names them: metric name -> dotted key path in
the stage's results (one table for the whole project, so the DVC table stays within a terminal).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipeline.errors import StinError
from pipeline.io.atomic import read_json, write_json

HEADLINES: dict[str, dict[str, str]] = {
    "scene": {"buildings": "n_buildings", "triangles": "n_triangles"},
    "radiomaps": {"map_cells": "grid_cells"},
    "heatmaps": {"cinr_bs_median_db": "cinr_bs_db.median_db", "cinr_bs_p10_db": "cinr_bs_db.p10_db",
                 "cinr_sat_median_db": "cinr_leo_db.median_db"},
    "fidelity_report": {"friis_error_median_db": "friis_error_db_median",
                 "sat_los_error_median_db": "sat_los_error_db_median",
                 "los_probability_mad_tr38811": "los_probability_mad.tr38811_urban"},
    "channels": {"route_vs_map_gain_diff_median_db": "route_vs_map_gain_diff_db_median",
                 "sat_points_with_path_share": "sat_points_with_path_share"},
    "link_selection": {"sum_rate_optimal_bps_hz": "sum_rate_bps_hz.optimal", "gap_heuristic": "gap_heuristic",
                       "gap_greedy": "gap_greedy", "gap_paper_sca": "gap_sca",
                       "handover_reduction": "handover.handover_reduction",
                       "handover_sum_rate_loss": "handover.sum_rate_loss"},
    "coverage": {"coverage_0db_mc": "city_coverage.0.mc", "coverage_0db_sc_bs": "city_coverage.0.sc_bs",
                 "coverage_0db_sc_sat": "city_coverage.0.sc_sat",
                 "city_calibrated_max_abs_error": "city_calibrated_max_abs_error",
                 "sg_rate_analytic_vs_independent_mc": "sg_rate_analytic_vs_independent_mc_max_abs_diff",
                 "li_shang_mc_gain_peak": "li_shang_fig6_mc_gain_peak.gain",
                 "li_shang_mc_gain_peak_threshold_db": "li_shang_fig6_mc_gain_peak.threshold_db"},
    "beamforming": {"paper_pa1_sum_rate_bps_hz": "paper.schemes.pa1.sum_rate_bps_hz",
                    "city_pa1_sum_rate_bps_hz": "city.schemes.pa1.sum_rate_bps_hz",
                    "city_pa2_sum_rate_bps_hz": "city.schemes.pa2.sum_rate_bps_hz",
                    "constraints_satisfied": "constraints_satisfied",
                    "city_sensing_binding": "city.sensing_binding",
                    "paper_pa2_max_eps_relative": "paper.pa2_max_feasible_eps.relative",
                    "paper_pa2_max_eps_absolute": "paper.pa2_max_feasible_eps.absolute"},
    # beamforming_sweeps: curves only (its figures); raypaths: counts that params fix
}
RESULTS_FILE = {"fidelity_report": "fidelity"}  # a stage whose results file is not named after it
MAX_COLUMNS = 40  # issue: `dvc metrics show` must fit a terminal


def lookup(data: Any, dotted: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"`` (keys may be numbers written as strings, e.g. ``"0"`` or ``"-10"``)."""
    value = data
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise KeyError(dotted)
        value = value[key]
    return value


def headline(stage: str, results: dict[str, Any]) -> dict[str, Any]:
    """The stage's headline numbers from its full results (a missing key is an error: the table is stale)."""
    out = {}
    for name, dotted in HEADLINES.get(stage, {}).items():
        try:
            value = lookup(results, dotted)
        except KeyError:
            raise StinError(f"headline metric {stage}.{name}: key {dotted!r} is not in the stage's results",
                            "update pipeline/io/metrics.py HEADLINES to the stage's result keys") from None
        if isinstance(value, (dict, list)):
            raise StinError(f"headline metric {stage}.{name} ({dotted}) is not a number",
                            "point HEADLINES at a scalar key")
        out[name] = value
    return out


def write_headline(stage: str, results_dir: str | os.PathLike) -> Path | None:
    """Write ``metrics/<name>.json`` from ``<name>.json`` in ``results_dir`` (name: the stage's, or
    :data:`RESULTS_FILE`'s); None if the stage has no headline metrics."""
    if not HEADLINES.get(stage):
        return None
    results_dir = Path(results_dir)
    name = RESULTS_FILE.get(stage, stage)
    results = read_json(results_dir / f"{name}.json")
    if results is None:
        raise StinError(f"{stage}: no {results_dir / f'{name}.json'} to take the headline metrics from",
                        "this is a bug: the stage must write its results file")
    target = results_dir / "metrics" / f"{name}.json"
    write_json(target, headline(stage, results))
    return target
