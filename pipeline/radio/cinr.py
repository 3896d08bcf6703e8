"""CINR heatmaps of both networks from stored path gains (seed 003 Fig. 2, seed-math 1.5).

Per slot t and cell c, with the serving UE array steered to the wanted link and the
interferers seen by one element:

    S_B = P_B g_b* G_UE,arr(b*)       b* = argmax_b P_B g_b G_UE,arr(b)
    I_B = sum_s P_S(t) g_s G_sat(s) L_ntn(s) G_UE,el(s)
    S_S = P_S g_s* G_sat(s*) L_ntn(s*) G_UE,arr(s*)
    I_S = sum_b P_B g_b G_UE,el(b)
    CINR_BS = S_B / (I_B + N),  CINR_LEO = S_S / (I_S + N)

g are the ray-traced path gains (BS pattern included), G_sat the TR 38.811 Bessel gain
toward the cell, L_ntn the TR 38.811 scintillation and gas losses. The UE direction of
a BS is its line-of-sight direction (radio maps keep no angles of arrival; the channels
stage applies the array per path).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from pipeline.config import number
from pipeline.errors import StinError
from pipeline.radio.antennas import bessel_gain_db, ue_array_gain_db
from pipeline.radio.link import (
    atmospheric_loss_db, db_to_lin, lin_to_db, noise_power_w, scintillation_loss_db)


@dataclass(frozen=True)
class LinkParams:
    """Everything CINR depends on besides path gains (params.yaml ``link``)."""

    bs_tx_power_w: float
    sat_tx_power_w: float
    sat_max_gain_dbi: float
    sat_aperture_m: float
    sat_beam_target: Any
    bandwidth_hz: float
    noise_w: float
    ue_rows: int
    ue_cols: int
    ue_element: dict[str, float]
    scintillation: bool
    atmospheric: bool
    gain_floor: float

    @classmethod
    def from_params(cls, p: dict[str, Any], ue: dict[str, Any]) -> "LinkParams":
        w = "params.yaml link"
        wu = "params.yaml ue"
        bandwidth = number(p, "bandwidth_hz", w)
        sat_gain = number(p, "sat_max_gain_dbi", w, positive=False)
        # P_tx [dBW] = EIRP density [dBW/MHz] + 10 log10(B / 1 MHz) - G_max (standards.md 1.2)
        sat_p_dbw = number(p, "sat_eirp_density_dbw_mhz", w, positive=False) + 10 * math.log10(bandwidth / 1e6) - sat_gain
        return cls(
            bs_tx_power_w=10 ** ((number(p, "bs_tx_power_dbm", w, positive=False) - 30) / 10),
            sat_tx_power_w=10 ** (sat_p_dbw / 10),
            sat_max_gain_dbi=sat_gain,
            sat_aperture_m=number(p, "sat_aperture_m", w),
            sat_beam_target=p.get("sat_beam_target", "center"),
            bandwidth_hz=bandwidth,
            noise_w=noise_power_w(bandwidth, number(p, "noise_figure_db", w, positive=False, minimum=0),
                                  number(p, "antenna_temperature_k", w, positive=False, minimum=0)),
            ue_rows=int(number(ue, "array_rows", wu)),
            ue_cols=int(number(ue, "array_cols", wu)),
            ue_element={"g_max_dbi": number(ue, "element_gain_dbi", wu, positive=False),
                        "theta_3db_deg": number(ue, "element_3db_deg", wu),
                        "phi_3db_deg": number(ue, "element_3db_deg", wu)},
            scintillation=bool(p.get("include_scintillation", True)),
            atmospheric=bool(p.get("include_atmospheric", True)),
            gain_floor=10 ** (number(p, "path_gain_floor_db", w, positive=False) / 10),
        )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def satellite_budget_db(off_axis_rad: np.ndarray, elevation_deg: float, link: LinkParams, freq_hz: float) -> np.ndarray:
    """Satellite antenna gain toward the UE (TR 38.811 Bessel) minus the TR 38.811
    scintillation and gas losses switched on in ``link`` [dB]."""
    gain_db = bessel_gain_db(off_axis_rad, aperture_diameter_m=link.sat_aperture_m, freq_hz=freq_hz,
                             g_max_dbi=link.sat_max_gain_dbi)
    if link.scintillation:
        gain_db = gain_db - scintillation_loss_db(freq_hz)
    if link.atmospheric:
        gain_db = gain_db - atmospheric_loss_db(freq_hz, elevation_deg)
    return gain_db


def satellite_link_gain(radiomaps: xr.Dataset, link: LinkParams, beam_target_xyz: np.ndarray) -> np.ndarray:
    """Linear gain (time, rank, y, x) of each serving satellite: path gain x Bessel x NTN losses.

    Zero where a rank has no satellite.
    """
    freq = float(radiomaps.attrs["freq_hz"])
    xx, yy = np.meshgrid(radiomaps.x.values, radiomaps.y.values)
    cells = np.stack([xx, yy, np.full_like(xx, radiomaps.attrs["rx_height_m"])], axis=-1)
    center = np.array([float(radiomaps.x.mean()), float(radiomaps.y.mean()), 0.0])
    g = radiomaps["path_gain_sat"].values.astype(float)
    out = np.zeros_like(g)
    serving = radiomaps["serving_sat"].values
    for t, r in zip(*np.nonzero(serving >= 0)):
        d = radiomaps["sat_direction_enu"].values[t, r]
        sat = center + float(radiomaps["sat_slant_range_m"].values[t, r]) * d
        boresight = _unit(beam_target_xyz - sat)
        off_axis = np.arccos(np.clip(np.einsum("...i,i->...", _unit(cells - sat), boresight), -1, 1))
        gain_db = satellite_budget_db(off_axis, float(radiomaps["sat_elevation_deg"].values[t, r]), link, freq)
        out[t, r] = np.maximum(g[t, r], link.gain_floor) * db_to_lin(gain_db)
    return out


def compute_cinr(radiomaps: xr.Dataset, link: LinkParams, beam_target_xyz: np.ndarray) -> xr.Dataset:
    """CINR maps of both networks per slot (see module docstring)."""
    serving = radiomaps["serving_sat"].values
    if (serving < 0).all():
        raise StinError("no serving satellite in any slot of the radio maps",
                        "rerun orbits/radiomaps with a lower orbits.min_elevation_deg")
    xx, yy = np.meshgrid(radiomaps.x.values, radiomaps.y.values)
    z_rx = float(radiomaps.attrs["rx_height_m"])
    cells = np.stack([xx, yy, np.full_like(xx, z_rx)], axis=-1)

    # BS links: gains (bs, y, x) including the UE array toward each BS (line-of-sight direction)
    g_bs = np.maximum(radiomaps["path_gain_bs"].values.astype(float), link.gain_floor)
    bs_xyz = np.stack([radiomaps.bs_x_m.values, radiomaps.bs_y_m.values, radiomaps.bs_z_m.values], axis=-1)
    to_bs = _unit(bs_xyz[:, None, None, :] - cells[None])
    ue = dict(rows=link.ue_rows, cols=link.ue_cols, **link.ue_element)
    rx_bs_arr = link.bs_tx_power_w * g_bs * db_to_lin(ue_array_gain_db(to_bs, steered=True, **ue))
    rx_bs_el = link.bs_tx_power_w * g_bs * db_to_lin(ue_array_gain_db(to_bs, steered=False, **ue))
    best_bs = np.argmax(rx_bs_arr, axis=0)
    s_bs = np.take_along_axis(rx_bs_arr, best_bs[None], axis=0)[0]
    i_from_bs = rx_bs_el.sum(axis=0)

    # satellite links (time, rank, y, x)
    g_sat = satellite_link_gain(radiomaps, link, beam_target_xyz)
    dirs = radiomaps["sat_direction_enu"].values  # (time, rank, 3), toward the satellite
    present = (serving >= 0)[..., None, None]
    el_gain = db_to_lin(ue_array_gain_db(dirs, steered=False, **ue))[..., None, None]
    arr_gain = db_to_lin(ue_array_gain_db(dirs, steered=True, **ue))[..., None, None]
    rx_sat_arr = np.where(present, link.sat_tx_power_w * g_sat * arr_gain, 0.0)
    rx_sat_el = np.where(present, link.sat_tx_power_w * g_sat * el_gain, 0.0)
    best_rank = np.argmax(rx_sat_arr, axis=1)
    s_sat = np.take_along_axis(rx_sat_arr, best_rank[:, None], axis=1)[:, 0]
    i_from_sat = rx_sat_el.sum(axis=1)
    # slots with no satellite: LEO CINR is noise-limited zero signal -> floor, BS sees no interference
    s_sat = np.where((serving >= 0).any(axis=1)[:, None, None], s_sat, link.gain_floor * link.sat_tx_power_w)

    n = link.noise_w
    cinr_bs = lin_to_db(s_bs[None] / (i_from_sat + n))
    cinr_leo = lin_to_db(s_sat / (i_from_bs[None] + n))
    outdoor = radiomaps["outdoor"].values.astype(bool)
    mask = np.where(outdoor, 1.0, np.nan)
    ds = xr.Dataset(
        {
            "cinr_bs_db": (("time", "y", "x"), (cinr_bs * mask).astype(np.float32)),
            "cinr_leo_db": (("time", "y", "x"), (cinr_leo * mask).astype(np.float32)),
            "rx_power_bs_dbm": (("y", "x"), (lin_to_db(s_bs) + 30).astype(np.float32)),
            "rx_power_leo_dbm": (("time", "y", "x"), (lin_to_db(s_sat) + 30).astype(np.float32)),
            "interference_from_sat_dbm": (("time", "y", "x"), (lin_to_db(i_from_sat) + 30).astype(np.float32)),
            "interference_from_bs_dbm": (("y", "x"), (lin_to_db(i_from_bs) + 30).astype(np.float32)),
            "best_bs": (("y", "x"), best_bs.astype(np.int16)),
            "best_sat_rank": (("time", "y", "x"), best_rank.astype(np.int8)),
            "outdoor": (("y", "x"), outdoor.astype(np.uint8)),
        },
        coords={k: radiomaps.coords[k] for k in ("x", "y", "time", "lon", "lat", "bs")},
        attrs={**radiomaps.attrs, "noise_dbm": float(lin_to_db(n) + 30), "bandwidth_hz": link.bandwidth_hz,
               "bs_tx_power_dbm": float(lin_to_db(link.bs_tx_power_w) + 30),
               "sat_tx_power_dbw": float(lin_to_db(link.sat_tx_power_w)),
               "masking": "cells inside buildings are NaN in cinr_*; 'outdoor' is 1 where valid"},
    )
    for v in ("cinr_bs_db", "cinr_leo_db"):
        ds[v].attrs.update(units="dB", grid_mapping="spatial_ref")
    return ds
