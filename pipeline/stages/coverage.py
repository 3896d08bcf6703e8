"""DVC stage ``coverage``: ray-traced SC vs MC coverage of the city, the analytic model of Park et al.
(arXiv 2307.03343; validated against its Monte Carlo, and calibrated to the city), and the case study of
Li & Shang (arXiv 2411.04675). Models: docs/models/coverage.md.

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
from pipeline.solvers import coverage_plots, multiconnectivity, stochastic_geometry
from pipeline.solvers.coverage import calibrate_city_network, coverage_from_cinr, heatmap_coverage
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
    radio = xr.open_dataset(paths.radiomaps_nc, engine="netcdf4")  # lazy: only the sites' coordinates are read
    city = heatmap_coverage(heat, thr_all, rates)
    routes = None
    if paths.channels_nc.is_file():
        ch = read_netcdf(paths.channels_nc)
        bs_db, sat_db = ch["cinr_bs_db"].values, ch["cinr_leo_db"].values  # the channels stage's CINR
        routes = coverage_from_cinr(bs_db, sat_db, thr_all, rates, float(ch.attrs["bandwidth_hz"]))

    # 2. Park et al.'s model calibrated to the city
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
    # the same network without BS interference: brackets Nguyen-Kha et al.'s coordinated (interference-free) BS network
    tbs, sat = net.tiers[1], net.tiers[0]
    quiet = replace(net, tiers=(sat, replace(tbs, active_fraction=float(cfg["coordinated_bs_active_fraction"]))))
    analytic_quiet = stochastic_geometry.sinr_coverage(quiet, thr_all)
    note_timing("city_s", time.perf_counter() - t0)

    # 3. Park et al.: analytic vs Monte Carlo, and their Figs. 3-5
    t0 = time.perf_counter()
    stin = _stin_params(cfg)
    validation = validate_analytic(stin, [str(v) for v in cfg["validation_presets"]], thr, n_drops, seed)
    fig3 = stochastic_geometry.fig3_data(stin, n_drops=n_drops, seed=seed)
    validation["fig3_rayleigh"] = {"max_abs_diff": float(max(fig3["max_abs_diff"])), "per_density": fig3["max_abs_diff"]}
    fig4 = stochastic_geometry.fig4_data(stin)
    fig5 = stochastic_geometry.fig5_data(stin)
    note_timing("stochastic_geometry_s", time.perf_counter() - t0)

    # 4. Li & Shang case study
    t0 = time.perf_counter()
    case = _case_params(cfg)
    fig6 = multiconnectivity.fig6_data(case, thr, n_drops=n_drops, seed=seed)
    mc6 = fig6["monte_carlo"]
    fig3_li_shang = multiconnectivity.fig3_data(sinr_threshold_db=thr, n_drops=n_drops // 4, seed=seed)
    note_timing("multiconnectivity_s", time.perf_counter() - t0)

    # figures
    plot_city_coverage(fig_dir / "city_coverage.png", city, routes, analytic_city, analytic_quiet, str(params["city"]))
    coverage_plots.plot_stin_fig3(fig3, fig_dir / "park_fig3_analytic_vs_mc.png")
    coverage_plots.plot_stin_fig4(fig4, fig_dir / "park_fig4_coverage_extension.png")
    coverage_plots.plot_stin_fig5(fig5, fig_dir / "park_fig5_offloading.png")
    coverage_plots.plot_mc_fig6(fig6, fig_dir / "li_shang_fig6_mc_vs_sc.png")
    coverage_plots.plot_mc_fig3(fig3_li_shang, fig_dir / "li_shang_fig3_beamforming.png")

    def at(curve: np.ndarray, t: float) -> float:
        return round(float(curve[int(np.argmin(np.abs(thr_all - t)))]), 4)

    win = city.sinr_coverage_window
    city_cov = {f"{t:g}": {"sc_bs": at(win.sel(scheme="sc_bs").values, t), "sc_sat": at(win.sel(scheme="sc_sat").values, t),
                           "mc": at(win.sel(scheme="mc").values, t), "analytic_mc": at(analytic_city.total, t),
                           "analytic_mc_no_bs_interference": at(analytic_quiet.total, t)}
                for t in report}
    route_cov = None
    if routes is not None:
        rw = routes.sinr_coverage_window
        route_cov = {f"{t:g}": {s: at(rw.sel(scheme=s).values, t) for s in ("sc_bs", "sc_sat", "mc")} for t in report}
    rate_win = city.rate_coverage_window
    worst = max(v["max_abs_diff"] for v in validation.values())
    metrics = {
        "sg_analytic_vs_mc_max_abs_diff": round(worst, 5),
        "city_coverage": city_cov,
        "city_gap_mc_minus_analytic_max": round(float(np.max(np.abs(win.sel(scheme="mc").values - analytic_city.total))), 4),
        "city_gap_mc_minus_analytic_no_bs_interference_max": round(float(np.max(np.abs(
            win.sel(scheme="mc").values - analytic_quiet.total))), 4),
        "city_rate_coverage": {f"{r / 1e6:g}Mbps": {s: round(float(rate_win.sel(rate_scheme=s).values[i]), 4)
                                                    for s in ("sc_bs", "sc_sat", "mc", "dc")} for i, r in enumerate(rates)},
        "route_coverage": route_cov,
        "city_calibration": fit,
        "city_analytic_association": dict(zip(net.names, np.round(analytic_city.association, 4).tolist())),
        "sg_validation": {k: {kk: vv for kk, vv in v.items() if kk not in ("analytic", "monte_carlo")}
                          for k, v in validation.items()},
        "sg_mc_drops": n_drops,
        "li_shang_fig6": {f"{t:g}": {s: at(np.interp(thr_all, thr, mc6[s]), t) for s in ("sat", "bs", "mc")} for t in report},
        "park_fig4_median_rate_mbps": {k: (np.asarray(v) / 1e6).round(3).tolist() for k, v in fig4["median_rate_bps"].items()},
        "park_fig4_sat_density_per_km2": fig4["sat_density_per_km2"],
        "notes": "sc/mc: ray-traced street cells pooled over the window; analytic_mc: Park et al. (arXiv 2307.03343) "
                 "Theorem 1 with "
                 "parameters fitted to this city (universal frequency reuse: every BS interferes); "
                 "analytic_mc_no_bs_interference: the same without BS interferers (Nguyen-Kha et al. treat intra-network "
                 "interference as coordinated)",
    }
    write_json(paths.results_dir / "coverage.json", metrics)
    write_plot_table(paths.results_dir / "plots" / "coverage_vs_threshold.csv",  # SINR coverage of the city's street cells
                     {"threshold_db": thr_all, **{s: win.sel(scheme=s).values for s in ("mc", "sc_bs", "sc_sat")},
                      "analytic_mc": analytic_city.total, "analytic_mc_no_bs_interference": analytic_quiet.total})
    print(f"[coverage] city MC coverage at 0 dB {city_cov.get('0', {}).get('mc')} (SC BS "
          f"{city_cov.get('0', {}).get('sc_bs')}, SC sat {city_cov.get('0', {}).get('sc_sat')}); analytic vs MC "
          f"worst {worst:.4f}")


def main() -> int:
    return run_stage("coverage", build)


if __name__ == "__main__":
    sys.exit(main())
