"""Figures: Fig. 2 (convergence), Fig. 3 (beampattern), Figs. 5-8 (sweeps), the sensing trade-off and
Fig. 4 (detection probability).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.solvers.beamforming.ccp import Design
from pipeline.solvers.beamforming.evaluate import _q
from pipeline.solvers.beamforming.model import BeamformingProblem
from pipeline.solvers.beamforming.sweeps import SweepResult


def beampattern_data(p: BeamformingProblem, d: Design, *, sat_angles_deg: np.ndarray | None = None,
                     bs_azimuth_deg: np.ndarray | None = None) -> dict:
    """Fig. 3 data: satellite EIRP along the x cut (angle from the ES direction) for V0 and for the
    whole satellite signal, with target angles; BS EIRP a^H (sum w w^H) a vs azimuth with the users'
    azimuths. Needs a problem from :func:`paper_problem` (its steering functions)."""
    if "sat_steering" not in p.meta:
        raise ValueError("beampattern_data needs a paper_problem (steering functions in meta)")
    sa = np.linspace(-8, 8, 801) if sat_angles_deg is None else np.asarray(sat_angles_deg, float)
    az = np.linspace(-180, 180, 721) if bs_azimuth_deg is None else np.asarray(bs_azimuth_deg, float)
    a_sat = p.meta["sat_steering"](sa)
    a_bs = p.meta["bs_steering"](az)
    b = d.beams
    sens = _q(a_sat, b.r_sens)
    total = sens + np.abs(a_sat @ b.v) ** 2 + (np.abs(a_sat @ b.u.T) ** 2).sum(1) if b.u is not None else \
        sens + np.abs(a_sat @ b.v) ** 2
    bs = (np.abs(a_bs @ b.w.T) ** 2).sum(1)
    return {"sat_angle_deg": sa, "sat_sensing_w": sens, "sat_total_w": total, "target_deg": p.meta["target_deg"],
                "gamma_w": p.gamma_w, "bs_azimuth_deg": az, "bs_eirp_w": bs, "ue_azimuth_deg": p.meta["ue_azimuth_deg"]}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Any) -> None:
    """Every figure of this module: tight layout, 150 dpi, closed."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _labels(ax: Any, xlabel: str, ylabel: str) -> None:
    """Axis labels, light grid and the legend of a one-axis line plot."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _twin_legend(owner: Any, ax: Any, ax2: Any, loc: str) -> None:
    """One legend on ``owner`` for the lines of an axis and its twin."""
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    owner.legend(h1 + h2, l1 + l2, fontsize=7, loc=loc)


def plot_convergence(traces: dict, path: Any) -> None:
    """Fig. 2: lifted sum rate vs iteration, one line per label (e.g. 'PA1, Ps = 30 dBW')."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for label, tr in traces.items():
        ax.plot(range(len(tr.objective)), tr.objective, marker="o", ms=3, label=label)
    _labels(ax, "iteration", "sum rate [bit/s/Hz]")
    _save(fig, path)


def plot_beampattern(data: dict, path: Any) -> None:
    """Fig. 3: (a) satellite EIRP vs angle with targets and Gamma, (b) BS beampattern with users."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    db = lambda x: 10 * np.log10(np.maximum(x, 1e-30))
    a1.plot(data["sat_angle_deg"], db(data["sat_total_w"]), label="satellite total (v, V0)")
    a1.plot(data["sat_angle_deg"], db(data["sat_sensing_w"]), label="sensing V0")
    for i, t in enumerate(data["target_deg"]):
        a1.axvline(t, color="r", ls=":", lw=1, label="targets" if i == 0 else None)
    a1.axvline(0.0, color="k", ls="--", lw=1, label="ES / users")
    if len(data["gamma_w"]):
        a1.axhline(db(data["gamma_w"].min()), color="g", lw=1, label="Gamma")
    a1.set_xlabel("angle from the ES direction at the satellite [deg]")
    a1.set_ylabel("EIRP [dBW]")
    a1.legend(fontsize=7)
    a1.grid(alpha=0.3)
    a2.plot(data["bs_azimuth_deg"], db(data["bs_eirp_w"]))
    for i, t in enumerate(data["ue_azimuth_deg"]):
        a2.axvline(t, color="r", ls=":", lw=1, label="users" if i == 0 else None)
    a2.set_xlabel("azimuth at the BS [deg]")
    a2.set_ylabel("BS EIRP [dBW]")
    a2.legend(fontsize=7)
    a2.grid(alpha=0.3)
    _save(fig, path)


def plot_sweep(res: SweepResult, path: Any, *, xlabel: str | None = None) -> None:
    """Figs. 5-8: delivered sum rate per scheme vs the swept parameter."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    x = [v if not isinstance(v, (tuple, list)) else v[0] * v[1] for v in res.values]
    for sch, ys in res.sum_rate.items():
        ax.plot(x, ys, marker="o", ms=4, label=sch.upper())
    _labels(ax, xlabel or res.parameter, "sum rate [bit/s/Hz]")
    _save(fig, path)


