"""Wang & Wang's channel model and problem (Section 2, Section 5 constants): the satellite beams, the ES,
the BS array, :class:`BeamformingProblem` and the synthetic setting :func:`paper_problem`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.errors import StinError

C_M_S = 299_792_458.0  # speed of light (exact)
LN2 = math.log(2.0)

FREQ_HZ = 20e9  # Table 1 "carrier frequency 20 GHz"; the Section 5 text says 30 GHz (Ka uplink)
BANDWIDTH_HZ = 100e6  # Section 5 text; sigma^2 = -94 dBm = -174 dBm/Hz + 80 dB matches 100 MHz
ALTITUDE_M = 1000e3  # Section 5 "satellite altitude h = 1000 km"
N_BEAMS = 7  # Section 5 / Table 1 "Ns = 7 beams"
BEAM_3DB_DEG = 3.2  # Table 1 "3 dB angle for NGEO satellite"; taken as the full 3 dB beamwidth
SAT_GAIN_MAX_DBI = 52.0  # Section 5 "maximum beam gain Gmax = 52 dBi" (a GEO-size value for a 3.2 deg beam)
ES_GAIN_DBI = 37.7  # Section 5 "Earth Station antenna gain G_ES = 37.7 dBi"
UE_GAIN_DBI = 0.0  # Section 2.2 item 4: user equipments are omnidirectional, G_r = 1
RAIN_MU_DB = 3.125  # Section 5 / Table 1 rain fading mu (printed in dB)
RAIN_SIGMA_DB = 1.591  # Section 5 / Table 1 rain fading sigma
NOISE_DBM = -94.0  # Section 5 sigma^2 (N0 = -174 dBm/Hz, B = 100 MHz); same for ES and users
P_SAT_DBW = 30.0  # Section 5 "Ps = 30 dBW"
P_BS_DBW = 0.0  # Section 5 "PT = 0 dBW"
SINR_MIN_DB = 2.85  # Section 5 "gamma_min = 2.85 dB" -> r0 = log2(1 + gamma_min)
N_USERS = 8  # Section 5 "M = 8 single-antenna users"
BS_ROWS, BS_COLS = 3, 3  # Section 5 "Nb = 9 antennas in a 3 x 3 UPA", Table 1 spacing lambda/2
AREA_M = 1000.0  # Section 5 "users uniformly distributed in a 1000 x 1000 m^2 area"
BS_XY_M = (500.0, 500.0)  # Section 5 "the base station is located at the center"
ES_XY_M = (0.0, 0.0)  # Section 5 "the Earth Station is placed at the origin"
CSI_ERROR = 0.08  # Section 5 "eps_s = eps_m = delta_s = delta_m = 0.08"; read as relative ||err|| / ||h||
MAX_ITERATIONS = 30  # Section 5 "maximum number of iterations K = 30"
TOLERANCE = 1e-5  # Section 5 "convergence tolerance nu = 1e-5" (bit/s/Hz)
# Not in the paper (placeholders, documented as such):
S1528_LS_DB = -6.75  # ITU-R S.1528 recommends 1.3 near-in side lobe L_S (as coded in SHARC)
S1528_LF_DBI = 5.0  # S.1528 rec. 1.3 far-out level as coded in SHARC; 0 vs 5 dBi unverified (docs/models/beamforming.md)
GAS_ZENITH_DB = 0.25  # P.676 zenith gas loss at 20 GHz, ns-3 table; A_gas of Section 2.2
ES_SIDELOBE_DBI = -10.0  # ES dish gain towards the BS (horizon): ITU-R S.465 far side-lobe level, from memory
PHASE_MAX_RAD = math.pi / 8  # "mild phase perturbations" eta_i (12): distribution not given; U(-pi/8, pi/8)
BS_ELEMENT_GAIN_DBI = 8.0  # BS element gain: not in the paper; TR 38.901 Table 7.3-1 element maximum
# (= pipeline.radio.antennas.TR38901_G_MAX_DBI); with 0 dBi elements the paper's QoS is infeasible in most drops
PL_EXPONENT = 2.0  # (14) path-loss exponent n: not given; LOS-like placeholder
SHADOW_SIGMA_DB = 4.0  # (14) shadowing sigma: not given; placeholder
N_PATHS = 3  # (15) number of Saleh-Valenzuela paths L: not given; placeholder (path 1 = geometric LOS)
MIN_UE_DISTANCE_M = 10.0  # keeps (14) away from d -> 0; placeholder
TARGET_OFFSETS_ABS = (-1.5, -0.5, 0.5, 1.5)  # targets along the x cut, in beam spacings: the paper's
# Fig. 3 angles (-54, -18, 18, 54 deg, a terrestrial-ULA template) are invisible from a LEO; same 1:3 ratio kept
SENSING_EIRP_DBW = 55.0  # Gamma: no value in the paper (Fig. 4 sweeps it); placeholder EIRP per target
SUB_SATELLITE_OFFSET_M = 0.0  # d0 of (9): not given; the scene sits at the sub-satellite point


CSI_READINGS = ("relative", "absolute")  # how the CSI error radii of (44)-(47) are read (with_csi_error)


class BeamformingInfeasible(StinError):
    """No design meets the constraints; ``families`` names the constraint families whose removal
    (one at a time) makes the lifted problem feasible."""

    def __init__(self, problem: str, fix: str, families: Sequence[str] = ()) -> None:
        super().__init__(problem, fix)
        self.families = list(families)


# ------------------------------------------------------------------ channel model (Section 2.2-2.3)
def s1528_gain_dbi(off_axis_deg: Any, *, g_max_dbi: float = SAT_GAIN_MAX_DBI, half_beamwidth_deg: float = BEAM_3DB_DEG / 2,
                   ls_db: float = S1528_LS_DB, lf_dbi: float = S1528_LF_DBI) -> np.ndarray:
    """ITU-R S.1528 recommends 1.3 (LEO) envelope, docs/models/beamforming.md (the paper's (13) names S.1528)."""
    psi = np.abs(np.asarray(off_axis_deg, float))
    y = 1.5 * half_beamwidth_deg
    z = y * 10 ** (0.04 * (g_max_dbi + ls_db - lf_dbi))
    main = g_max_dbi - 3.0 * (psi / half_beamwidth_deg) ** 2
    side = g_max_dbi + ls_db - 25.0 * np.log10(np.maximum(psi, 1e-12) / y)
    return np.where(psi <= y, main, np.where(psi <= z, side, lf_dbi))


def upa_steering(azimuth_rad: Any, rows: int, cols: int) -> np.ndarray:
    """Horizontal rows x cols UPA, lambda/2 spacing (Table 1), isotropic elements, elevation 0:
    a[p*cols + q] = exp(j pi (p cos az + q sin az)); (16) is its one-row case without 1/sqrt(Nb)
    (unnormalised so that a^H R a is an EIRP in W). Returns (..., rows*cols)."""
    az = np.asarray(azimuth_rad, float)[..., None]
    p, q = np.divmod(np.arange(rows * cols), cols)
    return np.exp(1j * np.pi * (p * np.cos(az) + q * np.sin(az)))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def cluster_frame(sat_xyz: np.ndarray, aim_xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(b0, e1, e2): unit direction satellite -> aim point, the in-plane direction of the x (east)
    cut perpendicular to it, and b0 x e1."""
    b0 = _unit(aim_xyz - sat_xyz)
    ex = np.array([1.0, 0.0, 0.0])
    e1 = _unit(ex - (ex @ b0) * b0)
    return b0, e1, np.cross(b0, e1)


def hex_beam_boresights(sat_xyz: np.ndarray, aim_xyz: np.ndarray, spacing_rad: float,
                        n_beams: int = N_BEAMS) -> np.ndarray:
    """Unit boresights (n_beams, 3) of a hexagonal cluster: beam 0 at ``aim_xyz``, beams 1..6
    ``spacing_rad`` off it, every 60 deg starting on the x cut."""
    if not 1 <= n_beams <= 7:
        raise StinError(f"n_beams = {n_beams} is outside the 7-beam cluster", "use 1..7 beams")
    b0, e1, e2 = cluster_frame(sat_xyz, aim_xyz)
    out = [b0] + [math.cos(spacing_rad) * b0 + math.sin(spacing_rad) * (math.cos(f) * e1 + math.sin(f) * e2)
                  for f in np.arange(6) * math.pi / 3]
    return np.vstack(out)[:n_beams]


@dataclass(frozen=True)
class PaperSetting:
    """Section 5 parameters; every default names its source at the module constants."""

    n_users: int = N_USERS
    bs_rows: int = BS_ROWS
    bs_cols: int = BS_COLS
    p_sat_dbw: float = P_SAT_DBW
    p_bs_dbw: float = P_BS_DBW
    sinr_min_db: float = SINR_MIN_DB
    sensing_eirp_dbw: float = SENSING_EIRP_DBW
    target_offsets_abs: tuple[float, ...] = TARGET_OFFSETS_ABS
    csi_error: float = CSI_ERROR
    freq_hz: float = FREQ_HZ
    noise_dbm: float = NOISE_DBM
    altitude_m: float = ALTITUDE_M
    sub_satellite_offset_m: float = SUB_SATELLITE_OFFSET_M
    beam_3db_deg: float = BEAM_3DB_DEG
    sat_gain_max_dbi: float = SAT_GAIN_MAX_DBI
    es_gain_dbi: float = ES_GAIN_DBI
    ue_gain_dbi: float = UE_GAIN_DBI
    es_sidelobe_dbi: float = ES_SIDELOBE_DBI
    bs_element_gain_dbi: float = BS_ELEMENT_GAIN_DBI
    rain_mu_db: float = RAIN_MU_DB
    rain_sigma_db: float = RAIN_SIGMA_DB
    gas_zenith_db: float = GAS_ZENITH_DB
    phase_max_rad: float = PHASE_MAX_RAD
    pl_exponent: float = PL_EXPONENT
    shadow_sigma_db: float = SHADOW_SIGMA_DB
    n_paths: int = N_PATHS
    area_m: float = AREA_M
    min_ue_distance_m: float = MIN_UE_DISTANCE_M

    @property
    def beam_spacing_deg(self) -> float:
        """Adjacent-beam spacing (sqrt(3)/2) theta_3dB of a hexagonal 7-beam cluster (TR 38.821 layouts as in QuaDRiGa)."""
        return math.sqrt(3) / 2 * self.beam_3db_deg


@dataclass(frozen=True)
class BeamformingProblem:
    """Channels (rows, see module docstring) and constraints of problem (17).

    h_ue (M, Nb) BS->user, g_ue (M, Ns) satellite->user, g_es (Ns,) satellite->ES, h_es (Nb,) BS->ES,
    a_sat (T, Ns) / a_bs (T, Nb) amplitude responses towards the sensing targets (row @ R @ row^H is
    the EIRP in W), gamma_w (T,) the EIRP thresholds Gamma_t of (17d). Powers in W, rates in bit/s/Hz.
    err_* are the CSI error radii of (44)-(47) relative to the channel norm (used by PA2 only).
    """

    h_ue: np.ndarray
    g_ue: np.ndarray
    g_es: np.ndarray
    h_es: np.ndarray
    a_sat: np.ndarray
    a_bs: np.ndarray
    gamma_w: np.ndarray
    p_sat_w: float
    p_bs_w: float
    noise_ue_w: np.ndarray
    noise_es_w: float
    rate_min: float
    err_g_es: float = 0.0
    err_g_ue: float = 0.0
    err_h_es: float = 0.0
    err_h_ue: float = 0.0
    err_reading: str = "relative"  # CSI_READINGS: how err_* bound ||e|| (see with_csi_error)
    meta: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_users(self) -> int:
        return self.h_ue.shape[0]

    @property
    def n_bs(self) -> int:
        return self.h_ue.shape[1]

    @property
    def n_sat(self) -> int:
        return self.g_es.shape[0]

    @property
    def n_targets(self) -> int:
        return self.a_sat.shape[0]

    def replace(self, **changes: Any) -> BeamformingProblem:
        return dataclasses.replace(self, **changes)

    def with_csi_error(self, eps: float, reading: str | None = None) -> BeamformingProblem:
        """The same problem with all four CSI error radii of (44)-(47) set to ``eps``, read as
        ``reading`` (default: the problem's own, initially "relative"):

        - "relative": ||e|| <= eps ||h|| for every estimated channel h;
        - "absolute": ||e|| <= eps on the noise-normalised channel the solver works with,
          h sqrt(P_tx) / sigma_rx (P_tx the transmitter's power budget, sigma_rx^2 the receiver's noise),
          i.e. an error of amplitude eps relative to the noise at full transmit power.
        Wang & Wang state eps = 0.08 without a normalisation; both readings are reported."""
        reading = self.err_reading if reading is None else reading
        if reading not in CSI_READINGS:
            raise ValueError(f"reading must be one of {CSI_READINGS}")
        return self.replace(err_g_es=eps, err_g_ue=eps, err_h_es=eps, err_h_ue=eps, err_reading=reading)

    def with_powers(self, *, p_sat_dbw: float | None = None, p_bs_dbw: float | None = None) -> BeamformingProblem:
        ch = {}
        if p_sat_dbw is not None:
            ch["p_sat_w"] = 10 ** (p_sat_dbw / 10)
        if p_bs_dbw is not None:
            ch["p_bs_w"] = 10 ** (p_bs_dbw / 10)
        return self.replace(**ch)


def problem_from_channels(h_bs_ue: np.ndarray, g_sat_ue: np.ndarray, g_sat_es: np.ndarray, h_bs_es: np.ndarray, *,
                          p_sat_w: float, p_bs_w: float, noise_w: float | np.ndarray, rate_min: float = 0.0,
                          noise_es_w: float | None = None, a_sat_targets: np.ndarray | None = None,
                          a_bs_targets: np.ndarray | None = None, sensing_eirp_w: Any = 0.0,
                          csi_error: float = 0.0, meta: dict | None = None) -> BeamformingProblem:
    """Problem from plain arrays (e.g. ray-traced channels).

    h_bs_ue (K, Nb) complex: amplitude gain from BS antenna n to UE k (received amplitude
    y_k = h_bs_ue[k] @ x, x in sqrt(W)); g_sat_ue (K, Ns) or (K,) for a single-beam satellite;
    g_sat_es (Ns,) or scalar; h_bs_es (Nb,). All linear complex baseband amplitudes (for power
    gains G pass sqrt(G)). noise_w: user noise power(s) [W]; noise_es_w defaults to noise_w.
    a_*_targets: (T, Ns) / (T, Nb) amplitude responses towards sensing targets; none = no (17d).
    rate_min r0 [bit/s/Hz]; csi_error: relative radius of all four error balls (PA2).
    """
    h = np.atleast_2d(np.asarray(h_bs_ue, complex))
    k, nb = h.shape
    g_ue = np.asarray(g_sat_ue, complex).reshape(k, -1)
    ns = g_ue.shape[1]
    g_es = np.asarray(g_sat_es, complex).reshape(ns)
    h_es = np.asarray(h_bs_es, complex).reshape(nb)
    a_sat = np.zeros((0, ns), complex) if a_sat_targets is None else np.asarray(a_sat_targets, complex).reshape(-1, ns)
    t = a_sat.shape[0]
    a_bs = np.zeros((t, nb), complex) if a_bs_targets is None else np.asarray(a_bs_targets, complex).reshape(t, nb)
    noise_ue = np.broadcast_to(np.asarray(noise_w, float), (k,)).copy()
    return BeamformingProblem(h_ue=h, g_ue=g_ue, g_es=g_es, h_es=h_es, a_sat=a_sat, a_bs=a_bs,
                              gamma_w=np.broadcast_to(np.asarray(sensing_eirp_w, float), (t,)).copy(),
                              p_sat_w=float(p_sat_w), p_bs_w=float(p_bs_w), noise_ue_w=noise_ue,
                              noise_es_w=float(noise_ue[0] if noise_es_w is None else noise_es_w),
                              rate_min=float(rate_min), err_g_es=csi_error, err_g_ue=csi_error, err_h_es=csi_error,
                              err_h_ue=csi_error, meta=dict(meta or {}))


def paper_problem(seed: int = 0, setting: PaperSetting = PaperSetting()) -> BeamformingProblem:
    """Draw the Section 5 scenario: channels (8)-(16), flat-earth geometry (d = sqrt(dh^2 + d0^2)).

    Satellite at height h above the sub-satellite point, which lies d0 from the ES along -x. Beam
    0 points at the ES, beams 1-6 at (sqrt 3/2) theta_3dB off it in a hexagon; feed n's power gain
    towards a ground point is S.1528 at its off-axis angle (13). Receivers get (8):
    g = sqrt(G_r A_gas beta) (lambda / 4 pi d) e^{-j eta} * sqrt(b), beta = 10^(-L/10) with rain loss
    L ~ N(mu, sigma^2) dB clipped at 0 (the paper's (11) prints beta_dB = 20 log10 beta ~ N(mu,
    sigma^2) with beta <= 1 and mu > 0: read as attenuation), eta_i ~ U(-eta_max, eta_max).
    Terrestrial (14)-(15): close-in model PL = FSPL(1 m) + 10 n log10 d + X_sigma, L paths with
    alpha_l ~ CN(0, 1/L) on a horizontal UPA; path 1 leaves towards the user's true azimuth.
    Same seed -> same channels.
    """
    s = setting
    rng = np.random.default_rng(seed)
    lam = C_M_S / s.freq_hz
    m, _nb = s.n_users, s.bs_rows * s.bs_cols
    sat = np.array([-s.sub_satellite_offset_m, 0.0, s.altitude_m])
    es = np.array([*ES_XY_M, 0.0])
    bs = np.array([*BS_XY_M, 0.0])
    b0, e1, _ = cluster_frame(sat, es)  # e1: in-plane direction of the x cut
    bore = hex_beam_boresights(sat, es, math.radians(s.beam_spacing_deg))

    def feed_amp(dirs: np.ndarray) -> np.ndarray:  # (..., 3) unit directions -> (..., Ns) sqrt(b_n)
        ang = np.degrees(np.arccos(np.clip(dirs @ bore.T, -1, 1)))
        g = s1528_gain_dbi(ang, g_max_dbi=s.sat_gain_max_dbi, half_beamwidth_deg=s.beam_3db_deg / 2)
        return 10 ** (g / 20)

    def sat_dir(theta_deg: Any) -> np.ndarray:  # directions in the (b0, e1) plane, theta from the ES direction
        th = np.radians(np.asarray(theta_deg, float))[..., None]
        return np.cos(th) * b0 + np.sin(th) * e1

    def sat_row(pos: np.ndarray, gain_dbi: float) -> np.ndarray:
        d_vec = pos - sat
        d = float(np.linalg.norm(d_vec))
        elev = math.asin(-d_vec[2] / d)
        rain_db = max(rng.normal(s.rain_mu_db, s.rain_sigma_db), 0.0)
        gas_db = s.gas_zenith_db / math.sin(elev)
        eta = rng.uniform(-s.phase_max_rad, s.phase_max_rad, N_BEAMS)
        amp = math.sqrt(10 ** ((gain_dbi - rain_db - gas_db) / 10)) * lam / (4 * math.pi * d)
        return amp * np.exp(-1j * eta) * feed_amp(d_vec / d)

    def bs_row(pos: np.ndarray, gain_dbi: float) -> np.ndarray:
        d_vec = pos - bs
        d = max(float(np.linalg.norm(d_vec[:2])), s.min_ue_distance_m)
        pl_db = 20 * math.log10(4 * math.pi / lam) + 10 * s.pl_exponent * math.log10(d) + rng.normal(0, s.shadow_sigma_db)
        az = np.concatenate([[math.atan2(d_vec[1], d_vec[0])], rng.uniform(-math.pi, math.pi, s.n_paths - 1)])
        alpha = (rng.normal(size=s.n_paths) + 1j * rng.normal(size=s.n_paths)) / math.sqrt(2 * s.n_paths)
        a = upa_steering(az, s.bs_rows, s.bs_cols)
        return math.sqrt(10 ** ((gain_dbi + s.bs_element_gain_dbi - pl_db) / 10)) * (alpha @ a.conj())

    ue = np.zeros((m, 3))
    for k in range(m):
        while True:
            xy = rng.uniform(0, s.area_m, 2)
            if np.hypot(*(xy - bs[:2])) >= s.min_ue_distance_m:
                break
        ue[k, :2] = xy
    g_es = sat_row(es, s.es_gain_dbi)
    g_ue = np.array([sat_row(p, s.ue_gain_dbi) for p in ue])
    h_es = bs_row(es, s.es_sidelobe_dbi)
    h_ue = np.array([bs_row(p, s.ue_gain_dbi) for p in ue])
    # sensing targets: ground points along the x cut through the ES direction
    t_deg = np.asarray(s.target_offsets_abs, float) * s.beam_spacing_deg
    t_dir = sat_dir(t_deg)
    t_gnd = sat + t_dir * (-sat[2] / t_dir[:, 2])[:, None]
    t_az = np.arctan2(t_gnd[:, 1] - bs[1], t_gnd[:, 0] - bs[0])
    a_sat = feed_amp(t_dir).astype(complex)
    bs_amp = 10 ** (s.bs_element_gain_dbi / 20)
    a_bs = bs_amp * upa_steering(t_az, s.bs_rows, s.bs_cols).conj()
    noise_w = 10 ** ((s.noise_dbm - 30) / 10)
    meta = {"setting": s, "seed": seed, "freq_hz": s.freq_hz, "sat_xyz": sat, "ue_xyz": ue, "bs_xyz": bs, "es_xyz": es, "target_deg": t_deg,
                "target_xyz": t_gnd, "ue_azimuth_deg": np.degrees(np.arctan2(ue[:, 1] - bs[1], ue[:, 0] - bs[0])),
                "sat_steering": lambda th: feed_amp(sat_dir(th)).astype(complex),
                "bs_steering": lambda az_deg: bs_amp * upa_steering(np.radians(az_deg), s.bs_rows, s.bs_cols).conj()}
    return BeamformingProblem(h_ue=h_ue, g_ue=g_ue, g_es=g_es, h_es=h_es, a_sat=a_sat, a_bs=a_bs,
                              gamma_w=np.full(len(t_deg), 10 ** (s.sensing_eirp_dbw / 10)),
                              p_sat_w=10 ** (s.p_sat_dbw / 10), p_bs_w=10 ** (s.p_bs_dbw / 10),
                              noise_ue_w=np.full(m, noise_w), noise_es_w=noise_w,
                              rate_min=math.log2(1 + 10 ** (s.sinr_min_db / 10)),
                              err_g_es=s.csi_error, err_g_ue=s.csi_error, err_h_es=s.csi_error, err_h_ue=s.csi_error,
                              meta=meta)
