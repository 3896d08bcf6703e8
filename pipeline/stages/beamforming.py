"""DVC stage ``beamforming``: joint satellite/BS ISAC beamforming of Wang & Wang (Sensors 2026, doi 10.3390/s26072273).

Runs Algorithm 1 (PA1), Algorithm 2 (PA2) and the DAS / TDMA / IBS benchmarks on the paper's
synthetic setting (Section 5) and on the ray-traced city (one BS sector, its users, the
serving satellite's 7-beam cluster and an Earth station at the beam target, see
:mod:`pipeline.solvers.beamforming.city`). Every reported design is re-scored by the
independent vector-domain evaluator. For both settings it also reports whether the sensing
constraint binds at the default threshold, the sum rate vs sensing threshold trade-off up to
infeasibility with Fig. 4's detection probability (reconstructed detector), and PA2's largest
feasible CSI radius under both readings (docs/models/beamforming.md "ISAC"). Writes
``results/<city>/beamforming.json`` (DVC metrics) and ``results/<city>/figures/beamforming/``
(Fig. 2 convergence, Fig. 3 beampattern, schemes paper vs city, ``sensing_tradeoff.png``,
``wang_fig4_detection_probability.png``). The sweeps of Figs. 5-8 are the ``beamforming_sweeps``
stage (no city input).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
import warnings
from typing import Any

import xarray as xr

from pipeline.config import number, numbers, section
from pipeline.errors import StinError
from pipeline.geometry.frame import LocalFrame
from pipeline.io import load_channels
from pipeline.io.atomic import atomic_dir, write_json
from pipeline.io.paths import CityPaths
from pipeline.radio.cinr import LinkParams
from pipeline.radio.tracing import BsConfig
from pipeline.solvers.beamforming import (
    DETECTION_MODELS, SCHEMES, SWEEPS, PaperSetting, RadarSetting, SolverOptions, SweepResult, beampattern_data,
    is_feasible, paper_problem, plot_beampattern, plot_city_schemes, plot_convergence, plot_detection_probability,
    plot_sensing_tradeoff, plot_sweep, run_tasks, sweep_result)
from pipeline.solvers.beamforming.city import CitySetting, admit_users, city_problem, subset_users
from pipeline.stages._common import note_timing, run_stage
from pipeline.stages.heatmaps import beam_target_xyz

SWEEP_LABELS = {"p_sat_dbw": "satellite power Ps [dBW] (Fig. 5)", "p_bs_dbw": "BS power PT [dBW] (Fig. 6)",
                "bs_antennas": "BS antennas Nb (Fig. 7)", "n_users": "users M (Fig. 8)"}


def solver_options(bf: dict[str, Any], key: str) -> SolverOptions:
    """SolverOptions from params.yaml beamforming.<key> {max_iterations, tolerance}."""
    w = f"params.yaml beamforming.{key}"
    o = section(bf, key, "params.yaml beamforming")
    return dataclasses.replace(SolverOptions(), max_iterations=int(number(o, "max_iterations", w)),
                               tolerance=number(o, "tolerance", w))


def scheme_tasks(prefix: str, spec: Any, opts: SolverOptions, robust_opts: SolverOptions, bench_opts: SolverOptions,
                 csi_errors: list[float]) -> list[tuple]:
    """PA2 and PA1 first (the longest), then the benchmarks."""
    return [(f"{prefix}/pa2", spec, "pa2", robust_opts, csi_errors),
            (f"{prefix}/pa1", spec, "pa1", opts, csi_errors)] + \
        [(f"{prefix}/{s}", spec, s, bench_opts, csi_errors) for s in ("tdma", "das", "ibs")]


def workers_from(bf: dict[str, Any]) -> int:
    n = int(number(bf, "workers", "params.yaml beamforming"))
    return max(1, min(n, os.cpu_count() or 1))


TIMING_KEYS = ("seconds_per_iteration", "seconds_total")


def move_timings(data: Any, prefix: str = "") -> Any:
    """``data`` without its wall times (:data:`TIMING_KEYS`), each noted in timings.json under its key path:
    the results file stays byte-identical for identical inputs."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if k in TIMING_KEYS:
                note_timing(path, v)
            else:
                out[k] = move_timings(v, path)
        return out
    if isinstance(data, list):
        return [move_timings(v, f"{prefix}[{i}]") for i, v in enumerate(data)]
    return data


