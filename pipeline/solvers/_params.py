"""Building the solvers' parameter dataclasses from a params.yaml group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def dataclass_from_mapping(cls: type[T], values: Mapping[str, Any], what: str) -> T:
    """``cls(**values)``; unknown keys raise ValueError naming them and the known ones (``what``: e.g.
    "coverage parameter")."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; known: {sorted(known)}")
    return cls(**dict(values))
