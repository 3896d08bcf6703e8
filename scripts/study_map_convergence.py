"""Monte Carlo noise of the BS radio maps vs rays per transmitter (convergence study).

Shoot-and-bounce radio maps are Monte Carlo estimates: the expected number of rays per
cell falls as N A h / (4 pi r^3). This script traces the sectors of a few sites of a city
(run `dvc repro scene` first) with the pipeline's own settings (receive pattern, exact
direct ray + traced reflections and diffraction) at increasing rays per sector, against
a reference with many more rays, and prints the median |dB error| of outdoor cells in
rings of 250, 500 and 1000 m around each site, with the time per sector.

    .venv/bin/python scripts/study_map_convergence.py --sites 2 --rays 2.5e5,1e6,4e6 --reference 1.6e7
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import yaml

import pipeline  # noqa: F401  (finds libLLVM for Dr.Jit)
from pipeline.config import load_map
from pipeline.geometry.footprints import bbox_local_box
from pipeline.geometry.frame import LocalFrame
from pipeline.io.atomic import read_json
from pipeline.io.paths import CityPaths
from pipeline.radio.tracing import MapGrid, load_rt_scene, trace_bs_maps
from pipeline.stages.radiomaps import map_job, outdoor_mask

RINGS_M = (250.0, 500.0, 1000.0)
RING_HALF_WIDTH_M = 25.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=2)
    ap.add_argument("--rays", default="2.5e5,1e6,4e6")
    ap.add_argument("--reference", type=float, default=1.6e7)
    args = ap.parse_args()
    params = yaml.safe_load(open("params.yaml", encoding="utf-8"))
    paths = CityPaths(params["city"])
    frame = LocalFrame.from_dict(read_json(paths.area_json)["frame"])
    grid = MapGrid.covering(bbox_local_box(load_map(params["city"]).bbox, frame).bounds,
                            float(params["raytracing"]["cell_size_m"]), float(params["radio"]["rx_height_m"]))
    buildings = gpd.read_file(paths.buildings_local)
    outdoor = outdoor_mask(grid, buildings.geometry)
    job = map_job(params, paths, grid, buildings)
    sites = gpd.read_file(paths.sites_geojson).iloc[: args.sites]
    rows = [(r.site_id, float(r.x_m), float(r.y_m), float(r.z_m)) for r in sites.itertuples()]
    scene = load_rt_scene(job.scene_xml, job.freq_hz)

    def trace(n: float) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        g, names = trace_bs_maps(scene, rows, job.bs, grid, samples_per_tx=int(n), max_depth=job.max_depth,
                                 diffraction=job.diffraction, seed=job.seed, batch_sites=len(rows),
                                 receiver=job.receiver, penetration=job.penetration)
        return g, (time.perf_counter() - t0) / len(names)

    ref, t_ref = trace(args.reference)
    n_sectors = len(job.bs.sector_bearings_deg)
    dist = np.stack([np.hypot(grid.centers[..., 0] - x, grid.centers[..., 1] - y) for _, x, y, _ in rows])
    dist = np.repeat(dist, n_sectors, axis=0)  # (sector, ny, nx)
    print(f"reference {args.reference:.3g} rays/sector ({t_ref:.2f} s/sector); {len(rows)} sites, {ref.shape[0]} sectors")
    print("rays/sector   s/sector   " + "   ".join(f"median|err| {r:.0f} m" for r in RINGS_M))
    for n in [float(v) for v in args.rays.split(",")]:
        g, t = trace(n)
        errs = []
        for r in RINGS_M:
            ring = (np.abs(dist - r) < RING_HALF_WIDTH_M) & outdoor[None] & (ref > 1e-25)
            e = np.abs(10 * np.log10(np.maximum(g[ring], 1e-30)) - 10 * np.log10(ref[ring]))
            errs.append(f"{np.median(e):8.2f} dB ({ring.sum()} cells)")
        print(f"{n:11.3g}   {t:8.2f}   " + "   ".join(errs))


if __name__ == "__main__":
    main()
