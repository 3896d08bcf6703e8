"""DVC stage ``link_selection``: seed 003's max-sum-rate association on the ray-traced channels.

Every slot is solved by the exact MILP (``optimal``), SCA (Algorithm 1), greedy
(Algorithm 2) and greedy + local search (``heuristic``); every answer is scored by the one
evaluator. Writes ``results/<city>/link_selection.json`` (DVC metrics) and
``results/<city>/figures/link_selection.png`` (sum rates, SCA convergence for several
satellite powers (Fig. 4), sum rate vs BS power (Fig. 5) and vs satellite power (Fig. 6)).
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any

import numpy as np

from pipeline.config import number, section
from pipeline.errors import StinError
from pipeline.io import link_gains, load_channels
from pipeline.io.atomic import write_json
from pipeline.io.figures import plot_link_selection
from pipeline.io.paths import CityPaths
from pipeline.solvers.link_selection import (
    SCA_RELAXATIONS, InfeasibleError, SlotProblem, evaluate, solve_exact, solve_greedy, solve_heuristic, solve_sca)
from pipeline.stages._common import note_timing, run_stage

ALGORITHMS = ("optimal", "sca", "greedy", "heuristic", "sca_folded")


def sca_options(ls: dict[str, Any]) -> dict[str, Any]:
    """solve_sca keyword arguments from params.yaml link_selection."""
    w = "params.yaml link_selection"
    relaxation = str(ls.get("sca_relaxation", "time_share"))
    if relaxation not in SCA_RELAXATIONS:
        raise StinError(f"{w}.sca_relaxation = {relaxation!r} is unknown", f"use one of {', '.join(SCA_RELAXATIONS)}")
    return {"max_iterations": int(number(ls, "sca_max_iterations", w)), "tolerance": number(ls, "sca_tolerance", w),
            "relaxation": relaxation}


def slot_problem(ds, t: int, ls: dict[str, Any], p_bs_w: float | None = None, p_sat_w: float | None = None,  # noqa: ANN001
                 ) -> tuple[SlotProblem | None, np.ndarray]:
    """Slot ``t``'s problem over the cars that some link reaches, and the indices of those it leaves out.

    A car with no link of positive gain in a slot (no transmitter reaches it: a non-finite gain counts
    as none) cannot take part; it gets rate 0 and is reported, and the slot is solved for the others
    (None when no car is reached)."""
    g = link_gains(ds, t)
    h = np.nan_to_num(np.asarray(g["bs"], float), nan=0.0, posinf=0.0, neginf=0.0)
    s = np.nan_to_num(np.asarray(g["sat"], float), nan=0.0, posinf=0.0, neginf=0.0)
    reached = (h > 0).any(axis=1) | (s > 0).any(axis=1)
    unreached = np.flatnonzero(~reached)
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
                       interference=str(ls.get("interference", "full_power"))), unreached


def solve_all(p: SlotProblem, ls: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every algorithm on one slot: sum rate, runtime and (SCA) trace."""
    out: dict[str, dict[str, Any]] = {}
    for name in ALGORITHMS:
        t0 = time.perf_counter()
        trace = None
        if name == "optimal":
            x, y = solve_exact(p)
        elif name == "sca":
            x, y, trace = solve_sca(p, **sca_options(ls))
        elif name == "sca_folded":  # the seed-math 1.7 relaxation, reported for comparison
            x, y, trace = solve_sca(p, **{**sca_options(ls), "relaxation": "folded"})
        elif name == "greedy":
            x, y = solve_greedy(p)
        else:
            x, y = solve_heuristic(p)
        ev = evaluate(p, x, y)
        if not ev.feasible:
            raise RuntimeError(f"{name} returned an infeasible association: {ev.violations}")
        y_bin = np.asarray(y, float).round()
        out[name] = {"sum_rate": ev.sum_rate, "seconds": time.perf_counter() - t0, "trace": trace,
                     "ues_with_sat": int((y_bin.sum(1) > 0).sum()),
                     "sat_rate": float((y_bin * np.log2(1 + ev.sinr_sat)).sum())}
    return out


