"""Wang & Wang's beamforming problem (Sensors 2026) on the ray-traced city (``channels.nc`` + ``radiomaps.nc``).

:func:`city_problem` returns the same :class:`~pipeline.solvers.beamforming.BeamformingProblem`
as :func:`~pipeline.solvers.beamforming.paper_problem`, so every solver runs unchanged on
ray-traced channels. How each channel of problem (17) is made:

- **BS -> users** (h_ue, M x Nb): the traced sector panel is made steerable as a virtual
  ``rows x cols`` array in the panel plane (lambda/2 spacing, columns along the horizontal
  perpendicular to the sector bearing, rows vertical). Every traced path p leaves in the global
  direction k_p (``theta_t_rad``, ``phi_t_rad``) with coefficient a_p (sector pattern, UE
  element pattern, propagation), so element n sees a_p exp(j pi (r_n k_p,z + c_n k_p.u_h)) /
  sqrt(Nb): the panel's gain is split over the Nb elements (peak array gain = the traced panel
  gain, no extra directivity invented). Each car receives through the project's receiver model
  (pipeline.radio.receiver): with the default fixed array, each polarisation's elements are summed
  with uniform weights and only the two polarisation outputs are combined; with the steered array
  all ports are. The combiner is the dominant left singular vector of the resulting BS channel
  matrix, which makes the car the paper's single-antenna user.
- **Satellite -> users** (g_ue, M x Ns): the rank-0 serving satellite's traced paths through
  the same combiner, with the traced beam's TR 38.811 gain (``sat_antenna_gain_db``) replaced
  by that of each of Ns beams: beam 0 aims at the Earth station, beams 1..6 sit in a hexagon
  sqrt(3)/2 theta_3dB away (the paper's 7-beam cluster; theta_3dB of the Bessel aperture).
  The paper has one satellite: other serving ranks of ``channels.nc`` are left out.
- **Satellite -> ES** (g_es): free-space line of sight to a dish of ``es_gain_dbi`` on a mast
  of ``es_height_m`` at the satellite's beam target (the ES is not a ray-tracing receiver),
  with the same beam gains and TR 38.811 losses.
- **BS -> ES** (h_es): the radio map's ray-traced sector path gain in the ES cell (sector
  pattern included; the car's receive pattern, which the maps apply per ray, divided out toward
  the BS) times the ES dish's side-lobe gain
  towards the horizon; phases of the virtual array from the geometric direction site -> ES.
- **Sensing targets**: ground points ``target_range_m`` from the site at the sector bearing
  +- ``target_offsets_deg`` (project choice, vehicles in the sector); the BS rows are the
  F.1336 sector gain in that direction over the virtual array, the satellite rows the beam
  gains towards the target (EIRP per unit power, as in the paper's (17d)). The threshold Gamma_t
  is ``sensing_eirp_dbw``, or, with ``sensing_re_bs_limit_db`` set, that many dB above the BS-alone
  sensing limit (the largest EIRP the BS puts on every target at once with all its power and no
  user; :func:`~pipeline.solvers.beamforming.bs_sensing_limit_w`), where sensing must cost rate.

Users: at slot ``time_index`` the sector with the most UEs that could meet the QoS alone
(full BS power, full satellite interference on the traced channels, with
``user_margin_db``) is chosen; those UEs (strongest first, at most ``max_users``) are the M users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from pipeline.errors import StinError
from pipeline.io.channels import link_gains, path_coefficients
from pipeline.radio.antennas import bessel_3db_beamwidth_deg, bessel_gain_db, f1336_sectoral_gain_db
from pipeline.radio.cinr import LinkParams, map_center_xyz, satellite_budget_db
from pipeline.radio.link import free_space_path_gain
from pipeline.radio.raypaths import direction_from_angles
from pipeline.radio.tracing import BsConfig
from pipeline.solvers.beamforming import (
    ES_GAIN_DBI, ES_SIDELOBE_DBI, N_BEAMS, SINR_MIN_DB, BeamformingProblem, bs_sensing_limit_w, hex_beam_boresights,
    problem_from_channels, with_sensing_dbw)


@dataclass(frozen=True)
class CitySetting:
    """Choices of the city problem; defaults name their sources."""

    time_index: int = 0
    bs_rows: int = 3  # Wang & Wang Section 5: 3 x 3 UPA
    bs_cols: int = 3
    max_users: int = 8  # Wang & Wang Section 5: M = 8
    n_beams: int = N_BEAMS  # Wang & Wang: Ns = 7
    sinr_min_db: float = SINR_MIN_DB  # Wang & Wang gamma_min
    user_margin_db: float = 3.0  # a user is kept if it meets gamma_min + this alone (project choice)
    es_gain_dbi: float = ES_GAIN_DBI  # Wang & Wang G_ES (Ka band; a ~4.5 m dish at 3.5 GHz)
    es_sidelobe_dbi: float = ES_SIDELOBE_DBI  # ES gain towards the BS (far side lobe, see beamforming.py)
    es_height_m: float = 10.0  # ES dish on a mast above street clutter (project choice)
    target_range_m: float = 300.0  # sensing targets: vehicles 300 m out in the sector (project choice)
    target_offsets_deg: tuple[float, ...] = (-30.0, 30.0)  # +-30 deg off the sector bearing (project choice)
    target_height_m: float = 1.5  # TR 38.901 UE height
    sensing_eirp_dbw: float = 20.0  # Gamma_t [dBW] when sensing_re_bs_limit_db is None
    sensing_re_bs_limit_db: float | None = None  # Gamma_t relative to the BS-alone sensing limit (bs_sensing_limit_w)
    csi_error: float = 0.0  # relative CSI error radius for PA2


def panel_steering(direction_enu: np.ndarray, bearing_deg: float, rows: int, cols: int) -> np.ndarray:
    """exp(j pi (r k_z + c k.u_h)) of a vertical rows x cols panel (lambda/2) facing ``bearing_deg``
    (compass), u_h = (cos b, -sin b, 0) the horizontal axis of the panel; (..., rows*cols)."""
    b = math.radians(bearing_deg)
    u_h = np.array([math.cos(b), -math.sin(b), 0.0])
    k = np.asarray(direction_enu, float)
    r, c = np.divmod(np.arange(rows * cols), cols)
    return np.exp(1j * np.pi * (r * k[..., 2:3] + c * (k @ u_h)[..., None]))


def _off_axis(points: np.ndarray, sat_xyz: np.ndarray, bores: np.ndarray) -> np.ndarray:
    """Off-axis angles [rad] (..., n_beams) of ground points seen from the satellite."""
    d = points - sat_xyz
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    return np.arccos(np.clip(d @ bores.T, -1.0, 1.0))


def receiver_outputs(a: np.ndarray, receiver) -> np.ndarray:  # noqa: ANN001
    """The car's receive outputs from its ports, axis 2 of ``a`` (M, tx, rx_ant, ...).

    ``fixed_array`` (pipeline.radio.receiver): each polarisation's elements summed with uniform
    weights 1 / sqrt(N) (Sionna orders a dual-polarised array's ports V..., H...), leaving one
    output per polarisation; ``steered_array``: every port stays an output (the combiner steers).
    """
    if receiver.mode != "fixed_array":
        return a
    n_el = receiver.n_elements
    n_pol = a.shape[2] // n_el
    return a.reshape(*a.shape[:2], n_pol, n_el, *a.shape[3:]).sum(axis=3) / math.sqrt(n_el)


def city_problem(channels: xr.Dataset, radiomaps: xr.Dataset, link: LinkParams, bs: BsConfig,
                 beam_target_xyz: np.ndarray, setting: CitySetting = CitySetting(), *,
                 sector: str | None = None) -> BeamformingProblem:
    """Problem (17) on the traced city at one slot (see the module docstring for every channel).

    ``sector`` forces a BS sector (e.g. ``"bs05-s1"``); by default the one with the most users
    that could meet the QoS. Raises StinError when no sector has a user or the slot has no satellite.
    """
    s = setting
    if bs.pattern != "f1336" or bs.array_rows * bs.array_cols != 1:
        raise StinError(f"the city beamforming problem needs the single-port f1336 sector panel, not {bs.pattern!r} "
                        f"{bs.array_rows} x {bs.array_cols}", "set params.yaml bs.pattern: f1336 with a 1 x 1 array")
    t = int(s.time_index)
    if not 0 <= t < channels.sizes["time"]:
        raise StinError(f"time_index {t} is outside the {channels.sizes['time']} slots", "pick a slot in range")
    freq = float(channels.attrs["freq_hz"])
    lam = 299_792_458.0 / freq
    kinds = channels["tx_kind"].values
    bs_idx = np.flatnonzero(kinds == "bs")
    sat_idx = np.flatnonzero(kinds == "sat")
    if int(channels["sat_index"].values[t, 0]) < 0:
        raise StinError(f"slot {t} has no serving satellite", "pick another time_index")
    p_bs, p_sat = float(channels.attrs["bs_tx_power_w"]), float(channels.attrs["sat_tx_power_w"])
    noise = float(channels.attrs["noise_power_w"])
    gains = link_gains(channels, t)  # {'bs': (ue, sector), 'sat': (ue, rank)}, linear, floor -> 0
    sat_interf = p_sat * gains["sat"].sum(1)
    sinr_alone = p_bs * gains["bs"] / (sat_interf[:, None] + noise)  # (ue, sector)
    need = 10 ** ((s.sinr_min_db + s.user_margin_db) / 10)
    ok = sinr_alone >= need
    names = channels["tx"].values[bs_idx]
    if sector is None:
        score = ok.sum(0) + 1e-3 * np.where(ok, sinr_alone, 0).sum(0) / max(np.max(sinr_alone), 1e-300)
        j = int(np.argmax(score))
    else:
        if sector not in set(names):
            raise StinError(f"sector {sector!r} is not in channels.nc", f"use one of {', '.join(names[:6])}, ...")
        j = int(np.flatnonzero(names == sector)[0])
    users = np.flatnonzero(ok[:, j])
    if users.size == 0:
        raise StinError(f"no UE can meet gamma_min = {s.sinr_min_db} dB from any sector at slot {t}",
                        "lower beamforming.city.sinr_min_db or user_margin_db, or pick another slot")
    users = users[np.argsort(-sinr_alone[users, j])][: s.max_users]
    tx = int(bs_idx[j])
    name = str(names[j])
    rm_i = int(np.flatnonzero(radiomaps["bs"].values == name)[0])
    bearing = float(radiomaps["bs_bearing_deg"].values[rm_i])
    site = np.array([float(radiomaps[f"bs_{c}_m"].values[rm_i]) for c in "xyz"])
    nb = s.bs_rows * s.bs_cols

    dense = path_coefficients(channels, t)
    a = dense["a"]  # (ue, tx, rx, txa, path)
    a = a[users][:, :, :, 0, :]  # element 0 of the sector panel (the f1336 panel has one port)
    # padding paths (a link with fewer paths than the tensor holds) carry a = 0; a non-finite amplitude or
    # angle there would still turn 0 * NaN into NaN in the sums below, so both are zeroed
    a = np.where(np.isfinite(a), a, 0.0)
    theta = np.nan_to_num(dense["theta_t_rad"][users, tx])
    phi = np.nan_to_num(dense["phi_t_rad"][users, tx])
    steer = panel_steering(direction_from_angles(theta, phi), bearing, s.bs_rows,
                           s.bs_cols) / math.sqrt(nb)  # (M, path, Nb)
    a = receiver_outputs(a, link.receiver)  # (M, tx, outputs, path)
    h_mat = np.einsum("mrp,mpn->mrn", a[:, tx], steer)  # (M, outputs, Nb)
    combiners = []
    for k in range(len(users)):
        u, _sv, _vh = np.linalg.svd(h_mat[k], full_matrices=False)
        combiners.append(u[:, 0])
    comb = np.array(combiners)  # (M, rx_ant)
    h_ue = np.einsum("mr,mrn->mn", comb.conj(), h_mat)

    # satellite rank 0 and its hexagonal beams
    center = map_center_xyz(radiomaps)
    sat_xyz = center + float(channels["sat_slant_range_m"].values[t, 0]) * channels["sat_direction_enu"].values[t, 0]
    elev = float(channels["sat_elevation_deg"].values[t, 0])
    es_xyz = np.asarray(beam_target_xyz, float) + np.array([0.0, 0.0, s.es_height_m])
    spacing = math.radians(math.sqrt(3) / 2 * bessel_3db_beamwidth_deg(link.sat_aperture_m, freq))
    bores = hex_beam_boresights(sat_xyz, es_xyz, spacing, s.n_beams)
    ue_xyz = np.stack([channels[f"ue_{c}_m"].values[t, users] for c in "xyz"], axis=-1)
    traced_db = channels["sat_antenna_gain_db"].values[t, users, 0]
    beam_db = satellite_budget_db(_off_axis(ue_xyz, sat_xyz, bores), elev, link, freq)  # (M, Ns)
    g_traced = np.einsum("mr,mrp->m", comb.conj(), a[:, sat_idx[0]])
    # a car with no traced satellite path (non-finite traced gain) receives no satellite signal
    has_sat = np.isfinite(traced_db) & np.isfinite(g_traced)
    g_ue = np.where(has_sat[:, None], np.nan_to_num(g_traced)[:, None]
                    * 10 ** ((beam_db - np.where(has_sat, traced_db, 0.0)[:, None]) / 20), 0.0)
    d_es = float(np.linalg.norm(es_xyz - sat_xyz))
    es_db = satellite_budget_db(_off_axis(es_xyz, sat_xyz, bores), elev, link, freq) + s.es_gain_dbi
    g_es = np.sqrt(free_space_path_gain(d_es, freq)) * 10 ** (es_db / 20) * np.exp(-2j * np.pi * d_es / lam)

    # BS -> ES from the ray-traced radio map cell of the ES
    ix = int(np.abs(radiomaps.x.values - es_xyz[0]).argmin())
    iy = int(np.abs(radiomaps.y.values - es_xyz[1]).argmin())
    g_map = float(radiomaps["path_gain_bs"][rm_i, iy, ix].values)
    g_map = g_map if g_map > link.gain_floor else 0.0  # no traced path into the ES cell
    to_es = (es_xyz - site) / max(float(np.linalg.norm(es_xyz - site)), 1.0)
    # the maps weigh every ray by the car's receive pattern; the ES is no car: take the pattern out
    # toward the BS (an approximation for rays arriving from other directions)
    rx_gain = float(link.receiver.ray_gain(-to_es))
    g_map = g_map / rx_gain if rx_gain > 0 and math.isfinite(g_map) else 0.0
    h_es = math.sqrt(g_map * 10 ** (s.es_sidelobe_dbi / 10)) * panel_steering(to_es, bearing, s.bs_rows,
                                                                               s.bs_cols) / math.sqrt(nb)

    # sensing targets in the sector
    bear_t = bearing + np.asarray(s.target_offsets_deg, float)
    tgt = np.stack([site[0] + s.target_range_m * np.sin(np.radians(bear_t)),
                    site[1] + s.target_range_m * np.cos(np.radians(bear_t)),
                    np.full(bear_t.shape, s.target_height_m)], axis=-1)
    to_t = tgt - site
    dist = np.linalg.norm(to_t, axis=-1, keepdims=True)
    elev_t = np.degrees(np.arcsin(to_t[:, 2] / dist[:, 0]))
    pattern_db = f1336_sectoral_gain_db(np.asarray(s.target_offsets_deg, float),
                                        elev_t + bs.mechanical_downtilt_deg, **bs.pattern_kwargs)
    a_bs = (10 ** (pattern_db / 20))[:, None] * panel_steering(to_t / dist, bearing, s.bs_rows, s.bs_cols) / math.sqrt(nb)
    a_sat = 10 ** (bessel_gain_db(_off_axis(tgt, sat_xyz, bores), aperture_diameter_m=link.sat_aperture_m,
                                  freq_hz=freq, g_max_dbi=link.sat_max_gain_dbi) / 20).astype(complex)
    meta = {"source": "ray-traced", "freq_hz": freq, "time_index": t, "sector": name, "bearing_deg": bearing, "site_xyz": site,
            "users": [str(u) for u in channels["ue"].values[users]], "ue_xyz": ue_xyz, "es_xyz": es_xyz,
            "sat_xyz": sat_xyz, "sat_elevation_deg": elev, "target_xyz": tgt,
            "beam_spacing_deg": math.degrees(spacing), "bs_es_map_gain_db": 10 * math.log10(max(g_map, 1e-300)),
            "sinr_alone_db": 10 * np.log10(sinr_alone[users, j])}
    for what, value in (("BS-UE channels", h_ue), ("satellite-UE channels", g_ue), ("satellite-ES channel", g_es),
                        ("BS-ES channel", h_es), ("sensing steering vectors", a_bs)):
        if not np.all(np.isfinite(value)):
            raise StinError(f"the city beamforming problem at slot {t} has non-finite {what}",
                            "rerun the channels stage; if it persists, report it with channels.nc")
    p = problem_from_channels(h_ue, g_ue, g_es, h_es, p_sat_w=p_sat, p_bs_w=p_bs, noise_w=noise,
                              rate_min=math.log2(1 + 10 ** (s.sinr_min_db / 10)), a_sat_targets=a_sat,
                              a_bs_targets=a_bs, sensing_eirp_w=10 ** (s.sensing_eirp_dbw / 10),
                              csi_error=s.csi_error, meta=meta)
    limit_w = bs_sensing_limit_w(p)
    p.meta["bs_sensing_limit_dbw"] = 10 * math.log10(limit_w) if limit_w > 0 else None
    if s.sensing_re_bs_limit_db is not None:
        if limit_w <= 0:
            raise StinError("the BS radiates nothing toward the sensing targets, so Gamma cannot be set relative to "
                            "its sensing limit", "set beamforming.city target_offsets_deg inside the sector")
        p = with_sensing_dbw(p, p.meta["bs_sensing_limit_dbw"] + s.sensing_re_bs_limit_db)
    p.meta["sensing_eirp_dbw"] = 10 * math.log10(float(p.gamma_w.max())) if p.n_targets else None
    return p


def subset_users(p: BeamformingProblem, keep: Any) -> BeamformingProblem:
    """The problem restricted to users ``keep`` (indices into the current users)."""
    keep = np.asarray(keep, int)
    meta = dict(p.meta)
    for key in ("users", "ue_xyz", "sinr_alone_db"):
        if key in meta:
            meta[key] = [meta[key][i] for i in keep] if isinstance(meta[key], list) else np.asarray(meta[key])[keep]
    return p.replace(h_ue=p.h_ue[keep], g_ue=p.g_ue[keep], noise_ue_w=p.noise_ue_w[keep], meta=meta)


def admit_users(p: BeamformingProblem, is_feasible: Any) -> tuple[BeamformingProblem, list[int], list[int]]:
    """Greedy admission control: add users strongest first and keep each one only if the
    problem with it stays feasible (``is_feasible(problem) -> bool``, e.g. PA1's phase 1).

    The traced sector's rays leave within a narrow angular spread, so a 3 x 3 panel cannot
    separate every UE the link budget alone would admit; the QoS (17b) then makes the whole
    problem infeasible. Returns (problem with the admitted users, admitted, rejected)."""
    admitted: list[int] = []
    rejected: list[int] = []
    for k in range(p.n_users):
        if is_feasible(subset_users(p, admitted + [k])):
            admitted.append(k)
        else:
            rejected.append(k)
    if not admitted:
        raise StinError("no user of the chosen sector can be served with the QoS, sensing and backhaul constraints",
                        "lower beamforming.city.sinr_min_db or sensing_eirp_dbw, or pick another time_index")
    return subset_users(p, admitted), admitted, rejected
