"""Feature extraction for :class:`~emomtl.inference.Recognizer`: one featurizer per distinct ``features`` section,
files one after another, in threads (extractors that release the GIL) or in a pool of worker processes.

A file that cannot be used gives the reason instead of its features, in the main process or in a worker alike,
so one bad file never stops a batch.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Union

import numpy as np

from emomtl.data.audio import PathLike, load_audio, prepare_signal, quality_warnings
from emomtl.errors import ConfigError, EmomtlError
from emomtl.features import create_extractor

#: Errors that fail one file (its reason goes to the ``error`` column); anything else is a bug and propagates.
FILE_ERRORS = (EmomtlError, OSError, ValueError, RuntimeError)
#: Inputs that do not come from the audio signal.
NON_AUDIO_KINDS = ("text_encoder", "video")
#: Largest number of files a worker extracts per task (fewer round trips, still a responsive progress bar).
MAX_CHUNK = 32

#: Entry of a file's first feature dict that carries its quality note (silence, DC only, clipping, noise only);
#: :meth:`Recognizer.process_files` moves it into the ``warning`` column before the model sees the features.
QUALITY_KEY = "__quality__"

Features = dict[str, np.ndarray]
#: One file: its features per featurizer, or the reason it failed.
Outcome = Union[list[Features], str]


class Featurizer:
    """The extractors of one recipe ``features`` section at one model sample rate."""

    def __init__(self, features: Mapping[str, Mapping[str, Any]], sample_rate: int) -> None:
        self.features = {name: dict(config) for name, config in features.items()}
        self.sample_rate = int(sample_rate)
        self.extractors = {name: create_extractor(config, sample_rate=self.sample_rate)
                           for name, config in self.features.items()}

    @property
    def config(self) -> tuple[dict[str, dict[str, Any]], int]:
        """What rebuilds this featurizer (in a worker process)."""
        return self.features, self.sample_rate

    def matches(self, features: Mapping[str, Any], sample_rate: int) -> bool:
        return self.features == dict(features) and self.sample_rate == int(sample_rate)

    def from_signal(self, signal: np.ndarray, text: str | None = None, video: str | None = None) -> Features:
        """Features of a signal already at :attr:`sample_rate` (plus a transcript / video when the model needs them)."""
        inputs = {}
        for name, extractor in self.extractors.items():
            kind = self.features[name]["kind"]
            if kind == "text_encoder":
                if text is None:
                    raise ConfigError(f"features.{name}: this model needs a transcript (text=...)")
                inputs[name] = extractor.from_text(text)
            elif kind == "video":
                if video is None:
                    raise ConfigError(f"features.{name}: this model needs a video file (video=...)")
                inputs[name] = extractor.from_path(video)
            else:
                inputs[name] = extractor.from_signal(signal, self.sample_rate)
        return inputs


def file_features(featurizers: Sequence[Featurizer], path: PathLike, text: str | None = None,
                  video: str | None = None, quality: bool = False) -> list[Features]:
    """Features of one file for every featurizer (the file is read once per sample rate); ``quality`` adds the
    file's quality note under :data:`QUALITY_KEY` (see :func:`pop_quality`)."""
    signals: dict[int, np.ndarray] = {}
    result = []
    for featurizer in featurizers:
        rate = featurizer.sample_rate
        if rate not in signals:
            signals[rate] = load_audio(path, rate)
        result.append(featurizer.from_signal(signals[rate], text, video))
    if quality and result:
        rate, signal = next(iter(signals.items()))
        result[0][QUALITY_KEY] = np.array("; ".join(quality_warnings(signal, rate)), dtype=object)
    return result


def pop_quality(outcome: Outcome) -> str | None:
    """Remove and return the quality note :func:`file_features` left in a file's features ("" when none)."""
    if isinstance(outcome, str) or not outcome:
        return None
    note = outcome[0].pop(QUALITY_KEY, None)
    return None if note is None else str(note)


def signal_features(featurizers: Sequence[Featurizer], signal: np.ndarray, sampling_rate: int, *, name: str,
                    text: str | None = None, video: str | None = None) -> list[Features]:
    """Features of one in-memory signal for every featurizer (downmixed and resampled like a file)."""
    signals: dict[int, np.ndarray] = {}
    result = []
    for featurizer in featurizers:
        rate = featurizer.sample_rate
        if rate not in signals:
            signals[rate] = prepare_signal(signal, sampling_rate, rate, name=name)
        result.append(featurizer.from_signal(signals[rate], text, video))
    return result


