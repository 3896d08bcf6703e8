"""`stin view`: one self-contained HTML map page, loaded in headless Chromium with the network blocked.

The inputs are small synthetic files with the variables and attributes the pipeline writes (heatmaps.nc,
buildings/sites/routes GeoJSON, trajectory.nc, orbits.nc from the real orbit code, area.json).
The browser test needs Debian's chromium (`make test` installs it: scripts/ensure-chromium.sh) and the
Python package playwright (the `test` extra; no browser download: it drives /usr/bin/chromium).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from shapely.geometry import LineString, Point, box
from typer.testing import CliRunner

from conftest import REPO
from pipeline.cli import app
from pipeline.geometry.frame import WGS84, LocalFrame
from pipeline.io import webmap
from pipeline.io.netcdf import write_netcdf
from pipeline.io.vector import write_vector

FRAME = LocalFrame(60.17165, 24.9443)  # Helsinki's frame centre
TIMES = pd.date_range("2026-01-01T12:00:00", periods=2, freq="10s").values
CELL = 10.0
X = np.arange(-150.0, 150.0 + CELL / 2, CELL)
Y = np.arange(-200.0, 200.0 + CELL / 2, CELL)
BUILDINGS_LOCAL = [box(-100, -60, -40, 20), box(20, 40, 90, 120), box(30, -150, 110, -90)]
PROBE_XY = (-120.0, 150.0)  # an outdoor cell well inside the grid (value read back under the mouse)
runner = CliRunner()


def cinr_value(t: int, x: np.ndarray, y: np.ndarray, network: str) -> np.ndarray:
    """A smooth synthetic CINR field (dB) per slot and network."""
    if network == "bs":
        return 5.0 + 0.08 * x - 0.05 * y + 3.0 * t
    return -20.0 + 0.03 * y + 0.02 * x - 2.0 * t


def synthetic_heatmaps() -> xr.Dataset:
    xx, yy = np.meshgrid(X, Y)
    outdoor = np.ones(xx.shape, bool)
    for b in BUILDINGS_LOCAL:
        x0, y0, x1, y1 = b.bounds
        outdoor &= ~((xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1))
    mask = np.where(outdoor, 1.0, np.nan)
    lon, lat = FRAME.to_wgs84(xx, yy)
    bs = np.array([f"bs{s:02d}-s{k}" for s in range(2) for k in range(3)])
    ds = xr.Dataset(
        {
            "cinr_bs_db": (("time", "y", "x"), np.stack([cinr_value(t, xx, yy, "bs") * mask for t in range(2)])
                           .astype(np.float32)),
            "cinr_leo_db": (("time", "y", "x"), np.stack([cinr_value(t, xx, yy, "leo") * mask for t in range(2)])
                            .astype(np.float32)),
            "outdoor": (("y", "x"), outdoor.astype(np.uint8)),
            "spatial_ref": ((), 0, {"crs_wkt": FRAME.crs.to_wkt(), "spatial_ref": FRAME.proj4}),
        },
        coords={"x": X, "y": Y, "time": TIMES, "lon": (("y", "x"), lon), "lat": (("y", "x"), lat), "bs": bs,
                "bs_site": ("bs", np.array([b.split("-")[0] for b in bs]))},
        attrs={"city": "testville", "freq_hz": 3.5e9, "rx_height_m": 1.5, "cell_size_m": CELL,
               "crs_proj4": FRAME.proj4, "frame_lat0_deg": FRAME.lat0_deg, "frame_lon0_deg": FRAME.lon0_deg,
               "noise_dbm": -93.96, "bandwidth_hz": 20e6,
               "masking": "cells inside buildings are NaN in cinr_*; 'outdoor' is 1 where valid"},
    )
    for v in ("cinr_bs_db", "cinr_leo_db"):
        ds[v].attrs.update(units="dB", grid_mapping="spatial_ref",
                           nan_meaning="cell inside a building (no outdoor receiver; see 'outdoor')")
    return ds


def synthetic_orbits() -> xr.Dataset:
    """orbits.nc as the orbits stage computes it (params.yaml's constellation, 2 slots)."""
    from pipeline.orbits.window import compute_orbits

    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    orbit_params = {**params["orbits"], "n_slots": 2}
    return compute_orbits(orbit_params, FRAME.lat0_deg, FRAME.lon0_deg, 3.5e9)


def to_wgs84(geoms: list) -> gpd.GeoSeries:
    return gpd.GeoSeries(geoms, crs=FRAME.crs).to_crs(WGS84)


def write_city(data_dir: Path) -> dict:
    """The data/<city> files `stin view` reads; returns what the test checks against."""
    data_dir.mkdir(parents=True, exist_ok=True)
    west, south = FRAME.to_wgs84(X[0] - CELL / 2, Y[0] - CELL / 2)
    east, north = FRAME.to_wgs84(X[-1] + CELL / 2, Y[-1] + CELL / 2)
    (data_dir / "area.json").write_text(json.dumps({
        "bbox": {"south": float(south), "west": float(west), "north": float(north), "east": float(east)},
        "city": "testville", "frame": FRAME.to_dict()}), encoding="utf-8")
    heat = synthetic_heatmaps()
    write_netcdf(heat, data_dir / "heatmaps.nc")
    buildings = gpd.GeoDataFrame(
        {"volume_id": [0, 1, 2], "building_id": ["way/1", "way/2", "relation/3"],
         "kind": ["outline", "outline", "part"], "building": ["yes", "church", "yes"],
         "name": [None, "Tuomiokirkko <b>", None], "height_m": [18.0, 40.0, 12.5], "min_height_m": [0.0, 0.0, 3.0],
         "height_source": ["city_default", "osm_height", "levels"]},
        geometry=to_wgs84(BUILDINGS_LOCAL), crs=WGS84)
    write_vector(buildings, data_dir / "buildings.geojson")
    site_xy = [(-70.0, -20.0), (60.0, 80.0)]
    sites = gpd.GeoDataFrame(
        {"site_id": ["bs00", "bs01"], "segment_id": ["r0c0", "r0c1"], "x_m": [p[0] for p in site_xy],
         "y_m": [p[1] for p in site_xy], "z_m": [23.0, 45.0], "roof_height_m": [18.0, 40.0],
         "building_id": ["way/1", "way/2"]},
        geometry=to_wgs84([Point(p) for p in site_xy]), crs=WGS84)
    write_vector(sites, data_dir / "sites.geojson")
    route_local = LineString([(-140, -190), (-140, 0), (0, 0), (0, 30), (140, 30), (140, 190)])
    routes = gpd.GeoDataFrame({"ue": ["ue00"], "length_m": [round(route_local.length, 1)], "duration_s": [60.0]},
                              geometry=to_wgs84([route_local]), crs=WGS84)
    write_vector(routes, data_dir / "routes.geojson")
    pos = [route_local.interpolate(d) for d in (0.0, 100.0)]
    lon, lat = FRAME.to_wgs84([p.x for p in pos], [p.y for p in pos])
    traj = xr.Dataset({"x_m": (("time", "ue"), np.array([[p.x] for p in pos])),
                       "y_m": (("time", "ue"), np.array([[p.y] for p in pos])),
                       "lon": (("time", "ue"), lon.reshape(2, 1)), "lat": (("time", "ue"), lat.reshape(2, 1)),
                       "speed_m_s": (("time", "ue"), np.full((2, 1), 10.0))},
                      coords={"time": TIMES, "ue": ["ue00"]}, attrs={"city": "testville", "crs_proj4": FRAME.proj4})
    write_netcdf(traj, data_dir / "trajectory.nc")
    orbits = synthetic_orbits()
    write_netcdf(orbits, data_dir / "orbits.nc")
    radiomaps = xr.Dataset({"bs_bearing_deg": (("bs",), np.tile([0.0, 120.0, 240.0], 2))},
                           coords={"bs": heat["bs"].values, "bs_site": ("bs", heat["bs_site"].values)})
    write_netcdf(radiomaps, data_dir / "radiomaps.nc")
    el = orbits["elevation_deg"].values
    n_tracks = int(((el >= orbits.attrs["min_elevation_deg"]).any(axis=0)).sum())
    return {"heat": heat, "n_tracks": n_tracks, "n_buildings": len(buildings)}


# ---- no browser ---------------------------------------------------------------------------------------------

def test_subsatellite_points_invert_the_look_angles():
    """The ground tracks come from orbits.nc's look angles: the reconstructed positions give them back."""
    from pyproj import Transformer

    from pipeline.orbits.constellation import look_angles

    orbits = synthetic_orbits().isel(sat=slice(0, 200))
    lat, lon, h = webmap.subsatellite_points(orbits)
    ecef = np.stack(Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True).transform(lon, lat, h), axis=-1)
    la = look_angles(ecef, np.zeros_like(ecef), FRAME.lat0_deg, FRAME.lon0_deg)
    assert np.allclose(la.elevation_deg, orbits["elevation_deg"].values, atol=1e-6)
    assert np.allclose(la.azimuth_deg, orbits["azimuth_deg"].values, atol=1e-6)
    assert np.all(np.abs(h - 600e3) < 30e3)  # the 600 km shell (a spherical orbit above the ellipsoid)
    assert np.all(np.abs(lat) <= 53.0 + 0.3)  # inclination 53 degrees


