"""Joint satellite/BS beamforming for a self-backhauled satellite-terrestrial ISAC system (Wang & Wang).

T. Wang, Q. Wang, "Joint Beamforming for Integrated Satellite-Terrestrial ISAC Systems",
Sensors 26(7):2273, 2026, doi:10.3390/s26072273. A multi-beam LEO satellite (Ns feeds) sends the
backhaul symbol to an Earth station (ES) with beamformer v and a sensing waveform with covariance
V0; the ES hands the data to a BS (Nb antennas) that serves M single-antenna users with {w_m}.
All links share one band. With the lifting W_m = w_m w_m^H, V = v v^H (Section 3.2):

    R_m = log2(1 + |h_m^H w_m|^2 / (sum_{n!=m} |h_m^H w_n|^2 + g_m^H (V + V0) g_m + s_m^2))   (6)-(7)
    R_s = log2(1 + |g_s^H v|^2 / (sum_m |h_s^H w_m|^2 + g_s^H V0 g_s + s_s^2))               (4)
    max sum_m R_m  s.t.  R_m >= r0 (17b),  sum_m R_m <= R_s (17c),
        a_bs(t)^H (sum_m W_m) a_bs(t) + a_sat(t)^H V0 a_sat(t) >= Gamma_t (17d),
        ||v||^2 + Tr V0 <= Ps (17e),  sum_m ||w_m||^2 <= PT (17f),  V0 >= 0.

(17d) prints one steering vector a(theta) for sum_m W_m + V0 although W_m is Nb x Nb and V0 is
Ns x Ns; here each array uses its own steering vector and the beampattern is the EIRP [W]
radiated towards target t (eq. (1)). Channel convention: every channel is stored as a *row*
(transfer) vector, received amplitude = row @ x, so the paper's h^H is our row and
h^H W h = row W row^H. Units: complex baseband amplitude gain (linear, antennas, path loss and
fading included); |row @ x|^2 is a received power in W when |x|^2 is a transmit power in W.

Algorithm 1 (PA1, :func:`solve_pa1`) is the convex-concave procedure (36)-(40): the concave
log2(I_m + s^2) of each rate and log2(D_s) / log2(S_m + I_m + s^2) in the backhaul constraint
are replaced by their tangents (35), which keeps every iterate feasible for the lifted problem
and the lifted sum rate non-decreasing. Algorithm 2 (PA2, :func:`solve_pa2`) is the robust
version for norm-bounded CSI errors (44)-(47): the worst-case signal / interference powers are
slack variables tied to the channels by the paper's Cauchy-Schwarz bounds (60)-(65) (default,
second-order cones) or by exact S-procedure LMIs (66)-(68) (small instances), and the same
tangents (69)-(70) give a sequence of convex programmes. Ranks are restored by
:func:`extract_rank_one`. Every reported design is scored by the independent, vector-domain
:func:`evaluate`. Benchmarks of Section 5: DAS, TDMA and IBS (see :func:`solve_das`,
:func:`solve_tdma`, :func:`solve_ibs` for the definitions used; the paper gives one line each).
ISAC analyses: whether (17d) binds and its shadow price (:func:`sensing_report`), the sum rate vs
Gamma trade-off up to infeasibility (:func:`max_feasible_sensing_dbw`, :func:`sensing_tradeoff`),
Fig. 4's detection probability with a reconstructed Neyman-Pearson detector (:class:`RadarSetting`,
:func:`detection_probability`) and PA2's largest feasible CSI radius under both readings of eps
(:func:`max_feasible_csi_error`).

Numerics (Clarabel): complex PSD matrices are real 2n x 2n PSD variables (:class:`_Cov`), every
kept log is normalised by its value at the iterate, and V0 lives in congruence coordinates that
give the ES direction unit weight (the ES sees ~65 dB SNR, so its null must be resolved to 1e-6).

Paper values that are inconsistent or unrecoverable (see the constants): 20 GHz (Table 1) vs
30 GHz (text); Table 1's 250 km beam diameter and 0.4 deg angle are GEO values and are unused
(the NGEO 3.2 deg beamwidth sets the beam spacing); the quoted satellite EIRP of 36.7 dBW
contradicts Ps = 30 dBW with Gmax = 52 dBi and is unused; Gamma, the terrestrial path-loss
parameters, L, the phase-perturbation law and the normalisation of the CSI radii are not given.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.errors import StinError

C_M_S = 299_792_458.0  # speed of light (exact)
LN2 = math.log(2.0)

# ------------------------------------------------------------------ paper constants (Section 5, Table 1)
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


# ------------------------------------------------------------------ designs and the independent evaluator
@dataclass
class Beamformers:
    """A rank-one design: w (M, Nb) BS beams, v (Ns,) satellite backhaul beam, r_sens (Ns, Ns)
    sensing covariance V0, u (M, Ns) satellite direct-access beams (DAS only), tdma_sat_share
    (TDMA only: share of time given to the satellite slot)."""

    w: np.ndarray
    v: np.ndarray
    r_sens: np.ndarray
    u: np.ndarray | None = None
    tdma_sat_share: float | None = None


@dataclass(frozen=True)
class Tolerances:
    rate: float = 1e-4  # bit/s/Hz
    rel: float = 1e-5  # powers, EIRP, PSD


@dataclass(frozen=True)
class Evaluation:
    """Vector-domain score of a design (never uses the lifted matrices)."""

    sinr: np.ndarray
    rates: np.ndarray  # (M,) rates the users get (TDMA: time-shared; robust: encoded rates)
    sum_rate: float
    backhaul_rate: float  # R_s (robust: worst case)
    delivered_sum_rate: float  # min(sum_rate, backhaul) where a backhaul is needed
    beampattern_w: np.ndarray  # (T,) EIRP towards each target
    sat_power_w: float
    bs_power_w: float
    checks: dict
    violations: list
    worst_case_rates: np.ndarray | None = None

    @property
    def feasible(self) -> bool:
        return not self.violations


def _q(rows: np.ndarray, r: np.ndarray) -> np.ndarray:
    """row R row^H for each row (rows (..., n), R (n, n))."""
    return np.real(np.einsum("...i,ij,...j->...", rows, r, rows.conj()))


def _max_quad_ball(c: np.ndarray, a: np.ndarray, delta: float) -> float:
    """max_{||e|| <= delta} (c + e)^H A (c + e), A Hermitian PSD (trust-region subproblem, exact)."""
    lam, u = np.linalg.eigh((a + a.conj().T) / 2)
    lam = np.maximum(lam, 0.0)
    z = u.conj().T @ c
    lmax = lam[-1]
    if delta <= 0 or lmax <= 0:
        return float(np.real(np.sum(lam * np.abs(z) ** 2)))
    top = lam >= lmax * (1 - 1e-12)

    def norm_f(mu: float) -> float:
        return float(np.sqrt(np.sum((lam * np.abs(z) / (mu - lam)) ** 2)))
    lo = lmax * (1 + 1e-12) + 1e-300
    if np.all(np.abs(z[top]) < 1e-14 * max(np.linalg.norm(z), 1e-300)) and norm_f(lo) <= delta:  # hard case
        zz = np.where(top, 0, z)
        f = np.where(top, 0, lam * zz / np.where(top, 1, lmax - lam))
        rest = max(delta**2 - float(np.sum(np.abs(f) ** 2)), 0.0)
        return float(np.sum(lam * np.abs(zz + f) ** 2) + lmax * rest)
    hi = lmax + lmax * (np.linalg.norm(z) / delta + 1) + 1.0
    while norm_f(hi) > delta:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if norm_f(mid) > delta:
            lo = mid
        else:
            hi = mid
    mu = hi
    return float(np.sum(lam * np.abs(z) ** 2 * (mu / (mu - lam)) ** 2))


def evaluate(p: BeamformingProblem, b: Beamformers, *, robust: bool = False, encoded_rates: np.ndarray | None = None,
             tol: Tolerances = Tolerances()) -> Evaluation:
    """Recompute (4)-(7) and check (17b)-(17f) from the vectors.

    DAS (b.u given): users are served by the satellite, no backhaul. TDMA (b.tdma_sat_share = tau):
    the satellite slot (v, V0) and the BS slot (w) do not overlap, so there is no cross-tier
    interference and rates are scaled by the slot shares. robust=True: worst case over the error
    balls of (44)-(47), signal minimum and interference maximum taken separately (exact per term:
    closed form for rank-one signals, trust-region subproblem for interference); the users'
    encoded rates (default: the worst-case Shannon rates) must then be decodable, meet r0, and
    their sum must fit in the worst-case backhaul.
    """
    m = p.n_users
    w = np.asarray(b.w, complex).reshape(m, p.n_bs)
    v = np.asarray(b.v, complex).reshape(p.n_sat)
    r0 = np.asarray(b.r_sens, complex).reshape(p.n_sat, p.n_sat)
    u = np.zeros((m, p.n_sat), complex) if b.u is None else np.asarray(b.u, complex).reshape(m, p.n_sat)
    tau = b.tdma_sat_share
    uses_bs = bool(np.any(np.abs(w) > 0))
    cross = tau is None
    bs_rx = np.abs(p.h_ue @ w.T) ** 2  # [m, n] = |h_m^H w_n|^2
    sat_rx = np.abs(p.g_ue @ u.T) ** 2
    sat_bg = (np.abs(p.g_ue @ v) ** 2 + _q(p.g_ue, r0)) if cross else np.zeros(m)
    sig = np.diag(bs_rx) + np.diag(sat_rx)
    mui = bs_rx.sum(1) + sat_rx.sum(1) - sig
    sinr = sig / (mui + sat_bg + p.noise_ue_w)
    es_sig = abs(p.g_es @ v) ** 2
    es_int = float(_q(p.g_es, r0)) + (float(np.sum(np.abs(w @ p.h_es) ** 2)) if cross else 0.0)
    rates = np.log2(1 + sinr)
    r_s = math.log2(1 + es_sig / (es_int + p.noise_es_w))
    if tau is not None:
        rates, r_s = (1 - tau) * rates, tau * r_s
    wc = None
    if robust:
        wc, r_s = _worst_case(p, w, v, r0, tau)
        rates = wc if encoded_rates is None else np.asarray(encoded_rates, float)
    pattern = _q(p.a_sat, r0) + (np.abs(p.a_bs @ w.T) ** 2).sum(1) + (np.abs(p.a_sat @ u.T) ** 2).sum(1)
    p_sat = float(np.sum(np.abs(v) ** 2) + np.real(np.trace(r0)) + np.sum(np.abs(u) ** 2))
    p_bs = float(np.sum(np.abs(w) ** 2))
    viol: list[str] = []
    checks: dict[str, bool] = {}
    bad = np.flatnonzero(rates < p.rate_min - tol.rate)
    checks["qos (17b)"] = bad.size == 0
    if bad.size:
        viol.append(f"QoS (17b): user(s) {bad.tolist()} below r0 = {p.rate_min:.3f} bit/s/Hz "
                    f"(min {rates.min():.3f})")
    if robust and wc is not None:
        nd = np.flatnonzero(rates > wc + tol.rate)
        checks["decodable (robust)"] = nd.size == 0
        if nd.size:
            viol.append(f"robust decodability: encoded rate above the worst-case rate for user(s) {nd.tolist()}")
    need_backhaul = uses_bs
    checks["backhaul (17c)"] = (not need_backhaul) or rates.sum() <= r_s + tol.rate
    if not checks["backhaul (17c)"]:
        viol.append(f"backhaul (17c): sum rate {rates.sum():.4f} > backhaul rate {r_s:.4f} bit/s/Hz")
    sb = np.flatnonzero(pattern < p.gamma_w * (1 - tol.rel))
    checks["sensing (17d)"] = sb.size == 0
    if sb.size:
        viol.append(f"sensing (17d): EIRP below Gamma at target(s) {sb.tolist()} "
                    f"({10 * np.log10(max(pattern[sb].min(), 1e-30)):.2f} dBW)")
    checks["satellite power (17e)"] = p_sat <= p.p_sat_w * (1 + tol.rel)
    if not checks["satellite power (17e)"]:
        viol.append(f"satellite power (17e): {p_sat:.6g} W > Ps = {p.p_sat_w:.6g} W")
    checks["BS power (17f)"] = p_bs <= p.p_bs_w * (1 + tol.rel)
    if not checks["BS power (17f)"]:
        viol.append(f"BS power (17f): {p_bs:.6g} W > PT = {p.p_bs_w:.6g} W")
    ev_min = float(np.linalg.eigvalsh((r0 + r0.conj().T) / 2).min()) if p.n_sat else 0.0
    checks["V0 PSD (17a)"] = ev_min >= -tol.rel * p.p_sat_w
    if not checks["V0 PSD (17a)"]:
        viol.append(f"V0 PSD (17a): min eigenvalue {ev_min:.3g}")
    s = float(rates.sum())
    return Evaluation(sinr=sinr, rates=rates, sum_rate=s, backhaul_rate=r_s,
                      delivered_sum_rate=min(s, r_s) if need_backhaul else s, beampattern_w=pattern,
                      sat_power_w=p_sat, bs_power_w=p_bs, checks=checks, violations=viol, worst_case_rates=wc)


def _worst_case(p: BeamformingProblem, w: np.ndarray, v: np.ndarray, r0: np.ndarray, tau: float | None
                ) -> tuple[np.ndarray, float]:
    """Worst-case user rates and backhaul rate over the error balls (separate worst cases per term)."""
    m = p.n_users
    out = np.zeros(m)
    cov_w = w.T @ w.conj()  # sum_n w_n w_n^H (column convention)

    def radius(eps: float, row: np.ndarray, p_tx: float, noise: float) -> float:  # physical units
        return eps * float(np.linalg.norm(row)) if p.err_reading == "relative" else eps * math.sqrt(noise / p_tx)

    for k in range(m):
        c = p.h_ue[k].conj()
        dh = radius(p.err_h_ue, c, p.p_bs_w, p.noise_ue_w[k])
        s_min = max(abs(c.conj() @ w[k]) - dh * np.linalg.norm(w[k]), 0.0) ** 2
        mui = _max_quad_ball(c, cov_w - np.outer(w[k], w[k].conj()), dh)
        cg = p.g_ue[k].conj()
        sat = 0.0 if tau is not None else _max_quad_ball(cg, np.outer(v, v.conj()) + r0,
                                                         radius(p.err_g_ue, cg, p.p_sat_w, p.noise_ue_w[k]))
        out[k] = math.log2(1 + s_min / (mui + sat + p.noise_ue_w[k]))
    cs = p.g_es.conj()
    ds = radius(p.err_g_es, cs, p.p_sat_w, p.noise_es_w)
    s_es = max(abs(cs.conj() @ v) - ds * np.linalg.norm(v), 0.0) ** 2
    i_es = _max_quad_ball(cs, r0, ds)
    if tau is None:
        ch = p.h_es.conj()
        i_es += _max_quad_ball(ch, cov_w, radius(p.err_h_es, ch, p.p_bs_w, p.noise_es_w))
    r_s = math.log2(1 + s_es / (i_es + p.noise_es_w))
    if tau is not None:
        out, r_s = (1 - tau) * out, tau * r_s
    return out, r_s


# ------------------------------------------------------------------ lifted DC programme and the CCP
@dataclass(frozen=True)
class SolverOptions:
    max_iterations: int = MAX_ITERATIONS
    tolerance: float = TOLERANCE
    randomizations: int = 200  # Gaussian randomisation draws when a lifted matrix is not rank one
    rank_tol: float = 1e-4  # lambda_2 / lambda_1 below this counts as rank one (IPM accuracy ~1e-7..1e-6)
    solver: str = "CLARABEL"  # SDP + exponential cones; falls back to SCS
    seed: int = 0  # randomisation RNG

    @staticmethod
    def quick() -> SolverOptions:
        return SolverOptions(max_iterations=8, tolerance=1e-2, randomizations=40)


@dataclass
class Trace:
    """Lifted objective per CCP iterate (index 0 = the feasible starting point), timings in s."""

    objective: list = field(default_factory=list)
    iteration_s: list = field(default_factory=list)
    phase1_s: float = 0.0
    extract_s: float = 0.0
    total_s: float = 0.0
    stopped: str = "converged"
    solver: str = ""
    rejected: int = 0  # CCP steps refused because the solver returned a lower objective (round-off)

    @property
    def iterations(self) -> int:
        return len(self.iteration_s)


@dataclass
class Design:
    """A scheme's answer: rank-one beams, the evaluator's report and the algorithm's own numbers."""

    scheme: str
    beams: Beamformers
    report: Evaluation
    objective: float  # the algorithm's final lifted objective (bit/s/Hz)
    trace: Trace
    extraction: str = "eigenvector"
    encoded_rates: np.ndarray | None = None
    notes: list = field(default_factory=list)
    sensing_dual: np.ndarray | None = None  # (T,) shadow price of (17d) [bit/s/Hz per dB of Gamma_t] (PA1/PA2)
    lifted: list | None = field(default=None, repr=False)  # PA1/PA2: the reported iterate's variable values
    warm_started: bool = False  # PA1/PA2: the CCP started from another design's lifted point

    @property
    def sum_rate(self) -> float:
        return self.report.delivered_sum_rate


