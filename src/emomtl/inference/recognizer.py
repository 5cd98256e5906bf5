"""Recognizer: trained checkpoints applied to files or signals, one DataFrame row per input.

Modelled on audinterface: ``process_file``, ``process_files`` and ``process_signal`` give identical
outputs for the same audio. Long recordings are processed in windows of the training length, so a
10-minute file needs no more memory than its features. ``process_files`` extracts features first (optionally in
worker threads or processes), then runs the model over all files in batches; several checkpoints form an ensemble.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd
import torch

from emomtl.config import Recipe
from emomtl.errors import ConfigError
from emomtl.inference.extraction import (Featurizer, Features, extract_files, file_features, pop_quality,
                                        signal_features)
from emomtl.inference.speakers import few_file_speakers, speaker_array, speaker_inputs, speaker_standardizer
from emomtl.models.tasks import TaskSpec
from emomtl.runtime.batches import InputSpec, Standardizer
from emomtl.runtime.bundle import InferenceBundle
from emomtl.runtime.checkpoint import load_checkpoint
from emomtl.runtime.predict import predict_outputs

log = logging.getLogger(__name__)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
#: Files (and windows) per forward pass of ``process_files``.
BATCH_SIZE = 64


@dataclass
class Member:
    """One checkpoint of a recognizer: its model, inputs, training statistics and featurizer."""

    name: str
    recipe: Recipe
    tasks: list[TaskSpec]
    model: torch.nn.Module
    specs: dict[str, InputSpec]
    standardizer: Standardizer
    featurizer: int  # index into Recognizer.featurizers

    @classmethod
    def from_state(cls, state: dict[str, Any], name: str, featurizer: int) -> "Member":
        bundle = InferenceBundle.from_state(state)
        for spec in bundle.specs.values():  # whole recordings: windows over every time-varying input
            if spec.length is not None and spec.time_axis is not None:
                spec.eval_crop = "windows"
        return cls(name, bundle.recipe, bundle.tasks, bundle.model, bundle.specs, bundle.standardizer, featurizer)

    def outputs(self, inputs: dict[str, list[np.ndarray]], rows: np.ndarray, standardizer: Standardizer,
                batch_size: int, max_windows: int | None) -> dict[str, np.ndarray]:
        """Per-row task outputs (probabilities / values) of this member's model."""
        return predict_outputs(self.model, inputs, rows, self.specs, standardizer, self.tasks,
                               batch_size=batch_size, max_windows=max_windows)


def _task_signature(tasks: list[TaskSpec]) -> dict[str, tuple[Any, ...]]:
    return {t.name: (t.kind, tuple(t.classes or ()), tuple(t.columns or ())) for t in tasks}