def sweep_json(r: SweepResult) -> dict[str, Any]:
    def nan_none(xs: list) -> list:
        return [None if x is None or (isinstance(x, float) and math.isnan(x)) else x for x in xs]

    return {"values": r.values, "sum_rate_bps_hz": {k: nan_none(v) for k, v in r.sum_rate.items()},
            "backhaul_bps_hz": {k: nan_none(v) for k, v in r.backhaul.items()}, "status": r.status}


def antenna_layouts(sw: dict[str, Any], where: str, key: str = "bs_antennas") -> list[tuple[int, int]]:
    """[[rows, cols], ...] of a UPA sweep, validated."""
    value = sw.get(key)
    if not isinstance(value, list) or not value:
        raise StinError(f"{where}: '{key}' must be a list of [rows, cols]", f"write '{key}: [[2, 2], [3, 3]]'")
    out = []
    for item in value:
        rc = numbers({key: item}, key, where) if isinstance(item, list) else None
        if rc is None or len(rc) != 2 or any(v != int(v) for v in rc):
            raise StinError(f"{where}: '{key}' entry {item!r} is not [rows, cols]", "use integer pairs like [3, 3]")
        out.append((int(rc[0]), int(rc[1])))
    return out


def sweep_schemes(sw: dict[str, Any], where: str) -> list[str]:
    schemes = sw.get("schemes")
    if not isinstance(schemes, list) or not schemes:
        raise StinError(f"{where}: 'schemes' must be a list", f"write 'schemes: [{', '.join(SCHEMES)}]'")
    schemes = [str(x) for x in schemes]
    unknown = [x for x in schemes if x not in SCHEMES]
    if unknown:
        raise StinError(f"{where}.schemes has unknown {unknown}", f"use some of {', '.join(SCHEMES)}")
    return schemes


def paper_setting(bf: dict[str, Any]) -> tuple[PaperSetting, list[float]]:
    """Section 5 setting with params.yaml beamforming.paper's sensing EIRP, and PA2's CSI radii."""
    w = "params.yaml beamforming.paper"
    paper_p = section(bf, "paper", "params.yaml beamforming")
    setting = dataclasses.replace(PaperSetting(), sensing_eirp_dbw=number(paper_p, "sensing_eirp_dbw", w,
                                                                          positive=False))
    return setting, numbers(paper_p, "csi_errors", w, positive=False, minimum=0)


def city_setting(c: dict[str, Any]) -> CitySetting:
    w = "params.yaml beamforming.city"
    return CitySetting(
        time_index=int(number(c, "time_index", w, positive=False, minimum=0)), bs_rows=int(number(c, "bs_rows", w)),
        bs_cols=int(number(c, "bs_cols", w)), max_users=int(number(c, "max_users", w)),
        sinr_min_db=number(c, "sinr_min_db", w, positive=False), user_margin_db=number(c, "user_margin_db", w,
                                                                                        positive=False),
        es_gain_dbi=number(c, "es_gain_dbi", w, positive=False), es_sidelobe_dbi=number(c, "es_sidelobe_dbi", w,
                                                                                         positive=False),
        es_height_m=number(c, "es_height_m", w, positive=False, minimum=0),
        target_range_m=number(c, "target_range_m", w),
        target_offsets_deg=tuple(numbers(c, "target_offsets_deg", w, positive=False)),
        sensing_re_bs_limit_db=number(c, "sensing_re_bs_limit_db", w, positive=False))


