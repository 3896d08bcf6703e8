"""Empirical coverage from ray-traced CINR: single connectivity (BS or satellite) vs multi-connectivity.

Over street-level (outdoor) cells of the heatmaps, or over route points, with gamma_B and
gamma_S the CINRs of the best BS and best satellite link (cross-network interference
included, as in the heatmaps):

    SINR coverage    P_SC,BS(theta) = P[gamma_B > theta],  P_SC,sat(theta) = P[gamma_S > theta]
                     P_MC(theta) = P[max(gamma_B, gamma_S) > theta]   (served when either link meets it;
                     Li & Shang, arXiv 2411.04675, Sec. III: the UE is connected to both and uses the
                     better one)
    rate coverage    P[R > r] with R = B log2(1 + gamma) per link, R_MC = B log2(1 + max gamma) and the
                     dual-connectivity rate R_DC = B (log2(1 + gamma_B) + log2(1 + gamma_S))
                     (both links' rates summed, Nguyen-Kha et al., arXiv 2408.15394, eq. (11))

Probabilities are fractions of finite samples (indoor cells are NaN in the heatmaps and
are left out), per slot and pooled over the window. (P_MC >= max(P_SC,BS, P_SC,sat) holds
sample by sample: an identity of the definition, not a result, so nothing reports it.)

Analytic models of the city: :func:`calibrate_city_network` fits Park et al.'s two-tier model
(arXiv 2307.03343) to the maps; :func:`park_cross_network_coverage` evaluates it under the maps'
interference rule (each network interfered by the other only); the calibrated model that matches
the maps is :mod:`pipeline.solvers.city_model`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr
from pipeline.errors import StinError

SINR_SCHEMES = ("sc_bs", "sc_sat", "mc")
RATE_SCHEMES = ("sc_bs", "sc_sat", "mc", "dc")


def coverage_probability(values: np.ndarray, thresholds: np.ndarray, axis: Any = None) -> np.ndarray:
    """P[v > theta] for every threshold over the finite entries of ``values`` (NaN = not a sample).

    Returns shape ``thresholds.shape + remaining dims`` (all dims reduced when ``axis`` is None).
    """
    values = np.asarray(values, float)
    thresholds = np.asarray(thresholds, float)
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    above = np.stack([(finite & (values > t)).sum(axis=axis) for t in thresholds.ravel()])
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = above / count
    return prob.reshape(thresholds.shape + np.shape(count))


def _db_to_lin(v_db: np.ndarray) -> np.ndarray:
    return 10.0 ** (np.asarray(v_db, float) / 10.0)


def link_rates_bps(cinr_bs_db: np.ndarray, cinr_sat_db: np.ndarray, bandwidth_hz: float) -> dict[str, np.ndarray]:
    """Shannon rates B log2(1 + gamma) of each scheme (NaN where the sample is not a street point)."""
    if bandwidth_hz <= 0:
        raise ValueError(f"bandwidth_hz must be positive, got {bandwidth_hz}; fix: pass the link bandwidth in Hz")
    r_bs = bandwidth_hz * np.log2(1 + _db_to_lin(cinr_bs_db))
    r_sat = bandwidth_hz * np.log2(1 + _db_to_lin(cinr_sat_db))
    return {"sc_bs": r_bs, "sc_sat": r_sat, "mc": np.maximum(r_bs, r_sat), "dc": r_bs + r_sat}


def sinr_samples(cinr_bs_db: np.ndarray, cinr_sat_db: np.ndarray) -> dict[str, np.ndarray]:
    """CINR per scheme: the BS link, the satellite link, and the better of the two (MC)."""
    bs, sat = np.asarray(cinr_bs_db, float), np.asarray(cinr_sat_db, float)
    if bs.shape != sat.shape:
        raise ValueError(f"CINR arrays differ in shape {bs.shape} vs {sat.shape}; fix: pass the same cells/slots")
    return {"sc_bs": bs, "sc_sat": sat, "mc": np.maximum(bs, sat)}  # NaN if either is NaN


def coverage_from_cinr(cinr_bs_db: np.ndarray, cinr_sat_db: np.ndarray, thresholds_db: np.ndarray,
                       rate_thresholds_bps: np.ndarray, bandwidth_hz: float, time_axis: int = 0) -> xr.Dataset:
    """SINR and rate coverage per scheme, per slot (along ``time_axis``) and pooled over the window.

    Returns a Dataset with ``sinr_coverage`` (scheme, threshold_db, time), ``sinr_coverage_window``
    (scheme, threshold_db), ``rate_coverage`` (rate_scheme, rate_bps, time) and ``rate_coverage_window``.
    """
    thresholds_db = np.asarray(thresholds_db, float)
    rate_thresholds_bps = np.asarray(rate_thresholds_bps, float)
    bs = np.moveaxis(np.asarray(cinr_bs_db, float), time_axis, 0)
    sat = np.moveaxis(np.asarray(cinr_sat_db, float), time_axis, 0)
    n_time = bs.shape[0]
    flat = (n_time, -1)
    sinr = {k: v.reshape(flat) for k, v in sinr_samples(bs, sat).items()}
    rate = {k: v.reshape(flat) for k, v in link_rates_bps(bs, sat, bandwidth_hz).items()}
    return xr.Dataset(
        {
            "sinr_coverage": (("scheme", "threshold_db", "time"),
                              np.stack([coverage_probability(sinr[s], thresholds_db, axis=1) for s in SINR_SCHEMES])),
            "sinr_coverage_window": (("scheme", "threshold_db"),
                                     np.stack([coverage_probability(sinr[s], thresholds_db) for s in SINR_SCHEMES])),
            "rate_coverage": (("rate_scheme", "rate_bps", "time"),
                              np.stack([coverage_probability(rate[s], rate_thresholds_bps, axis=1) for s in RATE_SCHEMES])),
            "rate_coverage_window": (("rate_scheme", "rate_bps"),
                                     np.stack([coverage_probability(rate[s], rate_thresholds_bps) for s in RATE_SCHEMES])),
            "samples_per_slot": (("time",), np.isfinite(sinr["mc"]).sum(1)),
        },
        coords={"scheme": list(SINR_SCHEMES), "rate_scheme": list(RATE_SCHEMES), "threshold_db": thresholds_db,
                "rate_bps": rate_thresholds_bps, "time": np.arange(n_time)},
        attrs={"bandwidth_hz": float(bandwidth_hz)},
    )


def heatmap_coverage(heatmaps: xr.Dataset, thresholds_db: np.ndarray, rate_thresholds_bps: np.ndarray,
                     bandwidth_hz: float | None = None) -> xr.Dataset:
    """Coverage over the street-level cells of ``heatmaps.nc`` (``cinr_bs_db``, ``cinr_leo_db``; indoor = NaN)."""
    outdoor = heatmaps["outdoor"].values.astype(bool)
    if not outdoor.any():
        raise ValueError("the heatmaps have no outdoor cell; fix: check the area and the buildings stage")
    bs = np.where(outdoor[None], heatmaps["cinr_bs_db"].transpose("time", "y", "x").values, np.nan)
    sat = np.where(outdoor[None], heatmaps["cinr_leo_db"].transpose("time", "y", "x").values, np.nan)
    bw = float(heatmaps.attrs["bandwidth_hz"] if bandwidth_hz is None else bandwidth_hz)
    out = coverage_from_cinr(bs, sat, thresholds_db, rate_thresholds_bps, bw)
    return out.assign_coords(time=heatmaps["time"].values)


# ------------------------------------------------------------------ analytic model calibrated to a city
# The stochastic-geometry model of Park et al. (pipeline.solvers.stochastic_geometry) with its
# parameters measured on the same city: BS density and antenna heights from the sites, the
# satellite density from the constellation, path-loss constants/exponents and fading fitted
# to the ray-traced maps.

LOS_REFERENCE_QUANTILE = 0.8  # cells above this quantile of satellite power form the LoS plateau (project choice)


MIN_PATH_LOSS_EXPONENT = 2.0  # free space (Friis): no fitted urban exponent below it is physical


def fit_path_loss(distance_m: np.ndarray, power_db: np.ndarray, exponent: float | None = None) -> dict[str, float]:
    """Least-squares fit power_db = k_db - 10 alpha log10(d) (alpha fixed when ``exponent`` is given).

    Returns ``k_db`` (the value at 1 m), ``alpha``, the residual standard deviation and the count.
    """
    d = np.asarray(distance_m, float).ravel()
    p = np.asarray(power_db, float).ravel()
    ok = np.isfinite(d) & np.isfinite(p) & (d > 0)
    if ok.sum() < 3:
        raise ValueError("fewer than 3 usable samples for the path-loss fit; fix: check the radio maps")
    x = -10 * np.log10(d[ok])
    if exponent is None:
        alpha, k_db = np.polyfit(x, p[ok], 1)
    else:
        alpha, k_db = exponent, float(np.mean(p[ok] - exponent * x))
    resid = p[ok] - (k_db + alpha * x)
    return {"k_db": float(k_db), "alpha": float(alpha), "residual_std_db": float(resid.std()), "n": int(ok.sum())}


def fit_nakagami_m(power_ratio: np.ndarray) -> float:
    """Moment estimator m = E[X]^2 / Var[X] of a Nakagami power (Gamma) sample (Nakagami 1960)."""
    x = np.asarray(power_ratio, float)
    x = x[np.isfinite(x)]
    return float(x.mean() ** 2 / x.var())


def fit_shadowed_rician(power_ratio: np.ndarray, max_samples: int = 20_000, seed: int = 0) -> dict[str, Any]:
    """Shadowed-Rician fit to a LoS-normalised power sample: every Park et al. Table II preset scored by the
    Kolmogorov-Smirnov distance, then the maximum-likelihood (b, m, Omega) started from the best preset.
    """
    from scipy.optimize import minimize  # noqa: PLC0415

    from pipeline.solvers.stochastic_geometry import SR_PRESETS, ShadowedRician  # noqa: PLC0415

    x = np.asarray(power_ratio, float)
    x = x[np.isfinite(x) & (x > 0)]
    if x.size > max_samples:  # a seeded subsample keeps the fit fast and reproducible
        x = np.random.default_rng(seed).choice(x, max_samples, replace=False)
    xs = np.sort(x)
    ecdf = np.arange(1, xs.size + 1) / xs.size

    def ks(sr: ShadowedRician) -> float:
        return float(np.max(np.abs(sr.cdf(xs) - ecdf)))

    presets = {name: ks(sr) for name, sr in SR_PRESETS.items()}
    best = min(presets, key=presets.get)
    start = SR_PRESETS[best]

    def nll(theta: np.ndarray) -> float:
        b, m, om = np.exp(theta)
        if not (0.05 <= m <= 50 and np.isfinite([b, om]).all()):
            return 1e12
        pdf = ShadowedRician(b, m, om).pdf(xs)
        return float(-np.sum(np.log(np.maximum(pdf, 1e-300))))

    res = minimize(nll, np.log([start.b, start.m, max(start.omega, 1e-3)]), method="Nelder-Mead",
                   options={"maxiter": 300, "xatol": 1e-3, "fatol": 1e-3})
    b, m, om = (float(v) for v in np.exp(res.x))
    fitted = ShadowedRician(b, m, om)
    return {"ks_by_preset": presets, "best_preset": best, "ml": {"b": b, "m": m, "omega": om},
            "ks_ml": ks(fitted), "n": int(xs.size)}


def constellation_density_per_km2(n_satellites: int, altitude_m: float, earth_radius_m: float) -> float:
    """Satellites per km^2 of their own sphere: N / (4 pi (R_E + h)^2) (Park et al., arXiv 2307.03343, §II-A)."""
    return n_satellites / (4 * np.pi * ((earth_radius_m + altitude_m) / 1e3) ** 2)


def calibrate_city_network(heatmaps: xr.Dataset, radiomaps: xr.Dataset, *, n_sites: int, area_km2: float,
                           n_satellites: int, altitude_m: float, sat_interferer_rel_gain_db: float,
                           bs_interferer_rel_gain_db: float) -> tuple[Any, dict[str, Any]]:
    """Two-tier network of Park et al. (docs/models/coverage.md) whose parameters are measured on the city.

    * TBS tier: site density n_sites / area; heights U[min, max] of the antenna heights; serving
      power vs serving distance fitted as k_T d^-alpha_T (the k_T of the fit folds in the
      sector antenna and UE gains, so the tier's own gains are 0 dBi); Nakagami m_T = the moment
      estimate of the fit residual rounded to an integer >= 1 (Theorem 1 needs an integer m_T).
    * Satellite tier: N / (4 pi (R_E + h)^2); alpha_S = 2 (line of sight, Park et al. §II-B) with
      k_S from the LoS plateau (cells above the 80th percentile of satellite power); the
      Shadowed-Rician (b, m, Omega) fitted by maximum likelihood to power / LoS plateau.
    * Interferers: relative gains given by the caller (sector side lobes, satellite side lobes).
    * Noise and bandwidth: those of the heatmaps.
    """
    from pipeline.solvers.stochastic_geometry import EARTH_RADIUS_M, Nakagami, Network, ShadowedRician, Tier  # noqa: PLC0415

    outdoor = heatmaps["outdoor"].values.astype(bool)
    xx, yy = np.meshgrid(heatmaps.x.values, heatmaps.y.values)
    rx_h = float(heatmaps.attrs["rx_height_m"])
    best = heatmaps["best_bs"].values
    bs_x, bs_y, bs_z = (radiomaps[v].values for v in ("bs_x_m", "bs_y_m", "bs_z_m"))
    ok = outdoor & (best >= 0)
    d_bs = np.sqrt((xx[ok] - bs_x[best[ok]]) ** 2 + (yy[ok] - bs_y[best[ok]]) ** 2 + (bs_z[best[ok]] - rx_h) ** 2)
    p_bs = heatmaps["rx_power_bs_dbm"].values[ok]
    floor = np.nanmin(p_bs)
    keep = p_bs > floor + 1.0  # cells no ray reached sit at the gain floor: not a path-loss sample
    if keep.sum() < 3:
        raise StinError(f"only {int(keep.sum())} outdoor cells are reached by a base station: no path-loss fit",
                        "check the city's sites (scene stage) and the radio maps, or widen the bbox")
    bs_fit = fit_path_loss(d_bs[keep], p_bs[keep])
    bs_fit["alpha_free"] = bs_fit["alpha"]
    if bs_fit["alpha"] < MIN_PATH_LOSS_EXPONENT:
        # a small city spans too little distance for the slope (shadowing dominates, the fit can even rise
        # with distance); the exponent is then fixed at free space's and only k_T fitted
        bs_fit = {**fit_path_loss(d_bs[keep], p_bs[keep], exponent=MIN_PATH_LOSS_EXPONENT),
                  "alpha_free": bs_fit["alpha"]}
    resid_lin = 10 ** ((p_bs[keep] - (bs_fit["k_db"] - 10 * bs_fit["alpha"] * np.log10(d_bs[keep]))) / 10)
    m_t_raw = fit_nakagami_m(resid_lin / resid_lin.mean())
    m_t = max(1, int(round(m_t_raw)))
    p_bs_dbm = float(heatmaps.attrs["bs_tx_power_dbm"])
    heights = bs_z - 0.0  # ground at z = 0 in the local frame
    tbs = Tier("tbs", n_sites / area_km2, EARTH_RADIUS_M, float(heights.min()), float(heights.max()), p_bs_dbm,
               0.0, bs_interferer_rel_gain_db, bs_fit["alpha"], 0.0, Nakagami(m_t), None,
               bs_fit["k_db"] - p_bs_dbm)

    # satellites: best-satellite power per slot and cell, its slant range from the radio maps
    p_sat = heatmaps["rx_power_leo_dbm"].transpose("time", "y", "x").values
    rank = heatmaps["best_sat_rank"].transpose("time", "y", "x").values
    slant = radiomaps["sat_slant_range_m"].values  # (time, rank)
    p_sat_dbm = float(heatmaps.attrs["sat_tx_power_dbw"]) + 30.0
    k_s, ratios = [], []
    for t in range(p_sat.shape[0]):
        sel = outdoor & (rank[t] >= 0)
        p_t = p_sat[t][sel]
        d_t = slant[t, rank[t][sel]]
        ref_db = float(np.median(p_t[p_t >= np.quantile(p_t, LOS_REFERENCE_QUANTILE)]))
        ratios.append(10 ** ((p_t - ref_db) / 10))
        k_s.append(ref_db - p_sat_dbm + 20 * np.log10(np.median(d_t)))
    sr_fit = fit_shadowed_rician(np.concatenate(ratios))
    ml = sr_fit["ml"]
    sat = Tier("sat", constellation_density_per_km2(n_satellites, altitude_m, EARTH_RADIUS_M), EARTH_RADIUS_M + altitude_m,
               0.0, 0.0, p_sat_dbm, 0.0, sat_interferer_rel_gain_db, 2.0, 0.0,
               ShadowedRician(ml["b"], ml["m"], ml["omega"]), None, float(np.mean(k_s)))
    noise_w = 10 ** ((float(heatmaps.attrs["noise_dbm"]) - 30) / 10)
    net = Network((sat, tbs), noise_w, float(heatmaps.attrs["bandwidth_hz"]))
    fit = {"tbs": {**bs_fit, "nakagami_m_moment": m_t_raw, "nakagami_m_used": m_t,
                   "density_per_km2": n_sites / area_km2, "height_min_m": float(heights.min()),
                   "height_max_m": float(heights.max())},
           "sat": {"density_per_km2": sat.density_per_km2, "altitude_m": altitude_m, "k_db": float(np.mean(k_s)),
                   "alpha": 2.0, **sr_fit}}
    return net, fit


def park_cross_network_coverage(net: Any, sinr_threshold_db: Any) -> dict[str, np.ndarray]:
    """Park et al.'s Theorem 1 under the heatmaps' interference rule (docs/models/cinr.md): the best BS link is
    interfered by the satellites only, the best satellite link by the BSs only (no intra-network interference).

    Each link is a Theorem 1 evaluation of a network in which the other tier never serves (bias -300 dB) but
    interferes, and the serving tier's own interferers are switched off (active fraction 1e-12). MC takes the two
    links as independent, 1 - (1 - P_B)(1 - P_S) (the model has no common cause; the maps have one)."""
    from pipeline.solvers.stochastic_geometry import sinr_coverage  # noqa: PLC0415

    thr = np.atleast_1d(np.asarray(sinr_threshold_db, float))
    names = list(net.names)
    i_sat, i_bs = names.index("sat"), names.index("tbs")
    tiers = list(net.tiers)

    def only(k: int) -> Any:
        t = [replace(tr, bias_db=-300.0) if j != k else replace(tr, active_fraction=1e-12) for j, tr in enumerate(tiers)]
        return replace(net, tiers=tuple(t))

    p_bs = sinr_coverage(only(i_bs), thr).per_tier[i_bs]
    p_sat = sinr_coverage(only(i_sat), thr).per_tier[i_sat]
    return {"sinr_db": thr, "sc_bs": p_bs, "sc_sat": p_sat, "mc": 1 - (1 - p_bs) * (1 - p_sat)}
