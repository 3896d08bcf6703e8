"""Multi-satellite (MS) architecture of Li & Shang (arXiv 2411.04675, §II-A, §III-B, Figs. 3 and 4): a cluster of
satellites serves the UE jointly in one time-frequency resource, with (conjugate) beamforming or without, from
channel estimates obtained with uplink pilots. Reconstruction [RECON] (docs/models/coverage.md §3): the paper
gives Fig. 3's caption parameters and says Fig. 4 shows "the discrepancy between the CDF of the signal received in
the ideal channel and that in the estimated channels, with different numbers of pilots" (Fig. 3 parameters, m = 2);
the model follows the cell-free LEO downlink of its ref. [9] (Li & Shang, arXiv 2501.05655: PPP satellites, LMMSE
estimation, conjugate beamforming, Nakagami-m), whose body was not available to us.

Geometry. Satellites: PPP of density lambda_S on the sphere of radius R_E + H (single altitude), visible iff above
the UE's horizon; the typical UE at the north pole is served by the ``cluster_size`` K nearest visible satellites
(the CPU's cluster, §II-A). Large-scale gain beta_j = d_j^-alpha (pure path loss, as Li & Shang §V).
Loads [RECON]: each satellite serves 1 + N_j UEs, N_j ~ Poisson(K lambda_U / lambda_g) (every UE picks K
satellites; lambda_g = lambda_S (R_S / R_E)^2 satellites per km^2 of ground), and splits rho_d equally (eta_j =
1 / (1 + N_j)); a satellite that serves no UE is silent (probability exp(-K lambda_U / lambda_g)).
``ue_density_per_km2 = None``: every satellite transmits and eta = 1.

Channels. h_j = a_j e^{i phi_j}, a_j Nakagami-m (unit power), phi_j uniform. Serving beams reach the UE with the main
lobe G_t, every other beam with the side lobe G_sl (Li & Shang §V), receive gain G_r.

Channel estimation (pilots) [RECON]. tau_p orthogonal pilots, each UE draws one at random; satellite j observes
y_j = sqrt(p_p G beta_j0) h_j0 + sum_{k in P_j} sqrt(p_p G beta_jk) h_jk + n_j, P_j the other UEs of satellite j that
drew the UE's pilot (Binomial(N_j, 1 / tau_p)), beta_jk the large-scale gain of such a UE (the law of a UE's i-th
nearest satellite distance, i uniform in 1..K, drawn from an independent drop), n_j ~ CN(0, sigma^2 / tau_p)
(pilot energy over tau_p symbols). The LMMSE estimate is c_j y_j with c_j > 0, so conjugate beamforming co-phases
with phi_hat_j = arg(y_j). ``pilots = None``: perfect CSI.

Received powers:

    beamforming     S = rho_d G_t G_r |sum_j sqrt(eta_j beta_j) a_j e^{i (phi_j - phi_hat_j)}|^2
    no beamforming  S = rho_d G_t G_r |sum_j sqrt(eta_j beta_j) a_j e^{i psi_j}|^2,  psi_j uniform (no CSI used)
    interference    I = rho_d G_sl G_r [sum_{j in cluster} (1 - eta_j) beta_j a_j^2 + sum_{j active, not in cluster} beta_j a_j^2]
    SINR = S / (I + sigma^2)

Closed forms used by the tests: with perfect CSI, E[S_bf | beta] = rho G (sum_j eta_j beta_j + sum_{i != j}
sqrt(eta_i beta_i eta_j beta_j) E[a]^2), E[a] = Gamma(m + 1/2) / (Gamma(m) sqrt(m)), E[S_nobf | beta] = rho G
sum_j eta_j beta_j; with Rayleigh fading, one equal-power contaminating UE and no noise, E[a cos(phi - phi_hat)] =
E[a] / sqrt(2); K = 1 with every satellite active is the single-satellite SC link (Theorem 1 of Park et al.).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from pipeline.solvers.stochastic_geometry import EARTH_RADIUS_M, M2_PER_KM2, Nakagami, Network, Tier, coverage_given_tau
from pipeline.solvers._params import dataclass_from_mapping


@dataclass(frozen=True)
class MultiSatParams:
    """Li & Shang Fig. 3 caption values (lambda_S, H_S, rho_d, G_t, alpha_N, lambda_U, G_r); the rest marked."""

    sat_density_per_km2: float = 1e-5  # lambda_S (Fig. 3)
    sat_altitude_m: float = 500e3  # H_S (Fig. 3)
    power_dbm: float = 50.0  # rho_d (Fig. 3)
    gain_main_dbi: float = 30.0  # G_t (Fig. 3)
    gain_side_dbi: float = 10.0  # G_sl: Li & Shang §V side lobe [RECON for Fig. 3]
    ue_gain_dbi: float = 10.0  # G_r (Fig. 3)
    pl_exponent: float = 2.0  # alpha_N (Fig. 3)
    ue_density_per_km2: float | None = 4e-6  # lambda_U (Fig. 3); None: every satellite transmits, eta = 1
    noise_dbm: float = -110.0  # Li & Shang §V [RECON for Fig. 3]
    nakagami_m: float = 1.0
    cluster_size: int = 4  # K [PLACEHOLDER]: the cluster size is not given
    pilot_power_dbm: float = 23.0  # p_p [PLACEHOLDER]: UE uplink power per pilot symbol
    earth_radius_m: float = EARTH_RADIUS_M

    def __post_init__(self) -> None:
        for name in ("sat_density_per_km2", "sat_altitude_m", "pl_exponent", "nakagami_m"):
            v = getattr(self, name)
            if not (v > 0) or not math.isfinite(v):
                raise ValueError(f"{name} = {v} must be a finite number > 0")
        if int(self.cluster_size) != self.cluster_size or self.cluster_size < 1:
            raise ValueError(f"cluster_size = {self.cluster_size} must be an integer >= 1")
        if self.ue_density_per_km2 is not None and not (self.ue_density_per_km2 > 0):
            raise ValueError(f"ue_density_per_km2 = {self.ue_density_per_km2} must be > 0 (or None: all satellites active)")

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> MultiSatParams:
        return dataclass_from_mapping(cls, values, "multi-satellite parameter")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def sat_radius_m(self) -> float:
        return self.earth_radius_m + self.sat_altitude_m

    @property
    def others_per_satellite(self) -> float:
        """K lambda_U / lambda_g: mean number of other UEs a satellite serves."""
        if self.ue_density_per_km2 is None:
            return 0.0
        ground = self.sat_density_per_km2 * (self.sat_radius_m / self.earth_radius_m) ** 2
        return self.cluster_size * self.ue_density_per_km2 / ground

    def _w(self, dbm: float) -> float:
        return 10 ** ((dbm - 30) / 10)

    def single_satellite_tier(self) -> Tier:
        """K = 1, every satellite active, eta = 1: the SC satellite tier of Park et al.'s model (for the reduction test)."""
        m = Nakagami(self.nakagami_m)
        return Tier("sat", self.sat_density_per_km2, self.sat_radius_m, 0.0, 0.0, self.power_dbm,
                    self.gain_main_dbi + self.ue_gain_dbi, self.gain_side_dbi + self.ue_gain_dbi, self.pl_exponent,
                    0.0, m, m, 0.0, self.earth_radius_m)


