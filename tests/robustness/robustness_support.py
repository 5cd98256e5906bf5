"""Helpers of the robustness suite: the tiny recipe, audio writers, subprocess set-up, run-folder readers.

Every run uses the embedded demo corpus (4 speakers x 4 emotions x 2 utterances), 32-band log-mels and a
two-block multi-exit CNN of a few hundred weights, so one fold trains in well under a second.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

#: The raw recipe every test starts from.
BASE_RECIPE: dict[str, Any] = {
    "name": "robustness",
    "data": {"corpus": "demo", "options": {"speakers": 4, "utterances_per_emotion": 2, "video": False}},
    "features": {"logmel": {"kind": "logmel", "n_mels": 32, "n_fft": 400, "hop_length": 160}},
    "inputs": {"logmel": {"length": 80, "train_crop": "random", "eval_crop": "windows", "standardize": True}},
    "tasks": [
        {"name": "emotion", "kind": "classification", "column": "emotion"},
        {"name": "gender", "kind": "classification", "column": "gender", "exit_block": 1},
        {"name": "va", "kind": "multi_regression", "columns": ["valence", "arousal"], "loss": "ccc",
         "activation": "sigmoid"},
    ],
    "model": {"name": "multi_exit_cnn", "channels": [4, 8], "dropout": 0.2},
    "weighting": {"name": "druw"},
    "optim": {"name": "adamw", "lr": 0.003},
    "train": {"epochs": 4, "batch_size": 4, "seeds": [0], "tensorboard": False,
              "num_workers": 1, "log_every": 1},
    "protocol": {"name": "speaker_kfold", "folds": 4, "validation_speakers": 1, "seed": 0},
}

#: Columns that hold wall-clock times: the only values allowed to differ between identical runs.
TIME_COLUMNS = ("time_s", "wall_time_s")


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in (nested mappings merged, everything else replaced)."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def write_recipe(raw: dict[str, Any], path: Path) -> Path:
    """Write a raw recipe as YAML (for the ``emomtl`` command in a subprocess)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


# ------------------------------------------------------------------ subprocesses
def subprocess_env() -> dict[str, str]:
    """Environment of child processes: one thread each (the same arithmetic in every process)."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    return env


def emomtl_command(*args: str) -> list[str]:
    """``python -m emomtl.cli.main ARGS`` with this interpreter."""
    return [sys.executable, "-m", "emomtl.cli.main", *args]


# ------------------------------------------------------------------ run folders
def read_metrics(folder: Path) -> dict[str, Any]:
    """``metrics.json`` of a run, without its wall-clock time."""
    metrics = json.loads((folder / "metrics.json").read_text())
    return {k: v for k, v in metrics.items() if k not in TIME_COLUMNS}


def read_csv_without_times(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    return table.drop(columns=[c for c in table.columns if c in TIME_COLUMNS])


def model_weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=False)["model"]


def assert_same_weights(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert first.keys() == second.keys()
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), f"weights differ in {name}"


def assert_same_run(expected: Path, actual: Path) -> None:
    """Two run folders hold the same result: metrics, history, steps, predictions and best weights."""
    assert read_metrics(actual) == read_metrics(expected)
    for name in ("history.csv", "steps.csv", "predictions.csv"):
        pd.testing.assert_frame_equal(read_csv_without_times(actual / name), read_csv_without_times(expected / name))
    assert_same_weights(model_weights(expected / "checkpoint_best.pt"), model_weights(actual / "checkpoint_best.pt"))


# ------------------------------------------------------------------ audio
def voice(seconds: float = 1.0, rate: int = 16000, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """A harmonic tone with a slow loudness wobble and a little noise (float32, peak about 0.5)."""
    t = np.arange(int(round(seconds * rate))) / rate
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    noise = np.random.default_rng(seed).normal(scale=0.01, size=t.size)
    return (0.25 * tone * (0.6 + 0.4 * np.sin(2 * np.pi * 2.5 * t)) + noise).astype(np.float32)


def write_audio(path: Path, signal: np.ndarray, rate: int = 16000, subtype: str | None = None,
                file_format: str | None = None) -> Path:
    """Write ``signal`` ((samples,) or (samples, channels)) with soundfile; folders are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), signal, rate, subtype=subtype, format=file_format)
    return path


