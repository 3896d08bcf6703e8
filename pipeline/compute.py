"""Where the tracing tasks run: Dask distributed (a local cluster by default, or an existing one).

``compute.scheduler`` in ``params.yaml``:

- ``local`` (default): a ``distributed.LocalCluster`` of ``compute.workers`` processes with one thread
  each, started for the stage and closed after it;
- ``tcp://host:8786``: an existing Dask scheduler (a cluster you started, e.g. with dask-jobqueue on
  SLURM: see the README); its workers need this package installed and the project folder at the same
  path (shared file system), since tasks read the scene from disk;
- ``serial``: every task in this process, one after the other (debugging, tiny cities).

Tasks are plain module-level functions of picklable arguments; each worker keeps the Sionna scene it
loaded (a per-process cache in the task module), and traces on one Dr.Jit thread per task, so a worker
uses one core and the results do not depend on which worker ran a task. GPU workers: start each worker
with ``--resources GPU=1`` and set ``compute.gpu_per_task: 1``: tasks then claim the resource, one GPU
each (and run Dr.Jit's CUDA variant: ``STIN_RT_VARIANT=cuda_ad_mono_polarized`` in the worker's environment).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from pipeline.errors import StinError

log = logging.getLogger(__name__)

SCHEDULERS = ("local", "serial")  # or a tcp:// address


@dataclass(frozen=True)
class ComputeConfig:
    """How and where tasks run (params.yaml ``compute``)."""

    scheduler: str = "local"
    workers: int = 2  # the reference machine has 2 cores
    gpu_per_task: int = 0  # worker resource "GPU" each task claims (0: none)
    memory_limit_per_worker: str = "auto"  # Dask's worker memory limit ("4GB", "auto": RAM / workers)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ComputeConfig:
        c = params.get("compute") or {}
        return cls(scheduler=str(c.get("scheduler", "local")), workers=int(c.get("workers", 2)),
                   gpu_per_task=int(c.get("gpu_per_task", 0)),
                   memory_limit_per_worker=str(c.get("memory_limit_per_worker", "auto")))


@contextlib.contextmanager
def dask_client(cfg: ComputeConfig) -> Iterator[Any]:
    """A ``distributed.Client`` for ``cfg`` (None for ``serial``); a local cluster is closed afterwards."""
    if cfg.scheduler == "serial":
        yield None
        return
    from distributed import Client, LocalCluster  # noqa: PLC0415

    if cfg.scheduler == "local":
        # processes, not threads: Dr.Jit state (thread count, scene cache) is per process
        cluster = LocalCluster(n_workers=cfg.workers, threads_per_worker=1, processes=True,
                               memory_limit=cfg.memory_limit_per_worker, dashboard_address=None,
                               silence_logs=logging.ERROR)
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    if not cfg.scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
        raise StinError(f"params.yaml compute.scheduler {cfg.scheduler!r} is not local, serial or an address",
                        "use local, serial or tcp://host:8786")
    try:
        client = Client(cfg.scheduler, timeout="10s")
    except OSError as exc:
        raise StinError(f"no Dask scheduler answers at {cfg.scheduler} ({exc})",
                        "start it (dask scheduler; dask worker ADDRESS) or set compute.scheduler: local") from None
    try:
        yield client
    finally:
        client.close()


def slurm_cluster(jobs: int = 0, *, memory: str = "4GB", walltime: str = "02:00:00", gpu: bool = False,
                  project_dir: str | None = None, **jobqueue_kwargs: Any):  # noqa: ANN201
    """A dask-jobqueue ``SLURMCluster`` whose workers suit these tasks: one process of one thread per job
    (one core; a task's Dr.Jit runs on one thread), ``memory`` each, started in ``project_dir`` (the scene
    paths are the project's), and with ``gpu`` one GPU per job (``--gres=gpu:1``), the worker resource
    ``GPU=1`` the tasks claim (``compute.gpu_per_task: 1``) and Dr.Jit's CUDA variant in the environment.
    ``jobs`` > 0 submits that many jobs at once. Point ``compute.scheduler`` at ``cluster.scheduler_address``.
    Needs ``pip install dask-jobqueue`` (an optional dependency: the ``cluster`` extra)."""
    import os  # noqa: PLC0415

    from dask_jobqueue import SLURMCluster  # noqa: PLC0415

    prologue = [f"cd {project_dir or os.getcwd()}"]
    extra = list(jobqueue_kwargs.pop("worker_extra_args", []))
    job_extra = list(jobqueue_kwargs.pop("job_extra_directives", []))
    if gpu:
        prologue.append("export STIN_RT_VARIANT=cuda_ad_mono_polarized")
        extra += ["--resources", "GPU=1"]
        job_extra.append("--gres=gpu:1")
    cluster = SLURMCluster(cores=1, processes=1, memory=memory, walltime=walltime,
                           job_script_prologue=prologue + list(jobqueue_kwargs.pop("job_script_prologue", [])),
                           worker_extra_args=extra, job_extra_directives=job_extra, **jobqueue_kwargs)
    if jobs:
        cluster.scale(jobs=jobs)
    return cluster


LAST_RUN: dict[str, float] = {}  # tasks and the workers' peak memory of the last run_tasks call (benchmarks)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports ru_maxrss in kB)."""
    import resource  # noqa: PLC0415

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_tasks(fn: Callable[..., Any], args: Sequence[tuple], cfg: ComputeConfig, desc: str) -> list[Any]:
    """``[fn(*a) for a in args]`` on the configured engine, results in the order of ``args``."""
    return run_calls([(fn, a) for a in args], cfg, desc)


def run_calls(calls: Sequence[tuple[Callable[..., Any], tuple]], cfg: ComputeConfig, desc: str) -> list[Any]:
    """``[fn(*a) for fn, a in calls]`` on the configured engine (one cluster for all, so tasks of different
    kinds share the workers and their loaded scenes), results in the order of ``calls``.

    :data:`LAST_RUN` then holds the number of tasks and the largest peak memory of a worker (for
    ``serial``: this process)."""
    return [result for _, result in stream_calls(calls, cfg, desc)]


def stream_calls(calls: Sequence[tuple[Callable[..., Any], tuple]], cfg: ComputeConfig, desc: str
                 ) -> Iterator[tuple[int, Any]]:
    """Yield ``(i, fn_i(*a_i))`` in the order of ``calls`` while the tasks run: a result is handed over (and
    released on its worker) as soon as it and every earlier one are done, so a caller that writes each
    result away holds only the results that finished ahead of an earlier, slower task. Tasks are
    prioritised in submission order. :data:`LAST_RUN` is filled when the stream is exhausted."""
    LAST_RUN.clear()
    LAST_RUN["tasks"] = len(calls)
    if cfg.scheduler == "serial" or len(calls) == 0:
        for i, (fn, a) in enumerate(tqdm(calls, desc=desc, unit="task", leave=False)):
            yield i, fn(*a)
        LAST_RUN["worker_peak_rss_mb"] = round(peak_rss_mb(), 1)
        return
    from distributed import as_completed  # noqa: PLC0415

    resources = {"GPU": cfg.gpu_per_task} if cfg.gpu_per_task else None
    tag = f"{desc.replace(' ', '-')}-{uuid.uuid4().hex[:12]}"  # unique on a shared scheduler
    with dask_client(cfg) as client:
        futures = [client.submit(fn, *a, pure=False, resources=resources, key=f"{tag}-{i}", priority=-i)
                   for i, (fn, a) in enumerate(calls)]
        index = {f.key: i for i, f in enumerate(futures)}
        done: dict[int, Any] = {}
        next_i = 0
        with tqdm(total=len(futures), desc=desc, unit="task", leave=False) as bar:
            for future in as_completed(futures):
                done[index[future.key]] = future
                bar.update()
                while next_i in done:
                    f = done.pop(next_i)
                    result = f.result()
                    f.release()
                    futures[next_i] = None
                    yield next_i, result
                    next_i += 1
        LAST_RUN["worker_peak_rss_mb"] = round(max(client.run(peak_rss_mb).values(), default=0.0), 1)
