"""Command line: ``stin new-city``, ``stin stage``, ``stin info``."""

from __future__ import annotations

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
    force: bool = typer.Option(False, help="overwrite an existing map file"),
) -> None:
    """Write maps/NAME.yaml; then run it with `dvc exp run -S city=NAME`."""
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
        with atomic_path(path) as tmp:
            tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    except StinError as exc:
        _fail(exc)
    typer.echo(f"wrote {path}; run it with: dvc exp run -S city={name}")


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