_OK = ("optimal", "optimal_inaccurate")
_HINTS = {"qos (17b)": "lower r0 (sinr_min_db) or serve fewer users", "backhaul (17c)": "raise Ps or lower r0",
          "sensing (17d)": "lower the sensing EIRP Gamma (sensing_eirp_dbw)", "satellite power (17e)": "raise Ps",
          "BS power (17f)": "raise PT"}


def _solve(prob: Any, solver: str, *, fallback: bool = True, kkt: str = "qdldl") -> str:
    """Solve with Clarabel (QDLDL, then faer, then faer with 10x the static regularisation, which
    gets the robust subproblems past Clarabel's "insufficient progress" stalls as an
    ``optimal_inaccurate`` point; every design is re-scored by :func:`evaluate` anyway) and, if
    all fail and ``fallback``, SCS. ``kkt="faer"`` tries faer first: on the S-procedure LMIs, whose
    dense cone blocks dominate the KKT factorisation, it is ~4x faster than QDLDL (scripts/bench_beamforming.py)."""
    import cvxpy as cp

    tries: list[tuple[str, dict]] = []
    if solver == "CLARABEL":
        tries = [("CLARABEL", {"direct_solve_method": "qdldl"}), ("CLARABEL", {}),
                 ("CLARABEL", {"static_regularization_constant": 1e-7})]
        if kkt == "faer":
            tries = tries[1:2] + tries[:1] + tries[2:]
        if fallback:
            tries.append(("SCS", {"eps": 1e-6, "max_iters": 5000}))
    else:
        tries = [(solver, {})]
    for name, kw in tries:
        try:
            prob.solve(solver=name, warm_start=False, **kw)  # cvxpy would reuse the last Clarabel solver via
            # update(), which made the same data solve differently depending on what was solved before
        except cp.error.SolverError:
            continue
        if prob.status in ("optimal", "infeasible", "unbounded") or (
                prob.status in ("optimal_inaccurate", "infeasible_inaccurate") and name == tries[-1][0]):
            return prob.status
    return prob.status if prob.status in ("optimal_inaccurate", "infeasible_inaccurate") else "solver_error"


STRICT_VIOLATION = 1e-4  # elastic phase-1 violation (normalised units: power shares, SINR / gamma, EIRP / Gamma)
# below which a bisection counts a point feasible; the violation rises steeply past the boundary


