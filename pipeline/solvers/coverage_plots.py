"""Plot helpers for the coverage figures of Park et al., arXiv 2307.03343 (Figs. 3-5) and Li & Shang,
arXiv 2411.04675 (Figs. 3 and 6).

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


def plot_stin_fig3(data: dict[str, Any], path: str | os.PathLike, dpi: int = 150) -> Path:
    """Park et al. Fig. 3: analytic (lines) vs Monte Carlo (markers) rate coverage, one colour per lambda_S."""
    fig, (ax,) = _figure()
    rate = np.asarray(data["rate_bps"]) / 1e6
    for i, lam in enumerate(data["sat_density_per_km2"]):
        line, = ax.semilogx(rate, data["analytic"][i], label=f"Theorem 1, $\\lambda_S$={lam:g}/km$^2$")
        ax.semilogx(rate[::3], np.asarray(data["monte_carlo"][i])[::3], "o", mfc="none", color=line.get_color())
    ax.plot([], [], "ko", mfc="none", label="Monte Carlo")
    ax.set_xlabel("rate threshold $R_{th}$ [Mbit/s]")
    ax.set_ylabel("rate coverage probability")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
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
        ax.set_xlabel("rate threshold [Mbit/s]")
        ax.set_ylabel("rate coverage probability")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[-1]
    pos = [i for i, lam in enumerate(lams) if lam > 0]
    for name in presets:
        med = np.asarray(data["median_rate_bps"][name]) / 1e6
        ax.semilogx([lams[i] for i in pos], med[pos], "o-", label=name)
        if len(pos) < len(lams):
            ax.axhline(med[lams.index(0.0)], color="k", ls="--", lw=0.8)
    ax.set_xlabel("satellite density $\\lambda_S$ [1/km$^2$]")
    ax.set_ylabel("median rate [Mbit/s]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
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
    ax.set_xlabel("SINR threshold [dB]")
    ax.set_ylabel("coverage probability")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path, dpi)


def plot_mc_fig3(data: dict[str, Any], path: str | os.PathLike, dpi: int = 150) -> Path:
    """Li & Shang Fig. 3: coverage with (solid) and without (dashed) beamforming per Nakagami m."""
    fig, (ax,) = _figure()
    thr = data["sinr_db"]
    for m in data["m"]:
        line, = ax.plot(thr, data["bf"][m]["monte_carlo"], "-", label=f"beamforming, m={m:g}")
        ax.plot(thr, data["no_bf"][m]["monte_carlo"], "--", color=line.get_color(), label=f"no beamforming, m={m:g}")
    ax.set_xlabel("SINR threshold [dB]")
    ax.set_ylabel("coverage probability")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path, dpi)
