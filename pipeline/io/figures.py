"""Figures people would rather look at than read (matplotlib, written atomically)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from pipeline.io.atomic import atomic_path  # noqa: E402


def _save(fig, path: str | os.PathLike, dpi: int) -> None:  # noqa: ANN001
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)


def _map_panel(ax, layer: np.ndarray, x: np.ndarray, y: np.ndarray, buildings: gpd.GeoDataFrame,  # noqa: ANN001
               sites: gpd.GeoDataFrame):  # noqa: ANN202
    """A CINR layer (2nd-98th percentile colour range) with buildings and BS sites; returns (image, extent)."""
    h = float(x[1] - x[0]) / 2 if len(x) > 1 else 0.5
    extent = (x[0] - h, x[-1] + h, y[0] - h, y[-1] + h)
    finite = layer[np.isfinite(layer)]
    vmin, vmax = (np.percentile(finite, [2, 98]) if finite.size else (-10, 30))
    im = ax.imshow(layer, origin="lower", extent=extent, cmap="viridis", vmin=vmin, vmax=vmax)
    buildings.plot(ax=ax, color="0.55", edgecolor="0.3", linewidth=0.2)
    ax.scatter(sites.x_m, sites.y_m, marker="^", s=60, c="red", edgecolors="white", label="BS sites", zorder=5)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    return im, extent


def plot_cinr_maps(path: str | os.PathLike, heatmaps: xr.Dataset, radiomaps: xr.Dataset,
                   buildings: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, slot: int = 0) -> None:
    """Fig. 2 style of Nguyen-Kha et al. (arXiv 2408.15394): BS-UE and LEO-UE CINR with buildings, sites, satellite direction."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 7), constrained_layout=True)
    layers = [("cinr_bs_db", "BS-UE CINR"), ("cinr_leo_db", "LEO-UE CINR")]
    for ax, (var, title) in zip(axes, layers):
        im, extent = _map_panel(ax, heatmaps[var].isel(time=slot).values, heatmaps.x.values, heatmaps.y.values,
                                buildings, sites)
        for r in range(radiomaps.sizes["rank"]):
            if int(radiomaps.serving_sat.values[slot, r]) < 0:
                continue
            az = math.radians(float(radiomaps.sat_azimuth_deg.values[slot, r]))
            el = float(radiomaps.sat_elevation_deg.values[slot, r])
            span = 0.35 * min(extent[1] - extent[0], extent[3] - extent[2])
            cx, cy = (extent[0] + extent[1]) / 2, (extent[2] + extent[3]) / 2
            ax.annotate("", xy=(cx + span * math.sin(az), cy + span * math.cos(az)), xytext=(cx, cy),
                        arrowprops=dict(arrowstyle="->", color="orange" if r == 0 else "gold", lw=2.5))
            ax.text(cx + span * 1.05 * math.sin(az), cy + span * 1.05 * math.cos(az),
                    f"sat {radiomaps.serving_sat.values[slot, r]} ({el:.0f} deg)", color="black",
                    fontsize=8, ha="center", bbox=dict(facecolor="white", alpha=0.7, lw=0))
        ax.set_title(f"{title}, slot {slot} ({str(heatmaps.time.values[slot])[:19]})")
        ax.set_xlabel("east [m]")
        ax.set_ylabel("north [m]")
        fig.colorbar(im, ax=ax, shrink=0.8, label="CINR [dB]")
    axes[0].legend(loc="lower left", fontsize=8)
    _save(fig, path, 110)


def plot_route_cinr(path: str | os.PathLike, ue: str, times: np.ndarray, cinr_bs_db: np.ndarray,
                    cinr_leo_db: np.ndarray, heatmaps: xr.Dataset, buildings: gpd.GeoDataFrame,
                    sites: gpd.GeoDataFrame, route_xy: np.ndarray, ue_xy: np.ndarray) -> None:
    """Fig. 3 style of Nguyen-Kha et al. (arXiv 2408.15394): the UE's route on the LEO-UE CINR map, and both CINRs over time."""
    fig, (ax_map, ax_t) = plt.subplots(1, 2, figsize=(13, 6), constrained_layout=True,
                                       gridspec_kw={"width_ratios": [1, 1.4]})
    im, _ = _map_panel(ax_map, heatmaps["cinr_leo_db"].isel(time=0).values, heatmaps.x.values, heatmaps.y.values,
                       buildings, sites)
    ax_map.plot(route_xy[:, 0], route_xy[:, 1], color="white", lw=3, zorder=6)
    ax_map.plot(route_xy[:, 0], route_xy[:, 1], color="crimson", lw=1.5, zorder=7, label=f"route of {ue}")
    ax_map.scatter(ue_xy[:, 0], ue_xy[:, 1], s=12, c="black", zorder=8, label="UE at each slot")
    ax_map.set_title("LEO-UE CINR (slot 0) and the route")
    ax_map.legend(loc="lower left", fontsize=8)
    fig.colorbar(im, ax=ax_map, shrink=0.8, label="CINR [dB]")
    seconds = (times - times[0]) / np.timedelta64(1, "s")
    ax_t.plot(seconds, cinr_bs_db, "o-", label="BS-UE CINR")
    ax_t.plot(seconds, cinr_leo_db, "s-", label="LEO-UE CINR")
    ax_t.set_xlabel("time [s]")
    ax_t.set_ylabel("CINR [dB]")
    ax_t.set_title(f"{ue}: CINR over time along the route")
    ax_t.grid(alpha=0.3)
    ax_t.legend()
    _save(fig, path, 100)


