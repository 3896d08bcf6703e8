"""NetCDF outputs (xarray), written atomically and compressed."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from pipeline.io.atomic import atomic_path


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike, *, compress_level: int = 4) -> None:
    """Write ``ds`` to NetCDF-4 with zlib compression on every data variable; large variables
    with a leading ``time`` dimension are chunked one slot per chunk (lazy per-slot reads)."""
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
