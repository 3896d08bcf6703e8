"""The direct ray of every link, exact at the receiver point: line of sight or through walls.

Nguyen-Kha et al., "Seamless 5G Automotive Connectivity with Integrated Satellite
Terrestrial Networks in C-Band" (arXiv 2408.15394), eq. (1), sum two ray sets: N1, the
line-of-sight, reflected and diffracted rays, and N2, rays that reach the car *through*
walls, with loss L_n = L_FS,n + L_pen (TR 38.901 material penetration). Here the direct
ray from a transmitter to a receiver point is evaluated deterministically:

    g_direct = (lambda / 4 pi d)^2 G_tx(direction) 10^(-L_pen / 10),
    L_pen    = sum over the walls the segment crosses of L_material,
    L_material = a + b f[GHz]                      (TR 38.901 Table 7.4.3-1)

L_pen = 0 in line of sight; a segment that crosses more than ``max_walls`` walls, or an
opaque material (metal, ground), carries nothing. Shoot-and-bounce radio maps estimate the
line of sight by Monte Carlo (~N A h / (4 pi r^3) direct rays per cell, about 0.3 at
500 m for 1e6 rays and 5 m cells), so the maps take the direct ray from here and only
the reflected and diffracted power from the ray tracer; the path solver's channels take
their line of sight from Sionna and the through-wall ray from here (one formula for both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.errors import StinError

WALL_STEP_M = 1e-3  # restart a segment this far past a wall it crossed (float32 spacing at 1 km: 6e-5 m)


@dataclass(frozen=True)
class Penetration:
    """Through-wall losses per wall crossing, by radio-material name of the scene."""

    enabled: bool
    max_walls: int
    loss_db_by_material: dict[str, float]

    @classmethod
    def from_params(cls, p: dict[str, Any], freq_hz: float, where: str = "params.yaml raytracing.penetration"
                    ) -> "Penetration":
        from pipeline.config import number  # noqa: PLC0415

        enabled = p.get("enabled", True)
        if not isinstance(enabled, bool):
            raise StinError(f"{where}: 'enabled' must be true or false, got {enabled!r}", "write true or false")
        walls = number(p, "max_walls", where, positive=False, minimum=0)
        if not float(walls).is_integer():
            raise StinError(f"{where}: 'max_walls' must be a whole number, got {walls}", "use e.g. 2")
        table = p.get("tr38901_a_b_db", {})
        if not isinstance(table, dict):
            raise StinError(f"{where}: 'tr38901_a_b_db' must map material -> [a, b]", "see params.yaml")
        losses = {}
        for name, ab in table.items():
            if not (isinstance(ab, list) and len(ab) == 2 and all(isinstance(v, (int, float)) for v in ab)):
                raise StinError(f"{where}: tr38901_a_b_db.{name} = {ab!r} is not [a, b]",
                                "give the TR 38.901 Table 7.4.3-1 coefficients as [a, b] (L = a + b f_GHz)")
            losses[str(name)] = float(ab[0]) + float(ab[1]) * freq_hz / 1e9
        return cls(bool(enabled), int(walls), losses)

    @classmethod
    def off(cls) -> "Penetration":
        return cls(False, 0, {})


def _material_of(obj) -> str:  # noqa: ANN001
    name = obj.radio_material.name
    return name[4:] if name.startswith("itu_") else name


def wall_loss_db(scene, origins: np.ndarray, directions: np.ndarray, distances: np.ndarray | None,  # noqa: ANN001
                 penetration: Penetration) -> np.ndarray:
    """Penetration loss [dB] along segments from ``origins`` (n, 3) along unit ``directions``
    (n, 3) for ``distances`` (n,) metres (None: to infinity). 0 in line of sight, inf when
    blocked for good (too many walls, an opaque material, or penetration off)."""
    import drjit as dr  # noqa: PLC0415
    import mitsuba as mi  # noqa: PLC0415

    o = np.array(origins, np.float64).reshape(-1, 3)  # a copy: the origins advance wall by wall
    d = np.asarray(directions, np.float64).reshape(-1, 3)
    n = len(o)
    if n == 0:
        return np.zeros(0)
    remaining = np.full(n, np.inf) if distances is None else np.asarray(distances, np.float64).ravel().copy()
    loss = np.zeros(n)
    alive = np.ones(n, bool)
    # loss per wall of each shape, looked up by the shape's id (its pointer as UInt32, as Sionna's own
    # SceneObject.object_id): one vectorised lookup, however many shapes (per_building scenes)
    objs = list(scene.objects.values())
    ids = np.array([int(obj.object_id) for obj in objs], np.int64)
    order = np.argsort(ids)
    ids_sorted = ids[order]
    loss_sorted = np.array([penetration.loss_db_by_material.get(_material_of(obj), math.inf) for obj in objs])[order]
    walls = penetration.max_walls if penetration.enabled else 0
    for crossing in range(walls + 1):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        oi, di = o[idx], d[idx]
        maxt = np.where(np.isfinite(remaining[idx]), remaining[idx], 3.0e38).astype(np.float32)
        ray = mi.Ray3f(mi.Ray3f(mi.Point3f(*(oi[:, k].astype(np.float32) for k in range(3))),
                                mi.Vector3f(*(di[:, k].astype(np.float32) for k in range(3)))), mi.Float(maxt))
        si = scene.mi_scene.ray_intersect(ray)
        hit = np.asarray(si.is_valid().numpy(), bool)
        if crossing == walls:
            loss[idx[hit]] = math.inf
            break
        hit_ids = np.asarray(dr.reinterpret_array(mi.UInt32, si.shape).numpy(), np.int64)
        at = np.clip(np.searchsorted(ids_sorted, hit_ids), 0, len(ids_sorted) - 1)
        per_wall = np.where(ids_sorted[at] == hit_ids, loss_sorted[at], 0.0)
        t = np.asarray(si.t.numpy(), np.float64)
        loss[idx[hit]] += per_wall[hit]
        step = t[hit] + WALL_STEP_M
        o[idx[hit]] += d[idx[hit]] * step[:, None]
        remaining[idx[hit]] -= step
        alive[:] = False
        alive[idx[hit]] = np.isfinite(loss[idx[hit]])
    return loss


def direct_gain(scene, points: np.ndarray, source_xyz: np.ndarray | None, direction_enu: np.ndarray | None,  # noqa: ANN001
                freq_hz: float, penetration: Penetration, sources_xyz: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct-ray path gain without antennas, the arrival direction and the wall loss per point.

    ``source_xyz`` (3,) for a nearby transmitter (or ``sources_xyz`` (n, 3), one per point), or
    ``direction_enu`` (3,) toward a far-field source (the Friis term is then left to the caller:
    returned gain is 10^(-L_pen / 10) only). Returns (gain (n,), arrival unit vectors (n, 3), loss_db (n,)).
    """
    from pipeline.radio.link import free_space_path_gain  # noqa: PLC0415

    p = np.asarray(points, np.float64).reshape(-1, 3)
    if sources_xyz is not None:
        source_xyz = np.asarray(sources_xyz, np.float64).reshape(-1, 3)
    if source_xyz is not None:
        delta = np.asarray(source_xyz, np.float64).reshape(-1, 3) - p
        dist = np.linalg.norm(delta, axis=-1)
        u = delta / np.maximum(dist, 1e-9)[:, None]
        loss = wall_loss_db(scene, p, u, dist, penetration)
        gain = free_space_path_gain(np.maximum(dist, 1e-3), freq_hz) * 10 ** (-loss / 10)
    else:
        u = np.broadcast_to(np.asarray(direction_enu, float) / np.linalg.norm(direction_enu), p.shape).copy()
        loss = wall_loss_db(scene, p, u, None, penetration)
        gain = 10 ** (-loss / 10)
    return gain, u, loss


