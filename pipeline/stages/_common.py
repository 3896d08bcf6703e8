"""What every stage entry point shares: parameters, timing, one-line errors."""

from __future__ import annotations

import logging
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


def note_timing(key: str, seconds: float | None) -> None:
    """Record a wall time of the running stage (e.g. ``raytracer_s``) in ``results/<city>/timings.json``.

    Wall times never go into a stage's outputs: they differ on every run, and an output that differs
    makes DVC rerun everything downstream of an otherwise identical result."""
    if seconds is not None:
        _DETAILS[key] = round(float(seconds), 4)


def run_stage(name: str, body: Callable[[dict[str, Any], CityPaths], None],
              params_path: str = "params.yaml") -> int:
    """Run one stage: load params, call ``body``, record its wall time; exit code.

    A :class:`StinError` prints ``error: <problem>; fix: <fix>`` on one line and returns 2.
    """
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    _DETAILS.clear()
    try:
        params = load_params(params_path)
        paths = CityPaths(params["city"])
        body(params, paths)
        write_headline(name, paths.results_dir)  # results/<city>/metrics/<name>.json: what DVC shows
    except StinError as exc:
        print(f"error: [{name}] {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    record_timing(paths.timings, name, seconds, details=dict(_DETAILS))
    print(f"[{name}] done in {seconds:.2f} s")
    return 0
