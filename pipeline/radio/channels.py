"""Channel tensors from traced paths plus the link budget's analytic parts.

Satellite paths leave the satellite within a fraction of a degree of each other, so the
TR 38.811 Bessel gain toward the UE and the scintillation and gas losses multiply every
path of a satellite link by one amplitude factor sqrt(G_sat L_ntn).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pipeline.radio.cinr import LinkParams, satellite_budget_db
from pipeline.radio.link import lin_to_db


def assemble_channels(raypaths: xr.Dataset, link: LinkParams, beam_target_xyz: np.ndarray,
                      map_center_xyz: np.ndarray) -> xr.Dataset:
    """Add satellite gains to the traced coefficients; compute per-link gains and metadata."""
    freq = float(raypaths.attrs["freq_hz"])
    a = raypaths["a_real"].values.astype(np.complex64) + 1j * raypaths["a_imag"].values
    kinds = raypaths["tx_kind"].values
    sat_tx = np.flatnonzero(kinds == "sat")
    ue_xyz = np.stack([raypaths.ue_x_m.values, raypaths.ue_y_m.values, raypaths.ue_z_m.values], axis=-1)
    sat_gain_db = np.full((raypaths.sizes["time"], raypaths.sizes["ue"], len(sat_tx)), np.nan)
    for r, tx in enumerate(sat_tx):
        for t in range(raypaths.sizes["time"]):
            if raypaths.sat_index.values[t, r] < 0:
                continue
            sat = map_center_xyz + raypaths.sat_slant_range_m.values[t, r] * raypaths.sat_direction_enu.values[t, r]
            bore = (beam_target_xyz - sat) / np.linalg.norm(beam_target_xyz - sat)
            to_ue = (ue_xyz[t] - sat) / np.linalg.norm(ue_xyz[t] - sat, axis=-1, keepdims=True)
            off = np.arccos(np.clip(to_ue @ bore, -1, 1))
            g = satellite_budget_db(off, float(raypaths.sat_elevation_deg.values[t, r]), link, freq)
            sat_gain_db[t, :, r] = g
            a[t, :, tx] *= (10 ** (g / 20))[:, None, None, None].astype(np.float32)
    n_tx_ant = a.shape[4]
    gain = (np.abs(a) ** 2).sum(axis=(3, 4, 5)) / n_tx_ant
    coherent = (np.abs(a.sum(axis=5)) ** 2).sum(axis=(3, 4)) / n_tx_ant
    valid = raypaths["path_valid"].values.astype(bool)
    keep = [v for v in raypaths.data_vars if v not in ("a_real", "a_imag", "bs_gain_iso_rx_slot0",
                                                       "naive_num_paths", "naive_los")]
    ds = raypaths[keep].copy()
    ds["a_real"] = (raypaths["a_real"].dims, a.real.astype(np.float32))
    ds["a_imag"] = (raypaths["a_imag"].dims, a.imag.astype(np.float32))
    floor_db = float(lin_to_db(link.gain_floor))
    ds["gain_db"] = (("time", "ue", "tx"), np.maximum(lin_to_db(gain), floor_db).astype(np.float32))
    ds["gain_coherent_db"] = (("time", "ue", "tx"), np.maximum(lin_to_db(coherent), floor_db).astype(np.float32))
    ds["los"] = (("time", "ue", "tx"), (raypaths["path_los"].values.astype(bool).any(-1)).astype(np.uint8))
    ds["num_paths"] = (("time", "ue", "tx"), valid.sum(-1).astype(np.int16))
    ds["sat_antenna_gain_db"] = (("time", "ue", "rank"), sat_gain_db.astype(np.float32))
    ds["gain_db"].attrs.update(units="dB", long_name="wideband channel gain: sum over paths and rx antennas of "
                               "|a|^2, mean over tx antennas; all antennas included, no transmit power")
    ds.attrs.update({
        "bandwidth_hz": link.bandwidth_hz, "noise_power_w": link.noise_w,
        "noise_power_dbm": float(lin_to_db(link.noise_w) + 30),
        "bs_tx_power_w": link.bs_tx_power_w, "sat_tx_power_w": link.sat_tx_power_w,
        "gain_floor_db": floor_db,
        "a_convention": "a = a_real + 1j a_imag, complex baseband path coefficients (carrier phase included)",
    })
    return ds


def cinr_along_routes(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """BS-UE and LEO-UE CINR [dB] per (time, ue) from channel gains (seed 003 Fig. 3).

    CINR_BS = P_B g_b* / (sum_s P_S g_s + N), CINR_LEO = P_S g_s* / (sum_b P_B g_b + N).
    """
    g = 10 ** (ds["gain_db"].values / 10)
    kinds = ds["tx_kind"].values
    gb, gs = g[..., kinds == "bs"], g[..., kinds == "sat"]
    pb, ps, n = ds.attrs["bs_tx_power_w"], ds.attrs["sat_tx_power_w"], ds.attrs["noise_power_w"]
    cinr_bs = lin_to_db(pb * gb.max(-1) / (ps * gs.sum(-1) + n))
    cinr_leo = lin_to_db(ps * gs.max(-1) / (pb * gb.sum(-1) + n))
    return cinr_bs, cinr_leo
