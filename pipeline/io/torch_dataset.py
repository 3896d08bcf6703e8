"""A PyTorch ``Dataset`` over ``channels.nc`` (PyTorch is optional: ``pip install torch``).

>>> from pipeline.io.torch_dataset import ChannelDataset
>>> data = ChannelDataset("data/helsinki/channels.nc", sample="car_slot")
>>> loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True, num_workers=2)

One sample is a slot (every car) or a car at a slot (``sample="car_slot"``), as a dict of tensors:

- ``a`` [rx, rx_ant, tx, tx_ant, path] complex64 (rx dropped for ``car_slot``): the path coefficients
  with every antenna pattern applied, padded to the file's longest link so samples batch together
  (padding: ``a = 0``, ``valid = False``), in the layout of Sionna's channel impulse responses;
- ``tau_s``, ``doppler_hz``, ``valid`` [rx, tx, path]; ``gain_db`` [rx, tx] (the wideband link gain);
- ``ue_xyz_m`` [rx, 3] (local ENU metres), ``time_index`` and ``ue_index`` (``car_slot``).

The file is opened in each worker process on first use (HDF5 handles do not survive a fork) and read
one slot at a time, so memory holds a sample, not the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from pipeline.io.channels import cir_from_dense, load_channels, max_paths, tx_indices
from pipeline.io.pathstore import read_slot

try:
    import torch
    from torch.utils.data import Dataset
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("pipeline.io.torch_dataset needs PyTorch: pip install torch "
                      "(or 'pip install stin-raytrace[torch]')") from exc

SAMPLES = ("slot", "car_slot")


class ChannelDataset(Dataset):
    """Samples of a channels file for PyTorch: one per slot or one per (slot, car); see the module doc."""

    def __init__(self, path: str | os.PathLike, sample: str = "slot", tx: str = "all",
                 n_paths: int | None = None):
        if sample not in SAMPLES:
            raise ValueError(f"unknown sample {sample!r}: use one of {SAMPLES}")
        self.path = Path(path)
        self.sample = sample
        self.tx = tx
        with xr.open_dataset(self.path, engine="netcdf4") as ds:
            self.n_time, self.n_ue = ds.sizes["time"], ds.sizes["ue"]
            self.n_paths = max_paths(ds) if n_paths is None else int(n_paths)
            self.tx_index = tx_indices(ds, tx)
            self.tx_names = [str(v) for v in ds["tx"].values[self.tx_index]]
        self._ds: xr.Dataset | None = None
        self._pid: int | None = None
        self._cached: tuple[int, dict[str, np.ndarray]] | None = None

    def __len__(self) -> int:
        return self.n_time * (self.n_ue if self.sample == "car_slot" else 1)

    def _dataset(self) -> xr.Dataset:
        if self._ds is None or self._pid != os.getpid():
            self._ds, self._pid, self._cached = load_channels(self.path), os.getpid(), None
        return self._ds

    def _slot(self, t: int) -> dict[str, np.ndarray]:
        """Slot ``t`` as arrays (the last slot read is kept: car samples of a slot read it once)."""
        if self._cached is not None and self._cached[0] == t:
            return self._cached[1]
        ds = self._dataset()
        dense = read_slot(ds, t).dense(self.n_paths)
        a, tau = cir_from_dense(dense, self.tx_index)
        xyz = np.stack([ds[f"ue_{c}_m"].isel(time=t).values for c in "xyz"], axis=-1)
        out = {"a": a[..., 0], "tau_s": tau, "doppler_hz": dense["doppler_hz"][:, self.tx_index].astype(np.float32),
               "valid": dense["valid"][:, self.tx_index],
               "gain_db": ds["gain_db"].isel(time=t).values[:, self.tx_index].astype(np.float32),
               "ue_xyz_m": xyz.astype(np.float32)}
        self._cached = (t, out)
        return out

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} of {len(self)}")
        if self.sample == "slot":
            slot = self._slot(index)
            return {**{k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in slot.items()},
                    "time_index": torch.tensor(index)}
        t, k = divmod(index, self.n_ue)
        slot = self._slot(t)
        return {**{k_: torch.from_numpy(np.ascontiguousarray(v[k])) for k_, v in slot.items()},
                "time_index": torch.tensor(t), "ue_index": torch.tensor(k)}

