"""DVC stage ``channels``: traced paths + link budget -> data/<city>/channels.nc, checks, figures.

Adds the satellite antenna gain and NTN losses, transmit powers, bandwidth and noise to the
traced paths (seconds, no ray tracing). Reports in ``results/<city>/channels.json``:
how BS path gains at route points compare with the radio-map cells they fall in, and how
many satellite paths the far-field launch finds along the routes against the naive
transmitter-at-a-distance approach. Draws the CINR over time of every UE (seed 003 Fig. 3).
"""

from __future__ import annotations

import sys
from typing import Any

import geopandas as gpd
import numpy as np

from pipeline.config import section
from pipeline.errors import StinError
from pipeline.geometry.frame import LocalFrame
from pipeline.io.atomic import write_json
from pipeline.io.figures import plot_route_cinr
from pipeline.io.netcdf import read_netcdf, write_netcdf
from pipeline.io.paths import CityPaths
from pipeline.radio.channels import assemble_channels, cinr_along_routes
from pipeline.radio.cinr import LinkParams
from pipeline.radio.link import lin_to_db
from pipeline.stages._common import run_stage
from pipeline.stages.heatmaps import beam_target_xyz


def route_vs_map(raypaths, radiomaps, floor_db: float = -200.0) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """dB differences path-solver gain (isotropic UE) - radio-map cell at slot 0 for every (ue, bs)
    pair that both see, and whether the pair has a line-of-sight path."""
    g_path = raypaths["bs_gain_iso_rx_slot0"].values  # (ue, bs)
    ix = np.abs(radiomaps.x.values[None, :] - raypaths.ue_x_m.values[0][:, None]).argmin(axis=1)
    iy = np.abs(radiomaps.y.values[None, :] - raypaths.ue_y_m.values[0][:, None]).argmin(axis=1)
    g_map = radiomaps["path_gain_bs"].values[:, iy, ix].T.astype(float)  # (ue, bs)
    both = (lin_to_db(g_path) > floor_db) & (lin_to_db(g_map) > floor_db)
    los = raypaths["path_los"].values[0].astype(bool).any(-1)[:, : g_path.shape[1]]
    return (lin_to_db(g_path) - lin_to_db(g_map))[both], los[both]


def build(params: dict[str, Any], paths: CityPaths) -> None:
    for f in (paths.raypaths_nc, paths.radiomaps_nc, paths.heatmaps_nc):
        if not f.is_file():
            raise StinError(f"{f} not found", "run the earlier stages first ('dvc repro')")
    raypaths = read_netcdf(paths.raypaths_nc)
    radiomaps = read_netcdf(paths.radiomaps_nc)
    link = LinkParams.from_params(section(params, "link"), section(params, "ue"))
    frame = LocalFrame(radiomaps.attrs["frame_lat0_deg"], radiomaps.attrs["frame_lon0_deg"])
    center = np.array([float(radiomaps.x.mean()), float(radiomaps.y.mean()), 0.0])
    ds = assemble_channels(raypaths, link, beam_target_xyz(link.sat_beam_target, radiomaps, frame), center)
    write_netcdf(ds, paths.channels_nc)

    diff, diff_los = route_vs_map(raypaths, radiomaps)
    sat = ds["tx_kind"].values == "sat"
    present = (raypaths.sat_index.values >= 0)[:, None, :].repeat(raypaths.sizes["ue"], axis=1)  # (time, ue, rank)
    n_far = ds["num_paths"].values[..., sat]
    los_far = ds["los"].values[..., sat].astype(bool)
    n_naive = raypaths["naive_num_paths"].values
    los_naive = raypaths["naive_los"].values.astype(bool)
    nlos = present & ~los_far  # points that are NLoS for the satellite (geometry, from the far-field run)

    def stats(n: np.ndarray) -> dict[str, float]:
        return {"points_with_path_share": float((n[present] >= 1).mean()),
                "mean_paths_per_point": float(n[present].mean()),
                "nlos_points_with_path_share": float((n[nlos] >= 1).mean()) if nlos.any() else float("nan")}

    far, naive = stats(n_far), stats(n_naive)
    metrics = {
        "route_vs_map_gain_diff_db_median": round(float(np.median(np.abs(diff))), 3),
        "route_vs_map_gain_diff_db_p90": round(float(np.percentile(np.abs(diff), 90)), 3),
        "route_vs_map_gain_diff_db_mean_signed": round(float(np.mean(diff)), 3),
        "route_vs_map_pairs": int(diff.size),
        "route_vs_map_los_diff_db_median": round(float(np.median(np.abs(diff[diff_los]))), 3) if diff_los.any() else None,
        "route_vs_map_nlos_diff_db_median": round(float(np.median(np.abs(diff[~diff_los]))), 3) if (~diff_los).any() else None,
        "route_vs_map_los_pairs": int(diff_los.sum()),
        "sat_points_with_path_share": round(far["points_with_path_share"], 4),
        "sat_mean_paths_per_point": round(far["mean_paths_per_point"], 3),
        "sat_nlos_points_with_path_share": round(far["nlos_points_with_path_share"], 4),
        "naive_sat_points_with_path_share": round(naive["points_with_path_share"], 4),
        "naive_sat_mean_paths_per_point": round(naive["mean_paths_per_point"], 3),
        "naive_sat_nlos_points_with_path_share": round(naive["nlos_points_with_path_share"], 4),
        "sat_nlos_points": int(nlos.sum()), "sat_points": int(present.sum()),
        "naive_sat_los_points_share": round(float(los_naive[present].mean()), 4),
        "raytracer_seconds": round(float(raypaths.attrs["raytracer_seconds"]), 2),
    }
    write_json(paths.channels_metrics, metrics)

    cinr_bs, cinr_leo = cinr_along_routes(ds)
    heat = read_netcdf(paths.heatmaps_nc)
    buildings = gpd.read_file(paths.buildings_local)
    sites = gpd.read_file(paths.sites_geojson)
    routes = gpd.read_file(paths.routes_geojson).to_crs(frame.crs).set_index("ue")
    for k, ue in enumerate(ds.ue.values):
        line = np.asarray(routes.geometry[str(ue)].coords)
        ue_xy = np.stack([ds.ue_x_m.values[:, k], ds.ue_y_m.values[:, k]], axis=-1)
        plot_route_cinr(paths.figures_dir / "routes" / f"route_cinr_{ue}.png", str(ue), ds.time.values, cinr_bs[:, k],
                        cinr_leo[:, k], heat, buildings, sites, line, ue_xy)
    print(f"[channels] route vs radio map (BS, slot 0): median |diff| {metrics['route_vs_map_gain_diff_db_median']} dB, "
          f"p90 {metrics['route_vs_map_gain_diff_db_p90']} dB over {diff.size} links (line of sight: "
          f"{metrics['route_vs_map_los_diff_db_median']} dB over {metrics['route_vs_map_los_pairs']})")
    print(f"[channels] satellite paths: far-field {far['points_with_path_share']:.1%} of points, "
          f"{far['mean_paths_per_point']:.2f} paths/point, NLoS points reached {far['nlos_points_with_path_share']:.1%}; "
          f"naive {naive['points_with_path_share']:.1%}, {naive['mean_paths_per_point']:.2f}, "
          f"{naive['nlos_points_with_path_share']:.1%}")


def main() -> int:
    return run_stage("channels", build)


if __name__ == "__main__":
    sys.exit(main())
