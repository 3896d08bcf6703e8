"""DVC stage ``link_selection``: the max-sum-rate association of Nguyen-Kha et al., arXiv 2408.15394, on the
ray-traced channels.

Every slot is solved under ``link_selection.interference`` (default ``per_user``, the paper's model) by the
exact method (``optimal``: SCIP's MINLP under per_user, with its bound; the load-level MILP under full
power), the paper's SCA (``sca``: Algorithm 1 with Proposition 1, reconstructed), this project's
time-share scheme (``time_share``: solved under full power, scored under the model), greedy
(Algorithm 2) and greedy + local search (``heuristic``); every answer is scored by the one evaluator. An
algorithm that fails on a slot is reported for that slot; the others keep it. Writes
``results/<city>/link_selection.json`` (DVC metrics) and ``results/<city>/figures/link_selection.png``
(sum rates, SCA convergence for several satellite powers (Fig. 4), sum rate vs BS power (Fig. 5) and vs
satellite power (Fig. 6)).
"""

from __future__ import annotations

import dataclasses
import sys
import time
import warnings
from typing import Any

import numpy as np

from pipeline.compute import ComputeConfig, run_calls
from pipeline.config import number, section
from pipeline.errors import StinError
from pipeline.io import link_gains, load_channels
from pipeline.io.atomic import write_json
from pipeline.io.plotdata import write_plot_table
from pipeline.io.figures import plot_handover, plot_link_selection
from pipeline.io.paths import CityPaths
from pipeline.solvers.link_selection import (
    INTERFERENCE_MODELS, InfeasibleError, SlotProblem, evaluate, solve_exact, solve_exact_per_user, solve_greedy,
    solve_heuristic, solve_sca, solve_time_share)
from pipeline.solvers.handover import (
    WindowProblem, evaluate_window, links_of, solve_window_exact, solve_window_online, solve_window_sca)
from pipeline.stages._common import note_timing, run_stage

ALGORITHMS = ("optimal", "sca", "time_share", "greedy", "heuristic")


def sca_options(ls: dict[str, Any]) -> dict[str, Any]:
    """solve_sca / solve_time_share keyword arguments from params.yaml link_selection."""
    w = "params.yaml link_selection"
    return {"max_iterations": int(number(ls, "sca_max_iterations", w)), "tolerance": number(ls, "sca_tolerance", w)}


def interference_model(ls: dict[str, Any]) -> str:
    model = str(ls.get("interference", "per_user"))
    if model not in INTERFERENCE_MODELS:
        raise StinError(f"params.yaml link_selection.interference = {model!r} is unknown",
                        f"use one of {', '.join(INTERFERENCE_MODELS)}")
    return model


def exact_time_limit_s(ls: dict[str, Any]) -> float:
    return number(ls, "exact_time_limit_s", "params.yaml link_selection") if "exact_time_limit_s" in ls else 600.0


def exact_node_limit(ls: dict[str, Any]) -> int | None:
    return int(number(ls, "exact_node_limit", "params.yaml link_selection")) if "exact_node_limit" in ls else None


