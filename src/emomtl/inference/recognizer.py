"""Recognizer: a trained checkpoint applied to files or signals, one DataFrame row per input.

Modelled on audinterface: ``process_file``, ``process_files`` and ``process_signal`` give identical
outputs for the same audio. Long recordings are processed in windows of the training length, so a
10-minute file needs no more memory than its features.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import torch

from emomtl.data.audio import load_audio, prepare_signal
from emomtl.errors import ConfigError, EmomtlError
from emomtl.features import create_extractor
from emomtl.models import build_model
from emomtl.models.tasks import TaskSpec
from emomtl.training.batches import Standardizer, input_specs
from emomtl.training.checkpoint import load_checkpoint
from emomtl.training.evaluate import predict_outputs

log = logging.getLogger(__name__)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


class Recognizer:
    """Predict every task of a trained model for new recordings."""

    def __init__(self, state: dict[str, Any], max_windows: int | None = None) -> None:
        self.recipe = state["recipe"]
        self.tasks = [TaskSpec(**task) for task in state["tasks"]]
        self.model = build_model(self.recipe["model"], self.tasks, {k: tuple(v) for k, v in state["input_shapes"].items()})
        self.model.load_state_dict(state["model"])
        self.model.eval()
        self.specs = input_specs(self.recipe)
        for spec in self.specs.values():  # whole recordings: windows over every time-varying input
            if spec.length is not None and spec.time_axis is not None:
                spec.eval_crop = "windows"
        self.standardizer = Standardizer.from_state_dict(state["standardizer"])
        self.sample_rate = int(self.recipe["data"]["sample_rate"])
        self.extractors = {name: create_extractor(config, sample_rate=self.sample_rate)
                           for name, config in self.recipe["features"].items()}
        self.max_windows = max_windows
        non_audio = [c["kind"] for c in self.recipe["features"].values() if c["kind"] in ("text_encoder", "video")]
        self.extra_inputs = non_audio

    @classmethod
    def from_checkpoint(cls, path: str | Path, **options: Any) -> "Recognizer":
        return cls(load_checkpoint(Path(path)), **options)

    # -------------------------------------------------------------- inputs
    def _features(self, signal: np.ndarray, text: str | None, video: str | None) -> dict[str, list[np.ndarray]]:
        inputs = {}
        for name, extractor in self.extractors.items():
            kind = self.recipe["features"][name]["kind"]
            if kind == "text_encoder":
                if text is None:
                    raise ConfigError(f"features.{name}: this model needs a transcript (text=...)")
                inputs[name] = [extractor.from_text(text)]
            elif kind == "video":
                if video is None:
                    raise ConfigError(f"features.{name}: this model needs a video file (video=...)")
                inputs[name] = [extractor.from_path(video)]
            else:
                inputs[name] = [extractor.from_signal(signal, self.sample_rate)]
        return inputs

    def _row(self, inputs: dict[str, list[np.ndarray]]) -> dict[str, Any]:
        with torch.no_grad():
            outputs = predict_outputs(self.model, inputs, np.array([0]), self.specs, self.standardizer, self.tasks,
                                      max_windows=self.max_windows)
        row: dict[str, Any] = {}
        for task in self.tasks:
            value = outputs[task.name][0]
            if task.kind == "classification":
                row[task.name] = task.classes[int(np.argmax(value))]
                row.update({f"{task.name}.prob.{c}": float(p) for c, p in zip(task.classes, value)})
            elif task.kind == "regression":
                row[task.name] = float(np.reshape(value, -1)[0])
            else:
                row.update({f"{task.name}.{c}": float(v) for c, v in zip(task.columns, value)})
        return row

    # ------------------------------------------------------------- public
    def process_signal(self, signal: np.ndarray, sampling_rate: int, *, text: str | None = None,
                       video: str | None = None, file: str = "<signal>") -> pd.DataFrame:
        """Predictions for one in-memory signal ((samples,) or (channels, samples))."""
        prepared = prepare_signal(signal, sampling_rate, self.sample_rate, name=file)
        row = self._row(self._features(prepared, text, video))
        return pd.DataFrame([row], index=pd.Index([file], name="file"))

    def process_file(self, path: str | Path, *, text: str | None = None, video: str | None = None) -> pd.DataFrame:
        """Predictions for one audio file (read, downmixed and resampled like the training data)."""
        signal = load_audio(path, self.sample_rate)
        row = self._row(self._features(signal, text, video))
        return pd.DataFrame([row], index=pd.Index([str(path)], name="file"))

    def process_files(self, paths: Iterable[str | Path], progress: bool = False) -> pd.DataFrame:
        """One row per file; a file that fails gets its reason in the ``error`` column and the rest go on."""
        paths = [str(p) for p in paths]
        rows, index = [], []
        iterator = paths
        if progress:
            from rich.progress import track

            iterator = track(paths, description="predicting", transient=True)
        for path in iterator:
            try:
                row = self.process_file(path).iloc[0].to_dict()
                row["error"] = None
            except (EmomtlError, OSError, ValueError, RuntimeError) as error:
                log.warning("%s: %s", path, error)
                row = {"error": str(error)}
            rows.append(row)
            index.append(path)
        return pd.DataFrame(rows, index=pd.Index(index, name="file"))


def expand_inputs(items: Iterable[str | Path]) -> list[Path]:
    """Files as given, and audio files found recursively under given folders (sorted)."""
    found: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found.extend(sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES))
        else:
            found.append(item)
    return found
