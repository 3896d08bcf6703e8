"""Radio-map tracing split into reproducible tasks: BS site batches over their range, satellites per tile.

Tiles (``raytracing.tile_size_m``): a BS site batch is traced only over the cells within
``raytracing.bs_max_range_m`` of its sites (the window's cells are the same Sionna computes on the whole
map: the rays are the same; 5 of 44,331 cells of a Helsinki site differed by > 1 dB when its map was
cut into four tiles, all next to a tile edge), and each satellite once per tile, its rays aimed at that
tile (+ margin), their number the tile's share of ``raytracing.sat_samples`` by launch area, so the ray
density is the untiled map's. So the work grows with the area: sectors x their fixed window, tiles x
satellites.

Per-tile scenes: a task loads only the buildings its rays can meet (:func:`scene_box`,
:class:`pipeline.geometry.scene.SceneCropper`), so a worker's scene, too, is a tile's and not the city's.
A satellite ray descends at its elevation angle and the scene's walls (vertical) and roofs and ground
(horizontal) keep the magnitude of that angle on reflection, so every interaction of a ray that reaches a
cell 1.5 m above the ground lies within (h_max - z_ground + z_rx) / tan(el) of the cell horizontally: a
tile's scene holds the tile grown by the launch margin and that reach at the lowest elevation of a proxy
source's rays over it (the proxy stands ``proxy_distance_m`` from the map's centre, so a far tile sees it
lower than the satellite: 24.6 vs 25.0 deg 730 m off-centre); it also holds the shadow of the tallest
building and the launch area. The maps of a tile's scene equal the whole scene's bit for bit except
where a ray meets an edge shared by two triangles (which one it hits depends on the scene's BVH): README
'City scale' gives the measured share of such cells. A BS task's scene holds its window:
its sites +/- ``bs_max_range_m``. When the box holds the whole city the original scene serves.

Each task runs on one Dr.Jit thread (Sionna RT's radio maps are only reproducible that
way, see :func:`pipeline.radio.tracing.solve_radio_map`), so the map of a task depends on
its inputs alone, whichever worker runs it. The tasks run on Dask (:mod:`pipeline.compute`:
a local cluster by default, or an existing scheduler); each worker loads the scene once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pipeline.compute import ComputeConfig, stream_calls
from pipeline.radio.direct import Penetration
from pipeline.radio.receiver import ReceiverModel
from pipeline.radio.tracing import (
    BsConfig, MapGrid, deterministic_threads, trace_bs_maps, trace_satellite_maps, worker_scene)


@dataclass(frozen=True)
class MapJob:
    """Everything a worker needs to trace any task of one city's radio maps."""

    scene_xml: Path
    freq_hz: float
    grid: MapGrid
    bs: BsConfig
    receiver: ReceiverModel
    penetration: Penetration
    max_depth: int
    diffraction: bool
    seed: int
    bs_samples_per_tx: int
    sat_samples: int
    proxy_distance_m: float
    launch_margin_m: float
    max_height_m: float
    tile_size_m: float = float("inf")  # satellite tiles; inf: one tile (the whole map)
    bs_max_range_m: float = float("inf")  # BS sectors traced only within this distance of their site
    bs_sites_per_task: int = 4  # sites (x sectors) per Sionna call: amortises kernel launches (raytracing params)


def _centre(grid: MapGrid) -> tuple[float, float]:
    x0, y0, x1, y1 = grid.bounds
    return (x0 + x1) / 2, (y0 + y1) / 2


