"""The network model: one tier (PPP on a sphere), a network of tiers, and the flat two-tier ``StinParams``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from pipeline.solvers.stochastic_geometry.constants import EARTH_RADIUS_M, M2_PER_KM2
from pipeline.solvers.stochastic_geometry.fading import SR_PRESETS, Fading, Nakagami, ShadowedRician, _positive
from pipeline.solvers.stochastic_geometry.quadrature import _gauss_legendre01, _y_minus_log1p
from pipeline.solvers._params import dataclass_from_mapping


# ================================================================== one tier
@dataclass(frozen=True)
class Tier:
    """One layer of the STIN: PPP on the sphere of radius ``base_radius_m`` with U[a, b] heights."""

    name: str
    density_per_km2: float  # lambda, per km^2 of the base sphere
    base_radius_m: float  # R0 (R_E + h_S for satellites, R_E for TBSs)
    height_min_m: float  # a
    height_max_m: float  # b
    power_dbm: float  # P
    gain_serving_dbi: float  # G_0 = main lobe (Tx x Rx) (22)
    gain_interf_dbi: float  # G_I = side lobe towards other users (22)
    pl_exponent: float  # alpha
    bias_db: float = 0.0  # B (association only)
    fading: Fading = field(default_factory=Nakagami)  # fading of this tier's interfering links
    serving_fading: Fading | None = None  # fading of the serving link (default: same as ``fading``)
    path_loss_ref_db: float = 0.0  # K in dB: 0 = pure x^-alpha (Park et al. §II-B)
    earth_radius_m: float = EARTH_RADIUS_M
    active_fraction: float = 1.0  # independent thinning of interferers (1 = all transmit)

    def __post_init__(self) -> None:
        n = self.name
        if not (self.density_per_km2 >= 0) or not math.isfinite(self.density_per_km2):
            raise ValueError(f"tier {n!r}: density_per_km2 = {self.density_per_km2} is invalid; use a finite density "
                             ">= 0 per km^2 (0 removes the tier)")
        if not (self.base_radius_m >= self.earth_radius_m):
            raise ValueError(f"tier {n!r}: base_radius_m = {self.base_radius_m} is below the Earth radius "
                             f"{self.earth_radius_m}; use R_E + standard altitude (R_E for ground BSs)")
        if not (0 <= self.height_min_m <= self.height_max_m) or not math.isfinite(self.height_max_m):
            raise ValueError(f"tier {n!r}: heights [{self.height_min_m}, {self.height_max_m}] m are invalid; "
                             "use 0 <= height_min_m <= height_max_m")
        if self.base_radius_m + self.height_min_m - self.earth_radius_m <= 0:
            raise ValueError(f"tier {n!r}: points at radius R_E are never visible (Park et al., arXiv 2307.03343, Remark 1); "
                             "give ground BSs height_min_m > 0 (e.g. 10 m)")
        _positive(self.pl_exponent, f"tier {n!r}: pl_exponent", "use e.g. 2 (LoS satellite) or 3.5 (urban TBS)")
        if not (0 < self.active_fraction <= 1):
            raise ValueError(f"tier {n!r}: active_fraction = {self.active_fraction} must be in (0, 1]")
        for f in ("power_dbm", "gain_serving_dbi", "gain_interf_dbi", "bias_db", "path_loss_ref_db"):
            if not math.isfinite(getattr(self, f)):
                raise ValueError(f"tier {n!r}: {f} = {getattr(self, f)} must be finite (dB values)")

    # ---------------------------------------------------------------- linear quantities
    @property
    def lam_m2(self) -> float:
        return self.density_per_km2 / M2_PER_KM2

    @property
    def serving(self) -> Fading:
        return self.serving_fading if self.serving_fading is not None else self.fading

    @property
    def power_w(self) -> float:
        return 10 ** ((self.power_dbm - 30) / 10)

    @property
    def k_lin(self) -> float:
        return 10 ** (self.path_loss_ref_db / 10)

    @property
    def rx_serving(self) -> float:
        """P G_0 K (W): received power at 1 m before fading."""
        return self.power_w * 10 ** (self.gain_serving_dbi / 10) * self.k_lin

    @property
    def rx_interf(self) -> float:
        return self.power_w * 10 ** (self.gain_interf_dbi / 10) * self.k_lin

    @property
    def log_ref(self) -> float:
        """log(P B K): the association metric at 1 m (natural log)."""
        return math.log(self.power_w) + math.log(10) * (self.bias_db + self.path_loss_ref_db) / 10

    # ---------------------------------------------------------------- geometry
    def _rmax(self, h: Any) -> np.ndarray:
        rho = self.base_radius_m + np.asarray(h, float)
        return np.sqrt((rho - self.earth_radius_m) * (rho + self.earth_radius_m))

    @property
    def x_lo(self) -> float:
        """Smallest possible distance R0 + a - R_E (36)."""
        return self.base_radius_m + self.height_min_m - self.earth_radius_m

    @property
    def x_hi(self) -> float:
        """Largest visible distance sqrt((R0 + b)^2 - R_E^2) (36)."""
        return float(self._rmax(self.height_max_m))

    @property
    def breakpoints(self) -> np.ndarray:
        """x_lo, the kinks of Lambda' (r_max(a), R0 + b - R_E) and x_hi, sorted."""
        pts = {self.x_lo, self.x_hi, float(self._rmax(self.height_min_m)),
               self.base_radius_m + self.height_max_m - self.earth_radius_m}
        return np.array(sorted(p for p in pts if self.x_lo <= p <= self.x_hi))

    def _h_crit(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """hc(x): below it the point is visible with distance < x for sure (cap saturated);
        hd(x): above it the point is farther than x. hc = sqrt(x^2 + R_E^2) - R0 (stable form)."""
        re, r0 = self.earth_radius_m, self.base_radius_m
        hc = x**2 / (np.sqrt(x**2 + re**2) + re) + (re - r0)
        return hc, x + re - r0

    def mean_visible(self) -> float:
        """N_bar: mean number of visible points (Lemma 1 / Corollary 1, docs/models/coverage.md)."""
        if self.density_per_km2 == 0:
            return 0.0
        re, r0, a, b = self.earth_radius_m, self.base_radius_m, self.height_min_m, self.height_max_m
        if b - a <= 1e-9 * r0:
            return self.lam_m2 * 2 * math.pi * r0**2 * (r0 + a - re) / (r0 + a)
        d = b - a
        # (b - a) - R_E ln((R0 + b)/(R0 + a)) written as a sum of non-negative terms
        core = d * (r0 + a - re) / (r0 + a) + re * float(_y_minus_log1p(d / (r0 + a)))
        return self.lam_m2 * 2 * math.pi * r0**2 * core / d

    def visibility_probability(self) -> float:
        """P_vis = 1 - exp(-N_bar) (30)/(31)."""
        return float(-np.expm1(-self.mean_visible()))

    def void(self, x: Any, n_h: int = 16) -> np.ndarray:
        """Lambda(x) (33): mean number of visible points within distance x (saturates at N_bar)."""
        x = np.asarray(x, float)
        if self.density_per_km2 == 0:
            return np.zeros_like(x)
        re, r0, a, b = self.earth_radius_m, self.base_radius_m, self.height_min_m, self.height_max_m
        hc, hd = self._h_crit(x)
        if b - a <= 1e-9 * r0:
            e = r0 + a - re
            part = math.pi * r0**2 * (np.clip(x, e, float(self._rmax(a))) ** 2 - e**2) / (re * (r0 + a))
            return self.lam_m2 * part
        # saturated caps for h in [a, min(b, hc)]
        h_full = np.clip(hc, a, b)
        dfull = h_full - a
        full = 2 * math.pi * r0**2 * (dfull * (r0 + a - re) / (r0 + a) + re * _y_minus_log1p(dfull / (r0 + a)))
        # partial caps (14) for h in [max(a, hc), min(b, hd)]
        lo = h_full
        hi = np.clip(hd, lo, b)
        u, wu = _gauss_legendre01(n_h)
        h = lo[..., None] + (hi - lo)[..., None] * u
        rho = r0 + h
        area = math.pi * r0**2 * (x[..., None] ** 2 - (rho - re) ** 2) / (re * rho)
        part = (np.maximum(area, 0.0) * wu).sum(-1) * (hi - lo)
        return self.lam_m2 * (full + part) / (b - a)

    def intensity(self, x: Any) -> np.ndarray:
        """Lambda'(x): density of visible points per metre of distance (kernel of (32), (48))."""
        x = np.asarray(x, float)
        if self.density_per_km2 == 0:
            return np.zeros_like(x)
        re, r0, a, b = self.earth_radius_m, self.base_radius_m, self.height_min_m, self.height_max_m
        if b - a <= 1e-9 * r0:
            inside = (x >= self.x_lo) & (x <= self.x_hi)
            return np.where(inside, self.lam_m2 * 2 * math.pi * r0**2 * x / (re * (r0 + a)), 0.0)
        hc, hd = self._h_crit(x)
        h1 = np.maximum(a, hc)
        h2 = np.minimum(b, hd)
        val = self.lam_m2 * 2 * math.pi * r0**2 * x / (re * (b - a)) * np.log1p(np.maximum(h2 - h1, 0.0) / (r0 + h1))
        return np.where(h2 > h1, val, 0.0)

    def nearest_ccdf(self, r: Any) -> np.ndarray:
        """P[R > r | at least one visible] (67)."""
        nb = self.mean_visible()
        if nb == 0:
            raise ValueError(f"tier {self.name!r} has density 0: no nearest point to describe")
        lam = self.void(r)
        return np.clip(np.exp(-lam) * -np.expm1(-(nb - lam)) / -np.expm1(-nb), 0.0, 1.0)

    def nearest_pdf(self, r: Any) -> np.ndarray:
        """f_R(r) conditioned on visibility (32)/(38)."""
        nb = self.mean_visible()
        if nb == 0:
            raise ValueError(f"tier {self.name!r} has density 0: no nearest point to describe")
        return self.intensity(r) * np.exp(-self.void(r)) / -np.expm1(-nb)


def _psi_log(src: Tier, dst: Tier, log_r: np.ndarray) -> np.ndarray:
    """log psi: distance within which a dst point beats a src point at exp(log_r) (43)."""
    return (dst.log_ref - src.log_ref) / dst.pl_exponent + (src.pl_exponent / dst.pl_exponent) * log_r


# ================================================================== network
@dataclass(frozen=True)
class Network:
    """Tiers sharing one band: noise power sigma^2 = N0 W (W) and bandwidth W (Hz)."""

    tiers: tuple[Tier, ...]
    noise_w: float
    bandwidth_hz: float

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("a network needs at least one tier")
        if len({t.earth_radius_m for t in self.tiers}) != 1:
            raise ValueError("all tiers must use the same earth_radius_m")
        if not (self.noise_w >= 0) or not math.isfinite(self.noise_w):
            raise ValueError(f"noise_w = {self.noise_w} must be a finite power >= 0 (W)")
        _positive(self.bandwidth_hz, "bandwidth_hz", "give the shared bandwidth in Hz (e.g. 20e6)")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)


