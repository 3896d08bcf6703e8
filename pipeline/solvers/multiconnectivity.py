"""Multi-connectivity (MC) versus single connectivity (SC): the case study of Li & Shang, arXiv 2411.04675,
§V (docs/models/coverage.md). The paper gives the parameters but not the model of its ref. [7];
the model below is our reconstruction [RECON].

Geometry (Li & Shang §V). A 50 km x 50 km rural square with the typical UE at its centre.
  * TN: BSs form a PPP of density lambda_T in the square; the UE is served by its nearest BS if
    it lies within the service radius R_T, otherwise SC-BS is not covered. Every other BS of the
    square interferes. The nearest-BS distance has pdf 2 pi lambda_T r exp(-pi lambda_T r^2) on
    [0, R_T] (R_T <= half the side), and the interferers beyond r form a PPP with distance
    intensity lambda_T x theta(x), theta = 2 pi for x <= L/2 and 2 pi - 8 arccos(L / (2x)) up to
    L / sqrt(2) (arc of the circle inside the square).
  * NTN: satellites form a PPP of density lambda_N on the sphere of radius R_E + H_N (single
    altitude, the H_S = 0 case of Park et al., truncated-Rayleigh nearest distance (37)); the nearest
    visible satellite serves with the main-lobe gain G_ml, every other visible one interferes with
    the side-lobe gain G_sl.
Links. Pure d^-alpha path loss (the zenith satellite power 50 + 30 - 20 log10(5e5) = -34 dBm of
the §V parameters implies no (4 pi / lambda)^2 constant). BS and satellite have N = 4 antennas and use
MRT: with Nakagami-m per antenna (m = 1: Rayleigh) the desired gain is Gamma(N m, 1/m) (mean N),
an interferer's gain is Gamma(m, 1/m) (unit mean). TN and NTN use separate carriers: no
cross-tier interference ([RECON], the text does not say).

SINR coverage of each SC link, for integer N m (Gamma CCDF = finite Poisson sum):

    P[SINR > theta] = int sum_{n < N m} p_n(s) f(r) dr,   s = m theta r^alpha / (P G),
    p_n(s) = (-s)^n / n! d^n/ds^n [exp(-s sigma^2) L_I(s | r)]

(same recursion as Park et al.'s model, :mod:`pipeline.solvers.stochastic_geometry`); the satellite link is
evaluated by that module's engine with a single-altitude tier.

MC (SS-SBS). Time-division modes with scheduling probabilities p_S, p_T (both 1 in Fig. 6):
``combining="selection"`` (default): covered if a scheduled link meets the threshold, so with
independent tiers P_MC = 1 - (1 - p_S P_N)(1 - p_T P_T) ([RECON]); ``"sum"``: non-coherent
joint transmission, SINR_N + SINR_T > theta (Monte Carlo only).

Fig. 3 of Li & Shang (beamforming, multi-satellite architecture) and its Fig. 4 (channel estimation with pilots) are
in :mod:`pipeline.solvers.multisatellite`. ``ue_density_per_km2`` thins the interfering satellites to those with a UE:
each is active with probability 1 - (1 + lambda_U / (3.5 lambda_g))^-3.5 (PPP Voronoi cell-load approximation,
lambda_g = ground-projected satellite density) [RECON].

Claims checked (not identities): the MC gain over the best SC link, G(theta) = P_MC(theta) - max(P_N, P_T), per
threshold and where it peaks (:func:`mc_gain`); Li & Shang §V say the gain is largest when the SINR requirement is
low. :func:`fig6_sensitivity` measures which reconstruction choice decides where the peak lies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from pipeline.solvers._params import dataclass_from_mapping
from pipeline.solvers.stochastic_geometry import (
    EARTH_RADIUS_M, M2_PER_KM2, Nakagami, Network, Tier, coverage_given_tau, piecewise_nodes, poisson_mixture_probs,
    simulate)

COMBINING = ("selection", "sum")


@dataclass(frozen=True)
class CaseStudyParams:
    """Li & Shang §V case study (every value from its text unless marked)."""

    area_side_m: float = 50e3  # 50 km x 50 km rural/remote area
    bs_density_per_km2: float = 6e-3  # lambda_T (15 BSs expected in the area)
    bs_service_radius_m: float = 8e3  # R_T
    bs_power_dbm: float = 46.0  # P_T
    bs_pl_exponent: float = 3.5  # alpha_T
    bs_antennas: int = 4  # "both the BS and the satellite ... four antennas"
    bs_gain_dbi: float = 0.0  # [PLACEHOLDER] not given in Li & Shang §V
    ues_per_bs: int = 4  # four UEs per BS service area; time-division, so not in the SINR [RECON]
    sat_altitude_m: float = 500e3  # H_N
    sat_density_per_km2: float = 5e-7  # ~296.6 satellites on the 6871 km sphere, ~10.8 visible
    sat_power_dbm: float = 50.0  # P_N
    sat_gain_main_dbi: float = 30.0  # G_ml
    sat_gain_side_dbi: float = 10.0  # G_sl
    sat_pl_exponent: float = 2.0  # alpha_N ~ 2.0
    sat_antennas: int = 4
    ue_gain_dbi: float = 0.0  # [PLACEHOLDER] not given in §V (Fig. 3 caption uses G_r = 10 dBi)
    noise_dbm: float = -110.0  # noise power on the UE side
    nakagami_m: float = 1.0  # per-antenna fading; 1 = Rayleigh [RECON]
    ue_density_per_km2: float | None = None  # active-satellite thinning (Fig. 3 only); None: all transmit
    combining: str = "selection"  # MC rule [RECON] (docs/models/coverage.md)
    p_sched_sat: float = 1.0  # p_S, time-division mode probabilities [RECON] (1 in Fig. 6)
    p_sched_bs: float = 1.0  # p_T
    earth_radius_m: float = EARTH_RADIUS_M  # TR 38.811

    def __post_init__(self) -> None:
        for name in ("area_side_m", "bs_service_radius_m", "sat_altitude_m", "sat_pl_exponent", "bs_pl_exponent",
                     "nakagami_m"):
            v = getattr(self, name)
            if not (v > 0) or not math.isfinite(v):
                raise ValueError(f"{name} = {v} must be a finite number > 0")
        for name in ("bs_density_per_km2", "sat_density_per_km2"):
            v = getattr(self, name)
            if not (v >= 0) or not math.isfinite(v):
                raise ValueError(f"{name} = {v} is invalid; use a finite density >= 0 per km^2")
        for name in ("bs_antennas", "sat_antennas", "ues_per_bs"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ValueError(f"{name} = {v} must be an integer >= 1")
        if self.bs_service_radius_m > self.area_side_m / 2:
            raise ValueError(f"bs_service_radius_m = {self.bs_service_radius_m} exceeds half the area side "
                             f"({self.area_side_m / 2}); enlarge area_side_m or shrink the service radius")
        if self.combining not in COMBINING:
            raise ValueError(f"combining = {self.combining!r} is unknown; use one of {COMBINING}")
        for name in ("p_sched_sat", "p_sched_bs"):
            v = getattr(self, name)
            if not (0 <= v <= 1):
                raise ValueError(f"{name} = {v} must be a probability in [0, 1]")
        if self.ue_density_per_km2 is not None and not (self.ue_density_per_km2 > 0):
            raise ValueError(f"ue_density_per_km2 = {self.ue_density_per_km2} must be > 0 (or None: all satellites active)")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> CaseStudyParams:
        return dataclass_from_mapping(cls, values, "case-study parameter")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def noise_w(self) -> float:
        return 10 ** ((self.noise_dbm - 30) / 10)

    @property
    def sat_active_fraction(self) -> float:
        if self.ue_density_per_km2 is None:
            return 1.0
        ground = self.sat_density_per_km2 * ((self.earth_radius_m + self.sat_altitude_m) / self.earth_radius_m) ** 2
        if ground == 0:
            return 1.0
        return 1.0 - (1.0 + self.ue_density_per_km2 / (3.5 * ground)) ** -3.5

    def sat_tier(self) -> Tier:
        """The NTN as a single-altitude tier of Park et al.'s model (MRT gain in the serving link)."""
        m = self.nakagami_m
        return Tier("sat", self.sat_density_per_km2, self.earth_radius_m + self.sat_altitude_m, 0.0, 0.0,
                    self.sat_power_dbm, self.sat_gain_main_dbi + self.ue_gain_dbi + 10 * math.log10(self.sat_antennas),
                    self.sat_gain_side_dbi + self.ue_gain_dbi, self.sat_pl_exponent, 0.0, Nakagami(m),
                    Nakagami(m * self.sat_antennas), 0.0, self.earth_radius_m, self.sat_active_fraction)

    @property
    def bs_rx_serving(self) -> float:
        return 10 ** ((self.bs_power_dbm + self.bs_gain_dbi + self.ue_gain_dbi - 30) / 10) * self.bs_antennas

    @property
    def bs_rx_interf(self) -> float:
        return 10 ** ((self.bs_power_dbm + self.bs_gain_dbi + self.ue_gain_dbi - 30) / 10)


