"""Far-field satellite sources for Sionna RT.

A satellite 600+ km away cannot be traced as an ordinary transmitter: Sionna launches
rays uniformly over the sphere, so almost none reach a 1 km map (docs/models/farfield.md). Here a
satellite becomes a *proxy* transmitter at ``proxy_distance_m`` along its direction, and
every ray is aimed at a point of the launch area (the map rectangle plus a margin) on the
receiver plane. Points are a Fibonacci lattice on the rectangle, so ray ``i`` represents
the solid angle

    dOmega_i = (A / N) cos(theta_i) / r_i^2

(A: launch area, theta_i: ray angle to the plane normal, r_i: proxy-to-point distance).
Sionna weighs each launched ray as ``4 pi / N``; the launch weights are rescaled by
``sqrt(dOmega_i N / (4 pi))`` so radio-map power densities stay unbiased. Diffraction,
which Sionna evaluates from the source to sampled wedge points, is not rescaled.

The hook replaces ``spawn_ray_from_sources`` inside Sionna RT's radio-map module for
the duration of one ``_shoot_and_bounce`` call and scales the first
``_synthetic_array_weighting`` call after it; :func:`check_hooks` fails loudly if a
Sionna RT release moves either (the version is pinned in pyproject.toml).

Path gains of the proxy are converted to the satellite by :func:`proxy_to_satellite_gain`:
g_sat(c) = g_proxy(c) (|c - p| / |c - s|)^2, spherical spreading from the true satellite
position s instead of the proxy p, per cell c.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass

import numpy as np

from pipeline.runtime import import_sionna_rt

rt = import_sionna_rt()
import drjit as dr  # noqa: E402
import mitsuba as mi  # noqa: E402
from sionna.rt import RadioMapSolver  # noqa: E402
from sionna.rt.utils import fibonacci_lattice  # noqa: E402

from pipeline.radio.mapsolver import PatternRadioMapSolver  # noqa: E402

_RM_MODULE = sys.modules[RadioMapSolver.__module__]


def check_hooks() -> None:
    """Raise if Sionna RT no longer exposes the ray-launching hook this module relies on."""
    src = inspect.getsource(RadioMapSolver._shoot_and_bounce)  # noqa: SLF001
    problems = []
    if not hasattr(_RM_MODULE, "spawn_ray_from_sources"):
        problems.append("radio_map_solver.spawn_ray_from_sources is gone")
    if "spawn_ray_from_sources(" not in src:
        problems.append("_shoot_and_bounce no longer calls spawn_ray_from_sources")
    if "4.0 * dr.pi * dr.rcp(samples_per_tx)" not in src:
        problems.append("_shoot_and_bounce no longer weighs rays by 4 pi / N")
    if src.find("spawn_ray_from_sources(") > src.find("self._synthetic_array_weighting("):
        problems.append("rays are no longer spawned before the launch array weighting")
    if problems:
        raise RuntimeError("Sionna RT far-field hook broken: " + "; ".join(problems)
                           + " (pin sionna-rt==2.2.0 or port pipeline/radio/farfield.py)")


@dataclass(frozen=True)
class LaunchArea:
    """Axis-aligned rectangle on the plane z = ``z_m`` that rays are aimed at (local frame)."""

    x_min_m: float
    y_min_m: float
    x_max_m: float
    y_max_m: float
    z_m: float

    @property
    def area_m2(self) -> float:
        return (self.x_max_m - self.x_min_m) * (self.y_max_m - self.y_min_m)

    def grown(self, margin_m: float) -> "LaunchArea":
        return LaunchArea(self.x_min_m - margin_m, self.y_min_m - margin_m,
                          self.x_max_m + margin_m, self.y_max_m + margin_m, self.z_m)

    @classmethod
    def union(cls, areas: list["LaunchArea"]) -> "LaunchArea":
        """The smallest rectangle holding every area (same plane)."""
        return cls(min(a.x_min_m for a in areas), min(a.y_min_m for a in areas),
                   max(a.x_max_m for a in areas), max(a.y_max_m for a in areas), areas[0].z_m)

    def covering_facades(self, direction_enu: np.ndarray, max_height_m: float) -> "LaunchArea":
        """Grown on the side away from the satellite so that every facade it can see is lit.

        A ray toward the top of a wall of height h_max at the far edge crosses the plane
        z = z_m a horizontal distance (h_max - z_m) / tan(el) further out, along the
        direction the rays travel (-u_h): the far sides grow by that distance's east and
        north components.
        """
        u = np.asarray(direction_enu, float) / np.linalg.norm(direction_enu)
        horizontal = float(np.hypot(u[0], u[1]))
        if horizontal < 1e-9 or max_height_m <= self.z_m:
            return self
        reach = float(max_height_m - self.z_m) / float(u[2] / horizontal)  # (h - z) / tan(el)
        dx, dy = float(-reach * u[0] / horizontal), float(-reach * u[1] / horizontal)
        return LaunchArea(self.x_min_m + min(dx, 0.0), self.y_min_m + min(dy, 0.0),
                          self.x_max_m + max(dx, 0.0), self.y_max_m + max(dy, 0.0), self.z_m)


def proxy_position(direction_enu: np.ndarray, center_xy: tuple[float, float], distance_m: float) -> np.ndarray:
    """Proxy transmitter position: ``distance_m`` from the area centre toward the satellite."""
    d = np.asarray(direction_enu, float)
    d = d / np.linalg.norm(d)
    return np.array([center_xy[0], center_xy[1], 0.0]) + distance_m * d


def spawn_toward_area(area: LaunchArea, samples_per_src: int, src_positions: mi.Point3f) -> tuple[mi.Ray3f, mi.Float]:
    """Rays from each source to a Fibonacci lattice on ``area``; returns (rays, solid angle per ray)."""
    num_src = dr.shape(src_positions)[1]
    uv = fibonacci_lattice(samples_per_src)
    tx = area.x_min_m + uv.x * (area.x_max_m - area.x_min_m)
    ty = area.y_min_m + uv.y * (area.y_max_m - area.y_min_m)
    target = mi.Point3f(dr.tile(tx, num_src), dr.tile(ty, num_src),
                        dr.full(mi.Float, area.z_m, samples_per_src * num_src))
    origins = dr.repeat(src_positions, samples_per_src)
    delta = target - origins
    r2 = dr.squared_norm(delta)
    d = delta * dr.rsqrt(r2)
    solid_angle = (area.area_m2 / samples_per_src) * dr.abs(d.z) / r2
    ray = mi.Ray3f(o=origins, d=d)
    ray.time = dr.zeros(mi.Float, samples_per_src * num_src)  # as Sionna's spawner (avoids retracing)
    return ray, solid_angle


class FarFieldRadioMapSolver(PatternRadioMapSolver):
    """A :class:`sionna.rt.RadioMapSolver` whose transmitters shoot only at a launch area
    (and whose cells may receive through a pattern, see pipeline.radio.mapsolver).

    Use it for proxy transmitters of satellites; every transmitter of the scene is treated
    as such a proxy during the call.
    """

    def __init__(self) -> None:
        check_hooks()
        super().__init__()
        self._area: LaunchArea | None = None
        self._pending_solid_angle: mi.Float | None = None
        self._samples_per_tx = 0

    def __call__(self, scene, *, launch_area: LaunchArea, **kwargs):  # noqa: ANN001, ANN003, ANN204
        self._area = launch_area
        try:
            return super().__call__(scene, **kwargs)
        finally:
            self._area = None
            self._pending_solid_angle = None

    def _shoot_and_bounce(self, scene, radio_map, sampler, tx_positions, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        area = self._area
        if area is None:
            return super()._shoot_and_bounce(scene, radio_map, sampler, tx_positions, *args, **kwargs)
        original = _RM_MODULE.spawn_ray_from_sources

        def spawn(lattice, samples_per_src, src_positions):  # noqa: ANN001, ANN202
            ray, solid_angle = spawn_toward_area(area, samples_per_src, src_positions)
            self._pending_solid_angle = solid_angle
            self._samples_per_tx = samples_per_src
            return ray

        _RM_MODULE.spawn_ray_from_sources = spawn
        try:
            return super()._shoot_and_bounce(scene, radio_map, sampler, tx_positions, *args, **kwargs)
        finally:
            _RM_MODULE.spawn_ray_from_sources = original
            self._pending_solid_angle = None

    def _synthetic_array_weighting(self, scene, k_tx, rel_ant_positions_tx, precoding_vec):  # noqa: ANN001, ANN202
        weights = super()._synthetic_array_weighting(scene, k_tx, rel_ant_positions_tx, precoding_vec)
        solid_angle, self._pending_solid_angle = self._pending_solid_angle, None
        if solid_angle is None:  # diffraction or an ordinary call: Sionna's own weights
            return weights
        scale = dr.sqrt(solid_angle * (self._samples_per_tx / (4.0 * dr.pi)))
        return [w * scale for w in weights]


def proxy_to_satellite_gain(gain_proxy: np.ndarray, cell_xyz: np.ndarray, proxy_xyz: np.ndarray,
                            direction_enu: np.ndarray, slant_range_m: float,
                            center_xy: tuple[float, float]) -> np.ndarray:
    """Rescale proxy path gains to the satellite: g (|c - p| / |c - s|)^2 per cell (see module doc).

    ``cell_xyz`` is (..., 3) with the leading shape of ``gain_proxy``; the satellite sits at
    ``slant_range_m`` from the area centre along ``direction_enu`` (the curvature of the Earth
    over the map is negligible for the range ratio).
    """
    d = np.asarray(direction_enu, float) / np.linalg.norm(direction_enu)
    sat = np.array([center_xy[0], center_xy[1], 0.0]) + slant_range_m * d
    r_proxy = np.linalg.norm(cell_xyz - proxy_xyz, axis=-1)
    r_sat = np.linalg.norm(cell_xyz - sat, axis=-1)
    return gain_proxy * (r_proxy / r_sat) ** 2


def first_hits_inside(scene, origins: mi.Point3f, directions: mi.Vector3f,  # noqa: ANN001
                      bounds: tuple[float, float, float, float]) -> float:
    """Share of rays whose first intersection with the scene lies inside ``bounds`` (x0, y0, x1, y1)."""
    si = scene.mi_scene.ray_intersect(mi.Ray3f(o=origins, d=directions))
    x0, y0, x1, y1 = bounds
    inside = si.is_valid() & (si.p.x >= x0) & (si.p.x <= x1) & (si.p.y >= y0) & (si.p.y <= y1)
    return float(np.asarray(inside.numpy()).mean())


def ray_efficiency(scene, proxy_xyz: np.ndarray, launch: LaunchArea, map_bounds: tuple[float, float, float, float],
                   n_rays: int) -> tuple[float, float]:
    """(far-field, naive) share of launched rays that first hit the scene inside the map.

    Far-field: the rays :func:`spawn_toward_area` launches. Naive: the same proxy
    launching uniformly over the sphere (Fibonacci lattice), as an ordinary transmitter.
    """
    src = mi.Point3f(*[float(v) for v in proxy_xyz])
    ray, _ = spawn_toward_area(launch, n_rays, src)
    farfield = first_hits_inside(scene, ray.o, ray.d, map_bounds)
    sphere = mi.warp.square_to_uniform_sphere(fibonacci_lattice(n_rays))
    naive = first_hits_inside(scene, dr.repeat(src, n_rays), sphere, map_bounds)
    return farfield, naive


def solid_angle_check(launch: LaunchArea, proxy_xyz: np.ndarray, n_rays: int) -> float:
    """Sum of the per-ray solid angles (should equal the area's solid angle seen from the proxy)."""
    _, solid_angle = spawn_toward_area(launch, n_rays, mi.Point3f(*[float(v) for v in proxy_xyz]))
    return float(np.asarray(solid_angle.numpy(), dtype=np.float64).sum())
