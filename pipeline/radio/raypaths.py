"""Ray-traced paths (Sionna PathSolver) from base stations and far-field satellites to UEs.

Satellites use the far-field proxy of :mod:`pipeline.radio.farfield`: the candidate rays
of the path solver are aimed at the launch area (map + margin) instead of the whole
sphere; path fields are computed exactly by Sionna from the proxy, then moved to the
satellite by :func:`proxy_paths_to_satellite`:

    L_sat = L_proxy - |p - v1| + |s - v1|,   tau_sat = L_sat / c,
    a_sat = a_proxy (L_proxy / L_sat) exp(-j 2 pi f (tau_sat - tau_proxy)),
    f_D,sat = f_D,proxy + (v_s - [LoS] v_r) . (k_s - k_p) / lambda,  k_x = (v1 - x) / |v1 - x|

with v1 the first interaction point of the path (the receiver itself for line of sight:
Sionna leaves the vertex buffer of a path without bounces at zero), p the proxy, s the
satellite and v_s its velocity: the departure direction, and so the transmitter's
Doppler term, is the true satellite's. The amplitude ratio is exact for specular chains
(spherical spreading along the unfolded path) and a close approximation for diffracted paths.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.compute import ComputeConfig, run_calls
from pipeline.radio.tracing import clear_devices, deterministic_threads, worker_scene
from pipeline.runtime import import_sionna_rt

__all__ = ["BsPathJob", "PathSet", "add_receivers", "aimed_candidates", "check_path_solver_hook", "clear_devices",
           "concat_transmitters", "direction_from_angles", "extract",
           "proxy_paths_to_satellite", "solve", "solve_bs_sectors"]

# BS sectors per path-solver call (project choice: two 3-sector sites). Fixed, so the calls, and with them
# the paths, do not depend on the number of workers; small enough that a call's path buffers stay modest.
BS_SECTORS_PER_TASK = 6

SPEED_OF_LIGHT_M_S = 299_792_458.0


@dataclass
class PathSet:
    """Paths of one solver call as NumPy arrays (synthetic arrays).

    a: (rx, rx_ant, tx, tx_ant, path) complex; tau, theta_t, phi_t, theta_r, phi_r, doppler,
    valid, los: (rx, tx, path); first_vertex: (rx, tx, path, 3).
    """

    a: np.ndarray
    tau: np.ndarray
    theta_t: np.ndarray
    phi_t: np.ndarray
    theta_r: np.ndarray
    phi_r: np.ndarray
    doppler: np.ndarray
    valid: np.ndarray
    los: np.ndarray
    first_vertex: np.ndarray

    @property
    def num_paths(self) -> np.ndarray:
        return self.valid.sum(axis=-1)

    def take(self, rx: slice | np.ndarray) -> "PathSet":
        """The paths of a subset of the receivers."""
        return PathSet(a=self.a[rx], tau=self.tau[rx], theta_t=self.theta_t[rx], phi_t=self.phi_t[rx],
                       theta_r=self.theta_r[rx], phi_r=self.phi_r[rx], doppler=self.doppler[rx], valid=self.valid[rx],
                       los=self.los[rx], first_vertex=self.first_vertex[rx])


def direction_from_angles(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit vectors (east, north, up) of Sionna's global zenith/azimuth angles (..., 3)."""
    st = np.sin(theta)
    return np.stack([st * np.cos(phi), st * np.sin(phi), np.cos(theta)], axis=-1)


def _np(x) -> np.ndarray:  # noqa: ANN001
    return np.asarray(x.numpy())


def extract(paths) -> PathSet:  # noqa: ANN001
    """Sionna ``Paths`` (synthetic arrays) -> :class:`PathSet`."""
    a_re, a_im = paths.a
    a = _np(a_re).astype(np.complex64) + 1j * _np(a_im).astype(np.complex64)
    valid = _np(paths.valid).astype(bool)
    if valid.ndim == 5:  # per-antenna validity: a path is valid if any antenna pair sees it
        valid = valid.any(axis=(1, 3))
    inter = _np(paths.interactions)  # (depth, rx, tx, path)
    los = valid & (inter[0] == 0)  # InteractionType.NONE at the first bounce
    verts = _np(paths.vertices)  # (depth, rx, tx, path, 3)
    return PathSet(a=a, tau=_np(paths.tau).astype(np.float64), theta_t=_np(paths.theta_t), phi_t=_np(paths.phi_t),
                   theta_r=_np(paths.theta_r), phi_r=_np(paths.phi_r), doppler=_np(paths.doppler).astype(np.float64),
                   valid=valid, los=los, first_vertex=verts[0] if verts.shape[0] else np.zeros((*valid.shape, 3)))


