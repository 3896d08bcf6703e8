"""Plot helpers for the coverage figures of Park et al., arXiv 2307.03343 (Figs. 3-5, and the rate coverage
against the independent load Monte Carlo), Li & Shang, arXiv 2411.04675 (Figs. 3, 4 and 6, the MC gain), and the
city calibration.

Each helper takes the dict of the matching ``fig*_data`` function and writes one image to the
path the caller gives (format from its suffix). Figures are built with ``matplotlib.figure.Figure``
(Agg canvas, no pyplot global state), so they work headless and in threads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _figure(ncols: int = 1, width: float = 5.5, height: float = 4.0) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _save(fig: Figure, path: str | os.PathLike, dpi: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _axes(ax: Any, xlabel: str, ylabel: str, *, probability: bool = False, legend_fontsize: int = 8) -> None:
    """Labels, light grid and legend of a panel; a probability axis runs 0..1.02."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if probability:
        ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_fontsize)


def plot_stin_fig3(data: dict[str, Any], path: str | os.PathLike, dpi: int = 150) -> Path:
    """Park et al. Fig. 3: analytic (lines) vs Monte Carlo (markers) rate coverage, one colour per lambda_S."""
    fig, (ax,) = _figure()
    rate = np.asarray(data["rate_bps"]) / 1e6
    for i, lam in enumerate(data["sat_density_per_km2"]):
        line, = ax.semilogx(rate, data["analytic"][i], label=f"Theorem 1, $\\lambda_S$={lam:g}/km$^2$")
        ax.semilogx(rate[::3], np.asarray(data["monte_carlo"][i])[::3], "o", mfc="none", color=line.get_color())
    ax.plot([], [], "ko", mfc="none", label="Monte Carlo")
    _axes(ax, "rate threshold $R_{th}$ [Mbit/s]", "rate coverage probability", probability=True)
    return _save(fig, path, dpi)


def plot_stin_fig4(data: dict[str, Any], path: str | os.PathLike, dpi: int = 150) -> Path:
    """Park et al. Fig. 4: rate coverage per shadowing preset (one panel each) for every lambda_S
    (lambda_S = 0 is the TN-only baseline), plus the median rate versus lambda_S."""
    presets = list(data["coverage"])
    fig, axes = _figure(len(presets) + 1, width=4.6)
    rate = np.asarray(data["rate_bps"]) / 1e6
    lams = data["sat_density_per_km2"]
    for ax, name in zip(axes, presets):
        for lam, cov in zip(lams, data["coverage"][name]):
            style = {"color": "k", "ls": "--"} if lam == 0 else {}
            ax.semilogx(rate, cov, label="TN only" if lam == 0 else f"STIN $\\lambda_S$={lam:g}", **style)
        ax.set_title(f"{name}, $\\lambda_T$={data['tbs_density_per_km2']:g}/km$^2$")
        _axes(ax, "rate threshold [Mbit/s]", "rate coverage probability", probability=True, legend_fontsize=7)
    ax = axes[-1]
    pos = [i for i, lam in enumerate(lams) if lam > 0]
    for name in presets:
        med = np.asarray(data["median_rate_bps"][name]) / 1e6
        ax.semilogx([lams[i] for i in pos], med[pos], "o-", label=name)
        if len(pos) < len(lams):
            ax.axhline(med[lams.index(0.0)], color="k", ls="--", lw=0.8)
    _axes(ax, "satellite density $\\lambda_S$ [1/km$^2$]", "median rate [Mbit/s]")
    return _save(fig, path, dpi)


def plot_stin_fig5(data: dict[str, Any], path: str | os.PathLike, dpi: int = 150) -> Path:
    """Park et al. Fig. 5: percentile rate with load versus satellite bias, one panel per preset."""
    presets = list(data["rate_bps"])
    fig, axes = _figure(len(presets), width=4.8)
    bias = np.asarray(data["sat_bias_db"])
    pct = 100 * (1 - data["achieved_fraction"])
    for ax, name in zip(axes, presets):
        for (lam, gain), row in zip(data["combos"], data["rate_bps"][name]):
            ax.semilogy(bias, np.maximum(row, 1e-3), "o-", ms=3, label=f"$\\lambda_S$={lam:g}, $G_{{S,0}}$={gain:g} dBi")
        ax.axhline(data["no_satellite_bps"][name], color="k", ls="--", label="no satellites")
        ax.set_title(f"{name}: {pct:g}th-percentile rate")
        ax.set_xlabel("satellite bias $B_S$ [dB]")
        ax.set_ylabel("rate [bit/s]")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    return _save(fig, path, dpi)