@dataclass(frozen=True)
class StinParams:
    """Two-tier STIN of Park et al. (one satellite shell + terrestrial BSs); flat, for params.yaml.

    Park et al.'s Table I is not recoverable [MISSING] (docs/models/coverage.md): every default below is a
    documented placeholder with its source. Densities per km^2 of the tier's own base sphere.
    """

    # ---- satellites
    sat_density_per_km2: float = 5e-7  # [PLACEHOLDER] Li & Shang (arXiv 2411.04675) §V NTN density; Table I missing
    sat_altitude_m: float = 500e3  # h_S [PLACEHOLDER] a "500-600 km band"
    sat_height_min_m: float = 0.0  # a_S: altitudes U[500, 600] km [PLACEHOLDER]
    sat_height_max_m: float = 100e3  # b_S
    sat_power_dbm: float = 47.0  # TR 38.821 Table 6.1.1.1-1 Set-1 LEO-600 S-band: 34 dBW/MHz + 10log10(20) - 30 dBi
    sat_gain_serving_dbi: float = 30.0  # G_S0: TR 38.821 LEO-600 max gain x 0 dBi handheld UE (Table 6.1.1.1-3)
    sat_gain_interf_dbi: float = 10.0  # G_SI: Li & Shang §V side lobe G_sl; convention (22) unverified
    sat_pl_exponent: float = 2.0  # alpha_S: LoS, Park et al. §II-B
    sat_bias_db: float = 0.0  # B_S
    sr_b: float = 0.126  # Shadowed-Rician AS preset, Park et al. Table II (= Abdi et al. 2003 Table III [SRC])
    sr_m: float = 10.1
    sr_omega: float = 0.835
    # ---- terrestrial BSs
    tbs_density_per_km2: float = 6e-3  # [PLACEHOLDER] Li & Shang §V rural BS density
    tbs_height_min_m: float = 10.0  # H_T ~ U[10, 50] m [PLACEHOLDER]
    tbs_height_max_m: float = 50.0
    tbs_power_dbm: float = 46.0  # P_T [PLACEHOLDER] = Li & Shang §V P_T
    tbs_gain_serving_dbi: float = 10.0  # G_T0 [PLACEHOLDER] validation cases of docs/models/coverage.md
    tbs_gain_interf_dbi: float = 10.0  # G_TI [PLACEHOLDER] validation cases of docs/models/coverage.md
    tbs_pl_exponent: float = 3.5  # alpha_T: Li & Shang §V; Park et al. only say "urban => larger" [PLACEHOLDER]
    tbs_bias_db: float = 0.0  # B_T
    nakagami_m_tbs: float = 1.0  # m_T [MISSING] in Park et al. §V; 1 = Rayleigh (the Fig. 3 case)
    # ---- common
    bandwidth_hz: float = 20e6  # W [PLACEHOLDER] (the "Gbps" of Fig. 4 hints at a wider band)
    noise_psd_dbm_per_hz: float = -174.0  # thermal N0 at 290 K
    noise_figure_db: float = 7.0  # handheld UE, TR 38.821 Table 6.1.1.1-3
    carrier_hz: float = 2.0e9  # S-band, TR 38.821 Set-1; used only by path_loss_ref
    path_loss_ref: str = "none"  # "none": pure d^-alpha (Park et al. §II-B); "free_space_1m": K = (c/(4 pi f))^2
    earth_radius_m: float = EARTH_RADIUS_M  # TR 38.811

    def __post_init__(self) -> None:
        if self.path_loss_ref not in ("none", "free_space_1m"):
            raise ValueError(f"path_loss_ref = {self.path_loss_ref!r} is unknown; use 'none' (Park et al.'s pure d^-alpha) or 'free_space_1m'")
        _positive(self.carrier_hz, "carrier_hz", "give the carrier in Hz (e.g. 2e9)")
        _positive(self.sat_altitude_m, "sat_altitude_m", "give the standard altitude h_S in m (e.g. 500e3)")
        self.network()  # validates every tier and fading parameter with its own message

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> StinParams:
        """Build from a params.yaml group; unknown keys raise ValueError naming them."""
        return dataclass_from_mapping(cls, values, "coverage parameter")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_shadowing(self, preset: str) -> StinParams:
        """Same parameters with a Table II Shadowed-Rician preset (FHS, AS, ILS, RAYLEIGH)."""
        key = preset.upper()
        if key not in SR_PRESETS:
            raise ValueError(f"unknown shadowing preset {preset!r}; use one of {sorted(SR_PRESETS)}")
        sr = SR_PRESETS[key]
        return replace(self, sr_b=sr.b, sr_m=sr.m, sr_omega=sr.omega)

    @property
    def noise_w(self) -> float:
        return 10 ** ((self.noise_psd_dbm_per_hz + self.noise_figure_db - 30) / 10) * self.bandwidth_hz

    @property
    def path_loss_ref_db(self) -> float:
        if self.path_loss_ref == "none":
            return 0.0
        return 20 * math.log10(299_792_458.0 / (4 * math.pi * self.carrier_hz))

    def network(self) -> Network:
        k = self.path_loss_ref_db
        sr = ShadowedRician(self.sr_b, self.sr_m, self.sr_omega)
        sat = Tier("sat", self.sat_density_per_km2, self.earth_radius_m + self.sat_altitude_m, self.sat_height_min_m,
                   self.sat_height_max_m, self.sat_power_dbm, self.sat_gain_serving_dbi, self.sat_gain_interf_dbi,
                   self.sat_pl_exponent, self.sat_bias_db, sr, None, k, self.earth_radius_m)
        tbs = Tier("tbs", self.tbs_density_per_km2, self.earth_radius_m, self.tbs_height_min_m, self.tbs_height_max_m,
                   self.tbs_power_dbm, self.tbs_gain_serving_dbi, self.tbs_gain_interf_dbi, self.tbs_pl_exponent,
                   self.tbs_bias_db, Nakagami(self.nakagami_m_tbs), None, k, self.earth_radius_m)
        return Network((sat, tbs), self.noise_w, self.bandwidth_hz)


NetLike = Network | StinParams


def _as_network(net: NetLike) -> Network:
    if isinstance(net, StinParams):
        return net.network()
    if isinstance(net, Network):
        return net
    raise TypeError(f"expected Network or StinParams, got {type(net).__name__}")