def check_path_solver_hook() -> None:
    """Raise if Sionna RT's path solver no longer spawns its candidate rays where we hook in."""
    from sionna.rt.path_solvers import sb_candidate_generator as gen  # noqa: PLC0415

    src = inspect.getsource(gen.SBCandidateGenerator)
    if not hasattr(gen, "spawn_ray_from_sources") or src.count("spawn_ray_from_sources(") != 1:
        raise RuntimeError("Sionna RT far-field path hook broken: SBCandidateGenerator no longer spawns its rays "
                           "through one spawn_ray_from_sources call (pin sionna-rt==2.2.0 or port pipeline/radio/raypaths.py)")


@contextlib.contextmanager
def aimed_candidates(launch) -> Iterator[None]:  # noqa: ANN001
    """Within the block, the path solver's candidate rays are aimed at ``launch`` (a LaunchArea)."""
    from sionna.rt.path_solvers import sb_candidate_generator as gen  # noqa: PLC0415

    from pipeline.radio.farfield import spawn_toward_area  # noqa: PLC0415

    check_path_solver_hook()
    original = gen.spawn_ray_from_sources

    def spawn(lattice, samples_per_src, src_positions):  # noqa: ANN001, ANN202
        return spawn_toward_area(launch, samples_per_src, src_positions)[0]

    gen.spawn_ray_from_sources = spawn
    try:
        yield
    finally:
        gen.spawn_ray_from_sources = original


def solve(scene, *, samples_per_src: int, max_depth: int, diffraction: bool, seed: int) -> PathSet:  # noqa: ANN001
    """Run Sionna's PathSolver on the scene's transmitters and receivers (synthetic arrays).

    On one Dr.Jit thread: with several, the solver's atomic appends and its path de-duplication depend on
    thread timing, so the same seed gave a different path order and, for a few links, a different set of
    paths (measured on the embedded default: 5 of 91,200 path slots changed validity between two runs)."""
    rt = import_sionna_rt()
    solver = rt.PathSolver()
    with deterministic_threads():
        paths = solver(scene, max_depth=int(max_depth), samples_per_src=int(samples_per_src), synthetic_array=True,
                       los=True, specular_reflection=max_depth > 0, diffuse_reflection=False, refraction=False,
                       diffraction=bool(diffraction), seed=int(seed))
        return extract(paths)


@dataclass(frozen=True)
class BsPathJob:
    """What a worker needs to trace the paths of some BS sectors to every receiver."""

    scene_xml: Path
    freq_hz: float
    tx_array: dict[str, Any]  # sionna.rt.PlanarArray arguments of the sector panel
    rx_array: dict[str, Any]  # ... of the car's array
    rx_positions: np.ndarray  # (rx, 3)
    rx_velocities: np.ndarray  # (rx, 3)
    rx_names: tuple[str, ...]
    rx_orientation: tuple[float, float, float]
    samples_per_src: int
    max_depth: int
    diffraction: bool
    seed: int


def _bs_task(job: BsPathJob, transmitters: list[tuple[str, Any, Any]]) -> PathSet:
    """Paths from ``transmitters`` (name, position, orientation) to every receiver of ``job``."""
    import mitsuba as mi  # noqa: PLC0415

    rt = import_sionna_rt()
    scene = worker_scene(job.scene_xml, job.freq_hz, "paths")
    clear_devices(scene)
    scene.tx_array = rt.PlanarArray(**job.tx_array)
    scene.rx_array = rt.PlanarArray(**job.rx_array)
    for name, pos, ori in transmitters:
        scene.add(rt.Transmitter(name, position=mi.Point3f(*pos), orientation=mi.Point3f(*ori)))
    add_receivers(scene, job.rx_positions, job.rx_velocities, list(job.rx_names), job.rx_orientation)
    try:
        return solve(scene, samples_per_src=job.samples_per_src, max_depth=job.max_depth,
                     diffraction=job.diffraction, seed=job.seed)
    finally:
        clear_devices(scene)