class Recognizer:
    """Predict every task of a trained model (or the average of an ensemble of models) for new recordings."""

    def __init__(self, state: dict[str, Any] | Sequence[dict[str, Any]], max_windows: int | None = None,
                 names: Sequence[str] | None = None, member_type: Any = Member) -> None:
        states = [state] if isinstance(state, dict) else list(state)
        if not states:
            raise ConfigError("Recognizer: no checkpoint given")
        names = list(names) if names is not None else [f"member {i}" for i in range(len(states))]
        self.featurizers: list[Featurizer] = []
        self.members = [member_type.from_state(s, name, self._featurizer_for(Recipe.parse(s["recipe"])))
                        for s, name in zip(states, names)]
        self._check_tasks()
        first = self.members[0]
        self.recipe, self.tasks, self.model = first.recipe, first.tasks, first.model
        self.specs, self.standardizer = first.specs, first.standardizer
        self.sample_rate = self.featurizers[first.featurizer].sample_rate
        self.extractors = self.featurizers[first.featurizer].extractors
        self.max_windows = max_windows
        self._warned_global = False
        self._enrolled: dict[str, list[list[Features]]] = {}

    @classmethod
    def from_checkpoint(cls, path: str | Path | Sequence[str | Path], **options: Any) -> "Recognizer":
        """One checkpoint, or a list of checkpoints for an ensemble."""
        if isinstance(path, (str, Path)):
            return cls(load_checkpoint(Path(path)), names=[str(path)], **options)
        return cls.from_checkpoints(path, **options)

    @classmethod
    def from_checkpoints(cls, paths: Sequence[str | Path], **options: Any) -> "Recognizer":
        """An ensemble: class probabilities and regression values averaged over the checkpoints."""
        paths = list(paths)
        return cls([load_checkpoint(Path(p)) for p in paths], names=[str(p) for p in paths], **options)

    @classmethod
    def from_onnx(cls, path: str | Path | Sequence[str | Path], threads: int | None = None,
                  **options: Any) -> "Recognizer":
        """An ``emomtl export --format onnx`` folder (or its ``model.onnx`` / ``model.json``), or a list of them for an
        ensemble, run by onnxruntime (``threads``: its intra-op threads; default: onnxruntime's choice)."""
        from emomtl.inference.onnx_backend import OnnxMember, load_exports

        paths = [path] if isinstance(path, (str, Path)) else list(path)
        return cls(load_exports(paths, threads), names=[str(p) for p in paths], member_type=OnnxMember, **options)

    # ------------------------------------------------------------- set-up
    def _featurizer_for(self, recipe: Recipe) -> int:
        """Index of the featurizer of ``recipe`` (members with equal ``features`` sections share one)."""
        rate = recipe.data.sample_rate
        for index, featurizer in enumerate(self.featurizers):
            if featurizer.matches(recipe.features, rate):
                return index
        self.featurizers.append(Featurizer(recipe.features, rate))
        return len(self.featurizers) - 1

    def _check_tasks(self) -> None:
        expected = _task_signature(self.members[0].tasks)
        for member in self.members[1:]:
            found = _task_signature(member.tasks)
            if found != expected:
                raise ConfigError(
                    f"{member.name}: its tasks {found} differ from those of {self.members[0].name} ({expected}); "
                    "ensemble members must predict the same tasks with the same classes"
                )

    # ---------------------------------------------------------- prediction
    def _standardizer(self, member: Member, inputs: dict[str, list[np.ndarray]],
                      speakers: np.ndarray | None) -> Standardizer:
        if not speaker_inputs(member.specs):
            return member.standardizer
        if speakers is None:
            if not self._warned_global:
                log.warning(
                    "%s standardises inputs per speaker (%s) but no speakers were given: predictions use the training "
                    "set's global statistics; give each file's speaker (Python: process_files(..., speakers=) or "
                    "enroll(); command line: --speakers or --speaker-from-dir) to match training",
                    member.name, ", ".join(speaker_inputs(member.specs)))
                self._warned_global = True
            return member.standardizer
        # An enrolled speaker's statistics come from its enrolment files alone; other speakers' from their own rows.
        fit_speakers = [None if s in self._enrolled else s for s in speakers]
        fit_inputs = {name: list(values) for name, values in inputs.items()}
        for speaker, rows in self._enrolled.items():
            for row in rows:
                fit_speakers.append(speaker)
                for name in fit_inputs:
                    fit_inputs[name].append(row[member.featurizer][name])
        fitted = speaker_standardizer(member.standardizer, fit_inputs, member.specs,
                                      np.array(fit_speakers, dtype=object))
        fitted.speakers = np.asarray(speakers, dtype=object)
        return fitted

    def enroll(self, speaker: str, paths: Iterable[str | Path], workers: int = 1) -> int:
        """Remember ``speaker``'s per-speaker statistics from several of its recordings (at least two usable).

        Later calls with ``speaker=`` / ``speakers=`` naming it standardise that speaker's files with these
        statistics, so even one new file is normalised as in training. Returns the number of files used.
        """
        paths = [str(p) for p in paths]
        outcomes = extract_files(self.featurizers, paths, workers=workers)
        for outcome in outcomes:
            pop_quality(outcome)
        usable = [o for o in outcomes if not isinstance(o, str)]
        for path, outcome in zip(paths, outcomes):
            if isinstance(outcome, str):
                log.warning("enroll %s: %s: %s", speaker, path, outcome)
        if len(usable) < 2:
            raise ValueError(f"enroll: speaker {speaker!r} needs at least 2 usable recordings, got {len(usable)}")
        self._enrolled[str(speaker)] = usable
        return len(usable)

    def _member_outputs(self, member: Member, features: list[list[Features]], speakers: np.ndarray | None,
                        batch_size: int) -> dict[str, np.ndarray]:
        inputs = {name: [row[member.featurizer][name] for row in features] for name in member.specs}
        standardizer = self._standardizer(member, inputs, speakers)
        parts = [{t.name: np.zeros((0, t.output_dim), dtype=np.float32) for t in member.tasks}]
        for start in range(0, len(features), batch_size):  # bounded memory: windows of one block at a time
            rows = np.arange(start, min(start + batch_size, len(features)))
            parts.append(member.outputs(inputs, rows, standardizer, batch_size, self.max_windows))
        return {t.name: np.concatenate([p[t.name] for p in parts]) for t in member.tasks}

    def _predict(self, features: list[list[Features]], speakers: np.ndarray | None = None,
                 batch_size: int = BATCH_SIZE) -> dict[str, np.ndarray]:
        """Per-task outputs averaged over the members (probabilities for classification)."""
        total: dict[str, np.ndarray] = {}
        for member in self.members:
            outputs = self._member_outputs(member, features, speakers, batch_size)
            for name, value in outputs.items():
                total[name] = total.get(name, 0.0) + value.astype(np.float64)
        return {name: value / len(self.members) for name, value in total.items()}

    def _frame(self, outputs: dict[str, np.ndarray], index: list[str]) -> pd.DataFrame:
        """The output columns: label and ``<task>.prob.<class>``, ``<task>``, or ``<task>.<column>``."""
        columns: dict[str, Any] = {}
        for task in self.tasks:
            value = outputs[task.name].reshape(len(index), task.output_dim)
            if task.kind == "classification":
                columns[task.name] = np.array(task.classes, dtype=object)[value.argmax(1)]
                columns.update({f"{task.name}.prob.{c}": value[:, j] for j, c in enumerate(task.classes or [])})
            elif task.kind == "regression":
                columns[task.name] = value[:, 0]
            else:
                columns.update({f"{task.name}.{c}": value[:, j] for j, c in enumerate(task.columns or [])})
        return pd.DataFrame(columns, index=pd.Index(index, name="file"))

    # ------------------------------------------------------------- public
    def process_signal(self, signal: np.ndarray, sampling_rate: int, *, text: str | None = None,
                       video: str | None = None, file: str = "<signal>") -> pd.DataFrame:
        """Predictions for one in-memory signal ((samples,) or (channels, samples))."""
        check_sampling_rate(sampling_rate)
        features = signal_features(self.featurizers, signal, sampling_rate, name=file, text=text, video=video)
        return self._frame(self._predict([features]), [file])

    def stream_window(self) -> tuple[float, float]:
        """(window, hop) in seconds of the first model's windowed input (training length, ``window_hop`` or half)."""
        featurizer = self.featurizers[self.members[0].featurizer]
        for name, spec in self.specs.items():
            rate = featurizer.extractors[name].frames_per_second
            if spec.length and spec.time_axis is not None and rate:
                hop = spec.window_hop or max(1, spec.length // 2)
                return spec.length / rate, hop / rate
        raise ConfigError("process_stream: the model has no windowed time input; pass window_seconds= and "
                          "hop_seconds=")

    def process_stream(self, chunks: Iterable[np.ndarray], sampling_rate: int, *, window_seconds: float | None = None,
                       hop_seconds: float | None = None) -> Iterator[pd.DataFrame]:
        """Predictions for windows of a signal that arrives in chunks, yielded as soon as each window is complete.

        Windows start every ``hop_seconds`` and last ``window_seconds`` (default: :meth:`stream_window`); when the
        stream ends, a last window aligned to its end covers any samples the others missed (a stream shorter than a
        window gives one short window), as the windows of a whole file do. Each window's row equals
        :meth:`process_signal` of that window's samples; its index is ``(start, end)`` in seconds. Memory stays
        bounded by one window of audio.
        """
        check_sampling_rate(sampling_rate)
        if window_seconds is None or hop_seconds is None:
            default_window, default_hop = self.stream_window()
            window_seconds = default_window if window_seconds is None else window_seconds
            hop_seconds = default_hop if hop_seconds is None else hop_seconds
        window = max(1, int(round(window_seconds * sampling_rate)))
        hop = max(1, int(round(hop_seconds * sampling_rate)))
        buffer = np.zeros(0, dtype=np.float32)
        offset = next_start = 0  # sample index of buffer[0]; start of the next window
        last_end = 0

        def emit(start: int, end: int) -> pd.DataFrame:
            piece = buffer[start - offset : end - offset]
            frame = self.process_signal(piece, sampling_rate, file=f"<stream {start / sampling_rate:.3f}s>")
            frame.index = pd.MultiIndex.from_tuples([(start / sampling_rate, end / sampling_rate)],
                                                    names=["start", "end"])
            return frame

        for chunk in chunks:
            samples = np.asarray(chunk, dtype=np.float32)
            samples = samples.mean(axis=0) if samples.ndim == 2 else samples.reshape(-1)
            buffer = np.concatenate([buffer, samples])
            while offset + len(buffer) >= next_start + window:
                yield emit(next_start, next_start + window)
                last_end = next_start + window
                next_start += hop
            keep_from = max(offset, min(next_start, offset + len(buffer) - window))
            buffer, offset = buffer[keep_from - offset :], keep_from
        total = offset + len(buffer)
        if total > last_end:
            yield emit(max(0, total - window), total)

    def process_file(self, path: str | Path, *, text: str | None = None, video: str | None = None,
                     speaker: str | None = None) -> pd.DataFrame:
        """Predictions for one audio file (read, downmixed and resampled like the training data).

        ``speaker``: an :meth:`enroll`-ed speaker whose statistics standardise the file.
        """
        features = file_features(self.featurizers, path, text, video)
        speakers = None if speaker is None else np.array([self._enrolled_speaker(speaker)], dtype=object)
        return self._frame(self._predict([features], speakers), [str(path)])

    def _enrolled_speaker(self, speaker: str) -> str:
        if str(speaker) not in self._enrolled:
            raise ValueError(f"speaker={speaker!r} is not enrolled; call enroll({speaker!r}, paths) first "
                             f"(enrolled: {sorted(self._enrolled) or 'none'})")
        return str(speaker)

    def process_files(self, paths: Iterable[str | Path], progress: bool = False, workers: int = 1,
                      speakers: Sequence[Any] | None = None, batch_size: int = BATCH_SIZE) -> pd.DataFrame:
        """One row per file; a file that fails gets its reason in the ``error`` column and the rest go on.

        ``workers > 1`` extracts features in that many threads (when every extractor releases the GIL, as openSMILE
        does) or processes; the model then runs over all files in batches of ``batch_size``. ``speakers`` (one per
        path) fits the per-speaker statistics of inputs with ``standardize: speaker`` on each speaker's files (a
        speaker needs at least two); without them such inputs use the training set's global statistics.
        """
        if isinstance(paths, (str, bytes, Path)):  # one path, never iterated character by character
            paths = [paths]
        paths = [os.fsdecode(p) if isinstance(p, bytes) else str(p) for p in paths]
        known = None if speakers is None else speaker_array(speakers, len(paths))
        outcomes = extract_files(self.featurizers, paths, workers=workers, progress=progress)
        notes = [pop_quality(outcome) or None for outcome in outcomes]
        errors: list[str | None] = []
        for path, outcome in zip(paths, outcomes):
            if isinstance(outcome, str):
                log.warning("%s: %s", path, outcome)
            errors.append(outcome if isinstance(outcome, str) else None)
        good = [i for i, error in enumerate(errors) if error is None]
        good_speakers = None if known is None else known[good]
        self._check_speakers(good_speakers)
        outputs = self._predict([outcomes[i] for i in good], good_speakers, batch_size)  # type: ignore[misc]
        frame = self._frame(outputs, [paths[i] for i in good])
        frame.index = pd.Index(good)
        frame = frame.reindex(pd.RangeIndex(len(paths)))
        frame["error"] = pd.Series(errors, dtype=object)
        frame["warning"] = pd.Series(notes, dtype=object)
        frame.index = pd.Index(paths, name="file")
        return frame

    def _check_speakers(self, speakers: np.ndarray | None) -> None:
        """Log speakers whose files cannot give per-speaker statistics (once each)."""
        if speakers is None or not any(speaker_inputs(m.specs) for m in self.members):
            return
        for speaker, count in few_file_speakers(speakers).items():
            if speaker in self._enrolled:
                continue
            log.warning("speaker %r has %d usable recording(s); per-speaker normalisation needs at least 2, so its "
                        "files use the training set's global statistics", speaker, count)
        unknown = int(sum(s is None for s in speakers))
        if unknown:
            log.warning("%d file(s) have no speaker: they use the training set's global statistics", unknown)


def check_sampling_rate(sampling_rate: Any) -> None:
    """``sampling_rate`` of an in-memory signal: a positive number of samples per second."""
    if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, (int, float, np.integer, np.floating)) \
            or not math.isfinite(sampling_rate) or sampling_rate <= 0:
        raise ValueError(f"sampling_rate: must be a positive number of samples per second (e.g. 16000), "
                         f"got {sampling_rate!r}")


def expand_inputs(items: Iterable[str | Path]) -> list[Path]:
    """Files as given, and audio files found recursively under given folders (sorted)."""
    found: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found.extend(sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES))
        else:
            found.append(item)
    return found