# ------------------------------------------------------------------ analytic
def _bs_intensity(p: CaseStudyParams, x: np.ndarray) -> np.ndarray:
    """Distance intensity of the BSs of the square seen from its centre."""
    lam = p.bs_density_per_km2 / M2_PER_KM2
    half = p.area_side_m / 2
    ratio = np.clip(half / np.maximum(x, 1e-300), -1.0, 1.0)
    theta = np.where(x <= half, 2 * math.pi, 2 * math.pi - 8 * np.arccos(ratio))
    return np.where(x <= half * math.sqrt(2), lam * x * np.maximum(theta, 0.0), 0.0)


def _bs_coverage(p: CaseStudyParams, tau: np.ndarray, n_out: int, n_in: int) -> np.ndarray:
    lam = p.bs_density_per_km2 / M2_PER_KM2
    if lam == 0:
        return np.zeros(tau.size)
    half = p.area_side_m / 2
    r, wr = piecewise_nodes(0.0, np.array([0.0, p.bs_service_radius_m]), n_out, log=False)
    dens = 2 * math.pi * lam * r * np.exp(-math.pi * lam * r**2) * wr
    fad_i = Nakagami(p.nakagami_m)
    rate, g = Nakagami(p.nakagami_m * p.bs_antennas).erlang_series()
    n_max = len(g) - 1
    w_tail = np.cumsum(g[::-1])[::-1]
    s = rate * tau[:, None] * r[None] ** p.bs_pl_exponent / p.bs_rx_serving
    q = np.zeros((n_max + 1,) + s.shape)
    q[0] = -s * p.noise_w
    if n_max >= 1:
        q[1] = s * p.noise_w
    x, wx = piecewise_nodes(r, np.array([r.min(), half, half * math.sqrt(2)]), n_in)
    omega = _bs_intensity(p, x) * wx
    t = s[:, :, None] * (p.bs_rx_interf * x ** -p.bs_pl_exponent)[None]
    q[0] -= np.einsum("trx,rx->tr", -np.expm1(fad_i.log_mgf(t)), omega)
    for n, d in enumerate(fad_i.lt_terms(t, n_max)):
        if n >= 1:
            q[n] += np.einsum("trx,rx->tr", d, omega)
    return np.tensordot(w_tail, poisson_mixture_probs(q), axes=(0, 0)) @ dens