@contextlib.contextmanager
def unreadable(*paths: Path) -> Iterator[None]:
    """Make ``paths`` unreadable: mode 000 and, since root reads anyway, ``os.access`` refuses them too."""
    targets = {os.path.abspath(p) for p in paths}
    real_access = os.access

    def access(candidate: Any, mode: int, *args: Any, **kwargs: Any) -> bool:
        if mode & os.R_OK and os.path.abspath(os.fspath(candidate)) in targets:
            return False
        return real_access(candidate, mode, *args, **kwargs)

    for path in paths:
        path.chmod(0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "access", access)
        yield


#: Good recordings rewritten in odd formats by :func:`messy_folder` (all must load: downmixed, resampled, repaired).
ODD_FORMATS = ["stereo", "5.1", "8 kHz 8-bit", "22.05 kHz 24-bit", "44.1 kHz float", "48 kHz", "flac", "ogg",
               "clipped", "nan samples", "silence", "ünïcödé näme"]
#: Bad files of a messy folder -> a phrase their reason must contain.
BAD_FILES = {
    "empty.wav": "empty file",
    "truncated header.wav": "truncated WAV header",
    "not audio.wav": "not a readable audio file",
    "short clip.wav": "too short",
    "all nan.wav": "every sample is NaN or infinite",
    "locked.wav": "permission denied",
    "loop a.wav": "symbolic link loop",
    "missing.wav": "file not found",
    "a folder.wav": "directory",
}


def _odd_variant(kind: str, signal: np.ndarray, folder: Path, stem: str) -> Path:
    from scipy.signal import resample_poly

    if kind == "stereo":
        return write_audio(folder / f"{stem} stereo.wav", np.stack([signal, 0.5 * signal], axis=1))
    if kind == "5.1":
        return write_audio(folder / f"{stem} 5.1.wav", np.stack([signal * g for g in (1, .9, .8, .2, .7, .6)], axis=1))
    if kind == "8 kHz 8-bit":
        return write_audio(folder / f"{stem} 8k u8.wav", resample_poly(signal, 1, 2), 8000, "PCM_U8")
    if kind == "22.05 kHz 24-bit":
        return write_audio(folder / f"{stem} 22k 24bit.wav", resample_poly(signal, 441, 320), 22050, "PCM_24")
    if kind == "44.1 kHz float":
        return write_audio(folder / f"{stem} 44k float.wav", resample_poly(signal, 441, 160), 44100, "FLOAT")
    if kind == "48 kHz":
        return write_audio(folder / f"{stem} 48k.wav", resample_poly(signal, 3, 1), 48000, "PCM_16")
    if kind == "flac":
        return write_audio(folder / f"{stem}.flac", signal, 16000, "PCM_16", "FLAC")
    if kind == "ogg":
        return write_audio(folder / f"{stem}.ogg", signal, 16000, "VORBIS", "OGG")
    if kind == "clipped":
        return write_audio(folder / f"{stem} clipped.wav", np.clip(signal * 10, -1, 1), 16000, "PCM_16")
    if kind == "nan samples":
        damaged = signal.astype(np.float32).copy()
        damaged[::97], damaged[::211] = np.nan, np.inf
        return write_audio(folder / f"{stem} nan.wav", damaged, 16000, "FLOAT")
    if kind == "silence":
        return write_audio(folder / f"{stem} silence.wav", np.zeros_like(signal), 16000, "PCM_16")
    return write_audio(folder / f"{stem} émotion – ünïcödé.wav", signal, 16000, "PCM_16")


