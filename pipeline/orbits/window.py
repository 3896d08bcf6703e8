"""The time window of a study: slots, satellite look angles and the serving set."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pipeline.config import integer, number
from pipeline.errors import StinError
from pipeline.orbits.constellation import (
    WalkerDelta, eci_to_ecef, gmst_rad, look_angles, select_serving, tle_states)

# Bounds that keep the look-angle arrays in memory: (slots x satellites) float64, ~12 of them,
# 1,000 slots x 1,584 satellites ~ 0.25 GB (project limits; raise with care)
MAX_SLOTS = 1000
MAX_SERVING = 16  # serving satellites per slot (Nguyen-Kha et al. use 1-2)


def parse_start(value: Any) -> datetime:
    try:
        t = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        raise StinError(f"params.yaml orbits.start_utc {value!r} is not a time",
                        "write it as ISO 8601, e.g. 2026-01-01T12:00:00Z") from None
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.to_pydatetime().astimezone(timezone.utc)


def walker_from_params(w: dict[str, Any]) -> WalkerDelta:
    where = "params.yaml orbits.walker"
    shell = WalkerDelta(
        altitude_m=number(w, "altitude_m", where),
        inclination_deg=number(w, "inclination_deg", where, positive=False, minimum=0),
        n_planes=int(number(w, "n_planes", where)),
        sats_per_plane=int(number(w, "sats_per_plane", where)),
        phasing=int(number(w, "phasing", where, positive=False, minimum=0)),
        raan0_deg=float(w.get("raan0_deg", 0.0)),
    )
    if shell.phasing >= shell.n_planes:
        raise StinError(f"{where}: phasing F = {shell.phasing} must be < n_planes = {shell.n_planes}",
                        "use 0 <= F < P (Walker i: T/P/F)")
    return shell


def compute_orbits(orbit_params: dict[str, Any], lat_deg: float, lon_deg: float, freq_hz: float,
                   root: Path = Path(".")) -> xr.Dataset:
    """Look angles of every satellite for every slot, plus the serving set (N highest above the mask)."""
    where = "params.yaml orbits"
    start = parse_start(orbit_params.get("start_utc"))
    slot_s = number(orbit_params, "slot_duration_s", where)
    n_slots = integer(orbit_params, "n_slots", where, maximum=MAX_SLOTS)
    min_el = number(orbit_params, "min_elevation_deg", where, positive=False, minimum=0)
    n_serving = integer(orbit_params, "n_serving", where, maximum=MAX_SERVING)
    seconds = np.arange(n_slots) * slot_s
    source = orbit_params.get("source", "walker")
    if source == "walker":
        shell = walker_from_params(orbit_params.get("walker") or {})
        pos, vel = shell.eci_states(seconds)
        names = [f"p{p:02d}s{s:02d}" for p in range(shell.n_planes) for s in range(shell.sats_per_plane)]
        description = f"Walker-delta {shell.inclination_deg}: {shell.n_sats}/{shell.n_planes}/{shell.phasing} at {shell.altitude_m / 1e3:.0f} km"
    elif source == "tle":
        pos, vel, names = tle_states(root / str(orbit_params.get("tle_file", "")), start, seconds)
        description = f"TLE file {orbit_params.get('tle_file')}"
    else:
        raise StinError(f"{where}.source {source!r} is unknown", "use walker or tle")
    if n_serving > len(names):
        raise StinError(f"{where}.n_serving = {n_serving} exceeds the {len(names)} satellites of the constellation",
                        f"set n_serving <= {len(names)}")
    pe, ve = eci_to_ecef(pos, vel, gmst_rad(start, seconds))
    la = look_angles(pe, ve, lat_deg, lon_deg)
    serving = select_serving(la.elevation_deg, n_serving, min_el)
    times = pd.DatetimeIndex([start + pd.Timedelta(seconds=float(s)) for s in seconds]).tz_convert(None)
    ds = xr.Dataset(
        {
            "elevation_deg": (("time", "sat"), la.elevation_deg),
            "azimuth_deg": (("time", "sat"), la.azimuth_deg),
            "slant_range_m": (("time", "sat"), la.slant_range_m),
            "range_rate_m_s": (("time", "sat"), la.range_rate_m_s),
            "doppler_hz": (("time", "sat"), -la.range_rate_m_s * freq_hz / 299_792_458.0),
            "direction_enu": (("time", "sat", "enu"), la.enu_unit),
            "velocity_enu": (("time", "sat", "enu"), la.velocity_enu),
            "serving_sat": (("time", "rank"), serving.astype(np.int32)),
            "n_visible": (("time",), (la.elevation_deg >= min_el).sum(axis=1).astype(np.int32)),
        },
        coords={"time": times, "sat": np.array(names), "rank": np.arange(n_serving), "enu": ["east", "north", "up"]},
        attrs={"description": description, "observer_lat_deg": lat_deg, "observer_lon_deg": lon_deg,
               "min_elevation_deg": min_el, "slot_duration_s": slot_s, "freq_hz": freq_hz,
               "azimuth_convention": "degrees from north, clockwise",
               "serving_sat_note": "index into sat of the n highest satellites above min_elevation_deg; -1 if fewer"},
    )
    ds["elevation_deg"].attrs["units"] = "degree"
    ds["slant_range_m"].attrs["units"] = "m"
    ds["doppler_hz"].attrs["long_name"] = "Doppler shift of the satellite carrier seen from the area centre"
    return ds


def serving_attributes(orbits: xr.Dataset, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per-(time, rank) values of orbit variables for the serving satellites.

    ``orbits[name]`` has dims (time, sat[, ...]); the result has (time, rank[, ...]) with NaN
    (floats) where a rank has no satellite in that slot.
    """
    serving = orbits["serving_sat"].values
    present = serving >= 0
    out = {}
    for name in names:
        values = orbits[name].values
        idx = np.maximum(serving, 0).reshape(serving.shape + (1,) * (values.ndim - 2))
        picked = np.take_along_axis(values, idx, axis=1)
        out[name] = np.where(present.reshape(present.shape + (1,) * (values.ndim - 2)), picked, np.nan)
    return out
