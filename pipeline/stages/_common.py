"""What every stage entry point shares: parameters, timing, one-line errors."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from pipeline.config import load_params
from pipeline.errors import StinError
from pipeline.io.atomic import record_timing
from pipeline.io.metrics import write_headline
from pipeline.io.paths import CityPaths


_DETAILS: dict[str, float] = {}
SUMMARY_LINE = re.compile(r"^\[[a-z_]+\] ")  # a stage's summary lines: "[heatmaps] BS-UE CINR median ..."
LOG_LEVEL_ENV = "STIN_LOG_LEVEL"  # WARNING (quiet: errors and one summary line per stage), INFO (default), DEBUG
LOG_LEVELS = {"QUIET": logging.WARNING, "WARNING": logging.WARNING, "INFO": logging.INFO, "DEBUG": logging.DEBUG,
              "VERBOSE": logging.DEBUG}


def log_level() -> int:
    """The level ``STIN_LOG_LEVEL`` names (default INFO); an unknown name is an error with the choices."""
    name = os.environ.get(LOG_LEVEL_ENV, "INFO").strip().upper() or "INFO"
    if name not in LOG_LEVELS:
        raise StinError(f"{LOG_LEVEL_ENV}={name} is not a log level", f"use one of {', '.join(LOG_LEVELS)}")
    return LOG_LEVELS[name]


def note_timing(key: str, seconds: float | None) -> None:
    """Record a wall time of the running stage (e.g. ``raytracer_s``) in ``results/<city>/timings.json``.

    Wall times never go into a stage's outputs: they differ on every run, and an output that differs
    makes DVC rerun everything downstream of an otherwise identical result."""
    if seconds is not None:
        _DETAILS[key] = round(float(seconds), 4)


def run_stage(name: str, body: Callable[[dict[str, Any], CityPaths], None],
              params_path: str = "params.yaml") -> int:
    """Run one stage: load params, call ``body``, record its wall time; exit code.

    A :class:`StinError` prints ``error: <problem>; fix: <fix>`` on one line and returns 2. Under
    ``STIN_LOG_LEVEL=WARNING`` (``stin -q``) progress bars are off and of the stage's own output only its
    summary lines (those starting ``[<stage>]``) are shown; ``DEBUG`` (``stin -v``) adds the libraries' logs.
    """
    try:
        level = log_level()
    except StinError as exc:
        print(f"error: [{name}] {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=level, format="%(message)s")
    quiet = level > logging.INFO
    if quiet:  # pipeline/stages/__init__.py turned tqdm's bars and Dask's logs off before they were imported
        logging.getLogger("distributed").setLevel(logging.WARNING)
    start = time.perf_counter()
    _DETAILS.clear()
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured) if quiet else contextlib.nullcontext():
            params = load_params(params_path)
            paths = CityPaths(params["city"])
            body(params, paths)
            write_headline(name, paths.results_dir)  # results/<city>/metrics/<name>.json: what DVC shows
    except StinError as exc:
        print(f"error: [{name}] {exc}", file=sys.stderr)
        return 2
    finally:
        for line in captured.getvalue().splitlines():
            if SUMMARY_LINE.match(line):
                print(line)
    seconds = time.perf_counter() - start
    record_timing(paths.timings, name, seconds, details=dict(_DETAILS))
    print(f"[{name}] done in {seconds:.2f} s")
    return 0