@dataclass(frozen=True)
class MsDrops:
    """Per drop: received wanted power [W] with ideal CSI, with the estimates of each pilot count, and without
    beamforming; the interference plus noise [W]."""

    signal_ideal_w: np.ndarray
    signal_estimated_w: dict[int, np.ndarray]
    signal_nobf_w: np.ndarray
    interference_noise_w: np.ndarray
    n_serving: np.ndarray

    def sinr(self, scheme: str = "bf_ideal", pilots: int | None = None) -> np.ndarray:
        if scheme == "bf_ideal":
            sig = self.signal_ideal_w
        elif scheme == "no_bf":
            sig = self.signal_nobf_w
        elif scheme == "bf_estimated":
            sig = self.signal_estimated_w[int(pilots) if pilots is not None else min(self.signal_estimated_w)]
        else:
            raise ValueError(f"scheme {scheme!r} is unknown; use bf_ideal, bf_estimated or no_bf")
        return sig / self.interference_noise_w

    def coverage(self, sinr_threshold_db: Any, scheme: str = "bf_ideal", pilots: int | None = None) -> np.ndarray:
        thr = 10 ** (np.atleast_1d(np.asarray(sinr_threshold_db, float)) / 10)
        return (self.sinr(scheme, pilots)[None] > thr[:, None]).mean(1)


def estimated_phase_error(rng: np.random.Generator, amp0: np.ndarray, phase0: np.ndarray, contam: np.ndarray,
                          noise_std: np.ndarray) -> np.ndarray:
    """phi - arg(y), y = a0 e^{i phi0} + sum_k contam[..., k] + n: the pilot observation normalised by
    sqrt(p_p G beta_0) (``contam``: complex sqrt(beta_k / beta_0) h_k; ``noise_std``: per-dimension std of the noise)."""
    y = amp0 * np.exp(1j * phase0) + contam.sum(-1)
    y = y + noise_std * (rng.standard_normal(y.shape) + 1j * rng.standard_normal(y.shape))
    return phase0 - np.angle(y)