def concat_transmitters(sets: list[PathSet]) -> PathSet:
    """Path sets of the same receivers and different transmitters, joined along the transmitter axis
    (the path axis padded with invalid paths to the longest, as Sionna pads: zeros, delay -1 s)."""
    n_paths = max(s.valid.shape[-1] for s in sets)
    invalid_tau_s = -1.0  # Sionna RT's delay of an invalid path

    def pad(x: np.ndarray, path_axis: int, fill: float) -> np.ndarray:
        width = [(0, 0)] * x.ndim
        width[path_axis] = (0, n_paths - x.shape[path_axis])
        return np.pad(x, width, constant_values=fill)

    def join(field: str, tx_axis: int, path_axis: int) -> np.ndarray:
        fill = invalid_tau_s if field == "tau" else 0
        return np.concatenate([pad(getattr(s, field), path_axis, fill) for s in sets], axis=tx_axis)

    return PathSet(a=join("a", 2, 4), tau=join("tau", 1, 2), theta_t=join("theta_t", 1, 2),
                   phi_t=join("phi_t", 1, 2), theta_r=join("theta_r", 1, 2), phi_r=join("phi_r", 1, 2),
                   doppler=join("doppler", 1, 2), valid=join("valid", 1, 2), los=join("los", 1, 2),
                   first_vertex=join("first_vertex", 1, 2))


def bs_sector_calls(job: BsPathJob, transmitters: list[tuple[str, Any, Any]]) -> list[tuple[Any, tuple]]:
    """The tasks of :func:`solve_bs_sectors` as (function, arguments): :data:`BS_SECTORS_PER_TASK` sectors each."""
    return [(_bs_task, (job, transmitters[i:i + BS_SECTORS_PER_TASK]))
            for i in range(0, len(transmitters), BS_SECTORS_PER_TASK)]


def solve_bs_sectors(job: BsPathJob, transmitters: list[tuple[str, Any, Any]], compute: ComputeConfig) -> PathSet:
    """Paths of every BS sector to every receiver: tasks of :data:`BS_SECTORS_PER_TASK` sectors, each on one
    Dr.Jit thread (reproducible), on the Dask engine of ``compute`` (:mod:`pipeline.compute`)."""
    return concat_transmitters(run_calls(bs_sector_calls(job, transmitters), compute, "BS paths"))


def proxy_paths_to_satellite(ps: PathSet, proxy_xyz: np.ndarray, sat_xyz: np.ndarray, freq_hz: float,
                             tx_index: int, rx_xyz: np.ndarray, sat_velocity: np.ndarray | None = None,
                             rx_velocity: np.ndarray | None = None) -> None:
    """Move the paths of transmitter ``tx_index`` from its proxy to the satellite, in place (see module doc).

    ``rx_xyz`` (rx, 3): receiver positions, the first vertex of line-of-sight paths;
    ``sat_velocity`` (3,): the satellite's velocity, to move the Doppler shift (None: unchanged);
    ``rx_velocity`` (rx, 3): the receivers' velocities; a line-of-sight path also arrives from the
    satellite's direction, so its receiver term v_r . k / lambda moves with it.
    """
    los = ps.los[:, tx_index]  # (rx, path)
    v1 = np.where(los[..., None], np.asarray(rx_xyz, float)[:, None, :], ps.first_vertex[:, tx_index])
    length = ps.tau[:, tx_index].astype(np.float64) * SPEED_OF_LIGHT_M_S
    to_sat, to_proxy = v1 - np.asarray(sat_xyz, float), v1 - np.asarray(proxy_xyz, float)
    d_sat, d_proxy = np.linalg.norm(to_sat, axis=-1), np.linalg.norm(to_proxy, axis=-1)
    delta = d_sat - d_proxy
    new_length = length + delta
    valid = ps.valid[:, tx_index]
    ratio = np.where(valid, length / np.where(valid, new_length, 1.0), 0.0)
    phase = np.exp(-2j * np.pi * freq_hz * delta / SPEED_OF_LIGHT_M_S)
    ps.a[:, :, tx_index] *= (ratio * phase)[:, None, None, :].astype(np.complex64)
    ps.tau[:, tx_index] = np.where(valid, new_length / SPEED_OF_LIGHT_M_S, ps.tau[:, tx_index])
    if sat_velocity is not None:
        wavelength = SPEED_OF_LIGHT_M_S / freq_hz
        v = np.asarray(sat_velocity, float)
        turn = to_sat / d_sat[..., None] - to_proxy / d_proxy[..., None]  # change of the departure direction
        shift = turn @ v / wavelength
        if rx_velocity is not None:  # LoS: the arrival direction turns the other way
            shift = shift - np.where(los, np.einsum("rpk,rk->rp", turn, np.asarray(rx_velocity, float)), 0.0) / wavelength
        ps.doppler[:, tx_index] = np.where(valid, ps.doppler[:, tx_index] + shift, ps.doppler[:, tx_index])