def plot_mc_fig6(data: dict[str, Any], path: str | os.PathLike, dpi: int = 150) -> Path:
    """Li & Shang Fig. 6: MC (SS-SBS) vs SC-satellite vs SC-BS coverage versus SINR threshold."""
    fig, (ax,) = _figure()
    thr = data["sinr_db"]
    labels = {"mc": "MC (SS-SBS)", "sat": "SC: satellite only", "bs": "SC: BS only"}
    for key, label in labels.items():
        line, = ax.plot(thr, data["monte_carlo"][key], "o", ms=3, label=f"{label} (sim.)")
        if data.get("analytic") and key in data["analytic"]:
            ax.plot(thr, data["analytic"][key], "-", color=line.get_color(), lw=1, label=f"{label} (analysis)")
    _axes(ax, "SINR threshold [dB]", "coverage probability", probability=True)
    return _save(fig, path, dpi)


def plot_mc_gain(fig6: dict[str, Any], sensitivity: dict[str, Any], path: str | os.PathLike, dpi: int = 150) -> Path:
    """Li & Shang Fig. 6: the MC gain over the best SC link per threshold (Monte Carlo and analysis), and the same
    gain for each reconstruction variant of the sensitivity study."""
    fig, (ax, ax2) = _figure(2, width=5.2)
    thr = fig6["sinr_db"]
    ax.plot(thr, fig6["gain_monte_carlo"]["gain"], "o", ms=3, label="Monte Carlo")
    if "gain_analytic" in fig6:
        ax.plot(thr, fig6["gain_analytic"]["gain"], "-", lw=1, label="analysis")
    pk = fig6["gain_monte_carlo"]
    ax.axvline(pk["peak_threshold_db"], color="k", ls=":", lw=0.8)
    ax.set_title(f"MC - max(SC), §V parameters: peak {pk['peak_gain']:.3f} at {pk['peak_threshold_db']:g} dB", fontsize=9)
    _axes(ax, "SINR threshold [dB]", "coverage gain of MC over the best SC link")
    for name, v in sensitivity["variants"].items():
        ax2.plot(sensitivity["sinr_db"], v["gain"], label=f"{name} (peak {v['peak_threshold_db']:g} dB)")
    ax2.set_xlabel("SINR threshold [dB]")
    ax2.set_ylabel("MC gain over the best SC link (analysis)")
    ax2.set_title("what moves the peak (reconstruction variants)", fontsize=9)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7)
    return _save(fig, path, dpi)


def plot_ms_fig3(data: dict[str, Any], path: str | os.PathLike, dpi: int = 150) -> Path:
    """Li & Shang Fig. 3 (multi-satellite architecture): coverage with (solid) and without (dashed) beamforming per
    Nakagami m, and the single-satellite link (dotted)."""
    fig, (ax,) = _figure()
    thr = data["sinr_db"]
    for m in data["m"]:
        line, = ax.plot(thr, data["bf"][m], "-", label=f"beamforming, m={m:g}")
        ax.plot(thr, data["no_bf"][m], "--", color=line.get_color(), label=f"no beamforming, m={m:g}")
        ax.plot(thr, data["single"][m], ":", color=line.get_color(), lw=1, label=f"single satellite, m={m:g}")
    k = data["params"]["cluster_size"]
    ax.set_title(f"multi-satellite cluster of {k} (Monte Carlo)", fontsize=9)
    _axes(ax, "SINR threshold [dB]", "coverage probability", probability=True, legend_fontsize=7)
    return _save(fig, path, dpi)


def plot_ms_fig4(data: dict[str, Any], path: str | os.PathLike, dpi: int = 150) -> Path:
    """Li & Shang Fig. 4: CDF of the received wanted power, ideal CSI against the estimates of each pilot count."""
    fig, (ax,) = _figure()
    x = data["power_dbm"]
    ax.plot(x, data["cdf"]["ideal"], "k-", lw=2, label="ideal channel")
    for tp in data["pilots"]:
        ax.plot(x, data["cdf"][tp], "--", label=f"{tp} pilot(s), KS {data['ks_distance'][tp]:.3f}")
    ax.set_xlabel("received wanted power [dBm]")
    ax.set_ylabel("CDF")
    ax.set_title(f"estimated vs ideal channel (m = {data['m']:g})", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path, dpi)


