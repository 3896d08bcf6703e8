"""Load ray-traced channels (``channels.nc``) for optimizers: NumPy by default,
PyTorch or TensorFlow tensors on request (neither is a dependency).

>>> ds = load_channels("data/helsinki/channels.nc")
>>> g = link_gains(ds, 0)            # {'bs': K x B, 'sat': K x S} linear gains at slot 0
>>> H = channel_vectors(ds, 0, [0.0, 15e3])  # (K, tx, rx_ant, tx_ant, F) complex baseband
>>> p = path_coefficients(ds, 0)     # padded paths of slot 0: p["a"] (K, tx, rx_ant, tx_ant, path), p["tau_s"], ...

Conventions: the file stores the paths found, link by link (ragged rows, see
:mod:`pipeline.io.pathstore`); ``a`` holds the complex path coefficients with every antenna pattern
applied (BS sector pattern, satellite Bessel gain and TR 38.811 losses, the UE rooftop
array element pattern); ``gain_db`` is the wideband gain per (time, ue, tx):
sum over paths and receive antennas of |a|^2, averaged over transmit antennas.
Transmit powers, bandwidth and noise power are dataset attributes.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

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
