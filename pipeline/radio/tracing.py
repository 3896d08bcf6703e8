"""Ray tracing of radio maps: base-station sectors and far-field satellites, with Sionna RT.

Path gains are stored without transmit power and without the UE antenna, so powers,
bandwidths, noise and UE arrays can change later without tracing again. BS antenna
patterns are applied by the ray tracer (they shape which rays carry power); the satellite
antenna gain toward the map is applied analytically (the map subtends < 0.2 deg from
orbit; docs/models/farfield.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
import json
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pipeline.errors import StinError
from pipeline.config import integer, number, numbers
from pipeline.radio.antennas import (
    F1336_SIDELOBES, f1336_sectoral_gain_db, register_patterns, tr38901_element_gain_db, ura_array_gain_db)
from pipeline.radio.direct import Penetration, satellite_direct_gain, sector_direct_gains
from pipeline.runtime import import_sionna_rt


@dataclass(frozen=True)
class MapGrid:
    """Cell centres of a radio map on the plane z = ``z_m`` (local frame, metres)."""

    x_m: np.ndarray  # (nx,)
    y_m: np.ndarray  # (ny,)
    z_m: float  # height above the ground
    cell_size_m: float
    ground_z_m: np.ndarray | None = None  # (ny, nx) terrain under the cell centres; None: flat ground z = 0

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.y_m), len(self.x_m)

    @property
    def centers(self) -> np.ndarray:
        """(ny, nx, 3) cell centres (``z_m`` above the ground)."""
        xx, yy = np.meshgrid(self.x_m, self.y_m)
        zz = np.full_like(xx, self.z_m) if self.ground_z_m is None else self.ground_z_m + self.z_m
        return np.stack([xx, yy, zz], axis=-1)

    def on_terrain(self, terrain) -> "MapGrid":  # noqa: ANN001
        """The same cells measured ``z_m`` above ``terrain`` (a pipeline.geometry.terrain.Terrain; None: flat)."""
        if terrain is None:
            return self
        xx, yy = np.meshgrid(self.x_m, self.y_m)
        return dataclasses.replace(self, ground_z_m=terrain.height_at(xx, yy))

    def measurement_mesh(self):  # noqa: ANN201
        """Two triangles per cell, ``z_m`` above the terrain (vertices at the cell corners, heights averaged
        from the adjacent centres), faces in cell order (iy, ix): Sionna RT's mesh radio-map surface."""
        import mitsuba as mi  # noqa: PLC0415

        from pipeline.geometry.terrain import grid_faces  # noqa: PLC0415

        h = self.cell_size_m / 2
        xs = np.concatenate([self.x_m - h, [self.x_m[-1] + h]])
        ys = np.concatenate([self.y_m - h, [self.y_m[-1] + h]])
        g = np.pad(self.ground_z_m, 1, mode="edge")
        corner = (g[:-1, :-1] + g[1:, :-1] + g[:-1, 1:] + g[1:, 1:]) / 4 + self.z_m  # (ny + 1, nx + 1)
        xx, yy = np.meshgrid(xs, ys)
        vertices = np.stack([xx.ravel(), yy.ravel(), corner.ravel()], axis=-1).astype(np.float32)
        faces = grid_faces(len(ys), len(xs)).astype(np.uint32)
        mesh = mi.Mesh("measurement-surface", len(vertices), len(faces), has_vertex_normals=False)
        params = mi.traverse(mesh)
        params["vertex_positions"] = mi.Float(vertices.ravel())
        params["faces"] = mi.UInt32(faces.ravel())
        params.update()
        return mesh

    def window(self, rows: slice, cols: slice) -> "MapGrid":
        """The cells ``[rows, cols]`` of this grid as a grid of their own (a tile)."""
        ground = None if self.ground_z_m is None else self.ground_z_m[rows, cols]
        return dataclasses.replace(self, x_m=self.x_m[cols], y_m=self.y_m[rows], ground_z_m=ground)

    def tiles(self, tile_size_m: float) -> list[tuple[slice, slice]]:
        """(rows, cols) windows of about ``tile_size_m`` square covering the grid, row by row."""
        n = max(1, round(tile_size_m / self.cell_size_m))
        ny, nx = self.shape
        return [(slice(r, min(r + n, ny)), slice(c, min(c + n, nx))) for r in range(0, ny, n) for c in range(0, nx, n)]

    def window_within(self, x_min_m: float, y_min_m: float, x_max_m: float, y_max_m: float
                      ) -> tuple[slice, slice] | None:
        """(rows, cols) of the cells whose centres lie in the rectangle; None if none does."""
        cols = np.nonzero((self.x_m >= x_min_m) & (self.x_m <= x_max_m))[0]
        rows = np.nonzero((self.y_m >= y_min_m) & (self.y_m <= y_max_m))[0]
        if not len(cols) or not len(rows):
            return None
        return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        h = self.cell_size_m / 2
        return (float(self.x_m[0] - h), float(self.y_m[0] - h), float(self.x_m[-1] + h), float(self.y_m[-1] + h))

    def cell_index(self, x_m: np.ndarray, y_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices (iy, ix) of the cells holding the points (x_m, y_m), same shape as x_m."""
        ix = np.abs(self.x_m[None, :] - np.ravel(x_m)[:, None]).argmin(axis=1).reshape(np.shape(x_m))
        iy = np.abs(self.y_m[None, :] - np.ravel(y_m)[:, None]).argmin(axis=1).reshape(np.shape(y_m))
        return iy, ix

    def cell_centre_of(self, points: np.ndarray) -> np.ndarray:
        """Centres (n, 3) of the cells holding the points (n, >= 2), on the grid's plane."""
        p = np.asarray(points, float)
        iy, ix = self.cell_index(p[:, 0], p[:, 1])
        z = np.full(len(p), self.z_m) if self.ground_z_m is None else self.ground_z_m[iy, ix] + self.z_m
        return np.stack([self.x_m[ix], self.y_m[iy], z], axis=-1)

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float], cell_size_m: float, z_m: float) -> "MapGrid":
        """Grid of square cells covering ``bounds`` (x0, y0, x1, y1), centred on it."""
        x0, y0, x1, y1 = bounds
        nx = max(1, math.ceil((x1 - x0) / cell_size_m - 1e-9))
        ny = max(1, math.ceil((y1 - y0) / cell_size_m - 1e-9))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x = cx + (np.arange(nx) - (nx - 1) / 2) * cell_size_m
        y = cy + (np.arange(ny) - (ny - 1) / 2) * cell_size_m
        return cls(x, y, float(z_m), float(cell_size_m))


