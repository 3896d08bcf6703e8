"""DVC stage ``radiomaps``: ray-traced path gains of every BS sector and serving satellite.

Writes ``data/<city>/radiomaps.nc``: ``path_gain_bs`` (bs, y, x) with the BS antenna
pattern applied by the ray tracer, ``path_gain_sat`` (time, rank, y, x) for the serving
satellites at their true slant ranges (isotropic antennas: the satellite and UE gains are
applied by the ``heatmaps`` stage), the ``outdoor`` mask and the grid in the local frame
and in lon/lat. Powers, bandwidth and noise are not used here, so changing them never
triggers ray tracing.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import xarray as xr

from pipeline.config import flag, load_map, number, section
from pipeline.errors import StinError
from pipeline.geometry.terrain import terrain_from_area
from pipeline.geometry.footprints import bbox_local_box
from pipeline.geometry.frame import LocalFrame
from pipeline.io.atomic import read_json, write_json
from pipeline.io.invariants import require_finite
from pipeline.io.netcdf import StreamedNetcdf, read_netcdf
from pipeline.io.paths import CityPaths
from pipeline.orbits.window import serving_attributes
from pipeline.radio.direct import Penetration
from pipeline.radio.maptasks import MapJob, run_map_tasks
from pipeline.radio.receiver import ReceiverModel
from pipeline.radio.tracing import BsConfig, MapGrid
from pipeline.compute import LAST_RUN, ComputeConfig, peak_rss_mb
from pipeline.stages._common import note_timing, run_stage


def outdoor_mask(grid: MapGrid, footprints: gpd.GeoSeries) -> np.ndarray:
    """True where the cell centre is outside every building footprint."""
    union = shapely.union_all(footprints.to_numpy())
    xx, yy = np.meshgrid(grid.x_m, grid.y_m)
    return ~shapely.contains_xy(union, xx, yy)


def top_of_buildings_m(buildings: gpd.GeoDataFrame) -> float:
    """Highest roof above the frame's z = 0 (terrain under each building included)."""
    if len(buildings) == 0:
        return 0.0
    return float((buildings["height_m"] + buildings.get("ground_z_m", 0.0)).max())


def outside(rows: slice, cols: slice, ny: int, nx: int) -> list[tuple[slice, slice]]:
    """The rectangles of an (ny, nx) grid outside the window (rows, cols): above, below, left, right."""
    parts = [(slice(0, rows.start), slice(0, nx)), (slice(rows.stop, ny), slice(0, nx)),
             (rows, slice(0, cols.start)), (rows, slice(cols.stop, nx))]
    return [(r, c) for r, c in parts if r.stop > r.start and c.stop > c.start]


def map_job(params: dict[str, Any], paths: CityPaths, grid: MapGrid, buildings: gpd.GeoDataFrame) -> MapJob:
    """The radio-map tracing job of params.yaml (radio, bs, ue, raytracing) on ``grid``."""
    rtp = section(params, "raytracing")
    where = "params.yaml raytracing"
    freq_hz = number(section(params, "radio"), "freq_hz", "params.yaml radio")
    return MapJob(scene_xml=paths.scene_xml.resolve(), freq_hz=freq_hz, grid=grid, bs=BsConfig.from_params(section(params, "bs")),
                  receiver=ReceiverModel.from_params(section(params, "ue")),
                  penetration=Penetration.from_params(rtp.get("penetration", {}), freq_hz),
                  max_depth=int(number(rtp, "max_depth", where, positive=False, minimum=0)),
                  diffraction=flag(rtp, "diffraction", where), seed=int(number(rtp, "seed", where, positive=False, minimum=0)),
                  bs_samples_per_tx=int(number(rtp, "bs_samples_per_tx", where)),
                  sat_samples=int(number(rtp, "sat_samples", where)),
                  proxy_distance_m=number(rtp, "proxy_distance_m", where),
                  launch_margin_m=number(rtp, "launch_margin_m", where, positive=False, minimum=0),
                  max_height_m=top_of_buildings_m(buildings),
                  tile_size_m=float(rtp.get("tile_size_m") or float("inf")),
                  bs_max_range_m=float(rtp.get("bs_max_range_m") or float("inf")),
                  bs_sites_per_task=int(number(rtp, "bs_sites_per_task", where)) if "bs_sites_per_task" in rtp else 4)


