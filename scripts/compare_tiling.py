"""Tiled vs untiled radio maps on one city: differences at tile borders and elsewhere, and a seam figure.

Runs the ``radiomaps`` stage twice in copies of this project (the earlier stages' outputs of this checkout,
same seed): with ``raytracing.tile_size_m`` larger than the map (one tile) and with ``--tile-m`` tiles, then
compares the path gains of every finite cell (both maps above the gain floor): max and median |difference|
in dB, for cells next to a tile border and elsewhere, and the median step between neighbouring cells across
a border vs elsewhere (a seam would show as a larger step). Writes a figure of both satellite maps and their
difference with the tile borders drawn.

    .venv/bin/python scripts/compare_tiling.py [--city helsinki] [--tile-m 500] [--out docs/figures/tiling_helsinki.png]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from project_copy import REPO, copy_outputs, copy_project

EARLIER = ("area.json", "buildings.geojson", "buildings_local.gpkg", "scene", "sites.geojson", "segments.geojson",
           "orbits.nc")
FLOOR_DB = -200.0  # cells at or below this gain count as "no ray" (the channels' gain floor is -250 dB)


def radiomaps(city: str, tile_m: float, root: Path) -> Path:
    copy_project(root, city, raytracing={"tile_size_m": tile_m})
    data = copy_outputs(root, city, EARLIER, "orbits")
    out = subprocess.run([sys.executable, "-m", "pipeline.stages.radiomaps"], cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr[-3000:])
    return data / "radiomaps.nc"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default="helsinki")
    ap.add_argument("--tile-m", type=float, default=500.0)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "figures" / "tiling_helsinki.png")
    args = ap.parse_args()
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import xarray as xr  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        whole = xr.open_dataset(radiomaps(args.city, 1e9, Path(tmp) / "whole")).load()
        tiled = xr.open_dataset(radiomaps(args.city, args.tile_m, Path(tmp) / "tiled")).load()
    cell = float(whole.attrs["cell_size_m"])
    n = max(1, round(args.tile_m / cell))
    ny, nx = whole.sizes["y"], whole.sizes["x"]
    border = np.zeros((ny, nx), bool)  # cells on either side of a tile border
    for k in range(n, nx, n):
        border[:, k - 1:k + 1] = True
    for k in range(n, ny, n):
        border[k - 1:k + 1, :] = True
    result = {"city": args.city, "tile_m": args.tile_m, "cell_m": cell, "tiles": int(np.ceil(nx / n) * np.ceil(ny / n))}
    for name in ("path_gain_bs", "path_gain_sat"):
        a = 10 * np.log10(np.maximum(whole[name].values.astype(float), 1e-30))
        b = 10 * np.log10(np.maximum(tiled[name].values.astype(float), 1e-30))
        finite = (a > FLOOR_DB) & (b > FLOOR_DB)
        d = np.abs(a - b)
        at = finite & border
        away = finite & ~border
        # step between horizontal neighbours across a vertical border vs elsewhere (tiled map)
        step = np.abs(np.diff(b, axis=-1))
        ok = finite[..., 1:] & finite[..., :-1]
        edge = np.zeros(nx - 1, bool)
        edge[n - 1::n] = True
        result[name] = {
            "finite_cells": int(finite.sum()),
            "max_abs_diff_db_at_borders": round(float(d[at].max()), 4) if at.any() else None,
            "max_abs_diff_db_elsewhere": round(float(d[away].max()), 4) if away.any() else None,
            "median_abs_diff_db_at_borders": round(float(np.median(d[at])), 4) if at.any() else None,
            "median_abs_diff_db_elsewhere": round(float(np.median(d[away])), 4) if away.any() else None,
            "median_step_db_across_borders": round(float(np.median(step[..., edge][ok[..., edge]])), 4),
            "median_step_db_elsewhere": round(float(np.median(step[..., ~edge][ok[..., ~edge]])), 4),
        }
    print(json.dumps(result, indent=2))
    # figure: slot 0, rank 0 satellite path gain untiled, tiled, difference; tile borders dotted
    t_a = 10 * np.log10(np.maximum(whole.path_gain_sat.values[0, 0].astype(float), 1e-30))
    t_b = 10 * np.log10(np.maximum(tiled.path_gain_sat.values[0, 0].astype(float), 1e-30))
    outdoor = whole.outdoor.values.astype(bool)
    x, y = whole.x.values, whole.y.values
    extent = (x[0], x[-1], y[0], y[-1])
    fig, axes = plt.subplots(1, 3, figsize=(15, 6), constrained_layout=True)
    vmin, vmax = np.percentile(t_a[outdoor & (t_a > FLOOR_DB)], [2, 99.5])
    for ax, img, title in ((axes[0], t_a, "one tile"), (axes[1], t_b, f"{result['tiles']} tiles of {args.tile_m:g} m")):
        im = ax.imshow(np.where(outdoor, img, np.nan), origin="lower", extent=extent, vmin=vmin, vmax=vmax, cmap="viridis")
        ax.set_title(f"satellite path gain, slot 0 ({title})")
        fig.colorbar(im, ax=ax, shrink=0.8, label="path gain [dB]")
    diff = np.where(outdoor & (t_a > FLOOR_DB) & (t_b > FLOOR_DB), t_b - t_a, np.nan)
    im = axes[2].imshow(diff, origin="lower", extent=extent, vmin=-3, vmax=3, cmap="RdBu_r")
    axes[2].set_title("tiled - one tile [dB]")
    fig.colorbar(im, ax=axes[2], shrink=0.8, label="dB")
    for ax in axes:
        for k in range(n, nx, n):
            ax.axvline(x[0] + (k - 0.5) * cell, color="k", lw=0.6, ls=":")
        for k in range(n, ny, n):
            ax.axhline(y[0] + (k - 0.5) * cell, color="k", lw=0.6, ls=":")
        ax.set_xlabel("east [m]")
        ax.set_ylabel("north [m]")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
