"""Channel tensors from traced paths plus the link budget's analytic parts.

Satellite paths leave the satellite within a fraction of a degree of each other, so the
TR 38.811 Bessel gain toward the UE and the scintillation and gas losses multiply every
path of a satellite link by one amplitude factor sqrt(G_sat L_ntn).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pipeline.radio.cinr import LinkParams, cinr_db, satellite_budget_db
from pipeline.radio.link import lin_to_db
from pipeline.radio.raypaths import direction_from_angles
from pipeline.radio.receiver import ReceiverModel


def assemble_channels(raypaths: xr.Dataset, link: LinkParams, beam_target_xyz: np.ndarray,
                      map_center_xyz: np.ndarray) -> xr.Dataset:
    """Add satellite gains to the traced coefficients; compute per-link gains and metadata."""
    freq = float(raypaths.attrs["freq_hz"])
    a = raypaths["a_real"].values.astype(np.complex64) + 1j * raypaths["a_imag"].values
    kinds = raypaths["tx_kind"].values
    sat_tx = np.flatnonzero(kinds == "sat")
    ue_xyz = np.stack([raypaths.ue_x_m.values, raypaths.ue_y_m.values, raypaths.ue_z_m.values], axis=-1)
    sat_gain_db = np.full((raypaths.sizes["time"], raypaths.sizes["ue"], len(sat_tx)), np.nan)
    through_wall = raypaths["penetration_gain"].values.copy()
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
            through_wall[t, :, tx] *= 10 ** (g / 10)
    gain, gain_traced = link_gain_from_paths(raypaths, a, through_wall, link.receiver)
    valid = raypaths["path_valid"].values.astype(bool)
    keep = [v for v in raypaths.data_vars if v not in ("a_real", "a_imag", "naive_num_paths", "naive_los")]
    ds = raypaths[keep].copy()
    ds["a_real"] = (raypaths["a_real"].dims, a.real.astype(np.float32))
    ds["a_imag"] = (raypaths["a_imag"].dims, a.imag.astype(np.float32))
    floor_db = float(lin_to_db(link.gain_floor))
    ds["gain_db"] = (("time", "ue", "tx"), np.maximum(lin_to_db(gain), floor_db).astype(np.float32))
    ds["gain_traced_db"] = (("time", "ue", "tx"), np.maximum(lin_to_db(gain_traced), floor_db).astype(np.float32))
    ds["los"] = (("time", "ue", "tx"), (raypaths["path_los"].values.astype(bool).any(-1)).astype(np.uint8))
    ds["num_paths"] = (("time", "ue", "tx"), valid.sum(-1).astype(np.int16))
    ds["sat_antenna_gain_db"] = (("time", "ue", "rank"), sat_gain_db.astype(np.float32))
    ds["gain_db"].attrs.update(units="dB", long_name="link gain with the car's receive pattern per ray "
                               "(ue.receiver), all antennas included, no transmit power: traced rays + through-wall ray")
    ds["gain_traced_db"].attrs.update(units="dB", long_name="gain_db without the through-wall ray")
    ds.attrs.update({
        "bandwidth_hz": link.bandwidth_hz, "noise_power_w": link.noise_w,
        "noise_power_dbm": float(lin_to_db(link.noise_w) + 30),
        "bs_tx_power_w": link.bs_tx_power_w, "sat_tx_power_w": link.sat_tx_power_w,
        "gain_floor_db": floor_db, "receiver": link.receiver.mode,
        "receiver_wanted_gain_db": link.receiver.wanted_gain_db, "load_bs_users": link.bs_users,
        "load_sat_users": link.sat_users, "sat_max_gain_dbi": link.sat_max_gain_dbi,
        "a_convention": "a = a_real + 1j a_imag, complex baseband path coefficients (carrier phase included)",
    })
    return ds


def link_gain_from_paths(raypaths: xr.Dataset, a: np.ndarray, through_wall: np.ndarray, receiver: ReceiverModel
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Link gains (time, ue, tx) under the receiver model, as the radio maps measure them.

    Per traced path p, with the BS panel's weights w over its ports (a_p,m = sum_n w_n a_p,m,n)
    and the car's N elements x 2 polarisations m: P_p = sum_m |a_p,m|^2 = N G_el |a_p,iso|^2, so
    the ray's gain through the receive pattern is P_p / N x |AF(u_p)|^2 / N for the fixed array
    (P_p / N when steered; u_p: the arrival direction from theta_r, phi_r). Paths add in power,
    as in the radio maps; the through-wall direct ray ``through_wall`` (time, ue, tx; every
    antenna but the car's included) adds g_pen G_rx(u). Returns (total, traced only).
    """
    w = raypaths["bs_tx_weight_real"].values + 1j * raypaths["bs_tx_weight_imag"].values
    kinds = raypaths["tx_kind"].values
    weights = np.zeros((len(kinds), a.shape[4]), complex)
    weights[kinds == "bs", : len(w)] = w
    weights[kinds != "bs", 0] = 1.0  # satellites: one isotropic port
    a_eff = np.einsum("tkrmnp,rn->tkrmp", a, weights)
    power = (np.abs(a_eff) ** 2).sum(axis=3) / receiver.n_elements  # (time, ue, tx, path): G_el |a_iso|^2
    arrival = direction_from_angles(raypaths["theta_r_rad"].values.astype(float),
                                    raypaths["phi_r_rad"].values.astype(float))
    if receiver.mode == "fixed_array":
        power = power * 10 ** (receiver.array_factor_db(arrival) / 10)
    valid = raypaths["path_valid"].values.astype(bool)
    traced = np.where(valid, power, 0.0).sum(-1)
    wall = through_wall * receiver.ray_gain(raypaths["direct_arrival_enu"].values)
    return traced + wall, traced


def cinr_along_routes(ds: xr.Dataset, link: LinkParams) -> tuple[np.ndarray, np.ndarray]:
    """BS-UE and LEO-UE CINR [dB] per (time, ue) from channel gains (Fig. 3 of Nguyen-Kha et al.,
    arXiv 2408.15394), by the same :func:`pipeline.radio.cinr.cinr_db` as the heatmaps."""
    g = link_gains_all(ds)
    kinds = ds["tx_kind"].values
    c = cinr_db(g[..., kinds == "bs"], g[..., kinds == "sat"], link)
    return c["cinr_bs_db"], c["cinr_leo_db"]


def link_gains_all(ds: xr.Dataset) -> np.ndarray:
    """Linear gains (time, ue, tx), 0 where no ray arrived (at or below the gain floor)."""
    gdb = ds["gain_db"].values.astype(float)
    return np.where(gdb <= ds.attrs.get("gain_floor_db", -250.0), 0.0, 10 ** (gdb / 10))
