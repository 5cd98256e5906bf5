"""Extract features for many inputs in parallel, through the cache, reporting bad inputs instead of crashing."""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emomtl.errors import ConfigError, EmomtlError
from emomtl.features.base import FeatureExtractor, create_extractor
from emomtl.features.cache import CacheKey, FeatureCache

Item = Any  # a path (str / PathLike) for audio and video extractors, a transcript (str) for text extractors


@dataclass
class ExtractionResult:
    """Features of every input that worked, and a reason for every input that did not."""

    features: dict[Item, np.ndarray] = field(default_factory=dict)
    failed: dict[Item, str] = field(default_factory=dict)
    cache_hits: int = 0
    computed: int = 0

    def summary(self) -> str:
        """One line: counts of extracted, cached and failed inputs."""
        return (
            f"{len(self.features)} extracted ({self.cache_hits} from cache, {self.computed} computed), "
            f"{len(self.failed)} failed"
        )


def extract_features(
    items: Iterable[Item],
    extractor: FeatureExtractor | Mapping[str, Any],
    *,
    cache: FeatureCache | None = None,
    num_workers: int | None = 2,
    progress: bool = False,
) -> ExtractionResult:
    """Features of each item (audio/video paths, or transcripts for a text extractor), keyed by the item as given,
    in input order.

    Cache hits are read in this process; misses are computed by ``num_workers`` workers (``None``: one per core):
    fresh processes for light extractors, threads for those that share a loaded model (see
    ``FeatureExtractor.parallel`` / ``max_workers``). A bad input never stops the run: it lands in ``failed`` with a
    message naming it and the reason. A setup problem that would fail every input (:class:`ConfigError`, a missing
    optional package) is raised instead.
    """
    extractor = create_extractor(extractor)
    result = ExtractionResult()
    pending: dict[Item, CacheKey | None] = {}
    order = list(dict.fromkeys(items))  # unique, in input order
    for item in order:
        if cache is None:
            pending[item] = None
            continue
        try:
            key = cache.key(item, extractor)
        except (ConfigError, ImportError):
            raise
        except Exception as error:
            result.failed[item] = _reason(item, error)
            continue
        array = cache.load(key)
        if array is None:
            pending[item] = key
        else:
            result.features[item] = array
            result.cache_hits += 1
    for item, array, reason in _compute_all(list(pending), extractor, num_workers, progress):
        if reason is not None:
            result.failed[item] = reason
            continue
        result.features[item] = array
        result.computed += 1
        key = pending[item]
        if cache is not None and key is not None:
            try:
                cache.save(key, array, extractor)
            except OSError as error:
                warnings.warn(f"could not write the feature cache entry of {item}: {error}", stacklevel=2)
    result.features = {item: result.features[item] for item in order if item in result.features}
    result.failed = {item: result.failed[item] for item in order if item in result.failed}
    return result


#: Fresh pools tried after a worker process dies, before each remaining item gets a process of its own.
POOL_RETRIES = 2


def _compute_all(items: list[Item], extractor: FeatureExtractor, num_workers: int | None, progress: bool):
    """Yield ``(item, array or None, reason or None)`` for every item, in completion order.

    A worker process that dies (killed, out of memory, a crash in a native library) breaks its pool: the items
    it left undone are retried in a fresh pool, and finally one process per item, so a single bad input costs
    only itself and a stray kill costs nothing.
    """
    workers = _worker_count(len(items), extractor, num_workers)
    with _ProgressBar(len(items), f"{extractor.kind} features", enabled=progress) as bar:
        if workers <= 1:
            for item in items:
                yield (item, *_compute_one(extractor, item))
                bar.advance()
            return
        remaining = items
        for attempt in range(POOL_RETRIES + 2):
            isolated = attempt > POOL_RETRIES
            crashed: list[Item] = []
            for batch in ([[item] for item in remaining] if isolated else [remaining]):
                with _executor(extractor, 1 if isolated else workers) as pool:
                    if extractor.parallel == "process":
                        futures = {pool.submit(_compute_in_worker, item): item for item in batch}
                    else:
                        futures = {pool.submit(_compute_one, extractor, item): item for item in batch}
                    for future in as_completed(futures):
                        item = futures[future]
                        try:
                            result = future.result()
                        except BrokenProcessPool as error:
                            if isolated:
                                yield item, None, f"{item}: the worker process died while extracting it ({error})"
                                bar.advance()
                            else:
                                crashed.append(item)
                            continue
                        yield (item, *result)
                        bar.advance()
            if not crashed:
                return
            remaining = crashed


def _worker_count(count: int, extractor: FeatureExtractor, num_workers: int | None) -> int:
    workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    if extractor.max_workers is not None:
        workers = min(workers, extractor.max_workers)
    return max(1, min(workers, count))


def _executor(extractor: FeatureExtractor, workers: int) -> Executor:
    if extractor.parallel == "thread":
        return ThreadPoolExecutor(max_workers=workers)
    # "spawn": fork is unsafe once torch / OpenMP threads exist in the parent.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(extractor,),
    )


def _compute_one(extractor: FeatureExtractor, item: Item) -> tuple[np.ndarray | None, str | None]:
    """Features of one item, or the reason it failed. Setup problems (bad config, missing package) propagate."""
    try:
        array = np.asarray(extractor.compute(item))
    except (ConfigError, ImportError):
        raise
    except Exception as error:
        return None, _reason(item, error)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return None, f"{item}: features contain NaN or infinite values"
    return array, None


_WORKER_EXTRACTOR: FeatureExtractor | None = None


def _init_worker(extractor: FeatureExtractor) -> None:
    """Process-pool initializer: keep one extractor per worker and one thread per worker."""
    global _WORKER_EXTRACTOR
    _WORKER_EXTRACTOR = extractor
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _compute_in_worker(item: Item) -> tuple[np.ndarray | None, str | None]:
    assert _WORKER_EXTRACTOR is not None, "worker not initialised"
    return _compute_one(_WORKER_EXTRACTOR, item)


def _reason(item: Item, error: BaseException) -> str:
    """Message naming the item and the reason; emomtl errors already name their file."""
    if isinstance(error, EmomtlError) and str(item) in str(error):
        return str(error)
    return f"{_label(item)}: {type(error).__name__}: {error}"


def _label(item: Item) -> str:
    text = os.fspath(item) if isinstance(item, (str, os.PathLike)) else repr(item)
    return text if len(text) <= 120 else text[:117] + "..."


class _ProgressBar:
    """A rich progress bar on stderr, or nothing when disabled."""

    def __init__(self, total: int, description: str, *, enabled: bool) -> None:
        self._progress = None
        if enabled and total:
            from rich.console import Console
            from rich.progress import Progress

            self._progress = Progress(console=Console(stderr=True), transient=False)
            self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> _ProgressBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