def run_task(job: MapJob, kind: str, payload: Any, window: tuple[slice, slice] | None = None,
             samples: int | None = None, scene_xml: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One task -> (total, direct) path gains over ``window`` of the grid (None: all of it): kind 'bs' with a
    list of sites, 'sat' with (direction, range) and its ``samples`` (default ``job.sat_samples``), traced in
    ``scene_xml`` (a tile's scene; default ``job.scene_xml``, the whole city)."""
    scene = worker_scene(job.scene_xml if scene_xml is None else scene_xml, job.freq_hz, "maps")
    grid = job.grid if window is None else job.grid.window(*window)
    with deterministic_threads():
        if kind == "bs":
            total, _, direct = trace_bs_maps(scene, payload, job.bs, grid, samples_per_tx=job.bs_samples_per_tx,
                                             max_depth=job.max_depth, diffraction=job.diffraction, seed=job.seed,
                                             batch_sites=len(payload), receiver=job.receiver,
                                             penetration=job.penetration, return_direct=True)
            return total, direct
        direction, slant_range = payload
        total, direct = trace_satellite_maps(scene, np.asarray(direction)[None], np.array([slant_range]), grid,
                                             samples=job.sat_samples if samples is None else samples,
                                             max_depth=job.max_depth, center_m=_centre(job.grid),
                                             diffraction=job.diffraction, seed=job.seed,
                                             proxy_distance_m=job.proxy_distance_m,
                                             launch_margin_m=job.launch_margin_m, receiver=job.receiver,
                                             penetration=job.penetration, max_height_m=job.max_height_m,
                                             return_direct=True)
        return total[0], direct[0]


def run_map_tasks(job: MapJob, sites: list[tuple[str, float, float, float]], sat_directions: np.ndarray,
                  sat_ranges_m: np.ndarray, compute: ComputeConfig,
                  sink: Callable[[PlannedTask, np.ndarray, np.ndarray], None] | None = None,
                  tile_scene_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Trace every BS sector and satellite map. With ``sink``, each task's (total, direct) window is handed to
    ``sink(task, total, direct)`` as it arrives (in plan order) and nothing is kept; without, returns bs_total,
    bs_direct (tx, ny, nx) and sat_total, sat_direct (n, ny, nx) in the order given (float32, zero gain
    outside a sector's range). With ``tile_scene_dir`` (a folder every worker can read), each task is traced
    in its own cropped scene written there (:func:`write_tile_scenes`); without, in the whole scene."""
    plan = plan_map_tasks(job, sites, sat_directions, sat_ranges_m)
    scenes = write_tile_scenes(job, plan, tile_scene_dir) if tile_scene_dir is not None else [None] * len(plan)
    out: dict[str, np.ndarray] = {}
    if sink is None:
        shape = job.grid.shape
        n_bs = len(sites) * len(job.bs.sector_bearings_deg)
        out = {f"{kind}_{part}": np.zeros((n, *shape), np.float32) for kind, n in (("bs", n_bs), ("sat", len(sat_directions)))
               for part in ("total", "direct")}

        def sink(task: PlannedTask, total: np.ndarray, direct: np.ndarray) -> None:
            rows, cols = task.window
            out[f"{task.kind}_total"][task.index, rows, cols] = total
            out[f"{task.kind}_direct"][task.index, rows, cols] = direct

    calls = [(run_task, (job, *t.args, xml)) for t, xml in zip(plan, scenes, strict=True)]
    for i, (total, direct) in stream_calls(calls, compute, "radio maps"):
        sink(plan[i], total, direct)
    return out


@dataclass(frozen=True)
class PlannedTask:
    """One task of :func:`plan_map_tasks`: what to trace, over which window, and where its maps go."""

    kind: str  # "bs" | "sat"
    payload: Any  # sites (bs) or (direction, slant range) (sat)
    window: tuple[slice, slice]
    index: Any  # slice of sectors (bs) or the satellite map's index (sat)
    samples: int | None = None
    scene_box: tuple[float, float, float, float] | None = None  # buildings the rays can meet; None: the city

    @property
    def args(self) -> tuple:
        return self.kind, self.payload, self.window, self.samples


def plan_map_tasks(job: MapJob, sites: list[tuple[str, float, float, float]], sat_directions: np.ndarray,
                   sat_ranges_m: np.ndarray) -> list[PlannedTask]:
    """The tasks of a map: BS site batches over the cells in range, satellites x tiles (see module doc)."""
    grid = job.grid
    everything = (slice(0, grid.shape[0]), slice(0, grid.shape[1]))
    n_sectors = len(job.bs.sector_bearings_deg)
    plan = []
    for i in range(0, len(sites), job.bs_sites_per_task):
        batch = sites[i:i + job.bs_sites_per_task]
        xs, ys = [s[1] for s in batch], [s[2] for s in batch]
        r = job.bs_max_range_m
        window = everything if not np.isfinite(r) else grid.window_within(min(xs) - r, min(ys) - r,
                                                                          max(xs) + r, max(ys) + r)
        box = None if not np.isfinite(r) else (min(xs) - r, min(ys) - r, max(xs) + r, max(ys) + r)
        if window is not None:
            plan.append(PlannedTask("bs", batch, window, slice(i * n_sectors, (i + len(batch)) * n_sectors),
                                    scene_box=box))
    tiles = grid.tiles(job.tile_size_m) if np.isfinite(job.tile_size_m) else [everything]
    full_area = launch_area_m2(grid, job.launch_margin_m)
    for window in tiles:  # tile by tile: a worker keeps one tile's scene for consecutive tasks
        share = launch_area_m2(grid.window(*window), job.launch_margin_m) / full_area
        samples = job.sat_samples if len(tiles) == 1 else max(1, round(job.sat_samples * share))
        m = job.launch_margin_m
        x0, y0, x1, y1 = grid.window(*window).bounds
        x0, y0, x1, y1 = x0 - m, y0 - m, x1 + m, y1 + m  # the launch area
        reach = satellite_reach_m(job, sat_directions, (x0, y0, x1, y1))
        box = (x0 - reach, y0 - reach, x1 + reach, y1 + reach)
        for k in range(len(sat_directions)):
            plan.append(PlannedTask("sat", (sat_directions[k], float(sat_ranges_m[k])), window, k, samples,
                                    scene_box=box))
    return plan


def satellite_reach_m(job: MapJob, sat_directions: np.ndarray, area: tuple[float, float, float, float]) -> float:
    """Horizontal distance from a cell within which every interaction of a satellite ray reaching it lies:
    (h_max - z_ground,min + z_rx) / tan(el_min), el_min the lowest elevation of a ray from any satellite's
    proxy source to the corners of ``area`` (x0, y0, x1, y1) (module doc)."""
    from pipeline.radio.farfield import proxy_position  # noqa: PLC0415

    if len(sat_directions) == 0:
        return 0.0
    ground = 0.0 if job.grid.ground_z_m is None else float(np.min(job.grid.ground_z_m))
    plane_z = ground + job.grid.z_m
    x0, y0, x1, y1 = area
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]])
    tan_el = np.inf
    for u in np.asarray(sat_directions, float):
        proxy = proxy_position(u, _centre(job.grid), job.proxy_distance_m)
        farthest = float(np.max(np.hypot(*(corners - proxy[:2]).T)))
        tan_el = min(tan_el, (proxy[2] - plane_z) / max(farthest, 1e-9))
    drop_m = max(job.max_height_m - ground, 0.0) + job.grid.z_m
    return float(drop_m / max(tan_el, 1e-3))


def write_tile_scenes(job: MapJob, plan: list[PlannedTask], out_dir: Path) -> list[Path | None]:
    """Each task's scene: its ``scene_box`` cut from the city's scene into ``out_dir`` (one scene per distinct
    box), or None where the box holds the whole city (the original scene serves)."""
    from pipeline.geometry.scene import SceneCropper  # noqa: PLC0415

    boxes = sorted({t.scene_box for t in plan if t.scene_box is not None})
    meta = Path(job.scene_xml).with_name("metadata.json")
    area = json.loads(meta.read_text(encoding="utf-8")).get("ground_bounds_m") if meta.is_file() else None
    if area is not None:  # the buildings lie within the area (footprints are clipped to it): boxes holding it need no crop
        boxes = [b for b in boxes if not (b[0] <= area[0] and b[1] <= area[1] and b[2] >= area[2] and b[3] >= area[3])]
    if not boxes:
        return [None] * len(plan)
    cropper = SceneCropper(job.scene_xml)
    written = {box: cropper.crop(box, Path(out_dir) / f"scene-{i:04d}") for i, box in enumerate(boxes)}
    n = sum(xml is not None for xml in written.values())
    if n:
        print(f"[radio maps] {n} tile scenes (of {len(boxes)} task areas; the rest hold the whole city)", flush=True)
    return [written.get(t.scene_box) for t in plan]


def launch_area_m2(grid: MapGrid, margin_m: float) -> float:
    """Area of the rectangle the satellite rays of ``grid`` are aimed at (before the facade growth)."""
    x0, y0, x1, y1 = grid.bounds
    return (x1 - x0 + 2 * margin_m) * (y1 - y0 + 2 * margin_m)