def analytic_coverage(p: CaseStudyParams, sinr_threshold_db: Any, *, tol: float = 1e-5) -> dict[str, np.ndarray]:
    """SC-satellite, SC-BS and MC (selection rule) coverage versus SINR threshold (dB).

    Needs integer N m for both serving links; the ``"sum"`` rule has no closed form here
    (use :func:`simulate_case`)."""
    thr = np.atleast_1d(np.asarray(sinr_threshold_db, float))
    tau = 10 ** (thr / 10)
    if p.sat_density_per_km2 > 0:
        net = Network((p.sat_tier(),), p.noise_w, 1.0)
        sat = coverage_given_tau(net, tau[None, :], tol=tol).total
    else:
        sat = np.zeros(thr.size)
    n_out, n_in = 24, 16
    prev = _bs_coverage(p, tau, n_out, n_in)
    for _ in range(4):
        n_out, n_in = (3 * n_out + 1) // 2, (3 * n_in + 1) // 2
        bs = _bs_coverage(p, tau, n_out, n_in)
        if not np.isfinite(bs).all():
            raise FloatingPointError("non-finite SC-BS coverage from the quadrature; check the parameters")
        if np.max(np.abs(bs - prev)) <= tol:
            break
        prev = bs
    else:
        raise RuntimeError(f"SC-BS quadrature did not reach tol={tol}")
    bs = np.clip(bs, 0.0, 1.0)
    out = {"sinr_db": thr, "sat": sat, "bs": bs}
    if p.combining == "selection":
        out["mc"] = 1 - (1 - p.p_sched_sat * sat) * (1 - p.p_sched_bs * bs)
    return out