def load_rt_scene(scene_xml: Path, freq_hz: float):  # noqa: ANN201
    """Load the Mitsuba XML scene into Sionna RT at ``freq_hz``.

    A ``per_building`` scene (its metadata.json says so) keeps every building its own shape: Sionna
    would otherwise merge the shapes of one material into one (``merge_shapes``)."""
    rt = import_sionna_rt()
    register_patterns()
    if not Path(scene_xml).is_file():
        raise StinError(f"scene {scene_xml} not found", "run the scene stage first ('dvc repro scene')")
    meta = Path(scene_xml).with_name("metadata.json")
    per_building = meta.is_file() and json.loads(meta.read_text(encoding="utf-8")).get("mesh") == "per_building"
    scene = rt.load_scene(str(scene_xml), merge_shapes=not per_building)
    scene.frequency = freq_hz
    return scene


_WORKER_SCENE: dict[str, Any] = {}


def worker_scene(scene_xml: Path, freq_hz: float, purpose: str):  # noqa: ANN201
    """The Sionna scene of ``scene_xml`` at ``freq_hz``, loaded once per process (:func:`load_rt_scene`) and
    kept between the tasks of one ``purpose`` ("maps": radio-map tasks, "paths": path-solver tasks).

    A scene that served radio maps gives path-solver results a few float32 ulps apart from a fresh one
    (measured on a synthetic city: every path coefficient within 6e-7 relative; the solvers leave state in
    the scene), so a worker that switches purpose (an existing cluster serving both stages) reloads it:
    a result then depends on its task alone, never on what the worker ran before."""
    key = f"{scene_xml}@{freq_hz}#{purpose}"
    if key not in _WORKER_SCENE:
        _WORKER_SCENE.clear()
        _WORKER_SCENE[key] = load_rt_scene(scene_xml, freq_hz)
    return _WORKER_SCENE[key]


