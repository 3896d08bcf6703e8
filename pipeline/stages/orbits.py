"""DVC stage ``orbits``: satellite look angles over the time window -> data/<city>/orbits.nc."""

from __future__ import annotations

import sys
from typing import Any

from pipeline.config import load_map, number, section
from pipeline.errors import StinError
from pipeline.io.netcdf import write_netcdf
from pipeline.io.paths import CityPaths
from pipeline.orbits.window import compute_orbits
from pipeline.stages._common import run_stage


def build(params: dict[str, Any], paths: CityPaths) -> None:
    map_cfg = load_map(params["city"])
    freq_hz = number(section(params, "radio"), "freq_hz", "params.yaml radio")
    lat, lon = map_cfg.bbox.center
    ds = compute_orbits(section(params, "orbits"), lat, lon, freq_hz)
    n_served = int((ds["serving_sat"] >= 0).any("rank").sum())
    if n_served == 0:
        raise StinError(f"no satellite rises above orbits.min_elevation_deg = {ds.attrs['min_elevation_deg']} "
                        f"over '{params['city']}' during the window",
                        "lower min_elevation_deg, lengthen the window (n_slots) or use a denser constellation")
    write_netcdf(ds, paths.orbits_nc)
    print(f"[orbits] {ds.attrs['description']}: {ds.sizes['sat']} satellites, {ds.sizes['time']} slots; "
          f"visible per slot {int(ds.n_visible.min())}-{int(ds.n_visible.max())}; serving elevation "
          f"{float(ds.elevation_deg.isel(sat=ds.serving_sat.clip(0)).where(ds.serving_sat >= 0).min()):.1f}-"
          f"{float(ds.elevation_deg.isel(sat=ds.serving_sat.clip(0)).where(ds.serving_sat >= 0).max()):.1f} deg")


def main() -> int:
    return run_stage("orbits", build)


if __name__ == "__main__":
    sys.exit(main())