def test_cinr_images_are_georeferenced_and_transparent_where_nan():
    from PIL import Image

    heat = synthetic_heatmaps()
    layers, warp = webmap.cinr_layers(heat, FRAME, -50.0, 40.0)
    assert [c["name"] for c in layers] == ["cinr_bs_db", "cinr_leo_db"]
    assert all(len(c["images"]) == 2 for c in layers)
    (south, west), (north, east) = warp.bounds
    lon, lat = FRAME.to_wgs84(np.array([X[0] - CELL / 2, X[-1] + CELL / 2]), np.array([Y[0] - CELL / 2, Y[-1] + CELL / 2]))
    assert south <= lat[0] and north >= lat[1] and west <= lon[0] and east >= lon[1]
    assert abs(south - lat[0]) < 2e-5 and abs(north - lat[1]) < 2e-5  # a pixel at most
    img = Image.open(io.BytesIO(webmap.base64.b64decode(layers[0]["images"][0].split(",", 1)[1]))).convert("RGBA")
    alpha = np.asarray(img)[..., 3]
    resampled = warp.apply(heat["cinr_bs_db"].values[0])
    assert alpha.shape == resampled.shape
    assert np.array_equal(alpha == 0, ~np.isfinite(resampled))
    assert 0 < (alpha == 0).mean() < 0.5  # the three buildings