def messy_folder(demo_root: Path, folder: Path) -> tuple[Path, list[str], dict[str, str]]:
    """The demo corpus copied into ``folder`` (a name with spaces and non-ASCII characters) with every fault.

    Twelve recordings are rewritten in odd formats (:data:`ODD_FORMATS`), the rest copied as they are, and one
    file of each :data:`BAD_FILES` kind is added. Returns the manifest (relative paths, the schema's column
    names), the absolute paths of the good files and ``{absolute path of a bad file: phrase of its reason}``.
    Make ``locked.wav`` unreadable with :func:`unreadable` around every use.
    """
    table = demo_table(demo_root)
    folder.mkdir(parents=True)
    rows, good = [], []
    for i, row in enumerate(table.itertuples()):
        signal, rate = sf.read(row.path, dtype="float32")
        assert rate == 16000
        stem = Path(row.path).stem
        if i % 2 == 0 and i // 2 < len(ODD_FORMATS):
            path = _odd_variant(ODD_FORMATS[i // 2], signal, folder, stem)
        else:
            path = write_audio(folder / f"{stem}.wav", signal, 16000, "PCM_16")
        good.append(str(path))
        rows.append({"path": path.name, "speaker": row.speaker, "gender": row.gender, "emotion": row.emotion,
                     "valence": row.valence, "arousal": row.arousal})
    voice_signal = voice(0.8, seed=3)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "truncated header.wav").write_bytes(Path(good[1]).read_bytes()[:30])
    (folder / "not audio.wav").write_text("speaker,emotion\nthis is a CSV file, not audio\n" * 20)
    write_audio(folder / "short clip.wav", voice_signal[:800])
    write_audio(folder / "all nan.wav", np.full(16000, np.nan, dtype=np.float32), 16000, "FLOAT")
    write_audio(folder / "locked.wav", voice_signal)
    (folder / "loop a.wav").symlink_to(folder / "loop b.wav")
    (folder / "loop b.wav").symlink_to(folder / "loop a.wav")
    (folder / "a folder.wav").mkdir()
    speakers = sorted(table["speaker"].unique())
    for k, name in enumerate(BAD_FILES):
        rows.append({"path": name, "speaker": speakers[k % len(speakers)], "gender": "female", "emotion": "neutral",
                     "valence": 0.5, "arousal": 0.5})
    manifest = folder / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    bad = {str(folder / name): phrase for name, phrase in BAD_FILES.items()}
    return manifest, good, bad


# ------------------------------------------------------------------ in-process runs
class Trial:
    """A prepared corpus, its fitted tasks and splits: builds :class:`SplitJob` objects for one recipe."""

    def __init__(self, recipe: dict[str, Any], prepared: Any = None) -> None:
        from emomtl.training.experiment import build_splits, scored_tasks
        from emomtl.training.prepare import fit_tasks, prepare_corpus

        self.recipe = recipe
        self.prepared = prepared or prepare_corpus(recipe, progress=False)
        self.tasks = scored_tasks(fit_tasks(recipe, self.prepared.table), recipe["protocol"])
        self.splits = build_splits(recipe, self.prepared.table)

    def job(self, out: Path, seed: int = 0, weighting: dict[str, Any] | None = None, fold: int = 0) -> Any:
        from emomtl.training.loop import SplitJob

        return SplitJob(self.recipe, copy.deepcopy(self.tasks), self.prepared, self.splits[fold],
                        weighting or self.recipe["weighting"], seed, Path(out))

    def train(self, out: Path, resume: bool = False, **job_options: Any) -> dict[str, Any]:
        from emomtl.training.loop import train_split

        return train_split(self.job(out, **job_options), resume=resume)


def demo_table(demo_root: Path) -> pd.DataFrame:
    """The session demo corpus's table (files already generated: only the table is built)."""
    from emomtl.data.corpora import demo

    return demo.load(demo_root, **BASE_RECIPE["data"]["options"])


def manifest_recipe(base: dict[str, Any], table: pd.DataFrame, manifest: Path,
                    changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """``base`` (a raw recipe) reading ``table`` (schema columns, absolute paths) through a manifest CSV."""
    manifest.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(manifest, index=False)
    raw = merge(base, {"data": {"corpus": "manifest", "root": str(manifest)}})
    raw["data"]["options"] = {}
    return merge(raw, changes or {})


def base_recipe(demo_root: Path, cache: Path, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """:data:`BASE_RECIPE` on the session corpus and cache, with ``changes`` merged in (raw, not resolved)."""
    raw = merge(BASE_RECIPE, {"data": {"root": str(demo_root), "cache_dir": str(cache)}})
    return merge(raw, changes or {})


def tiny_trial(demo_root: Path, cache: Path, epochs: int) -> Trial:
    """A :class:`Trial` of the base recipe trained for ``epochs`` epochs."""
    from emomtl.config import resolve_recipe

    return Trial(resolve_recipe(base_recipe(demo_root, cache, {"train": {"epochs": epochs}})))
