"""DVC stage ``beamforming_sweeps``: Figs. 5-8 of Wang & Wang (Sensors 2026) on the paper's synthetic setting.

Sum rate vs satellite power Ps (Fig. 5), BS power PT (Fig. 6), BS antennas (Fig. 7) and users
(Fig. 8) for the schemes in ``params.yaml beamforming.sweeps`` (quick CCP). It reads no city
data, so it reruns only when its parameters or the solver change. Points shared by several
sweeps (the Section 5 base point) are solved once. Writes
``results/<city>/beamforming_sweeps.json`` and ``results/<city>/figures/beamforming_sweeps/``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from pipeline.config import number, numbers, section
from pipeline.io.atomic import atomic_dir, write_json
from pipeline.io.paths import CityPaths
from pipeline.solvers.beamforming import SWEEPS, SolverOptions, paper_sweep_tasks, plot_sweep, run_tasks, sweep_result
from pipeline.stages._common import note_timing, run_stage
from pipeline.stages.beamforming import (
    SWEEP_LABELS, antenna_layouts, paper_setting, sweep_json, sweep_schemes, workers_from)


def build(params: dict[str, Any], paths: CityPaths) -> None:
    bf = section(params, "beamforming")
    w = "params.yaml beamforming"
    sw = section(bf, "sweeps", w)
    schemes = sweep_schemes(sw, f"{w}.sweeps")
    seed = int(number(bf, "seed", w, positive=False, minimum=0))
    setting, csi_errors = paper_setting(bf)
    values: dict[str, list] = {}  # the sweeps present in params, validated
    for par in SWEEPS:
        if par not in sw:
            continue
        if par == "bs_antennas":
            values[par] = antenna_layouts(sw, f"{w}.sweeps")
        elif par == "n_users":
            values[par] = [int(v) for v in numbers(sw, par, f"{w}.sweeps", minimum=1)]
        else:
            values[par] = numbers(sw, par, f"{w}.sweeps", positive=False)
    workers = workers_from(bf)
    quick = SolverOptions.quick()
    keys: dict[str, dict] = {}
    tasks: dict[str, tuple] = {}
    for par, vals in values.items():  # the same setting in two sweeps is solved once
        keys[par], par_tasks = paper_sweep_tasks(par, vals, setting=setting, seed=seed, schemes=schemes, opts=quick,
                                                 csi_errors=csi_errors)
        for key, task in par_tasks.items():
            tasks.setdefault(key, task)
    t0 = time.perf_counter()
    res = run_tasks(list(tasks.values()), workers)
    seconds = time.perf_counter() - t0
    results = {par: sweep_result(res, keys[par], par, vals, schemes) for par, vals in values.items()}
    with atomic_dir(paths.figures_dir / "beamforming_sweeps") as fig_dir:
        for par, r in results.items():
            plot_sweep(r, fig_dir / f"fig{5 + SWEEPS.index(par)}_sum_rate_vs_{par}.png", xlabel=SWEEP_LABELS[par])
    note_timing("solve_s", seconds)
    write_json(paths.results_dir / "beamforming_sweeps.json",
               {"seed": seed, "schemes": schemes, "points_solved": len(tasks),
                "sweeps": {par: sweep_json(r) for par, r in results.items()},
                "units": "bit/s/Hz, delivered sum rate (min of the user sum and the backhaul)"})
    print(f"[beamforming_sweeps] {len(tasks)} solves in {seconds:.1f} s: "
          + "; ".join(f"{par} {r.values}: pa1 {[round(x, 2) for x in r.sum_rate.get('pa1', [])]}"
                      for par, r in results.items()))


def main() -> int:
    return run_stage("beamforming_sweeps", build)


if __name__ == "__main__":
    sys.exit(main())