def plot_los_probability(path: str | os.PathLike, city: str, fidelity: dict) -> None:
    """LoS probability vs elevation: ray-traced street points, TR 38.811 Table 6.6.1-1 (dense urban,
    urban) and ITU-R P.1410 evaluated on the city's own building statistics."""
    table = fidelity["los_probability"]
    el = np.array([float(k) for k in table])

    def col(key: str) -> np.ndarray:
        return np.array([np.nan if table[k].get(key) is None else table[k][key] for k in table], float)

    p = fidelity["p1410_params"]
    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    ax.plot(el, col("raytraced"), "ko-", lw=2, label=f"ray-traced ({city})")
    ax.plot(el, col("tr38811_dense_urban"), "s--", label="TR 38.811 dense urban")
    ax.plot(el, col("tr38811_urban"), "^--", label="TR 38.811 urban")
    ax.plot(el, col("itu_p1410"), "d-", label=f"ITU-R P.1410 (alpha {p['alpha']:.2f}, beta {p['beta']:.0f}/km2, "
                                              f"gamma {p['gamma_m']:.1f} m)")
    if any(v.get("itu_p1410_generator") is not None for v in table.values()):
        ax.plot(el, col("itu_p1410_generator"), "x:", label="ITU-R P.1410, generator's exact statistics")
    ax.set_xlabel("elevation [deg]")
    ax.set_ylabel("LoS probability")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title("Satellite LoS probability vs elevation")
    ax.legend(fontsize=8)
    _save(fig, path, 100)


def plot_link_selection(path: str | os.PathLike, m: dict) -> None:
    """Nguyen-Kha et al. (arXiv 2408.15394) Figs. 4-6: sum rate per algorithm, SCA convergence, sum rate vs BS
    and satellite power, all under the interference model ``m["interference_model"]``."""
    pct = (lambda v: "n/a" if v is None else f"{v:.2%}")
    model = m.get("interference_model", "full_power")
    fig, axes = plt.subplots(2, 2, figsize=(12, 9), constrained_layout=True)
    ax = axes[0, 0]
    names = list(m["sum_rate_bps_hz"])
    ax.bar(names, [m["sum_rate_bps_hz"][n] for n in names],
           color=["0.3", "tab:blue", "tab:purple", "tab:orange", "tab:green", "tab:gray"][: len(names)])
    if "optimal_upper_bound_bps_hz" in m:
        ax.axhline(m["optimal_upper_bound_bps_hz"], color="k", ls=":", label="exact method's upper bound")
        ax.legend(fontsize=8)
    ax.set_ylabel("sum rate over the window [bit/s/Hz]")
    ax.set_title(f"Sum rate per algorithm, {model} interference\n(gap SCA {pct(m['gap_sca'])}, greedy {pct(m['gap_greedy'])})")
    ax = axes[0, 1]
    for p_dbw, c in m["sca_convergence_by_sat_power_dbw"].items():
        ax.plot(range(len(c["objective"])), c["objective"], "o-", label=f"P_S = {p_dbw} dBW ({c['start']} start)")
    ax.set_xlabel("SCA iteration (0 = starting point)")
    ax.set_ylabel("relaxed sum rate, first solved slot [bit/s/Hz]")
    ax.set_title("SCA convergence (Fig. 4)")
    ax.legend(fontsize=8)
    for ax, key, xlabel, title in ((axes[1, 0], "sweep_bs_power_dbm", "BS power P_B [dBm]", "Fig. 5"),
                                   (axes[1, 1], "sweep_sat_power_dbw", "satellite power P_S [dBW]", "Fig. 6")):
        s = m[key]
        for a, style in (("optimal", "k--"), ("sca", "o-"), ("greedy", "s-"), ("heuristic", "^:")):
            if a in s:
                ax.plot(s["values"], [np.nan if v is None else v for v in s[a]], style, label=a)  # None: failed
        ax.set_xlabel(xlabel)
        ax.set_ylabel("sum rate over the sweep slots [bit/s/Hz]")
        ax.set_title(f"Sum rate vs {xlabel.split(' [')[0]} ({title}, {model})")
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path, 100)


