"""Every job of an experiment as a Ray task with its resource request, on a local Ray instance or a cluster.

The driver prepares the corpus once (features extracted or read from the feature cache) and puts it into Ray's
object store once (``ray.put``); every task gets a reference and reads the arrays zero-copy from its node's
shared memory, so no job extracts features. A task whose worker process dies is retried by Ray (``max_retries``)
and resumes from its run's ``checkpoint_last.pt``; a job whose ``metrics.json`` exists is read back by the driver
and never submitted, so killing the driver and rerunning the command continues where it stopped. Run folders
must be on storage every node sees (the driver creates each one; a task refuses to start without it).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from emomtl.errors import ConfigError
from emomtl.training.backends import Record, require_ray, shared_corpora
from emomtl.training.loop import SplitJob, finished_metrics, train_split
from emomtl.training.prepare import PreparedCorpus

log = logging.getLogger(__name__)

#: Trains one job: ``(job, resume) -> metrics`` (tests swap in one that kills its worker).
JobFunction = Callable[[SplitJob, bool], dict[str, Any]]


def train_job(job: SplitJob, resume: bool, devices: int = 1, gpus: int = 0) -> dict[str, Any]:
    """One job inside a task: ``train_split``, or on ``devices`` DDP processes / the task's GPUs (Fabric)."""
    if devices > 1 or gpus > 0:
        from emomtl.training.distributed import train_split_distributed

        return train_split_distributed(job, devices, resume=resume, precision=job.recipe.train.precision)
    return train_split(job, resume=resume)


