"""Radio-map tracing split into reproducible tasks: BS site batches and satellite maps.

Each task runs on one Dr.Jit thread (Sionna RT's radio maps are only reproducible that
way, see :func:`pipeline.radio.tracing.solve_radio_map`), so the map of a task depends on
its inputs alone, whichever worker runs it. The tasks run on Dask (:mod:`pipeline.compute`:
a local cluster by default, or an existing scheduler); each worker loads the scene once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pipeline.compute import ComputeConfig, run_tasks
from pipeline.radio.direct import Penetration
from pipeline.radio.receiver import ReceiverModel
from pipeline.radio.tracing import BsConfig, MapGrid, deterministic_threads, load_rt_scene, trace_bs_maps, trace_satellite_maps

BS_SITES_PER_TASK = 4  # sites (x sectors) per Sionna call: amortises kernel launches (project choice)


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


_SCENE: dict[str, Any] = {}


def _scene(job: MapJob):  # noqa: ANN202
    key = f"{job.scene_xml}@{job.freq_hz}"
    if key not in _SCENE:
        _SCENE.clear()
        _SCENE[key] = load_rt_scene(job.scene_xml, job.freq_hz)
    return _SCENE[key]


def run_task(job: MapJob, kind: str, payload: Any) -> tuple[np.ndarray, np.ndarray]:
    """One task -> (total, direct) path gains: kind 'bs' with a list of sites, 'sat' with (direction, range)."""
    scene = _scene(job)
    with deterministic_threads():
        if kind == "bs":
            total, _, direct = trace_bs_maps(scene, payload, job.bs, job.grid, samples_per_tx=job.bs_samples_per_tx,
                                             max_depth=job.max_depth, diffraction=job.diffraction, seed=job.seed,
                                             batch_sites=len(payload), receiver=job.receiver,
                                             penetration=job.penetration, return_direct=True)
            return total, direct
        direction, slant_range = payload
        total, direct = trace_satellite_maps(scene, np.asarray(direction)[None], np.array([slant_range]), job.grid,
                                             samples=job.sat_samples, max_depth=job.max_depth,
                                             diffraction=job.diffraction, seed=job.seed,
                                             proxy_distance_m=job.proxy_distance_m,
                                             launch_margin_m=job.launch_margin_m, receiver=job.receiver,
                                             penetration=job.penetration, max_height_m=job.max_height_m,
                                             return_direct=True)
        return total[0], direct[0]


def run_map_tasks(job: MapJob, sites: list[tuple[str, float, float, float]], sat_directions: np.ndarray,
                  sat_ranges_m: np.ndarray, compute: ComputeConfig) -> dict[str, np.ndarray]:
    """Trace every BS sector and satellite map; returns bs_total, bs_direct (tx, ny, nx) and
    sat_total, sat_direct (n, ny, nx) in the order given."""
    tasks = [("bs", sites[i:i + BS_SITES_PER_TASK]) for i in range(0, len(sites), BS_SITES_PER_TASK)]
    tasks += [("sat", (sat_directions[i], float(sat_ranges_m[i]))) for i in range(len(sat_directions))]
    results = run_tasks(run_task, [(job, k, p) for k, p in tasks], compute, "radio maps")
    n_bs = sum(1 for k, _ in tasks if k == "bs")
    shape = job.grid.shape
    empty = np.zeros((0, *shape))
    bs_total = np.concatenate([r[0] for r in results[:n_bs]], axis=0) if n_bs else empty
    bs_direct = np.concatenate([r[1] for r in results[:n_bs]], axis=0) if n_bs else empty
    sat = results[n_bs:]
    return {"bs_total": bs_total, "bs_direct": bs_direct,
            "sat_total": np.stack([r[0] for r in sat]) if sat else empty,
            "sat_direct": np.stack([r[1] for r in sat]) if sat else empty}