def build(params: dict[str, Any], paths: CityPaths) -> None:
    city = params["city"]
    map_cfg = load_map(city)
    radio = section(params, "radio")
    rtp = section(params, "raytracing")
    where = "params.yaml raytracing"
    freq_hz = number(radio, "freq_hz", "params.yaml radio")
    rx_height_m = number(radio, "rx_height_m", "params.yaml radio")
    cell = number(rtp, "cell_size_m", where)
    max_depth = int(number(rtp, "max_depth", where, positive=False, minimum=0))
    seed = int(number(rtp, "seed", where, positive=False, minimum=0))
    bs = BsConfig.from_params(section(params, "bs"))
    area = read_json(paths.area_json)
    if area is None or not paths.sites_geojson.is_file() or not paths.orbits_nc.is_file():
        raise StinError(f"inputs of '{city}' missing in {paths.data_dir}", "run the earlier stages first ('dvc repro')")
    frame = LocalFrame.from_dict(area["frame"])
    grid = MapGrid.covering(bbox_local_box(map_cfg.bbox, frame).bounds, cell, rx_height_m).on_terrain(
        terrain_from_area(area))  # cells rx_height_m above the terrain (flat ground: the plane z = rx_height_m)
    if grid.shape[0] * grid.shape[1] > 4_000_000:
        raise StinError(f"raytracing.cell_size_m = {cell} gives {grid.shape[0] * grid.shape[1]} cells",
                        "use larger cells (the map would not fit in memory)")
    sites = gpd.read_file(paths.sites_geojson)
    orbits = read_netcdf(paths.orbits_nc)
    serving = orbits["serving_sat"].to_numpy()
    if (serving < 0).all():
        raise StinError("no serving satellite in any slot", "rerun the orbits stage with a lower min_elevation_deg")

    buildings = gpd.read_file(paths.buildings_local)
    outdoor = outdoor_mask(grid, buildings.geometry)
    if not outdoor.any():
        raise StinError(f"no radio-map cell of '{city}' lies outdoors ({grid.shape[0] * grid.shape[1]} cells)",
                        "use a smaller raytracing.cell_size_m")
    site_rows = [(r.site_id, float(r.x_m), float(r.y_m), float(r.z_m)) for r in sites.itertuples()]
    n_time, n_rank = serving.shape
    att = serving_attributes(orbits, ("elevation_deg", "azimuth_deg", "slant_range_m", "direction_enu"))
    elev, azim, rng = att["elevation_deg"], att["azimuth_deg"], att["slant_range_m"]
    dirs = np.nan_to_num(att["direction_enu"])
    # trace each distinct (satellite, slot) once; a satellite moves between slots, so no reuse
    todo = [(t, r) for t in range(n_time) for r in range(n_rank) if serving[t, r] >= 0]
    receiver = ReceiverModel.from_params(section(params, "ue"))
    job = map_job(params, paths, grid, buildings)
    bs_names = [name for name, _, _ in bs.sector_transmitters(site_rows)]
    xx, yy = np.meshgrid(grid.x_m, grid.y_m)
    lon, lat = frame.to_wgs84(xx, yy)
    site_of = [n.rsplit("-s", 1)[0] for n in bs_names]
    site_idx = {sid: i for i, sid in enumerate(sites.site_id)}
    static = xr.Dataset(
        {
            "serving_sat": (("time", "rank"), serving.astype(np.int32)),
            "sat_elevation_deg": (("time", "rank"), elev),
            "sat_azimuth_deg": (("time", "rank"), azim),
            "sat_slant_range_m": (("time", "rank"), rng),
            "sat_direction_enu": (("time", "rank", "enu"), dirs),
            "outdoor": (("y", "x"), outdoor.astype(np.uint8)),
            "bs_x_m": (("bs",), np.array([sites.x_m[site_idx[s]] for s in site_of])),
            "bs_y_m": (("bs",), np.array([sites.y_m[site_idx[s]] for s in site_of])),
            "bs_z_m": (("bs",), np.array([sites.z_m[site_idx[s]] for s in site_of])),
            "bs_bearing_deg": (("bs",), np.array([bs.sector_bearings_deg[int(n.rsplit("-s", 1)[1])] for n in bs_names])),
        },
        coords={"x": grid.x_m, "y": grid.y_m, "time": orbits["time"].values, "rank": orbits["rank"].values,
                "bs": np.array(bs_names), "bs_site": (("bs",), np.array(site_of)), "enu": ["east", "north", "up"],
                "lon": (("y", "x"), lon), "lat": (("y", "x"), lat)},
        attrs={"city": city, "freq_hz": freq_hz, "rx_height_m": rx_height_m, "cell_size_m": cell,
               "crs_proj4": frame.proj4, "frame_lat0_deg": frame.lat0_deg, "frame_lon0_deg": frame.lon0_deg,
               "max_depth": max_depth, "diffraction": int(flag(rtp, "diffraction", where)), "seed": seed,
               "bs_pattern": bs.pattern, "receiver": receiver.mode,
               "note": "path gains are linear; BS antenna and the car's receive pattern per ray (ue.receiver) "
                       "included; the satellite antenna and the steered array's wanted-link gain are not; "
                       "*_direct: the direct ray alone (line of sight or through walls)"},
    )
    static["x"].attrs.update(units="m", long_name="east in the local frame (crs_proj4)")
    static["y"].attrs.update(units="m", long_name="north in the local frame (crs_proj4)")
    if grid.ground_z_m is not None:  # terrain: the cells are rx_height_m above the ground, not on a plane
        static["cell_z_m"] = (("y", "x"), grid.centers[..., 2])
        static["cell_z_m"].attrs.update(units="m", long_name="height of the cell centre (terrain + rx_height_m)")
        static.attrs["terrain_datum_m"] = float(area["terrain"]["datum_m"])
    # the maps go to the file window by window as the tasks finish (memory: the windows in flight, not
    # sectors x cells); cells a task does not cover (beyond a sector's range, absent satellite ranks) get 0
    tile = max(1, round(job.tile_size_m / cell)) if np.isfinite(job.tile_size_m) else 256
    chunk = (1, 1, min(tile, 256), min(tile, 256))
    sat_of_map = dict(enumerate(todo))  # sat map index -> (slot, rank)
    covered = np.zeros(len(bs_names), bool)  # sectors a BS task wrote
    ny, nx = grid.shape

    def check(name: str, dims: tuple[str, ...], values: np.ndarray) -> None:
        require_finite(xr.Dataset({name: (dims, values)}), (name,), "radiomaps", minimum=0.0)

    for stale in paths.data_dir.glob(".tile-scenes-*"):  # left by a run killed mid-stage (kill -9 skips cleanup)
        shutil.rmtree(stale, ignore_errors=True)
    t0 = time.perf_counter()
    # tile scenes next to the outputs (a cluster's workers share the project folder), removed afterwards
    with StreamedNetcdf(paths.radiomaps_nc, static) as nc, \
            tempfile.TemporaryDirectory(dir=paths.data_dir, prefix=".tile-scenes-") as tile_scenes:
        for name in ("path_gain_bs", "path_gain_bs_direct"):
            nc.create(name, ("bs", "y", "x"), "f4", chunk[1:])
        for name in ("path_gain_sat", "path_gain_sat_direct"):
            nc.create(name, ("time", "rank", "y", "x"), "f4", chunk)

        def sink(task, total: np.ndarray, direct: np.ndarray) -> None:  # noqa: ANN001
            rows, cols = task.window
            for suffix, values in (("", total), ("_direct", direct)):
                name = f"path_gain_{task.kind}{suffix}"
                values = np.asarray(values, np.float32)
                check(name, ("n", "y", "x")[-values.ndim:], values)
                if task.kind == "bs":
                    covered[task.index] = True
                    nc.write(name, (task.index, rows, cols), values)
                    for r, c in outside(rows, cols, ny, nx):  # the rest of the sectors' maps: out of range
                        nc.write(name, (task.index, r, c), np.zeros((values.shape[0], r.stop - r.start,
                                                                     c.stop - c.start), np.float32))
                else:
                    t, r = sat_of_map[task.index]
                    nc.write(name, (t, r, rows, cols), values)

        run_map_tasks(job, site_rows, np.array([dirs[t, r] for t, r in todo]).reshape(-1, 3),
                      np.array([rng[t, r] for t, r in todo]), ComputeConfig.from_params(params), sink=sink,
                      tile_scene_dir=Path(tile_scenes).resolve())  # absolute: workers may run elsewhere
        zeros = np.zeros((ny, nx), np.float32)
        for i in np.flatnonzero(~covered):  # sectors with no cell in range
            for name in ("path_gain_bs", "path_gain_bs_direct"):
                nc.write(name, i, zeros)
        for t in range(n_time):
            for r in range(n_rank):
                if serving[t, r] < 0:  # no satellite at this rank in this slot
                    for name in ("path_gain_sat", "path_gain_sat_direct"):
                        nc.write(name, (t, r), zeros)
    t_trace = time.perf_counter() - t0
    note_timing("raytracer_s", t_trace)
    note_timing("tasks", LAST_RUN.get("tasks"))  # run statistics (scripts/bench_scale.py), not results
    note_timing("worker_peak_rss_mb", LAST_RUN.get("worker_peak_rss_mb"))
    note_timing("stage_peak_rss_mb", peak_rss_mb())
    write_json(paths.radiomaps_metrics, {"n_bs_sectors": len(bs_names), "n_sat_maps": len(todo),
                                         "grid_cells": int(grid.shape[0] * grid.shape[1])})
    print(f"[radiomaps] {city}: {len(bs_names)} BS sectors and {len(todo)} satellite maps in {t_trace:.1f} s "
          f"on a {grid.shape[1]} x {grid.shape[0]} grid of {cell:g} m cells (receiver {receiver.mode}) "
          f"({outdoor.mean():.0%} outdoor)")


def main() -> int:
    return run_stage("radiomaps", build)


if __name__ == "__main__":
    sys.exit(main())