def job_resources(nodes: Sequence[dict[str, float]], devices: int, jobs_per_node: int,
                  cpus_per_job: int | None, gpus_per_job: int | None) -> tuple[int, int]:
    """CPUs and GPUs one task requests.

    CPUs: ``train.cpus_per_job``, else a node's cores / ``--jobs`` when ``--jobs`` > 1, else ``train.devices``
    (one per DDP process). GPUs: ``train.gpus_per_job``, else ``train.devices`` when the cluster has GPUs, else 0.
    """
    largest = max((node.get("CPU", 0.0) for node in nodes), default=0.0)
    cpus = cpus_per_job or (max(devices, int(largest) // jobs_per_node) if jobs_per_node > 1 else devices)
    has_gpus = any(node.get("GPU", 0.0) > 0 for node in nodes)
    gpus = gpus_per_job if gpus_per_job is not None else (devices if has_gpus else 0)
    return max(1, cpus), gpus


def check_resources(nodes: Sequence[dict[str, float]], cpus: int, gpus: int) -> None:
    """Refuse, before any task is submitted, a request no node of the cluster can ever grant
    (Ray would wait forever)."""
    total_cpus = sum(node.get("CPU", 0.0) for node in nodes)
    total_gpus = sum(node.get("GPU", 0.0) for node in nodes)
    cluster = f"the Ray cluster has {len(nodes)} node(s), {total_cpus:g} CPU(s), {total_gpus:g} GPU(s) in all"
    if gpus and not any(node.get("GPU", 0.0) >= gpus for node in nodes):
        raise ConfigError(f"train.gpus_per_job: each job requests {gpus} GPU(s) (train.devices / train.gpus_per_job) "
                          f"but no node has that many; {cluster}. Set train.gpus_per_job=0 to train on CPUs, "
                          "or add GPU nodes")
    if not any(node.get("CPU", 0.0) >= cpus and node.get("GPU", 0.0) >= gpus for node in nodes):
        raise ConfigError(f"train.cpus_per_job: each job requests {cpus} CPU(s) and {gpus} GPU(s) but no node "
                          f"offers that; {cluster}. Lower train.cpus_per_job (or --jobs / train.devices)")


#: One line per start of a job's task, in its run folder: retries and "running" without a Ray actor (whose
#: process start would cost seconds per experiment).
ATTEMPTS_FILE = ".ray_attempts"


def start_attempt(out_dir: Path) -> int:
    """Note one more start of the job in ``out_dir``; returns its attempt number (1, then 2 after a dead worker)."""
    with open(Path(out_dir) / ATTEMPTS_FILE, "a") as handle:
        handle.write("1\n")
    return attempts(out_dir)


def attempts(out_dir: Path) -> int:
    """How many times the job in ``out_dir`` started in this run of the experiment (0: still queued)."""
    try:
        return (Path(out_dir) / ATTEMPTS_FILE).stat().st_size // 2
    except FileNotFoundError:
        return 0


def execute_job(job: SplitJob, prepared: PreparedCorpus, resume: bool, threads: int,
                job_function: JobFunction) -> dict[str, Any]:
    """The Ray task: check the run folder is shared, note the attempt, train with the object store's corpus."""
    import torch

    if not Path(job.out_dir).is_dir():
        raise ConfigError(f"run folder {job.out_dir} does not exist on node {socket.gethostname()}: the run directory "
                          "(--out) must be on storage shared by the driver and every Ray node")
    attempt = start_attempt(job.out_dir)
    torch.set_num_threads(threads)
    # a retry (its worker died) continues from checkpoint_last.pt even under --no-resume
    return job_function(dataclasses.replace(job, prepared=prepared), resume or attempt > 1)


@dataclass
class RayBackend:
    """Ray tasks: ``address`` joins a running cluster (``ray start --head``), None starts a local Ray instance with
    ``num_cpus`` CPUs (None: every core); an already initialised Ray is used as it is."""

    address: str | None = None
    num_cpus: int | None = None
    jobs_per_node: int = 1
    devices: int = 1
    cpus_per_job: int | None = None
    gpus_per_job: int | None = None
    resume: bool = True
    progress: bool = False
    max_retries: int = 3
    job_function: JobFunction | None = None
    #: After :meth:`run`: how many times each submitted job (by index) started; > 1 means retried.
    attempts: dict[int, int] = field(default_factory=dict)

    _started: bool = field(default=False, init=False, repr=False)
    _request: tuple[int, int] | None = field(default=None, init=False, repr=False)

    def check(self) -> None:
        """Import Ray, connect (or start a local instance) and refuse a request no node can grant."""
        ray = require_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, num_cpus=None if self.address else self.num_cpus,
                     include_dashboard=False, log_to_driver=False)
            self._started = True
        elif self.address:
            log.warning("Ray is already initialised in this process; --address %s is ignored", self.address)
        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        cpus, gpus = job_resources(nodes, self.devices, self.jobs_per_node, self.cpus_per_job, self.gpus_per_job)
        try:
            check_resources(nodes, cpus, gpus)
        except ConfigError:
            if self._started:
                ray.shutdown()
                self._started = False
            raise
        self._request = (cpus, gpus)

    def run(self, jobs: Sequence[SplitJob], record: Record) -> None:
        try:
            if self._request is None:
                self.check()
            self._run(require_ray(), jobs, record)
        finally:
            if self._started:
                require_ray().shutdown()
                self._started = False
            self._request = None

    def _run(self, ray: Any, jobs: Sequence[SplitJob], record: Record) -> None:
        assert self._request is not None
        cpus, gpus = self._request
        self.attempts = {}
        todo = []
        for index, job in enumerate(jobs):
            metrics = finished_metrics(job) if self.resume else None
            if metrics is None:
                todo.append(index)
            else:
                record(index, metrics)
        if not todo:
            return
        corpus_refs = {id(corpus): ray.put(corpus) for corpus in shared_corpora([jobs[i] for i in todo])}
        task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=self.max_retries)(execute_job)
        function = self.job_function or functools.partial(train_job, devices=self.devices, gpus=gpus)
        pending: dict[Any, int] = {}
        folders: dict[int, Path] = {}
        for index in todo:
            job = jobs[index]
            out_dir = Path(job.out_dir).resolve()
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / ATTEMPTS_FILE).unlink(missing_ok=True)  # attempts count within this run of the command
            remote_job = dataclasses.replace(job, prepared=None, out_dir=out_dir)
            ref = task.options(name=(job.label or f"job {index}")[:100]).remote(
                remote_job, corpus_refs[id(job.prepared)], self.resume, cpus, function)
            pending[ref] = index
            folders[index] = out_dir
        failures: list[tuple[str, Exception]] = []
        with JobProgress(len(jobs), len(jobs) - len(todo), enabled=self.progress) as display:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                if done:  # and every other job back by now
                    done, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                for ref in done:
                    index = pending.pop(ref)
                    try:
                        metrics = ray.get(ref)
                    except ray.exceptions.RayError as error:
                        log.error("job %s failed: %s", jobs[index].label or index, error)
                        failures.append((jobs[index].label or str(index), error))
                        display.failed += 1
                        continue
                    record(index, metrics)
                    display.finished += 1
                self.attempts = {index: count for index, folder in folders.items() if (count := attempts(folder))}
                display.show(started=len(self.attempts), retries=sum(self.attempts.values()) - len(self.attempts))
        if failures:
            labels = ", ".join(label for label, _ in failures)
            log.error("%d job(s) failed: %s; rerun the command to retry them (finished jobs are kept)",
                      len(failures), labels)
            raise failures[0][1]


class JobProgress:
    """A rich progress line over finished / running / queued / failed jobs, refreshed by the driver's wait loop."""

    def __init__(self, total: int, finished: int, enabled: bool = True) -> None:
        self.total, self.finished, self.failed, self.enabled = total, finished, 0, enabled
        self.already = finished
        self._progress: Any = None

    def __enter__(self) -> "JobProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("ray jobs"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.description}"), TimeElapsedColumn(),
                                      console=Console(stderr=True))
            self._progress.__enter__()
            self._task = self._progress.add_task("", total=self.total, completed=self.finished)
        return self

    def describe(self, started: int, retries: int) -> str:
        """``running`` counts started jobs not yet back; ``queued`` the submitted jobs not started yet."""
        submitted = self.total - self.already
        ended = self.finished - self.already + self.failed
        running = max(0, started - ended)
        queued = max(0, submitted - started)
        return f"finished {self.finished}  running {running}  queued {queued}  failed {self.failed}  retried {retries}"

    def show(self, started: int, retries: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=self.finished + self.failed,
                                  description=self.describe(started, retries))

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
