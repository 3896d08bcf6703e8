"""DVC stage ``channels``: traced paths + link budget -> data/<city>/channels.nc, checks, figures.

Adds the satellite antenna gain and NTN losses, transmit powers, bandwidth and noise to the
traced paths (seconds, no ray tracing). Reports in ``results/<city>/channels.json``:
how BS path gains at route points compare with the radio-map cells they fall in, and how
many satellite paths the far-field launch finds along the routes against the naive
transmitter-at-a-distance approach. Draws the CINR over time of every UE (Fig. 3 of Nguyen-Kha et al.,
arXiv 2408.15394).
"""

from __future__ import annotations

import sys
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from pipeline.config import number, section
from pipeline.errors import StinError
from pipeline.geometry.frame import LocalFrame
from pipeline.io.atomic import write_json
from pipeline.io.plotdata import per_car_table, write_plot_table
from pipeline.io.figures import plot_route_cinr
from pipeline.io.netcdf import read_netcdf
from pipeline.io.pathstore import ROW_VARS, PathStoreWriter
from pipeline.io.paths import CityPaths
from pipeline.radio.channels import CHANNEL_SLOT_VARS, channel_attrs, channel_slots, linear_gains
from pipeline.radio.cinr import LinkParams, cinr_db, map_center_xyz
from pipeline.radio.link import lin_to_db
from pipeline.radio.tracing import MapGrid
from pipeline.compute import peak_rss_mb
from pipeline.stages._common import note_timing, run_stage
from pipeline.stages.heatmaps import beam_target_xyz


MAX_ROUTE_FIGURES = 24  # CINR-over-time figures drawn (the first cars); every car's CINR is in channels.nc