def isac_settings(bf: dict[str, Any]) -> tuple[SolverOptions, dict[str, Any], dict[str, RadarSetting]]:
    """params.yaml beamforming.isac: the trade-off solver, the bisection settings and Fig. 4's detectors
    (paper, city)."""
    w = "params.yaml beamforming.isac"
    i = section(bf, "isac", "params.yaml beamforming")
    o = section(i, "tradeoff_solver", w)
    opts = dataclasses.replace(SolverOptions(), max_iterations=int(number(o, "max_iterations", f"{w}.tradeoff_solver")),
                               tolerance=number(o, "tolerance", f"{w}.tradeoff_solver"))
    common = {"points": int(number(i, "tradeoff_points", w, minimum=2)),
              "below_db": number(i, "tradeoff_below_db", w, positive=False, minimum=0),
              "gamma_max_tol_db": number(i, "gamma_max_tol_db", w),
              "csi_rel_tol": number(i, "csi_radius_rel_tol", w)}
    det = section(i, "detection", w)
    wd = f"{w}.detection"
    pfa = number(det, "pfa", wd)
    if pfa >= 1:
        raise StinError(f"{wd}: 'pfa' must lie in (0, 1), got {pfa}", "set a false-alarm probability such as 1e-6")
    model = det.get("target_model")
    if model not in DETECTION_MODELS:
        raise StinError(f"{wd}: 'target_model' must be one of {list(DETECTION_MODELS)}, got {model!r}",
                        "write 'target_model: swerling1'")
    radars = {}
    for name, default_rx in (("paper", "satellite"), ("city", "bs")):
        d = section(det, name, wd)
        rx = d.get("receiver", default_rx)
        if rx not in ("satellite", "bs"):
            raise StinError(f"{wd}.{name}: 'receiver' must be 'satellite' or 'bs', got {rx!r}", "write 'receiver: bs'")
        radars[name] = RadarSetting(receiver=rx, pfa=pfa, rcs_m2=number(d, "rcs_m2", f"{wd}.{name}"),
                                    samples=number(d, "samples", f"{wd}.{name}"), target_model=model)
    return opts, common, radars


def isac_tasks(prefix: str, spec: Any, opts: SolverOptions, common: dict[str, Any], radar: RadarSetting
               ) -> list[tuple]:
    """The ISAC tasks of one setting (pipeline.solvers.beamforming.isac_analysis), longest first."""
    isac = {**common, "radar": radar}
    return [(f"{prefix}/isac_eps_relative", spec, "isac_eps_relative", opts, isac),
            (f"{prefix}/isac_tradeoff", spec, "isac_tradeoff", opts, isac),
            (f"{prefix}/isac_eps_absolute", spec, "isac_eps_absolute", opts, isac)]


def isac_json(res: dict, prefix: str, pa1: dict[str, Any]) -> dict[str, Any]:
    """The ISAC results of one setting for beamforming.json: whether sensing binds at the default Gamma
    (PA1's sensing report), the trade-off and Fig. 4 data, and PA2's largest feasible CSI radius under both
    readings (``pa2_max_feasible_eps``, with the bisections' brackets)."""
    eps = {r: res[f"{prefix}/isac_eps_{r}"][0] for r in ("relative", "absolute")}
    sens = pa1.get("sensing") or {}
    return {"sensing_binding": bool(sens.get("binding", False)),
            "pa2_max_feasible_eps": {r: e.get("value") for r, e in eps.items()},
            "pa2_max_feasible_eps_bisection": eps,
            "isac": res[f"{prefix}/isac_tradeoff"][0]}


class NoUsableSlot(StinError):
    """No slot of the city has a car a BS sector can serve at gamma_min with a serving satellite."""


