"""Terrain end to end: one synthetic city on flat ground, on a flat DEM and on a DEM with a hill.

Runs the buildings, scene, orbits and radiomaps stages of each variant in a temporary project and
prints what the DEM changes:

- flat DEM vs no DEM: the radio maps must agree (same rays; the cells are measured on a mesh instead
  of a plane);
- hill vs flat DEM: the share of outdoor cells in line of sight of their segment's BS, behind the
  hill (the hill's top lies between the BS and the cell, and above the straight line) and elsewhere,
  and the BS map change in each region.

    .venv/bin/python scripts/terrain_check.py [--size-km 0.4] [--hill-m 40]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ("buildings", "scene", "orbits", "radiomaps")


def make_project(root: Path, name: str, cli_args: list[str]) -> Path:
    proj = root / name
    proj.mkdir()
    for f in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / f, proj / f)
    shutil.copytree(REPO / "pipeline", proj / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    (proj / "maps").mkdir()
    (proj / "routes").mkdir()
    env = dict(os.environ, PYTHONPATH=str(proj))
    code = f"from pipeline.cli import app; app({['synth-city', 'town', *cli_args]!r})"
    subprocess.run([sys.executable, "-c", code], cwd=proj, env=env, check=True, capture_output=True)
    params = yaml.safe_load((proj / "params.yaml").read_text())
    params["city"] = "town"
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in STAGES:
        out = subprocess.run([sys.executable, "-m", f"pipeline.stages.{stage}"], cwd=proj, env=env,
                             capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{name}: stage {stage} failed:\n{out.stderr[-2000:]}")
    return proj


def los_to_own_site(proj: Path):  # noqa: ANN201
    """Outdoor cell centres (n, 3), LoS flags to the nearest site (n,), that site (n, 3), its best sector's
    map gain in dB (n,) and the terrain (None on flat ground)."""
    import geopandas as gpd  # noqa: PLC0415

    from pipeline.geometry.terrain import terrain_from_area  # noqa: PLC0415
    from pipeline.io.atomic import read_json  # noqa: PLC0415
    from pipeline.io.netcdf import read_netcdf  # noqa: PLC0415
    from pipeline.radio.direct import Penetration, wall_loss_db  # noqa: PLC0415
    from pipeline.radio.tracing import load_rt_scene  # noqa: PLC0415

    cwd = os.getcwd()
    os.chdir(proj)
    try:
        rm = read_netcdf(Path("data/town/radiomaps.nc"))
        sites = gpd.read_file("data/town/sites.geojson")
        scene = load_rt_scene(Path("data/town/scene/scene.xml"), 3.5e9)
        terrain = terrain_from_area(read_json("data/town/area.json"))
        xx, yy = np.meshgrid(rm.x.values, rm.y.values)
        zz = rm["cell_z_m"].values if "cell_z_m" in rm else np.full_like(xx, float(rm.attrs["rx_height_m"]))
        outdoor = rm["outdoor"].values.astype(bool)
        cells = np.stack([xx[outdoor], yy[outdoor], zz[outdoor]], axis=-1)
        sxy = np.stack([sites.x_m.values, sites.y_m.values], axis=-1)
        own = np.argmin(np.linalg.norm(cells[:, None, :2] - sxy[None], axis=-1), axis=1)
        site_xyz = np.stack([sites.x_m.values, sites.y_m.values, sites.z_m.values], axis=-1)[own]
        d = cells - site_xyz
        dist = np.linalg.norm(d, axis=-1)
        loss = wall_loss_db(scene, site_xyz, d / dist[:, None], dist - 0.05, Penetration(False, 0, {}))
        # the cell's own site: the best of its sectors
        per_site = np.stack([rm["path_gain_bs"].values[rm["bs_site"].values == sid].max(axis=0)[outdoor]
                             for sid in sites.site_id])
        best = 10 * np.log10(np.maximum(per_site[own, np.arange(len(own))], 1e-30))
        return cells, loss == 0.0, site_xyz, best, terrain
    finally:
        os.chdir(cwd)


def under_terrain(terrain, a: np.ndarray, b: np.ndarray, samples: int = 400) -> np.ndarray:  # noqa: ANN001
    """Geometry alone: does the straight segment a -> b (n, 3) pass below the terrain surface anywhere
    strictly between its ends (DEM heights sampled along it)?"""
    t = np.linspace(0.0, 1.0, samples)[1:-1]
    p = a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]
    ground = terrain.height_at(p[..., 0], p[..., 1])
    return (ground > p[..., 2]).any(axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-km", type=float, default=0.4)
    ap.add_argument("--alpha", type=float, default=0.05, help="sparse buildings: the terrain decides the LoS")
    ap.add_argument("--hill-m", type=float, default=40.0)
    ap.add_argument("--hill-sigma-m", type=float, default=40.0)
    args = ap.parse_args()
    base = ["--size-km", str(args.size_km), "--seed", "0", "--alpha", str(args.alpha)]
    with tempfile.TemporaryDirectory(prefix="stin-terrain-") as tmp:
        root = Path(tmp)
        variants = {"no_dem": base,
                    "flat_dem": [*base, "--slope", "1e-9"],
                    "hill_dem": [*base, "--hill-m", str(args.hill_m), "--hill-sigma-m", str(args.hill_sigma_m)]}
        res = {}
        for name, cli in variants.items():
            res[name] = los_to_own_site(make_project(root, name, cli))
            print(f"{name}: {len(res[name][0])} outdoor cells, LoS to own site {res[name][1].mean():.1%}")
    _, flat_los, _, flat_db, _ = res["flat_dem"]
    _, none_los, _, none_db, _ = res["no_dem"]
    diff_flat = np.abs(flat_db - none_db)
    print(f"flat DEM vs no DEM: LoS flags equal in {np.mean(flat_los == none_los):.2%} of cells; BS map median "
          f"|dB diff| {np.median(diff_flat):.4f}, p99 {np.percentile(diff_flat, 99):.3f}")
    cells, los, site, hill_db, terrain = res["hill_dem"]
    blocked = under_terrain(terrain, site, cells)  # the hill stands between the site and the cell
    for label, sel in (("hill between BS and cell (geometry)", blocked & flat_los),
                       ("clear of the hill (geometry)", ~blocked & flat_los)):
        if sel.any():
            change = hill_db[sel] - flat_db[sel]
            print(f"{label}: {int(sel.sum())} cells in LoS on flat ground; ray-traced LoS with the hill "
                  f"{los[sel].mean():.1%}; own-site map gain change median {np.median(change):+.2f} dB")


if __name__ == "__main__":
    main()