def add_receivers(scene, positions: np.ndarray, velocities: np.ndarray, names: list[str],  # noqa: ANN001
                  orientation: tuple[float, float, float]) -> None:
    rt = import_sionna_rt()
    import mitsuba as mi  # noqa: PLC0415

    for name, p, v in zip(names, positions, velocities):
        scene.add(rt.Receiver(name, position=mi.Point3f(*[float(c) for c in p]),
                              orientation=mi.Point3f(*orientation),
                              velocity=mi.Vector3f(*[float(c) for c in v])))




# ---------------------------------------------------------------- memory guard
PATHS_PER_LINK_BOUND = 32  # paths kept per link at max_depth <= 3 in the cities measured (Helsinki: up to 17)
MEMORY_SHARE = 0.5  # refuse a run whose largest path block would need more than half the machine's memory


def path_tensor_bytes(n_slots: int, n_receivers: int, n_transmitters: int, rx_antennas: int, tx_antennas: int,
                      paths_per_link: int = PATHS_PER_LINK_BOUND) -> int:
    """Upper estimate of a dense block of paths in memory, slots x receivers x transmitters x paths x
    (16 B per antenna pair: complex a as two float64; + 48 B per path: delay, four angles, Doppler)."""
    return int(n_slots) * int(n_receivers) * int(n_transmitters) * int(paths_per_link) * (
        int(rx_antennas) * int(tx_antennas) * 16 + 48)


def machine_memory_bytes() -> int:
    """Physical memory of this machine (POSIX sysconf)."""
    import os  # noqa: PLC0415

    return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))


def check_path_memory(slots_per_task: int, n_cars: int, n_transmitters: int, rx_antennas: int, tx_antennas: int,
                      available_bytes: int | None = None) -> int:
    """Refuse, before any ray is traced, a configuration whose largest block of paths cannot fit (one
    StinError line naming the knobs); returns the estimate. Paths are streamed slot by slot to the file,
    so the largest blocks are one BS task's paths (``slots_per_task`` slots of the cars and their map-cell
    check points, :data:`BS_SECTORS_PER_TASK` sectors) in a worker and one slot of every transmitter in the
    stage, before both become ragged rows."""
    from pipeline.errors import StinError  # noqa: PLC0415

    task = path_tensor_bytes(slots_per_task, 2 * n_cars, min(BS_SECTORS_PER_TASK, n_transmitters), rx_antennas,
                             tx_antennas)
    slot = path_tensor_bytes(1, 2 * n_cars, n_transmitters, rx_antennas, tx_antennas)
    need = max(task, slot)
    have = machine_memory_bytes() if available_bytes is None else int(available_bytes)
    if need > MEMORY_SHARE * have:
        raise StinError(f"raypaths would hold ~{need / 2**30:.1f} GiB of paths at once ({n_cars} cars, "
                        f"{slots_per_task} slot(s) per task, {n_transmitters} transmitters, {rx_antennas} x "
                        f"{tx_antennas} antennas), more than half of this machine's {have / 2**30:.1f} GiB",
                        "lower raypaths.receivers_per_task, use fewer cars (routes/<city>.yaml) or a smaller car "
                        "array (ue.array_rows / array_cols)")
    return need
