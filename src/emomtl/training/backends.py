"""Where the runs of an experiment execute: this process and local worker processes, or Ray tasks on a cluster.

A backend takes the planned jobs (:class:`~emomtl.training.loop.SplitJob`, one per (arm, fold, seed)) and calls
``record(index, metrics)`` once per finished job, in any order; ``run_experiment`` turns the metrics into
``results.csv`` rows. Every backend trains a job with the same :func:`~emomtl.training.loop.train_split`, so results
do not depend on the backend, and a job whose ``metrics.json`` exists is read back instead of trained again.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

from emomtl.config import BACKENDS
from emomtl.errors import ConfigError
from emomtl.training.loop import SplitJob, train_split
from emomtl.training.prepare import PreparedCorpus

Record = Callable[[int, dict[str, Any]], None]


def require_ray() -> Any:
    """The ``ray`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ConfigError("train.backend: 'ray' needs Ray, an optional extra: pip install 'emomtl[ray]' "
                          "(or use train.backend=local, the default)") from error
    return ray


@runtime_checkable
class Backend(Protocol):
    """Runs every job and hands each one's metrics to ``record(index, metrics)``."""

    def check(self) -> None:
        """Refuse, before any feature is extracted, what this backend cannot run (raises :class:`ConfigError`)."""

    def run(self, jobs: Sequence[SplitJob], record: Record) -> None: ...


def shared_corpora(jobs: Sequence[SplitJob]) -> list[PreparedCorpus]:
    """The distinct prepared corpora of ``jobs`` (one for a planned experiment), to be shipped once, not per job."""
    corpora: dict[int, PreparedCorpus] = {}
    for job in jobs:
        corpora.setdefault(id(job.prepared), job.prepared)
    return list(corpora.values())


_WORKER_PREPARED: PreparedCorpus | None = None


def _init_worker(prepared: PreparedCorpus, threads: int) -> None:
    """Give a worker process the corpus once, instead of with every job."""
    import torch

    global _WORKER_PREPARED
    _WORKER_PREPARED = prepared
    torch.set_num_threads(threads)


def _run_job(job: SplitJob, resume: bool) -> dict[str, Any]:
    return train_split(dataclasses.replace(job, prepared=_WORKER_PREPARED), resume=resume)


@dataclass
class LocalBackend:
    """This machine: one job after another (``workers=1``), ``workers`` spawned processes with ``cores / workers``
    threads each, or one job after another on ``devices`` data-parallel processes (DDP, ``train.devices``) or, with
    CUDA present and ``workers=1``, through Fabric on the GPU."""

    workers: int = 1
    devices: int = 1
    resume: bool = True
    progress: bool = False

    def check(self) -> None:
        if self.devices > 1 and self.workers > 1:
            raise ConfigError(f"train.devices={self.devices} trains every run on {self.devices} processes already; "
                              f"use --jobs 1 with it (or train.devices=1 with --jobs {self.workers})")

    def run(self, jobs: Sequence[SplitJob], record: Record) -> None:
        from emomtl.training.distributed import runs_through_fabric

        if runs_through_fabric(self.devices) and self.workers <= 1:  # several processes, or CUDA present
            from emomtl.training.distributed import train_split_distributed

            for index, job in enumerate(jobs):
                record(index, train_split_distributed(job, self.devices, resume=self.resume,
                                                      precision=job.recipe.train.precision))
        elif self.workers <= 1 or len(jobs) <= 1:
            for index, job in enumerate(jobs):
                record(index, train_split(job, resume=self.resume, progress=self.progress))
        else:
            corpora = shared_corpora(jobs)
            if len(corpora) != 1:
                raise ValueError("LocalBackend with workers > 1 runs jobs of one prepared corpus")
            context = multiprocessing.get_context("spawn")
            threads = max(1, (os.cpu_count() or 1) // self.workers)
            with ProcessPoolExecutor(self.workers, mp_context=context, initializer=_init_worker,
                                     initargs=(corpora[0], threads)) as pool:
                futures = {pool.submit(_run_job, dataclasses.replace(job, prepared=None), self.resume): index
                           for index, job in enumerate(jobs)}
                for future in as_completed(futures):
                    record(futures[future], future.result())


def make_backend(name: str, jobs: int = 1, devices: int = 1, resume: bool = True, progress: bool = False,
                 address: str | None = None, cpus_per_job: int | None = None,
                 gpus_per_job: int | None = None) -> Backend:
    """The backend called ``name`` (``train.backend`` / ``--backend``: local or ray)."""
    if name == "local":
        if address:
            raise ConfigError("--address: connects to a Ray cluster; use it with --backend ray (train.backend=ray)")
        return LocalBackend(workers=jobs, devices=devices, resume=resume, progress=progress)
    if name == "ray":
        from emomtl.training.ray_backend import RayBackend

        return RayBackend(address=address, jobs_per_node=jobs, devices=devices, resume=resume, progress=progress,
                          cpus_per_job=cpus_per_job, gpus_per_job=gpus_per_job)
    raise ConfigError(f"train.backend: {name!r} must be one of {list(BACKENDS)}")