def first_usable_slot(ch, rm, link, bs, target, cs: CitySetting) -> tuple[CitySetting, Any, list[dict]]:  # noqa: ANN001
    """The city problem at ``cs.time_index``, or at the next slot (cyclically) where a sector has a user
    that can meet gamma_min and a satellite serves: a new city's first slot may have neither. The slots
    passed over are returned with their reasons; none usable is one clear error."""
    n = ch.sizes["time"]
    if not 0 <= cs.time_index < n:
        raise StinError(f"params.yaml beamforming.city.time_index = {cs.time_index} is outside the {n} slots",
                        f"pick a slot in 0..{n - 1}")
    skipped = []
    for k in range(n):
        t = (cs.time_index + k) % n
        try:
            trial = dataclasses.replace(cs, time_index=t)
            return trial, city_problem(ch, rm, link, bs, target, trial), skipped
        except StinError as exc:
            if "no UE can meet" not in str(exc) and "no serving satellite" not in str(exc):
                raise
            skipped.append({"slot": t, "reason": exc.problem})
    raise NoUsableSlot(f"no slot of the {n} has a car that can meet gamma_min = {cs.sinr_min_db} dB from a BS sector "
                    "with a serving satellite", "lower beamforming.city.sinr_min_db or user_margin_db, or add routes")


