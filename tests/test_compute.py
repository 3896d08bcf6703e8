"""The Dask engine: the same results in this process, on a local cluster and on a real scheduler with two
worker processes on localhost (the tracing stages' tasks are checked in test_scale.py)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.compute import ComputeConfig, run_tasks
from pipeline.errors import StinError


def _square_and_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dask_cluster(n_workers: int = 2) -> Iterator[str]:
    """A real `dask scheduler` and ``n_workers`` `dask worker` processes (one thread each) on localhost."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.3)
        for _ in range(n_workers):
            procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                           "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(n_workers, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=30)


def test_serial_and_local_cluster_give_the_same_ordered_results():
    args = [(i,) for i in range(7)]
    serial = run_tasks(_square_and_pid, args, ComputeConfig(scheduler="serial"), "squares")
    local = run_tasks(_square_and_pid, args, ComputeConfig(scheduler="local", workers=2), "squares")
    assert [r for r, _ in serial] == [r for r, _ in local] == [i * i for i in range(7)]
    assert {p for _, p in serial} == {os.getpid()}
    assert os.getpid() not in {p for _, p in local}  # ran on the cluster's worker processes


@pytest.mark.slow
def test_an_existing_scheduler_with_two_worker_processes_runs_the_tasks():
    import operator

    with dask_cluster(2) as address:  # the workers import functions by module: stdlib ones here
        cfg = ComputeConfig(scheduler=address)
        squares = run_tasks(operator.mul, [(i, i) for i in range(8)], cfg, "squares")
        pids = run_tasks(os.getpid, [()] * 16, cfg, "pids")
    assert squares == [i * i for i in range(8)]
    assert os.getpid() not in pids and len(set(pids)) <= 2  # on the two worker processes, not here


def test_no_scheduler_at_the_address_is_one_clear_error():
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(StinError, match=r"no Dask scheduler answers at tcp://127.0.0.1:\d+"):
        run_tasks(_square_and_pid, [(1,)], ComputeConfig(scheduler=address), "squares")


def test_slurm_recipe_writes_one_core_jobs_and_gpu_jobs_claim_a_gpu(tmp_path):
    """The README's SLURM recipe (pipeline.compute.slurm_cluster) without SLURM: its sbatch script starts one
    single-threaded worker per job in the project folder; the GPU form asks SLURM for a GPU, gives the worker
    the GPU resource the tasks claim and selects Dr.Jit's CUDA variant."""
    pytest.importorskip("dask_jobqueue")
    from pipeline.compute import slurm_cluster

    cpu = slurm_cluster(memory="4GB", project_dir=str(tmp_path), scheduler_options={"dashboard_address": None})
    try:
        script = cpu.job_script()
    finally:
        cpu.close()
    assert "--nthreads 1" in script and f"cd {tmp_path}" in script and "--mem=" in script
    assert "GPU=1" not in script and "gres" not in script
    gpu = slurm_cluster(gpu=True, project_dir=str(tmp_path), scheduler_options={"dashboard_address": None})
    try:
        script = gpu.job_script()
    finally:
        gpu.close()
    assert "--gres=gpu:1" in script and "--resources GPU=1" in script
    assert "STIN_RT_VARIANT=cuda_ad_mono_polarized" in script
