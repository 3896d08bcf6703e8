"""Antenna patterns: closed forms (NumPy) and the same patterns registered in Sionna RT.

Angles follow Sionna RT's antenna frame: ``theta`` is the zenith angle and ``phi`` the
azimuth in the antenna's local frame, whose boresight is +x (``theta = pi/2, phi = 0``).
Each NumPy function is the reference the registered Dr.Jit pattern is tested against.

Registered pattern names (use with ``sionna.rt.PlanarArray(pattern=...)``):

- ``stin_element``: TR 38.901 Table 7.3-1 element with configurable maximum gain and
  beamwidths (the UE rooftop patch uses it with its own values);
- ``stin_patch``: the car's rooftop patch element, rotationally symmetric about its
  boresight (TR 38.901 vertical cut turned about the boresight, pipeline.radio.receiver);
- ``stin_f1336``: ITU-R F.1336-5 recommends 3.1.1 / 3.1.2 sectoral (non-AAS) pattern;
- ``stin_bessel``: TR 38.811 section 6.4.1 circular-aperture (Bessel) satellite pattern.

Gains are power gains; the field pattern is ``sqrt(G)`` in the theta component (vertical
polarisation) and Sionna's polarisation models rotate it for other slants.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import j1

SPEED_OF_LIGHT_M_S = 299_792_458.0  # exact (SI)

# TR 38.901 Table 7.3-1 (docs/models/antennas.md)
TR38901_THETA_3DB_DEG = 65.0
TR38901_PHI_3DB_DEG = 65.0
TR38901_SLA_V_DB = 30.0
TR38901_A_MAX_DB = 30.0
TR38901_G_MAX_DBI = 8.0

# ITU-R F.1336-5 recommends 3.1.1, typical antennas (docs/models/antennas.md)
F1336_K_P = 0.7
F1336_K_H = 0.8
F1336_K_V = 0.7
F1336_SIDELOBES = ("peak", "average")  # recommends 3.1.1 / 3.1.2

BESSEL_MIN_GAIN_DB = -100.0  # ns-3 CircularApertureAntennaModel floor beyond 90 deg


# ------------------------------------------------------------------ closed forms (NumPy)
def tr38901_element_gain_db(theta: Any, phi: Any, *, g_max_dbi: float = TR38901_G_MAX_DBI,
                            theta_3db_deg: float = TR38901_THETA_3DB_DEG,
                            phi_3db_deg: float = TR38901_PHI_3DB_DEG,
                            sla_v_db: float = TR38901_SLA_V_DB,
                            a_max_db: float = TR38901_A_MAX_DB) -> np.ndarray:
    """TR 38.901 Table 7.3-1 element gain [dBi].

    A_V = -min(12 ((theta - 90)/theta_3dB)^2, SLA_V), A_H = -min(12 (phi/phi_3dB)^2, A_max),
    G = G_max - min(-(A_V + A_H), A_max).
    """
    theta_deg = np.degrees(np.asarray(theta, float))
    phi_deg = (np.degrees(np.asarray(phi, float)) + 180.0) % 360.0 - 180.0
    a_v = -np.minimum(12.0 * ((theta_deg - 90.0) / theta_3db_deg) ** 2, sla_v_db)
    a_h = -np.minimum(12.0 * (phi_deg / phi_3db_deg) ** 2, a_max_db)
    return g_max_dbi - np.minimum(-(a_v + a_h), a_max_db)


def f1336_theta_3db_deg(g0_dbi: float, phi_3db_deg: float) -> float:
    """F.1336-5 recommends 3.3: theta_3 = 31000 * 10^(-0.1 G0) / phi_3 [deg]."""
    return 31000.0 * 10 ** (-0.1 * g0_dbi) / phi_3db_deg


def f1336_constants(g0_dbi: float, phi_3db_deg: float, *, k_p: float = F1336_K_P, k_h: float = F1336_K_H,
                    k_v: float = F1336_K_V, sidelobes: str = "peak",
                    theta_3db_deg: float | None = None) -> dict[str, float]:
    """Constants of the F.1336-5 sectoral pattern: recommends 3.1.1 (``peak`` side lobes) or
    3.1.2 (``average`` side lobes, for the aggregate interference of many antennas).

    peak:    G180 = -12 + 10 log10(1 + 8 k_p) - 15 log10(180/theta_3), x_k = sqrt(1 - 0.36 k_v),
             G_vr = -12 + 10 log10(x^-1.5 + k_v) on [x_k, 4), -lambda_kv - C log10(x) on [4, 90/theta_3);
    average: G180 = -15 + 10 log10(1 + 8 k_a) - 15 log10(180/theta_3), x_k = sqrt(1.33 - 0.33 k_v),
             G_vr = -15 + 10 log10(x^-1.5 + k_v) on [x_k, 4), -lambda_kv - 3 - C log10(x) on [4, 90/theta_3),
    with k_a = k_p = 0.7 and C, lambda_kv as in recommends 3.1.1 (docs/models/antennas.md).
    """
    if sidelobes not in F1336_SIDELOBES:
        raise ValueError(f"F.1336 side lobes {sidelobes!r}: use one of {F1336_SIDELOBES}")
    th3 = theta_3db_deg if theta_3db_deg is not None else f1336_theta_3db_deg(g0_dbi, phi_3db_deg)
    avg = sidelobes == "average"
    g180 = (-15.0 if avg else -12.0) + 10 * math.log10(1 + 8 * k_p) - 15 * math.log10(180.0 / th3)
    c = 10 * math.log10((180.0 / th3) ** 1.5 * (4 ** -1.5 + k_v) / (1 + 8 * k_p)) / math.log10(22.5 / th3)
    return {"th3": th3, "g180": g180, "lam_kh": 3 * (1 - 0.5 ** (-k_h)), "c": c,
            "x_k": math.sqrt(1.33 - 0.33 * k_v) if avg else math.sqrt(1 - 0.36 * k_v),
            "vr_near": -15.0 if avg else -12.0,
            "lam_kv": 12 - c * math.log10(4) - 10 * math.log10(4 ** -1.5 + k_v) + (3.0 if avg else 0.0)}


def f1336_sectoral_gain_db(azimuth_deg: Any, elevation_deg: Any, *, g0_dbi: float, phi_3db_deg: float,
                           k_p: float = F1336_K_P, k_h: float = F1336_K_H, k_v: float = F1336_K_V,
                           theta_3db_deg: float | None = None, electrical_tilt_deg: float = 0.0,
                           sidelobes: str = "peak") -> np.ndarray:
    """ITU-R F.1336-5 sectoral pattern [dBi]: recommends 3.1.1 (peak side lobes) or 3.1.2
    (``sidelobes="average"``), see :func:`f1336_constants`.

    G = G0 + G_hr(x_h) + R G_vr(x_v), x_h = |phi|/phi_3, x_v = |theta|/theta_3, with the
    piecewise G_hr, G_vr, R of recommends 3.1 (docs/models/antennas.md; elevation measured from the max-gain
    direction, azimuth from boresight). An electrical downtilt beta (recommends 3.5) maps the
    elevation theta_h to 90 (theta_h + beta) / (90 + beta) if theta_h + beta >= 0, else
    90 (theta_h + beta) / (90 - beta).
    """
    k = f1336_constants(g0_dbi, phi_3db_deg, k_p=k_p, k_h=k_h, k_v=k_v, sidelobes=sidelobes,
                        theta_3db_deg=theta_3db_deg)
    th3, g180, lam_kh = k["th3"], k["g180"], k["lam_kh"]

    def g_hr(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        with np.errstate(divide="ignore"):
            g = np.where(x <= 0.5, -12 * x**2, -12 * np.power(np.maximum(x, 1e-12), 2 - k_h) - lam_kh)
        return np.maximum(g, g180)

    x_k, c, lam_kv, vr_near = k["x_k"], k["c"], k["lam_kv"], k["vr_near"]

    def g_vr(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        xs = np.maximum(x, 1e-12)
        g = np.where(x < x_k, -12 * x**2,
                     np.where(x < 4, vr_near + 10 * np.log10(xs ** -1.5 + k_v),
                              np.where(x < 90.0 / th3, -lam_kv - c * np.log10(xs), g180)))
        return g

    az = (np.asarray(azimuth_deg, float) + 180.0) % 360.0 - 180.0
    x_h = np.abs(az) / phi_3db_deg
    x_v = np.abs(f1336_electrical_tilt(np.asarray(elevation_deg, float), electrical_tilt_deg)) / th3
    g_hr_180 = g_hr(np.asarray(180.0 / phi_3db_deg))
    r = (g_hr(x_h) - g_hr_180) / (g_hr(np.asarray(0.0)) - g_hr_180)
    return g0_dbi + g_hr(x_h) + r * g_vr(x_v)


def f1336_electrical_tilt(elevation_deg: Any, tilt_deg: float) -> np.ndarray:
    """F.1336-5 recommends 3.5: elevation seen by a pattern electrically tilted down by ``tilt_deg``."""
    e = np.asarray(elevation_deg, float) + tilt_deg
    return np.where(e >= 0, 90.0 * e / (90.0 + tilt_deg), 90.0 * e / (90.0 - tilt_deg))


def bessel_gain_db(off_axis_rad: Any, *, aperture_diameter_m: float, freq_hz: float,
                   g_max_dbi: float) -> np.ndarray:
    """TR 38.811 section 6.4.1 circular-aperture pattern [dBi].

    G(theta) = G_max + 10 log10(4 |J1(k a sin theta) / (k a sin theta)|^2), k = 2 pi f / c,
    a = aperture radius; G_max at theta = 0; floor of -100 dB beyond 90 deg (ns-3).
    """
    theta = np.abs(np.asarray(off_axis_rad, float))
    ka = 2 * math.pi * freq_hz / SPEED_OF_LIGHT_M_S * aperture_diameter_m / 2
    x = ka * np.sin(theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(x < 1e-9, 1.0, 4 * (j1(x) / np.where(x < 1e-9, 1.0, x)) ** 2)
    gain = g_max_dbi + 10 * np.log10(np.maximum(rel, 10 ** (BESSEL_MIN_GAIN_DB / 10)))
    return np.where(theta >= math.pi / 2, g_max_dbi + BESSEL_MIN_GAIN_DB, gain)


def bessel_3db_beamwidth_deg(aperture_diameter_m: float, freq_hz: float) -> float:
    """Full 3 dB beamwidth 2 asin(1.61634 / (k a)): |2 J1(x) / x|^2 = 1/2 at x = 1.61634 (TR 38.811 6.4.1 pattern)."""
    ka = 2 * math.pi * freq_hz / SPEED_OF_LIGHT_M_S * aperture_diameter_m / 2
    return math.degrees(2 * math.asin(1.61634 / ka))


def ura_array_gain_db(theta: Any, phi: Any, *, rows: int, cols: int, vertical_spacing_wl: float,
                      horizontal_spacing_wl: float, steer_theta: float = math.pi / 2,
                      steer_phi: float = 0.0) -> np.ndarray:
    """Array gain 10 log10(|AF|^2 / N) of a uniform rectangular array in the y-z plane.

    Elements at (0, y_n, z_m) (Sionna's PlanarArray layout), weights phased toward
    (steer_theta, steer_phi); the peak is 10 log10(rows * cols).
    """
    theta = np.asarray(theta, float)
    phi = np.asarray(phi, float)

    def direction(t, p):
        return np.sin(t) * np.sin(p), np.cos(t)  # y and z components

    ky, kz = direction(theta, phi)
    sy, sz = direction(steer_theta, steer_phi)
    n_y = np.arange(cols) - (cols - 1) / 2
    n_z = np.arange(rows) - (rows - 1) / 2
    psi_y = 2 * math.pi * horizontal_spacing_wl * (ky - sy)
    psi_z = 2 * math.pi * vertical_spacing_wl * (kz - sz)
    af_y = np.exp(1j * np.multiply.outer(psi_y, n_y)).sum(-1)
    af_z = np.exp(1j * np.multiply.outer(psi_z, n_z)).sum(-1)
    power = np.abs(af_y * af_z) ** 2 / (rows * cols)
    return 10 * np.log10(np.maximum(power, 1e-30))


# ------------------------------------------------------------------ Sionna RT patterns (Dr.Jit)
def _j1_drjit(x):  # noqa: ANN001, ANN202
    """Bessel J1 for x >= 0 (Abramowitz & Stegun 9.4.4 / 9.4.6, |error| < 1.3e-8)."""
    import drjit as dr  # noqa: PLC0415

    t = x / 3.0
    t2 = t * t
    small = x * (0.5 + t2 * (-0.56249985 + t2 * (0.21093573 + t2 * (-0.03954289 + t2 * (
        0.00443319 + t2 * (-0.00031761 + t2 * 0.00001109))))))
    u = 3.0 / dr.maximum(x, 3.0)
    f1 = 0.79788456 + u * (0.00000156 + u * (0.01659667 + u * (0.00017105 + u * (
        -0.00249511 + u * (0.00113653 - u * 0.00020033)))))
    th = x - 2.35619449 + u * (0.12499612 + u * (0.00005650 + u * (-0.00637879 + u * (
        0.00074348 + u * (0.00079824 - u * 0.00029166)))))
    large = f1 * dr.cos(th) / dr.sqrt(dr.maximum(x, 3.0))
    return dr.select(x < 3.0, small, large)


def _register() -> None:
    """Register the patterns in Sionna RT's registry (idempotent)."""
    from pipeline.runtime import import_sionna_rt  # noqa: PLC0415

    rt = import_sionna_rt()
    import drjit as dr  # noqa: PLC0415
    import mitsuba as mi  # noqa: PLC0415

    def wrap_phi(phi):  # noqa: ANN001, ANN202
        phi = phi + dr.pi
        phi -= dr.floor(phi / (2.0 * dr.pi)) * 2.0 * dr.pi
        return phi - dr.pi

    def element_factory(*, polarization: str = "V", polarization_model: str = "tr38901_2",
                        g_max_dbi: float = TR38901_G_MAX_DBI, theta_3db_deg: float = TR38901_THETA_3DB_DEG,
                        phi_3db_deg: float = TR38901_PHI_3DB_DEG, sla_v_db: float = TR38901_SLA_V_DB,
                        a_max_db: float = TR38901_A_MAX_DB):  # noqa: ANN202
        th3, ph3 = math.radians(theta_3db_deg), math.radians(phi_3db_deg)

        def v_pattern(theta, phi):  # noqa: ANN001, ANN202
            phi = wrap_phi(phi)
            a_v = -dr.minimum(12.0 * ((theta - dr.pi / 2.0) / th3) ** 2, sla_v_db)
            a_h = -dr.minimum(12.0 * (phi / ph3) ** 2, a_max_db)
            a_db = g_max_dbi - dr.minimum(-(a_v + a_h), a_max_db)
            return mi.Complex2f(dr.sqrt(dr.power(10.0, a_db / 10.0)), 0)

        return rt.PolarizedAntennaPattern(v_pattern=v_pattern, polarization=polarization,
                                          polarization_model=polarization_model)

    def bessel_factory(*, polarization: str = "V", polarization_model: str = "tr38901_2",
                       aperture_diameter_m: float, freq_hz: float, g_max_dbi: float):  # noqa: ANN202
        ka = 2 * math.pi * freq_hz / SPEED_OF_LIGHT_M_S * aperture_diameter_m / 2
        floor_lin = 10 ** (BESSEL_MIN_GAIN_DB / 10)
        g_max_lin = 10 ** (g_max_dbi / 10)

        def v_pattern(theta, phi):  # noqa: ANN001, ANN202
            # off-boresight angle from +x: cos = sin(theta) cos(phi)
            cos_off = dr.sin(theta) * dr.cos(phi)
            # sin from the transverse components (no cancellation near boresight in float32)
            sin_off = dr.sqrt(dr.square(dr.sin(theta) * dr.sin(phi)) + dr.square(dr.cos(theta)))
            x = ka * sin_off
            rel = dr.select(x < 1e-6, 1.0, 4.0 * dr.square(_j1_drjit(x) / dr.maximum(x, 1e-6)))
            rel = dr.select(cos_off <= 0.0, floor_lin, dr.maximum(rel, floor_lin))
            return mi.Complex2f(dr.sqrt(g_max_lin * rel), 0)

        return rt.PolarizedAntennaPattern(v_pattern=v_pattern, polarization=polarization,
                                          polarization_model=polarization_model)

    def f1336_factory(*, polarization: str = "V", polarization_model: str = "tr38901_2",
                      g0_dbi: float, phi_3db_deg: float, k_p: float = F1336_K_P,
                      k_h: float = F1336_K_H, k_v: float = F1336_K_V,
                      electrical_tilt_deg: float = 0.0, sidelobes: str = "peak"):  # noqa: ANN202
        k = f1336_constants(g0_dbi, phi_3db_deg, k_p=k_p, k_h=k_h, k_v=k_v, sidelobes=sidelobes)
        th3, g180, lam_kh, x_k, c, lam_kv = k["th3"], k["g180"], k["lam_kh"], k["x_k"], k["c"], k["lam_kv"]
        vr_near = k["vr_near"]

        def g_hr(x):  # noqa: ANN001, ANN202
            g = dr.select(x <= 0.5, -12.0 * x * x,
                          -12.0 * dr.power(dr.maximum(x, 1e-12), 2.0 - k_h) - lam_kh)
            return dr.maximum(g, g180)

        g_hr_0 = 0.0
        x180 = 180.0 / phi_3db_deg
        g_hr_180 = max(-12 * x180**2 if x180 <= 0.5 else -12 * x180 ** (2 - k_h) - lam_kh, g180)

        def v_pattern(theta, phi):  # noqa: ANN001, ANN202
            az = dr.abs(wrap_phi(phi)) * (180.0 / dr.pi)
            el = 90.0 - theta * (180.0 / dr.pi) + electrical_tilt_deg
            el = dr.abs(dr.select(el >= 0.0, 90.0 * el / (90.0 + electrical_tilt_deg),
                                  90.0 * el / (90.0 - electrical_tilt_deg)))
            x_h = az / phi_3db_deg
            x_v = el / th3
            xs = dr.maximum(x_v, 1e-12)
            g_vr = dr.select(x_v < x_k, -12.0 * x_v * x_v,
                             dr.select(x_v < 4.0, vr_near + 10.0 * dr.log(dr.power(xs, -1.5) + k_v) / dr.log(10.0),
                                       dr.select(x_v < 90.0 / th3, -lam_kv - c * dr.log(xs) / dr.log(10.0), g180)))
            ghr = g_hr(x_h)
            r = (ghr - g_hr_180) / (g_hr_0 - g_hr_180)
            g_db = g0_dbi + ghr + r * g_vr
            return mi.Complex2f(dr.sqrt(dr.power(10.0, g_db / 10.0)), 0)

        return rt.PolarizedAntennaPattern(v_pattern=v_pattern, polarization=polarization,
                                          polarization_model=polarization_model)

    def patch_factory(*, polarization: str = "V", polarization_model: str = "tr38901_2",
                      g_max_dbi: float, theta_3db_deg: float, a_max_db: float = TR38901_A_MAX_DB):  # noqa: ANN202
        def v_pattern(theta, phi):  # noqa: ANN001, ANN202
            # angle off the boresight (+x): cos = sin(theta) cos(phi)
            off_deg = dr.acos(dr.clip(dr.sin(theta) * dr.cos(phi), -1.0, 1.0)) * (180.0 / dr.pi)
            a_db = g_max_dbi - dr.minimum(12.0 * dr.square(off_deg / theta_3db_deg), a_max_db)
            return mi.Complex2f(dr.sqrt(dr.power(10.0, a_db / 10.0)), 0)

        return rt.PolarizedAntennaPattern(v_pattern=v_pattern, polarization=polarization,
                                          polarization_model=polarization_model)

    rt.register_antenna_pattern("stin_element", element_factory)
    rt.register_antenna_pattern("stin_patch", patch_factory)
    rt.register_antenna_pattern("stin_bessel", bessel_factory)
    rt.register_antenna_pattern("stin_f1336", f1336_factory)


_REGISTERED = False


def register_patterns() -> None:
    """Make the ``stin_*`` patterns available to Sionna RT (safe to call repeatedly)."""
    global _REGISTERED  # noqa: PLW0603
    if not _REGISTERED:
        _register()
        _REGISTERED = True


def pattern_gain_db(name: str, theta: np.ndarray, phi: np.ndarray, **kwargs: Any) -> np.ndarray:
    """Evaluate a registered Sionna RT pattern's power gain [dBi] at (theta, phi) in radians."""
    register_patterns()
    import mitsuba as mi  # noqa: PLC0415
    from sionna.rt.antenna_pattern import antenna_pattern_registry  # noqa: PLC0415

    pattern = antenna_pattern_registry.get(name)(polarization="V", **kwargs)
    c_theta, c_phi = pattern.patterns[0](mi.Float(np.asarray(theta, np.float32).ravel()),
                                         mi.Float(np.asarray(phi, np.float32).ravel()))
    power = (np.asarray(mi.Float(c_theta.real).numpy()) ** 2 + np.asarray(mi.Float(c_theta.imag).numpy()) ** 2
             + np.asarray(mi.Float(c_phi.real).numpy()) ** 2 + np.asarray(mi.Float(c_phi.imag).numpy()) ** 2)
    return 10 * np.log10(np.maximum(power, 1e-30)).reshape(np.shape(theta))
