"""Link budget on ray-traced path gains: noise, NTN extra losses, UE gains, CINR.

Nguyen-Kha et al., arXiv 2408.15394, eqs. (7), (9) (docs/models/cinr.md): intra-network
interference is coordinated away, only cross-network interference counts:

    CINR_BS  = P_B g_b / (sum_s P_S g_s + N)       (best BS b)
    CINR_LEO = P_S g_s / (sum_b P_B g_b + N)       (best satellite s)
    N = k_B (T_ant + (F - 1) T_0) B                 (receiver noise with antenna temperature)

All gains are linear power gains of the whole link (antennas included).
"""

from __future__ import annotations

import math

import numpy as np

BOLTZMANN_J_K = 1.380649e-23  # exact (SI 2019)
T0_K = 290.0  # IEEE standard noise temperature
SCINTILLATION_P_FLUC_4GHZ_DB = 1.1  # TR 38.811 6.6.6.1.4 (docs/models/farfield.md), lat 20-60 deg unverified
ATMOSPHERIC_ZENITH_DB = {3.0: 0.038, 4.0: 0.039}  # P.676 zenith gas loss, ns-3 table (docs/models/farfield.md)


def db_to_lin(x_db):  # noqa: ANN001, ANN201
    return np.power(10.0, np.asarray(x_db, float) / 10.0)


def lin_to_db(x, floor_db: float = -300.0):  # noqa: ANN001, ANN201
    x = np.asarray(x, float)
    return 10.0 * np.log10(np.maximum(x, 10 ** (floor_db / 10)))


def noise_power_w(bandwidth_hz: float, noise_figure_db: float, antenna_temperature_k: float) -> float:
    """N = k_B (T_ant + (F - 1) T_0) B [W]."""
    f_lin = 10 ** (noise_figure_db / 10)
    return BOLTZMANN_J_K * (antenna_temperature_k + (f_lin - 1.0) * T0_K) * bandwidth_hz


def free_space_path_gain(distance_m, freq_hz: float):  # noqa: ANN001, ANN201
    """Friis: (lambda / (4 pi d))^2."""
    wavelength = 299_792_458.0 / freq_hz
    return (wavelength / (4 * math.pi * np.asarray(distance_m, float))) ** 2


def uma_nlos_path_loss_db(distance_3d_m, freq_hz: float, ue_height_m: float = 1.5):  # noqa: ANN001, ANN201
    """TR 38.901 Table 7.4.1-1 UMa NLOS: PL' = 13.54 + 39.08 log10(d_3D) + 20 log10(f_c[GHz]) - 0.6 (h_UT - 1.5)."""
    return (13.54 + 39.08 * np.log10(np.asarray(distance_3d_m, float)) + 20 * np.log10(freq_hz / 1e9)
            - 0.6 * (ue_height_m - 1.5))


def bs_max_range_m(tx_power_dbm: float, tx_gain_dbi: float, rx_gain_dbi: float, noise_dbm: float,
                   margin_db: float, freq_hz: float, ue_height_m: float = 1.5) -> float:
    """Distance beyond which a BS sector's power, at the peak gains of both antennas, lies ``margin_db`` below
    the noise under TR 38.901's UMa NLOS path loss (:func:`uma_nlos_path_loss_db`); solved in closed form:

        P_tx + G_tx + G_rx - PL'(d) = N - margin  =>  d = 10^((P_tx + G_tx + G_rx - N + margin' ...) / 39.08)

    A city street beyond a few hundred metres of a rooftop site is almost never in line of sight (TR 38.901
    Table 7.4.2-1: P_LOS(1 km) = 1.8 % for UMa), so NLOS is the model for the range beyond which a sector
    neither serves nor interferes measurably."""
    budget_db = tx_power_dbm + tx_gain_dbi + rx_gain_dbi - (noise_dbm - margin_db)
    exponent = (budget_db - 13.54 - 20 * np.log10(freq_hz / 1e9) + 0.6 * (ue_height_m - 1.5)) / 39.08
    return float(10 ** exponent)


def scintillation_loss_db(freq_hz: float) -> float:
    """TR 38.811 6.6.6.1.4 ionospheric scintillation below 6 GHz: P_fluc(f) / sqrt(2),
    P_fluc(f) = 1.1 dB (f / 4 GHz)^-1.5 (0.95 dB at 3.5 GHz)."""
    f_ghz = freq_hz / 1e9
    if f_ghz >= 6.0:
        raise ValueError("tropospheric scintillation (f >= 6 GHz) is not implemented")
    return SCINTILLATION_P_FLUC_4GHZ_DB * (f_ghz / 4.0) ** -1.5 / math.sqrt(2.0)


def atmospheric_loss_db(freq_hz: float, elevation_deg):  # noqa: ANN001, ANN201
    """TR 38.811 6.6.4: A_zenith(f) / sin(elevation); zenith value from the ns-3 P.676 table
    (linear between 3 and 4 GHz, unverified outside). Applied at all elevations (the ns-3
    rule drops it below 10 GHz above 10 deg; it is < 0.25 dB here)."""
    f_ghz = freq_hz / 1e9
    zenith = float(np.interp(f_ghz, sorted(ATMOSPHERIC_ZENITH_DB), [ATMOSPHERIC_ZENITH_DB[k] for k in sorted(ATMOSPHERIC_ZENITH_DB)]))
    return zenith / np.sin(np.radians(np.maximum(np.asarray(elevation_deg, float), 1.0)))


def cinr_db(signal_w: np.ndarray, interference_w: np.ndarray, noise_w: float) -> np.ndarray:
    """10 log10(S / (I + N))."""
    return lin_to_db(np.asarray(signal_w) / (np.asarray(interference_w) + noise_w))
