"""The one runner for every beamforming task (a scheme on a problem, or an ISAC analysis), serial or on
worker processes, and the sweeps of Figs. 5-8 built on it (the library's :func:`sweep` and the DVC stages).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.solvers.beamforming.algorithms import solve_pa1, solve_pa2
from pipeline.solvers.beamforming.baselines import solve_das, solve_ibs, solve_tdma
from pipeline.solvers.beamforming.ccp import Design, SolverOptions
from pipeline.solvers.beamforming.isac import isac_analysis, sensing_report
from pipeline.solvers.beamforming.model import BeamformingInfeasible, PaperSetting, paper_problem

SCHEMES: dict[str, Callable[..., Design]] = {"pa1": solve_pa1, "pa2": solve_pa2, "das": solve_das,
                                             "tdma": solve_tdma, "ibs": solve_ibs}

SWEEPS = ("p_sat_dbw", "p_bs_dbw", "bs_antennas", "n_users")


@dataclass
class SweepResult:
    parameter: str
    values: list
    sum_rate: dict  # scheme -> list of delivered sum rates (nan where infeasible)
    backhaul: dict  # scheme -> list of backhaul rates
    status: dict  # scheme -> list of "ok" / violation or infeasibility text
    runtime_s: dict


def setting_for(setting: PaperSetting, parameter: str, value: Any) -> PaperSetting:
    if parameter == "bs_antennas":  # n -> sqrt(n) x sqrt(n) UPA (1 x n if n is not a square), or (rows, cols)
        if isinstance(value, (tuple, list)):
            rows, cols = value
        else:
            r = math.isqrt(int(value))
            rows, cols = (r, r) if r * r == int(value) else (1, int(value))
        return dataclasses.replace(setting, bs_rows=int(rows), bs_cols=int(cols))
    if parameter == "n_users":
        return dataclasses.replace(setting, n_users=int(value))
    return dataclasses.replace(setting, **{parameter: float(value)})


def design_summary(d: Design, waived: list[str]) -> dict[str, Any]:
    """What the evaluator says of one design, JSON-ready; ``constraints_ok`` ignores only the ``waived`` checks."""
    r = d.report
    failed = [k for k, ok in r.checks.items() if not ok]
    return {"sum_rate_bps_hz": round(float(d.sum_rate), 6), "backhaul_rate_bps_hz": round(float(r.backhaul_rate), 6),
            "user_rates_bps_hz": [round(float(x), 6) for x in r.rates],
            "constraints_ok": all(k in waived for k in failed), "failed_checks": failed, "waived": waived,
            "violations": r.violations, "extraction": d.extraction, "iterations": d.trace.iterations,
            "seconds_per_iteration": round(float(np.mean(d.trace.iteration_s)), 4) if d.trace.iteration_s else None,
            "seconds_total": round(float(d.trace.total_s), 3), "stopped": d.trace.stopped,
            "objective_per_iteration": [round(float(x), 6) for x in d.trace.objective],
            "sat_power_w": round(float(r.sat_power_w), 6), "bs_power_w": round(float(r.bs_power_w), 6),
            "beampattern_dbw": [round(10 * math.log10(max(float(x), 1e-30)), 3) for x in r.beampattern_w],
            "notes": list(d.notes)}


def waived_checks(d: Design) -> list[str]:
    """Checks a scheme's definition drops: a benchmark that had to drop the QoS (noted by the
    solver), and IBS, whose independent designs do not guarantee QoS or backhaul (solve_ibs)."""
    out = ["qos (17b)"] if any("QoS (17b) infeasible" in n for n in d.notes) else []
    if d.scheme == "ibs":
        out = ["qos (17b)", "backhaul (17c)"]
    return out


Task = tuple  # (key, problem or ("paper", seed, PaperSetting), kind, SolverOptions, csi_errors or ISAC settings)


def run_task(task: Task) -> tuple[str, dict[str, Any], Design | None]:
    """One task -> (key, JSON-ready summary, design or None).

    ``kind`` is a scheme of :data:`SCHEMES` or an ISAC analysis ("isac_tradeoff", "isac_eps_relative",
    "isac_eps_absolute": :func:`~pipeline.solvers.beamforming.isac.isac_analysis`, whose settings are the
    last item). Infeasible designs are summaries with the binding constraint families, not errors. PA2 tries
    the CSI error radii (the last item) in order and keeps the first that gives a design the robust
    evaluator passes; the others are reported with their binding constraints."""
    key, spec, scheme, opts, csi_errors = task
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    warnings.filterwarnings("ignore", category=UserWarning)
    p = paper_problem(spec[1], spec[2]) if isinstance(spec, tuple) else spec
    if scheme.startswith("isac_"):
        return key, isac_analysis(p, scheme, opts, csi_errors), None
    if scheme != "pa2":
        try:
            d = SCHEMES[scheme](p, opts)
        except BeamformingInfeasible as exc:
            return key, {"infeasible": str(exc), "binding": exc.families, "sum_rate_bps_hz": None}, None
        out = design_summary(d, waived_checks(d))
        if scheme == "pa1":
            out["sensing"] = sensing_report(p, d)
        return key, out, d
    attempts = []
    for eps in csi_errors:
        try:
            d = SCHEMES["pa2"](p.with_csi_error(eps), opts)
        except BeamformingInfeasible as exc:
            attempts.append({"csi_error": eps, "infeasible": str(exc), "binding": exc.families})
            continue
        if not d.report.feasible:  # lifted problem feasible, but no rank-one design passed the evaluator
            attempts.append({"csi_error": eps, "infeasible": "no rank-one design met the worst case",
                             "binding": [k for k, ok in d.report.checks.items() if not ok]})
            continue
        return key, {**design_summary(d, []), "csi_error": eps, "csi_reading": p.err_reading,
                     "sensing": sensing_report(p, d), "attempts": attempts}, d
    return key, {"sum_rate_bps_hz": None, "infeasible": "at every csi_error", "attempts": attempts}, None


def run_tasks(tasks: Sequence[Task], workers: int = 1) -> dict[str, tuple[dict[str, Any], Design | None]]:
    """:func:`run_task` over ``tasks`` on ``workers`` processes (serial for 1), in the given order (put the
    longest first); results by task key. The one runner of the library and the DVC stages. Workers are
    spawned, not forked: a fork of a process whose threads hold locks (a notebook, a test runner, BLAS
    pools) can hang in the child."""
    out: dict[str, tuple[dict[str, Any], Design | None]] = {}
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            key, summary, d = run_task(t)
            out[key] = (summary, d)
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
        for key, summary, d in ex.map(run_task, tasks):
            out[key] = (summary, d)
    return out


def paper_sweep_tasks(parameter: str, values: Sequence, *, setting: PaperSetting, seed: int, schemes: Sequence[str],
                      opts: SolverOptions, csi_errors: Sequence[float]) -> tuple[dict, dict[str, Task]]:
    """Tasks of one sweep on the paper setting: ``keys[(value, scheme)]`` -> task key, and the tasks by key.
    A key names the setting, so the same point in two sweeps (the Section 5 base point) is one task."""
    if parameter not in SWEEPS:
        raise ValueError(f"parameter must be one of {SWEEPS}")
    keys: dict = {}
    tasks: dict[str, Task] = {}
    for val in values:
        s = setting_for(setting, parameter, val)
        for sch in schemes:
            key = f"{s!r}/{sch}"
            keys[(val, sch)] = key
            tasks.setdefault(key, (key, ("paper", seed, s), sch, opts, list(csi_errors)))
    return keys, tasks


def sweep_result(res: dict, keys: dict, parameter: str, values: Sequence, schemes: Sequence[str]) -> SweepResult:
    """Gather sweep points (``keys[(value, scheme)]`` -> task key, ``res`` from :func:`run_tasks`) into a
    SweepResult: nan and the reason where a point is infeasible."""
    out = SweepResult(parameter, list(values), {s: [] for s in schemes}, {s: [] for s in schemes},
                      {s: [] for s in schemes}, {s: [] for s in schemes})
    for v in values:
        for sch in schemes:
            summary, _ = res[keys[(v, sch)]]
            ok = summary.get("sum_rate_bps_hz") is not None
            out.sum_rate[sch].append(summary["sum_rate_bps_hz"] if ok else float("nan"))
            out.backhaul[sch].append(summary.get("backhaul_rate_bps_hz", float("nan")) if ok else float("nan"))
            out.status[sch].append(("ok" if not summary.get("failed_checks") else "; ".join(summary["violations"]))
                                   if ok else summary.get("infeasible", "infeasible"))
            out.runtime_s[sch].append(summary.get("seconds_total"))
    return out


def sweep(parameter: str, values: Sequence, *, setting: PaperSetting = PaperSetting(), seed: int = 0,
          schemes: Sequence[str] = ("pa1", "pa2", "das", "tdma", "ibs"), quick: bool = False,
          csi_errors: Sequence[float] | None = None, workers: int = 1) -> SweepResult:
    """Sum rate vs Ps (Fig. 5), PT (Fig. 6), BS antennas (Fig. 7: int n -> sqrt(n) x sqrt(n) UPA, or
    (rows, cols)) or users (Fig. 8) on the paper setting, every point drawn with the same seed (powers do
    not change the channels). PA2 uses ``csi_errors`` (default: the setting's). Infeasible points give nan
    and the reason. The ``beamforming_sweeps`` stage runs the same tasks (:func:`paper_sweep_tasks`)."""
    opts = SolverOptions.quick() if quick else SolverOptions()
    keys, tasks = paper_sweep_tasks(parameter, values, setting=setting, seed=seed, schemes=schemes, opts=opts,
                                    csi_errors=[setting.csi_error] if csi_errors is None else csi_errors)
    return sweep_result(run_tasks(list(tasks.values()), workers), keys, parameter, values, schemes)