# ------------------------------------------------------------------ Monte Carlo
@dataclass(frozen=True)
class CaseDrops:
    """Per-drop SINR of both links (0 when unserved) and the scheduled flags."""

    sinr_sat: np.ndarray
    sinr_bs: np.ndarray
    sched_sat: np.ndarray
    sched_bs: np.ndarray
    combining: str

    def coverage(self, sinr_threshold_db: Any) -> dict[str, np.ndarray]:
        """SC (link alone, always scheduled) and MC coverage per threshold."""
        thr = 10 ** (np.atleast_1d(np.asarray(sinr_threshold_db, float)) / 10)[:, None]
        cs = self.sinr_sat[None] > thr
        cb = self.sinr_bs[None] > thr
        if self.combining == "selection":
            mc = (cs & self.sched_sat[None]) | (cb & self.sched_bs[None])
        else:
            mc = (self.sinr_sat * self.sched_sat + self.sinr_bs * self.sched_bs)[None] > thr
        return {"sinr_db": 10 * np.log10(thr[:, 0]), "sat": cs.mean(1), "bs": cb.mean(1), "mc": mc.mean(1)}


def simulate_case(p: CaseStudyParams, n_drops: int, seed: int | np.random.Generator = 0) -> CaseDrops:
    """Monte Carlo of the case study (vectorised, seeded: same seed => same output)."""
    if n_drops < 1:
        raise ValueError(f"n_drops = {n_drops} must be >= 1")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if p.sat_density_per_km2 > 0:
        sinr_sat = simulate(Network((p.sat_tier(),), p.noise_w, 1.0), n_drops, rng).sinr
    else:
        sinr_sat = np.zeros(n_drops)
    sinr_bs = _simulate_bs(p, n_drops, rng)
    sched_sat = rng.random(n_drops) < p.p_sched_sat
    sched_bs = rng.random(n_drops) < p.p_sched_bs
    return CaseDrops(sinr_sat, sinr_bs, sched_sat, sched_bs, p.combining)


def _simulate_bs(p: CaseStudyParams, n_drops: int, rng: np.random.Generator, chunk: int = 200_000) -> np.ndarray:
    out = np.zeros(n_drops)
    lam = p.bs_density_per_km2 / M2_PER_KM2
    half = p.area_side_m / 2
    for start in range(0, n_drops, chunk):
        nd = min(chunk, n_drops - start)
        counts = rng.poisson(lam * p.area_side_m**2, nd)
        drop = np.repeat(np.arange(nd), counts)
        xy = rng.uniform(-half, half, (2, drop.size))
        d = np.hypot(xy[0], xy[1])
        power = p.bs_rx_interf * d ** -p.bs_pl_exponent * rng.gamma(p.nakagami_m, 1 / p.nakagami_m, d.size)
        nearest = np.full(nd, np.inf)
        np.minimum.at(nearest, drop, d)
        own = d == nearest[drop]
        interf = np.bincount(drop, weights=np.where(own, 0.0, power), minlength=nd)
        m_s = p.nakagami_m * p.bs_antennas
        gain = rng.gamma(m_s, 1 / m_s, nd)
        served = nearest <= p.bs_service_radius_m
        desired = np.where(served, p.bs_rx_serving * np.where(served, nearest, 1.0) ** -p.bs_pl_exponent * gain, 0.0)
        out[start:start + nd] = desired / (interf + p.noise_w)
    return out


def nakagami_coverage_closed_form(mean_snr: Any, sinr_threshold_db: Any, m: int) -> np.ndarray:
    """P[SNR > theta] of one Nakagami-m link with mean SNR (linear): the Gamma CCDF Q(m, m theta / SNR)."""
    from scipy import special

    thr = 10 ** (np.asarray(sinr_threshold_db, float) / 10)
    return special.gammaincc(m, m * thr / np.asarray(mean_snr, float))


