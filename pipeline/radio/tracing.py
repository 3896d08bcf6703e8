"""Ray tracing of radio maps: base-station sectors and far-field satellites, with Sionna RT.

Path gains are stored without transmit power and without the UE antenna, so powers,
bandwidths, noise and UE arrays can change later without tracing again. BS antenna
patterns are applied by the ray tracer (they shape which rays carry power); the satellite
antenna gain toward the map is applied analytically (the map subtends < 0.2 deg from
orbit, DESIGN.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pipeline.errors import StinError
from pipeline.radio.antennas import register_patterns
from pipeline.runtime import import_sionna_rt


@dataclass(frozen=True)
class MapGrid:
    """Cell centres of a radio map on the plane z = ``z_m`` (local frame, metres)."""

    x_m: np.ndarray  # (nx,)
    y_m: np.ndarray  # (ny,)
    z_m: float
    cell_size_m: float

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.y_m), len(self.x_m)

    @property
    def centers(self) -> np.ndarray:
        """(ny, nx, 3) cell centres."""
        xx, yy = np.meshgrid(self.x_m, self.y_m)
        return np.stack([xx, yy, np.full_like(xx, self.z_m)], axis=-1)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        h = self.cell_size_m / 2
        return (float(self.x_m[0] - h), float(self.y_m[0] - h), float(self.x_m[-1] + h), float(self.y_m[-1] + h))

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
    """Load the Mitsuba XML scene into Sionna RT at ``freq_hz``."""
    rt = import_sionna_rt()
    register_patterns()
    if not Path(scene_xml).is_file():
        raise StinError(f"scene {scene_xml} not found", "run the scene stage first ('dvc repro scene')")
    scene = rt.load_scene(str(scene_xml))
    scene.frequency = freq_hz
    return scene


def solve_radio_map(solver, scene, grid: MapGrid, samples: int, max_depth: int, diffraction: bool, seed: int,
           **extra: Any) -> np.ndarray:
    import mitsuba as mi  # noqa: PLC0415

    x0, y0, x1, y1 = grid.bounds
    rm = solver(scene, center=mi.Point3f((x0 + x1) / 2, (y0 + y1) / 2, grid.z_m),
                orientation=mi.Point3f(0.0, 0.0, 0.0), size=mi.Point2f(x1 - x0, y1 - y0),
                cell_size=mi.Point2f(grid.cell_size_m, grid.cell_size_m), samples_per_tx=int(samples),
                max_depth=int(max_depth), los=True, specular_reflection=max_depth > 0,
                diffuse_reflection=False, refraction=False, diffraction=bool(diffraction),
                seed=int(seed), **extra)
    gain = np.asarray(rm.path_gain.numpy(), dtype=np.float64)
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
            kwargs = {"g0_dbi": float(p["f1336_max_gain_dbi"]), "phi_3db_deg": float(p["f1336_phi_3db_deg"]),
                      "electrical_tilt_deg": e_tilt}
        else:
            kwargs = {"g_max_dbi": float(p.get("element_max_gain_dbi", 8.0))}
        return cls(tuple(float(b) for b in p["sector_bearings_deg"]), float(p["mechanical_downtilt_deg"]), e_tilt,
                   pattern, int(p.get("array_rows", 1)), int(p.get("array_cols", 1)),
                   float(p.get("vertical_spacing_wl", 0.5)), float(p.get("horizontal_spacing_wl", 0.5)), kwargs)

    def sionna_pattern(self) -> str:
        return "stin_f1336" if self.pattern == "f1336" else "stin_element"

    def precoding(self, scene):  # noqa: ANN001, ANN201
        """Panel weights for the electrical downtilt (tr38901 panels), or None.

        w_m = exp(j 2 pi z_m sin(beta)) / sqrt(N) for elements at heights z_m [wavelengths]:
        the phase front of a beam tilted down by beta (Sionna adds 2 pi p.k / lambda).
        """
        if self.pattern != "tr38901" or self.electrical_downtilt_deg == 0.0:
            return None
        import mitsuba as mi  # noqa: PLC0415

        z = np.asarray(scene.tx_array.normalized_positions.z.numpy(), float)
        phase = 2 * math.pi * z * math.sin(math.radians(self.electrical_downtilt_deg))
        n = len(z)
        return (mi.Float((np.cos(phase) / math.sqrt(n)).astype(np.float32)),
                mi.Float((np.sin(phase) / math.sqrt(n)).astype(np.float32)))

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


def trace_bs_maps(scene, sites: list[tuple[str, float, float, float]], bs: BsConfig, grid: MapGrid, *,
                  samples_per_tx: int, max_depth: int, diffraction: bool, seed: int,
                  batch_sites: int = 4) -> tuple[np.ndarray, list[str]]:
    """Path gains (tx, ny, nx) of every site sector (BS antenna included, isotropic UE)."""
    rt = import_sionna_rt()
    import mitsuba as mi  # noqa: PLC0415

    scene.tx_array = rt.PlanarArray(**bs.array_kwargs())
    scene.rx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    solver = rt.RadioMapSolver()
    gains, names = [], []
    batches = [sites[i:i + batch_sites] for i in range(0, len(sites), batch_sites)]
    for batch in tqdm(batches, desc="ray tracing BS sectors", unit="batch", leave=False):
        clear_devices(scene)
        for name, pos, ori in bs.sector_transmitters(batch):
            scene.add(rt.Transmitter(name, position=mi.Point3f(*pos), orientation=mi.Point3f(*ori)))
            names.append(name)
        gains.append(solve_radio_map(solver, scene, grid, samples_per_tx, max_depth, diffraction, seed,
                            precoding_vec=bs.precoding(scene)))
    clear_devices(scene)
    return np.concatenate(gains, axis=0), names


def trace_satellite_maps(scene, directions_enu: np.ndarray, slant_ranges_m: np.ndarray, grid: MapGrid, *,
                         samples: int, max_depth: int, diffraction: bool, seed: int, proxy_distance_m: float,
                         launch_margin_m: float, desc: str = "ray tracing satellites") -> np.ndarray:
    """Path gains (n, ny, nx) from satellites at the true slant ranges (isotropic antennas).

    Each satellite is a far-field proxy (pipeline.radio.farfield) traced on its own.
    """
    rt = import_sionna_rt()
    import mitsuba as mi  # noqa: PLC0415

    from pipeline.radio.farfield import (  # noqa: PLC0415
        FarFieldRadioMapSolver, LaunchArea, proxy_position, proxy_to_satellite_gain)

    scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
    scene.rx_array = scene.tx_array
    solver = FarFieldRadioMapSolver()
    x0, y0, x1, y1 = grid.bounds
    center = ((x0 + x1) / 2, (y0 + y1) / 2)
    launch = LaunchArea(x0, y0, x1, y1, grid.z_m).grown(launch_margin_m)
    out = np.zeros((len(directions_enu), *grid.shape))
    for i in tqdm(range(len(directions_enu)), desc=desc, unit="sat", leave=False):
        if directions_enu[i][2] <= 0:
            raise StinError("a satellite below the horizon was passed to the ray tracer",
                            "select satellites above orbits.min_elevation_deg")
        proxy = proxy_position(directions_enu[i], center, proxy_distance_m)
        clear_devices(scene)
        scene.add(rt.Transmitter("sat", position=mi.Point3f(*[float(v) for v in proxy])))
        g = solve_radio_map(solver, scene, grid, samples, max_depth, diffraction, seed, launch_area=launch)[0]
        out[i] = proxy_to_satellite_gain(g, grid.centers, proxy, directions_enu[i], float(slant_ranges_m[i]), center)
    clear_devices(scene)
    return out


def clear_devices(scene) -> None:  # noqa: ANN001
    """Remove every transmitter and receiver from the scene."""
    for name in [*scene.transmitters, *scene.receivers]:
        scene.remove(name)