def test_view_needs_the_pipeline_outputs(tmp_path):
    result = runner.invoke(app, ["view", "testville", "--data-dir", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "dvc repro" in result.output
    (tmp_path / "city").mkdir()
    (tmp_path / "city" / "area.json").write_text(json.dumps({"frame": FRAME.to_dict()}))
    result = runner.invoke(app, ["view", "testville", "--data-dir", str(tmp_path / "city")])
    assert result.exit_code == 2 and "heatmaps.nc not found" in result.output and "dvc repro" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_colour_range_defaults_match_the_module():
    import inspect

    from pipeline.cli import view

    params = inspect.signature(view).parameters
    assert params["vmin_db"].default.default == webmap.DEFAULT_VMIN_DB
    assert params["vmax_db"].default.default == webmap.DEFAULT_VMAX_DB


# ---- in the browser -----------------------------------------------------------------------------------------

def chromium_path() -> str:
    path = os.environ.get("STIN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; `make test` installs it "
                    "through scripts/ensure-chromium.sh)")
    return path


def test_page_works_offline_in_headless_chromium(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install -e '.[test]')")
    executable = chromium_path()
    facts = write_city(tmp_path / "data" / "testville")
    out = tmp_path / "results" / "testville" / "map.html"
    result = runner.invoke(app, ["view", "testville", "--data-dir", str(tmp_path / "data" / "testville"),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and f"wrote {out}" in result.output
    text = out.read_text(encoding="utf-8")
    # self-contained: no external script, style sheet or image; the only URLs are links and the (off) tiles
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"?https?:", text)
    assert "leaflet" in text.lower() and "tile.openstreetmap.org" in text
    assert "<b>" not in text.split('id="stin-data">', 1)[1].split("</script>", 1)[0]  # names escaped in the JSON

    requests, blocked, errors = [], [], []

    def route(r):  # noqa: ANN001, ANN202
        if r.request.url.startswith(("file:", "data:")):
            return r.continue_()
        blocked.append(r.request.url)
        return r.abort()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND"])
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 800})
            context.route("**/*", route)
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:100]}"))
            page.on("console", lambda m: errors.append(f"console error: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.goto(out.as_uri())
            page.wait_for_function("window.stin && window.stin.ready", timeout=15_000)
            page.wait_for_timeout(300)

            count = lambda sel: page.evaluate(f"document.querySelectorAll({sel!r}).length")  # noqa: E731
            assert count(".leaflet-container") == 1
            assert count(".leaflet-image-layer") == 1  # BS CINR shown, LEO off
            assert count("path.stin-building") == facts["n_buildings"]
            assert count("path.stin-route") == 1
            assert count("path.stin-site") == 2 and count("path.stin-sector") == 6
            assert count("path.stin-car") == 1
            assert count("path.stin-sat-track") == facts["n_tracks"] > 0
            assert count("path.stin-sat-now") >= 1
            assert count(".leaflet-control-layers-overlays input") >= 8
            assert count(".leaflet-control-scale") == 1
            assert count(".leaflet-tile") == 0  # OSM tiles are off
            legend = page.inner_text("#stin-legend")
            assert "CINR (dB)" in legend and "-50" in legend and "40" in legend
            assert page.evaluate("Math.abs(stin.map.getCenter().lat - %f) < 0.01" % FRAME.lat0_deg)

            # the value under the cursor is the file's value: the image sits where the grid is
            lon, lat = FRAME.to_wgs84(*PROBE_XY)
            xy = page.evaluate(f"(() => {{ const p = stin.map.latLngToContainerPoint([{lat}, {lon}]);"
                               " return [p.x, p.y]; })()")
            page.mouse.move(*xy)
            page.wait_for_timeout(100)
            readout = page.inner_text("#stin-readout")
            shown = float(re.search(r"BS \(terrestrial\): \u2248 (-?[\d.]+) dB", readout).group(1))
            truth = cinr_value(0, np.array(PROBE_XY[0]), np.array(PROBE_XY[1]), "bs")
            assert abs(shown - float(truth)) < 0.4, readout

            # the slot selector swaps the images; the LEO layer can be turned on
            first = page.evaluate("stin.layers.cinr_bs_db.getElement().src")
            page.click("#stin-next")
            assert page.inner_text("#stin-slot-n") == "2/2"
            assert page.evaluate("stin.layers.cinr_bs_db.getElement().src") != first
            page.evaluate("stin.layers.cinr_leo_db.addTo(stin.map)")
            assert count(".leaflet-image-layer") == 2
            page.evaluate("stin.map.setZoom(5)")  # zoom out to the satellite tracks
            page.wait_for_timeout(200)
            page.evaluate("stin.map.fitBounds(stin.layers.cinr_bs_db.getBounds())")
            page.wait_for_timeout(300)
            page.screenshot(path=str(tmp_path / "map.png"))
            assert (tmp_path / "map.png").stat().st_size > 10_000

            assert errors == [], errors
            assert blocked == [], f"the page fetched from the network: {blocked}"
            assert all(u.startswith(("file:", "data:")) for u in requests), requests

            # control: turning the online OSM layer on is the only way to reach the network (and is blocked)
            page.evaluate("stin.layers.osm.addTo(stin.map)")
            page.wait_for_timeout(500)
            assert blocked and all("tile.openstreetmap.org" in u for u in blocked), blocked
        finally:
            browser.close()
    assert out.stat().st_size < 2_000_000  # Leaflet ~0.2 MB + this small city
