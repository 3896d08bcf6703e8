"""One process vs a Dask scheduler with worker processes on this machine: same bytes, and the wall-time cost.

Runs the tracing stages (``radiomaps``, ``raypaths``) of the embedded default in copies of this project (the
earlier stages' outputs of this checkout) under ``compute.scheduler``:

- ``serial``: every task in the stage's own process (one core);
- a real scheduler (``dask scheduler``) with 1 worker process: the same work through Dask, so
  wall(1 worker) / wall(serial) - 1 is the overhead of distributing it;
- the same scheduler with 2 worker processes (``--workers``): the speed-up on the reference machine.

Prints wall times per stage and configuration, the overhead, and whether the outputs are byte-identical.

    .venv/bin/python scripts/bench_distributed.py [--city helsinki] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from project_copy import copy_outputs, copy_project

EARLIER = ("area.json", "buildings.geojson", "buildings_local.gpkg", "scene", "sites.geojson", "segments.geojson",
           "orbits.nc", "trajectory.nc", "routes.geojson")
STAGES = ("radiomaps", "raypaths")
OUTPUTS = {"radiomaps": "radiomaps.nc", "raypaths": "raypaths.nc"}


@contextlib.contextmanager
def scheduler(n_workers: int) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker --nworkers n --nthreads 1`` on localhost; yields the address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address",
                               ":0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(3)
    procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", str(n_workers), "--nthreads", "1",
                                   "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client  # noqa: PLC0415

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(n_workers, timeout=120)
    try:
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)


def run(city: str, label: str, scheduler_address: str, tmp: Path) -> dict:
    root = tmp / label
    copy_project(root, city, compute={"scheduler": scheduler_address})
    data = copy_outputs(root, city, EARLIER, "routes orbits")
    out = {"label": label}
    for stage in STAGES:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", f"pipeline.stages.{stage}"], cwd=root, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            sys.exit(proc.stderr[-3000:])
        out[stage] = time.perf_counter() - start
        out[f"{stage}_md5"] = hashlib.md5((data / OUTPUTS[stage]).read_bytes()).hexdigest()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default="helsinki")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(run(args.city, "serial", "serial", Path(tmp)))
        print(rows[-1], flush=True)
        for n in sorted({1, args.workers}):
            with scheduler(n) as address:
                rows.append(run(args.city, f"scheduler + {n} worker(s)", address, Path(tmp)))
            print(rows[-1], flush=True)
    print()
    print(f"{'configuration':<26} " + " ".join(f"{s + ' s':>12}" for s in STAGES) + f" {'total s':>9}  identical")
    base = rows[0]
    for r in rows:
        same = all(r[f"{s}_md5"] == base[f"{s}_md5"] for s in STAGES)
        total = sum(r[s] for s in STAGES)
        print(f"{r['label']:<26} " + " ".join(f"{r[s]:12.1f}" for s in STAGES) + f" {total:9.1f}  {same}")
    one = next(r for r in rows if r["label"].startswith("scheduler + 1"))
    overhead = sum(one[s] for s in STAGES) / sum(base[s] for s in STAGES) - 1
    print(f"overhead of the scheduler (1 worker vs serial): {overhead:+.1%}")


if __name__ == "__main__":
    main()
