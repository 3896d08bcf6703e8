"""CINR of both networks from stored path gains, one formula for maps and routes.

Nguyen-Kha et al., "Seamless 5G Automotive Connectivity with Integrated Satellite
Terrestrial Networks in C-Band" (arXiv 2408.15394), eqs. (7) and (9): intra-network
interference is coordinated away, only the other network interferes. Per slot and
receiver point (a map cell or a car), with per-user powers p_B = P_B / n_B and
p_S = P_S / n_S (``link.load``), receive gain G_w on the wanted link only
(pipeline.radio.receiver: 0 dB for the fixed array, 10 log10 N when steered):

    S_B = G_w p_B g_b*,  b* = argmax_b g_b        I_B = sum_s p_S g_s
    S_S = G_w p_S g_s*,  s* = argmax_s g_s        I_S = sum_b p_B g_b
    CINR_BS = S_B / (I_B + N),  CINR_LEO = S_S / (I_S + N)

g are link gains with every antenna pattern applied ray by ray (BS sector, car rooftop
array) and, for satellites, the TR 38.811 Bessel gain and the scintillation and gas
losses. :func:`cinr_db` is the one implementation; the heatmaps (cells) and the channels
(route points) both call it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from pipeline.config import number
from pipeline.errors import StinError
from pipeline.radio.antennas import SPEED_OF_LIGHT_M_S, bessel_gain_db
from pipeline.radio.link import (
    atmospheric_loss_db, db_to_lin, lin_to_db, noise_power_w, scintillation_loss_db)
from pipeline.radio.receiver import ReceiverModel


def aperture_gain_dbi(aperture_diameter_m: float, freq_hz: float) -> float:
    """Peak gain of the TR 38.811 6.4.1 uniformly illuminated circular aperture: (pi D / lambda)^2.

    The Bessel pattern 4 |J1(ka sin t) / (ka sin t)|^2 is that aperture's normalised pattern;
    its peak directivity follows from the same D, so the two stay consistent.
    """
    return 20 * math.log10(math.pi * aperture_diameter_m * freq_hz / SPEED_OF_LIGHT_M_S)


MAX_GAIN_FLOOR_DB = -150.0  # the floor must lie below any real urban path gain (3.5 GHz, a few km: > -150 dB)


def gain_floor_db(p: dict[str, Any], where: str) -> float:
    """link.path_gain_floor_db: the gain given to cells no ray reached, far below any real one."""
    value = number(p, "path_gain_floor_db", where, positive=False)
    if value > MAX_GAIN_FLOOR_DB:
        raise StinError(f"{where}: path_gain_floor_db = {value} dB would count unreached cells as reached",
                        f"use a value <= {MAX_GAIN_FLOOR_DB:g} dB (default -250)")
    return value


def beam_target(value: Any, where: str) -> Any:
    """link.sat_beam_target: 'center' or [lat, lon] in degrees, checked for range."""
    if value in (None, "center"):
        return "center"
    try:
        lat, lon = (float(v) for v in value)
    except (TypeError, ValueError):
        raise StinError(f"{where}: sat_beam_target {value!r} is not 'center' or [lat, lon]",
                        "set it to center or to [lat, lon] in degrees") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise StinError(f"{where}: sat_beam_target [{lat}, {lon}] is outside lat [-90, 90] / lon [-180, 180]",
                        "give [lat, lon] in degrees, latitude first")
    return [lat, lon]


@dataclass(frozen=True)
class LinkParams:
    """Everything CINR depends on besides path gains (params.yaml ``link`` and ``ue``)."""

    bs_tx_power_w: float
    sat_tx_power_w: float
    sat_max_gain_dbi: float
    sat_aperture_m: float
    sat_beam_target: Any
    bandwidth_hz: float
    noise_w: float
    receiver: ReceiverModel
    scintillation: bool
    atmospheric: bool
    gain_floor: float
    bs_users: float = 1.0
    sat_users: float = 1.0

    @classmethod
    def from_params(cls, p: dict[str, Any], ue: dict[str, Any], freq_hz: float) -> "LinkParams":
        """``freq_hz`` sets the satellite's aperture gain (params.yaml radio.freq_hz)."""
        w = "params.yaml link"
        bandwidth = number(p, "bandwidth_hz", w)
        aperture = number(p, "sat_aperture_m", w)
        sat_gain = aperture_gain_dbi(aperture, freq_hz)
        # P_tx [dBW] = EIRP density [dBW/MHz] + 10 log10(B / 1 MHz) - G_max (docs/models/antennas.md)
        sat_p_dbw = number(p, "sat_eirp_density_dbw_mhz", w, positive=False) + 10 * math.log10(bandwidth / 1e6) - sat_gain
        load = p.get("load", {}) or {}
        if not isinstance(load, dict):
            raise StinError(f"{w}: 'load' must be a mapping with bs_users and sat_users", "see params.yaml")
        flags = {}
        for key in ("include_scintillation", "include_atmospheric"):
            flags[key] = p.get(key, True)
            if not isinstance(flags[key], bool):
                raise StinError(f"{w}: '{key}' must be true or false, got {flags[key]!r}", "write true or false")
        return cls(
            bs_tx_power_w=10 ** ((number(p, "bs_tx_power_dbm", w, positive=False) - 30) / 10),
            sat_tx_power_w=10 ** (sat_p_dbw / 10),
            sat_max_gain_dbi=sat_gain,
            sat_aperture_m=aperture,
            sat_beam_target=beam_target(p.get("sat_beam_target", "center"), w),
            bandwidth_hz=bandwidth,
            noise_w=noise_power_w(bandwidth, number(p, "noise_figure_db", w, positive=False, minimum=0),
                                  number(p, "antenna_temperature_k", w, positive=False, minimum=0)),
            receiver=ReceiverModel.from_params(ue),
            scintillation=flags["include_scintillation"],
            atmospheric=flags["include_atmospheric"],
            gain_floor=10 ** (gain_floor_db(p, w) / 10),
            bs_users=number(load, "bs_users", f"{w}.load") if load else 1.0,
            sat_users=number(load, "sat_users", f"{w}.load") if load else 1.0,
        )

    @property
    def bs_user_power_w(self) -> float:
        return self.bs_tx_power_w / self.bs_users

    @property
    def sat_user_power_w(self) -> float:
        return self.sat_tx_power_w / self.sat_users


