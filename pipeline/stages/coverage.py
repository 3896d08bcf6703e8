"""DVC stage ``coverage``: ray-traced SC vs MC coverage of the city, the analytic model of Park et al.
(arXiv 2307.03343; validated against its Monte Carlo, its load model against an independent user-level Monte
Carlo), a stochastic-geometry model calibrated to the city under the maps' interference rule, and Li & Shang
(arXiv 2411.04675): the SS-SBS case study (MC gain over the best SC link) and the multi-satellite architecture
(Figs. 3-4). Models: docs/models/coverage.md.

Reads ``heatmaps.nc`` and ``radiomaps.nc`` (street-level CINR, path gains), ``sites.geojson``,
``orbits.nc`` and ``channels.nc`` (route points). Writes ``results/<city>/coverage.json``
(DVC metrics) and figures under ``results/<city>/figures/coverage/``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from pipeline.config import number, section
from pipeline.errors import StinError
from pipeline.io.atomic import write_json
from pipeline.io.plotdata import write_plot_table
from pipeline.io.figures import plot_city_coverage
from pipeline.io.netcdf import read_netcdf
from pipeline.io.paths import CityPaths
from pipeline.solvers import coverage_plots, load_simulation, multiconnectivity, multisatellite, stochastic_geometry
from pipeline.solvers.city_model import calibrate_city_models
from pipeline.solvers.coverage import (
    calibrate_city_network, coverage_from_cinr, heatmap_coverage, park_cross_network_coverage)
from pipeline.stages._common import note_timing, run_stage

W = "params.yaml coverage"


def _numeric(values: dict[str, Any]) -> dict[str, Any]:
    """YAML 1.1 reads 2.0e7 (no exponent sign) as a string: turn numeric strings into floats."""
    out = {}
    for k, v in values.items():
        try:
            out[k] = float(v) if isinstance(v, str) else v
        except ValueError:
            out[k] = v
    return out


def _stin_params(cfg: dict[str, Any]) -> stochastic_geometry.StinParams:
    try:
        return stochastic_geometry.StinParams.from_mapping(_numeric(cfg.get("stin", {}) or {}))
    except (ValueError, TypeError) as exc:
        raise StinError(f"{W}.stin: {exc}", "fix the value (defaults and sources are in params.yaml)") from None


def _case_params(cfg: dict[str, Any]) -> multiconnectivity.CaseStudyParams:
    try:
        return multiconnectivity.CaseStudyParams.from_mapping(_numeric(cfg.get("case_study", {}) or {}))
    except (ValueError, TypeError) as exc:
        raise StinError(f"{W}.case_study: {exc}", "fix the value (defaults and sources are in params.yaml)") from None


def validate_analytic(base: stochastic_geometry.StinParams, presets: list[str], thresholds_db: np.ndarray,
                      n_drops: int, seed: int) -> dict[str, Any]:
    """Theorem 1 vs Monte Carlo of the same model for each Shadowed-Rician preset: max |diff| over thresholds."""
    out = {}
    for i, name in enumerate(presets):
        p = base.with_shadowing(name)
        t0 = time.perf_counter()
        an = stochastic_geometry.sinr_coverage(p, thresholds_db)
        t_an = time.perf_counter() - t0
        t0 = time.perf_counter()
        mc = stochastic_geometry.simulate(p, n_drops, seed + i).sinr_coverage(thresholds_db)
        t_mc = time.perf_counter() - t0
        note_timing(f"sg_validation_{name}_analytic_s", t_an)
        note_timing(f"sg_validation_{name}_monte_carlo_s", t_mc)
        out[name] = {"max_abs_diff": float(np.max(np.abs(an.total - mc))), "quadrature_error": an.error_estimate,
                     "analytic": an.total.tolist(), "monte_carlo": mc.tolist()}
    return out


def _group(cfg: dict[str, Any], key: str) -> dict[str, Any]:
    value = cfg.get(key, {}) or {}
    if not isinstance(value, dict):
        raise StinError(f"{W}.{key} must be a mapping, got {value!r}", "see params.yaml (coverage) for the layout")
    return _numeric(value)


def _ms_params(cfg: dict[str, Any]) -> multisatellite.MultiSatParams:
    try:
        return multisatellite.MultiSatParams.from_mapping(_group(cfg, "multi_satellite"))
    except (ValueError, TypeError) as exc:
        raise StinError(f"{W}.multi_satellite: {exc}", "fix the value (defaults and sources are in params.yaml)") from None


def _errors(model: dict[str, np.ndarray], empirical: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {s: np.asarray(model[s]) - np.asarray(empirical[s]) for s in ("sc_bs", "sc_sat", "mc")}


def _max_abs(err: dict[str, np.ndarray]) -> float:
    return float(max(np.max(np.abs(v)) for v in err.values()))


def load_validation(cfg: dict[str, Any], stin: stochastic_geometry.StinParams, seed: int) -> dict[str, Any]:
    """Independent Monte Carlo of the load model (users dropped, associated, counted) against the analysis."""
    lv = _group(cfg, "load_validation")
    rth = np.geomspace(1e4, 5e8, 40)
    t0 = time.perf_counter()
    workers = int(lv.get("workers", 2))
    stin_case = load_simulation.validate_load_model(
        stin, [float(v) for v in lv.get("stin_user_densities_per_km2", [2e-6, 1e-5])], rth,
        users_per_density=int(lv.get("stin_users_per_density", 1_500_000)), seed=seed, workers=workers)
    tn = replace(stin, sat_density_per_km2=0.0, tbs_density_per_km2=float(lv.get("tn_density_per_km2", 0.05)))
    tn_case = load_simulation.validate_load_model(
        tn, [float(v) for v in lv.get("tn_user_densities_per_km2", [0.05, 0.2])], rth,
        users_per_density=int(lv.get("tn_users_per_density", 150_000)), seed=seed + 1,
        region_km=float(lv.get("tn_region_km", 60.0)), guard_km=float(lv.get("tn_guard_km", 30.0)), workers=workers)
    note_timing("load_validation_s", time.perf_counter() - t0)
    return {"rate_bps": rth, "stin": stin_case, "terrestrial_only": tn_case}


def build(params: dict[str, Any], paths: CityPaths) -> None:
    cfg = section(params, "coverage")
    for p in (paths.heatmaps_nc, paths.radiomaps_nc, paths.sites_geojson):
        if not p.is_file():
            raise StinError(f"{p} not found", "run the earlier stages first ('dvc repro')")
    thr = np.linspace(number(cfg, "threshold_min_db", W, positive=False), number(cfg, "threshold_max_db", W, positive=False),
                      int(number(cfg, "n_thresholds", W)))
    report = [float(v) for v in cfg["report_thresholds_db"]]
    rates = np.asarray([float(v) * 1e6 for v in cfg["rate_thresholds_mbps"]])
    seed, n_drops = int(number(cfg, "seed", W, positive=False, minimum=0)), int(number(cfg, "mc_drops", W))
    thr_all = np.union1d(thr, report)
    fig_dir = paths.figures_dir / "coverage"
    fig_dir.mkdir(parents=True, exist_ok=True)

    # 1. empirical coverage of the city (street cells, every slot), and along the routes
    t0 = time.perf_counter()
    heat = read_netcdf(paths.heatmaps_nc)
    radio = xr.open_dataset(paths.radiomaps_nc, engine="netcdf4")  # lazy: sector by sector at the sampled cells
    city = heatmap_coverage(heat, thr_all, rates)
    win = city.sinr_coverage_window
    empirical = {s: win.sel(scheme=s).values for s in ("sc_bs", "sc_sat", "mc")}
    routes = None
    if paths.channels_nc.is_file():
        ch = read_netcdf(paths.channels_nc)
        bs_db, sat_db = ch["cinr_bs_db"].values, ch["cinr_leo_db"].values  # the channels stage's CINR
        routes = coverage_from_cinr(bs_db, sat_db, thr_all, rates, float(ch.attrs["bandwidth_hz"]))
    note_timing("city_empirical_s", time.perf_counter() - t0)

    # 2. analytic models of the city: Park et al. fitted (universal reuse; the maps' cross-network rule), and the
    #    latent-class model calibrated under the maps' rule (pipeline.solvers.city_model)
    t0 = time.perf_counter()
    sites = gpd.read_file(paths.sites_geojson)
    cell = float(heat.attrs["cell_size_m"])
    area_km2 = (heat.x.size * cell) * (heat.y.size * cell) / 1e6
    orbits = read_netcdf(paths.orbits_nc)
    altitude = float(section(params, "orbits")["walker"]["altitude_m"])
    net, fit = calibrate_city_network(heat, radio, n_sites=len(sites), area_km2=area_km2, n_satellites=orbits.sizes["sat"],
                                      altitude_m=altitude,
                                      sat_interferer_rel_gain_db=number(cfg, "sat_interferer_rel_gain_db", W, positive=False),
                                      bs_interferer_rel_gain_db=number(cfg, "bs_interferer_rel_gain_db", W, positive=False))
    analytic_city = stochastic_geometry.sinr_coverage(net, thr_all)
    park_cross = park_cross_network_coverage(net, thr_all)
    # the former bracket (every BS interferer off on both links), kept as a CSV column for the DVC plot of dvc.yaml
    quiet = replace(net, tiers=(net.tiers[0], replace(net.tiers[1], active_fraction=1e-12)))
    analytic_quiet = stochastic_geometry.sinr_coverage(quiet, thr_all).total
    cm_cfg = _group(cfg, "city_model")
    n_classes = int(cm_cfg.get("classes", 3))
    max_cells = int(cm_cfg.get("max_cells", 12_000))
    models = {k: (cm, cm.coverage(thr_all))
              for k, cm in calibrate_city_models(heat, radio, [1, n_classes], max_cells=max_cells, seed=seed).items()}
    calibrated, calibrated_cov = models[n_classes]
    ladder = {"park_universal_reuse": {"sc_bs": analytic_city.per_tier[1], "sc_sat": analytic_city.per_tier[0],
                                       "mc": analytic_city.total},
              "park_cross_network": park_cross,
              "window_blockage_independent_links": models[1][1],
              f"window_blockage_{n_classes}_environment_classes": calibrated_cov}
    ladder_err = {name: _errors(m, empirical) for name, m in ladder.items()}
    check = calibrated.simulate(int(cm_cfg.get("check_samples", 100_000)), seed)
    g_b, g_s = check["gamma_bs"], check["gamma_sat"]
    tau = 10 ** (thr_all / 10)[:, None]
    model_mc = {"sc_bs": (g_b[None] > tau).mean(1), "sc_sat": (g_s[None] > tau).mean(1),
                "mc": (np.maximum(g_b, g_s)[None] > tau).mean(1)}
    note_timing("city_models_s", time.perf_counter() - t0)

    # 3. Park et al.: analytic vs Monte Carlo (SINR), the independent load Monte Carlo (rate), their Figs. 3-5
    t0 = time.perf_counter()
    stin = _stin_params(cfg)
    validation = validate_analytic(stin, [str(v) for v in cfg["validation_presets"]], thr, n_drops, seed)
    fig3 = stochastic_geometry.fig3_data(stin, n_drops=n_drops, seed=seed)
    validation["fig3_rayleigh"] = {"max_abs_diff": float(max(fig3["max_abs_diff"])), "per_density": fig3["max_abs_diff"]}
    fig4 = stochastic_geometry.fig4_data(stin)
    fig5 = stochastic_geometry.fig5_data(stin)
    note_timing("stochastic_geometry_s", time.perf_counter() - t0)
    loads = load_validation(cfg, stin, seed)

    # 4. Li & Shang: Fig. 6 (SS-SBS vs SC), the MC gain and what decides it; Figs. 3-4 (multi-satellite)
    t0 = time.perf_counter()
    case = _case_params(cfg)
    fig6 = multiconnectivity.fig6_data(case, thr, n_drops=n_drops, seed=seed)
    mc6 = fig6["monte_carlo"]
    sens = multiconnectivity.fig6_sensitivity(case, thr)
    sat_pct = multiconnectivity.satellite_sinr_percentiles(case, n_drops, seed)
    ms = _ms_params(cfg)
    ms_fig = _group(cfg, "ms_figures")
    ms_drops = int(ms_fig.get("drops", 40_000))
    ms3 = multisatellite.fig3_data(ms, [float(m) for m in ms_fig.get("nakagami_m", [1, 2, 4])], thr, ms_drops, seed)
    ms4 = multisatellite.fig4_data(ms, [int(v) for v in ms_fig.get("pilots", [1, 2, 4, 8])], 2.0, ms_drops, seed)
    note_timing("multiconnectivity_s", time.perf_counter() - t0)

    # figures
    t0 = time.perf_counter()
    plot_city_coverage(fig_dir / "city_coverage.png", city, routes, analytic_city,
                       _Total(calibrated_cov["mc"]), str(params["city"]))
    coverage_plots.plot_city_calibration(thr_all, empirical, ladder, fig_dir / "city_calibration.png", str(params["city"]))
    coverage_plots.plot_stin_fig3(fig3, fig_dir / "park_fig3_analytic_vs_mc.png")
    coverage_plots.plot_stin_fig4(fig4, fig_dir / "park_fig4_coverage_extension.png")
    coverage_plots.plot_stin_fig5(fig5, fig_dir / "park_fig5_offloading.png")
    coverage_plots.plot_load_validation(loads, fig_dir / "park_rate_coverage_independent_mc.png")
    coverage_plots.plot_mc_fig6(fig6, fig_dir / "li_shang_fig6_mc_vs_sc.png")
    coverage_plots.plot_mc_gain(fig6, sens, fig_dir / "li_shang_fig6_mc_gain.png")
    coverage_plots.plot_ms_fig3(ms3, fig_dir / "li_shang_fig3_multi_satellite_beamforming.png")
    coverage_plots.plot_ms_fig4(ms4, fig_dir / "li_shang_fig4_pilots_cdf.png")
    note_timing("figures_s", time.perf_counter() - t0)

    def at(curve: np.ndarray, t: float) -> float:
        return round(float(curve[int(np.argmin(np.abs(thr_all - t)))]), 4)

    cal_err = ladder_err[f"window_blockage_{n_classes}_environment_classes"]
    city_cov = {f"{t:g}": {"sc_bs": at(empirical["sc_bs"], t), "sc_sat": at(empirical["sc_sat"], t),
                           "mc": at(empirical["mc"], t), "analytic_mc": at(analytic_city.total, t),
                           "analytic_calibrated_mc": at(calibrated_cov["mc"], t),
                           "analytic_calibrated_sc_bs": at(calibrated_cov["sc_bs"], t),
                           "analytic_calibrated_sc_sat": at(calibrated_cov["sc_sat"], t)}
                for t in report}
    route_cov = None
    if routes is not None:
        rw = routes.sinr_coverage_window
        route_cov = {f"{t:g}": {s: at(rw.sel(scheme=s).values, t) for s in ("sc_bs", "sc_sat", "mc")} for t in report}
    rate_win = city.rate_coverage_window
    worst = max(v["max_abs_diff"] for v in validation.values())
    g6 = fig6["gain_monte_carlo"]
    load_cases = [c for part in ("stin", "terrestrial_only") for c in loads[part]["cases"]]
    metrics = {
        "sg_analytic_vs_mc_max_abs_diff": round(worst, 5),
        "city_coverage": city_cov,
        "city_gap_mc_minus_analytic_max": round(float(np.max(np.abs(empirical["mc"] - analytic_city.total))), 4),
        "city_calibrated_max_abs_error": round(_max_abs(cal_err), 4),
        "city_calibrated_errors": {f"{t:g}": {s: at(cal_err[s], t) for s in ("sc_bs", "sc_sat", "mc")} for t in report},
        "city_calibrated_max_abs_error_per_scheme": {s: round(float(np.max(np.abs(v))), 4) for s, v in cal_err.items()},
        "city_calibration_ladder": {name: {"max_abs_error": round(_max_abs(e), 4),
                                           "per_scheme": {s: round(float(np.max(np.abs(v))), 4) for s, v in e.items()}}
                                    for name, e in ladder_err.items()},
        "city_model": {**calibrated.to_dict(),
                       "analysis_vs_own_monte_carlo_max_abs_diff": round(float(max(np.max(np.abs(model_mc[s] - calibrated_cov[s]))
                                                                                    for s in model_mc)), 4),
                       "independent_links_bic": models[1][0].diagnostics["bic"]},
        "city_rate_coverage": {f"{r / 1e6:g}Mbps": {s: round(float(rate_win.sel(rate_scheme=s).values[i]), 4)
                                                    for s in ("sc_bs", "sc_sat", "mc", "dc")} for i, r in enumerate(rates)},
        "route_coverage": route_cov,
        "city_calibration": fit,
        "city_analytic_association": dict(zip(net.names, np.round(analytic_city.association, 4).tolist())),
        "sg_validation": {k: {kk: vv for kk, vv in v.items() if kk not in ("analytic", "monte_carlo")}
                          for k, v in validation.items()},
        "sg_mc_drops": n_drops,
        # the analysis: load conditioned on the visible-station count (rate_coverage(load_model="visible_count"))
        "sg_rate_analytic_vs_independent_mc_max_abs_diff": round(max(c["max_abs_diff_visible_count"] for c in load_cases), 4),
        "sg_rate_analytic_vs_independent_mc_max_abs_diff_by_network": {
            part: round(max(c["max_abs_diff_visible_count"] for c in loads[part]["cases"]), 4)
            for part in ("stin", "terrestrial_only")},
        "sg_rate_analytic_vs_independent_mc_beyond_2_std_errors_by_network": {
            part: round(max(c["max_abs_diff_beyond_2_std_errors"] for c in loads[part]["cases"]), 4)
            for part in ("stin", "terrestrial_only")},
        "sg_rate_mc_std_error_max": round(max(c["mc_std_error_max"] for c in load_cases), 4),
        # the references it replaces: Singh et al.'s load distribution (load and SINR independent), Park et al.'s (55)
        "sg_rate_singh_load_distribution_vs_independent_mc_max_abs_diff": round(max(
            c["max_abs_diff_load_distribution"] for c in load_cases), 4),
        "sg_rate_singh_load_distribution_vs_shuffled_load_mc_max_abs_diff": round(max(
            c["max_abs_diff_load_distribution_vs_shuffled_loads"] for c in load_cases), 4),
        "sg_rate_mean_load_vs_independent_mc_max_abs_diff": round(max(c["max_abs_diff_mean_load"] for c in load_cases), 4),
        "sg_rate_independent_mc": {part: [{k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in c.items()
                                           if not isinstance(v, np.ndarray)} for c in loads[part]["cases"]]
                                   for part in ("stin", "terrestrial_only")},
        "li_shang_fig6": {f"{t:g}": {s: at(np.interp(thr_all, thr, mc6[s]), t) for s in ("sat", "bs", "mc")} for t in report},
        "li_shang_fig6_mc_gain_over_best_sc": {f"{t:g}": at(np.interp(thr_all, thr, g6["gain"]), t) for t in report},
        "li_shang_fig6_mc_gain_peak": {"threshold_db": g6["peak_threshold_db"], "gain": round(g6["peak_gain"], 4),
                                       "at_low_threshold": g6["peak_at_low_threshold"],
                                       "analytic_threshold_db": fig6.get("gain_analytic", {}).get("peak_threshold_db"),
                                       "analytic_gain": round(fig6["gain_analytic"]["peak_gain"], 4) if "gain_analytic" in fig6 else None},
        "li_shang_fig6_gain_analytic_vs_mc_max_abs_diff": round(float(np.max(np.abs(fig6["gain_analytic"]["gain"] - g6["gain"]))), 4)
        if "gain_analytic" in fig6 else None,
        "li_shang_fig6_satellite_sinr_db_percentiles": sat_pct,
        "li_shang_fig6_sensitivity": {name: {"change": v["change"], "peak_threshold_db": v["peak_threshold_db"],
                                             "peak_gain": round(v["peak_gain"], 4),
                                             "peak_at_low_threshold": v["peak_at_low_threshold"],
                                             "sat_coverage": {f"{t:g}": at(np.interp(thr_all, thr, v["sat"]), t)
                                                              for t in (-10.0, 0.0, 10.0)}}
                                      for name, v in sens["variants"].items()},
        "li_shang_fig3_multi_satellite": {f"m={m:g}": {"bf_coverage_0db": at(np.interp(thr_all, thr, ms3["bf"][m]), 0.0),
                                                       "no_bf_coverage_0db": at(np.interp(thr_all, thr, ms3["no_bf"][m]), 0.0),
                                                       "single_satellite_coverage_0db": at(np.interp(thr_all, thr, ms3["single"][m]), 0.0),
                                                       "bf_median_sinr_gain_db": _median_shift(thr, ms3["bf"][m], ms3["no_bf"][m])}
                                          for m in ms3["m"]},
        "li_shang_fig4_ks_distance": {str(k): round(v, 4) for k, v in ms4["ks_distance"].items()},
        "li_shang_fig4_mean_power_loss_db": {str(k): round(v, 3) for k, v in ms4["mean_loss_db"].items()},
        "li_shang_fig4_discrepancy_narrows_with_pilots": ms4["discrepancy_narrows_with_pilots"],
        "park_fig4_median_rate_mbps": {k: (np.asarray(v) / 1e6).round(3).tolist() for k, v in fig4["median_rate_bps"].items()},
        "park_fig4_sat_density_per_km2": fig4["sat_density_per_km2"],
        "notes": "sc/mc: ray-traced street cells pooled over the window; analytic_mc: Park et al. (arXiv 2307.03343) "
                 "Theorem 1 with parameters fitted to this city (universal frequency reuse: every BS interferes); "
                 "analytic_calibrated_*: the latent-class stochastic-geometry model calibrated to the maps under their own "
                 "interference rule (cross-network only, same loads; docs/models/coverage.md section 4); "
                 "city_calibration_ladder: each modelling step's max |model - maps| over thresholds and schemes",
    }
    write_json(paths.results_dir / "coverage.json", metrics)
    write_plot_table(paths.results_dir / "plots" / "coverage_vs_threshold.csv",  # SINR coverage of the city's street cells
                     {"threshold_db": thr_all, **{s: empirical[s] for s in ("mc", "sc_bs", "sc_sat")},
                      "analytic_mc": analytic_city.total, "analytic_mc_no_bs_interference": analytic_quiet,
                      "analytic_calibrated": calibrated_cov["mc"],
                      "analytic_calibrated_sc_bs": calibrated_cov["sc_bs"],
                      "analytic_calibrated_sc_sat": calibrated_cov["sc_sat"]})
    print(f"[coverage] city MC coverage at 0 dB {city_cov.get('0', {}).get('mc')} (SC BS "
          f"{city_cov.get('0', {}).get('sc_bs')}, SC sat {city_cov.get('0', {}).get('sc_sat')}); calibrated model max "
          f"error {metrics['city_calibrated_max_abs_error']}; SINR analytic vs MC worst {worst:.4f}; rate vs independent "
          f"MC {metrics['sg_rate_analytic_vs_independent_mc_max_abs_diff']}; Li & Shang MC gain peak "
          f"{g6['peak_gain']:.3f} at {g6['peak_threshold_db']:g} dB")


class _Total:
    """A curve with the ``.total`` attribute plot_city_coverage reads."""

    def __init__(self, total: np.ndarray) -> None:
        self.total = np.asarray(total)


def _median_shift(thr: np.ndarray, a: np.ndarray, b: np.ndarray) -> float | None:
    """SINR (dB) at which curve a crosses 0.5 minus that of curve b (None if either never crosses)."""
    def cross(c: np.ndarray) -> float | None:
        c = np.asarray(c)
        i = np.flatnonzero((c[:-1] >= 0.5) & (c[1:] < 0.5))
        if not i.size:
            return None
        j = int(i[0])
        return float(thr[j] + (c[j] - 0.5) / (c[j] - c[j + 1]) * (thr[j + 1] - thr[j]))

    ca, cb = cross(a), cross(b)
    return None if ca is None or cb is None else round(ca - cb, 2)


def main() -> int:
    return run_stage("coverage", build)


if __name__ == "__main__":
    sys.exit(main())
