"""Ray paths stored by the paths found: a ragged ("path entry") layout, written and read slot by slot.

A link is (time, ue, tx). Instead of a dense tensor padded to the largest number of paths any
link has, the file holds one row per path actually found:

- ``num_paths`` (time, ue, tx): paths of the link;
- ``slot_path_start``, ``slot_num_paths`` (time,): the slot's rows are ``[start, start + n)``;
- per path row (dimension ``path``): ``a_real``/``a_imag`` (path, rx_ant, tx_ant), ``tau_s``,
  ``theta_t_rad``, ``phi_t_rad``, ``theta_r_rad``, ``phi_r_rad``, ``doppler_hz``, ``path_los``.

Within a slot the rows run link by link in C order of (ue, tx) and, within a link, by increasing
delay, so the k-th link's rows start at ``cumsum(num_paths)[k - 1]``. (The canonical delay order
makes a link's rows independent of how receivers were batched in the tracer.)

Writing is streamed (:class:`PathStoreWriter`: one slot in memory at a time, atomic rename at the
end) and reading is lazy (:func:`read_slot` reads one slot's rows from an open dataset), so the
file can grow with the cars and slots while memory holds one slot.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.errors import StinError
from pipeline.io.netcdf import NAN_ATTR, StreamedNetcdf

LAYOUT_ATTR = "path_layout"
LAYOUT = "ragged-v1"
ROW_FIELDS = {  # per path row: name -> (NetCDF type, units / meaning)
    "tau_s": ("f8", "s"),
    "theta_t_rad": ("f4", "rad, zenith angle of departure"),
    "phi_t_rad": ("f4", "rad, azimuth of departure"),
    "theta_r_rad": ("f4", "rad, zenith angle of arrival"),
    "phi_r_rad": ("f4", "rad, azimuth of arrival"),
    "doppler_hz": ("f4", "Hz"),
    "path_los": ("u1", "1: line of sight"),
}
ROW_VARS = ("num_paths", "slot_path_start", "slot_num_paths", "a_real", "a_imag", *ROW_FIELDS)  # the ragged part
ROWS_PER_CHUNK = 16_384  # HDF5 chunk of path rows (project choice: ~1 MB of coefficients for 32 x 1 antennas)


@dataclass
class SlotPaths:
    """The paths of one slot, ragged: ``num_paths`` (ue, tx) and per path row ``a`` (row, rx_ant, tx_ant)
    complex and the :data:`ROW_FIELDS` (row,)."""

    num_paths: np.ndarray
    a: np.ndarray
    tau_s: np.ndarray
    theta_t_rad: np.ndarray
    phi_t_rad: np.ndarray
    theta_r_rad: np.ndarray
    phi_r_rad: np.ndarray
    doppler_hz: np.ndarray
    path_los: np.ndarray

    @classmethod
    def empty(cls, n_ue: int, n_tx: int, n_rx_ant: int, n_tx_ant: int = 1) -> SlotPaths:
        """No paths for ``n_ue`` x ``n_tx`` links."""
        return cls(num_paths=np.zeros((n_ue, n_tx), np.int32), a=np.zeros((0, n_rx_ant, n_tx_ant), np.complex64),
                   **{name: np.zeros(0, np.dtype(kind)) for name, (kind, _) in ROW_FIELDS.items()})

    @property
    def n_rows(self) -> int:
        return int(self.tau_s.shape[0])

    def link_of_row(self) -> np.ndarray:
        """Flat link index (ue * n_tx + tx) of every row."""
        return np.repeat(np.arange(self.num_paths.size), self.num_paths.ravel())

    def per_link(self, values: np.ndarray) -> np.ndarray:
        """Sum of a per-row quantity over each link's rows -> (ue, tx, ...)."""
        values = np.asarray(values)
        out = np.zeros((self.num_paths.size, *values.shape[1:]), values.dtype)
        np.add.at(out, self.link_of_row(), values)
        return out.reshape(*self.num_paths.shape, *values.shape[1:])

    def any_per_link(self, flags: np.ndarray) -> np.ndarray:
        return self.per_link(np.asarray(flags, bool).astype(np.int64)) > 0

    def take_ue(self, ue: np.ndarray) -> SlotPaths:
        """The paths of a subset (boolean mask or indices, increasing) of the receivers."""
        ue = np.flatnonzero(ue) if np.asarray(ue).dtype == bool else np.asarray(ue)
        keep = np.isin(self.link_of_row() // self.num_paths.shape[1], ue)
        return self._replace(num_paths=self.num_paths[ue], rows=keep)

    def _replace(self, num_paths: np.ndarray, rows: np.ndarray) -> SlotPaths:
        return SlotPaths(num_paths=num_paths, **{f.name: getattr(self, f.name)[rows] for f in fields(self)
                                                 if f.name != "num_paths"})

    def dense(self, n_paths: int | None = None) -> dict[str, np.ndarray]:
        """Padded arrays as Sionna returns them: ``a`` (ue, tx, rx_ant, tx_ant, path), the row fields and
        ``valid`` (ue, tx, path); padding: a = 0, invalid. ``n_paths`` defaults to the slot's largest link."""
        n_ue, n_tx = self.num_paths.shape
        width = int(self.num_paths.max(initial=0)) if n_paths is None else int(n_paths)
        link = self.link_of_row()
        starts = np.concatenate([[0], np.cumsum(self.num_paths.ravel())[:-1]])
        pos = np.arange(self.n_rows) - starts[link]
        ue, tx = np.divmod(link, n_tx)
        out = {"a": np.zeros((n_ue, n_tx, *self.a.shape[1:], width), self.a.dtype),
               "valid": np.zeros((n_ue, n_tx, width), bool)}
        out["a"][ue, tx, ..., pos] = self.a
        out["valid"][ue, tx, pos] = True
        for name in ROW_FIELDS:
            v = getattr(self, name)
            out[name] = np.zeros((n_ue, n_tx, width), v.dtype)
            out[name][ue, tx, pos] = v
        return out

    @classmethod
    def from_dense(cls, a: np.ndarray, valid: np.ndarray, **row_fields: np.ndarray) -> SlotPaths:
        """From padded arrays: ``a`` (ue, tx, rx_ant, tx_ant, path), ``valid`` and the row fields (ue, tx, path);
        a field not given is zero. Rows are put in the canonical order (link, then delay)."""
        valid = np.asarray(valid, bool)
        n_ue, n_tx, n_p = valid.shape
        a_rows = np.moveaxis(np.asarray(a), -1, 2)[valid]  # (row, rx_ant, tx_ant), C order (ue, tx, path)
        rows = {name: (np.asarray(row_fields[name])[valid] if name in row_fields else
                       np.zeros(int(valid.sum()), np.dtype(kind))) for name, (kind, _) in ROW_FIELDS.items()}
        link = np.repeat(np.arange(n_ue * n_tx), valid.reshape(n_ue * n_tx, n_p).sum(-1))
        order = np.lexsort((rows["tau_s"], link))
        return cls(num_paths=valid.sum(-1).astype(np.int32), a=a_rows[order].astype(np.complex64),
                   **{name: v[order] for name, v in rows.items()})

    @classmethod
    def merge_tx(cls, parts: list[SlotPaths]) -> SlotPaths:
        """Join slot paths of the same receivers and different transmitters (in the order given) along tx."""
        n_ue = parts[0].num_paths.shape[0]
        n_ant = max(p.a.shape[2] for p in parts)
        num = np.concatenate([p.num_paths for p in parts], axis=1)
        offsets = np.cumsum([0] + [p.num_paths.shape[1] for p in parts])[:-1]
        n_tx = num.shape[1]
        keys = []
        for p, off in zip(parts, offsets):
            ue, tx = np.divmod(p.link_of_row(), p.num_paths.shape[1])
            keys.append(ue * n_tx + tx + off)
        order = np.argsort(np.concatenate(keys), kind="stable")
        a = np.concatenate([np.pad(p.a, [(0, 0), (0, 0), (0, n_ant - p.a.shape[2])]) for p in parts])
        rows = {name: np.concatenate([getattr(p, name) for p in parts])[order] for name in ROW_FIELDS}
        assert num.shape == (n_ue, n_tx)
        return cls(num_paths=num, a=a[order], **rows)


def is_ragged(ds: xr.Dataset) -> bool:
    return ds.attrs.get(LAYOUT_ATTR) == LAYOUT


def read_slot(ds: xr.Dataset, t: int) -> SlotPaths:
    """The paths of slot ``t`` of a ragged dataset (reads only that slot's rows when ``ds`` is lazy)."""
    if not is_ragged(ds):
        raise StinError(f"this dataset has no {LAYOUT} path layout (attribute {LAYOUT_ATTR!r})",
                        "rerun the raypaths and channels stages ('dvc repro') to rewrite it")
    start, n = int(ds["slot_path_start"].values[t]), int(ds["slot_num_paths"].values[t])
    rows = slice(start, start + n)
    a = ds["a_real"][rows].values.astype(np.complex64)
    a.imag = ds["a_imag"][rows].values
    return SlotPaths(num_paths=ds["num_paths"][t].values.astype(np.int64), a=a,
                     **{name: ds[name][rows].values for name in ROW_FIELDS})


def iter_slots(ds: xr.Dataset) -> Iterator[tuple[int, SlotPaths]]:
    for t in range(ds.sizes["time"]):
        yield t, read_slot(ds, t)


def ragged_dataset(dense: xr.Dataset) -> xr.Dataset:
    """An in-memory ragged dataset from a dense one (``a_real``/``a_imag`` (time, ue, tx, rx_ant, tx_ant,
    path), ``path_valid`` or nonzero ``a``, and per-path fields (time, ue, tx, path)): for hand-made
    channels in tests and for files written before the ragged layout."""
    per_path = [v for v in dense.data_vars if dense[v].dims[-1:] == ("path",)]
    a = dense["a_real"].values + 1j * dense["a_imag"].values
    valid = (dense["path_valid"].values.astype(bool) if "path_valid" in dense
             else np.abs(a).sum(axis=(3, 4)) > 0)
    slots = [SlotPaths.from_dense(a[t], valid[t],
                                  **{n: dense[n].values[t] for n in ROW_FIELDS if n in dense})
             for t in range(dense.sizes["time"])]
    out = dense.drop_vars(per_path + ["path"], errors="ignore")
    return attach_rows(out, slots)


def attach_rows(static: xr.Dataset, slots: list[SlotPaths]) -> xr.Dataset:
    """``static`` plus the ragged variables of ``slots`` (in memory)."""
    n = np.array([s.n_rows for s in slots], np.int64)
    rows = {name: (("path",), np.concatenate([getattr(s, name) for s in slots])) for name in ROW_FIELDS}
    a = np.concatenate([s.a for s in slots])
    out = static.assign(
        num_paths=(("time", "ue", "tx"), np.stack([s.num_paths for s in slots]).astype(np.int32)),
        slot_path_start=(("time",), np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)),
        slot_num_paths=(("time",), n), a_real=(("path", "rx_ant", "tx_ant"), a.real.astype(np.float32)),
        a_imag=(("path", "rx_ant", "tx_ant"), a.imag.astype(np.float32)), **rows)
    out.attrs[LAYOUT_ATTR] = LAYOUT
    return out


