"""Fidelity checks of the ray tracing against references nobody here wrote.

(a) Free space and two-ray: an empty scene must reproduce Friis, a ground-only scene the
    (incoherent, as Sionna's radio maps sum path powers) two-ray model with the Fresnel
    coefficient of ITU-R P.2040 medium-dry ground.
(b) Satellite line of sight: far-field radio-map cells in line of sight must match free
    space at the true slant range.
(c) Line-of-sight probability vs elevation over the street-level grid, by tracing the
    satellite direction, next to the TR 38.811 Table 6.6.1-1 values.
(d) Ray efficiency of the far-field launch vs an ordinary transmitter at the same place.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from pipeline.io.pathstore import iter_slots
from pipeline.radio.link import free_space_path_gain, lin_to_db
from pipeline.radio.tracing import MapGrid, clear_devices, solve_radio_map, trace_satellite_maps
from pipeline.runtime import import_sionna_rt

EPS0_F_M = 8.8541878128e-12  # vacuum permittivity (CODATA 2018)

# TR 38.811 Table 6.6.1-1 LoS probability vs elevation (values as in ns-3; docs/models/farfield.md)
TR38811_LOS_PROBABILITY = {
    "dense_urban": {10: 0.282, 20: 0.331, 30: 0.398, 40: 0.468, 50: 0.537, 60: 0.612, 70: 0.738, 80: 0.820, 90: 0.981},
    "urban": {10: 0.246, 20: 0.386, 30: 0.493, 40: 0.613, 50: 0.726, 60: 0.805, 70: 0.919, 80: 0.968, 90: 0.992},
}

# ITU-R P.2040 Table 3 medium dry ground: eps' = a f^b, sigma = c f^d (f in GHz), 1-10 GHz
P2040_MEDIUM_DRY_GROUND = (15.0, -0.1, 0.035, 1.63)


def p2040_permittivity(freq_hz: float, abcd: tuple[float, float, float, float] = P2040_MEDIUM_DRY_GROUND) -> complex:
    """Complex relative permittivity eps' - j sigma / (eps0 omega)."""
    a, b, c, d = abcd
    f_ghz = freq_hz / 1e9
    eps_r, sigma = a * f_ghz**b, c * f_ghz**d
    return complex(eps_r, -sigma / (EPS0_F_M * 2 * math.pi * freq_hz))


def fresnel_vertical(grazing_rad: np.ndarray, eps: complex) -> np.ndarray:
    """Fresnel reflection coefficient for vertical (TM) polarisation at grazing angle psi:
    (eps sin psi - sqrt(eps - cos^2 psi)) / (eps sin psi + sqrt(eps - cos^2 psi))."""
    s, c2 = np.sin(grazing_rad), np.cos(grazing_rad) ** 2
    root = np.sqrt(eps - c2)
    return (eps * s - root) / (eps * s + root)


def two_ray_incoherent_gain(rho_m: np.ndarray, h_tx_m: float, h_rx_m: float, freq_hz: float, eps: complex) -> np.ndarray:
    """(lambda / 4 pi)^2 (1/d1^2 + |Gamma_V|^2 / d2^2): direct plus ground-reflected power."""
    d1 = np.hypot(rho_m, h_tx_m - h_rx_m)
    d2 = np.hypot(rho_m, h_tx_m + h_rx_m)
    gamma = fresnel_vertical(np.arctan2(h_tx_m + h_rx_m, rho_m), eps)
    return free_space_path_gain(d1, freq_hz) + np.abs(gamma) ** 2 * free_space_path_gain(d2, freq_hz)


def _ground_scene(freq_hz: float, half_size_m: float, material: str):  # noqa: ANN202
    from pipeline.geometry.scene import MaterialTable, write_scene  # noqa: PLC0415

    rt = import_sionna_rt()
    tmp = Path(tempfile.mkdtemp(prefix="stin-ground-"))
    empty = gpd.GeoDataFrame({"facade_material": [], "building_material": [], "building": [],
                              "min_height_m": [], "height_m": []}, geometry=[])
    table = MaterialTable(default="concrete", by_building_material={}, by_building_type={}, ground=material,
                          thickness_m=0.2)
    write_scene(tmp, empty, table, (-half_size_m, -half_size_m, half_size_m, half_size_m), 0.0, {})
    scene = rt.load_scene(str(tmp / "scene.xml"))
    scene.frequency = freq_hz
    return scene


