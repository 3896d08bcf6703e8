"""DVC stages ``fidelity`` and ``fidelity_report``: the ray tracer against closed forms, the
3GPP tables and itself.

``fidelity`` traces (free space, two-ray, satellite LoS, ray efficiency, LoS probability next
to TR 38.811, radio maps traced twice) and checks the car's element pattern and the satellite
LoS paths along the routes (delay and Doppler vs the true geometry) ->
``data/<city>/fidelity_checks.json``; ``fidelity_report`` adds what the CINR maps show (no ray
traced) -> ``results/<city>/fidelity.json``. See pipeline.radio.fidelity for the checks.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import xarray as xr

from pipeline.config import load_map, number, section
from pipeline.errors import StinError
from pipeline.geometry.footprints import bbox_local_box
from pipeline.geometry.frame import LocalFrame
from pipeline.geometry.terrain import terrain_from_area
from pipeline.io.atomic import read_json, write_json
from pipeline.io.figures import plot_los_probability
from pipeline.io.paths import CityPaths
from pipeline.orbits.constellation import slant_range_m
from pipeline.radio.farfield import LaunchArea, proxy_position, ray_efficiency
from pipeline.io.netcdf import read_netcdf
from pipeline.radio.fidelity import (
    TR38811_LOS_PROBABILITY, cinr_distance_spearman, direction_enu, free_space_checks, los_probability,
    p1410_city_parameters, p1410_los_probability, satellite_los_check, satellite_los_path_errors, shadow_margin_m,
    ue_element_azimuth_spread_db)
from pipeline.radio.maptasks import run_task
from pipeline.radio.receiver import ReceiverModel
from pipeline.radio.tracing import MapGrid, load_rt_scene
from pipeline.stages._common import run_stage
from pipeline.stages.radiomaps import map_job, outdoor_mask


def radiomap_repeat_max_abs_diff_db(job, site, direction: np.ndarray, slant_range_m: float) -> float:  # noqa: ANN001
    """Trace one BS site's sectors and one satellite map twice (as the radiomaps stage does,
    one Dr.Jit thread per task); max |dB difference| over cells finite in both runs."""
    worst = 0.0
    for kind, payload in (("bs", [site]), ("sat", (direction, slant_range_m))):
        a, _ = run_task(job, kind, payload)
        b, _ = run_task(job, kind, payload)
        both = (a > 0) & (b > 0)
        if (a > 0).sum() != both.sum() or (b > 0).sum() != both.sum():
            return float("inf")
        worst = max(worst, float(np.max(np.abs(10 * np.log10(a[both]) - 10 * np.log10(b[both])), initial=0.0)))
    return worst

NAIVE_REFERENCE_DISTANCE_M = 20_000.0  # the naive launch was first measured at 20 km (~0.06 % of rays on a 1 km map)


def build(params: dict[str, Any], paths: CityPaths) -> None:
    import geopandas as gpd  # noqa: PLC0415

    city = params["city"]
    map_cfg = load_map(city)
    fp = section(params, "fidelity")
    rtp = section(params, "raytracing")
    radio = section(params, "radio")
    w = "params.yaml fidelity"
    freq = number(radio, "freq_hz", "params.yaml radio")
    rx_h = number(radio, "rx_height_m", "params.yaml radio")
    area = read_json(paths.area_json)
    if area is None:
        raise StinError(f"buildings of '{city}' not found", "run the earlier stages first ('dvc repro')")
    frame = LocalFrame.from_dict(area["frame"])
    seed = int(rtp["seed"])

    # (a)
    fs = free_space_checks(freq, number(fp, "tx_height_m", w), rx_h, seed=seed)

    # (b) and (d): a satellite at the check elevation, LEO-600 range
    scene = load_rt_scene(paths.scene_xml, freq)
    bounds = bbox_local_box(map_cfg.bbox, frame).bounds
    terrain = terrain_from_area(area)
    grid = MapGrid.covering(bounds, number(rtp, "cell_size_m", "params.yaml raytracing"), rx_h).on_terrain(terrain)
    buildings = gpd.read_file(paths.buildings_local)
    outdoor = outdoor_mask(grid, buildings.geometry)
    el = number(fp, "check_elevation_deg", w)
    altitude = float(section(params, "orbits")["walker"]["altitude_m"])
    rng = float(slant_range_m(np.array(el), altitude))
    sat = satellite_los_check(scene, grid, outdoor, el, 135.0, rng, freq_hz=freq, samples=int(rtp["sat_samples"]),
                              proxy_distance_m=float(rtp["proxy_distance_m"]),
                              launch_margin_m=float(rtp["launch_margin_m"]), seed=seed)
    center = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    d = direction_enu(el, 135.0)
    launch = LaunchArea(*grid.bounds, rx_h).grown(float(rtp["launch_margin_m"]))
    n_rays = 1_000_000
    eff, naive = ray_efficiency(scene, proxy_position(d, center, float(rtp["proxy_distance_m"])), launch, grid.bounds, n_rays)
    _, naive20 = ray_efficiency(scene, proxy_position(d, center, NAIVE_REFERENCE_DISTANCE_M), launch, grid.bounds, n_rays)

    # (c): street-level LoS probability vs elevation. A point nearer the area edge than the shadow of
    # the tallest buildings (height quantile edge_height_quantile) at that elevation could be shadowed
    # by buildings beyond the edge that the scene lacks: it is left out, per elevation.
    heights = buildings.groupby("building_id")["height_m"].max().to_numpy(float)
    area_m2 = float(bbox_local_box(map_cfg.bbox, frame).area)
    p1410 = p1410_city_parameters(buildings.geometry.values, heights, area_m2)
    q = number(fp, "edge_height_quantile", w, positive=False, minimum=0)
    if q > 1:
        raise StinError(f"{w}.edge_height_quantile = {q} is not a quantile", "use a value in [0, 1], e.g. 0.95")
    edge_height = float(np.quantile(heights, q))
    los_grid = MapGrid.covering(bounds, number(fp, "los_cell_size_m", w), rx_h).on_terrain(terrain)
    points = los_grid.centers[outdoor_mask(los_grid, buildings.geometry)]
    to_edge = np.min([points[:, 0] - bounds[0], bounds[2] - points[:, 0], points[:, 1] - bounds[1],
                      bounds[3] - points[:, 1]], axis=0)
    elevations = [float(e) for e in fp["elevations_deg"]]
    min_points = int(number(fp, "los_min_points", w))
    n_az = int(number(fp, "azimuths", w))
    p_los, n_points, margins = {}, {}, {}
    for e in elevations:
        margins[e] = shadow_margin_m(edge_height, e, rx_h)
        inner = points[to_edge >= margins[e]]
        n_points[e] = int(len(inner))
        p_los[e] = los_probability(scene, inner, [e], n_az)[e] if len(inner) >= min_points else None
    generator = map_cfg.synthetic  # the synthetic city's exact statistics, when it is one
    # channel self-consistency: the car's element, satellite LoS paths, reproducible maps, Fig. 2 trends
    receiver = ReceiverModel.from_params(section(params, "ue"))
    spread = ue_element_azimuth_spread_db(receiver)
    orbits = read_netcdf(paths.orbits_nc)
    with xr.open_dataset(paths.raypaths_nc, engine="netcdf4") as raypaths:  # lazy: paths read slot by slot
        sat_paths = satellite_los_path_errors(raypaths, orbits, np.array([*center, 0.0]))
    sites = gpd.read_file(paths.sites_geojson)
    job = map_job(params, paths, grid, buildings)
    first = sites.iloc[0]
    repeat = radiomap_repeat_max_abs_diff_db(job, (first.site_id, float(first.x_m), float(first.y_m), float(first.z_m)),
                                             d, rng)

    table = {}
    for e in elevations:
        key = str(int(e)) if float(e).is_integer() else str(e)
        q10 = int(round(e / 10.0) * 10)  # TR 38.811 tables are per 10 degrees
        table[key] = {"raytraced": None if p_los[e] is None else round(p_los[e], 4),
                      "tr38811_dense_urban": TR38811_LOS_PROBABILITY["dense_urban"].get(q10),
                      "tr38811_urban": TR38811_LOS_PROBABILITY["urban"].get(q10),
                      "itu_p1410": round(p1410_los_probability(e, p1410["alpha"], p1410["beta_per_km2"],
                                                               p1410["gamma_m"], rx_h), 4),
                      "points": n_points[e], "edge_margin_m": round(margins[e], 1)}
        if generator:
            table[key]["itu_p1410_generator"] = round(p1410_los_probability(
                e, generator["alpha"], generator["beta_per_km2"], generator["gamma_m"], rx_h), 4)

    def mad(ref: str) -> float | None:
        pairs = [(v["raytraced"], v[ref]) for v in table.values() if v["raytraced"] is not None and v.get(ref) is not None]
        return round(float(np.mean([abs(a - b) for a, b in pairs])), 4) if pairs else None

    result = {
        "friis_error_db_median": round(fs["friis"]["median_abs_error_db"], 4),
        "two_ray_error_db_median": round(fs["two_ray"]["median_abs_error_db"], 4),
        "sat_los_error_db_median": round(sat["median_abs_error_db"], 4),
        "sat_ray_efficiency": round(eff, 5),
        "naive_sat_ray_efficiency": round(naive, 7),
        "naive_sat_ray_efficiency_20km": round(naive20, 7),
        "ue_element_azimuth_spread_db": round(max(spread["sionna_pattern"], spread["receiver_model"]), 4),
        "sat_los_delay_error_ns_max": None if sat_paths["sat_los_delay_error_ns_max"] is None
        else round(sat_paths["sat_los_delay_error_ns_max"], 4),
        "sat_doppler_error_hz_max": None if sat_paths["sat_doppler_error_hz_max"] is None
        else round(sat_paths["sat_doppler_error_hz_max"], 4),
        "radiomap_repeat_max_abs_diff_db": repeat,
        "receiver": receiver.mode,
        "los_probability": table,
        "p1410_params": {"alpha": round(p1410["alpha"], 4), "beta": round(p1410["beta_per_km2"], 1),
                         "gamma_m": round(p1410["gamma_m"], 2), "n_buildings": p1410["n_buildings"],
                         "edge_height_m": round(edge_height, 1), "edge_height_quantile": q},
        "los_probability_mad": {"itu_p1410": mad("itu_p1410"), "tr38811_urban": mad("tr38811_urban"),
                                "tr38811_dense_urban": mad("tr38811_dense_urban"),
                                **({"itu_p1410_generator": mad("itu_p1410_generator")} if generator else {})},
        "details": {"free_space": fs, "satellite_los": sat, "los_points": int(len(points)),
                    "ue_element_spread": spread, "sat_los_paths": sat_paths["sat_los_paths"],
                    "proxy_distance_m": float(rtp["proxy_distance_m"])},
    }
    write_json(paths.fidelity_checks_json, result)
    print(f"[fidelity] Friis {result['friis_error_db_median']:.3f} dB, two-ray {result['two_ray_error_db_median']:.3f} dB, "
          f"satellite LoS {result['sat_los_error_db_median']:.3f} dB (median |error|)")
    print(f"[fidelity] ray efficiency: far-field {eff:.1%}, naive transmitter at the proxy {naive:.4%} "
          f"(at 20 km: {naive20:.4%})")
    print(f"[fidelity] car element azimuth spread {result['ue_element_azimuth_spread_db']} dB; satellite LoS paths: "
          f"delay error {result['sat_los_delay_error_ns_max']} ns, Doppler error {result['sat_doppler_error_hz_max']} Hz "
          f"(max); radio map repeat {repeat} dB")
    print(f"[fidelity] LoS probability, {city} (street points beyond the shadow of {edge_height:.0f} m buildings) vs "
          f"TR 38.811 and ITU-R P.1410 on the city's alpha {p1410['alpha']:.3f}, beta {p1410['beta_per_km2']:.0f}/km2, "
          f"gamma {p1410['gamma_m']:.1f} m:")
    print("  elev  points  ray-traced  dense-urban  urban  P.1410")
    for k, v in table.items():
        traced = "      -   " if v["raytraced"] is None else f"{v['raytraced']:10.3f}"
        print(f"  {k:>4}  {v['points']:6d}  {traced}  {v['tr38811_dense_urban']:11.3f}  {v['tr38811_urban']:5.3f}  "
              f"{v['itu_p1410']:6.3f}")
    print(f"[fidelity] mean |ray-traced - model|: {result['los_probability_mad']}")


def build_report(params: dict[str, Any], paths: CityPaths) -> None:
    """``fidelity.json``: the tracer checks plus what the CINR maps show (no ray traced, so a power
    change reruns only this): Spearman rank correlation of CINR with the distance to the nearest BS
    (the trends of Fig. 2 in Nguyen-Kha et al., arXiv 2408.15394) and satellite coverage at 0 dB."""
    import geopandas as gpd  # noqa: PLC0415

    checks = read_json(paths.fidelity_checks_json)
    if checks is None or not paths.heatmaps_nc.is_file():
        raise StinError(f"fidelity checks or heatmaps of '{params['city']}' not found",
                        "run the earlier stages first ('dvc repro')")
    sites = gpd.read_file(paths.sites_geojson)
    heat = read_netcdf(paths.heatmaps_nc)
    rho = cinr_distance_spearman(heat, np.stack([sites.x_m.values, sites.y_m.values], axis=-1))
    leo = heat["cinr_leo_db"].values[:, heat["outdoor"].values.astype(bool)]
    trends = {"cinr_distance_spearman": {k: round(v, 4) for k, v in rho.items()},
              "sat_sc_coverage_0db": round(float((leo >= 0.0).mean()), 4)}
    keys = list(checks)
    at = keys.index("los_probability") if "los_probability" in keys else len(keys)
    merged = {**{k: checks[k] for k in keys[:at]}, **trends, **{k: checks[k] for k in keys[at:]}}
    write_json(paths.fidelity_json, merged)
    plot_los_probability(paths.figures_dir / "fidelity_los_probability.png", params["city"], merged)
    print(f"[fidelity] CINR vs distance to the nearest BS (Spearman, slot 0): BS {rho['bs']:+.3f}, LEO {rho['leo']:+.3f}; "
          f"LEO-UE CINR >= 0 dB in {trends['sat_sc_coverage_0db']:.1%} of outdoor cells and slots")


def main() -> int:
    return run_stage("fidelity", build)


def main_report() -> int:
    return run_stage("fidelity_report", build_report)


if __name__ == "__main__":
    sys.exit(main())