def solve_radio_map(solver, scene, grid: MapGrid, samples: int, max_depth: int, diffraction: bool, seed: int,
                    los: bool = True, **extra: Any) -> np.ndarray:
    """One Sionna RT radio-map call on ``grid`` -> path gains (tx, ny, nx), float64.

    It runs on one Dr.Jit thread (:func:`deterministic_threads`), so maps are reproducible:
    with several threads, Sionna's atomic scatter-adds and its wedge hash table depend on
    thread timing (measured: up to 2e-6 dB without diffraction, whole cells with it).
    """
    import mitsuba as mi  # noqa: PLC0415

    x0, y0, x1, y1 = grid.bounds
    if grid.ground_z_m is None:  # a plane z_m above flat ground
        where = {"center": mi.Point3f((x0 + x1) / 2, (y0 + y1) / 2, grid.z_m), "orientation": mi.Point3f(0.0, 0.0, 0.0),
                 "size": mi.Point2f(x1 - x0, y1 - y0), "cell_size": mi.Point2f(grid.cell_size_m, grid.cell_size_m)}
    else:  # on the terrain: a mesh of two triangles per cell
        where = {"measurement_surface": grid.measurement_mesh()}
    with deterministic_threads():
        rm = solver(scene, **where, samples_per_tx=int(samples),
                    max_depth=int(max_depth), los=los, specular_reflection=max_depth > 0,
                    diffuse_reflection=False, refraction=False, diffraction=bool(diffraction),
                    seed=int(seed), **extra)
        gain = np.asarray(rm.path_gain.numpy(), dtype=np.float64)
    if grid.ground_z_m is not None:  # (tx, triangles) -> (tx, ny, nx): mean of a cell's two (equal) triangles
        gain = gain.reshape(gain.shape[0], *grid.shape, 2).mean(axis=-1)
    if gain.shape[1:] != grid.shape:
        raise RuntimeError(f"radio map shape {gain.shape[1:]} != grid {grid.shape}")
    return gain