def _chunk(p: MultiSatParams, nd: int, rng: np.random.Generator, pilots: Sequence[int], max_pilot_users: int,
           ) -> tuple[np.ndarray, dict[int, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    re, rs = p.earth_radius_m, p.sat_radius_m
    u_max = (rs - re) / rs
    counts = rng.poisson(p.sat_density_per_km2 / M2_PER_KM2 * 2 * math.pi * rs**2 * u_max, nd)
    width = max(1, int(counts.max()))
    valid = np.arange(width)[None] < counts[:, None]
    d = np.where(valid, (rs - re) ** 2 + 2 * re * rs * u_max * rng.random((nd, width)), np.inf)  # squared distance
    m, k = p.nakagami_m, min(p.cluster_size, width)
    inv = 1.0 / d  # 0 where no satellite
    beta = inv if p.pl_exponent == 2 else inv ** (p.pl_exponent / 2)
    fade = rng.standard_exponential(d.shape) if m == 1 else rng.standard_gamma(m, d.shape) / m
    power = beta * fade  # beta a^2 of every visible satellite
    lam = p.others_per_satellite
    if p.ue_density_per_km2 is not None:
        power = power * (rng.random(d.shape) >= math.exp(-lam))  # silent when it serves no UE
    total = power.sum(1)
    near = np.argpartition(d, k - 1, axis=1)[:, :k] if k < width else np.tile(np.arange(width), (nd, 1))
    near = np.take_along_axis(near, np.argsort(np.take_along_axis(d, near, 1), axis=1), axis=1)
    d_s = np.take_along_axis(d, near, 1)  # squared distances, sorted
    serve = np.isfinite(d_s)
    beta_s = np.where(serve, np.take_along_axis(beta, near, 1), 0.0)
    amp = np.sqrt(rng.gamma(m, 1 / m, d_s.shape))  # the serving links' fading (redrawn: independent of the sum above)
    phase = rng.uniform(-math.pi, math.pi, d_s.shape)
    others = rng.poisson(lam, d_s.shape) if p.ue_density_per_km2 is not None else np.zeros(d_s.shape, np.int64)
    eta = np.where(serve, 1.0 / (1 + others), 0.0)
    # the serving satellites' own share of the sum is replaced by their streams to other UEs (side lobe)
    served_part = np.take_along_axis(power, near, 1).sum(1)
    rho, g_main = p._w(p.power_dbm), 10 ** (p.gain_main_dbi / 10)
    g_side, g_rx = 10 ** (p.gain_side_dbi / 10), 10 ** (p.ue_gain_dbi / 10)
    interf = rho * g_side * g_rx * ((total - served_part) + ((1 - eta) * beta_s * amp**2).sum(1))
    coeff = np.sqrt(eta * beta_s) * amp
    s_ideal = rho * g_main * g_rx * coeff.sum(1) ** 2
    psi = rng.uniform(-math.pi, math.pi, d_s.shape)
    s_nobf = rho * g_main * g_rx * np.abs((coeff * np.exp(1j * psi)).sum(1)) ** 2
    est = {}
    noise_w = p._w(p.noise_dbm)
    for tp in pilots:
        n_contam = np.minimum(rng.binomial(others, 1.0 / tp), max_pilot_users)
        pw = max(1, int(n_contam.max()))
        donor = np.roll(beta_s, 1, axis=0)  # a UE's i-th nearest satellite, i uniform, from an independent drop
        pick = rng.integers(0, k, (nd, k, pw))
        beta_c = np.take_along_axis(np.broadcast_to(donor[:, None, :], (nd, k, k)), pick, axis=2)
        present = (np.arange(pw)[None, None] < n_contam[..., None]) & (beta_s[..., None] > 0)
        ratio = np.where(present, beta_c / np.maximum(beta_s[..., None], 1e-300), 0.0)
        h_c = np.sqrt(rng.gamma(m, 1 / m, ratio.shape)) * np.exp(1j * rng.uniform(-math.pi, math.pi, ratio.shape))
        snr_pilot = tp * p._w(p.pilot_power_dbm) * g_main * g_rx * beta_s / noise_w
        noise_std = np.sqrt(0.5 / np.maximum(snr_pilot, 1e-300))
        err = estimated_phase_error(rng, amp, phase, np.sqrt(ratio) * h_c, noise_std)
        est[int(tp)] = rho * g_main * g_rx * np.abs((coeff * np.exp(1j * err)).sum(1)) ** 2
    return s_ideal, est, s_nobf, interf + noise_w, serve.sum(1)


def simulate_ms(p: MultiSatParams, n_drops: int, seed: int | np.random.Generator = 0, *, pilots: Sequence[int] = (),
                max_pilot_users: int = 12, chunk: int = 20_000) -> MsDrops:
    """Monte Carlo of the MS architecture (module docstring); vectorised over drops, seeded. ``pilots``: the pilot
    counts whose estimated-CSI beamforming is evaluated on the same drops (same geometry and channels)."""
    if n_drops < 1:
        raise ValueError(f"n_drops = {n_drops} must be >= 1")
    for tp in pilots:
        if int(tp) != tp or tp < 1:
            raise ValueError(f"pilots = {tp} must be an integer >= 1")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    parts = [_chunk(p, min(chunk, n_drops - i), rng, pilots, max_pilot_users) for i in range(0, n_drops, chunk)]
    est = {int(tp): np.concatenate([q[1][int(tp)] for q in parts]) for tp in pilots}
    return MsDrops(np.concatenate([q[0] for q in parts]), est, np.concatenate([q[2] for q in parts]),
                   np.concatenate([q[3] for q in parts]), np.concatenate([q[4] for q in parts]))


def mean_amplitude(m: float) -> float:
    """E[a] of a unit-power Nakagami-m amplitude: Gamma(m + 1/2) / (Gamma(m) sqrt(m))."""
    return math.exp(math.lgamma(m + 0.5) - math.lgamma(m)) / math.sqrt(m)


def single_satellite_coverage(p: MultiSatParams, sinr_threshold_db: Any) -> np.ndarray:
    """Theorem 1 coverage of the K = 1, all-active reduction (reference for :func:`simulate_ms`)."""
    tier = p.single_satellite_tier()
    net = Network((tier,), p._w(p.noise_dbm), 1.0)
    return coverage_given_tau(net, 10 ** (np.atleast_1d(np.asarray(sinr_threshold_db, float)) / 10)[None]).total


# ------------------------------------------------------------------ figure data
def fig3_data(base: MultiSatParams | None = None, m_values: Sequence[float] = (1, 2, 4), sinr_threshold_db: Any = None,
              n_drops: int = 100_000, seed: int = 0) -> dict[str, Any]:
    """Li & Shang Fig. 3 (MS architecture): coverage versus SINR threshold with and without beamforming per
    Nakagami m (perfect CSI), plus the single-satellite (K = 1) curve. The m values are [PLACEHOLDER]s."""
    base = base or MultiSatParams()
    thr = np.linspace(-20, 30, 51) if sinr_threshold_db is None else np.asarray(sinr_threshold_db, float)
    out: dict[str, Any] = {"sinr_db": thr, "m": list(m_values), "bf": {}, "no_bf": {}, "single": {},
                           "params": base.to_dict()}
    for i, m in enumerate(m_values):
        p = replace(base, nakagami_m=float(m))
        drops = simulate_ms(p, n_drops, seed + i)
        out["bf"][m] = drops.coverage(thr, "bf_ideal")
        out["no_bf"][m] = drops.coverage(thr, "no_bf")
        out["single"][m] = simulate_ms(replace(p, cluster_size=1), n_drops, seed + 100 + i).coverage(thr, "bf_ideal")
    return out


def fig4_data(base: MultiSatParams | None = None, pilots: Sequence[int] = (1, 2, 4, 8), m: float = 2.0,
              n_drops: int = 100_000, seed: int = 0) -> dict[str, Any]:
    """Li & Shang Fig. 4: CDF of the received wanted power with ideal CSI and with the estimates of ``pilots``
    orthogonal pilots (Fig. 3 parameters, m = 2), all on the same drops. The discrepancy is the Kolmogorov-Smirnov
    distance between each estimated CDF and the ideal one; the paper says it narrows as the number of pilots grows."""
    p = replace(base or MultiSatParams(), nakagami_m=float(m))
    drops = simulate_ms(p, n_drops, seed, pilots=pilots)
    ideal = np.sort(10 * np.log10(drops.signal_ideal_w) + 30)
    grid = np.linspace(np.quantile(ideal, 0.001), np.quantile(ideal, 0.999), 200)
    out: dict[str, Any] = {"pilots": [int(t) for t in pilots], "m": m, "power_dbm": grid,
                           "cdf": {"ideal": np.searchsorted(ideal, grid, side="right") / ideal.size},
                           "ks_distance": {}, "mean_loss_db": {}}
    for tp in pilots:
        est = np.sort(10 * np.log10(np.maximum(drops.signal_estimated_w[int(tp)], 1e-300)) + 30)
        out["cdf"][int(tp)] = np.searchsorted(est, grid, side="right") / est.size
        both = np.concatenate([ideal, est])
        gap = np.searchsorted(ideal, both, side="right") / ideal.size - np.searchsorted(est, both, side="right") / est.size
        out["ks_distance"][int(tp)] = float(np.max(np.abs(gap)))
        out["mean_loss_db"][int(tp)] = float(10 * np.log10(drops.signal_ideal_w.mean() / drops.signal_estimated_w[int(tp)].mean()))
    ks = [out["ks_distance"][int(t)] for t in pilots]
    out["discrepancy_narrows_with_pilots"] = bool(all(b < a for a, b in zip(ks, ks[1:])))
    return out
