"""Checkpoints written atomically (temporary file, then rename) and checked on load."""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emomtl.errors import CheckpointError
from emomtl.runtime.files import atomic_write

FORMAT_VERSION = 1
#: Recipe sections that decide what a checkpoint's weights mean.
FINGERPRINT_SECTIONS = ("features", "inputs", "tasks", "model")


def recipe_fingerprint(recipe: dict[str, Any]) -> str:
    """Hash of the recipe sections that define the model and its inputs."""
    subset = {key: recipe.get(key) for key in FINGERPRINT_SECTIONS}
    subset["label_map"] = recipe.get("data", {}).get("label_map")
    return hashlib.sha256(json.dumps(subset, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _numpy_globals() -> list[Any]:
    """The NumPy types a checkpoint may hold (standardiser statistics, RNG state, scores): arrays, dtypes, scalars."""
    multiarray = getattr(np, "_core", None) or np.core  # NumPy 2 renamed numpy.core
    dtypes = [type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGUS"]
    return [multiarray.multiarray._reconstruct, multiarray.multiarray.scalar, np.ndarray, np.dtype, *dtypes]


#: Everything outside torch's own allow-list that unpickling a checkpoint may construct; nothing here runs code.
SAFE_GLOBALS = _numpy_globals()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` so that a reader never sees a half-written file."""
    atomic_write(path, lambda temporary: torch.save({"format": FORMAT_VERSION, **state}, temporary))


def load_checkpoint(path: Path, fingerprint: str | None = None) -> dict[str, Any]:
    """Read a checkpoint; refuse a corrupt file or one written for another recipe."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint at this path")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Unsupported global" not in str(error):  # garbage, not a forbidden object
            raise CheckpointError(f"{path}: not a readable checkpoint ({_unpickler_reason(error)})") from error
        raise CheckpointError(
            f"{path}: refused: unpickling it would construct something other than tensors, arrays and plain values "
            f"(a checkpoint is never trusted to run code; {_unpickler_reason(error)})") from error
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(error).__name__}: {error})") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not an emomtl checkpoint "
                              f"(format {state.get('format') if isinstance(state, dict) else None})")
    if fingerprint is not None and state.get("fingerprint") != fingerprint:
        raise CheckpointError(
            f"{path}: written for another recipe "
            f"(model/tasks/features fingerprint {state.get('fingerprint')} != {fingerprint}); "
            "start a new run directory or rerun with --no-resume"
        )
    return state


def _unpickler_reason(error: Exception) -> str:
    """The one line of torch's weights-only error that says what was refused."""
    text = str(error)
    forbidden = re.search(r"GLOBAL (\S+)", text)
    if forbidden:
        return f"it would call or build {forbidden.group(1)}"
    found = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
    return (found.group(1) if found else text.splitlines()[0])[:200].strip()


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