@dataclass(frozen=True)
class BsConfig:
    """Base-station sector antennas (one transmitter per site and sector)."""

    sector_bearings_deg: tuple[float, ...]
    mechanical_downtilt_deg: float
    electrical_downtilt_deg: float
    pattern: str  # "f1336" or "tr38901"
    array_rows: int
    array_cols: int
    vertical_spacing_wl: float
    horizontal_spacing_wl: float
    pattern_kwargs: dict[str, float]

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> "BsConfig":
        pattern = str(p.get("pattern", "f1336"))
        if pattern not in ("f1336", "tr38901"):
            raise StinError(f"params.yaml bs.pattern {pattern!r} is unknown", "use f1336 or tr38901")
        e_tilt = float(p.get("electrical_downtilt_deg", 0.0))
        if not -90.0 < e_tilt < 90.0:
            raise StinError(f"params.yaml bs.electrical_downtilt_deg = {e_tilt} is out of range", "use -90 < tilt < 90")
        if pattern == "f1336":
            sidelobes = p.get("f1336_sidelobes", "average")
            if sidelobes not in F1336_SIDELOBES:
                raise StinError(f"params.yaml bs.f1336_sidelobes {sidelobes!r} is unknown",
                                f"use one of {', '.join(F1336_SIDELOBES)}")
            kwargs = {"electrical_tilt_deg": e_tilt, "sidelobes": sidelobes}  # gain and beamwidth: below
        else:
            kwargs = {"g_max_dbi": float(p.get("element_max_gain_dbi", 8.0))}
        w = "params.yaml bs"
        if pattern == "f1336":
            kwargs = {**kwargs, "g0_dbi": number(p, "f1336_max_gain_dbi", w, positive=False),
                      "phi_3db_deg": number(p, "f1336_phi_3db_deg", w)}
            if kwargs["phi_3db_deg"] > 360:
                raise StinError(f"{w}: f1336_phi_3db_deg = {kwargs['phi_3db_deg']} is beyond 360 deg",
                                "use a beamwidth in (0, 360], e.g. 65")
        bearings = numbers(p, "sector_bearings_deg", w, positive=False)
        return cls(tuple(bearings), number(p, "mechanical_downtilt_deg", w, positive=False, minimum=-90), e_tilt,
                   pattern, integer(p, "array_rows", w, default=1, maximum=64),
                   integer(p, "array_cols", w, default=1, maximum=64),
                   number({"v": p.get("vertical_spacing_wl", 0.5)}, "v", f"{w} vertical_spacing_wl"),
                   number({"h": p.get("horizontal_spacing_wl", 0.5)}, "h", f"{w} horizontal_spacing_wl"), kwargs)

    def sionna_pattern(self) -> str:
        return "stin_f1336" if self.pattern == "f1336" else "stin_element"

    def tx_weights(self, scene) -> np.ndarray:  # noqa: ANN001
        """Complex panel weights w (n,) in the order of ``scene.tx_array`` (set to this panel), ||w|| = 1:

        w_m = exp(j 2 pi z_m sin(beta)) / sqrt(N) for elements at heights z_m [wavelengths], the
        phase front of a beam tilted down by beta (Sionna adds 2 pi p.k / lambda); uniform
        without electrical tilt (Sionna's default weighting).
        """
        z = np.asarray(scene.tx_array.normalized_positions.z.numpy(), float)
        tilt = self.electrical_downtilt_deg if self.pattern == "tr38901" else 0.0
        return np.exp(1j * 2 * math.pi * z * math.sin(math.radians(tilt))) / math.sqrt(len(z))

    def panel_weights(self) -> np.ndarray:
        """:meth:`tx_weights` of this panel without a scene."""
        rt = import_sionna_rt()
        register_patterns()

        class _Panel:  # the one attribute tx_weights reads
            tx_array = rt.PlanarArray(**self.array_kwargs())

        return self.tx_weights(_Panel)

    def precoding(self, scene):  # noqa: ANN001, ANN201
        """:meth:`tx_weights` as Sionna's ``precoding_vec`` (tr38901 panels with a tilt), or None."""
        if self.pattern != "tr38901" or self.electrical_downtilt_deg == 0.0:
            return None
        import mitsuba as mi  # noqa: PLC0415

        w = self.tx_weights(scene)
        return mi.Float(w.real.astype(np.float32)), mi.Float(w.imag.astype(np.float32))

    def array_kwargs(self) -> dict[str, Any]:
        """Arguments of the sector's ``sionna.rt.PlanarArray`` (vertical polarisation)."""
        return dict(num_rows=self.array_rows, num_cols=self.array_cols, vertical_spacing=self.vertical_spacing_wl,
                    horizontal_spacing=self.horizontal_spacing_wl, pattern=self.sionna_pattern(), polarization="V",
                    **self.pattern_kwargs)

    def sector_transmitters(self, sites: list[tuple[str, float, float, float]]
                            ) -> list[tuple[str, tuple[float, float, float], tuple[float, float, float]]]:
        """(name 'site-sK', position, orientation) of every sector of every (site_id, x, y, z)."""
        return [(f"{site_id}-s{k}", (x, y, z), self.orientation(bearing))
                for site_id, x, y, z in sites for k, bearing in enumerate(self.sector_bearings_deg)]

    def orientation(self, bearing_deg: float) -> tuple[float, float, float]:
        """Sionna (yaw, pitch, roll): yaw from +x (east) counter-clockwise; pitch > 0 tilts down."""
        return (math.radians(90.0 - bearing_deg), math.radians(self.mechanical_downtilt_deg), 0.0)

    def gain_db(self, direction_enu: np.ndarray, bearing_deg: float) -> np.ndarray:
        """Sector gain [dBi] toward unit vectors (..., 3): the closed form of what Sionna applies.

        The direction is turned into the antenna frame by R^T u, R = Rz(yaw) Ry(pitch) (Sionna's
        orientation); f1336: F.1336-5 with its electrical tilt; tr38901: element x array factor
        of the panel with the precoding of :meth:`precoding` (steered 90 deg + e-tilt from the zenith).
        """
        yaw, pitch, _ = self.orientation(bearing_deg)
        rz = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
        ry = np.array([[math.cos(pitch), 0, math.sin(pitch)], [0, 1, 0], [-math.sin(pitch), 0, math.cos(pitch)]])
        local = np.asarray(direction_enu, float) @ (rz @ ry)
        if self.pattern == "f1336":
            az = np.degrees(np.arctan2(local[..., 1], local[..., 0]))
            el = np.degrees(np.arcsin(np.clip(local[..., 2], -1, 1)))
            return f1336_sectoral_gain_db(az, el, **self.pattern_kwargs)
        theta = np.arccos(np.clip(local[..., 2], -1, 1))
        phi = np.arctan2(local[..., 1], local[..., 0])
        return (tr38901_element_gain_db(theta, phi, **self.pattern_kwargs)
                + ura_array_gain_db(theta, phi, rows=self.array_rows, cols=self.array_cols,
                                    vertical_spacing_wl=self.vertical_spacing_wl,
                                    horizontal_spacing_wl=self.horizontal_spacing_wl,
                                    steer_theta=math.radians(90.0 + self.electrical_downtilt_deg)))


