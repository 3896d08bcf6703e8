"""Channel tensors from traced paths plus the link budget's analytic parts.

Satellite paths leave the satellite within a fraction of a degree of each other, so the
TR 38.811 Bessel gain toward the UE and the scintillation and gas losses multiply every
path of a satellite link by one amplitude factor sqrt(G_sat L_ntn).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import xarray as xr

from pipeline.io.pathstore import ROW_VARS, SlotPaths, attach_rows, is_ragged, iter_slots, ragged_dataset

from pipeline.radio.cinr import LinkParams, cinr_db, satellite_budget_db
from pipeline.radio.link import lin_to_db
from pipeline.radio.raypaths import direction_from_angles
from pipeline.radio.receiver import ReceiverModel


def satellite_budget_per_ue(raypaths: xr.Dataset, t: int, link: LinkParams, beam_target_xyz: np.ndarray,
                            map_center_xyz: np.ndarray) -> np.ndarray:
    """TR 38.811 Bessel gain toward each UE plus the NTN losses [dB], (ue, rank) at slot ``t`` (NaN: no
    satellite at that rank)."""
    freq = float(raypaths.attrs["freq_hz"])
    ue_xyz = np.stack([raypaths[f"ue_{c}_m"][t].values for c in "xyz"], axis=-1)
    out = np.full((raypaths.sizes["ue"], raypaths.sizes["rank"]), np.nan)
    for r in range(raypaths.sizes["rank"]):
        if raypaths.sat_index.values[t, r] < 0:
            continue
        sat = map_center_xyz + raypaths.sat_slant_range_m.values[t, r] * raypaths.sat_direction_enu.values[t, r]
        bore = (beam_target_xyz - sat) / np.linalg.norm(beam_target_xyz - sat)
        to_ue = (ue_xyz - sat) / np.linalg.norm(ue_xyz - sat, axis=-1, keepdims=True)
        off = np.arccos(np.clip(to_ue @ bore, -1, 1))
        out[:, r] = satellite_budget_db(off, float(raypaths.sat_elevation_deg.values[t, r]), link, freq)
    return out


def channel_slots(raypaths: xr.Dataset, link: LinkParams, beam_target_xyz: np.ndarray, map_center_xyz: np.ndarray
                  ) -> Iterator[tuple[int, SlotPaths, dict[str, np.ndarray]]]:
    """Per slot: the traced paths with the satellite gains applied (every satellite path of a link scaled
    by sqrt(G_sat L_ntn)) and the per-link quantities (``gain_db``, ``gain_traced_db``, ``los``,
    ``sat_antenna_gain_db``) of a ragged raypaths dataset; one slot in memory at a time."""
    kinds = raypaths["tx_kind"].values
    sat_tx = np.flatnonzero(kinds == "sat")
    floor_db = float(lin_to_db(link.gain_floor))
    for t, slot in iter_slots(raypaths):
        budget_db = satellite_budget_per_ue(raypaths, t, link, beam_target_xyz, map_center_xyz)  # (ue, rank)
        ue, tx = np.divmod(slot.link_of_row(), len(kinds))
        rank_of_tx = np.full(len(kinds), -1)
        rank_of_tx[sat_tx] = np.arange(len(sat_tx))
        r = rank_of_tx[tx]
        is_sat = r >= 0
        scale = np.ones(slot.n_rows, np.float32)
        scale[is_sat] = 10 ** (np.nan_to_num(budget_db[ue[is_sat], r[is_sat]], nan=-np.inf) / 20)
        slot.a *= scale[:, None, None]
        through_wall = raypaths["penetration_gain"][t].values.copy()
        through_wall[:, sat_tx] *= 10 ** (np.nan_to_num(budget_db, nan=-np.inf) / 10)
        gain, traced = link_gain_from_paths(raypaths, t, slot, through_wall, link.receiver)
        yield t, slot, {
            "gain_db": np.maximum(lin_to_db(gain), floor_db).astype(np.float32),
            "gain_traced_db": np.maximum(lin_to_db(traced), floor_db).astype(np.float32),
            "los": slot.any_per_link(slot.path_los).astype(np.uint8),
            "sat_antenna_gain_db": budget_db.astype(np.float32)}


CHANNEL_SLOT_VARS = {  # per-link variables channels.nc adds to the paths: name -> (dims, type, attributes)
    "gain_db": (("time", "ue", "tx"), "f4", {"units": "dB", "long_name": "link gain with the car's receive pattern "
                "per ray (ue.receiver), all antennas included, no transmit power: traced rays + through-wall ray"}),
    "gain_traced_db": (("time", "ue", "tx"), "f4", {"units": "dB", "long_name": "gain_db without the through-wall ray"}),
    "los": (("time", "ue", "tx"), "u1", {"long_name": "1: the link has a line-of-sight path"}),
    "sat_antenna_gain_db": (("time", "ue", "rank"), "f4", {
        "units": "dB", "long_name": "satellite antenna gain toward the UE plus NTN losses (TR 38.811)",
        "nan_meaning": "no satellite at this rank in this slot"}),
}


def channel_attrs(link: LinkParams) -> dict[str, Any]:
    """Link-budget attributes of channels.nc."""
    return {
        "bandwidth_hz": link.bandwidth_hz, "noise_power_w": link.noise_w,
        "noise_power_dbm": float(lin_to_db(link.noise_w) + 30),
        "bs_tx_power_w": link.bs_tx_power_w, "sat_tx_power_w": link.sat_tx_power_w,
        "gain_floor_db": float(lin_to_db(link.gain_floor)), "receiver": link.receiver.mode,
        "receiver_wanted_gain_db": link.receiver.wanted_gain_db, "load_bs_users": link.bs_users,
        "load_sat_users": link.sat_users, "sat_max_gain_dbi": link.sat_max_gain_dbi,
        "a_convention": "a = a_real + 1j a_imag, complex baseband path coefficients (carrier phase included), "
                        "ragged: rows of num_paths per link (pipeline/io/pathstore.py)",
    }


def assemble_channels(raypaths: xr.Dataset, link: LinkParams, beam_target_xyz: np.ndarray,
                      map_center_xyz: np.ndarray) -> xr.Dataset:
    """In memory (small path sets): the ragged raypaths dataset (or a dense one, converted) with the satellite
    gains applied and the per-link gains; the ``channels`` stage streams the same computation to disk."""
    if not is_ragged(raypaths):
        raypaths = ragged_dataset(raypaths)
    static = raypaths.drop_vars([v for v in (*ROW_VARS, "naive_num_paths", "naive_los") if v in raypaths])
    slots, per_link = [], {name: [] for name in CHANNEL_SLOT_VARS}
    for _, slot, values in channel_slots(raypaths, link, beam_target_xyz, map_center_xyz):
        slots.append(slot)
        for name, v in values.items():
            per_link[name].append(v)
    ds = attach_rows(static, slots)
    for name, (dims, _, attrs) in CHANNEL_SLOT_VARS.items():
        ds[name] = (dims, np.stack(per_link[name]))
        ds[name].attrs.update(attrs)
    ds.attrs.update(channel_attrs(link))
    return ds


def link_gain_from_paths(raypaths: xr.Dataset, t: int, slot: SlotPaths, through_wall: np.ndarray,
                         receiver: ReceiverModel) -> tuple[np.ndarray, np.ndarray]:
    """Link gains (ue, tx) at slot ``t`` under the receiver model, as the radio maps measure them.

    Per traced path p, with the BS panel's weights w over its ports (a_p,m = sum_n w_n a_p,m,n)
    and the car's N elements x 2 polarisations m: P_p = sum_m |a_p,m|^2 = N G_el |a_p,iso|^2, so
    the ray's gain through the receive pattern is P_p / N x |AF(u_p)|^2 / N for the fixed array
    (P_p / N when steered; u_p: the arrival direction from theta_r, phi_r). Paths add in power,
    as in the radio maps; the through-wall direct ray ``through_wall`` (ue, tx; every
    antenna but the car's included) adds g_pen G_rx(u). Returns (total, traced only).
    """
    w = raypaths["bs_tx_weight_real"].values + 1j * raypaths["bs_tx_weight_imag"].values
    kinds = raypaths["tx_kind"].values
    weights = np.zeros((len(kinds), slot.a.shape[2]), np.complex64)
    weights[kinds == "bs", : len(w)] = w
    weights[kinds != "bs", 0] = 1.0  # satellites: one isotropic port
    tx = slot.link_of_row() % len(kinds)
    a_eff = np.einsum("pmn,pn->pm", slot.a, weights[tx])
    power = (np.abs(a_eff) ** 2).sum(axis=1).astype(float) / receiver.n_elements  # G_el |a_iso|^2 per row
    if receiver.mode == "fixed_array":
        arrival = direction_from_angles(slot.theta_r_rad.astype(float), slot.phi_r_rad.astype(float))
        power = power * 10 ** (receiver.array_factor_db(arrival) / 10)
    traced = slot.per_link(power)
    wall = through_wall * receiver.ray_gain(raypaths["direct_arrival_enu"][t].values)
    return traced + wall, traced


def cinr_along_routes(ds: xr.Dataset, link: LinkParams) -> tuple[np.ndarray, np.ndarray]:
    """BS-UE and LEO-UE CINR [dB] per (time, ue) from channel gains (Fig. 3 of Nguyen-Kha et al.,
    arXiv 2408.15394), by the same :func:`pipeline.radio.cinr.cinr_db` as the heatmaps."""
    g = link_gains_all(ds)
    kinds = ds["tx_kind"].values
    c = cinr_db(g[..., kinds == "bs"], g[..., kinds == "sat"], link)
    return c["cinr_bs_db"], c["cinr_leo_db"]


def linear_gains(gain_db: np.ndarray, floor_db: float) -> np.ndarray:
    """Linear gains from dB, 0 where no ray arrived (at or below the gain floor)."""
    gdb = np.asarray(gain_db, float)
    return np.where(gdb <= floor_db, 0.0, 10 ** (gdb / 10))


def link_gains_all(ds: xr.Dataset) -> np.ndarray:
    """Linear gains (time, ue, tx), 0 where no ray arrived (at or below the gain floor)."""
    return linear_gains(ds["gain_db"].values, ds.attrs.get("gain_floor_db", -250.0))
