"""A tiny recipe on a small demo corpus, shared by the engine tests (import it; it is not a conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emomtl.config import resolve_recipe


def tiny_recipe(root: Path, **sections: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "tiny",
        "data": {"corpus": "demo", "root": str(root / "corpus"), "cache_dir": str(root / "cache"),
                 "options": {"speakers": 4, "utterances_per_emotion": 2, "video": False, "seconds": [0.6, 0.9]}},
        "features": {"logmel": {"kind": "logmel", "n_mels": 16, "n_fft": 256, "hop_length": 160}},
        "inputs": {"logmel": {"length": 40, "train_crop": "random", "eval_crop": "windows", "standardize": True}},
        "tasks": [
            {"name": "emotion", "kind": "classification", "column": "emotion"},
            {"name": "gender", "kind": "classification", "column": "gender", "exit_block": 1},
        ],
        "model": {"name": "multi_exit_cnn", "channels": [4, 8], "dropout": 0.1},
        "weighting": {"name": "uw"},
        "optim": {"name": "adam", "lr": 0.01},
        "train": {"epochs": 3, "batch_size": 8, "seeds": [0], "tensorboard": False, "log_every": 1},
        "protocol": {"name": "loso", "validation_speakers": 1, "seed": 0},
    }
    for key, value in sections.items():
        raw[key] = raw.get(key, {}) | value if isinstance(value, dict) else value
    return resolve_recipe(raw)
