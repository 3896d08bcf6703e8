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
DEFAULT_SEGMENT_DEG = 0.005  # seed 003 placeholder segment size (seed-math.md 1.1)
DEFAULT_RANDOM_ROUTES = 10  # cars of a new city (the embedded Helsinki file has 10)
MAX_RANDOM_ROUTE_MIN_M = 400.0  # minimum random route length of routes/helsinki.yaml
EARTH_MEAN_RADIUS_M = 6_371_000.0  # TR 38.811 R_E


def _fail(exc: StinError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


@app.command("new-city")
def new_city(
    name: str = typer.Argument(..., help="city name: lower case, digits, '-' or '_'"),
    bbox: str = typer.Option(..., help="area as S,W,N,E in WGS84 degrees"),
    osm_file: Optional[Path] = typer.Option(None, help="local .osm / .osm.bz2 / .osm.pbf (else online)"),
    place: Optional[str] = typer.Option(None, help="fetch online by place name instead of by bbox"),
    segment_lat: float = typer.Option(DEFAULT_SEGMENT_DEG, help="segment height, degrees"),
    segment_lon: float = typer.Option(DEFAULT_SEGMENT_DEG, help="segment width, degrees"),
    maps_dir: Path = typer.Option(Path("maps"), help="where map files live"),
    routes: int = typer.Option(DEFAULT_RANDOM_ROUTES, help="random seeded routes written to routes/NAME.yaml"),
    routes_seed: int = typer.Option(0, help="seed of the random routes (same seed, same routes)"),
    routes_dir: Path = typer.Option(Path("routes"), help="where route files live"),
    force: bool = typer.Option(False, help="overwrite an existing map file"),
) -> None:
    """Write maps/NAME.yaml and routes/NAME.yaml; then run it with `dvc exp run -S city=NAME`."""
    try:
        if not CITY_NAME_RE.match(name):
            raise StinError(f"city name {name!r} is not allowed",
                            "use lower-case letters, digits, '-' or '_' (e.g. 'paris-centre')")
        box = BBox.parse(bbox, "--bbox")
        path = maps_dir / f"{name}.yaml"
        if path.exists() and not force:
            raise StinError(f"map file {path} already exists", "pass --force to overwrite it or pick another name")
        if osm_file is not None:
            if not osm_file.is_file():
                raise StinError(f"OSM file {osm_file} not found", "give the path of a downloaded .osm/.osm.pbf file")
            if not osm_file.name.lower().endswith(OSM_FILE_SUFFIXES):
                raise StinError(f"OSM file {osm_file} has an unknown extension", "use a .osm, .osm.bz2 or .osm.pbf file")
            # stored relative to the map file, so the project folder can move
            rel = os.path.relpath(osm_file.resolve(), maps_dir.resolve())
            source = {"type": "osm_file", "path": rel}
        else:
            source = {"type": "osm_online"}
            if place:
                source["place"] = place
        data = {
            "description": f"{name} (written by stin new-city)",
            "bbox": dict(zip(("south", "west", "north", "east"), box.as_tuple())),
            "source": source,
            "segment_size_deg": {"lat": segment_lat, "lon": segment_lon},
            "heights": NEW_CITY_HEIGHTS,
        }
        parse_map(data, name, path)  # validate what we are about to write
        if routes < 1:
            raise StinError(f"--routes {routes} gives no car", "use --routes 1 or more")
        route_path = routes_dir / f"{name}.yaml"
        write_routes = force or not route_path.exists()
        with atomic_path(path) as tmp:
            tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        if write_routes:
            route_path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(route_path) as tmp:
                tmp.write_text(random_routes_yaml(name, box, routes, routes_seed), encoding="utf-8")
    except StinError as exc:
        _fail(exc)
    typer.echo(f"wrote {path} ({box.area_km2():.2f} km2, {source['type']})")
    typer.echo(f"wrote {route_path} ({routes} random routes, seed {routes_seed})" if write_routes
               else f"kept {route_path} (exists; --force rewrites it)")
    typer.echo(f"next: dvc exp run -S city={name}   (or set 'city: {name}' in params.yaml and run dvc repro)")


def random_routes_yaml(name: str, box: BBox, count: int, seed: int) -> str:
    """A routes file of ``count`` seeded random routes on the city's drivable network.

    The minimum route length is a quarter of the box's diagonal, capped at 400 m (the embedded
    Helsinki file's value), so small boxes still find routes.
    """
    lat0 = math.radians((box.south + box.north) / 2)
    diagonal_m = EARTH_MEAN_RADIUS_M * math.hypot(math.radians(box.north - box.south),
                                                  math.radians(box.east - box.west) * math.cos(lat0))
    min_m = round(min(MAX_RANDOM_ROUTE_MIN_M, diagonal_m / 4), 1)
    head = (f"# Vehicle routes of {name} (written by stin new-city): {count} cars between random road nodes\n"
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
def info() -> None:
    """Show the libLLVM Dr.Jit will use and the versions of the key packages."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    from pipeline.runtime import configure_llvm  # noqa: PLC0415

    llvm = configure_llvm()
    typer.echo(f"libLLVM for Dr.Jit: {llvm or 'NOT FOUND (apt-get install libllvm19)'}")
    for pkg in ("sionna-rt", "mitsuba", "drjit", "osmnx", "pyrosm", "dvc"):
        try:
            typer.echo(f"{pkg}: {version(pkg)}")
        except PackageNotFoundError:
            typer.echo(f"{pkg}: not installed")


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
