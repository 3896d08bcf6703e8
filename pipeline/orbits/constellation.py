"""Satellite positions over time and their look angles from a ground point.

Walker-delta shells (i: T/P/F) are propagated as circular two-body orbits; TLE files
through SGP4 (``sgp4`` package). Both give positions in the TEME/ECI frame, rotated to
ECEF with the Greenwich mean sidereal time (IAU-82, ``sgp4.propagation.gstime``); polar
motion and the TEME/true-of-date difference (< 100 m at LEO) are neglected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pyproj import Transformer
from sgp4.api import WGS72, Satrec, jday
from sgp4.propagation import gstime

from pipeline.errors import StinError

EARTH_MU_M3_S2 = 3.986004418e14  # WGS84 / IERS GM
EARTH_RADIUS_M = 6_371_000.0  # TR 38.811 mean Earth radius R_E: orbit radius = R_E + altitude (its eq. 6.6-3)
EARTH_ROTATION_RAD_S = 7.2921150e-5  # IERS mean angular velocity
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class WalkerDelta:
    """Walker-delta shell i: T/P/F (T = planes x sats_per_plane)."""

    altitude_m: float
    inclination_deg: float
    n_planes: int
    sats_per_plane: int
    phasing: int
    raan0_deg: float = 0.0

    @property
    def n_sats(self) -> int:
        return self.n_planes * self.sats_per_plane

    def elements(self) -> tuple[np.ndarray, np.ndarray]:
        """RAAN and mean argument of latitude at epoch [rad] per satellite (plane-major).

        RAAN_p = RAAN_0 + 360 p / P, u_ps = 360 s / S + 360 F p / T (Walker 1984).
        """
        p = np.repeat(np.arange(self.n_planes), self.sats_per_plane)
        s = np.tile(np.arange(self.sats_per_plane), self.n_planes)
        raan = np.radians(self.raan0_deg + 360.0 * p / self.n_planes)
        u0 = np.radians(360.0 * s / self.sats_per_plane + 360.0 * self.phasing * p / self.n_sats)
        return raan, u0

    def mean_motion_rad_s(self) -> float:
        """n = sqrt(mu / a^3) for the circular orbit radius a."""
        return math.sqrt(EARTH_MU_M3_S2 / (EARTH_RADIUS_M + self.altitude_m) ** 3)

    def eci_states(self, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities (time, sat, 3) in the inertial frame [m, m/s]."""
        raan, u0 = self.elements()
        n = self.mean_motion_rad_s()
        a = EARTH_RADIUS_M + self.altitude_m
        inc = math.radians(self.inclination_deg)
        u = u0[None, :] + n * np.asarray(seconds, float)[:, None]
        cu, su = np.cos(u), np.sin(u)
        co, so = np.cos(raan)[None, :], np.sin(raan)[None, :]
        ci, si = math.cos(inc), math.sin(inc)
        pos = a * np.stack([co * cu - so * su * ci, so * cu + co * su * ci, su * si], axis=-1)
        vel = a * n * np.stack([-co * su - so * cu * ci, -so * su + co * cu * ci, cu * si], axis=-1)
        return pos, vel

    def satrecs(self, epoch: datetime) -> list[Satrec]:
        """The same shell as SGP4 records (for cross-checks and mixed use)."""
        raan, u0 = self.elements()
        jd, fr = _julian(epoch)
        epoch_days = jd + fr - 2433281.5  # days since 1949-12-31 00:00 UT (sgp4init convention)
        n_rad_min = self.mean_motion_rad_s() * 60.0
        recs = []
        for i, (node, mo) in enumerate(zip(raan, u0)):
            rec = Satrec()
            rec.sgp4init(WGS72, "i", i + 1, epoch_days, 0.0, 0.0, 0.0, 1e-7, 0.0,
                         math.radians(self.inclination_deg), float(mo), n_rad_min, float(node))
            recs.append(rec)
        return recs


def _julian(t: datetime) -> tuple[float, float]:
    t = t.astimezone(timezone.utc)
    return jday(t.year, t.month, t.day, t.hour, t.minute, t.second + t.microsecond * 1e-6)


def gmst_rad(epoch: datetime, seconds: np.ndarray) -> np.ndarray:
    """Greenwich mean sidereal angle at epoch + seconds (IAU-82 via sgp4)."""
    jd, fr = _julian(epoch)
    return np.array([gstime(jd + fr + s / SECONDS_PER_DAY) for s in np.asarray(seconds, float)])


