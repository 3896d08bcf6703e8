"""DVC stage ``raypaths``: ray-traced paths from every BS sector and serving satellite to
every UE at every slot (Sionna PathSolver) -> data/<city>/raypaths.nc.

Tasks on the Dask engine (pipeline/compute.py): BS sectors in batches of 6 over the receivers
of a group of slots (``raypaths.receivers_per_task``: BS sectors do not move, so their candidate
rays serve many slots), and one task per slot for the serving satellites as far-field proxies
(rays aimed at the map, satellite velocity on the proxy for Doppler, paths moved to the true
slant range, departure direction and Doppler). The direct ray of every link that has no line of
sight is evaluated through walls (pipeline.radio.direct: the paper's N2 ray set) and stored
beside the paths. Optionally the satellites are also traced as ordinary transmitters at the
proxy (the naive approach) for comparison. Results stream back in task order and are written
slot by slot as ragged rows, one row per path found (pipeline/io/pathstore.py), so memory
holds one slot whatever the number of cars and slots.
No power, bandwidth or noise is used here: the ``channels`` stage adds them.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from pipeline.config import flag, load_map, number, section
from pipeline.errors import StinError
from pipeline.geometry.terrain import terrain_from_area
from pipeline.geometry.footprints import bbox_local_box
from pipeline.geometry.frame import LocalFrame
from pipeline.io.atomic import read_json, write_json
from pipeline.io.netcdf import read_netcdf
from pipeline.io.pathstore import PathStoreWriter, SlotPaths
from pipeline.io.paths import CityPaths
from pipeline.orbits.window import serving_attributes
from pipeline.radio.direct import Penetration, satellite_direct_gain, sector_direct_gains
from pipeline.radio.farfield import LaunchArea, proxy_position
from pipeline.radio.raypaths import (
    BsPathJob, PathSet, add_receivers, aimed_candidates, bs_sector_calls, check_path_memory, clear_devices,
    proxy_paths_to_satellite, solve)
from pipeline.radio.receiver import ReceiverModel
from pipeline.radio.tracing import BsConfig, MapGrid, worker_scene
from pipeline.compute import LAST_RUN, ComputeConfig, peak_rss_mb, stream_calls
from pipeline.runtime import import_sionna_rt
from pipeline.stages._common import note_timing, run_stage
from pipeline.stages.radiomaps import top_of_buildings_m

UE_ORIENTATION = (0.0, -math.pi / 2, 0.0)  # pitch -90 deg: the patch array's boresight to the zenith
CHECK_SUFFIX = "@cell"  # receiver name suffix of the cross-check points


@dataclass(frozen=True)
class SlotJob:
    """What a worker needs to trace the satellite paths of one slot (and the through-wall direct rays)."""

    scene_xml: Path
    freq_hz: float
    ue_array: dict[str, Any]
    bs: BsConfig
    site_rows: list[tuple[str, float, float, float]]
    penetration: Penetration
    rx_ids: tuple[str, ...]
    n_rank: int
    center: tuple[float, float]
    proxy_distance_m: float
    launch: LaunchArea
    max_height_m: float
    sat_samples: int
    max_depth: int
    diffraction: bool
    seed: int
    naive_comparison: bool


def slot_task(job: SlotJob, pos: np.ndarray, vel: np.ndarray,
              sats: list[tuple[int, np.ndarray, np.ndarray, float]]) -> dict[str, Any]:
    """One slot: the sectors' and satellites' direct rays through walls, and the satellite paths of the
    serving ``sats`` (rank, direction, velocity, slant range) to the receivers at ``pos`` moving at ``vel``."""
    import mitsuba as mi  # noqa: PLC0415

    rt = import_sionna_rt()
    scene = worker_scene(job.scene_xml, job.freq_hz, "paths")
    n_rx = len(pos)
    out: dict[str, Any] = {"paths": None, "sat_gain": np.zeros((n_rx, job.n_rank)),
                           "sat_loss": np.full((n_rx, job.n_rank), np.inf), "sat_arrival": np.zeros((n_rx, job.n_rank, 3)),
                           "naive_counts": np.zeros((n_rx, job.n_rank), np.int32),
                           "naive_los": np.zeros((n_rx, job.n_rank), bool)}
    clear_devices(scene)
    g, arrival, loss = sector_direct_gains(scene, pos, job.bs, job.site_rows, job.freq_hz, job.penetration)
    out["bs_gain"], out["bs_loss"], out["bs_arrival"] = g.T, loss.T, arrival.transpose(1, 0, 2)  # (rx, sector)
    if not sats:
        return out
    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    scene.rx_array = rt.PlanarArray(**job.ue_array)
    proxies = {}
    for r, u, v, _ in sats:
        proxies[r] = proxy_position(u, job.center, job.proxy_distance_m)
        scene.add(rt.Transmitter(f"sat{r}", position=mi.Point3f(*[float(c) for c in proxies[r]]),
                                 velocity=mi.Vector3f(*[float(c) for c in v])))
    add_receivers(scene, pos, vel, list(job.rx_ids), UE_ORIENTATION)
    try:
        with aimed_candidates(LaunchArea.union([job.launch.covering_facades(u, job.max_height_m) for _, u, _, _ in sats])):
            ps = solve(scene, samples_per_src=job.sat_samples, max_depth=job.max_depth, diffraction=job.diffraction,
                       seed=job.seed)
        for i, (r, u, v, slant_range_m) in enumerate(sats):
            sat_xyz = np.array([*job.center, 0.0]) + float(slant_range_m) * u
            proxy_paths_to_satellite(ps, proxies[r], sat_xyz, job.freq_hz, i, pos, v, vel)
            g, arrival, loss = satellite_direct_gain(scene, pos, u, sat_xyz, job.freq_hz, job.penetration)
            out["sat_gain"][:, r], out["sat_loss"][:, r], out["sat_arrival"][:, r] = g, loss, arrival
        out["paths"] = pathset_rows(_expand_ranks(ps, [r for r, _, _, _ in sats], job.n_rank))
        if job.naive_comparison:
            naive = solve(scene, samples_per_src=job.sat_samples, max_depth=job.max_depth,
                          diffraction=job.diffraction, seed=job.seed)
            for i, (r, _, _, _) in enumerate(sats):
                out["naive_counts"][:, r] = naive.valid[:, i].sum(-1)
                out["naive_los"][:, r] = naive.los[:, i].any(-1)
    finally:
        clear_devices(scene)
    return out


def build(params: dict[str, Any], paths: CityPaths) -> None:
    city = params["city"]
    rp = section(params, "raypaths")
    w = "params.yaml raypaths"
    ue_p = section(params, "ue")
    freq = number(section(params, "radio"), "freq_hz", "params.yaml radio")
    rtp = section(params, "raytracing")
    seed = int(rtp["seed"])
    max_depth = int(number(rp, "max_depth", w, positive=False, minimum=0))
    diffraction = flag(rp, "diffraction", w)
    naive_comparison = flag(rp, "naive_comparison", w, default=False)
    for f in (paths.trajectory_nc, paths.orbits_nc, paths.sites_geojson, paths.area_json):
        if not f.is_file():
            raise StinError(f"{f} not found", "run the earlier stages first ('dvc repro')")
    traj = read_netcdf(paths.trajectory_nc)
    orbits = read_netcdf(paths.orbits_nc)
    sites = gpd.read_file(paths.sites_geojson)
    meta = read_json(paths.scene_dir / "metadata.json")
    bs = BsConfig.from_params(section(params, "bs"))
    if not paths.scene_xml.is_file():
        raise StinError(f"scene {paths.scene_xml} not found", "run the scene stage first ('dvc repro scene')")
    receiver = ReceiverModel.from_params(ue_p)
    penetration = Penetration.from_params(rtp.get("penetration", {}), freq)
    ue_array = dict(num_rows=receiver.rows, num_cols=receiver.cols, pattern="stin_patch",
                    vertical_spacing=receiver.spacing_wl, horizontal_spacing=receiver.spacing_wl,
                    polarization=str(ue_p.get("polarization", "VH")), g_max_dbi=receiver.element_gain_dbi,
                    theta_3db_deg=receiver.element_3db_deg, a_max_db=receiver.max_attenuation_db)
    site_rows = [(r.site_id, float(r.x_m), float(r.y_m), float(r.z_m)) for r in sites.itertuples()]
    bs_tx = bs.sector_transmitters(site_rows)
    ue_ids = [str(u) for u in traj.ue.values]
    n_time, n_ue = traj.sizes["time"], traj.sizes["ue"]
    serving = orbits["serving_sat"].values
    n_rank = serving.shape[1]
    polarizations = 2 if str(ue_p.get("polarization", "VH")) in ("VH", "cross") else 1
    x0, y0, x1, y1 = meta["ground_bounds_m"]
    center = ((x0 + x1) / 2, (y0 + y1) / 2)
    z_ue = float(traj.z_m.values.min())  # on terrain the cars' antennas follow the ground: aim at the lowest
    launch = LaunchArea(x0, y0, x1, y1, z_ue).grown(float(rtp["launch_margin_m"]))
    proxy_d = float(rtp["proxy_distance_m"])
    max_height_m = top_of_buildings_m(gpd.read_file(paths.buildings_local))
    # cross-check receivers: the radio-map cell centre of every car, traced with the cars (same slot, same
    # transmitters) so that both tracers can be compared on the very same links (channels stage)
    area = read_json(paths.area_json)
    frame = LocalFrame.from_dict(area["frame"])
    grid = MapGrid.covering(bbox_local_box(load_map(city).bbox, frame).bounds,
                            number(rtp, "cell_size_m", "params.yaml raytracing"),
                            number(section(params, "radio"), "rx_height_m", "params.yaml radio")
                            ).on_terrain(terrain_from_area(area))
    rx_ids = ue_ids + [f"{u}{CHECK_SUFFIX}" for u in ue_ids]

    def ue_state(t: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities of the cars, then of their map-cell centres (standing still)."""
        pos = np.stack([traj.x_m.values[t], traj.y_m.values[t], traj.z_m.values[t]], axis=-1)
        vel = np.stack([traj.vel_east_m_s.values[t], traj.vel_north_m_s.values[t], np.zeros(n_ue)], axis=-1)
        return np.concatenate([pos, grid.cell_centre_of(pos)]), np.concatenate([vel, np.zeros_like(vel)])

    n_bs, n_rx = len(bs_tx), len(rx_ids)
    rx_pos = np.zeros((n_time, n_rx, 3))
    rx_vel = np.zeros((n_time, n_rx, 3))
    for t in range(n_time):
        rx_pos[t], rx_vel[t] = ue_state(t)
    # the panel's weights, in the order of the paths' tx_ant axis; no scene is loaded in this process: every
    # ray is traced in tasks, so the in-process (serial) run and a cluster's workers start from the same state
    tx_w = bs.panel_weights()
    # BS sectors do not move: their candidate rays are shot once for the receivers of a group of slots (tests
    # check that batched receivers get the channels they get one by one), in tasks of a few sectors; the
    # group size is a parameter, not the number of workers, so the paths do not depend on the cluster
    slots_per_task = max(1, int(number(rp, "receivers_per_task", w)) // n_rx)
    check_path_memory(slots_per_task, n_ue, len(bs_tx) + n_rank, receiver.rows * receiver.cols * polarizations,
                      bs.array_rows * bs.array_cols)
    groups = [list(range(g, min(g + slots_per_task, n_time))) for g in range(0, n_time, slots_per_task)]
    slot_job = SlotJob(scene_xml=paths.scene_xml.resolve(), freq_hz=freq, ue_array=ue_array, bs=bs, site_rows=site_rows,
                       penetration=penetration, rx_ids=tuple(rx_ids), n_rank=n_rank, center=center,
                       proxy_distance_m=proxy_d, launch=launch, max_height_m=max_height_m,
                       sat_samples=int(number(rp, "sat_samples_per_src", w)), max_depth=max_depth,
                       diffraction=diffraction, seed=seed, naive_comparison=naive_comparison)
    calls: list[tuple[Any, tuple]] = []
    plan: list[tuple[str, int]] = []  # ("bs", group) or ("slot", t) per call
    for g, slots in enumerate(groups):
        bs_job = BsPathJob(scene_xml=paths.scene_xml.resolve(), freq_hz=freq, tx_array=bs.array_kwargs(),
                           rx_array=ue_array, rx_positions=rx_pos[slots].reshape(-1, 3),
                           rx_velocities=rx_vel[slots].reshape(-1, 3),
                           rx_names=tuple(f"{name}#{t}" for t in slots for name in rx_ids),
                           rx_orientation=UE_ORIENTATION, samples_per_src=int(number(rp, "bs_samples_per_src", w)),
                           max_depth=max_depth, diffraction=diffraction, seed=seed)
        for fn, args in bs_sector_calls(bs_job, bs_tx):
            calls.append((bs_slots_task, (fn, args, n_rx)))
            plan.append(("bs", g))
        for t in slots:
            sats = [(r, orbits.direction_enu.values[t, serving[t, r]], orbits.velocity_enu.values[t, serving[t, r]],
                     float(orbits.slant_range_m.values[t, serving[t, r]])) for r in range(n_rank) if serving[t, r] >= 0]
            calls.append((slot_task, (slot_job, rx_pos[t], rx_vel[t], sats)))
            plan.append(("slot", t))

    sat_ids = np.where(serving >= 0, serving, -1)
    att = serving_attributes(orbits, ("elevation_deg", "slant_range_m", "range_rate_m_s", "direction_enu"))
    n_rx_ant = receiver.rows * receiver.cols * polarizations
    n_tx_ant = max(int(np.asarray(tx_w).size), 1)
    static = xr.Dataset(
        {
            "sat_index": (("time", "rank"), sat_ids.astype(np.int32)),
            "sat_elevation_deg": (("time", "rank"), att["elevation_deg"]),
            "sat_slant_range_m": (("time", "rank"), att["slant_range_m"]),
            "sat_range_rate_m_s": (("time", "rank"), att["range_rate_m_s"]),
            "sat_direction_enu": (("time", "rank", "enu"), np.nan_to_num(att["direction_enu"])),
            "bs_tx_weight_real": (("tx_ant",), tx_w.real), "bs_tx_weight_imag": (("tx_ant",), tx_w.imag),
            "ue_x_m": (("time", "ue"), rx_pos[..., 0]), "ue_y_m": (("time", "ue"), rx_pos[..., 1]),
            "ue_z_m": (("time", "ue"), rx_pos[..., 2]),
            "ue_vel_east_m_s": (("time", "ue"), rx_vel[..., 0]), "ue_vel_north_m_s": (("time", "ue"), rx_vel[..., 1]),
        },
        coords={"time": traj.time.values, "ue": rx_ids,
                "check_point": (("ue",), np.repeat(np.array([0, 1], np.uint8), n_ue)),
                "tx": [n for n, _, _ in bs_tx] + [f"sat{r}" for r in range(n_rank)],
                "tx_kind": (("tx",), ["bs"] * n_bs + ["sat"] * n_rank), "bs": [n for n, _, _ in bs_tx],
                "rank": np.arange(n_rank), "rx_ant": np.arange(n_rx_ant), "tx_ant": np.arange(n_tx_ant),
                "enu": ["east", "north", "up"]},
        attrs={"city": city, "freq_hz": freq, "max_depth": max_depth, "diffraction": int(diffraction), "seed": seed,
               "proxy_distance_m": proxy_d, "receiver": receiver.mode,
               "naive_comparison": int(naive_comparison), "ue_spacing_wl": receiver.spacing_wl,
               "note": "paths stored by the paths found (pipeline/io/pathstore.py: rows per link, by delay); "
                       "satellite paths at the true slant range, isotropic satellite antenna; "
                       "receivers with check_point = 1 stand at the radio-map cell centre of each car (cross-check); "
                       "BS and UE element patterns applied by the ray tracer (the UE array's ports in a); "
                       "penetration_gain: the through-wall direct ray of links without line of sight, "
                       "tx antenna included, receive pattern not (penetration_loss_db -1: no finite ray)"},
    )
    slot_vars = {"penetration_gain": (("time", "ue", "tx"), "f8", {}),
                 "penetration_loss_db": (("time", "ue", "tx"), "f8", {}),
                 "direct_arrival_enu": (("time", "ue", "tx", "enu"), "f8", {}),
                 "naive_num_paths": (("time", "ue", "rank"), "i4", {}),
                 "naive_los": (("time", "ue", "rank"), "u1", {})}
    t0 = time.perf_counter()
    bs_parts: dict[int, list[SlotPaths]] = {}  # slot -> its BS sector batches, until the slot's own task is in
    max_links_paths = 0
    with PathStoreWriter(paths.raypaths_nc, static, slot_vars) as writer:
        for i, result in stream_calls(calls, ComputeConfig.from_params(params), "ray tracing paths"):
            kind, key = plan[i]
            if kind == "bs":
                for t, part in zip(groups[key], result):
                    bs_parts.setdefault(t, []).append(part)
                continue
            t, out = key, result
            sat = out["paths"] if out["paths"] is not None else SlotPaths.empty(n_rx, n_rank, n_rx_ant)
            slot = SlotPaths.merge_tx([*bs_parts.pop(t), sat])
            max_links_paths = max(max_links_paths, int(slot.num_paths.max(initial=0)))
            pen_gain = np.concatenate([out["bs_gain"], out["sat_gain"]], axis=1)
            pen_loss = np.concatenate([out["bs_loss"], out["sat_loss"]], axis=1)
            writer.write_slot(
                t, slot, penetration_gain=np.where((pen_loss > 0) & np.isfinite(pen_loss), pen_gain, 0.0),
                penetration_loss_db=np.where(np.isfinite(pen_loss), pen_loss, -1.0),
                direct_arrival_enu=np.concatenate([out["bs_arrival"], out["sat_arrival"]], axis=1),
                naive_num_paths=out["naive_counts"], naive_los=out["naive_los"].astype(np.uint8))
    t_trace = time.perf_counter() - t0
    n_tx = n_bs + n_rank
    note_timing("raytracer_s", t_trace)
    note_timing("tasks", LAST_RUN.get("tasks"))
    note_timing("worker_peak_rss_mb", LAST_RUN.get("worker_peak_rss_mb"))
    note_timing("stage_peak_rss_mb", peak_rss_mb())
    write_json(paths.results_dir / "raypaths.json", {"n_receivers": n_rx,
                                                      "n_slots": n_time, "n_transmitters": n_tx})
    print(f"[raypaths] {city}: {n_time} slots x {n_ue} UEs (+ their map-cell centres) x {n_tx} transmitters, "
          f"up to {max_links_paths} paths per link ({LAST_RUN.get('tasks')} tasks), "
          f"traced in {t_trace:.1f} s")


def bs_slots_task(fn: Any, args: tuple, n_rx: int) -> list[SlotPaths]:
    """A BS sector task (:func:`pipeline.radio.raypaths.bs_sector_calls`) over a group of slots, its paths cut
    into one ragged :class:`SlotPaths` per slot of ``n_rx`` receivers (in the worker: only paths travel)."""
    ps = fn(*args)
    return [pathset_rows(ps.take(slice(j, j + n_rx))) for j in range(0, ps.valid.shape[0], n_rx)]


def pathset_rows(ps: PathSet) -> SlotPaths:
    """A path-solver result (receivers x transmitters) as ragged rows."""
    return SlotPaths.from_dense(ps.a.transpose(0, 2, 1, 3, 4), ps.valid, tau_s=ps.tau, theta_t_rad=ps.theta_t,
                                phi_t_rad=ps.phi_t, theta_r_rad=ps.theta_r, phi_r_rad=ps.phi_r,
                                doppler_hz=ps.doppler, path_los=ps.los.astype(np.uint8))


def _expand_ranks(ps: PathSet, ranks: list[int], n_rank: int) -> PathSet:
    """Put the traced satellites at their rank positions (missing ranks: no paths)."""
    out = _empty_like(ps, n_rank, n_paths=ps.valid.shape[-1], n_tx_ant=ps.a.shape[3])
    for i, r in enumerate(ranks):
        for field in ("tau", "theta_t", "phi_t", "theta_r", "phi_r", "doppler", "valid", "los"):
            getattr(out, field)[:, r] = getattr(ps, field)[:, i]
        out.a[:, :, r] = ps.a[:, :, i]
        out.first_vertex[:, r] = ps.first_vertex[:, i]
    return out


def _empty_like(ref: PathSet, n_tx: int, n_paths: int = 0, n_tx_ant: int = 1) -> PathSet:
    n_rx, n_rx_ant = ref.a.shape[0], ref.a.shape[1]
    z = np.zeros((n_rx, n_tx, n_paths))
    return PathSet(a=np.zeros((n_rx, n_rx_ant, n_tx, n_tx_ant, n_paths), np.complex64), tau=z.copy(),
                   theta_t=z.copy(), phi_t=z.copy(), theta_r=z.copy(), phi_r=z.copy(), doppler=z.copy(),
                   valid=np.zeros((n_rx, n_tx, n_paths), bool), los=np.zeros((n_rx, n_tx, n_paths), bool),
                   first_vertex=np.zeros((n_rx, n_tx, n_paths, 3)))


def main() -> int:
    return run_stage("raypaths", build)


if __name__ == "__main__":
    sys.exit(main())