def trace_bs_maps(scene, sites: list[tuple[str, float, float, float]], bs: BsConfig, grid: MapGrid, *,
                  samples_per_tx: int, max_depth: int, diffraction: bool, seed: int,
                  batch_sites: int = 4, receiver=None, penetration: Penetration | None = None,  # noqa: ANN001
                  return_direct: bool = False):  # noqa: ANN201
    """Path gains (tx, ny, nx) of every site sector, BS antenna included, and the sector names.

    ``receiver`` (a pipeline.radio.receiver.ReceiverModel): every ray is weighed by the car's
    pattern toward its arrival direction (None: isotropic cells). ``penetration``: the direct
    ray comes from :mod:`pipeline.radio.direct` (exact line of sight at the cell centre, or
    through walls) and the ray tracer adds only reflected and diffracted power; None keeps
    Sionna's Monte Carlo line of sight. ``return_direct`` also returns the direct part.
    """
    rt = import_sionna_rt()
    import mitsuba as mi  # noqa: PLC0415

    from pipeline.radio.mapsolver import PatternRadioMapSolver  # noqa: PLC0415

    register_patterns()
    scene.tx_array = rt.PlanarArray(**bs.array_kwargs())
    scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    solver = PatternRadioMapSolver()
    gains, names = [], []
    batches = [sites[i:i + batch_sites] for i in range(0, len(sites), batch_sites)]
    for batch in tqdm(batches, desc="ray tracing BS sectors", unit="batch", leave=False):
        clear_devices(scene)
        for name, pos, ori in bs.sector_transmitters(batch):
            scene.add(rt.Transmitter(name, position=mi.Point3f(*pos), orientation=mi.Point3f(*ori)))
            names.append(name)
        gains.append(solve_radio_map(solver, scene, grid, samples_per_tx, max_depth, diffraction, seed,
                                     los=penetration is None, precoding_vec=bs.precoding(scene), receiver=receiver))
    clear_devices(scene)
    mc = np.concatenate(gains, axis=0)
    direct = np.zeros_like(mc)
    if penetration is not None:
        g, arrival, _ = sector_direct_gains(scene, grid.centers.reshape(-1, 3), bs, sites, _frequency(scene),
                                            penetration)
        if receiver is not None:
            g = g * receiver.ray_gain(arrival)
        direct = g.reshape(direct.shape)
    total = mc + direct
    return (total, names, direct) if return_direct else (total, names)