def cinr_db(g_bs: np.ndarray, g_sat: np.ndarray, link: LinkParams) -> dict[str, np.ndarray]:
    """CINR of both networks (module docstring) from linear link gains.

    ``g_bs`` (..., B) and ``g_sat`` (..., S) share their leading shape (cells or cars); a
    satellite rank that is absent has gain 0. Returns cinr_bs_db, cinr_leo_db, the best BS
    and satellite index, and the powers [W] that make them up.
    """
    rx_bs = link.bs_user_power_w * np.asarray(g_bs, float)
    rx_sat = link.sat_user_power_w * np.asarray(g_sat, float)
    gw = link.receiver.wanted_gain
    best_bs = np.argmax(rx_bs, axis=-1)
    best_sat = np.argmax(rx_sat, axis=-1) if rx_sat.shape[-1] else np.zeros(rx_sat.shape[:-1], int)
    s_bs = gw * np.take_along_axis(rx_bs, best_bs[..., None], axis=-1)[..., 0]
    s_sat = gw * (np.take_along_axis(rx_sat, best_sat[..., None], axis=-1)[..., 0] if rx_sat.shape[-1]
                  else np.zeros(rx_sat.shape[:-1]))
    i_bs, i_sat = rx_sat.sum(axis=-1), rx_bs.sum(axis=-1)  # interference at a BS link / at a satellite link
    n = link.noise_w
    return {"cinr_bs_db": lin_to_db(s_bs / (i_bs + n)), "cinr_leo_db": lin_to_db(s_sat / (i_sat + n)),
            "best_bs": best_bs, "best_sat": best_sat, "signal_bs_w": s_bs, "signal_sat_w": s_sat,
            "interference_at_bs_w": i_bs, "interference_at_sat_w": i_sat}


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


def map_center_xyz(radiomaps: xr.Dataset) -> np.ndarray:
    """The map centre (x, y, 0) in the local frame: the point the satellites' slant ranges are measured to."""
    return np.array([float(radiomaps.x.mean()), float(radiomaps.y.mean()), 0.0])


def satellite_link_gain(radiomaps: xr.Dataset, link: LinkParams, beam_target_xyz: np.ndarray,
                        center_xyz: np.ndarray | None = None) -> np.ndarray:
    """Linear gain (time, rank, y, x) of each serving satellite: path gain x Bessel x NTN losses.

    Zero where a rank has no satellite. ``center_xyz``: the whole map's centre when ``radiomaps`` is a
    block of it (default: the centre of ``radiomaps``).
    """
    freq = float(radiomaps.attrs["freq_hz"])
    xx, yy = np.meshgrid(radiomaps.x.values, radiomaps.y.values)
    cells = np.stack([xx, yy, np.full_like(xx, radiomaps.attrs["rx_height_m"])], axis=-1)
    center = map_center_xyz(radiomaps) if center_xyz is None else np.asarray(center_xyz, float)
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


