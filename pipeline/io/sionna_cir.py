"""``channels.nc`` as the channel-impulse-response generator that Sionna's ``CIRDataset`` takes.

>>> from sionna.phy.channel import CIRDataset, OFDMChannel
>>> gen = CIRGenerator("data/helsinki/channels.nc", tx="bs")
>>> model = CIRDataset(gen, batch_size=4, **gen.dims)

Each call of the generator yields, slot by slot, ``(a, tau)`` with ``a`` [num_rx, num_rx_ant, num_tx,
num_tx_ant, num_paths, num_time_steps] complex64 and ``tau`` [num_rx, num_tx, num_paths] float32 seconds:
receivers are the cars, transmitters the BS sectors and/or satellite ranks of the file, paths padded to
the file's longest link (a = 0, tau = 0). Delays are relative to each link's first path unless
``normalize_delays=False`` (Sionna RT's ``Paths.cir`` default: float32 cannot hold a satellite's ~3 ms
absolute delay to sub-nanosecond precision). With ``num_time_steps`` > 1 each path turns with its Doppler
shift over the samples t_n = n / sampling_frequency_hz (a_p(t) = a_p exp(j 2 pi f_D,p t), as Sionna
RT's ``Paths.cir``). Arrays are NumPy (Sionna's collate turns them into tensors), read one slot at a time.
Tested with Sionna 2.2.0 (PyTorch-based ``sionna.phy``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr

from pipeline.io.channels import load_channels, max_paths, slot_cir, tx_indices


class CIRGenerator:
    """A re-iterable ``(a, tau)`` generator over the slots of a channels file (see the module doc)."""

    def __init__(self, path: str | os.PathLike, tx: str = "all", n_paths: int | None = None,
                 num_time_steps: int = 1, sampling_frequency_hz: float = 1.0, normalize_delays: bool = True):
        if num_time_steps < 1 or sampling_frequency_hz <= 0:
            raise ValueError("num_time_steps must be >= 1 and sampling_frequency_hz > 0")
        self.path = Path(path)
        self.tx = tx
        self.normalize_delays = normalize_delays
        self.num_time_steps = int(num_time_steps)
        self.sampling_frequency_hz = float(sampling_frequency_hz)
        with xr.open_dataset(self.path, engine="netcdf4") as ds:
            self.n_paths = max_paths(ds) if n_paths is None else int(n_paths)
            self.n_slots = ds.sizes["time"]
            self.dims = {"num_rx": ds.sizes["ue"], "num_rx_ant": ds.sizes["rx_ant"],
                         "num_tx": len(tx_indices(ds, tx)), "num_tx_ant": ds.sizes["tx_ant"],
                         "num_paths": self.n_paths, "num_time_steps": self.num_time_steps}

    def __call__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        offsets_s = np.arange(self.num_time_steps) / self.sampling_frequency_hz
        with load_channels(self.path) as ds:
            for t in range(self.n_slots):
                yield slot_cir(ds, t, self.n_paths, self.tx, offsets_s, self.normalize_delays)
