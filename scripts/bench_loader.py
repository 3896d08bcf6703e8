"""Memory of the channel loader: open a large channels file and read one slot; compare the peak resident
memory with the file size and with one slot's size.

    .venv/bin/python scripts/bench_loader.py --size-gb 1.2          # writes a synthetic file to /tmp
    .venv/bin/python scripts/bench_loader.py --file data/helsinki/channels.nc

The measurement runs in a fresh subprocess; the peak-RSS mark (VmHWM) is reset after the imports, so the
figures are what opening and reading add.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """Peak RSS since :func:`reset_peak` (VmHWM; ru_maxrss when /proc has none)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0: write 5 to clear_refs), so the
    peak counts only what follows, not the imports."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def write_synthetic(path: Path, size_gb: float, n_ue: int = 200, n_tx: int = 40, n_rx_ant: int = 16,
                    paths_per_link: int = 8, seed: int = 0) -> None:
    """A ragged channels file of about ``size_gb`` GB (compression off: random data does not compress),
    written slot by slot with the project's streaming writer."""
    import xarray as xr

    from pipeline.io.pathstore import PathStoreWriter, SlotPaths

    rng = np.random.default_rng(seed)
    bytes_per_row = n_rx_ant * 8 + 8 + 5 * 4 + 1
    rows_per_slot = n_ue * n_tx * paths_per_link
    n_slots = max(1, int(np.ceil(size_gb * 1e9 / (rows_per_slot * bytes_per_row))))
    static = xr.Dataset(coords={"time": np.arange(n_slots), "ue": np.arange(n_ue), "tx": np.arange(n_tx),
                                "tx_kind": (("tx",), np.where(np.arange(n_tx) < n_tx - 4, "bs", "sat")),
                                "rx_ant": np.arange(n_rx_ant), "tx_ant": np.arange(1)})
    slot_vars = {"gain_db": (("time", "ue", "tx"), "f4", {})}
    num = np.full((n_ue, n_tx), paths_per_link, np.int32)
    with PathStoreWriter(path, static, slot_vars, compress_level=0) as w:
        for t in range(n_slots):
            a = (rng.standard_normal((rows_per_slot, n_rx_ant, 1), np.float32)
                 + 1j * rng.standard_normal((rows_per_slot, n_rx_ant, 1), np.float32))
            rows = {"tau_s": np.sort(rng.uniform(0, 2e-6, rows_per_slot)), "doppler_hz": np.zeros(rows_per_slot, "f4"),
                    "path_los": np.zeros(rows_per_slot, "u1"),
                    **{k: np.zeros(rows_per_slot, "f4") for k in ("theta_t_rad", "phi_t_rad", "theta_r_rad", "phi_r_rad")}}
            w.write_slot(t, SlotPaths(num_paths=num, a=a, **rows), gain_db=np.zeros((n_ue, n_tx), "f4"))


def measure(path: str, time_index: int) -> dict:
    """In this process: RSS after imports, after opening, after reading slot ``time_index`` (and its size)."""
    from pipeline.io import channel_vectors, load_channels, path_coefficients

    import gc

    load_channels(path).close()  # the first open loads the HDF5/netCDF libraries (~45 MB, once per process)
    gc.collect()
    reset_peak()
    base = rss_mb()
    t0 = time.perf_counter()
    ds = load_channels(path)
    opened = rss_mb()
    dense = path_coefficients(ds, time_index)
    h = channel_vectors(ds, time_index, [0.0])
    t1 = time.perf_counter()
    slot_mb = sum(v.nbytes for v in dense.values()) / 2**20
    return {"rss_after_import_mb": base, "open_added_mb": opened - base, "peak_added_mb": peak_mb() - base,
            "slot_arrays_mb": slot_mb, "channel_vector_mb": h.nbytes / 2**20, "seconds": t1 - t0,
            "n_slots": int(ds.sizes["time"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", help="an existing channels.nc (else a synthetic one is written)")
    parser.add_argument("--size-gb", type=float, default=1.2)
    parser.add_argument("--slot", type=int, default=None, help="slot to read (default: the middle one)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.file, args.slot)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.file) if args.file else Path(tmp) / "channels_synthetic.nc"
        if not args.file:
            print(f"writing a synthetic channels file of ~{args.size_gb} GB ...", flush=True)
            write_synthetic(path, args.size_gb)
        size_mb = os.path.getsize(path) / 2**20
        import xarray as xr

        with xr.open_dataset(path) as ds:
            slot = ds.sizes["time"] // 2 if args.slot is None else args.slot
        out = subprocess.run([sys.executable, __file__, "--child", "--file", str(path), "--slot", str(slot)],
                             capture_output=True, text=True, check=True)
        m = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"file {path.name}: {size_mb:,.0f} MB, {m['n_slots']} slots (one slot ~{size_mb / m['n_slots']:,.1f} MB on disk)")
        print(f"open: +{m['open_added_mb']:.1f} MB; peak after reading slot {slot}: +{m['peak_added_mb']:.1f} MB "
              f"(the slot's padded arrays: {m['slot_arrays_mb']:.1f} MB; {m['seconds']:.2f} s)")
        print(f"peak / file size = {m['peak_added_mb'] / size_mb:.3f}; peak / slot arrays = "
              f"{m['peak_added_mb'] / max(m['slot_arrays_mb'], 1e-9):.2f}")


if __name__ == "__main__":
    main()