def sector_direct_gains(scene, points: np.ndarray, bs, sites: list[tuple[str, float, float, float]],  # noqa: ANN001
                        freq_hz: float, penetration: Penetration) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct rays from every sector of ``sites`` to ``points`` (n, 3), the sector antenna included
    (``bs``: a pipeline.radio.tracing.BsConfig), the receive pattern not. The sectors of a site share
    the rays' geometry, traced once per (site, point). Returns gain, arrival unit vectors and wall
    loss [dB], each (sector, n[, 3]) in the order of ``bs.sector_transmitters(sites)``."""
    p = np.asarray(points, np.float64).reshape(-1, 3)
    xyz = np.array([[x, y, z] for _, x, y, z in sites], np.float64).reshape(-1, 3)
    g, arrival, loss = direct_gain(scene, np.tile(p, (len(xyz), 1)), None, None, freq_hz, penetration,
                                   sources_xyz=np.repeat(xyz, len(p), axis=0))
    g, arrival, loss = g.reshape(len(xyz), len(p)), arrival.reshape(len(xyz), len(p), 3), loss.reshape(len(xyz), len(p))
    n_sec = len(bs.sector_bearings_deg)
    site = np.repeat(np.arange(len(xyz)), n_sec)
    bearings = np.tile(np.asarray(bs.sector_bearings_deg, float), len(xyz))
    gains = np.stack([g[i] * 10 ** (bs.gain_db(-arrival[i], b) / 10) for i, b in zip(site, bearings)])
    return gains, arrival[site], loss[site]


def satellite_direct_gain(scene, points: np.ndarray, direction_enu: np.ndarray, sat_xyz: np.ndarray,  # noqa: ANN001
                          freq_hz: float, penetration: Penetration) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct ray from a far satellite at ``sat_xyz`` (local frame) to ``points`` (n, 3): free space at
    the true range, walls crossed along the satellite's direction ``direction_enu`` seen from the map
    (the same for every point), isotropic antennas. Returns gain (n,), arrival unit vectors (n, 3),
    wall loss [dB] (n,)."""
    from pipeline.radio.link import free_space_path_gain  # noqa: PLC0415

    p = np.asarray(points, np.float64).reshape(-1, 3)
    sat = np.asarray(sat_xyz, np.float64)
    wall, arrival, loss = direct_gain(scene, p, None, direction_enu, freq_hz, penetration)
    return wall * free_space_path_gain(np.linalg.norm(p - sat, axis=-1), freq_hz), arrival, loss