def solve_optimal(p: SlotProblem, ls: dict[str, Any], start: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """The exact method of the problem's model -> (x, y, upper bound, proven)."""
    if p.interference == "per_user":
        sol = solve_exact_per_user(p, time_limit_s=exact_time_limit_s(ls), start=start, node_limit=exact_node_limit(ls))
        return sol.x, sol.y, sol.upper_bound, sol.proven
    x, y = solve_exact(p, time_limit_s=exact_time_limit_s(ls))
    return x, y, evaluate(p, x, y).sum_rate, True


def slot_problem(ds, t: int, ls: dict[str, Any], p_bs_w: float | None = None, p_sat_w: float | None = None,  # noqa: ANN001
                 keep_all: bool = False) -> tuple[SlotProblem | None, np.ndarray]:
    """Slot ``t``'s problem over the cars that some link reaches, and the indices of those it leaves out.

    A car with no link of positive gain in a slot (no transmitter reaches it: a non-finite gain counts
    as none) cannot take part; it gets rate 0 and is reported, and the slot is solved for the others
    (None when no car is reached). ``keep_all``: every car stays (an unreached one takes a zero-rate link;
    the window problem needs the same cars in every slot)."""
    g = link_gains(ds, t)
    h = np.nan_to_num(np.asarray(g["bs"], float), nan=0.0, posinf=0.0, neginf=0.0)
    s = np.nan_to_num(np.asarray(g["sat"], float), nan=0.0, posinf=0.0, neginf=0.0)
    reached = (h > 0).any(axis=1) | (s > 0).any(axis=1)
    unreached = np.flatnonzero(~reached)
    if keep_all:
        reached = np.ones_like(reached)
    if not reached.any():
        return None, unreached
    w = "params.yaml link_selection"
    return SlotProblem(h=h[reached], g=s[reached],
                       p_bs_w=ds.attrs["bs_tx_power_w"] if p_bs_w is None else p_bs_w,
                       p_sat_w=ds.attrs["sat_tx_power_w"] if p_sat_w is None else p_sat_w,
                       noise_w=ds.attrs["noise_power_w"], cap_bs=int(number(ls, "cap_bs", w)),
                       cap_sat=int(number(ls, "cap_sat", w)),
                       other_bs=np.full(h.shape[1], int(number(ls, "other_users_bs", w, positive=False, minimum=0))),
                       other_sat=np.full(s.shape[1], int(number(ls, "other_users_sat", w, positive=False, minimum=0))),
                       interference=interference_model(ls)), unreached


def run_algorithm(name: str, p: SlotProblem, ls: dict[str, Any], start: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, Any]:
    """One algorithm's association on one slot (and its trace or exact bound)."""
    if name == "optimal":
        x, y, bound, proven = solve_optimal(p, ls, start)
        return x, y, {"upper_bound": bound, "proven": proven}
    if name == "sca":
        return solve_sca(p, **sca_options(ls))
    if name == "time_share":  # full power only: solved there, scored under the slot's model
        return solve_time_share(dataclasses.replace(p, interference="full_power"), **sca_options(ls))
    if name == "greedy":
        return (*solve_greedy(p), None)
    return (*solve_heuristic(p), None)


def solve_all(p: SlotProblem, ls: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every algorithm on one slot: sum rate, runtime and trace, or why it failed ({"failed": reason})."""
    out: dict[str, dict[str, Any]] = {}
    for name in ("heuristic", *(a for a in ALGORITHMS if a != "heuristic")):  # the heuristic warm-starts SCIP
        t0 = time.perf_counter()
        start = None
        if name == "optimal" and "x" in out.get("heuristic", {}):
            start = (out["heuristic"]["x"], out["heuristic"]["y"])
        try:
            x, y, extra = run_algorithm(name, p, ls, start)
        except (InfeasibleError, RuntimeError, ValueError) as exc:
            out[name] = {"failed": str(exc)}
            continue
        ev = evaluate(p, x, y)
        if not ev.feasible:
            out[name] = {"failed": f"infeasible association: {ev.violations}"}
            continue
        y_bin = np.asarray(y, float).round()
        out[name] = {"sum_rate": ev.sum_rate, "seconds": time.perf_counter() - t0,
                     "trace": extra if name in ("sca", "time_share") else None,
                     "exact": extra if name == "optimal" else None, "x": x, "y": y,
                     "ues_with_sat": int((y_bin.sum(1) > 0).sum()),
                     "sat_rate": float((y_bin * np.log2(1 + ev.sinr_sat)).sum())}
    return out


def window_solution(window: WindowProblem, weight: float, online_horizon: int | None, limit: float) -> list | str:
    """One handover-aware solution (a cluster task): exact (``online_horizon`` None), SCA-style (0) or online;
    the reason, instead, when no window association exists (a slot with fewer free places than cars): the
    study is then skipped, not the stage's other tasks that share the cluster call."""
    try:
        if online_horizon is None:
            return solve_window_exact(window, weight, limit)
        if online_horizon == 0:
            return solve_window_sca(window, weight)[0]
        return solve_window_online(window, weight, online_horizon, limit)
    except InfeasibleError as exc:
        return str(exc)


def sca_convergence(p: SlotProblem, ls: dict[str, Any]) -> dict[str, Any]:
    """The SCA's objective per iteration on one slot (a cluster task): Fig. 4-style convergence."""
    _, _, tr = solve_sca(p, **sca_options(ls))
    return {"objective": tr.objective, "start": tr.start}


def handover_tasks(ds, ls: dict[str, Any], orbits: dict[str, Any]) -> tuple[dict[str, Any], list]:  # noqa: ANN001
    """The handover-aware study's setting and its window solutions as cluster calls (pipeline.solvers.handover,
    full-power interference): per-slot optimal, the exact time-coupled MILP, the online receding-horizon and
    the SCA-style window method at the default weight, and the exact and online fronts over
    ``handover.pareto_weights``. A (weight, method) pair asked twice (the default weight on the front) is one
    call."""
    w = "params.yaml link_selection.handover"
    ho = ls.get("handover") or {}
    weight = number(ho, "weight_bps_hz", w, positive=False, minimum=0)
    horizon = int(number(ho, "online_horizon_slots", w))
    limit = exact_time_limit_s(ls)
    full = {**ls, "interference": "full_power"}
    slots = [slot_problem(ds, t, full, keep_all=True)[0] for t in range(ds.sizes["time"])]
    window = WindowProblem(slots, ds["sat_index"].values.astype(int), number(orbits, "slot_duration_s", "params.yaml orbits"))
    weights = [float(v) for v in ho.get("pareto_weights", [])]
    jobs = [(0.0, None), (weight, None), (weight, horizon), (weight, 0)] + [(v, h) for v in weights for h in (None, horizon)]
    setting = {"window": window, "weight": weight, "horizon": horizon, "weights": weights, "jobs": jobs}
    return setting, [(window_solution, (window, v, h, limit)) for v, h in dict.fromkeys(jobs)]


def handover_summary(setting: dict[str, Any], results: list) -> dict[str, Any]:
    """The handover study's results from :func:`handover_tasks`' calls (in their order)."""
    window, weight, horizon, weights = setting["window"], setting["weight"], setting["horizon"], setting["weights"]
    by_job = dict(zip(dict.fromkeys(setting["jobs"]), results))
    solved = [by_job[j] for j in setting["jobs"]]

    def summary(assoc) -> dict[str, float]:  # noqa: ANN001
        ev = evaluate_window(window, assoc, weight)
        return {"sum_rate": round(ev.sum_rate, 4), "handovers": ev.handovers,
                "handovers_per_ue_per_min": round(ev.handovers_per_ue_per_min, 4), "objective": round(ev.objective, 4)}

    per_slot, exact, online, sca = solved[:4]
    out: dict[str, Any] = {"interference_model": "full_power",  # the time-coupled problem is a MILP there
                           "weight_bps_hz_per_handover": weight, "online_horizon_slots": horizon,
                           "slot_duration_s": window.slot_duration_s,
                           "per_slot_optimal": summary(per_slot), "aware_exact": summary(exact),
                           "aware_online": summary(online),
                           "aware_sca": summary(sca)}  # this project's SCA-style window method (time-share)
    base, aware = out["per_slot_optimal"], out["aware_exact"]
    out["handover_reduction"] = round(1 - aware["handovers"] / base["handovers"], 4) if base["handovers"] else 0.0
    out["sum_rate_loss"] = round(1 - aware["sum_rate"] / base["sum_rate"], 6) if base["sum_rate"] else 0.0
    out["online_objective_gap"] = round(1 - out["aware_online"]["objective"] / aware["objective"], 6) \
        if aware["objective"] else 0.0
    front = [summary(a) for a in solved[4::2]]
    front_online = [summary(a) for a in solved[5::2]]
    out["pareto"] = {"weights": weights,
                     "exact_sum_rate": [f["sum_rate"] for f in front],
                     "exact_handovers_per_ue_per_min": [f["handovers_per_ue_per_min"] for f in front],
                     "online_sum_rate": [f["sum_rate"] for f in front_online],
                     "online_handovers_per_ue_per_min": [f["handovers_per_ue_per_min"] for f in front_online]}
    out["_links"] = {"per-slot optimal": [links_of(window, t, *a) for t, a in enumerate(per_slot)],
                     f"handover-aware exact (weight {weight:g})": [links_of(window, t, *a) for t, a in enumerate(exact)]}
    return out


SWEPT = ("optimal", "sca", "greedy", "heuristic")  # the algorithms of the power sweeps (Figs. 5, 6)


def sweep_point(p: SlotProblem, ls: dict[str, Any]) -> dict[str, float | None]:
    """Sum rate of each swept algorithm on one slot at one power (None: the algorithm failed there); the
    exact method runs under ``sweep_exact_node_limit`` and reports whether it proved its answer."""
    out: dict[str, float | None] = {}
    start = None
    quick = {**ls, "exact_node_limit": ls.get("sweep_exact_node_limit", exact_node_limit(ls))}
    for a in ("heuristic", "optimal", "sca", "greedy"):
        try:
            x, y, extra = run_algorithm(a, p, quick, start if a == "optimal" else None)
            if a == "optimal":
                out["optimal_proven"] = float(extra["proven"])
            out[a] = evaluate(p, x, y).sum_rate
            if a == "heuristic":
                start = (x, y)
        except (InfeasibleError, RuntimeError, ValueError):
            out[a] = None
    return out


def build(params: dict[str, Any], paths: CityPaths) -> None:
    if not paths.channels_nc.is_file():
        raise StinError(f"{paths.channels_nc} not found", "run the earlier stages first ('dvc repro')")
    ls = section(params, "link_selection")
    model = interference_model(ls)
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    ds = load_channels(paths.channels_nc)  # lazy: the gains are read slot by slot
    if ds.attrs.get("receiver_wanted_gain_db", 0.0) != 0.0:
        raise StinError(f"the channels use ue.receiver = {ds.attrs.get('receiver')}, whose wanted-link array gain the "
                        "link-selection model does not carry (one gain per link serves signal and interference)",
                        "set ue.receiver: fixed_array (the paper's receiver) for link selection")
    n_time = ds.sizes["time"]
    per_slot, infeasible, unreached, solved_slots, failures, problems = [], [], [], [], [], []
    ue_ids = [str(u) for u in ds["ue"].values]
    compute = ComputeConfig.from_params(params)
    for t in range(n_time):
        problem, left_out = slot_problem(ds, t, ls)
        unreached += [{"slot": t, "ue": ue_ids[k]} for k in left_out]
        if problem is None:
            infeasible.append({"slot": t, "reason": "no car is reached by any transmitter"})
            continue
        try:
            problem.check_feasible()  # no association exists: the slot is infeasible for every algorithm
        except InfeasibleError as exc:
            infeasible.append({"slot": t, "reason": str(exc)})
            continue
        problems.append(problem)
        solved_slots.append(t)
    if not problems:
        raise StinError("every slot is infeasible for link selection",
                        "raise link_selection.cap_bs / cap_sat or lower the other users")
    sweep_slots = solved_slots[:int(number(ls, "sweep_slots", "params.yaml link_selection"))]
    bs_values = [float(v) for v in ls["bs_power_dbm_sweep"]]
    sat_values = [float(v) for v in ls["sat_power_dbw_sweep"]]
    points = [(kind, v) for kind, values in (("bs", bs_values), ("sat", sat_values)) for v in values]
    conv_values = sat_values[:: max(1, len(sat_values) // 3)]
    # every task of the stage on one cluster: the slots (the paper's problem (12) decouples over slots), the
    # power-sweep points, the SCA convergence runs and the handover-aware window solutions
    calls = [(solve_all, (p, ls)) for p in problems]
    for kind, v in points:
        kw = {"p_bs_w": 10 ** ((v - 30) / 10)} if kind == "bs" else {"p_sat_w": 10 ** (v / 10)}
        calls += [(sweep_point, (slot_problem(ds, t, ls, **kw)[0], ls)) for t in sweep_slots]
    calls += [(sca_convergence, (slot_problem(ds, solved_slots[0], ls, p_sat_w=10 ** (v / 10))[0], ls))
              for v in conv_values]
    ho_setting, ho_calls = handover_tasks(ds, ls, section(params, "orbits"))
    t0 = time.perf_counter()
    results = iter(run_calls(calls + ho_calls, compute, "link selection"))
    note_timing("solve_s", time.perf_counter() - t0)
    for t in solved_slots:
        slot_results = next(results)
        failures += [{"slot": t, "algorithm": a, "reason": r["failed"]} for a, r in slot_results.items() if "failed" in r]
        per_slot.append(slot_results)

    def ok(s: dict, *names: str) -> bool:
        return all("sum_rate" in s[a] for a in names)

    total = {a: float(sum(s[a]["sum_rate"] for s in per_slot if ok(s, a))) for a in ALGORITHMS}
    gaps = {}
    for a in ALGORITHMS:  # on the slots both the optimum and the algorithm solved
        both = [s for s in per_slot if ok(s, "optimal", a)]
        opt = sum(s["optimal"]["sum_rate"] for s in both)
        gaps[a] = (opt - sum(s[a]["sum_rate"] for s in both)) / opt if opt > 0 else None
    bound = float(sum(s["optimal"]["exact"]["upper_bound"] for s in per_slot if ok(s, "optimal")))
    proven = int(sum(s["optimal"]["exact"]["proven"] for s in per_slot if ok(s, "optimal")))
    iterations = [s["sca"]["trace"].iterations for s in per_slot if ok(s, "sca")]

    sweeps: dict[str, dict[str, list[float | None]]] = {k: {a: [] for a in (*SWEPT, "optimal_proven")}
                                                         for k in ("bs", "sat")}
    for kind, _ in points:
        per_t = [next(results) for _ in sweep_slots]
        sweeps[kind]["optimal_proven"].append(all(r.get("optimal_proven") for r in per_t))
        for a in SWEPT:  # the sum over the sweep slots; None where the algorithm failed on one of them
            vals = [r[a] for r in per_t]
            sweeps[kind][a].append(None if any(v is None for v in vals) else float(sum(vals)))
    bs_sweep, sat_sweep = sweeps["bs"], sweeps["sat"]
    convergence = {f"{v:g}": next(results) for v in conv_values}
    ho_results = list(results)
    window_infeasible = next((r for r in ho_results if isinstance(r, str)), None)  # window_solution's reason
    if window_infeasible is not None:
        handover, links = {"interference_model": "full_power", "skipped": window_infeasible}, None
    else:
        handover = handover_summary(ho_setting, ho_results)
        links = handover.pop("_links")

    for a in ALGORITHMS:  # mean solve time per slot: a wall time, so in timings.json, not in the results
        secs = [s[a]["seconds"] for s in per_slot if ok(s, a)]
        note_timing(f"{a}_s_per_slot", float(np.mean(secs)) if secs else None)
    rnd = (lambda v: None if v is None else round(v, 6))
    optimal_ok = [s for s in per_slot if ok(s, "optimal")]
    metrics = {
        "interference_model": model,  # every number below is computed and scored under this model
        "sum_rate_bps_hz": {a: round(total[a], 4) for a in ALGORITHMS},
        "optimal_upper_bound_bps_hz": round(bound, 4),  # the exact method's bound (= the optimum where proven)
        "optimal_proven_slots": proven,
        "gap_sca": rnd(gaps["sca"]), "gap_greedy": rnd(gaps["greedy"]), "gap_heuristic": rnd(gaps["heuristic"]),
        "gap_time_share": rnd(gaps["time_share"]),
        f"gap_sca_{model}": rnd(gaps["sca"]),
        "sca_method": "Algorithm 1 with Proposition 1 (reconstructed; docs/link_selection.md)",
        "sca_iterations": float(np.mean(iterations)) if iterations else None,
        "sca_iterations_per_slot": iterations,
        "sca_start_per_slot": [s["sca"]["trace"].start for s in per_slot if ok(s, "sca")],
        "slots_solved": len(per_slot), "infeasible_slots": infeasible,
        "algorithm_failures": failures,  # an algorithm that failed on a slot; the others kept it
        # cars no transmitter reaches in a slot: rate 0 there, the slot solved for the others
        "unreached_car_slots": len(unreached), "unreached": unreached,
        # the optimum's use of the satellites: car-slots with a satellite link, share of the sum rate they carry
        "sat_served_share": round(sum(s["optimal"]["ues_with_sat"] for s in optimal_ok) / (len(per_slot) * ds.sizes["ue"]), 4),
        "sat_served_car_slots": int(sum(s["optimal"]["ues_with_sat"] for s in optimal_ok)),
        "sat_rate_share": round(sum(s["optimal"]["sat_rate"] for s in optimal_ok) / total["optimal"], 6)
        if total["optimal"] > 0 else 0.0,
        "n_ue": ds.sizes["ue"], "n_bs_cells": int((ds.tx_kind.values == "bs").sum()),
        "n_sat_ranks": int((ds.tx_kind.values == "sat").sum()),
        "sweep_bs_power_dbm": {"values": bs_values, **bs_sweep},
        "sweep_sat_power_dbw": {"values": sat_values, **sat_sweep},
        "sca_convergence_by_sat_power_dbw": convergence,
        "handover": handover,
        "units": "bit/s/Hz summed over UEs and slots (the paper reports kbit/s/Hz = this / 1000)",
    }
    write_json(paths.results_dir / "link_selection.json", metrics)
    for kind, axis, values, sweep in (("bs", "bs_power_dbm", bs_values, bs_sweep), ("sat", "sat_power_dbw", sat_values, sat_sweep)):
        write_plot_table(paths.results_dir / "plots" / f"sum_rate_vs_{kind}_power.csv",  # bit/s/Hz over the sweep slots
                         {axis: values, **{a: sweep[a] for a in SWEPT}})
    plot_link_selection(paths.figures_dir / "link_selection.png", metrics)
    plot_handover(paths.figures_dir / "handover.png", handover, links, ue_ids)  # links None: says why it is empty
    pct = (lambda v: "n/a" if v is None else f"{v:.3%}")
    print(f"[link_selection] {len(per_slot)} slots under {model} interference: sum rate optimal {total['optimal']:.2f} "
          f"(bound {bound:.2f}, {proven} slots proven), SCA {total['sca']:.2f} (gap {pct(gaps['sca'])}), time-share "
          f"{total['time_share']:.2f} (gap {pct(gaps['time_share'])}), greedy {total['greedy']:.2f} (gap "
          f"{pct(gaps['greedy'])}), heuristic {total['heuristic']:.2f} bit/s/Hz"
          + (f"; handovers per car per minute: per-slot optimal {handover['per_slot_optimal']['handovers_per_ue_per_min']:.2f}, "
             f"aware exact {handover['aware_exact']['handovers_per_ue_per_min']:.2f} "
             f"({handover['aware_exact']['sum_rate']:.2f} bit/s/Hz), online {handover['aware_online']['handovers_per_ue_per_min']:.2f}"
             if "skipped" not in handover else f"; handover study skipped: {handover['skipped']}")
          + (f"; {len(failures)} algorithm failures" if failures else "")
          + (f"; {len(unreached)} car-slots reached by no transmitter (rate 0)" if unreached else ""))


def main() -> int:
    return run_stage("link_selection", build)


if __name__ == "__main__":
    sys.exit(main())