def eci_to_ecef(pos: np.ndarray, vel: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate (time, sat, 3) states by the sidereal angle; v_ecef = R v - omega x r_ecef."""
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    pe = np.stack([c * x + s * y, -s * x + c * y, z], axis=-1)
    vx, vy, vz = vel[..., 0], vel[..., 1], vel[..., 2]
    ve = np.stack([c * vx + s * vy, -s * vx + c * vy, vz], axis=-1)
    ve = ve - np.cross(np.array([0.0, 0.0, EARTH_ROTATION_RAD_S]), pe)
    return pe, ve


def tle_states(path: Path, epoch: datetime, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """SGP4 TEME states (time, sat, 3) in metres for every TLE in a 2- or 3-line file."""
    if not path.is_file():
        raise StinError(f"TLE file {path} not found", "fix orbits.tle_file in params.yaml")
    lines = [ln.rstrip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    recs, names = [], []
    i = 0
    while i < len(lines):
        name = None
        if not lines[i].startswith("1 "):
            name, i = lines[i].strip(), i + 1
        if i + 1 >= len(lines) or not lines[i].startswith("1 ") or not lines[i + 1].startswith("2 "):
            raise StinError(f"TLE file {path}: malformed entry near line {i + 1}",
                            "give 2-line element sets (optionally preceded by a name line)")
        rec = Satrec.twoline2rv(lines[i], lines[i + 1])
        recs.append(rec)
        names.append(name or f"sat{rec.satnum}")
        i += 2
    if not recs:
        raise StinError(f"TLE file {path} has no element sets", "put at least one TLE in it")
    pos, vel = sgp4_states(recs, epoch, seconds)
    return pos, vel, names


def sgp4_states(recs: list[Satrec], epoch: datetime, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TEME states (time, sat, 3) [m, m/s] of SGP4 records at epoch + seconds."""
    jd, fr = _julian(epoch)
    seconds = np.asarray(seconds, float)
    pos = np.empty((len(seconds), len(recs), 3))
    vel = np.empty_like(pos)
    for j, rec in enumerate(recs):
        e, r, v = rec.sgp4_array(np.full(len(seconds), jd), fr + seconds / SECONDS_PER_DAY)
        if np.any(e != 0):
            raise StinError(f"SGP4 failed for satellite {j} (error code {int(e[e != 0][0])})",
                            "use recent TLEs (SGP4 degrades days away from their epoch)")
        pos[:, j], vel[:, j] = r * 1e3, v * 1e3
    return pos, vel


@dataclass(frozen=True)
class LookAngles:
    """Satellite geometry seen from a ground point, arrays of shape (time, sat)."""

    elevation_deg: np.ndarray
    azimuth_deg: np.ndarray
    slant_range_m: np.ndarray
    range_rate_m_s: np.ndarray
    enu_unit: np.ndarray  # (time, sat, 3) unit vector toward the satellite (east, north, up)
    velocity_enu: np.ndarray  # (time, sat, 3) satellite velocity relative to the ground point [m/s]


def look_angles(pos_ecef: np.ndarray, vel_ecef: np.ndarray, lat_deg: float, lon_deg: float,
                height_m: float = 0.0) -> LookAngles:
    """Topocentric elevation, azimuth (from north, clockwise), range and range rate."""
    to_ecef = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    ox, oy, oz = to_ecef.transform(lon_deg, lat_deg, height_m)
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    rot = np.array([[-math.sin(lon), math.cos(lon), 0.0],
                    [-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat)],
                    [math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)]])
    rel = pos_ecef - np.array([ox, oy, oz])
    enu = rel @ rot.T
    rng = np.linalg.norm(enu, axis=-1)
    unit = enu / rng[..., None]
    elevation = np.degrees(np.arcsin(np.clip(unit[..., 2], -1, 1)))
    azimuth = np.degrees(np.arctan2(unit[..., 0], unit[..., 1])) % 360.0
    range_rate = np.einsum("...i,...i->...", rel, vel_ecef) / rng
    return LookAngles(elevation, azimuth, rng, range_rate, unit, vel_ecef @ rot.T)


def slant_range_m(elevation_deg: np.ndarray, altitude_m: float, earth_radius_m: float = EARTH_RADIUS_M) -> np.ndarray:
    """TR 38.811 eq. 6.6-3: d = sqrt(R^2 sin^2 a + h^2 + 2 h R) - R sin a (spherical Earth)."""
    s = np.sin(np.radians(elevation_deg))
    return np.sqrt(earth_radius_m**2 * s**2 + altitude_m**2 + 2 * altitude_m * earth_radius_m) - earth_radius_m * s


def select_serving(elevation_deg: np.ndarray, n_serving: int, min_elevation_deg: float) -> np.ndarray:
    """Indices (time, rank) of the ``n_serving`` highest satellites above the mask; -1 where fewer."""
    order = np.argsort(-elevation_deg, axis=1, kind="stable")[:, :n_serving]
    top = np.take_along_axis(elevation_deg, order, axis=1)
    return np.where(top >= min_elevation_deg, order, -1)