def try_file(featurizers: Sequence[Featurizer], path: str) -> Outcome:
    """:func:`file_features`, or the reason the file cannot be used."""
    try:
        return file_features(featurizers, path, quality=True)
    except FILE_ERRORS as error:
        return str(error)


def extract_files(featurizers: Sequence[Featurizer], paths: Sequence[str], workers: int = 1,
                  progress: bool = False) -> list[Outcome]:
    """One outcome per path, in order. ``workers > 1`` extracts in that many threads when every extractor
    releases the GIL (``parallel = "thread"``, e.g. openSMILE: no process start-up), otherwise in that many
    spawned processes."""
    with _progress(len(paths), enabled=progress) as advance:
        if workers <= 1 or len(paths) < 2:
            outcomes = []
            for path in paths:
                outcomes.append(try_file(featurizers, path))
                advance(1)
            return outcomes
        if all(e.parallel == "thread" for f in featurizers for e in f.extractors.values()):
            return _extract_threads(featurizers, list(paths), workers, advance)
        return _extract_parallel([f.config for f in featurizers], list(paths), workers, advance)


def _extract_threads(featurizers: Sequence[Featurizer], paths: list[str], workers: int,
                     advance: Callable[[int], None]) -> list[Outcome]:
    """Files in a thread pool sharing ``featurizers`` (their heavy objects are built once, under a lock)."""
    limits = [e.max_workers for f in featurizers for e in f.extractors.values() if e.max_workers]
    outcomes: list[Outcome] = [""] * len(paths)
    with ThreadPoolExecutor(max_workers=max(1, min([workers, len(paths), *limits]))) as pool:
        futures = {pool.submit(try_file, featurizers, path): index for index, path in enumerate(paths)}
        for future in as_completed(futures):
            outcomes[futures[future]] = future.result()
            advance(1)
    return outcomes


def _extract_parallel(configs: list[tuple[dict, int]], paths: list[str], workers: int,
                      advance: Callable[[int], None]) -> list[Outcome]:
    """Chunks of files in a process pool. A worker that dies (a crash in a native library, a kill) breaks the pool:
    the files it left undone are retried one per task in a fresh pool, then each in a process of its own."""
    outcomes: dict[int, Outcome] = {}
    pending = list(range(len(paths)))
    chunk = max(1, min(MAX_CHUNK, math.ceil(len(paths) / (4 * workers))))
    for size in (chunk, 1):
        if pending:
            pending = _run_pool(configs, paths, pending, workers, size, outcomes, advance)
    for index in pending:  # isolated: a file that kills its worker costs only itself
        if _run_pool(configs, paths, [index], 1, 1, outcomes, advance):
            outcomes[index] = f"{paths[index]}: the feature worker process died while extracting it"
            advance(1)
    return [outcomes[i] for i in range(len(paths))]


def _run_pool(configs: list[tuple[dict, int]], paths: list[str], indices: list[int], workers: int, size: int,
              outcomes: dict[int, Outcome], advance: Callable[[int], None]) -> list[int]:
    """Extract ``indices`` in chunks of ``size`` in a fresh pool, filling ``outcomes``; return those left undone."""
    chunks = [indices[start : start + size] for start in range(0, len(indices), size)]
    undone: list[int] = []
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(chunks))),
                             mp_context=multiprocessing.get_context("spawn"),  # fork is unsafe with torch threads
                             initializer=_init_worker, initargs=(configs,)) as pool:
        futures = {pool.submit(_extract_chunk, [paths[i] for i in chunk]): chunk for chunk in chunks}
        for future in as_completed(futures):
            chunk = futures[future]
            try:
                results = future.result()
            except BrokenProcessPool:
                undone.extend(chunk)
                continue
            outcomes.update(zip(chunk, results))
            advance(len(chunk))
    return sorted(undone)


_WORKER_FEATURIZERS: list[Featurizer] = []


def _init_worker(configs: list[tuple[dict, int]]) -> None:
    """Pool initializer: one thread per worker, the extractors built once."""
    os.environ["OMP_NUM_THREADS"] = "1"  # torch-based extractors imported later start with one thread
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    _WORKER_FEATURIZERS[:] = [Featurizer(features, rate) for features, rate in configs]


def _extract_chunk(paths: list[str]) -> list[Outcome]:
    return [try_file(_WORKER_FEATURIZERS, path) for path in paths]


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """``advance(n)`` of a transient rich progress bar, or a no-op."""
    if not enabled or not total:
        yield lambda count: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("predicting", total=total)
        yield lambda count: bar.advance(task, count)
