"""NetCDF outputs (xarray), written atomically and compressed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from pipeline.errors import StinError
from pipeline.io.atomic import atomic_path

NAN_ATTR = "nan_meaning"  # a variable that may hold NaN says what a NaN means there


def require_documented_nans(ds: xr.Dataset, path: str | os.PathLike) -> None:
    """No NaN or inf leaves a stage silently: a float variable holding one must carry a ``nan_meaning``
    attribute (e.g. the CINR of cells inside buildings); otherwise one StinError line names it."""
    for name, var in ds.data_vars.items():
        if var.dtype.kind not in "fc" or NAN_ATTR in var.attrs:
            continue
        bad = int((~np.isfinite(var.values)).sum())
        if bad:
            raise StinError(f"{Path(path).name}: {name} holds {bad} non-finite value(s) ({bad / var.size:.2%}) "
                            "where none may be", "this is a bug or an extreme input: report it with params.yaml "
                            "and the map file (nothing was written)")


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike, *, compress_level: int = 4) -> None:
    """Write ``ds`` to NetCDF-4 with zlib compression on every data variable; large variables
    with a leading ``time`` dimension are chunked one slot per chunk (lazy per-slot reads)."""
    require_documented_nans(ds, path)
    encoding = {}
    for name, var in ds.data_vars.items():
        if var.dtype.kind not in "fiub":
            continue
        enc = {"zlib": True, "complevel": compress_level}
        if var.ndim > 1 and var.dims[0] == "time" and var.size > 100_000:
            enc["chunksizes"] = (1, *var.shape[1:])
        encoding[name] = enc
    with atomic_path(Path(path)) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)


def read_netcdf(path: str | os.PathLike) -> xr.Dataset:
    """Open a NetCDF file fully into memory (the file handle is closed afterwards)."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()