def build(params: dict[str, Any], paths: CityPaths) -> None:
    if not paths.channels_nc.is_file():
        raise StinError(f"{paths.channels_nc} not found", "run the earlier stages first ('dvc repro')")
    ls = section(params, "link_selection")
    if ls.get("interference", "full_power") != "full_power":
        raise StinError("link_selection.interference = per_user has no exact MILP here",
                        "use full_power (the default) for the pipeline; per_user is available from Python via brute_force")
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    ds = load_channels(paths.channels_nc)  # lazy: the gains are read slot by slot
    if ds.attrs.get("receiver_wanted_gain_db", 0.0) != 0.0:
        raise StinError(f"the channels use ue.receiver = {ds.attrs.get('receiver')}, whose wanted-link array gain the "
                        "link-selection model does not carry (one gain per link serves signal and interference)",
                        "set ue.receiver: fixed_array (the paper's receiver) for link selection")
    n_time = ds.sizes["time"]
    per_slot, infeasible, unreached, solved_slots = [], [], [], []
    ue_ids = [str(u) for u in ds["ue"].values]
    for t in range(n_time):
        problem, left_out = slot_problem(ds, t, ls)
        unreached += [{"slot": t, "ue": ue_ids[k]} for k in left_out]
        if problem is None:
            infeasible.append({"slot": t, "reason": "no car is reached by any transmitter"})
            continue
        try:
            per_slot.append(solve_all(problem, ls))
            solved_slots.append(t)
        except InfeasibleError as exc:
            infeasible.append({"slot": t, "reason": str(exc)})
    if not per_slot:
        raise StinError("every slot is infeasible for link selection",
                        "raise link_selection.cap_bs / cap_sat or lower the other users")
    total = {a: float(sum(s[a]["sum_rate"] for s in per_slot)) for a in ALGORITHMS}
    gaps = {a: (total["optimal"] - total[a]) / total["optimal"] if total["optimal"] > 0 else 0.0 for a in ALGORITHMS}
    iterations = [s["sca"]["trace"].iterations for s in per_slot]

    sweep_slots = solved_slots[:int(number(ls, "sweep_slots", "params.yaml link_selection"))]

    def sweep(kind: str, values: list[float]) -> dict[str, list[float]]:
        res: dict[str, list[float | None]] = {a: [] for a in ("optimal", "sca", "greedy")}
        for v in values:
            kw = {"p_bs_w": 10 ** ((v - 30) / 10)} if kind == "bs" else {"p_sat_w": 10 ** (v / 10)}
            sums: dict[str, float | None] = {a: 0.0 for a in res}
            for t in sweep_slots:
                p = slot_problem(ds, t, ls, **kw)[0]
                for a, solve in (("optimal", solve_exact), ("sca", lambda q: solve_sca(q, **sca_options(ls))[:2]),
                                 ("greedy", solve_greedy)):
                    try:
                        rate = evaluate(p, *solve(p)).sum_rate
                    except InfeasibleError:  # e.g. greedy exhausting capacities at this power: no value
                        rate = None
                    sums[a] = None if sums[a] is None or rate is None else sums[a] + rate
            for a in res:
                res[a].append(sums[a])
        return res

    bs_values = [float(v) for v in ls["bs_power_dbm_sweep"]]
    sat_values = [float(v) for v in ls["sat_power_dbw_sweep"]]
    bs_sweep = sweep("bs", bs_values)
    sat_sweep = sweep("sat", sat_values)
    convergence = {}
    for v in sat_values[:: max(1, len(sat_values) // 3)]:
        _, _, tr = solve_sca(slot_problem(ds, solved_slots[0], ls, p_sat_w=10 ** (v / 10))[0], **sca_options(ls))
        convergence[f"{v:g}"] = {"objective": tr.objective, "start": tr.start}

    for a in ALGORITHMS:  # mean solve time per slot: a wall time, so in timings.json, not in the results
        note_timing(f"{a}_s_per_slot", float(np.mean([s[a]["seconds"] for s in per_slot])) if per_slot else None)
    metrics = {
        "sum_rate_bps_hz": {a: round(total[a], 4) for a in ALGORITHMS},
        "gap_sca": round(gaps["sca"], 6), "gap_greedy": round(gaps["greedy"], 6), "gap_heuristic": round(gaps["heuristic"], 6),
        "gap_sca_folded": round(gaps["sca_folded"], 6),
        "sca_relaxation": sca_options(ls)["relaxation"],
        "sca_iterations": float(np.mean(iterations)),
        "sca_iterations_per_slot": iterations,
        "sca_start_per_slot": [s["sca"]["trace"].start for s in per_slot],
        "slots_solved": len(per_slot), "infeasible_slots": infeasible,
        # cars no transmitter reaches in a slot: rate 0 there, the slot solved for the others
        "unreached_car_slots": len(unreached), "unreached": unreached,
        # the optimum's use of the satellites: car-slots with a satellite link, share of the sum rate they carry
        "sat_served_share": round(sum(s["optimal"]["ues_with_sat"] for s in per_slot) / (len(per_slot) * ds.sizes["ue"]), 4),
        "sat_served_car_slots": int(sum(s["optimal"]["ues_with_sat"] for s in per_slot)),
        "sat_rate_share": round(sum(s["optimal"]["sat_rate"] for s in per_slot) / total["optimal"], 6)
        if total["optimal"] > 0 else 0.0,
        "n_ue": ds.sizes["ue"], "n_bs_cells": int((ds.tx_kind.values == "bs").sum()),
        "n_sat_ranks": int((ds.tx_kind.values == "sat").sum()),
        "sweep_bs_power_dbm": {"values": bs_values, **bs_sweep},
        "sweep_sat_power_dbw": {"values": sat_values, **sat_sweep},
        "sca_convergence_by_sat_power_dbw": convergence,
        "units": "bit/s/Hz summed over UEs and slots (seed 003 reports kbit/s/Hz = this / 1000)",
    }
    write_json(paths.results_dir / "link_selection.json", metrics)
    plot_link_selection(paths.figures_dir / "link_selection.png", metrics)
    print(f"[link_selection] {len(per_slot)} slots: sum rate optimal {total['optimal']:.2f}, SCA {total['sca']:.2f} "
          f"(gap {gaps['sca']:.3%}), greedy {total['greedy']:.2f} (gap {gaps['greedy']:.3%}), heuristic "
          f"{total['heuristic']:.2f} bit/s/Hz; SCA iterations {np.mean(iterations):.1f}"
          + (f"; {len(unreached)} car-slots reached by no transmitter (rate 0)" if unreached else ""))


def main() -> int:
    return run_stage("link_selection", build)


if __name__ == "__main__":
    sys.exit(main())