# ------------------------------------------------------------------ figure data
def fig6_data(p: CaseStudyParams | None = None, sinr_threshold_db: Any = None, n_drops: int = 200_000,
              seed: int = 0) -> dict[str, Any]:
    """Li & Shang Fig. 6: coverage versus SINR threshold for MC (SS-SBS), SC-satellite and SC-BS,
    Monte Carlo (the paper's method) plus the analytic curves where they exist."""
    p = p or CaseStudyParams()
    thr = np.linspace(-20, 30, 51) if sinr_threshold_db is None else np.asarray(sinr_threshold_db, float)
    mc = simulate_case(p, n_drops, seed).coverage(thr)
    an = analytic_coverage(p, thr) if float(p.nakagami_m * p.bs_antennas).is_integer() and \
        float(p.nakagami_m * p.sat_antennas).is_integer() else None
    out = {"sinr_db": thr, "monte_carlo": mc, "analytic": an, "params": p.to_dict(), "gain_monte_carlo": mc_gain(mc, thr)}
    if an is not None and "mc" in an:
        out["gain_analytic"] = mc_gain(an, thr)
    return out


def mc_gain(curves: Mapping[str, Any], sinr_threshold_db: Any, low_max_db: float = 0.0) -> dict[str, Any]:
    """G(theta) = P_MC - max(P_N, P_T) per threshold, its peak (threshold, value), and whether the peak lies at a
    "low" requirement (theta <= ``low_max_db``): Li & Shang §V, "particularly when the SINR requirement is low"."""
    thr = np.asarray(sinr_threshold_db, float)
    gain = np.asarray(curves["mc"], float) - np.maximum(np.asarray(curves["sat"], float), np.asarray(curves["bs"], float))
    i = int(np.argmax(gain))
    return {"sinr_db": thr, "gain": gain, "peak_threshold_db": float(thr[i]), "peak_gain": float(gain[i]),
            "peak_at_low_threshold": bool(thr[i] <= low_max_db and gain[i] > 0)}


# Which reconstruction choice decides where the MC gain peaks (Li & Shang §V parameters unless changed):
FIG6_VARIANTS: dict[str, dict[str, Any]] = {
    "paper_sec5": {},
    "no_noise": {"noise_dbm": -200.0},  # the §V noise power plays no role if this changes nothing
    "sat_single_antenna": {"sat_antennas": 1},  # no 6 dB MRT gain on the satellite link
    "sat_nakagami_m_0p5": {"nakagami_m": 0.5},  # severe fading (MRT order N m = 2)
    "side_lobe_20dbi": {"sat_gain_side_dbi": 20.0},
    "side_lobe_equals_main_lobe": {"sat_gain_side_dbi": 30.0},  # interferers seen through their main lobes
    "free_space_constant_2ghz": {"sat_power_dbm": 50.0 + 20 * math.log10(299_792_458.0 / (4 * math.pi * 2e9)),
                                 "bs_power_dbm": 46.0 + 20 * math.log10(299_792_458.0 / (4 * math.pi * 2e9))},
}


def fig6_sensitivity(base: CaseStudyParams | None = None, sinr_threshold_db: Any = None,
                     variants: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Analytic Fig. 6 curves for each variant of :data:`FIG6_VARIANTS`: the satellite SC coverage at -10/0/10 dB,
    the MC gain curve and its peak. Measures what makes the single-satellite link covered at low thresholds."""
    base = base or CaseStudyParams()
    thr = np.linspace(-20, 30, 51) if sinr_threshold_db is None else np.asarray(sinr_threshold_db, float)
    out: dict[str, Any] = {"sinr_db": thr, "variants": {}}
    for name, change in (variants or FIG6_VARIANTS).items():
        p = replace(base, **change)
        an = analytic_coverage(p, thr)
        g = mc_gain(an, thr)
        out["variants"][name] = {"change": dict(change), "sat": an["sat"], "bs": an["bs"], "mc": an["mc"],
                                 "gain": g["gain"], "peak_threshold_db": g["peak_threshold_db"],
                                 "peak_gain": g["peak_gain"], "peak_at_low_threshold": g["peak_at_low_threshold"]}
    return out


def satellite_sinr_percentiles(p: CaseStudyParams | None = None, n_drops: int = 200_000, seed: int = 0,
                               q: Sequence[float] = (0.1, 1, 5, 50)) -> dict[str, float]:
    """Percentiles (dB) of the single-satellite SINR of the case study (Monte Carlo): how far above 0 dB its
    lower tail sits."""
    p = p or CaseStudyParams()
    sinr = simulate(Network((p.sat_tier(),), p.noise_w, 1.0), n_drops, seed).sinr
    vals = np.percentile(10 * np.log10(np.maximum(sinr, 1e-30)), list(q))
    return {f"p{v:g}": round(float(x), 2) for v, x in zip(q, vals)}