def trace_satellite_maps(scene, directions_enu: np.ndarray, slant_ranges_m: np.ndarray, grid: MapGrid, *,
                         samples: int, max_depth: int, diffraction: bool, seed: int, proxy_distance_m: float,
                         launch_margin_m: float, desc: str = "ray tracing satellites", receiver=None,  # noqa: ANN001
                         penetration: Penetration | None = None, max_height_m: float = 0.0,
                         return_direct: bool = False, center_m: tuple[float, float] | None = None):  # noqa: ANN201
    """Path gains (n, ny, nx) from satellites at the true slant ranges (isotropic satellite antenna).

    Each satellite is a far-field proxy (pipeline.radio.farfield) traced on its own; its rays
    are aimed at the map + ``launch_margin_m``, grown on the far side so that facades up to
    ``max_height_m`` facing the satellite are lit. ``receiver`` and ``penetration`` as in
    :func:`trace_bs_maps` (the direct ray: free space at the true range to each cell).
    ``center_m``: where the slant ranges are measured and the proxy is aimed from (default: the grid's
    centre); a tile of a larger map passes the map's centre, so every tile sees the same satellite.
    """
    rt = import_sionna_rt()
    import mitsuba as mi  # noqa: PLC0415

    from pipeline.radio.farfield import (  # noqa: PLC0415
        FarFieldRadioMapSolver, LaunchArea, proxy_position, proxy_to_satellite_gain)

    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    scene.rx_array = scene.tx_array
    solver = FarFieldRadioMapSolver()
    x0, y0, x1, y1 = grid.bounds
    center = ((x0 + x1) / 2, (y0 + y1) / 2) if center_m is None else (float(center_m[0]), float(center_m[1]))
    lowest = 0.0 if grid.ground_z_m is None else float(grid.ground_z_m.min())  # terrain: aim at its lowest cell
    base = LaunchArea(x0, y0, x1, y1, grid.z_m + lowest).grown(launch_margin_m)
    out = np.zeros((len(directions_enu), *grid.shape))
    direct = np.zeros_like(out)
    cells = grid.centers
    for i in tqdm(range(len(directions_enu)), desc=desc, unit="sat", leave=False):
        if directions_enu[i][2] <= 0:
            raise StinError("a satellite below the horizon was passed to the ray tracer",
                            "select satellites above orbits.min_elevation_deg")
        proxy = proxy_position(directions_enu[i], center, proxy_distance_m)
        clear_devices(scene)
        scene.add(rt.Transmitter("sat", position=mi.Point3f(*[float(v) for v in proxy])))
        launch = base.covering_facades(directions_enu[i], max_height_m)
        g = solve_radio_map(solver, scene, grid, samples, max_depth, diffraction, seed, los=penetration is None,
                            launch_area=launch, receiver=receiver)[0]
        out[i] = proxy_to_satellite_gain(g, cells, proxy, directions_enu[i], float(slant_ranges_m[i]), center)
        if penetration is not None:
            u = np.asarray(directions_enu[i], float) / np.linalg.norm(directions_enu[i])
            sat = np.array([center[0], center[1], 0.0]) + float(slant_ranges_m[i]) * u
            g_dir, arrival, _ = satellite_direct_gain(scene, cells.reshape(-1, 3), u, sat, _frequency(scene),
                                                      penetration)
            if receiver is not None:
                g_dir = g_dir * receiver.ray_gain(arrival)
            direct[i] = g_dir.reshape(grid.shape)
    clear_devices(scene)
    total = out + direct
    return (total, direct) if return_direct else total


def _frequency(scene) -> float:  # noqa: ANN001
    f = scene.frequency
    return float(f.numpy().item()) if hasattr(f, "numpy") else float(f)


@contextlib.contextmanager
def deterministic_threads() -> Iterator[None]:
    """Dr.Jit runs on one thread inside the block, so radio maps are reproducible (see solve_radio_map)."""
    import drjit as dr  # noqa: PLC0415

    before = dr.thread_count()
    dr.set_thread_count(1)
    try:
        yield
    finally:
        dr.set_thread_count(before)


def clear_devices(scene) -> None:  # noqa: ANN001
    """Remove every transmitter and receiver from the scene."""
    for name in [*scene.transmitters, *scene.receivers]:
        scene.remove(name)
