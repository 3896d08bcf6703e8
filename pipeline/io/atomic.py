"""Write-then-rename helpers: a failed stage never leaves a partial output."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def remove_stale_temporaries(target: Path, suffix: str = "") -> list[Path]:
    """Remove temporaries of ``target`` that a killed run left beside it (``.<name>.<8 random chars><suffix>``
    files, ``.<name>.<8>`` and ``.<name>.old.<8>`` folders, as :func:`atomic_path` / :func:`atomic_dir` name
    them). Only the stage that writes ``target`` calls this, so no live temporary is touched."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(old\.)?[A-Za-z0-9_]{{8}}{re.escape(suffix)}$")
    removed = []
    if target.parent.is_dir():
        for p in target.parent.iterdir():
            if pattern.match(p.name):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps ``suffix`` (e.g. ``.geojson``) so that writers that
    pick a format from the extension still work. On any exception the temporary
    file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target, suffix or target.suffix)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix,
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as GDAL refuse to overwrite an existing file
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; swap it in on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes 0700; outputs should be readable like any file
    try:
        yield tmp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / "x")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def json_safe(data: Any) -> Any:
    """``data`` with every non-finite float (NaN, inf: no JSON value) replaced by None (null)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    return data


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented, key-sorted, strict JSON (NaN/inf -> null), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False) + "\n",
                       encoding="utf-8")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """Read JSON from ``path``; ``default`` when the file does not exist."""
    p = Path(path)
    if not p.exists():
        return default
    return json.loads(p.read_text(encoding="utf-8"))


def record_timing(path: str | os.PathLike, stage: str, seconds: float,
                  details: dict[str, float] | None = None) -> None:
    """Add ``stage -> seconds`` (and ``stage.key -> seconds`` for each detail) to the timings file.

    The file is a DVC metric of the whole pipeline, not a stage output: wall times stay out of the
    outputs so identical inputs give byte-identical outputs."""
    timings = read_json(path, default={}) or {}
    timings = {k: v for k, v in timings.items() if not k.startswith(f"{stage}.")}  # this run's details only
    timings[stage] = round(float(seconds), 3)
    for key, value in (details or {}).items():
        timings[f"{stage}.{key}"] = value
    write_json(path, timings)