def plot_load_validation(data: dict[str, Any], path: str | os.PathLike, dpi: int = 150) -> Path:
    """Park et al. rate coverage with load, one column per network: top, the independent user-level Monte Carlo
    (markers) against the analysis with the load conditioned on the visible-station count (solid), Singh et al.'s
    load distribution (dotted) and the mean load (55) (dashed); bottom, analysis minus Monte Carlo with the
    +- 2 standard-error band and the 0.01 goal."""
    parts = [p for p in ("stin", "terrestrial_only") if p in data]
    fig = Figure(figsize=(5.2 * len(parts), 6.6), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.subplots(2, len(parts), squeeze=False, height_ratios=[3, 2], sharex="col")
    rate = np.asarray(data["rate_bps"]) / 1e6
    for col, part in enumerate(parts):
        ax, err = grid[0, col], grid[1, col]
        for case in data[part]["cases"]:
            mc, se = np.asarray(case["monte_carlo"]), np.asarray(case["mc_std_error"])
            lam = f"$\\lambda_U$={case['user_density_per_km2']:g}/km$^2$"
            main = case.get("analytic_visible_count", case["analytic_load_distribution"])
            line, = ax.semilogx(rate, main, "-", lw=1.2, label=lam)
            colour = line.get_color()
            ax.semilogx(rate, case["analytic_load_distribution"], ":", lw=1, color=colour)
            ax.semilogx(rate, case["analytic_mean_load"], "--", lw=1, color=colour)
            ax.plot(rate[::2], mc[::2], "o", ms=3, mfc="none", color=colour)
            err.semilogx(rate, np.asarray(main) - mc, "-", lw=1.2, color=colour, label=f"{lam}, visible count")
            err.semilogx(rate, np.asarray(case["analytic_load_distribution"]) - mc, ":", lw=1, color=colour,
                         label=f"{lam}, Singh et al.")
            err.fill_between(rate, -2 * se, 2 * se, color=colour, alpha=0.12, lw=0)
        ax.plot([], [], "k-", label="load given visible count")
        ax.plot([], [], "k:", label="load distribution (Singh et al.)")
        ax.plot([], [], "k--", label="mean load (55)")
        ax.plot([], [], "ko", mfc="none", label="users dropped and counted (MC)")
        ax.set_title("STIN, whole sphere" if part == "stin" else "terrestrial only, dense region", fontsize=9)
        _axes(ax, "", "rate coverage P[R > r]", probability=True, legend_fontsize=6)
        for y in (-0.01, 0.01):
            err.axhline(y, color="tab:green", lw=0.8, ls="--")
        err.axhline(0.0, color="k", lw=0.5)
        _axes(err, "rate threshold [Mbit/s]", "analysis - MC", legend_fontsize=6)
    return _save(fig, path, dpi)


def plot_city_calibration(thr: np.ndarray, empirical: dict[str, np.ndarray], models: dict[str, dict[str, np.ndarray]],
                          path: str | os.PathLike, city: str = "", dpi: int = 150) -> Path:
    """Ray-traced coverage (black) against each analytic model of the city, per scheme, and the last model's error."""
    fig, axes = _figure(4, width=4.2)
    titles = {"sc_bs": "SC BS", "sc_sat": "SC satellite", "mc": "MC (better link)"}
    for ax, scheme in zip(axes, ("sc_bs", "sc_sat", "mc")):
        ax.plot(thr, empirical[scheme], "k-", lw=2.5, label="ray-traced street cells")
        for name, m in models.items():
            ax.plot(thr, m[scheme], "--", lw=1.2, label=name)
        ax.set_title(f"{city} {titles[scheme]}", fontsize=9)
        ax.set_xlabel("SINR threshold [dB]")
        ax.set_ylabel("coverage probability")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    last = list(models)[-1]
    ax = axes[3]
    for scheme in ("sc_bs", "sc_sat", "mc"):
        ax.plot(thr, np.asarray(models[last][scheme]) - empirical[scheme], label=titles[scheme])
    ax.axhspan(-0.05, 0.05, color="tab:green", alpha=0.12, label="|error| <= 0.05")
    ax.set_title(f"{last}: model - maps", fontsize=9)
    _axes(ax, "SINR threshold [dB]", "coverage error", legend_fontsize=7)
    return _save(fig, path, dpi)
