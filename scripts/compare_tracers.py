"""Radio-map solver vs path solver on the same NLoS links, with and without diffraction.

Traces the sectors of a few sites of a city (run `dvc repro raypaths` first: the car positions
come from raypaths.nc) twice: as radio maps (Monte Carlo, the direct ray left out) and with the
path solver at the cars (its line-of-sight paths left out), both through the car's receive
pattern, and prints the median and p90 |dB difference| of the reflected (and diffracted) power.

    .venv/bin/python scripts/compare_tracers.py --sites 4 --diffraction 1 --max-depth 3
"""

from __future__ import annotations

import argparse

import geopandas as gpd
import numpy as np
import xarray as xr
import yaml

import pipeline  # noqa: F401  (finds libLLVM for Dr.Jit)
from pipeline.io.paths import CityPaths
from pipeline.radio.direct import Penetration
from pipeline.radio.raypaths import add_receivers, solve
from pipeline.radio.receiver import ReceiverModel
from pipeline.radio.tracing import BsConfig, MapGrid, load_rt_scene, trace_bs_maps
from pipeline.runtime import import_sionna_rt
from pipeline.stages.channels import map_cells


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=4)
    ap.add_argument("--diffraction", type=int, default=1)
    ap.add_argument("--max-depth", type=int, default=3)
    ap.add_argument("--map-rays", type=float, default=4e6)
    ap.add_argument("--path-rays", type=float, default=1e6)
    args = ap.parse_args()
    rt = import_sionna_rt()
    import mitsuba as mi  # noqa: PLC0415

    params = yaml.safe_load(open("params.yaml", encoding="utf-8"))
    paths = CityPaths(params["city"])
    rp, rm = xr.open_dataset(paths.raypaths_nc), xr.open_dataset(paths.radiomaps_nc)
    scene = load_rt_scene(paths.scene_xml, float(params["radio"]["freq_hz"]))
    bs, rx = BsConfig.from_params(params["bs"]), ReceiverModel.from_params(params["ue"])
    sites = gpd.read_file(paths.sites_geojson)
    rows = [(r.site_id, float(r.x_m), float(r.y_m), float(r.z_m)) for r in sites.itertuples()][: args.sites]
    grid = MapGrid(rm.x.values, rm.y.values, float(rm.attrs["rx_height_m"]), float(rm.attrs["cell_size_m"]))
    diffraction = bool(args.diffraction)
    full, _ = trace_bs_maps(scene, rows, bs, grid, samples_per_tx=int(args.map_rays), max_depth=args.max_depth,
                            diffraction=diffraction, seed=42, receiver=rx, penetration=Penetration.off())
    direct, _ = trace_bs_maps(scene, rows, bs, grid, samples_per_tx=10, max_depth=0, diffraction=False, seed=42,
                              receiver=rx, penetration=Penetration.off())
    scene.tx_array = rt.PlanarArray(**bs.array_kwargs())
    scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="VH")
    for name, pos, ori in bs.sector_transmitters(rows):
        scene.add(rt.Transmitter(name, position=mi.Point3f(*pos), orientation=mi.Point3f(*ori)))
    cars = rp["check_point"].values == 0 if "check_point" in rp.coords else np.ones(rp.sizes["ue"], bool)
    pos = np.concatenate([np.stack([rp.ue_x_m.values[t, cars], rp.ue_y_m.values[t, cars],
                                    rp.ue_z_m.values[t, cars]], -1) for t in range(rp.sizes["time"])])
    add_receivers(scene, pos, np.zeros_like(pos), [f"p{i}" for i in range(len(pos))], (0.0, -np.pi / 2, 0.0))
    iy, ix = map_cells(rm, pos[:, 0], pos[:, 1])
    mapped = (full - direct)[:, iy, ix].T
    ps = solve(scene, samples_per_src=int(args.path_rays), max_depth=args.max_depth, diffraction=diffraction, seed=42)
    power = (np.abs(ps.a) ** 2).sum(axis=(1, 3))
    arrival = np.stack([np.sin(ps.theta_r) * np.cos(ps.phi_r), np.sin(ps.theta_r) * np.sin(ps.phi_r),
                        np.cos(ps.theta_r)], -1)
    traced = np.where(ps.valid & ~ps.los, power * rx.ray_gain(arrival), 0.0).sum(-1)
    ok = (traced > 1e-20) & (mapped > 1e-20)
    d = 10 * np.log10(traced[ok]) - 10 * np.log10(mapped[ok])
    print(f"diffraction {diffraction}, max depth {args.max_depth}: {ok.sum()} links, |diff| median "
          f"{np.median(np.abs(d)):.2f} dB, p90 {np.percentile(np.abs(d), 90):.2f} dB, signed median {np.median(d):+.2f} dB; "
          f"map only {int(((mapped > 1e-20) & (traced <= 1e-20)).sum())}, path solver only "
          f"{int(((traced > 1e-20) & (mapped <= 1e-20)).sum())}")


if __name__ == "__main__":
    main()