class _DcModel:
    """Lifted DC programme: maximise scale * sum_m [log2(S_m + I_m + 1) - log2(I_m + 1)] with S, I
    affine (noise-normalised) and a backhaul that is either variable (joint: log2(1 + Ss/(Ds + 1)),
    constraint (40)) or a constant cap (TDMA slot) or absent.

    At iterate k every concave ln(z) that is kept is written ln(z_k) + ln(z / z_k) and every one
    that is linearised becomes the tangent (35) ln(z_k) + z / z_k - 1; 1/z_k and ln z_k are DPP
    parameters, so the SDP is compiled once, and the exponential cones see arguments near 1
    (Clarabel stalls on ln(Ss) with Ss ~ 1e4 otherwise)."""

    def __init__(self, s: Any, i: Any, *, families: dict, gamma_min: float, rate_scale: float = 1.0,
                 backhaul: tuple | None = None, power: Any, variables: list, rate_min: float = 0.0) -> None:
        import cvxpy as cp

        self.cp = cp
        self.kkt = "qdldl"  # Clarabel's first KKT solver (_solve); the S-procedure model sets "faer"
        self.warm = False  # run() started from a warm start
        self.csi_params: tuple[dict, dict] | None = None  # (radius, radius^2) parameters (_joint_model eps_param)
        self.gamma_scale: Any = None  # Gamma_t / p.gamma_w[t] parameter (_joint_model gamma_param)
        self.S, self.I = s, i
        m = s.shape[0]
        self.m = m
        self.scale = rate_scale
        self.variables = variables
        self.backhaul = backhaul
        par = {k: cp.Parameter(m, nonneg=True) for k in ("iz", "ii")}
        par.update({k: cp.Parameter(m) for k in ("lz", "li")})
        par.update({k: cp.Parameter(nonneg=True) for k in ("izs", "ids")})
        par.update({k: cp.Parameter() for k in ("lzs", "lds")})
        self.par = par
        z, i1 = s + i + 1, i + 1
        ln_z = par["lz"] + cp.log(cp.multiply(par["iz"], z))
        ln_i = par["li"] + cp.log(cp.multiply(par["ii"], i1))
        tan_z = par["lz"] + cp.multiply(par["iz"], z) - 1
        tan_i = par["li"] + cp.multiply(par["ii"], i1) - 1
        obj = cp.sum(ln_z) - cp.sum(tan_i)
        hard = list(families.get("_hard", []))
        soft = {k: list(v) for k, v in families.items() if k != "_hard"}  # affine g, g >= 0 required
        fam = {k: [g >= 0 for g in v] for k, v in soft.items()}
        fam["qos (17b)"] = [s >= gamma_min * i1] if gamma_min > 0 else []
        if backhaul is None:
            fam["backhaul (17c)"] = []
        elif backhaul[0] == "joint":
            ss, ds = backhaul[1], backhaul[2]
            ln_zs = par["lzs"] + cp.log(par["izs"] * (ss + ds + 1))
            tan_ds = par["lds"] + par["ids"] * (ds + 1) - 1
            fam["backhaul (17c)"] = [ln_zs + cp.sum(ln_i) - tan_ds - cp.sum(tan_z) >= 0]  # (40)
        else:  # constant cap on scale * sum_m R_m
            fam["backhaul (17c)"] = [cp.sum(tan_z) - cp.sum(ln_i) <= backhaul[1] * LN2 / rate_scale]
        self.families = fam
        self.hard = hard
        self.prob = cp.Problem(cp.Maximize(obj), hard + [c for cs in fam.values() for c in cs])
        # phase 1: every user exactly at r0 (upper side hard), backhaul >= M r0, minimum power. All
        # constraints are linear; each family g >= 0 also gets an elastic copy g + t >= 0 whose slack t
        # is charged with weight w_f (0 = family dropped) for the infeasibility diagnosis.
        g = 2**rate_min - 1
        need = m * rate_min
        p1 = dict(soft)
        p1_hard = list(hard)
        self.keep_need = cp.Parameter(nonneg=True, value=1.0)  # 0 when (17b) is dropped: rates may be 0
        qos_eq = []
        if g > 0:
            p1["qos (17b)"] = [s / g - i1]
            p1_hard.append(s / g - i1 <= 0)
            qos_eq = [s / g - i1 == 0]
        if backhaul is not None and backhaul[0] == "joint":
            p1["backhaul (17c)"] = [backhaul[1] / (2**need - 1) - self.keep_need * (backhaul[2] + 1)] if need > 0 else []
        elif backhaul is not None and rate_scale * need > backhaul[1] + 1e-12:
            p1["backhaul (17c)"] = [cp.Constant(backhaul[1] - rate_scale * need) - 0 * power]
        self.p1_families = p1
        self.power = power
        self.hard_p1 = cp.Problem(cp.Minimize(power), hard + qos_eq + [gg >= 0 for k, v in p1.items() if k != "qos (17b)"
                                                                        for gg in v])
        self.weights = {k: cp.Parameter(nonneg=True, value=1.0) for k in p1}
        slacks = {k: [cp.Variable(gg.shape, nonneg=True) for gg in v] for k, v in p1.items()}
        viol = sum(self.weights[k] * sum(cp.sum(t) for t in slacks[k]) for k in p1 if slacks[k])
        self.elastic = cp.Problem(cp.Minimize(viol), p1_hard + [gg + t >= 0 for k in p1 for gg, t in zip(p1[k], slacks[k])]
                                  + [power <= 10.0])  # keeps a dropped power family bounded
        self.elastic_slacks = slacks

    def phase1(self, solver: str, *, strict: bool = False) -> str:
        """'feasible' (variables hold the minimum-power phase-1 point) or 'infeasible'. When the phase-1
        SDP is not solved to 'optimal' (near the feasibility boundary minimum power is ill-conditioned:
        Clarabel stops with a numerical error instead of an infeasibility certificate, or even reports an
        'optimal' point that the elastic programme shows to violate a budget), the elastic programme
        decides. ``strict`` (the bisections): the elastic programme alone decides, solved by Clarabel alone
        (an inaccurate value of ~0 from the SCS fall-back is no evidence)."""
        for k in self.weights:
            self.weights[k].value = 1.0
        self.keep_need.value = 1.0
        if strict:  # the elastic programme is always feasible: no infeasibility detection to fail
            return "feasible" if self._elastic_ok(solver, strict=True) else "infeasible"
        if _solve(self.hard_p1, solver, fallback=False, kkt=self.kkt) == "optimal":
            return "feasible"
        return "feasible" if self._elastic_ok(solver) else "infeasible"

    def set_csi_error(self, eps: float) -> None:
        """All four CSI radii to ``eps`` (a model built with eps_param=True)."""
        if self.csi_params is None:
            raise ValueError("the model was not built with eps_param=True")
        for k in self.csi_params[0]:
            self.csi_params[0][k].value = float(eps)
            self.csi_params[1][k].value = float(eps) ** 2

    def _elastic_ok(self, solver: str, *, strict: bool = False) -> bool:
        """Elastic phase 1 reaches zero violation (<= 1e-6; ``strict``: solved by Clarabel alone and <=
        STRICT_VIOLATION, the normalised violation the bisections accept; an interior-point solve leaves
        ~1e-7..1e-5 on a feasible problem)."""
        if strict:
            return self.elastic_violation(solver) <= STRICT_VIOLATION
        st = _solve(self.elastic, solver, kkt=self.kkt)
        if st not in _OK:
            raise RuntimeError(f"elastic phase-1 SDP failed ({st})")
        return float(self.elastic.value) <= 1e-6

    def phase1_violation(self, solver: str) -> float:
        """Feasibility measure of phase 1 for the bisections (normalised units, ~0 when feasible): the
        largest constraint violation of the minimum-power phase-1 point when Clarabel returns one and it
        checks out (Clarabel can report 'optimal' for a point that misses a budget by a third), else the
        elastic violation (:meth:`elastic_violation`, which over-estimates when inaccurate)."""
        import cvxpy as cp

        self.keep_need.value = 1.0
        for kw in ({"direct_solve_method": "faer" if self.kkt == "faer" else "qdldl"},):
            try:
                self.hard_p1.solve(solver=solver, warm_start=False, **(kw if solver == "CLARABEL" else {}))
            except cp.error.SolverError:
                break
            if self.hard_p1.status in _OK:
                v = max((float(np.max(c.violation())) for c in self.hard_p1.constraints), default=0.0)
                if v <= STRICT_VIOLATION:
                    return v
        return self.elastic_violation(solver)

    def elastic_violation(self, solver: str) -> float:
        """Elastic phase-1 violation from the first of Clarabel's KKT variants (_solve's order) that solves
        (to 'optimal' or 'optimal_inaccurate': a stop of the latter is a feasible point of the elastic
        programme, so its value over-estimates the violation). inf if none solves. Near the boundary the
        value is noisy (~1e-2 either way, whatever the variant). Every family counts (weights 1)."""
        import cvxpy as cp

        for k in self.weights:
            self.weights[k].value = 1.0
        self.keep_need.value = 1.0
        if solver != "CLARABEL":
            st = _solve(self.elastic, solver, fallback=False)
            return float(self.elastic.value) if st in _OK else math.inf
        kws = [{"direct_solve_method": "qdldl"}, {}, {"static_regularization_constant": 1e-7}]
        if self.kkt == "faer":
            kws = kws[1:2] + kws[:1] + kws[2:]
        for kw in kws:
            try:
                self.elastic.solve(solver="CLARABEL", warm_start=False, **kw)
            except cp.error.SolverError:
                continue
            if self.elastic.status in _OK:
                return float(self.elastic.value)
        return math.inf

    def set_sensing_scale(self, scale: float) -> None:
        """Gamma_t = scale * p.gamma_w[t] (a model built with gamma_param=True)."""
        if self.gamma_scale is None:
            raise ValueError("the model was not built with gamma_param=True")
        self.gamma_scale.value = float(scale)

    def diagnose(self, solver: str) -> list[str]:
        """Families whose removal alone makes the elastic phase 1 reach zero violation."""
        out = []
        for name in [k for k, v in self.p1_families.items() if v]:
            for k in self.weights:
                self.weights[k].value = 0.0 if k == name else 1.0
            self.keep_need.value = 0.0 if name == "qos (17b)" else 1.0
            if self._elastic_ok(solver):
                out.append(name)
        return out

    def point(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        s = np.maximum(np.asarray(self.S.value, float).reshape(self.m), 0.0)
        i = np.maximum(np.asarray(self.I.value, float).reshape(self.m), 0.0)
        ss = ds = 0.0
        if self.backhaul is not None and self.backhaul[0] == "joint":
            ss = max(float(np.asarray(self.backhaul[1].value)), 0.0)
            ds = max(float(np.asarray(self.backhaul[2].value)), 0.0)
        return s, i, ss, ds

    def true_objective(self) -> float:
        s, i, _, _ = self.point()
        return float(self.scale * np.sum(np.log2(1 + s / (i + 1))))

    def _linearise(self) -> None:
        s, i, ss, ds = self.point()
        z, i1 = s + i + 1, i + 1
        pv = {"iz": 1 / z, "lz": np.log(z), "ii": 1 / i1, "li": np.log(i1),
              "izs": 1 / (ss + ds + 1), "lzs": math.log(ss + ds + 1), "ids": 1 / (ds + 1), "lds": math.log(ds + 1)}
        for k, v in pv.items():
            self.par[k].value = v

    def start_from(self, values: Sequence[np.ndarray], tol: float = 1e-7) -> bool:
        """Load a warm start (variable values of another solve of the same model, e.g. at a higher sensing
        threshold) if it satisfies every constraint that does not involve the CCP tangents (all but the
        backhaul, whose exact form holds at any lifted-feasible point) to ``tol``; True if loaded."""
        for var, val in zip(self.variables, values):
            var.save_value(val)
        cons = list(self.hard) + [c for k, cs in self.families.items() if k != "backhaul (17c)" for c in cs]
        viol = max((float(np.max(c.violation())) for c in cons), default=0.0)
        return viol <= tol

    def run(self, opts: SolverOptions, trace: Trace, infeasible_fix: str, *, diagnose: bool = True,
            start: Sequence[np.ndarray] | None = None) -> None:
        """Algorithm 1 / 2: phase 1 (or the warm ``start``, see start_from, when it is feasible), then the
        CCP iterations."""
        t0 = time.perf_counter()
        self.warm = start is not None and self.start_from(start)
        st = "feasible" if self.warm else self.phase1(opts.solver)
        trace.phase1_s = time.perf_counter() - t0
        if st != "feasible":
            fams = self.diagnose(opts.solver) if diagnose else []
            names = ", ".join(fams) if fams else "no single family (several jointly)"
            fix = ", or ".join(_HINTS[f] for f in fams if f in _HINTS) or infeasible_fix
            raise BeamformingInfeasible(f"beamforming problem infeasible (elastic phase-1 SDP); removing any one of "
                                        f"[{names}] restores feasibility", fix, fams)
        trace.objective.append(self.true_objective())
        snap = [v.value for v in self.variables]
        self.history = [snap]  # every accepted iterate (variable values), for extraction fall-backs
        self.duals: dict | None = None
        trace.stopped = "iteration limit"
        for _ in range(opts.max_iterations):
            self._linearise()
            t1 = time.perf_counter()
            st = _solve(self.prob, opts.solver, fallback=False, kkt=self.kkt)
            trace.iteration_s.append(time.perf_counter() - t1)
            obj = self.true_objective() if st in _OK else -math.inf
            # a CCP step never lowers the objective; one that does (solver round-off) is rejected
            if st not in _OK or obj < trace.objective[-1] - 1e-7 * max(1.0, abs(trace.objective[-1])):
                for var, val in zip(self.variables, snap):
                    var.save_value(val)  # bypasses cvxpy's PSD check (solver round-off)
                trace.rejected += 1
                trace.stopped = (f"numerical stall at iteration {trace.iterations} (subproblem {st}"
                                 f"{'' if st not in _OK else ', objective fell'}); kept the last iterate")
                break
            trace.objective.append(obj)
            snap = [v.value for v in self.variables]
            self.history.append(snap)
            self.duals = {k: [None if c.dual_value is None else np.array(c.dual_value, float).reshape(-1) for c in cs]
                          for k, cs in self.families.items()}  # of the last accepted subproblem (nats per unit)
            if obj - trace.objective[-2] < opts.tolerance:
                trace.stopped = "converged"
                break
        trace.solver = opts.solver


class _Cov:
    """Complex Hermitian PSD n x n matrix X = T Xt T^H, Xt held as a real PSD 2n x 2n variable
    [[A, B], [B^T, D]] (T = I unless given).

    cvxpy's own complex->real reduction left Clarabel at 'inaccurate' / NumericalError on these
    problems; the real form is exact: with z = [Re c; Im c], J z <-> j c, the forms
    z^T Xr z + (J z)^T Xr (J z) equal c^H Xt c for Xt = (A + D) + j (B^T - B), which is PSD, and
    Tr Xt = Tr Xr, so the block structure need not be imposed. The congruence T (see
    :func:`_es_congruence`) rescales one direction so that a deep null towards the ES is
    resolved by the solver (an ES gain of ~1e6 noise units otherwise swamps its tolerances)."""

    def __init__(self, n: int, t: np.ndarray | None = None) -> None:
        import cvxpy as cp

        self.n = n
        self.t = None if t is None else np.asarray(t, complex)
        self.var = cp.Variable((2 * n, 2 * n), PSD=True)

    @staticmethod
    def coeffs(rows: np.ndarray) -> np.ndarray:
        """(K, 4 n^2) coefficients of the forms row Xt row^H (c = conj(row))."""
        rows = np.atleast_2d(rows)
        z = np.concatenate([rows.real, -rows.imag], axis=1)
        n = rows.shape[1]
        jz = np.concatenate([-z[:, n:], z[:, :n]], axis=1)
        q = z[:, :, None] * z[:, None, :] + jz[:, :, None] * jz[:, None, :]
        return q.reshape(len(rows), -1)

    def q(self, rows: np.ndarray) -> Any:
        """Vector (K,) of row X row^H for rows (K, n)."""
        import cvxpy as cp

        rows = np.atleast_2d(rows)
        if self.t is not None:
            rows = rows @ self.t
        return self.coeffs(rows) @ cp.vec(self.var, order="C")

    def trace(self) -> Any:
        import cvxpy as cp

        if self.t is None:
            return cp.trace(self.var)
        return self.coeffs(self.t).sum(0) @ cp.vec(self.var, order="C")  # Tr X = sum_i T[i] Xt T[i]^H

    def xc(self, row: np.ndarray) -> Any:
        """[Re; Im] (2n,) of X c, c = conj(row), as a linear map of the variable (built by evaluating
        the map on the 4 n^2 basis matrices)."""
        import cvxpy as cp

        n, n2 = self.n, 2 * self.n
        tt = np.eye(n) if self.t is None else self.t
        u = tt.conj().T @ row.conj()
        basis = np.eye(n2 * n2).reshape(n2 * n2, n2, n2)
        r = basis[:, :n, :n] + basis[:, n:, n:]
        i = np.transpose(basis[:, :n, n:], (0, 2, 1)) - basis[:, :n, n:]
        xu = (r + 1j * i) @ u  # (4n^2, n)
        y = xu @ tt.T  # rows: T (Xt u)
        k = np.concatenate([y.real, y.imag], axis=1).T  # (2n, 4n^2)
        return k @ cp.vec(self.var, order="C")

    def re_im_raw(self) -> tuple[Any, Any]:
        """(Re, Im) of Xt (before the congruence)."""
        n = self.n
        a, b, d = self.var[:n, :n], self.var[:n, n:], self.var[n:, n:]
        return a + d, b.T - b

    def re_im(self) -> tuple[Any, Any]:
        n = self.n
        a, b, d = self.var[:n, :n], self.var[:n, n:], self.var[n:, n:]
        r, i = a + d, b.T - b
        if self.t is None:
            return r, i
        tr, ti = self.t.real, self.t.imag
        p_re, p_im = tr @ r - ti @ i, tr @ i + ti @ r  # T Xt
        return p_re @ tr.T + p_im @ ti.T, p_im @ tr.T - p_re @ ti.T  # (T Xt) T^H

    @property
    def value(self) -> np.ndarray:
        v = np.asarray(self.var.value, float)
        n = self.n
        xt = (v[:n, :n] + v[n:, n:]) + 1j * (v[:n, n:].T - v[:n, n:])
        return xt if self.t is None else self.t @ xt @ self.t.conj().T


def _es_congruence(row: np.ndarray) -> np.ndarray:
    """T = I - (1 - k) u u^H with u the unit ES direction (c = conj(row)) and k = 1/||row||, so that
    row T Xt T^H row^H = Xt's u-component: the ES form gets coefficient 1 instead of ||row||^2."""
    c = row.conj()
    nrm = float(np.linalg.norm(c))
    if nrm <= 1.0:
        return np.eye(c.size, dtype=complex)
    u = c / nrm
    return np.eye(c.size) - (1 - 1 / nrm) * np.outer(u, u.conj())


def _qsum(covs: Sequence[_Cov], rows: np.ndarray) -> Any:
    return sum(c.q(rows) for c in covs)


def _re_im_sum(covs: Sequence[_Cov]) -> tuple[Any, Any]:
    parts = [c.re_im() for c in covs]
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def _real_lmi(re: Any, im: Any) -> Any:
    """Hermitian M = re + j im >= 0 as the real [[re, -im], [im, re]] >= 0."""
    import cvxpy as cp

    return cp.bmat([[re, -im], [im, re]]) >> 0


def _herm_var(parts: Sequence[tuple[Any, Any]], cons: list) -> tuple[Any, Any]:
    """New compact variables (Re, Im) equal to the sum of the given (Re, Im) parts (appends the equalities):
    Re symmetric (n(n+1)/2 unknowns), Im skew (n(n-1)/2 unknowns), i.e. exactly the n^2 real degrees of
    freedom of a Hermitian matrix. An LMI written in these copies couples only them, so eliminating its
    dense cone block in the interior-point KKT system fills an n^2 x n^2 block instead of one over every
    entry of the 2n x 2n real PSD variables behind the parts (the S-procedure's cost, see solve_pa2)."""
    import cvxpy as cp

    n = parts[0][0].shape[0]
    zr = cp.Variable((n, n), symmetric=True)
    iu = np.triu_indices(n, 1)
    k = iu[0].size
    if k:
        basis = np.zeros((n * n, k))
        basis[iu[0] * n + iu[1], np.arange(k)] = 1.0
        basis[iu[1] * n + iu[0], np.arange(k)] = -1.0
        zi = cp.reshape(basis @ cp.Variable(k), (n, n), order="C")
    else:
        zi = cp.Constant(np.zeros((n, n)))
    cons += [zr == sum(p[0] for p in parts), zi == sum(p[1] for p in parts)]
    return zr, zi


def _lmi(r: Any, i: Any, row: np.ndarray, slack: Any, delta: float, lower: bool) -> list:
    """S-procedure for a norm ball ||e|| <= delta around c = conj(row), X = r + j i Hermitian:

    lower: slack <= min (c+e)^H X (c+e)  <=>  [[X + l I, X c], [c^H X, c^H X c - slack - l d^2]] >= 0 (64), (74)
    upper: slack >= max (c+e)^H X (c+e)  <=>  [[m I - X, -X c], [-c^H X, slack - c^H X c - m d^2]] >= 0 (66)-(68)
    """
    import cvxpy as cp

    # congruence diag(I, 1/||c||): c -> unit c, slack -> slack / ||c||^2, delta -> delta / ||c|| (same LMI,
    # entries of one scale; with ||c||^2 ~ 1e6 for the ES the unscaled LMI stalls Clarabel)
    nrm = float(np.linalg.norm(row))
    if nrm == 0.0:  # no traced channel: c = 0, e^H X e lies in [0, delta^2 Tr X]
        return [slack <= 0] if lower else [slack >= delta**2 * cp.trace(r)]
    row, delta, slack = row / nrm, delta / nrm, slack / nrm**2
    a, b = row.real.copy(), -row.imag.copy()  # c = a + j b
    qv = a @ r @ a + b @ r @ b + 2 * (b @ i @ a)  # c^H X c for X = r + j i (i skew)
    if delta <= 0:
        return [slack <= qv] if lower else [slack >= qv]
    n = row.size
    xc_re = cp.reshape(r @ a - i @ b, (n, 1), order="C")
    xc_im = cp.reshape(r @ b + i @ a, (n, 1), order="C")
    mult = cp.Variable(nonneg=True)
    eye = np.eye(n)
    if lower:
        corner = cp.reshape(qv - slack - mult * delta**2, (1, 1), order="C")
        re = cp.bmat([[r + mult * eye, xc_re], [xc_re.T, corner]])
        im = cp.bmat([[i, xc_im], [-xc_im.T, np.zeros((1, 1))]])
    else:
        corner = cp.reshape(slack - qv - mult * delta**2, (1, 1), order="C")
        re = cp.bmat([[mult * eye - r, -xc_re], [-xc_re.T, corner]])
        im = cp.bmat([[-i, -xc_im], [xc_im.T, np.zeros((1, 1))]])
    return [_real_lmi(re, im)]


def _cs_bound(covs: Sequence[_Cov], row: np.ndarray, slack: Any, delta: Any, lower: bool, delta_sq: Any = None) -> list:
    """Cauchy-Schwarz bounds of (60)-(65) for ||e|| <= delta, X = sum(covs) >= 0, c = conj(row):

    lower: (c+e)^H X (c+e) >= c^H X c - 2 delta ||X c||                    (e^H X e >= 0 dropped)
    upper: (c+e)^H X (c+e) <= c^H X c + 2 delta ||X c|| + delta^2 Tr X      (the paper drops the
    delta^2 term; kept here so that the bound is valid). Second-order cones, scaled by 1/||c||^2
    (row -> unit row), in each covariance's own (congruence) coordinates. ``delta`` may be a
    nonnegative cvxpy parameter expression, with ``delta_sq`` its square (DPP: one compilation for
    every radius, see max_feasible_csi_error)."""
    import cvxpy as cp

    if delta_sq is None:
        delta_sq = delta**2
    if not covs:  # X = 0 (no other user's beam, e.g. a one-user problem): the quadratic form is 0
        return [slack <= 0] if lower else [slack >= 0]
    nrm = float(np.linalg.norm(row))
    if nrm == 0.0:  # no traced channel: c = 0, e^H X e lies in [0, delta^2 Tr X]
        return [slack <= 0] if lower else [slack >= delta_sq * sum(c.trace() for c in covs)]
    row, delta, delta_sq, slack = row / nrm, delta / nrm, delta_sq / nrm**2, slack / nrm**2
    qv = _qsum(covs, row[None, :])[0]
    if isinstance(delta, float) and delta <= 0:
        return [slack <= qv] if lower else [slack >= qv]
    xc = sum(c.xc(row) for c in covs)
    if lower:
        return [slack <= qv - 2 * delta * cp.norm(xc, 2)]
    return [slack >= qv + 2 * delta * cp.norm(xc, 2) + delta_sq * sum(c.trace() for c in covs)]


ROBUST_BOUNDS = ("cauchy-schwarz", "s-procedure")


def _scaled(p: BeamformingProblem) -> dict:
    """Noise-normalised rows with the power budgets folded in (variables have unit trace budgets)."""
    sp, sb = math.sqrt(p.p_sat_w), math.sqrt(p.p_bs_w)
    nu = np.sqrt(p.noise_ue_w)[:, None]
    ne = math.sqrt(p.noise_es_w)
    gam = np.maximum(p.gamma_w, 1e-300)[:, None]
    return {"h": p.h_ue * sb / nu, "g": p.g_ue * sp / nu, "gs": p.g_es * sp / ne, "hs": p.h_es * sb / ne,
                "a_sat": p.a_sat * sp / np.sqrt(gam), "a_bs": p.a_bs * sb / np.sqrt(gam)}


def _radius(p: BeamformingProblem, eps: float, row: np.ndarray) -> float:
    """Error radius of (44)-(47) on a noise-normalised row of :func:`_scaled` (``with_csi_error``'s readings)."""
    return eps * float(np.linalg.norm(row)) if p.err_reading == "relative" else float(eps)


def _covs(n: int, count: int) -> list:
    return [_Cov(n) for _ in range(count)]


def _sensing(pattern: Any, p: BeamformingProblem, scale: Any = None) -> list:
    """(29) normalised by Gamma: EIRP / Gamma - 1 >= 0 per target with Gamma > 0 (``scale``: a parameter
    s with Gamma_t = s p.gamma_w[t], written EIRP / p.gamma_w - s >= 0)."""
    idx = np.flatnonzero(p.gamma_w > 0)
    if not idx.size:
        return []
    return [pattern[idx] - 1] if scale is None else [pattern[idx] - scale]


# ------------------------------------------------------------------ rank-one extraction
def _principal(x: np.ndarray) -> tuple[np.ndarray, float]:
    lam, u = np.linalg.eigh((x + x.conj().T) / 2)
    ratio = float(max(lam[-2], 0.0) / lam[-1]) if lam.size > 1 and lam[-1] > 0 else 0.0
    return u[:, -1] * math.sqrt(max(lam[-1], 0.0)), ratio


def _randomize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lam, u = np.linalg.eigh((x + x.conj().T) / 2)
    lam = np.maximum(lam, 0.0)
    xi = (rng.normal(size=lam.size) + 1j * rng.normal(size=lam.size)) / math.sqrt(2)
    vec = u @ (np.sqrt(lam) * xi)
    nrm = np.linalg.norm(vec)
    return vec * (math.sqrt(lam.sum()) / nrm) if nrm > 0 else vec


def extract_rank_one(p: BeamformingProblem, xs: list, y: np.ndarray | None, y0: np.ndarray, *,
                     us: list | None = None, tau: float | None = None, robust: bool = False,
                     encoded: np.ndarray | None = None, opts: SolverOptions = SolverOptions(),
                     waived: tuple[str, ...] = ()) -> tuple[Beamformers, Evaluation, str]:
    """Rank-one beams from the lifted solution (physical units).

    Method: w_m = sqrt(lambda_1) u_1 of W_m (and likewise v, u_m); if some matrix has
    lambda_2 / lambda_1 > rank_tol, or the eigenvector design fails the evaluator, also draw ``randomizations`` Gaussian candidates
    w ~ CN(0, W_m) rescaled to ||w||^2 = Tr W_m; candidates whose total power exceeds a budget are
    scaled down to it. Every candidate is scored by :func:`evaluate`; the feasible one with the
    largest delivered sum rate wins (the eigenvector one if it ties); ``waived`` checks (a QoS a
    benchmark had to drop) do not count for feasibility. V0 needs no extraction.
    """
    rng = np.random.default_rng(opts.seed)
    mats = list(xs) + ([y] if y is not None else []) + list(us or [])
    scale = max([float(np.real(np.trace(x))) for x in mats] + [0.0])
    mats = [x if np.real(np.trace(x)) > 1e-9 * scale else np.zeros_like(x) for x in mats]  # idle beams -> 0
    ranks = [_principal(x)[1] for x in mats]
    low_rank = all(r <= opts.rank_tol for r in ranks)

    def build(vecs: list) -> Beamformers:
        w = np.array(vecs[:len(xs)]).reshape(len(xs), -1) if xs else np.zeros((p.n_users, p.n_bs), complex)
        k = len(xs)
        v = vecs[k] if y is not None else np.zeros(p.n_sat, complex)
        k += y is not None
        u = np.array(vecs[k:]) if us else None
        pw_bs = float(np.sum(np.abs(w) ** 2))
        if pw_bs > p.p_bs_w:
            w = w * math.sqrt(p.p_bs_w / pw_bs)
        r_sens = y0
        comm = float(np.sum(np.abs(v) ** 2) + (np.sum(np.abs(u) ** 2) if u is not None else 0))
        sens = float(np.real(np.trace(y0)))
        if comm + sens > p.p_sat_w:  # solver round-off: shrink the comm beams first, V0 only if it alone is over
            f = math.sqrt(max(p.p_sat_w - sens, 0.0) / comm) if comm > 0 else 1.0
            if sens > p.p_sat_w:
                f, r_sens = 0.0, y0 * (p.p_sat_w / sens)
            v = v * f
            u = u * f if u is not None else None
        return Beamformers(w=w if xs else np.zeros((p.n_users, p.n_bs), complex), v=v, r_sens=r_sens, u=u,
                           tdma_sat_share=tau)

    def score(bf: Beamformers) -> tuple[bool, float, Evaluation]:
        ev = evaluate(p, bf, robust=robust, encoded_rates=encoded if robust else None)
        return all(v for k, v in ev.checks.items() if k not in waived), ev.delivered_sum_rate, ev

    best = build([_principal(x)[0] for x in mats])
    ok, val, ev = score(best)
    how = "eigenvector" if low_rank else "eigenvector (not rank one)"
    if low_rank and ok:
        return best, ev, how
    for _ in range(opts.randomizations):
        cand = build([_randomize(x, rng) for x in mats])
        ok2, val2, ev2 = score(cand)
        if robust and encoded is not None and not ok2:  # a random candidate gets its own encoded rates
            ev2 = evaluate(p, cand, robust=True)
            ok2, val2 = all(v for k, v in ev2.checks.items() if k not in waived), ev2.delivered_sum_rate
        if ok2 and (not ok or val2 > val):
            best, ok, val, ev, how = cand, ok2, val2, ev2, f"gaussian randomisation ({opts.randomizations} draws)"
    return best, ev, how


# ------------------------------------------------------------------ Algorithm 1 (PA1) and Algorithm 2 (PA2)
_FIX = "lower r0 (sinr_min_db), the sensing EIRP Gamma or the user count, or raise Ps / PT"


def _rx_matrix(covs: Sequence[_Cov], rows: np.ndarray) -> Any:
    """R[n, m] = row_m X_n row_m^H (transmitter n's power at receiver m)."""
    import cvxpy as cp

    return cp.vstack([x.q(rows) for x in covs])


def _joint_model(p: BeamformingProblem, robust: bool, bounds: str = "cauchy-schwarz", *,
                 eps_param: bool = False, gamma_param: bool = False) -> tuple[_DcModel, dict]:
    """The lifted DC programme of PA1 / PA2. ``eps_param`` (robust, Cauchy-Schwarz bounds): the four CSI
    radii are cvxpy parameters (``model.set_csi_error``); ``gamma_param``: the thresholds Gamma_t are
    p.gamma_w times a parameter (``model.set_sensing_scale``); so that a bisection compiles once."""
    import cvxpy as cp

    c = _scaled(p)
    m = p.n_users
    xs = _covs(p.n_bs, m)
    y, y0 = _Cov(p.n_sat), _Cov(p.n_sat, _es_congruence(c["gs"]))
    extra: list = []
    slacks: list = []
    if not robust:
        rx = _rx_matrix(xs, c["h"])
        s = cp.diag(rx)
        i = cp.sum(rx, axis=0) - s + y.q(c["g"]) + y0.q(c["g"])
        ss = y.q(c["gs"])[0]
        ds = _qsum(xs, c["hs"])[0] + y0.q(c["gs"])[0]
    else:
        s, pm, qm = cp.Variable(m, nonneg=True), cp.Variable(m, nonneg=True), cp.Variable(m, nonneg=True)
        ss, dh, dg = cp.Variable(nonneg=True), cp.Variable(nonneg=True), cp.Variable(nonneg=True)
        slacks = [s, pm, qm, ss, dh, dg]
        if bounds not in ROBUST_BOUNDS:
            raise ValueError(f"bounds must be one of {ROBUST_BOUNDS}")
        de = _radius(p, p.err_g_es, c["gs"])
        dhs = _radius(p, p.err_h_es, c["hs"])
        if bounds == "cauchy-schwarz":
            if eps_param:
                eps_par = {k: cp.Parameter(nonneg=True, value=getattr(p, f"err_{k}"))
                           for k in ("g_es", "g_ue", "h_es", "h_ue")}
                eps_sq = {k: cp.Parameter(nonneg=True, value=v.value**2) for k, v in eps_par.items()}
                csi_params = (eps_par, eps_sq)

            def rad(kind: str, row: np.ndarray) -> tuple[Any, Any]:  # (delta, delta^2) on a normalised row
                if not eps_param:
                    d = _radius(p, getattr(p, f"err_{kind}"), row)
                    return d, d * d
                coef = _radius(p, 1.0, row)
                return eps_par[kind] * coef, eps_sq[kind] * coef**2

            def cs(covs: list, row: np.ndarray, slack: Any, kind: str, lower: bool) -> list:
                d, d2 = rad(kind, row)
                return _cs_bound(covs, row, slack, d, lower, delta_sq=d2)

            for k in range(m):
                hk, gk = c["h"][k], c["g"][k]
                extra += cs([xs[k]], hk, s[k], "h_ue", lower=True)  # (64)
                extra += cs([x for n, x in enumerate(xs) if n != k], hk, pm[k], "h_ue", lower=False)  # (63)
                extra += cs([y, y0], gk, qm[k], "g_ue", lower=False)  # (62), (65)
            extra += cs([y], c["gs"], ss, "g_es", lower=True)  # (60)
            extra += cs(xs, c["hs"], dh, "h_es", lower=False)  # (61)
            extra += cs([y0], c["gs"], dg, "g_es", lower=False)
        else:
            # Algorithm 2 as printed: the signal terms keep the Cauchy-Schwarz lower bounds (74)-(76) (second-
            # order cones), the interference terms of (66)-(68) get S-procedure LMIs, each in compact Hermitian
            # copies (_herm_var): U_k = sum_{n != k} W_n (66), sum_n W_n (67), V + V0 (68). V0 -> ES, which the
            # paper leaves without an error term, keeps its Cauchy-Schwarz bound in V0's congruence
            # coordinates (an LMI on V0's plain entries cannot resolve the ES null, see _es_congruence).
            x_parts = [x.re_im() for x in xs]
            zr, zi = _herm_var(x_parts, extra)  # sum_n W_n
            sr, si = _herm_var([y.re_im(), y0.re_im()], extra)  # V + V0
            for k in range(m):
                hk, gk = c["h"][k], c["g"][k]
                dk = _radius(p, p.err_h_ue, hk)
                extra += _cs_bound([xs[k]], hk, s[k], dk, lower=True)  # (74)
                if m > 1:
                    u_k = _herm_var([(zr, zi), (-x_parts[k][0], -x_parts[k][1])], extra)
                    extra += _lmi(*u_k, hk, pm[k], dk, lower=False)  # (66)
                extra += _lmi(sr, si, gk, qm[k], _radius(p, p.err_g_ue, gk), lower=False)  # (68)
            extra += _cs_bound([y], c["gs"], ss, de, lower=True)  # (76)
            extra += _lmi(zr, zi, c["hs"], dh, dhs, lower=False)  # (67)
            extra += _cs_bound([y0], c["gs"], dg, de, lower=False)
        i, ds = pm + qm, dh + dg
    sens = _qsum(xs, c["a_bs"]) + y0.q(c["a_sat"]) if p.n_targets else None
    tr_x = sum(x.trace() for x in xs)
    gamma_scale = cp.Parameter(nonneg=True, value=1.0) if gamma_param else None
    fam = {"_hard": extra,
           "sensing (17d)": _sensing(sens, p, gamma_scale) if p.n_targets else [],
           "satellite power (17e)": [1 - y.trace() - y0.trace()],
           "BS power (17f)": [1 - tr_x]}
    model = _DcModel(s, i, families=fam, gamma_min=2**p.rate_min - 1, backhaul=("joint", ss, ds),
                     power=tr_x + y.trace() + y0.trace(), variables=[x.var for x in xs] + [y.var, y0.var] + slacks,
                     rate_min=p.rate_min)
    if robust and bounds == "s-procedure":
        model.kkt = "faer"
    if robust and eps_param and bounds == "cauchy-schwarz":
        model.csi_params = csi_params
    model.gamma_scale = gamma_scale
    return model, {"xs": xs, "y": y, "y0": y0}


def _joint(p: BeamformingProblem, opts: SolverOptions, robust: bool, bounds: str = "cauchy-schwarz",
           start: Design | None = None, diagnose: bool = True) -> Design:
    t0 = time.perf_counter()
    trace = Trace()
    model, v = _joint_model(p, robust, bounds)
    warm = start is not None and start.lifted is not None
    model.run(opts, trace, _FIX, start=start.lifted if warm else None, diagnose=diagnose)
    t1 = time.perf_counter()

    def extract() -> tuple[Beamformers, Evaluation, str]:
        xs = [x.value * p.p_bs_w for x in v["xs"]]
        y, y0 = v["y"].value * p.p_sat_w, _psd_project(v["y0"].value * p.p_sat_w)
        enc = None
        if robust:
            s, i, _, _ = model.point()
            enc = np.log2(1 + s / (i + 1))
        return extract_rank_one(p, xs, y, y0, robust=robust, encoded=enc, opts=opts)

    bf, ev, how = extract()
    used = len(model.history) - 1
    notes = []
    # an iterate from an inaccurate subproblem can be slightly infeasible: fall back to the latest
    # earlier iterate whose extracted design the evaluator accepts (the objective history is kept)
    for k in range(len(model.history) - 2, -1, -1):
        if ev.feasible:
            break
        for var, val in zip(model.variables, model.history[k]):
            var.save_value(val)
        bf, ev, how = extract()
        used = k
    if used < len(model.history) - 1:
        notes.append(f"the last iterate's design failed the evaluator; iterate {used} is reported")
    trace.extract_s = time.perf_counter() - t1
    trace.total_s = time.perf_counter() - t0
    if warm and not model.warm:
        notes.append("the warm start was infeasible here; started from phase 1")
    return Design("pa2" if robust else "pa1", bf, ev, trace.objective[used], trace, how,
                  encoded_rates=ev.rates if robust else None, notes=notes, sensing_dual=_sensing_dual(p, model),
                  lifted=model.history[used], warm_started=model.warm)


def _sensing_dual(p: BeamformingProblem, model: _DcModel) -> np.ndarray | None:
    """Dual of the sensing constraints (17d) in the last accepted CCP subproblem, as the sum-rate cost of
    raising Gamma_t by 1 dB [bit/s/Hz per dB]. The constraint is EIRP_t / Gamma_t - 1 >= 0 and the objective
    is in nats, so d(sum rate)/d(Gamma_t [dB]) = -lambda_t ln(10) / (10 ln 2) at a binding target. At a
    fixed point of the CCP the subproblem's KKT conditions are those of the lifted problem (26)-(31)."""
    if not p.n_targets or model.duals is None:
        return None
    cons = model.duals.get("sensing (17d)") or []
    out = np.zeros(p.n_targets)
    if cons and cons[0] is not None:
        out[np.flatnonzero(p.gamma_w > 0)] = np.maximum(cons[0], 0.0) * math.log(10) / (10 * LN2)
    return out


def is_feasible(p: BeamformingProblem, *, robust: bool = False, solver: str = "CLARABEL",
                bounds: str = "cauchy-schwarz", strict: bool = False) -> bool:
    """Whether the lifted problem (17) (robust: (44)-(47) with ``bounds``) has a feasible point:
    Algorithm 1's (2's) phase-1 SDP alone, no CCP iterations: every user exactly at r0, the backhaul
    carrying M r0 (a necessary condition for a rank-one design, and where the algorithms start).
    ``strict``: only a phase-1 SDP solved to optimality counts (see _DcModel.phase1)."""
    model, _ = _joint_model(p, robust, bounds)
    return model.phase1(solver, strict=strict) == "feasible"


def _psd_project(x: np.ndarray) -> np.ndarray:
    lam, u = np.linalg.eigh((x + x.conj().T) / 2)
    return (u * np.maximum(lam, 0.0)) @ u.conj().T


def solve_pa1(p: BeamformingProblem, opts: SolverOptions = SolverOptions(), *, start: Design | None = None,
              diagnose: bool = True) -> Design:
    """Algorithm 1: CCP on the lifted problem (26)-(31) with tangents (36)-(38).

    Start (step 1): the phase-1 SDP puts every user exactly at r0 (S_m = (2^r0 - 1)(I_m + 1)),
    asks R_s >= M r0 (linear: Ss >= (2^(M r0) - 1)(Ds + 1)) and minimises power. If that SDP is
    infeasible the lifted problem is too (users above r0 only need more backhaul), and the
    constraint families whose removal restores feasibility are named in
    :class:`BeamformingInfeasible`. Stop when the lifted sum rate rises by < tolerance.
    ``start``: a PA1 design of the same problem up to its thresholds Gamma_t (e.g. at higher ones) whose
    lifted point is feasible here replaces the phase-1 point (warm start; the CCP then never ends below it).
    ``diagnose=False``: an infeasible problem raises without naming the families (saves the elastic solves).
    """
    return _joint(p, opts, robust=False, start=start, diagnose=diagnose)


def solve_pa2(p: BeamformingProblem, opts: SolverOptions = SolverOptions(), *, bounds: str = "cauchy-schwarz") -> Design:
    """Algorithm 2: robust design for ||dg_s|| <= eps_s, ... (44)-(47), the radii relative to each
    estimated channel's norm or absolute on the noise-normalised channels (p.err_reading; the paper's
    0.08 has no stated normalisation).

    Slack variables: s_m <= min signal of user m, p_m >= max multi-user interference, q_m >= max
    satellite interference (V + V0), s_s <= min ES signal, d_h >= max BS->ES and d_g >= max
    V0->ES interference. Each user's *encoded* rate log2(1 + s_m / (p_m + q_m + 1)) is decodable
    for every admissible channel; the objective is their sum, the QoS (54) bounds each one and
    the backhaul (55) bounds their sum by the worst-case backhaul log2(1 + s_s / (d_h + d_g + 1)).
    The logs get the same tangents as PA1 (the paper's exponential form (69)-(70) is this SCA step
    after the ln/exp change of variables), so the objective never decreases.

    bounds="cauchy-schwarz" (default): the slacks are tied to the lifted matrices by the paper's
    (60)-(65) bounds, c^H X c -/+ 2 delta ||X c|| (+ delta^2 Tr X for the upper bound, which the
    paper drops; kept so that the bound is valid), second-order cones.
    bounds="s-procedure": Algorithm 2 as printed: Cauchy-Schwarz lower bounds for the signal terms
    (74)-(76) and the exact worst case of each interference term by the S-procedure LMIs (66)-(68).
    It improves on the Cauchy-Schwarz bounds only at second order in the radius (exact for rank-one
    interference terms, see docs/models/beamforming.md) and costs far more: every complex LMI is a
    real one of twice the size with a dense KKT block, and Clarabel often stalls on them
    (scripts/bench_beamforming.py --robust-scaling: ~6 s per CCP iteration at M = 2, ~25 s at M = 4,
    ~85 s at M = 6 on 2 shared cores; the Cauchy-Schwarz form 2-4 s at M = 2..8), so it is for small
    instances. The radii are read as p.err_reading (with_csi_error). Errors on one channel that enter
    signal and interference are bounded separately, as in the paper (conservative). With all radii 0
    this is PA1 written with slacks.
    """
    return _joint(p, opts, robust=True, bounds=bounds)


# ------------------------------------------------------------------ benchmarks (Section 5)
def _satellite_alone(p: BeamformingProblem, opts: SolverOptions, trace: Trace) -> tuple[np.ndarray, np.ndarray, float]:
    """Max backhaul rate of the satellite on its own: ES as the single 'user', interference V0 only,
    subject to sensing (V0 part of (17d)) and Ps. Returns V, V0 (W) and the rate."""

    c = _scaled(p)
    y, y0 = _Cov(p.n_sat), _Cov(p.n_sat, _es_congruence(c["gs"]))
    tot = y.trace() + y0.trace()
    fam = {"sensing (17d)": _sensing(y0.q(c["a_sat"]), p) if p.n_targets else [],
           "satellite power (17e)": [1 - tot]}
    model = _DcModel(y.q(c["gs"]), y0.q(c["gs"]), families=fam, gamma_min=0.0, power=tot, variables=[y.var, y0.var])
    model.run(opts, trace, "lower the sensing EIRP Gamma or raise Ps")
    return y.value * p.p_sat_w, _psd_project(y0.value * p.p_sat_w), model.true_objective()


def _bs_alone(p: BeamformingProblem, opts: SolverOptions, trace: Trace, *, rate_min: float, cap: float | None,
              rate_scale: float = 1.0, diagnose: bool = True) -> list:
    """BS-only sum-rate CCP (no satellite interference): QoS on the scaled rate, optional cap on the
    scaled sum rate, BS power. Returns the W_m in W."""
    import cvxpy as cp

    c = _scaled(p)
    m = p.n_users
    xs = _covs(p.n_bs, m)
    rx = _rx_matrix(xs, c["h"])
    s = cp.diag(rx)
    i = cp.sum(rx, axis=0) - s
    tot = sum(x.trace() for x in xs)
    model = _DcModel(s, i, families={"BS power (17f)": [1 - tot]}, gamma_min=2 ** (rate_min / rate_scale) - 1,
                     rate_scale=rate_scale, backhaul=None if cap is None else ("cap", cap), power=tot,
                     variables=[x.var for x in xs], rate_min=rate_min / rate_scale)
    model.run(opts, trace, "lower r0 or raise PT", diagnose=diagnose)
    return [x.value * p.p_bs_w for x in xs]


def solve_tdma(p: BeamformingProblem, opts: SolverOptions = SolverOptions(), *, fixed_point_steps: int = 3) -> Design:
    """TDMA benchmark: the satellite (v, V0, sensing) and the BS transmit in orthogonal slots of
    shares tau and 1 - tau, so no cross-tier interference. Users get (1 - tau) log2(1 + SINR_m),
    the backhaul tau R_s. Slot 1 maximises R_s alone (sensing and Ps); slot 2 maximises the BS
    sum rate with QoS (1 - tau) R_m >= r0. tau solves (1 - tau) S(tau) = tau R_s (fixed point, S =
    uncapped slot-2 sum rate), where the sum rate min((1 - tau) S, tau R_s) peaks; the last slot-2
    solve carries the cap (1 - tau) sum R_m <= tau R_s. If the QoS makes TDMA infeasible it is
    dropped (noted; the report then lists the QoS violations); any other infeasibility is raised."""
    t0 = time.perf_counter()
    trace = Trace()
    sat_trace = Trace()
    y, y0, r1 = _satellite_alone(p, opts, sat_trace)
    notes: list[str] = []

    def slot2(rate_min: float) -> tuple[float, list]:
        tau = 0.5
        for _ in range(fixed_point_steps):
            xs0 = _bs_alone(p, opts, Trace(), rate_min=rate_min, cap=None, rate_scale=1 - tau, diagnose=rate_min == 0)
            sr = float(np.sum(np.log2(1 + _bs_sinr(p, xs0))))
            new = sr / (sr + r1)
            done = abs(new - tau) < 1e-3
            tau = new
            if done:
                break
        return tau, _bs_alone(p, opts, trace, rate_min=rate_min, cap=tau * r1, rate_scale=1 - tau, diagnose=rate_min == 0)

    try:
        tau, xs = slot2(p.rate_min)
    except BeamformingInfeasible:
        notes.append("QoS (17b) infeasible for TDMA (per-slot SINR 2^(r0 / (1 - tau)) - 1); solved without it")
        tau, xs = slot2(0.0)
    t1 = time.perf_counter()
    bf, ev, how = extract_rank_one(p, xs, y, y0, tau=tau, opts=opts, waived=("qos (17b)",) if notes else ())
    trace.extract_s = time.perf_counter() - t1
    trace.total_s = time.perf_counter() - t0
    return Design("tdma", bf, ev, float((1 - tau) * np.sum(np.log2(1 + _bs_sinr(p, xs)))), trace, how,
                  notes=notes + [f"tau (satellite share) = {tau:.4f}", f"satellite-slot backhaul {r1:.4f} bit/s/Hz",
                                  f"satellite design: {sat_trace.iterations} CCP iterations"])  # wall time: not in results


def _bs_sinr(p: BeamformingProblem, xs: list) -> np.ndarray:
    rx = np.array([[_q(p.h_ue[k], x) for x in xs] for k in range(p.n_users)])
    sig = np.diag(rx)
    return sig / (rx.sum(1) - sig + p.noise_ue_w)


def solve_ibs(p: BeamformingProblem, opts: SolverOptions = SolverOptions()) -> Design:
    """IBS benchmark: the satellite and the BS design their beams independently. The satellite
    maximises its own backhaul (sensing, Ps; BS interference ignored); the BS then maximises the
    users' sum rate ignoring satellite interference and its own leakage to the ES, with QoS and
    the backhaul cap announced by the satellite. Scored jointly by :func:`evaluate`, with the true
    cross-tier interference; the reported rate is min(sum R_m, R_s) and the violated constraints
    are listed in the report (QoS / backhaul are not guaranteed)."""
    t0 = time.perf_counter()
    trace = Trace()
    sat_trace = Trace()
    y, y0, r1 = _satellite_alone(p, opts, sat_trace)
    xs = _bs_alone(p, opts, trace, rate_min=p.rate_min, cap=r1)
    t1 = time.perf_counter()
    bf, ev, how = extract_rank_one(p, xs, y, y0, opts=opts, waived=("qos (17b)", "backhaul (17c)"))
    trace.extract_s = time.perf_counter() - t1
    trace.total_s = time.perf_counter() - t0
    return Design("ibs", bf, ev, float(np.sum(np.log2(1 + _bs_sinr(p, xs)))), trace, how,
                  notes=[f"designed backhaul {r1:.4f} bit/s/Hz",
                         f"satellite design: {sat_trace.iterations} CCP iterations"])  # wall time: not in results


def solve_das(p: BeamformingProblem, opts: SolverOptions = SolverOptions()) -> Design:
    """DAS benchmark: users are served directly by the satellite (beams u_m, Ns-dim), the BS and
    the backhaul are unused. Sensing (17d) counts the satellite's communication beams as (17d)
    counts the BS's: a_sat^H (sum U_m + V0) a_sat >= Gamma; power sum ||u_m||^2 + Tr V0 <= Ps. Lifted
    CCP as PA1. If DAS is infeasible with the QoS (17b) it is retried without it (noted; the report
    lists the QoS violations); a failure of that retry names the infeasible families."""
    import cvxpy as cp

    t0 = time.perf_counter()
    c = _scaled(p)
    m = p.n_users
    notes: list[str] = []

    def build(rate_min: float) -> tuple[_DcModel, list, Any]:
        us = _covs(p.n_sat, m)
        y0 = _Cov(p.n_sat)
        rx = _rx_matrix(us, c["g"])
        s = cp.diag(rx)
        i = cp.sum(rx, axis=0) - s + y0.q(c["g"])
        tot = sum(u.trace() for u in us) + y0.trace()
        fam = {"sensing (17d)": _sensing(_qsum(us + [y0], c["a_sat"]), p) if p.n_targets else [],
               "satellite power (17e)": [1 - tot]}
        return _DcModel(s, i, families=fam, gamma_min=2**rate_min - 1, power=tot,
                        variables=[u.var for u in us + [y0]], rate_min=rate_min), us, y0

    trace = Trace()
    model, us, y0 = build(p.rate_min)
    try:
        model.run(opts, trace, _FIX, diagnose=False)
    except BeamformingInfeasible:  # retried without (17b); if it still fails, that run names the families
        notes.append("QoS (17b) infeasible for DAS; solved without it")
        trace = Trace()
        model, us, y0 = build(0.0)
        model.run(opts, trace, _FIX)
    t1 = time.perf_counter()
    u_mats = [u.value * p.p_sat_w for u in us]
    bf, ev, how = extract_rank_one(p, [], None, _psd_project(y0.value * p.p_sat_w), us=u_mats, opts=opts,
                                   waived=("qos (17b)",) if notes else ())
    trace.extract_s = time.perf_counter() - t1
    trace.total_s = time.perf_counter() - t0
    return Design("das", bf, ev, trace.objective[-1], trace, how, notes=notes)


# ------------------------------------------------------------------ ISAC: sensing threshold, Fig. 4, CSI radius
BINDING_DUAL_MIN = 1e-3  # bit/s/Hz per dB: (17d) counts as binding when 1 dB more Gamma costs at least this
BINDING_SLACK_DB = 0.01  # ... and the design's EIRP is within this of Gamma_t (evaluator)
DETECTION_MODELS = ("swerling1", "nonfluctuating")


def sensing_report(p: BeamformingProblem, d: Design) -> dict:
    """Whether the sensing constraint (17d) is active at a PA1 / PA2 design: per target the threshold,
    the design's EIRP (evaluator), the slack EIRP / Gamma [dB] and the shadow price (:func:`_sensing_dual`).
    A target binds when its slack is below BINDING_SLACK_DB and its price above BINDING_DUAL_MIN."""
    idx = np.flatnonzero(p.gamma_w > 0)
    if idx.size == 0:
        return {"binding": False, "binding_targets": [], "note": "no sensing constraint (Gamma = 0)"}
    eirp = np.asarray(d.report.beampattern_w, float)
    slack = 10 * np.log10(np.maximum(eirp[idx], 1e-300) / p.gamma_w[idx])
    dual = np.zeros(idx.size) if d.sensing_dual is None else np.asarray(d.sensing_dual, float)[idx]
    bind = (slack < BINDING_SLACK_DB) & (dual > BINDING_DUAL_MIN)
    return {"binding": bool(bind.any()), "binding_targets": idx[bind].tolist(),
            "gamma_dbw": [round(10 * math.log10(float(g)), 4) for g in p.gamma_w[idx]],
            "eirp_dbw": [round(10 * math.log10(max(float(e), 1e-300)), 4) for e in eirp[idx]],
            "slack_db": [round(float(x), 5) for x in slack],
            "dual_bps_hz_per_db": [round(float(x), 6) for x in dual]}


def bs_sensing_limit_w(p: BeamformingProblem, solver: str = "CLARABEL") -> float:
    """The largest EIRP [W] the BS alone can put on every sensing target at once with all of P_T and no
    user served: max_{W >= 0, Tr W <= P_T} min_t a_bs,t W a_bs,t^H (one target: P_T ||a_bs||^2)."""
    import cvxpy as cp

    if not p.n_targets or not np.any(np.abs(p.a_bs) > 0):
        return 0.0
    if p.n_targets == 1:
        return float(p.p_bs_w * np.linalg.norm(p.a_bs[0]) ** 2)
    scale = float(np.max(np.linalg.norm(p.a_bs, axis=1)))
    x, tau = _Cov(p.n_bs), cp.Variable()
    prob = cp.Problem(cp.Maximize(tau), [x.q(p.a_bs / scale) >= tau, x.trace() <= 1])
    if _solve(prob, solver) not in _OK:
        raise RuntimeError(f"BS sensing-limit SDP failed ({prob.status})")
    return float(tau.value) * scale**2 * p.p_bs_w


def with_sensing_dbw(p: BeamformingProblem, gamma_dbw: float) -> BeamformingProblem:
    """The problem with every target's threshold Gamma_t set to ``gamma_dbw``."""
    return p.replace(gamma_w=np.full(p.n_targets, 10 ** (gamma_dbw / 10)))


def bisect_feasible(violation: Callable[[float], float], lo: float, hi: float, *, tol: float,
                    geometric: bool = False, threshold: float = 0.0, hi_infeasible: bool = False) -> dict:
    """Largest x in [lo, hi] with ``violation(x) <= threshold`` for a violation that is ~0 below a boundary
    and grows past it (e.g. the elastic phase 1 with :data:`STRICT_VIOLATION`). Checks both ends, then
    bisects (``geometric``: on log x, to relative ``tol``; else to absolute ``tol``). Returns {"value" (the
    largest x found feasible, None if lo fails), "feasible_at", "infeasible_at" (None if hi is feasible:
    the boundary is >= hi), "violation_at_infeasible", "evaluations"}. ``hi_infeasible``: hi is known to be
    infeasible (not evaluated). (Regula falsi on the violation was tried: near the boundary the
    interior-point violation is too noisy, ~1e-2, for it to save steps.)"""
    n = 0
    v_hi = None

    def f(x: float) -> bool:
        nonlocal n, v_hi
        n += 1
        v = float(violation(x))
        if v > threshold:
            v_hi = v
        return v <= threshold

    if not f(lo):
        return {"value": None, "feasible_at": None, "infeasible_at": lo, "violation_at_infeasible": v_hi,
                "evaluations": n}
    if not hi_infeasible and f(hi):
        return {"value": hi, "feasible_at": hi, "infeasible_at": None, "violation_at_infeasible": None,
                "evaluations": n}
    v_at_hi = v_hi
    while (hi / lo - 1 if geometric else hi - lo) > tol:
        mid = math.sqrt(lo * hi) if geometric else 0.5 * (lo + hi)
        if f(mid):
            lo = mid
        else:
            hi, v_at_hi = mid, v_hi
    return {"value": lo, "feasible_at": lo, "infeasible_at": hi, "violation_at_infeasible": v_at_hi,
            "evaluations": n}


def max_feasible_sensing_dbw(p: BeamformingProblem, *, tol_db: float = 0.05, lo_dbw: float | None = None,
                             solver: str = "CLARABEL") -> dict:
    """Largest common threshold Gamma [dBW] at which PA1's phase-1 SDP is feasible (Algorithm 1 can start;
    beyond it every user at r0 with the backhaul and sensing is impossible), by bisection to ``tol_db``.
    Bracket: ``lo_dbw`` (default 30 dB below the upper end) and the EIRP each target would get if both
    transmitters spent their whole budgets on it alone, an upper bound on any feasible Gamma."""
    if not p.n_targets:
        raise ValueError("the problem has no sensing target")
    full = p.p_bs_w * np.linalg.norm(p.a_bs, axis=1) ** 2 + p.p_sat_w * np.linalg.norm(p.a_sat, axis=1) ** 2
    hi = 10 * math.log10(float(full.min())) + 0.1
    lo = hi - 30.0 if lo_dbw is None else lo_dbw
    model, _ = _joint_model(with_sensing_dbw(p, hi), False, gamma_param=True)  # compiled once

    def violation(g: float) -> float:
        model.set_sensing_scale(10 ** ((g - hi) / 10))
        return model.phase1_violation(solver)
    return bisect_feasible(violation, lo, hi, tol=tol_db, threshold=STRICT_VIOLATION)


def max_feasible_csi_error(p: BeamformingProblem, reading: str, *, rel_tol: float = 0.05,
                           bounds: str = "cauchy-schwarz", solver: str = "CLARABEL") -> dict:
    """Largest CSI error radius eps (all four of (44)-(47), read as ``reading``, see
    :meth:`BeamformingProblem.with_csi_error`) at which PA2's phase-1 SDP is feasible (elastic violation
    <= STRICT_VIOLATION), by bisection on log eps to ``rel_tol``. Bracket: 1e-3 of the upper end (value None
    if even that fails), and the radius at which the weakest user's Cauchy-Schwarz signal bound
    ||c||^2 - 2 delta ||c|| reaches 0, so that its QoS fails when r0 > 0 (relative 0.5; absolute half the
    smallest noise-normalised BS-user row norm; not evaluated then)."""
    if reading not in CSI_READINGS:
        raise ValueError(f"reading must be one of {CSI_READINGS}")
    hi = 0.5 if reading == "relative" else 0.5 * float(np.min(np.linalg.norm(_scaled(p)["h"], axis=1)))
    if bounds == "cauchy-schwarz":  # one compiled model, the radii as parameters
        model, _ = _joint_model(p.with_csi_error(hi, reading), True, eps_param=True)

        def violation(e: float) -> float:
            model.set_csi_error(e)
            return model.phase1_violation(solver)
    else:
        def violation(e: float) -> float:
            return _joint_model(p.with_csi_error(e, reading), True, bounds)[0].phase1_violation(solver)
    out = bisect_feasible(violation, 1e-3 * hi, hi, tol=rel_tol, geometric=True, threshold=STRICT_VIOLATION,
                          hi_infeasible=p.rate_min > 0)
    return {**out, "reading": reading, "bounds": bounds}


@dataclass(frozen=True)
class RadarSetting:
    """Monostatic detector behind Fig. 4 (a reconstruction: Wang & Wang plot a detection probability
    against Gamma but give no detector, receiver or target model). The node whose array ``receiver``
    names ("satellite" or "bs") receives the echo with maximum-ratio combining over its elements
    (receive gain ||a_rx,t||^2, the same rows as (17d)); the echo SNR of target t after ``samples``
    coherently integrated samples is the radar equation applied to the beampattern gain of (17d):

        SNR_t = P(theta_t) G_rx,t lambda^2 rcs N / ((4 pi)^3 d_t^4 sigma^2),   P(theta_t) = EIRP of (17d)

    and a Neyman-Pearson detector at false-alarm probability ``pfa`` decides on |y|^2 of the matched-
    filter output (:func:`detection_probability`)."""

    receiver: str = "satellite"
    pfa: float = 1e-6
    rcs_m2: float = 10.0
    samples: float = 1.0
    target_model: str = "swerling1"


def detection_probability(snr: Any, pfa: float, model: str = "swerling1") -> np.ndarray:
    """P_D of the Neyman-Pearson detector |y|^2 > -sigma^2 ln(pfa) on one complex matched-filter output
    y = alpha + n, n ~ CN(0, sigma^2), SNR = E|alpha|^2 / sigma^2:

    - "swerling1": alpha ~ CN(0, SNR sigma^2) (Rayleigh-fluctuating RCS): P_D = pfa^(1 / (1 + SNR));
    - "nonfluctuating": |alpha| fixed, phase uniform (the NP test is then |y| > tau): P_D = Q_1(sqrt(2 SNR),
      sqrt(-2 ln pfa)), Marcum Q, as the survival function of a non-central chi^2 with 2 degrees of freedom."""
    snr = np.maximum(np.asarray(snr, float), 0.0)
    if not 0 < pfa < 1:
        raise ValueError("pfa must lie in (0, 1)")
    if model == "swerling1":
        return pfa ** (1.0 / (1.0 + snr))
    if model == "nonfluctuating":
        from scipy.stats import ncx2

        return ncx2.sf(-2.0 * math.log(pfa), 2, 2.0 * snr)
    raise ValueError(f"model must be one of {DETECTION_MODELS}")


def echo_snr_per_w(p: BeamformingProblem, radar: RadarSetting, *, freq_hz: float | None = None) -> np.ndarray:
    """(T,) echo SNR per watt of beampattern gain P(theta_t) (see :class:`RadarSetting`). Needs the
    receiver's and the targets' positions and the carrier in ``p.meta`` ("sat_xyz" or the BS's "site_xyz" /
    "bs_xyz",
    and "target_xyz"); the receiver noise is the ES's (satellite) or the users' (BS)."""
    meta = p.meta
    if radar.receiver == "satellite":
        rx_xyz, rows, noise = meta["sat_xyz"], p.a_sat, p.noise_es_w
    elif radar.receiver == "bs":
        rx_xyz, rows, noise = meta.get("site_xyz", meta.get("bs_xyz")), p.a_bs, float(np.mean(p.noise_ue_w))
    else:
        raise ValueError("receiver must be 'satellite' or 'bs'")
    rng = np.linalg.norm(np.asarray(meta["target_xyz"], float) - np.asarray(rx_xyz, float), axis=-1)
    lam = C_M_S / (meta["freq_hz"] if freq_hz is None else freq_hz)
    g_rx = np.linalg.norm(rows, axis=1) ** 2
    return g_rx * lam**2 * radar.rcs_m2 * radar.samples / ((4 * math.pi) ** 3 * rng**4 * noise)


def detection_curve(p: BeamformingProblem, radar: RadarSetting, eirp_w: Any, *, freq_hz: float | None = None
                    ) -> np.ndarray:
    """P_D of each target (last axis) at beampattern gains ``eirp_w`` (..., T) [W]."""
    return detection_probability(np.asarray(eirp_w, float) * echo_snr_per_w(p, radar, freq_hz=freq_hz),
                                 radar.pfa, radar.target_model)


def tradeoff_gammas_dbw(gamma_dbw: float, gamma_max: dict, *, below_db: float, points: int,
                        margin_db: float = 0.25, beyond_db: float = 0.5) -> list[float]:
    """Thresholds of the sum-rate / sensing trade-off: ``points`` evenly spaced [dB] from ``below_db`` under
    the default Gamma (which is added) to ``margin_db`` under the largest feasible one (``gamma_max`` from
    :func:`max_feasible_sensing_dbw`; within ~0.1 dB of the boundary the phase-1 SDP is ill-conditioned and
    feasibility depends on solver tolerances), then one ``beyond_db`` past the first infeasible one (PA1
    must report it infeasible)."""
    top = gamma_max.get("value")
    if top is None:
        return [gamma_dbw]
    top -= margin_db if gamma_max.get("infeasible_at") is not None else 0.0
    lo = min(gamma_dbw - below_db, top)
    out = [round(float(g), 3) for g in np.linspace(lo, top, max(points, 2))]
    if lo < gamma_dbw < top:  # the default threshold itself
        out = sorted(set(out) | {round(float(gamma_dbw), 3)})
    if gamma_max.get("infeasible_at") is not None:
        out.append(round(float(gamma_max["infeasible_at"]) + beyond_db, 3))
    return out


def sensing_tradeoff(p: BeamformingProblem, gammas_dbw: Sequence[float], opts: SolverOptions = SolverOptions(),
                     ) -> tuple[list[dict], dict]:
    """Sum rate vs the common sensing threshold Gamma (Wang & Wang's Fig. 4 trade-off): PA1 at each Gamma,
    from the highest down, each CCP warm-started from the design at the next higher Gamma (continuation:
    that design is feasible at a lower threshold, so the curve found is never below a cold start from it;
    phase 1 where there is none or it was infeasible). Where the higher-Gamma design's beams, re-scored
    by the evaluator at this Gamma, deliver more than this Gamma's own extracted design (rank-one
    extraction losses), they are kept ("design_from_gamma_dbw"; the shadow price stays this Gamma's).
    Returns per point {gamma_dbw, sum_rate_bps_hz (None if infeasible), feasible (evaluator), sensing
    (:func:`sensing_report`), ...} in ascending Gamma, and the designs by Gamma."""
    rows: dict[float, dict] = {}
    designs: dict[float, Design] = {}
    prev: Design | None = None
    prev_g = None
    for g in sorted(set(float(x) for x in gammas_dbw), reverse=True):
        q = with_sensing_dbw(p, g)
        t0 = time.perf_counter()
        try:
            d = solve_pa1(q, opts, start=prev, diagnose=False)
        except BeamformingInfeasible as exc:
            rows[g] = {"gamma_dbw": g, "sum_rate_bps_hz": None, "feasible": False, "infeasible": str(exc),
                       "binding": exc.families, "seconds_total": round(time.perf_counter() - t0, 3)}
            prev = None
            continue
        kept = None
        if prev is not None:  # its beams meet a lower threshold too; rank-one extraction can lose more here
            ev = evaluate(q, prev.beams)
            if ev.feasible and (not d.report.feasible or ev.delivered_sum_rate > d.sum_rate + 1e-9):
                d = dataclasses.replace(prev, report=ev, sensing_dual=d.sensing_dual, trace=d.trace,
                                        warm_started=d.warm_started)
                kept = prev_g
        designs[g] = d
        rep = sensing_report(q, d)
        rows[g] = {"gamma_dbw": g, "sum_rate_bps_hz": round(float(d.sum_rate), 6),
                   "backhaul_rate_bps_hz": round(float(d.report.backhaul_rate), 6), "feasible": d.report.feasible,
                   "violations": d.report.violations, "sensing": rep, "iterations": d.trace.iterations,
                   "warm_started": d.warm_started, "design_from_gamma_dbw": kept,
                   "seconds_total": round(time.perf_counter() - t0, 3)}
        if d.report.feasible:
            prev, prev_g = d, (g if kept is None else kept)
        else:
            prev = None
    return [rows[g] for g in sorted(rows)], designs


def detection_data(p: BeamformingProblem, radar: RadarSetting, tradeoff: Sequence[dict], *,
                   gamma_grid_dbw: Sequence[float] | None = None) -> dict:
    """Fig. 4 (reconstructed detector, :class:`RadarSetting`): P_D of every target at each trade-off design's
    beampattern gain (evaluator) and their minimum, the P_D a design meeting Gamma exactly guarantees (per
    target at Gamma, minimum over targets), against Gamma; and the echo SNR per watt."""
    k = echo_snr_per_w(p, radar)
    pts = [r for r in tradeoff if r.get("sum_rate_bps_hz") is not None]
    eirp = np.array([[10 ** (e / 10) for e in r["sensing"]["eirp_dbw"]] for r in pts]) if pts else np.zeros((0, 0))
    idx = np.flatnonzero(p.gamma_w > 0)
    pd = detection_probability(eirp * k[idx], radar.pfa, radar.target_model) if pts else np.zeros((0, 0))
    grid = np.asarray(gamma_grid_dbw if gamma_grid_dbw is not None else [r["gamma_dbw"] for r in tradeoff], float)
    guaranteed = detection_probability(10 ** (grid[:, None] / 10) * k[idx], radar.pfa, radar.target_model).min(1)
    return {"reconstruction": "Neyman-Pearson detector on the matched-filter output, echo SNR from the radar "
                              "equation on the (17d) beampattern gain (no detector in Wang & Wang)",
            "receiver": radar.receiver, "pfa": radar.pfa, "rcs_m2": radar.rcs_m2, "samples": radar.samples,
            "target_model": radar.target_model,
            "echo_snr_per_w_db": [round(10 * math.log10(float(x)), 3) for x in k[idx]],
            "gamma_dbw": [r["gamma_dbw"] for r in pts],
            "sum_rate_bps_hz": [r["sum_rate_bps_hz"] for r in pts],
            "detection_probability": [round(float(x), 6) for x in pd.min(1)] if pts else [],
            "detection_probability_per_target": [[round(float(x), 6) for x in row] for row in pd],
            "guaranteed_gamma_dbw": [round(float(x), 3) for x in grid],
            "guaranteed_detection_probability": [round(float(x), 6) for x in guaranteed]}


SCHEMES: dict[str, Callable[..., Design]] = {"pa1": solve_pa1, "pa2": solve_pa2, "das": solve_das,
                                             "tdma": solve_tdma, "ibs": solve_ibs}


# ------------------------------------------------------------------ sweeps and figures (Figs. 2, 3, 5-8)
SWEEPS = ("p_sat_dbw", "p_bs_dbw", "bs_antennas", "n_users")


@dataclass
class SweepResult:
    parameter: str
    values: list
    sum_rate: dict  # scheme -> list of delivered sum rates (nan where infeasible)
    backhaul: dict  # scheme -> list of backhaul rates
    status: dict  # scheme -> list of "ok" / violation or infeasibility text
    runtime_s: dict


def setting_for(setting: PaperSetting, parameter: str, value: Any) -> PaperSetting:
    if parameter == "bs_antennas":  # n -> sqrt(n) x sqrt(n) UPA (1 x n if n is not a square), or (rows, cols)
        if isinstance(value, (tuple, list)):
            rows, cols = value
        else:
            r = math.isqrt(int(value))
            rows, cols = (r, r) if r * r == int(value) else (1, int(value))
        return dataclasses.replace(setting, bs_rows=int(rows), bs_cols=int(cols))
    if parameter == "n_users":
        return dataclasses.replace(setting, n_users=int(value))
    return dataclasses.replace(setting, **{parameter: float(value)})


def sweep(parameter: str, values: Sequence, *, setting: PaperSetting = PaperSetting(), seed: int = 0,
          schemes: Sequence[str] = ("pa1", "pa2", "das", "tdma", "ibs"), quick: bool = False) -> SweepResult:
    """Sum rate vs Ps (Fig. 5), PT (Fig. 6), BS antennas (Fig. 7: int n -> sqrt(n) x sqrt(n) UPA, or
    (rows, cols)) or users (Fig. 8). Powers reuse the seed's channels; antenna/user sweeps redraw
    the scenario with the same seed. Infeasible points give nan and the reason."""
    if parameter not in SWEEPS:
        raise ValueError(f"parameter must be one of {SWEEPS}")
    opts = SolverOptions.quick() if quick else SolverOptions()
    res = SweepResult(parameter, list(values), {s: [] for s in schemes}, {s: [] for s in schemes},
                      {s: [] for s in schemes}, {s: [] for s in schemes})
    base = paper_problem(seed, setting)
    for val in values:
        if parameter == "p_sat_dbw":
            prob = base.with_powers(p_sat_dbw=float(val))
        elif parameter == "p_bs_dbw":
            prob = base.with_powers(p_bs_dbw=float(val))
        else:
            prob = paper_problem(seed, setting_for(setting, parameter, val))
        for sch in schemes:
            t0 = time.perf_counter()
            try:
                d = SCHEMES[sch](prob, opts)
                res.sum_rate[sch].append(d.sum_rate)
                res.backhaul[sch].append(d.report.backhaul_rate)
                res.status[sch].append("ok" if d.report.feasible else "; ".join(d.report.violations))
            except BeamformingInfeasible as exc:
                res.sum_rate[sch].append(float("nan"))
                res.backhaul[sch].append(float("nan"))
                res.status[sch].append(str(exc))
            res.runtime_s[sch].append(time.perf_counter() - t0)
    return res


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


def plot_convergence(traces: dict, path: Any) -> None:
    """Fig. 2: lifted sum rate vs iteration, one line per label (e.g. 'PA1, Ps = 30 dBW')."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for label, tr in traces.items():
        ax.plot(range(len(tr.objective)), tr.objective, marker="o", ms=3, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("sum rate [bit/s/Hz]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


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
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_sweep(res: SweepResult, path: Any, *, xlabel: str | None = None) -> None:
    """Figs. 5-8: delivered sum rate per scheme vs the swept parameter."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    x = [v if not isinstance(v, (tuple, list)) else v[0] * v[1] for v in res.values]
    for sch, ys in res.sum_rate.items():
        ax.plot(x, ys, marker="o", ms=4, label=sch.upper())
    ax.set_xlabel(xlabel or res.parameter)
    ax.set_ylabel("sum rate [bit/s/Hz]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


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
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax2.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


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
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="center left")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
