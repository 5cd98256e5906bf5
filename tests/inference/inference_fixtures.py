"""Tiny recipes and a one-call trainer for the inference tests (import it; it is not a conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from emomtl.config import resolve_recipe
from emomtl.training.experiment import build_splits
from emomtl.training.loop import SplitJob, train_split
from emomtl.training.prepare import fit_tasks, prepare_corpus


def inference_recipe(root: Path, n_mels: int, standardize: bool | str, seed: int) -> dict[str, Any]:
    return resolve_recipe({
        "name": f"inference-{n_mels}",
        "data": {"corpus": "demo", "root": str(root / "corpus"), "cache_dir": str(root / "cache"),
                 "options": {"speakers": 4, "utterances_per_emotion": 2, "video": False, "seconds": [0.6, 0.9]}},
        "features": {"logmel": {"kind": "logmel", "n_mels": n_mels, "n_fft": 256, "hop_length": 160}},
        "inputs": {"logmel": {"length": 40, "train_crop": "random", "eval_crop": "windows",
                              "standardize": standardize}},
        "tasks": [
            {"name": "emotion", "kind": "classification", "column": "emotion"},
            {"name": "gender", "kind": "classification", "column": "gender", "exit_block": 1},
            {"name": "va", "kind": "multi_regression", "columns": ["valence", "arousal"], "loss": "ccc",
             "activation": "sigmoid"},
        ],
        "model": {"name": "multi_exit_cnn", "channels": [4, 8], "dropout": 0.1},
        "weighting": {"name": "uw"},
        "optim": {"name": "adam", "lr": 0.01},
        "train": {"epochs": 1, "batch_size": 8, "seeds": [seed], "tensorboard": False, "log_every": 1},
        "protocol": {"name": "loso", "validation_speakers": 1, "seed": 0},
    })


def train_tiny(recipe: dict[str, Any], out: Path) -> tuple[Path, pd.DataFrame]:
    prepared = prepare_corpus(recipe, progress=False)
    tasks = fit_tasks(recipe, prepared.table)
    split = build_splits(recipe, prepared.table)[0]
    seed = recipe["train"]["seeds"][0]
    train_split(SplitJob(recipe, tasks, prepared, split, {"name": "uw"}, seed, out), resume=False)
    return out / "checkpoint_best.pt", prepared.table