def build(params: dict[str, Any], paths: CityPaths) -> None:
    bf = section(params, "beamforming")
    w = "params.yaml beamforming"
    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
    warnings.filterwarnings("ignore", category=UserWarning, module="cvxpy")
    # every parameter is checked before any file is read
    opts, bench_opts = solver_options(bf, "solver"), solver_options(bf, "benchmark_solver")
    robust_opts = solver_options(bf, "robust_solver")
    seed = int(number(bf, "seed", w, positive=False, minimum=0))
    setting, csi_errors = paper_setting(bf)
    city_p = section(bf, "city", w)
    cs = city_setting(city_p)
    sens_rel = cs.sensing_re_bs_limit_db
    city_csi = numbers(city_p, "csi_errors", f"{w}.city", positive=False, minimum=0)
    sw = section(city_p, "sweeps", f"{w}.city")
    sw_schemes = sweep_schemes(sw, f"{w}.city.sweeps")
    sat_offsets = numbers(sw, "p_sat_offsets_db", f"{w}.city.sweeps", positive=False)
    bs_offsets = numbers(sw, "p_bs_offsets_db", f"{w}.city.sweeps", positive=False)
    layouts = antenna_layouts(sw, f"{w}.city.sweeps")
    isac_opts, isac_common, radars = isac_settings(bf)
    workers = workers_from(bf)
    for f in (paths.channels_nc, paths.radiomaps_nc):
        if not f.is_file():
            raise StinError(f"{f} not found", "run the earlier stages first ('dvc repro')")

    # ---- the ray-traced city: sector, users, admission (PA1 phase 1 on growing user sets)
    ch = load_channels(paths.channels_nc)  # lazy: per-link variables and one slot of paths at a time
    rm = xr.open_dataset(paths.radiomaps_nc, engine="netcdf4")  # lazy: one cell of one map is read
    link = LinkParams.from_params(section(params, "link"), section(params, "ue"),
                                 number(section(params, "radio"), "freq_hz", "params.yaml radio"))
    bs = BsConfig.from_params(section(params, "bs"))
    frame = LocalFrame(rm.attrs["frame_lat0_deg"], rm.attrs["frame_lon0_deg"])
    target = beam_target_xyz(link.sat_beam_target, rm, frame)
    try:
        cs, city_full, skipped = first_usable_slot(ch, rm, link, bs, target, cs)
    except NoUsableSlot as exc:  # a documented empty result: the paper's setting still runs
        no_city = exc
    else:
        no_city = None
        # Gamma is fixed from here on (the antenna sweep rebuilds the problem with other panels)
        cs = dataclasses.replace(cs, sensing_eirp_dbw=city_full.meta["sensing_eirp_dbw"], sensing_re_bs_limit_db=None)
    quick = SolverOptions.quick()
    sweep_problems: dict[str, list] = {}  # parameter -> [(value, problem, is the base point)]
    sweep_keys: dict[str, dict] = {}
    sweep_tasks: dict[str, tuple] = {}
    if no_city is None:
        city, admitted, rejected = admit_users(city_full, is_feasible)
        p_sat_dbw, p_bs_dbw = 10 * math.log10(city.p_sat_w), 10 * math.log10(city.p_bs_w)
        sweep_problems["p_sat_dbw"] = [(round(p_sat_dbw + o, 2), city.with_powers(p_sat_dbw=p_sat_dbw + o), o == 0)
                                       for o in sat_offsets]
        sweep_problems["p_bs_dbw"] = [(round(p_bs_dbw + o, 2), city.with_powers(p_bs_dbw=p_bs_dbw + o), o == 0)
                                      for o in bs_offsets]
        sweep_problems["bs_antennas"] = []
        for rows, cols in layouts:  # of the virtual panel
            full = city_problem(ch, rm, link, bs, target, dataclasses.replace(cs, bs_rows=rows, bs_cols=cols),
                                sector=city.meta["sector"])
            sweep_problems["bs_antennas"].append(((rows, cols), subset_users(full, admitted),
                                                  (rows, cols) == (cs.bs_rows, cs.bs_cols)))
        sweep_problems["n_users"] = [(k, subset_users(city_full, admitted[:k]), k == len(admitted))
                                     for k in range(1, len(admitted) + 1)]
        for par, items in sweep_problems.items():
            sweep_keys[par] = {}
            for val, prob, base in items:
                for sch in sw_schemes:
                    key = f"citysweep/base/{sch}" if base else f"citysweep/{par}/{val}/{sch}"  # base point solved once
                    sweep_keys[par][(val, sch)] = key
                    sweep_tasks.setdefault(key, (key, city if base else prob, sch, quick, city_csi))

    # ---- every scheme on the paper setting (Section 5) and on the city, in parallel
    t0 = time.perf_counter()
    paper_spec = ("paper", seed, setting)
    paper_isac = isac_tasks("paper", paper_spec, isac_opts, isac_common, radars["paper"])
    tasks = paper_isac[:2] + scheme_tasks("paper", paper_spec, opts, robust_opts, bench_opts, csi_errors) \
        + paper_isac[2:]
    if no_city is None:
        tasks += isac_tasks("city", city, isac_opts, isac_common, radars["city"])
        tasks += scheme_tasks("city", city, opts, robust_opts, bench_opts, city_csi) + list(sweep_tasks.values())
    res = run_tasks(tasks, workers)
    city_sweeps = {par: sweep_result(res, sweep_keys[par], par, [v for v, _, _ in items], sw_schemes)
                   for par, items in sweep_problems.items()}
    solve_s = time.perf_counter() - t0
    names = ("pa1", "pa2", "das", "tdma", "ibs")
    paper_out = {n: res[f"paper/{n}"][0] for n in names}
    paper_designs = {n: res[f"paper/{n}"][1] for n in names if res[f"paper/{n}"][1] is not None}
    city_out = {n: res[f"city/{n}"][0] for n in names} if no_city is None else {}
    city_designs = {n: res[f"city/{n}"][1] for n in names if res[f"city/{n}"][1] is not None} if no_city is None else {}
    paper = paper_problem(seed, setting)

    evaluated = [d for d in paper_out.values() if d.get("sum_rate_bps_hz") is not None] + \
        [d for d in city_out.values() if d.get("sum_rate_bps_hz") is not None]
    pa1 = paper_designs.get("pa1")
    if no_city is None:
        city_metrics = {
            "sum_rate_bps_hz": {k: city_out[k]["sum_rate_bps_hz"] for k in names},
            "time_index": cs.time_index, "slots_skipped": skipped,
            "sector": city.meta["sector"], "users": city.meta["users"],
            "users_rejected": [city_full.meta["users"][i] for i in rejected],
            "sinr_alone_db": [round(float(x), 2) for x in city.meta["sinr_alone_db"]],
            "sat_elevation_deg": round(city.meta["sat_elevation_deg"], 2),
            "beam_spacing_deg": round(city.meta["beam_spacing_deg"], 4),
            "bs_es_map_gain_db": round(city.meta["bs_es_map_gain_db"], 2),
            "p_sat_dbw": round(10 * math.log10(city.p_sat_w), 2), "p_bs_dbw": round(10 * math.log10(city.p_bs_w), 2),
            "sensing_eirp_dbw": round(cs.sensing_eirp_dbw, 4),
            "bs_sensing_limit_dbw": round(city.meta["bs_sensing_limit_dbw"], 4),
            "sensing_threshold_rule": f"Gamma = the BS-alone sensing limit {sens_rel:+g} dB (params.yaml "
                                      "beamforming.city.sensing_re_bs_limit_db): the largest EIRP the BS puts on "
                                      "every target at once with all of P_T and no user served",
            **isac_json(res, "city", city_out["pa1"]),
            "schemes": city_out, "sweeps": {par: sweep_json(r) for par, r in city_sweeps.items()}}
    else:  # documented empty result: no car of this city can be served under the ISAC constraints
        city_metrics = {"sum_rate_bps_hz": dict.fromkeys(names), "skipped": no_city.problem, "fix": no_city.fix,
                        "users": []}
    metrics = {
        "sum_rate_bps_hz": {k: paper_out[k]["sum_rate_bps_hz"] for k in names},
        "constraints_satisfied": bool(evaluated) and all(d["constraints_ok"] for d in evaluated),
        "constraints_satisfied_covers": "every design in paper.schemes and city.schemes (each scheme's waived "
                                        "checks listed with it); sweep points carry their own status",
        "pa1_iterations": pa1.trace.iterations if pa1 else None,
        "pa2_csi_error": paper_out["pa2"].get("csi_error"),
        "paper": {"seed": seed, "n_users": paper.n_users, "n_bs_antennas": paper.n_bs, "n_beams": paper.n_sat,
                  "sensing_eirp_dbw": setting.sensing_eirp_dbw, **isac_json(res, "paper", paper_out["pa1"]),
                  "schemes": paper_out},
        "city": city_metrics,
        "units": "bit/s/Hz; sum rates are the delivered min(sum of user rates, backhaul) where a backhaul is used",
    }
    with atomic_dir(paths.figures_dir / "beamforming") as fig_dir:
        traces = {}
        for label, designs in (("paper", paper_designs), ("city", city_designs)):
            for name in ("pa1", "pa2"):
                if name in designs:
                    traces[f"{label} {name.upper()}"] = designs[name].trace
        plot_convergence(traces, fig_dir / "fig2_convergence.png")
        if pa1 is not None:
            plot_beampattern(beampattern_data(paper, pa1), fig_dir / "fig3_beampattern.png")
        if no_city is None:
            plot_city_schemes(metrics, fig_dir / "city_schemes.png")
        isac_parts = {"paper setting": metrics["paper"]["isac"]}
        if no_city is None:
            isac_parts["ray-traced city"] = metrics["city"]["isac"]
        plot_sensing_tradeoff(isac_parts, fig_dir / "sensing_tradeoff.png")
        plot_detection_probability(isac_parts, fig_dir / "wang_fig4_detection_probability.png")
        for par, r in city_sweeps.items():
            plot_sweep(r, fig_dir / f"city_fig{5 + SWEEPS.index(par)}_sum_rate_vs_{par}.png",
                       xlabel=f"{SWEEP_LABELS[par]}, ray-traced city")
    note_timing("solve_s", solve_s)
    write_json(paths.results_dir / "beamforming.json", move_timings(metrics))
    sr = metrics["sum_rate_bps_hz"]
    fmt = lambda v: "infeasible" if v is None else f"{v:.3f}"  # noqa: E731
    city_line = (f"city ({city.meta['sector']}, {city.n_users} users, slot {cs.time_index}): "
                 + ", ".join(f"{k} {fmt(v)}" for k, v in metrics["city"]["sum_rate_bps_hz"].items())
                 if no_city is None else f"city: none ({no_city.problem})")
    print("[beamforming] paper: " + ", ".join(f"{k} {fmt(v)}" for k, v in sr.items())
          + f"; {city_line} bit/s/Hz; constraints satisfied: {metrics['constraints_satisfied']}")


def main() -> int:
    return run_stage("beamforming", build)


if __name__ == "__main__":
    sys.exit(main())