def compute_cinr(radiomaps: xr.Dataset, link: LinkParams, beam_target_xyz: np.ndarray,
                 center_xyz: np.ndarray | None = None) -> xr.Dataset:
    """CINR maps of both networks per slot (see module docstring); ``center_xyz`` as in
    :func:`satellite_link_gain` (a block of a map: :func:`compute_cinr_blocked`)."""
    serving = radiomaps["serving_sat"].values
    if (serving < 0).all():
        raise StinError("no serving satellite in any slot of the radio maps",
                        "rerun orbits/radiomaps with a lower orbits.min_elevation_deg")
    if radiomaps.attrs.get("receiver", link.receiver.mode) != link.receiver.mode:
        raise StinError(f"the radio maps were traced for receiver {radiomaps.attrs.get('receiver')!r}, "
                        f"params.yaml ue.receiver is {link.receiver.mode!r}", "rerun 'dvc repro' (radiomaps)")
    g_bs = np.maximum(radiomaps["path_gain_bs"].values.astype(float), link.gain_floor)  # (bs, y, x)
    g_sat = satellite_link_gain(radiomaps, link, beam_target_xyz, center_xyz)  # (time, rank, y, x), 0 where absent
    gb = np.moveaxis(g_bs, 0, -1)  # (y, x, bs)
    per_slot = [cinr_db(gb, np.moveaxis(g_sat[t], 0, -1), link) for t in range(g_sat.shape[0])]  # slot by slot
    c = {k: np.stack([p[k] for p in per_slot]) for k in per_slot[0]}
    outdoor = radiomaps["outdoor"].values.astype(bool)
    mask = np.where(outdoor, 1.0, np.nan)
    ds = xr.Dataset(
        {
            "cinr_bs_db": (("time", "y", "x"), (c["cinr_bs_db"] * mask).astype(np.float32)),
            "cinr_leo_db": (("time", "y", "x"), (c["cinr_leo_db"] * mask).astype(np.float32)),
            "rx_power_bs_dbm": (("y", "x"), (lin_to_db(c["signal_bs_w"][0]) + 30).astype(np.float32)),
            "rx_power_leo_dbm": (("time", "y", "x"), (lin_to_db(c["signal_sat_w"]) + 30).astype(np.float32)),
            "interference_from_sat_dbm": (("time", "y", "x"), (lin_to_db(c["interference_at_bs_w"]) + 30).astype(np.float32)),
            "interference_from_bs_dbm": (("y", "x"), (lin_to_db(c["interference_at_sat_w"][0]) + 30).astype(np.float32)),
            "best_bs": (("y", "x"), c["best_bs"][0].astype(np.int16)),
            "best_sat_rank": (("time", "y", "x"), c["best_sat"].astype(np.int8)),
            "outdoor": (("y", "x"), outdoor.astype(np.uint8)),
        },
        coords={k: radiomaps.coords[k] for k in ("x", "y", "time", "lon", "lat", "bs")},
        attrs={**radiomaps.attrs, "noise_dbm": float(lin_to_db(link.noise_w) + 30), "bandwidth_hz": link.bandwidth_hz,
               "bs_tx_power_dbm": float(lin_to_db(link.bs_tx_power_w) + 30),
               "sat_tx_power_dbw": float(lin_to_db(link.sat_tx_power_w)),
               "sat_max_gain_dbi": link.sat_max_gain_dbi, "load_bs_users": link.bs_users,
               "load_sat_users": link.sat_users, "receiver_wanted_gain_db": link.receiver.wanted_gain_db,
               "masking": "cells inside buildings are NaN in cinr_*; 'outdoor' is 1 where valid"},
    )
    for v in ("cinr_bs_db", "cinr_leo_db"):
        ds[v].attrs.update(units="dB", grid_mapping="spatial_ref",
                           nan_meaning="cell inside a building (no outdoor receiver; see 'outdoor')")
    return ds


CINR_BLOCK_VALUES = 2**23  # BS path gains per block of rows (~64 MB as float64; project choice)


def compute_cinr_blocked(radiomaps: xr.Dataset, link: LinkParams, beam_target_xyz: np.ndarray) -> xr.Dataset:
    """:func:`compute_cinr` of a (lazily opened) radio-map file, block of rows by block of rows, so memory
    holds one block of the sectors' maps (sectors x rows x columns) plus the CINR maps, never every
    sector's whole map. Cells do not interact: the blocks give the values of one call."""
    n_bs, nx, ny = radiomaps.sizes["bs"], radiomaps.sizes["x"], radiomaps.sizes["y"]
    rows = max(1, CINR_BLOCK_VALUES // max(1, n_bs * nx))
    center = map_center_xyz(radiomaps)
    blocks = [compute_cinr(radiomaps.isel(y=slice(i, i + rows)).load(), link, beam_target_xyz, center)
              for i in range(0, ny, rows)]
    return blocks[0] if len(blocks) == 1 else xr.concat(blocks, dim="y", data_vars="minimal", coords="minimal",
                                                         compat="override", join="override", combine_attrs="override")