def free_space_checks(freq_hz: float, tx_height_m: float, rx_height_m: float, *, half_size_m: float = 300.0,
                      cell_m: float = 5.0, samples: int = 20_000_000, seed: int = 42,
                      min_range_m: float = 30.0) -> dict[str, Any]:
    """(a): Friis in an empty scene, incoherent two-ray over medium-dry ground; errors in dB."""
    rt = import_sionna_rt()
    import mitsuba as mi  # noqa: PLC0415

    grid = MapGrid.covering((-half_size_m, -half_size_m, half_size_m, half_size_m), cell_m, rx_height_m)
    centers = grid.centers
    rho = np.hypot(centers[..., 0], centers[..., 1])
    ring = rho >= min_range_m
    out: dict[str, Any] = {}
    for name, scene in (("friis", rt.load_scene()), ("two_ray", _ground_scene(freq_hz, half_size_m + 50, "medium_dry_ground"))):
        scene.frequency = freq_hz
        scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
        scene.rx_array = scene.tx_array
        scene.add(rt.Transmitter("tx", position=mi.Point3f(0.0, 0.0, tx_height_m)))
        gain = solve_radio_map(rt.RadioMapSolver(), scene, grid, samples, max_depth=0 if name == "friis" else 1,
                      diffraction=False, seed=seed)[0]
        if name == "friis":
            ref = free_space_path_gain(np.linalg.norm(centers - [0, 0, tx_height_m], axis=-1), freq_hz)
        else:
            ref = two_ray_incoherent_gain(rho, tx_height_m, rx_height_m, freq_hz, p2040_permittivity(freq_hz))
        err = lin_to_db(gain[ring]) - lin_to_db(ref[ring])
        out[name] = {"median_abs_error_db": float(np.median(np.abs(err))), "mean_error_db": float(np.mean(err)),
                     "p90_abs_error_db": float(np.percentile(np.abs(err), 90)), "cells": int(ring.sum())}
        clear_devices(scene)
    return out


def satellite_los_check(scene, grid: MapGrid, outdoor: np.ndarray, elevation_deg: float, azimuth_deg: float,  # noqa: ANN001
                        slant_range_m: float, *, freq_hz: float, samples: int, proxy_distance_m: float,
                        launch_margin_m: float, seed: int) -> dict[str, Any]:
    """(b): far-field LoS-only map vs free space at the true per-cell slant range."""
    direction = direction_enu(elevation_deg, azimuth_deg)
    gain = trace_satellite_maps(scene, direction[None], np.array([slant_range_m]), grid, samples=samples, max_depth=0,
                                diffraction=False, seed=seed, proxy_distance_m=proxy_distance_m,
                                launch_margin_m=launch_margin_m, desc="fidelity: satellite LoS")[0]
    los = los_mask(scene, grid.centers, direction) & outdoor & (gain > 0)
    center = np.array([np.mean(grid.x_m), np.mean(grid.y_m), 0.0])
    sat = center + slant_range_m * direction
    ref = free_space_path_gain(np.linalg.norm(grid.centers - sat, axis=-1), freq_hz)
    err = lin_to_db(gain[los]) - lin_to_db(ref[los])
    return {"median_abs_error_db": float(np.median(np.abs(err))), "mean_error_db": float(np.mean(err)),
            "p90_abs_error_db": float(np.percentile(np.abs(err), 90)), "los_cells": int(los.sum()),
            "elevation_deg": elevation_deg, "azimuth_deg": azimuth_deg, "slant_range_m": slant_range_m}