def map_cells(radiomaps, x_m: np.ndarray, y_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Indices (iy, ix) of the radio-map cells holding the points (x_m, y_m) (same shape)."""
    grid = MapGrid(radiomaps.x.values, radiomaps.y.values, float(radiomaps.attrs.get("rx_height_m", 0.0)),
                   float(radiomaps.attrs.get("cell_size_m", 0.0)))
    return grid.cell_index(x_m, y_m)


def route_vs_map(channels, radiomaps, heat, floor_db: float = -200.0) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Both tracers on the same links: path-solver gains at the route points vs the radio-map
    cells they fall in, every slot, BS sectors and serving satellites (the satellite's antenna
    gain and NTN losses taken out of the channels, as the maps store path gains without them),
    and heatmap CINR vs channels CINR at the same points and slots.

    Returns dB differences (channels - map) of the links both see, their line-of-sight flags,
    whether the map's direct ray carries less than half the cell's power (ray-traced links),
    and the CINR differences.
    """
    iy, ix = map_cells(radiomaps, channels.ue_x_m.values, channels.ue_y_m.values)  # (time, ue)
    kinds = channels["tx_kind"].values
    g_ch = channels["gain_db"].values.astype(float)  # (time, ue, tx)
    los = channels["los"].values.astype(bool)
    n_bs = int((kinds == "bs").sum())
    # one sector's (one satellite map's) cells at a time: the radio maps may be opened lazily
    m_bs = np.stack([radiomaps["path_gain_bs"][b].values[iy, ix] for b in range(radiomaps.sizes["bs"])])  # (bs, time, ue)
    d_bs = np.stack([radiomaps["path_gain_bs_direct"][b].values[iy, ix] for b in range(radiomaps.sizes["bs"])])
    n_time, n_rank = channels.sizes["time"], radiomaps.sizes["rank"]
    m_sat = np.array([[radiomaps["path_gain_sat"][t, r].values[iy[t], ix[t]] for r in range(n_rank)]
                      for t in range(n_time)]).transpose(0, 2, 1)  # (time, ue, rank)
    d_sat = np.array([[radiomaps["path_gain_sat_direct"][t, r].values[iy[t], ix[t]] for r in range(n_rank)]
                      for t in range(n_time)]).transpose(0, 2, 1)
    g_map = np.concatenate([np.moveaxis(m_bs, 0, -1), m_sat], axis=-1).astype(float)
    direct = np.concatenate([np.moveaxis(d_bs, 0, -1), d_sat], axis=-1).astype(float)
    sat_budget = np.nan_to_num(channels["sat_antenna_gain_db"].values.astype(float))
    g_ch[..., n_bs:] -= sat_budget
    map_db = lin_to_db(g_map)
    both = (g_ch > floor_db) & (map_db > floor_db)
    traced = direct < 0.5 * g_map
    cinr_bs, cinr_leo = heat["cinr_bs_db"].values[:, iy, ix], heat["cinr_leo_db"].values[:, iy, ix]  # (time, ue)
    return {"diff_db": (g_ch - map_db)[both], "los": los[both], "traced": traced[both],
            "cinr_diff_db": np.concatenate([(channels["cinr_bs_db"].values - cinr_bs).ravel(),
                                            (channels["cinr_leo_db"].values - cinr_leo).ravel()])}


def require_finite_slot(values: dict[str, np.ndarray], names: tuple[str, ...], cars: np.ndarray, t: int) -> None:
    """The cars' gains and CINR of slot ``t`` are finite (a NaN never leaves the stage silently)."""
    for name in names:
        bad = ~np.isfinite(values[name][cars])
        if bad.any():
            raise StinError(f"channels stage produced {int(bad.sum())} invalid value(s) in {name} at slot {t}",
                            "this is a bug or an extreme input: report it with params.yaml and the map file")


def build(params: dict[str, Any], paths: CityPaths) -> None:
    for f in (paths.raypaths_nc, paths.radiomaps_nc, paths.heatmaps_nc):
        if not f.is_file():
            raise StinError(f"{f} not found", "run the earlier stages first ('dvc repro')")
    radiomaps = xr.open_dataset(paths.radiomaps_nc, engine="netcdf4")  # lazy: the maps are read per sector
    link = LinkParams.from_params(section(params, "link"), section(params, "ue"),
                                 number(section(params, "radio"), "freq_hz", "params.yaml radio"))
    frame = LocalFrame(radiomaps.attrs["frame_lat0_deg"], radiomaps.attrs["frame_lon0_deg"])
    center = map_center_xyz(radiomaps)
    with xr.open_dataset(paths.raypaths_nc, engine="netcdf4") as lazy:
        # the paths stay on disk (read slot by slot); the per-link and per-slot variables are small
        raypaths = lazy.drop_vars([v for v in ROW_VARS if v not in ("num_paths",)]).load()
        cars = raypaths["check_point"].values == 0
        static = raypaths.drop_vars(["num_paths", "naive_num_paths", "naive_los"]).isel(ue=cars).drop_vars("check_point")
        static.attrs.update(channel_attrs(link))
        slot_vars = {**CHANNEL_SLOT_VARS,
                     "cinr_bs_db": (("time", "ue"), "f4", {"units": "dB", "long_name": "BS-UE CINR"}),
                     "cinr_leo_db": (("time", "ue"), "f4", {"units": "dB", "long_name": "LEO-UE CINR"})}
        per_link: dict[str, list[np.ndarray]] = {name: [] for name in slot_vars}
        kinds = raypaths["tx_kind"].values
        with PathStoreWriter(paths.channels_nc, static, slot_vars) as writer:
            for t, slot, values in channel_slots(lazy, link, beam_target_xyz(link.sat_beam_target, radiomaps, frame),
                                                 center):
                g = linear_gains(values["gain_db"], static.attrs["gain_floor_db"])
                c = cinr_db(g[:, kinds == "bs"], g[:, kinds == "sat"], link)
                values = {**values, "cinr_bs_db": c["cinr_bs_db"].astype(np.float32),
                          "cinr_leo_db": c["cinr_leo_db"].astype(np.float32)}
                for name, v in values.items():
                    per_link[name].append(v)
                require_finite_slot(values, ("gain_db", "cinr_bs_db", "cinr_leo_db"), cars, t)
                writer.write_slot(t, slot.take_ue(cars), **{name: v[cars] for name, v in values.items()})
    both = raypaths.assign({name: (slot_vars[name][0], np.stack(v)) for name, v in per_link.items()})
    ds = both.isel(ue=cars).drop_vars("check_point")
    cinr_bs, cinr_leo = ds["cinr_bs_db"].values, ds["cinr_leo_db"].values
    heat = read_netcdf(paths.heatmaps_nc)
    # the two tracers on the same links: path solver at each car's map-cell centre vs that cell
    cmp = route_vs_map(both.isel(ue=~cars), radiomaps, heat)
    diff, diff_los = cmp["diff_db"], cmp["los"]
    # the car itself vs its cell (adds the field's variation inside a 5 m cell)
    at_car = route_vs_map(ds, radiomaps, heat)
    sat = ds["tx_kind"].values == "sat"
    present = (raypaths.sat_index.values >= 0)[:, None, :].repeat(ds.sizes["ue"], axis=1)  # (time, ue, rank)
    n_far = ds["num_paths"].values[..., sat]
    los_far = ds["los"].values[..., sat].astype(bool)
    n_naive = raypaths["naive_num_paths"].values[:, cars]
    los_naive = raypaths["naive_los"].values[:, cars].astype(bool)
    nlos = present & ~los_far  # points that are NLoS for the satellite (geometry, from the far-field run)

    def stats(n: np.ndarray) -> dict[str, float]:
        return {"points_with_path_share": float((n[present] >= 1).mean()),
                "mean_paths_per_point": float(n[present].mean()),
                "nlos_points_with_path_share": float((n[nlos] >= 1).mean()) if nlos.any() else float("nan")}

    far = stats(n_far)
    naive = stats(n_naive) if raypaths.attrs.get("naive_comparison", 0) else dict.fromkeys(far, float("nan"))
    metrics = {
        "route_vs_map_gain_diff_db_median": round(float(np.median(np.abs(diff))), 3),
        "route_vs_map_gain_diff_db_p90": round(float(np.percentile(np.abs(diff), 90)), 3),
        "route_vs_map_gain_diff_db_mean_signed": round(float(np.mean(diff)), 3),
        "route_vs_map_pairs": int(diff.size),
        "route_vs_map_los_diff_db_median": round(float(np.median(np.abs(diff[diff_los]))), 3) if diff_los.any() else None,
        "route_vs_map_nlos_diff_db_median": round(float(np.median(np.abs(diff[~diff_los]))), 3) if (~diff_los).any() else None,
        "route_vs_map_los_pairs": int(diff_los.sum()),
        "route_vs_map_traced_diff_db_median": round(float(np.median(np.abs(diff[cmp["traced"]]))), 3)
        if cmp["traced"].any() else None,
        "route_vs_map_traced_pairs": int(cmp["traced"].sum()),
        "route_vs_map_cinr_diff_db_median": round(float(np.nanmedian(np.abs(cmp["cinr_diff_db"]))), 3),
        "route_vs_map_cinr_diff_db_p90": round(float(np.nanpercentile(np.abs(cmp["cinr_diff_db"]), 90)), 3),
        "receiver": link.receiver.mode,
        "route_point_vs_cell_gain_diff_db_median": round(float(np.median(np.abs(at_car["diff_db"]))), 3),
        "route_point_vs_cell_gain_diff_db_p90": round(float(np.percentile(np.abs(at_car["diff_db"]), 90)), 3),
        "route_point_vs_cell_cinr_diff_db_median": round(float(np.nanmedian(np.abs(at_car["cinr_diff_db"]))), 3),
        "sat_points_with_path_share": round(far["points_with_path_share"], 4),
        "sat_mean_paths_per_point": round(far["mean_paths_per_point"], 3),
        "sat_nlos_points_with_path_share": round(far["nlos_points_with_path_share"], 4),
        "naive_sat_points_with_path_share": round(naive["points_with_path_share"], 4),
        "naive_sat_mean_paths_per_point": round(naive["mean_paths_per_point"], 3),
        "naive_sat_nlos_points_with_path_share": round(naive["nlos_points_with_path_share"], 4),
        "sat_nlos_points": int(nlos.sum()), "sat_points": int(present.sum()),
        "naive_sat_los_points_share": round(float(los_naive[present].mean()), 4)
        if raypaths.attrs.get("naive_comparison", 0) else None,
    }
    write_json(paths.channels_metrics, metrics)
    seconds = ((ds.time.values - ds.time.values[0]) / np.timedelta64(1, "s")).astype(float)
    for name, cinr in (("bs", cinr_bs), ("sat", cinr_leo)):  # CINR over time per car (DVC plots)
        write_plot_table(paths.results_dir / "plots" / f"cinr_{name}_over_time.csv",
                         per_car_table(seconds, cinr, [str(ue) for ue in ds.ue.values]))

    buildings = gpd.read_file(paths.buildings_local)
    sites = gpd.read_file(paths.sites_geojson)
    routes = gpd.read_file(paths.routes_geojson).to_crs(frame.crs).set_index("ue")
    for k, ue in enumerate(ds.ue.values[:MAX_ROUTE_FIGURES]):
        line = np.asarray(routes.geometry[str(ue)].coords)
        ue_xy = np.stack([ds.ue_x_m.values[:, k], ds.ue_y_m.values[:, k]], axis=-1)
        plot_route_cinr(paths.figures_dir / "routes" / f"route_cinr_{ue}.png", str(ue), ds.time.values, cinr_bs[:, k],
                        cinr_leo[:, k], heat, buildings, sites, line, ue_xy)
    note_timing("stage_peak_rss_mb", peak_rss_mb())
    print(f"[channels] path solver at the cars' map cells vs the radio maps (every slot, BS and satellites): median |diff| "
          f"{metrics['route_vs_map_gain_diff_db_median']} dB, p90 {metrics['route_vs_map_gain_diff_db_p90']} dB over "
          f"{diff.size} links (line of sight: {metrics['route_vs_map_los_diff_db_median']} dB over "
          f"{metrics['route_vs_map_los_pairs']}); CINR median |diff| {metrics['route_vs_map_cinr_diff_db_median']} dB")
    print(f"[channels] satellite paths: far-field {far['points_with_path_share']:.1%} of points, "
          f"{far['mean_paths_per_point']:.2f} paths/point, NLoS points reached {far['nlos_points_with_path_share']:.1%}"
          + (f"; naive {naive['points_with_path_share']:.1%}, {naive['mean_paths_per_point']:.2f}, "
             f"{naive['nlos_points_with_path_share']:.1%}" if raypaths.attrs.get("naive_comparison", 0) else ""))


def main() -> int:
    return run_stage("channels", build)


if __name__ == "__main__":
    sys.exit(main())