def plot_sensing_tradeoff(parts: dict, path: Any) -> None:
    """Sum rate vs the sensing threshold Gamma, one panel per setting (``parts``: label -> the stage's
    isac results): PA1 points (filled where (17d) binds), the default Gamma, the largest feasible Gamma
    and the first infeasible one, and the shadow price of (17d) on a second axis."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(parts), figsize=(5.2 * len(parts), 3.8), squeeze=False)
    for ax, (label, isac) in zip(axes[0], parts.items()):
        pts = [r for r in isac["tradeoff"] if r.get("sum_rate_bps_hz") is not None]
        g = [r["gamma_dbw"] for r in pts]
        ax.plot(g, [r["sum_rate_bps_hz"] for r in pts], "-", color="C0", lw=1.2)
        for r in pts:
            bind = r["sensing"]["binding"]
            ax.plot(r["gamma_dbw"], r["sum_rate_bps_hz"], "o", ms=5, color="C0", mfc="C0" if bind else "white")
        ax.axvline(isac["gamma_dbw"], color="k", ls="--", lw=1, label=f"default Gamma {isac['gamma_dbw']:.1f} dBW")
        gmax = isac["gamma_max"]
        if gmax.get("infeasible_at") is not None:
            ax.axvspan(gmax["infeasible_at"], max(g + [gmax["infeasible_at"]]) + 1.0, color="r", alpha=0.12,
                       label=f"PA1 infeasible (> {gmax['value']:.2f} dBW)")
        ax.set_xlabel("sensing threshold Gamma [dBW] (all targets)")
        ax.set_ylabel("PA1 sum rate [bit/s/Hz] (filled: (17d) binds)")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
        ax2 = ax.twinx()
        ax2.plot(g, [max(r["sensing"].get("dual_bps_hz_per_db", [0.0]) or [0.0]) for r in pts], ":", color="C3",
                 marker="x", ms=4, label="shadow price of (17d)")
        ax2.set_ylabel("shadow price of (17d) [bit/s/Hz per dB]", color="C3", fontsize=8)
        _twin_legend(ax2, ax, ax2, "lower left")
    _save(fig, path)


def plot_detection_probability(parts: dict, path: Any) -> None:
    """Wang & Wang's Fig. 4 (detector reconstructed, :class:`RadarSetting`): detection probability vs the
    sensing threshold Gamma per setting, at the PA1 designs (weakest target) and the one a design meeting
    Gamma exactly guarantees; the sum rate on a second axis (the trade-off the paper's text describes)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(parts), figsize=(5.2 * len(parts), 3.8), squeeze=False)
    for ax, (label, isac) in zip(axes[0], parts.items()):
        det = isac["detection"]
        ax.plot(det["guaranteed_gamma_dbw"], det["guaranteed_detection_probability"], "-", color="C2", lw=1.2,
                label="guaranteed at Gamma")
        ax.plot(det["gamma_dbw"], det["detection_probability"], "o", color="C2", ms=5, label="PA1 design (weakest target)")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("sensing threshold Gamma [dBW]")
        ax.set_ylabel("detection probability")
        ax.set_title(f"{label}: {det['target_model']}, Pfa {det['pfa']:g}, {det['receiver']} receiver", fontsize=8)
        ax.grid(alpha=0.3)
        ax2 = ax.twinx()
        ax2.plot(det["gamma_dbw"], det["sum_rate_bps_hz"], "s--", color="C0", ms=3, lw=1, label="PA1 sum rate")
        ax2.set_ylabel("sum rate [bit/s/Hz]", color="C0", fontsize=8)
        _twin_legend(ax, ax, ax2, "center left")
    _save(fig, path)


def plot_city_schemes(metrics: dict, path: Any) -> None:
    """Bars: delivered sum rate per scheme, paper setting vs ray-traced city (infeasible = 0, hatched);
    ``metrics`` is the beamforming stage's results (top-level ``sum_rate_bps_hz``: the paper setting)."""
    plt = _plt()
    names = ("pa1", "pa2", "das", "tdma", "ibs")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    x = np.arange(len(names))
    for off, (label, sr) in zip((-0.2, 0.2), (("paper setting", metrics["sum_rate_bps_hz"]),
                                              ("ray-traced city", metrics["city"]["sum_rate_bps_hz"]))):
        vals = [sr[n] if sr[n] is not None else 0.0 for n in names]
        bars = ax.bar(x + off, vals, 0.4, label=label)
        for b, n in zip(bars, names):
            if sr[n] is None:
                b.set_hatch("//")
                ax.annotate("infeasible", (b.get_x() + b.get_width() / 2, 0.2), ha="center", rotation=90, fontsize=7)
    ax.set_xticks(x, [n.upper() for n in names])
    ax.set_ylabel("delivered sum rate [bit/s/Hz]")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)
