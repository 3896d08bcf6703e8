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


class StreamedNetcdf:
    """A NetCDF file written piece by piece: ``static`` (coordinates and small variables, by xarray) first,
    then large variables created with :meth:`create` and filled window by window with :meth:`write`
    (zlib, chunked), so no process holds them whole; renamed into place only on a clean exit.

    >>> with StreamedNetcdf(path, static) as nc:
    ...     nc.create("path_gain_bs", ("bs", "y", "x"), "f4", chunks=(1, 256, 256))
    ...     nc.write("path_gain_bs", (slice(0, 3), slice(0, 100), slice(0, 80)), window)
    """

    def __init__(self, path: str | os.PathLike, static: xr.Dataset, *, compress_level: int = 4):
        self.path = Path(path)
        self.static = static
        self.level = compress_level
        self._atomic = None
        self._nc = None

    def __enter__(self) -> "StreamedNetcdf":
        import netCDF4  # noqa: PLC0415

        require_documented_nans(self.static, self.path)
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        enc = {n: {"zlib": True, "complevel": self.level} for n, v in self.static.data_vars.items()
               if v.dtype.kind in "fiub"}
        self.static.to_netcdf(tmp, engine="netcdf4", encoding=enc)
        self._nc = netCDF4.Dataset(tmp, "a")
        return self

    def add_dimension(self, name: str, size: int | None = None) -> None:
        """A dimension the static part does not have (None: unlimited, grown by :meth:`write`)."""
        self._nc.createDimension(name, size)

    def create(self, name: str, dims: tuple[str, ...], kind: str, chunks: tuple[int, ...] | None,
               attrs: dict | None = None) -> None:
        """A variable filled later; ``chunks`` (clipped to fixed dimensions) with zlib, or None: contiguous."""
        if chunks is None:
            v = self._nc.createVariable(name, kind, dims)
        else:
            dim = [self._nc.dimensions[d] for d in dims]
            sizes = [c if d.isunlimited() else max(1, min(c, d.size)) for c, d in zip(chunks, dim)]
            v = self._nc.createVariable(name, kind, dims, zlib=True, complevel=self.level, chunksizes=tuple(sizes))
        for k, val in (attrs or {}).items():
            v.setncattr(k, val)

    def write(self, name: str, index: tuple, values: np.ndarray) -> None:
        self._nc[name][index] = values

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        if self._nc is not None:
            self._nc.close()
        self._atomic.__exit__(exc_type, exc, tb)
        return False
