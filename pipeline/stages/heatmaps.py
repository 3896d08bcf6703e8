"""DVC stage ``heatmaps``: CINR of both networks per slot from the stored path gains.

No ray is traced here: changing powers, bandwidth, noise or UE antennas reruns only this
stage (seconds). Writes ``data/<city>/heatmaps.nc``, a GeoTIFF per CINR layer (one band
per slot) and ``results/<city>/figures/cinr_heatmaps.png`` (Fig. 2 of Nguyen-Kha et al., arXiv 2408.15394).
"""

from __future__ import annotations

import math
import sys
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from pipeline.config import number, section
from pipeline.errors import StinError
from pipeline.geometry.frame import LocalFrame
from pipeline.io.atomic import write_json
from pipeline.io.plotdata import cdf_table, write_plot_table
from pipeline.io.figures import plot_cinr_maps
from pipeline.io.invariants import require_finite
from pipeline.io.netcdf import write_netcdf
from pipeline.io.paths import CityPaths
from pipeline.io.rasters import write_cog_wgs84, write_geotiff
from pipeline.radio.cinr import LinkParams, compute_cinr_blocked, map_center_xyz
from pipeline.stages._common import run_stage


MAX_BEAM_OFFSET_M = 100_000.0  # a LEO-600 2 m-aperture beam at 3.5 GHz is ~30 km wide (3 dB); project bound


def beam_target_xyz(target: Any, radiomaps, frame: LocalFrame) -> np.ndarray:  # noqa: ANN001
    """The satellite beam's aim point in the local frame; ``target`` is LinkParams.sat_beam_target, already
    checked by pipeline.radio.cinr.beam_target ('center' or [lat, lon] in range)."""
    if target == "center":
        return map_center_xyz(radiomaps)
    lat, lon = target
    x, y = (float(v) for v in frame.to_local(lon, lat))
    offset_m = math.hypot(x, y)
    if offset_m > MAX_BEAM_OFFSET_M:
        raise StinError(f"params.yaml link.sat_beam_target [{lat}, {lon}] is {offset_m / 1e3:.0f} km "
                        "from the city: its cells would all sit deep in the beam's side lobes",
                        f"aim within {MAX_BEAM_OFFSET_M / 1e3:.0f} km of the city, or use center")
    return np.array([x, y, 0.0])


def build(params: dict[str, Any], paths: CityPaths) -> None:
    if not paths.radiomaps_nc.is_file():
        raise StinError(f"{paths.radiomaps_nc} not found", "run the radiomaps stage first ('dvc repro')")
    link = LinkParams.from_params(section(params, "link"), section(params, "ue"),
                                 number(section(params, "radio"), "freq_hz", "params.yaml radio"))
    with xr.open_dataset(paths.radiomaps_nc, engine="netcdf4") as radiomaps:  # lazy: read block by block
        frame = LocalFrame(radiomaps.attrs["frame_lat0_deg"], radiomaps.attrs["frame_lon0_deg"])
        heat = compute_cinr_blocked(radiomaps, link, beam_target_xyz(link.sat_beam_target, radiomaps, frame))
    heat["spatial_ref"] = ((), 0, {"crs_wkt": frame.crs.to_wkt(), "spatial_ref": frame.proj4})
    require_finite(heat, ("cinr_bs_db", "cinr_leo_db"), "heatmaps", where=heat["outdoor"].values.astype(bool))
    write_netcdf(heat, paths.heatmaps_nc)
    times = [str(t)[:19] for t in heat.time.values]
    for var in ("cinr_bs_db", "cinr_leo_db"):
        write_geotiff(paths.geotiff_dir / f"{var}.tif", heat[var].values, heat.x.values, heat.y.values,
                      frame.proj4, band_names=times)
        write_cog_wgs84(paths.geotiff_dir / f"{var}_wgs84.tif", heat[var].values, heat.x.values, heat.y.values,
                        frame.proj4, band_names=times)
    buildings = gpd.read_file(paths.buildings_local)
    sites = gpd.read_file(paths.sites_geojson)
    plot_cinr_maps(paths.figures_dir / "cinr_heatmaps.png", heat, radiomaps, buildings, sites)
    outdoor = heat.outdoor.values.astype(bool)
    summary = {v: {"median_db": round(float(np.median(heat[v].values[:, outdoor])), 2),
                   "p10_db": round(float(np.percentile(heat[v].values[:, outdoor], 10)), 2),
                   "p90_db": round(float(np.percentile(heat[v].values[:, outdoor], 90)), 2)}
               for v in ("cinr_bs_db", "cinr_leo_db")}
    write_json(paths.results_dir / "heatmaps.json", {**summary, "noise_dbm": round(heat.attrs["noise_dbm"], 2)})
    write_plot_table(paths.results_dir / "plots" / "cinr_cdf.csv",  # outdoor cells of every slot, per network
                     cdf_table({"bs": heat["cinr_bs_db"].values[:, outdoor], "sat": heat["cinr_leo_db"].values[:, outdoor]}))
    print(f"[heatmaps] BS-UE CINR median {summary['cinr_bs_db']['median_db']} dB, LEO-UE CINR median "
          f"{summary['cinr_leo_db']['median_db']} dB over outdoor cells; noise {heat.attrs['noise_dbm']:.1f} dBm")


def main() -> int:
    return run_stage("heatmaps", build)


if __name__ == "__main__":
    sys.exit(main())