def plot_city_coverage(path: str | os.PathLike, city: xr.Dataset, routes: xr.Dataset | None, analytic,  # noqa: ANN001
                       analytic_no_bs_interference, city_name: str) -> None:  # noqa: ANN001
    """Coverage vs SINR threshold (Fig. 6 style of Li & Shang, arXiv 2411.04675): ray-traced SC BS / SC satellite /
    MC over the street cells (and route points), next to the analytic model of Park et al. (arXiv 2307.03343)
    calibrated to the city; rate coverage."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), constrained_layout=True)
    ax = axes[0]
    thr = city.threshold_db.values
    win = city.sinr_coverage_window
    for scheme, colour, label in (("sc_bs", "tab:orange", "SC BS"), ("sc_sat", "tab:blue", "SC satellite"),
                                  ("mc", "k", "MC (either link)")):
        ax.plot(thr, win.sel(scheme=scheme), "-", color=colour, lw=2, label=f"{label}, ray-traced streets")
        if routes is not None:
            ax.plot(thr, routes.sinr_coverage_window.sel(scheme=scheme), ":", color=colour, label=f"{label}, routes")
    ax.plot(thr, analytic.total, "--", color="tab:red", label="analytic (Park et al.), calibrated")
    ax.plot(thr, analytic_no_bs_interference.total, "-.", color="tab:purple", label="analytic, no BS interferers")
    ax.set_xlabel("SINR threshold [dB]")
    ax.set_ylabel("coverage probability")
    ax.set_title(f"{city_name}: coverage vs SINR threshold")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    rates = city.rate_bps.values / 1e6
    for scheme, colour, label in (("sc_bs", "tab:orange", "SC BS"), ("sc_sat", "tab:blue", "SC satellite"),
                                  ("mc", "k", "MC (better link)"), ("dc", "tab:green", "DC (both rates)")):
        ax.semilogx(rates, city.rate_coverage_window.sel(rate_scheme=scheme), "o-", color=colour, label=label)
    ax.set_xlabel(f"rate threshold [Mbit/s] (B = {city.attrs['bandwidth_hz'] / 1e6:g} MHz)")
    ax.set_ylabel("rate coverage P[R > r]")
    ax.set_title("Rate coverage, ray-traced street cells")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    _save(fig, path, 100)


def plot_handover(path: str | os.PathLike, ho: dict, links: dict[str, list] | None, ue_ids: list[str]) -> None:
    """Handover-aware selection (arXiv 2507.10308 model, reconstructed): the sum rate vs handovers per car per
    minute as the weight varies (exact front, online points, per-slot optimum), and the links each car holds
    over time without and with the handover weight (shaded: a new link at that slot)."""
    if links is None:  # the study could not run (link_selection.json "handover" says why)
        fig, ax = plt.subplots(figsize=(8, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, f"handover study not computed: {ho.get('skipped', '')}", ha="center", va="center", wrap=True)
        _save(fig, path, 100)
        return
    fig = plt.figure(figsize=(15, 5.5), constrained_layout=True)
    grid = fig.add_gridspec(1, 1 + len(links))
    ax = fig.add_subplot(grid[0, 0])
    pf = ho["pareto"]
    ax.plot(pf["exact_handovers_per_ue_per_min"], pf["exact_sum_rate"], "o-", color="k", label="exact (time-coupled MILP)")
    for w, hx, sr in zip(pf["weights"], pf["exact_handovers_per_ue_per_min"], pf["exact_sum_rate"], strict=True):
        ax.annotate(f"{w:g}", (hx, sr), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.plot(pf["online_handovers_per_ue_per_min"], pf["online_sum_rate"], "s", mfc="none", color="tab:blue",
            label=f"online, {ho['online_horizon_slots']}-slot prediction")
    base = ho["per_slot_optimal"]
    ax.plot([base["handovers_per_ue_per_min"]], [base["sum_rate"]], "*", ms=12, color="tab:red", label="per-slot optimal")
    ax.set_xlabel("handovers per car per minute")
    ax.set_ylabel("sum rate over the window [bit/s/Hz]")
    ax.set_title(f"Sum rate vs handovers (weight labels in bit/s/Hz; {ho['interference_model']} interference)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    for i, (name, per_t) in enumerate(links.items()):
        ax = fig.add_subplot(grid[0, 1 + i])
        n_t, n_k = len(per_t), len(ue_ids)
        new = np.zeros((n_k, n_t))
        for t in range(1, n_t):
            for k in range(n_k):
                new[k, t] = len(per_t[t][k] - per_t[t - 1][k])  # links established at t
        ax.imshow(new, aspect="auto", cmap="Reds", vmin=0, vmax=2.5, origin="upper")
        for t in range(n_t):
            for k in range(n_k):
                label = "\n".join(sorted(f"B{j}" if kind == "b" else f"S{j}" for kind, j in per_t[t][k]))
                ax.text(t, k, label, ha="center", va="center", fontsize=5)
        ax.set_yticks(range(n_k), ue_ids, fontsize=7)
        ax.set_xlabel("slot")
        ax.set_title(f"{name}: {int(new.sum())} handovers (shaded: new links)", fontsize=9)
    _save(fig, path, 110)
