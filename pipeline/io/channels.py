"""Load ray-traced channels (``channels.nc``) for optimizers: NumPy by default,
PyTorch or TensorFlow tensors on request (neither is a dependency).

>>> ds = load_channels("data/helsinki/channels.nc")
>>> g = link_gains(ds, 0)            # {'bs': K x B, 'sat': K x S} linear gains at slot 0
>>> H = channel_vectors(ds, 0, [0.0, 15e3])  # (K, tx, rx_ant, tx_ant, F) complex baseband

Conventions: ``a`` holds the complex path coefficients with every antenna pattern
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


def load_channels(path: str | os.PathLike) -> xr.Dataset:
    """Open ``channels.nc`` lazily (values are read on access, one time-slot chunk at a time);
    adds the complex variable ``a`` (time, ue, tx, rx_ant, tx_ant, path), computed on access."""
    ds = xr.open_dataset(path, engine="netcdf4")
    if "a_real" in ds and "a_imag" in ds:
        ds["a"] = ds["a_real"] + 1j * ds["a_imag"]
    return ds


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
    a = (ds["a_real"].isel(time=time_index).values + 1j * ds["a_imag"].isel(time=time_index).values)
    tau = ds["tau_s"].isel(time=time_index).values  # (ue, tx, path)
    f = np.atleast_1d(np.asarray(subcarrier_offsets_hz, float))
    phase = np.exp(-2j * np.pi * tau[..., None] * f)  # (ue, tx, path, F)
    return np.einsum("ktrsp,ktpf->ktrsf", a, phase)


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
