"""Output invariants checked by the stages before they write: no NaN leaves a stage silently."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.errors import StinError


def require_finite(ds: Any, names: tuple[str, ...], stage: str, *, where: np.ndarray | None = None,
                   minimum: float | None = None) -> None:
    """Raise one StinError line if a variable of ``ds`` holds a non-finite value (inside the boolean
    ``where`` mask over its trailing dimensions, when given) or a value below ``minimum``."""
    for name in names:
        values = np.asarray(ds[name].values, dtype=float)
        if where is not None:
            values = values[..., where]
        bad = ~np.isfinite(values)
        if minimum is not None:
            bad |= np.isfinite(values) & (values < minimum)
        if bad.any():
            raise StinError(f"the {stage} stage produced {int(bad.sum())} invalid value(s) in {name} "
                            f"({bad.mean():.2%}; non-finite{'' if minimum is None else f' or < {minimum:g}'})",
                            "this is a bug or an extreme input: report it with params.yaml and the map file")
