"""Plot tables: the data behind the figures as small CSV files that dvc.yaml declares as DVC plots, so
``dvc plots show`` draws them and ``dvc plots diff`` overlays two experiments (``dvc exp run -S ...``).

Files (``results/<city>/plots/``): ``cinr_cdf.csv`` (heatmaps), ``cinr_bs_over_time.csv`` and
``cinr_sat_over_time.csv`` (channels: long format, one line per car through the
``pipeline/io/plot_templates/lines_by_car.json`` template), ``sum_rate_vs_bs_power.csv`` and ``sum_rate_vs_sat_power.csv``
(link_selection), ``coverage_vs_threshold.csv`` (coverage).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from pipeline.io.atomic import atomic_path

CDF_STEP_DB = 0.5  # CDF grid step (project choice: finer than any map's meaningful resolution)
DECIMALS = 4


def write_plot_table(path: str | os.PathLike, columns: Mapping[str, Sequence[float]]) -> None:
    """Write equal-length columns as CSV (header = column names; NaN/None as empty cells), atomically."""
    names = list(columns)
    values = [list(columns[n]) for n in names]
    n_rows = {len(v) for v in values}
    if len(n_rows) != 1:
        raise ValueError(f"plot table {path}: columns of different lengths {dict(zip(names, map(len, values)))}")
    with atomic_path(path, ".csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        for row in zip(*values):
            writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else
                             (round(float(v), DECIMALS) if isinstance(v, (float, np.floating)) else v) for v in row])


def cdf_table(samples_by_name: Mapping[str, np.ndarray], step_db: float = CDF_STEP_DB) -> dict[str, np.ndarray]:
    """Empirical CDFs on one grid: ``cinr_db`` (from the lowest to the highest finite sample, ``step_db``
    apart) and per name F(x) = share of its finite samples <= x."""
    finite = {k: np.sort(np.asarray(v, float)[np.isfinite(v)]) for k, v in samples_by_name.items()}
    lo = min(float(v[0]) for v in finite.values() if v.size)
    hi = max(float(v[-1]) for v in finite.values() if v.size)
    grid = np.arange(math.floor(lo / step_db) * step_db, math.ceil(hi / step_db) * step_db + step_db / 2, step_db)
    out = {"cinr_db": grid}
    for k, v in finite.items():
        out[k] = np.searchsorted(v, grid, side="right") / max(v.size, 1)
    return out


NO_SIGNAL_DB = -200.0  # below this a CINR is the "no path" floor (-300 dB), not a level: written as empty


def per_car_table(time_s: np.ndarray, values: np.ndarray, cars: Sequence[str], name: str = "cinr_db"
                  ) -> dict[str, list]:
    """Long format for one line per car (the ``lines_by_car`` DVC template colours by ``car``): rows of
    (time_s, car, value) for ``values`` (time, car); no-signal floors become empty cells (a gap)."""
    t_idx, k_idx = np.meshgrid(np.arange(len(time_s)), np.arange(len(cars)), indexing="xy")
    t_idx, k_idx = t_idx.ravel(), k_idx.ravel()  # car by car, time ascending within a car
    v = np.asarray(values, float)[t_idx, k_idx]
    return {"time_s": np.asarray(time_s, float)[t_idx].tolist(), "car": [str(cars[k]) for k in k_idx],
            name: np.where(v > NO_SIGNAL_DB, v, np.nan).tolist()}