def direction_enu(elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector toward (elevation, azimuth from north clockwise)."""
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    return np.array([math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el)])


def los_mask(scene, points: np.ndarray, direction: np.ndarray) -> np.ndarray:  # noqa: ANN001
    """True where a ray from each point toward ``direction`` escapes the scene unblocked."""
    import mitsuba as mi  # noqa: PLC0415

    pts = np.asarray(points, np.float32).reshape(-1, 3)
    d = np.broadcast_to(np.asarray(direction, np.float32), pts.shape)
    ray = mi.Ray3f(o=mi.Point3f(pts[:, 0], pts[:, 1], pts[:, 2]), d=mi.Vector3f(d[:, 0], d[:, 1], d[:, 2]))
    blocked = np.asarray(scene.mi_scene.ray_test(ray).numpy(), bool)
    return ~blocked.reshape(np.shape(points)[:-1])


def los_probability(scene, points: np.ndarray, elevations_deg: list[float], n_azimuths: int) -> dict[float, float]:
    """(c): share of (point, azimuth) pairs with an unblocked ray at each elevation."""
    result = {}
    for el in elevations_deg:
        hits = [los_mask(scene, points, direction_enu(el, 360.0 * k / n_azimuths)).mean() for k in range(n_azimuths)]
        result[float(el)] = float(np.mean(hits))
    return result


def ue_element_azimuth_spread_db(receiver, elevations_deg: np.ndarray | None = None,  # noqa: ANN001
                                 n_azimuths: int = 360) -> dict[str, float]:
    """Max over elevations of (max - min over azimuth) of the car's *element* gain [dB], as the
    ray tracer applies it: Sionna's registered ``stin_patch`` in the car's orientation (boresight
    to the zenith, Sionna pitch -90 deg), and the NumPy receiver model. The array factor's own
    azimuth dependence is physics and is left out."""
    from pipeline.radio.antennas import pattern_gain_db  # noqa: PLC0415

    el = np.radians(np.arange(5.0, 86.0, 5.0) if elevations_deg is None else np.asarray(elevations_deg, float))
    az = np.radians(np.arange(n_azimuths) * 360.0 / n_azimuths)
    e, a = np.meshgrid(el, az, indexing="ij")
    u = np.stack([np.cos(e) * np.sin(a), np.cos(e) * np.cos(a), np.sin(e)], axis=-1)  # ENU
    # local frame of orientation (0, -90 deg, 0): x_l = up, y_l = north, z_l = -east (R^T u with R = Ry(-90 deg))
    local = np.stack([u[..., 2], u[..., 1], -u[..., 0]], axis=-1)
    theta = np.arccos(np.clip(local[..., 2], -1, 1))
    phi = np.arctan2(local[..., 1], local[..., 0])
    traced = pattern_gain_db("stin_patch", theta, phi, g_max_dbi=receiver.element_gain_dbi,
                             theta_3db_deg=receiver.element_3db_deg, a_max_db=receiver.max_attenuation_db)
    model = receiver.element_gain_db(u)
    return {"sionna_pattern": float((traced.max(axis=1) - traced.min(axis=1)).max()),
            "receiver_model": float((model.max(axis=1) - model.min(axis=1)).max()),
            "sionna_vs_model_max_abs_db": float(np.abs(traced - model).max())}


def satellite_los_path_errors(raypaths, orbits, center_xyz: np.ndarray) -> dict[str, float]:  # noqa: ANN001
    """Line-of-sight satellite paths along the routes vs the true satellite geometry.

    Delay: tau_LoS - |s - p| / c. Doppler: f_D,LoS - (-(v_s . u) + v_car . u) / lambda with
    u = (s - p) / |s - p| (the car's and the satellite's radial velocities), s = centre +
    slant range x direction (the satellite position the tracer uses), p the car.
    """
    c = 299_792_458.0
    lam = c / float(raypaths.attrs["freq_hz"])
    kinds = raypaths["tx_kind"].values
    sat_tx = np.flatnonzero(kinds == "sat")
    delay_err, doppler_err = [], []
    for t, slot in iter_slots(raypaths):
        ue, tx = np.divmod(slot.link_of_row(), len(kinds))
        for r, sat_tx_index in enumerate(sat_tx):
            s_idx = int(raypaths.sat_index.values[t, r])
            if s_idx < 0:
                continue
            sat = center_xyz + float(raypaths.sat_slant_range_m.values[t, r]) * raypaths.sat_direction_enu.values[t, r]
            v_sat = orbits.velocity_enu.values[t, s_idx]
            rows = np.flatnonzero((tx == sat_tx_index) & (slot.path_los > 0))
            # the first line-of-sight row of each link (rows run by delay: the LoS path is the earliest)
            rows = rows[np.concatenate([[True], ue[rows][1:] != ue[rows][:-1]])] if rows.size else rows
            for row in rows:
                k = int(ue[row])
                p = np.array([raypaths.ue_x_m.values[t, k], raypaths.ue_y_m.values[t, k], raypaths.ue_z_m.values[t, k]])
                v_car = np.array([raypaths.ue_vel_east_m_s.values[t, k], raypaths.ue_vel_north_m_s.values[t, k], 0.0])
                d = np.linalg.norm(sat - p)
                u = (sat - p) / d
                delay_err.append(float(slot.tau_s[row]) - d / c)
                doppler_err.append(float(slot.doppler_hz[row]) - (-(v_sat @ u) + v_car @ u) / lam)
    if not delay_err:
        return {"sat_los_delay_error_ns_max": None, "sat_doppler_error_hz_max": None, "sat_los_paths": 0}
    return {"sat_los_delay_error_ns_max": float(np.max(np.abs(delay_err)) * 1e9),
            "sat_doppler_error_hz_max": float(np.max(np.abs(doppler_err))), "sat_los_paths": len(delay_err)}


def cinr_distance_spearman(heat, sites_xy: np.ndarray, time_index: int = 0) -> dict[str, float]:  # noqa: ANN001
    """Spearman rank correlation of each outdoor cell's CINR (slot ``time_index``) with its
    horizontal distance to the nearest BS site, for both networks."""
    from scipy.stats import spearmanr  # noqa: PLC0415

    xx, yy = np.meshgrid(heat.x.values, heat.y.values)
    dist = np.min(np.hypot(xx[..., None] - sites_xy[:, 0], yy[..., None] - sites_xy[:, 1]), axis=-1)
    outdoor = heat["outdoor"].values.astype(bool)
    out = {}
    for key, var in (("bs", "cinr_bs_db"), ("leo", "cinr_leo_db")):
        v = heat[var].values[time_index]
        ok = outdoor & np.isfinite(v)
        out[key] = float(spearmanr(v[ok], dist[ok]).statistic)
    return out



# ---------------------------------------------------------------- ITU-R P.1410 building blockage
P1410_TAIL_SIGMAS = 12.0  # stop the product once h_i > 12 gamma: exp(-72) is below double precision


def p1410_los_probability(elevation_deg: float, alpha: float, beta_per_km2: float, gamma_m: float,
                          rx_height_m: float) -> float:
    """LoS probability toward a satellite at ``elevation_deg`` in the ITU-R P.1410 statistical city.

    P.1410's statistical building-blockage model places the buildings a ray crosses at a ground spacing
    ``d = 1 / sqrt(alpha beta)`` (``beta`` per km^2, so ``d`` in km) and draws their heights from a
    Rayleigh law of scale ``gamma``, so a ray clears the i-th building with probability
    ``1 - exp(-h_i^2 / (2 gamma^2))``. For a ray from a receiver at ``h_rx`` to a satellite at elevation
    ``theta`` (Al-Hourani and Guvenc, IEEE Commun. Lett. 25(3), 2021) the ray's height over the i-th
    building is ``h_i = h_rx + (i - 1/2) d tan(theta)``, and

        P_LoS(theta) = prod_{i >= 1} [1 - exp(-h_i^2 / (2 gamma^2))].

    (Our reading of the two sources: P.1410's finite terminal-to-terminal product with the far
    terminal taken to infinity along the elevation.)
    """
    if not (0 < alpha < 1 and beta_per_km2 > 0 and gamma_m > 0):
        raise ValueError(f"P.1410 needs 0 < alpha < 1, beta > 0, gamma > 0; got {alpha}, {beta_per_km2}, {gamma_m}")
    spacing_m = 1000.0 / math.sqrt(alpha * beta_per_km2)
    tan_el = math.tan(math.radians(elevation_deg))
    if tan_el <= 0:
        return 0.0
    n_max = int(math.ceil(max(P1410_TAIL_SIGMAS * gamma_m - rx_height_m, 0.0) / (spacing_m * tan_el))) + 1
    h = rx_height_m + (np.arange(1, n_max + 1) - 0.5) * spacing_m * tan_el
    return float(np.prod(-np.expm1(-(h**2) / (2.0 * gamma_m**2))))


def p1410_city_parameters(footprints, heights_m: np.ndarray, area_m2: float) -> dict[str, float]:  # noqa: ANN001
    """(alpha, beta, gamma) of P.1410 measured on a city's own buildings.

    ``alpha`` = union of the footprints / area; ``beta`` = buildings per km^2; ``gamma`` = maximum-
    likelihood Rayleigh scale of the building heights, ``sqrt(sum h^2 / (2 N))``."""
    import shapely  # noqa: PLC0415

    h = np.asarray(heights_m, float)
    h = h[np.isfinite(h) & (h > 0)]
    if h.size == 0 or area_m2 <= 0:
        raise ValueError("P.1410 parameters need buildings with heights and a positive area")
    built = float(shapely.union_all(np.asarray(list(footprints))).area)
    return {"alpha": built / area_m2, "beta_per_km2": h.size / (area_m2 / 1e6),
            "gamma_m": float(np.sqrt(np.sum(h**2) / (2.0 * h.size))), "n_buildings": int(h.size)}


def shadow_margin_m(building_height_m: float, elevation_deg: float, rx_height_m: float) -> float:
    """Ground length of the shadow a building of ``building_height_m`` casts, seen from ``rx_height_m``, at
    ``elevation_deg``: (h - h_rx) / tan(theta). A street point nearer the area edge than this could be
    shadowed by buildings beyond the edge that the scene does not hold."""
    return max(building_height_m - rx_height_m, 0.0) / math.tan(math.radians(elevation_deg))