class PathStoreWriter:
    """Streams slots into a ragged NetCDF file: ``static`` (coordinates and per-slot-free variables,
    written by xarray) first, then each slot's rows and its ``slot_vars`` (name -> (dims, dtype, attrs), dims
    starting with ``time``) through netCDF4, in slot order; renamed into place only when every slot is in.

    >>> with PathStoreWriter(path, static, {"gain_db": (("time", "ue", "tx"), "f4", {})}) as w:
    ...     for t in range(n): w.write_slot(t, slot_paths, gain_db=g)
    """

    def __init__(self, path: str | os.PathLike, static: xr.Dataset,
                 slot_vars: dict[str, tuple[tuple[str, ...], str, dict[str, Any]]], *, compress_level: int = 4):
        self.path = Path(path)
        static = static.copy()
        static.attrs[LAYOUT_ATTR] = LAYOUT
        self._file = StreamedNetcdf(path, static, compress_level=compress_level)
        self.slot_vars = slot_vars
        self._n_slots = static.sizes["time"]
        self._next_row = 0
        self._next_slot = 0

    def __enter__(self) -> PathStoreWriter:
        f = self._file.__enter__()
        static = f.static
        f.add_dimension("path")
        n_rx_ant, n_tx_ant = static.sizes["rx_ant"], static.sizes["tx_ant"]
        for part in ("a_real", "a_imag"):
            f.create(part, ("path", "rx_ant", "tx_ant"), "f4", (ROWS_PER_CHUNK, n_rx_ant, n_tx_ant), {
                "long_name": "complex path coefficient a = a_real + 1j a_imag (every antenna pattern applied)"})
        for name, (kind, units) in ROW_FIELDS.items():
            f.create(name, ("path",), kind, (ROWS_PER_CHUNK,), {"units": units})
        f.create("num_paths", ("time", "ue", "tx"), "i4", (1, static.sizes["ue"], static.sizes["tx"]),
                 {"long_name": "paths of the link (rows in the path dimension)"})
        f.create("slot_path_start", ("time",), "i8", None)
        f.create("slot_num_paths", ("time",), "i8", None)
        for name, (dims, kind, attrs) in self.slot_vars.items():
            f.create(name, dims, kind, (1, *[static.sizes[d] for d in dims[1:]]), attrs)
        return self

    def write_slot(self, t: int, paths: SlotPaths, **slot_arrays: np.ndarray) -> None:
        if t != self._next_slot:
            raise ValueError(f"slots must be written in order: got {t}, expected {self._next_slot}")
        missing = set(self.slot_vars) - set(slot_arrays)
        if missing:
            raise ValueError(f"slot {t}: missing {sorted(missing)}")
        f = self._file
        for name, value in slot_arrays.items():
            value = np.asarray(value)
            if value.dtype.kind in "fc" and NAN_ATTR not in self.slot_vars[name][2] and not np.isfinite(value).all():
                raise StinError(f"{self.path.name}: {name} holds non-finite values at slot {t} where none may be",
                                "this is a bug or an extreme input: report it with params.yaml and the map file "
                                "(nothing was written)")
            f.write(name, t, value)
        r0, n = self._next_row, paths.n_rows
        if not np.isfinite(paths.a).all() or not np.isfinite(paths.tau_s).all():
            raise StinError(f"{self.path.name}: a non-finite path coefficient or delay at slot {t}",
                            "this is a bug: report it with params.yaml and the map file (nothing was written)")
        f.write("num_paths", t, paths.num_paths)
        f.write("slot_path_start", t, r0)
        f.write("slot_num_paths", t, n)
        if n:
            rows = slice(r0, r0 + n)
            f.write("a_real", rows, paths.a.real.astype(np.float32))
            f.write("a_imag", rows, paths.a.imag.astype(np.float32))
            for name in ROW_FIELDS:
                f.write(name, rows, getattr(paths, name))
        self._next_row += n
        self._next_slot += 1

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        if exc_type is None and self._next_slot != self._n_slots:
            exc = RuntimeError(f"{self.path.name}: {self._next_slot} of {self._n_slots} slots written")
            self._file.__exit__(type(exc), exc, None)
            raise exc
        return self._file.__exit__(exc_type, exc, tb)


def write_path_dataset(ds: xr.Dataset, path: str | os.PathLike) -> None:
    """Write an in-memory ragged dataset (from :func:`attach_rows` or :func:`ragged_dataset`) slot by slot."""
    row_vars = set(ROW_VARS)
    slot_names = [v for v in ds.data_vars if v not in row_vars and ds[v].dims[:1] == ("time",)]
    static = ds.drop_vars(list(row_vars) + slot_names)
    static = static.assign_coords({d: np.arange(n) for d, n in ds.sizes.items() if d != "path" and d not in static.sizes})
    slot_vars = {n: (ds[n].dims, "u1" if ds[n].dtype == bool else ds[n].dtype.str.lstrip("<>|="), dict(ds[n].attrs))
                 for n in slot_names}
    with PathStoreWriter(path, static, slot_vars) as w:
        for t in range(ds.sizes["time"]):
            w.write_slot(t, read_slot(ds, t), **{n: ds[n].values[t] for n in slot_names})
