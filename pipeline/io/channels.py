"""Load ray-traced channels (``channels.nc``) for optimizers: NumPy by default,
PyTorch or TensorFlow tensors on request (neither is a dependency).

>>> ds = load_channels("data/helsinki/channels.nc")
>>> g = link_gains(ds, 0)            # {'bs': K x B, 'sat': K x S} linear gains at slot 0
>>> H = channel_vectors(ds, 0, [0.0, 15e3])  # (K, tx, rx_ant, tx_ant, F) complex baseband
>>> p = path_coefficients(ds, 0)     # padded paths of slot 0: p["a"] (K, tx, rx_ant, tx_ant, path), p["tau_s"], ...

Conventions: the file stores the paths found, link by link (ragged rows, see
:mod:`pipeline.io.pathstore`); ``a`` holds the complex path coefficients with every antenna pattern
applied (BS sector pattern, satellite Bessel gain and TR 38.811 losses, the UE rooftop
array element pattern); ``gain_db`` is the wideband link gain per (time, ue, tx) with the car's receive
pattern per ray as ``ue.receiver`` defines it (the same model as the radio maps: docs/models/receiver.md),
the traced rays plus the through-wall direct ray, no transmit power; ``gain_traced_db`` without that ray.
Transmit powers, bandwidth and noise power are dataset attributes.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from pipeline.errors import StinError
from pipeline.io.pathstore import read_slot


def load_channels(path: str | os.PathLike) -> xr.Dataset:
    """Open ``channels.nc`` lazily: nothing but the coordinates is read until asked for; the paths are
    ragged rows (:mod:`pipeline.io.pathstore`), read one slot at a time by :func:`path_coefficients`,
    :func:`channel_vectors` and :func:`pipeline.io.pathstore.read_slot`."""
    return xr.open_dataset(path, engine="netcdf4")


def path_coefficients(ds: xr.Dataset, time_index: int) -> dict[str, np.ndarray]:
    """Slot ``time_index`` as padded arrays (the slot's longest link sets the width): ``a`` (ue, tx, rx_ant,
    tx_ant, path) complex, ``tau_s``, the angles, ``doppler_hz``, ``path_los`` and ``valid`` (ue, tx, path)."""
    return read_slot(ds, time_index).dense()


def max_paths(ds: xr.Dataset) -> int:
    """The most paths any link of the file has (reads ``num_paths``, one int per link): the fixed path
    width that lets slots of different lengths be batched together."""
    return int(ds["num_paths"].max().item()) if ds.sizes.get("time", 0) else 0


def tx_indices(ds: xr.Dataset, tx: str = "all") -> np.ndarray:
    """Indices of the transmitters ``all``, ``bs`` (BS sectors) or ``sat`` (satellite ranks)."""
    if tx == "all":
        return np.arange(ds.sizes["tx"])
    if tx not in ("bs", "sat"):
        raise StinError(f"unknown transmitter selection {tx!r}", "use 'all', 'bs' or 'sat'")
    return _tx_of_kind(ds, tx)


def slot_cir(ds: xr.Dataset, time_index: int, n_paths: int | None = None, tx: str = "all",
             time_offsets_s: Any = (0.0,), normalize_delays: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One slot as a channel impulse response in Sionna's layout: ``a`` [rx, rx_ant, tx, tx_ant, path,
    time_step] complex64 and ``tau`` [rx, tx, path] float32 seconds (rx = the cars, tx = BS sectors and
    satellite ranks). Padding paths have a = 0 and tau = 0. Over ``time_offsets_s`` (s from the slot's
    instant) each path turns with its Doppler shift, as Sionna RT's ``Paths.cir`` does:
    a_p(t) = a_p exp(j 2 pi f_D,p t). ``normalize_delays`` subtracts each link's first delay (as Sionna RT's
    ``Paths.cir`` does by default): float32 then keeps sub-nanosecond resolution for satellite links."""
    return cir_from_dense(read_slot(ds, time_index).dense(n_paths), tx_indices(ds, tx), time_offsets_s,
                          normalize_delays)


def cir_from_dense(dense: dict[str, np.ndarray], cols: np.ndarray, time_offsets_s: Any = (0.0,),
                   normalize_delays: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`slot_cir` from a slot's padded arrays (:meth:`SlotPaths.dense`) and transmitter columns."""
    t = np.asarray(time_offsets_s, float).reshape(-1)
    a = np.moveaxis(dense["a"][:, cols], 2, 1)  # (ue, tx, rx_ant, tx_ant, path) -> (ue, rx_ant, tx, tx_ant, path)
    rot = np.exp(2j * np.pi * dense["doppler_hz"][:, cols, :, None].astype(np.float64) * t)  # (ue, tx, path, T)
    a = a[..., None] * rot[:, None, :, None]
    tau = dense["tau_s"][:, cols]
    if normalize_delays:
        valid = dense["valid"][:, cols]
        first = np.where(valid, tau, np.inf).min(axis=-1, keepdims=True)
        tau = np.where(valid, tau - np.where(np.isfinite(first), first, 0.0), 0.0)
    return a.astype(np.complex64), tau.astype(np.float32)


def _tx_of_kind(ds: xr.Dataset, kind: str) -> np.ndarray:
    return np.flatnonzero(ds["tx_kind"].values == kind)


def link_gains(ds: xr.Dataset, time_index: int) -> dict[str, np.ndarray]:
    """Linear channel gains at one slot: ``{'bs': (K, B), 'sat': (K, S)}``.

    B counts BS sectors (each sector is a cell), S the serving-satellite ranks of the slot
    (rank r is ``sat_index[time, r]`` in the constellation; a missing rank has gain 0).
    """
    g = 10 ** (ds["gain_db"].isel(time=time_index).values / 10)
    g = np.where(ds["gain_db"].isel(time=time_index).values <= ds.attrs.get("gain_floor_db", -250.0), 0.0, g)
    return {"bs": g[:, _tx_of_kind(ds, "bs")], "sat": g[:, _tx_of_kind(ds, "sat")]}


def channel_vectors(ds: xr.Dataset, time_index: int, subcarrier_offsets_hz: Any) -> np.ndarray:
    """Frequency response H[k, tx, rx_ant, tx_ant, f] = sum_p a_p exp(-j 2 pi f tau_p) at baseband
    offsets ``f`` from the carrier (the carrier phase is already in ``a``)."""
    slot = read_slot(ds, time_index)
    f = np.atleast_1d(np.asarray(subcarrier_offsets_hz, float))
    phase = np.exp(-2j * np.pi * slot.tau_s[:, None] * f)  # (row, F)
    return slot.per_link(slot.a[..., None].astype(np.complex128) * phase[:, None, None, :])


def as_tensor(array: np.ndarray, framework: str = "numpy") -> Any:
    """The array as ``numpy``, ``torch`` or ``tensorflow`` (imported only when asked for)."""
    if framework == "numpy":
        return np.asarray(array)
    if framework == "torch":
        import torch  # noqa: PLC0415

        return torch.from_numpy(np.ascontiguousarray(array))
    if framework == "tensorflow":
        import tensorflow as tf  # noqa: PLC0415

        return tf.convert_to_tensor(array)
    raise ValueError(f"unknown framework {framework!r}: use numpy, torch or tensorflow")
