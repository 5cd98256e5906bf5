"""Training-time augmentation on batches (a recipe's ``train.augment``), seeded per epoch.

``speed: [0.9, 1.1]`` is speed perturbation: the features of each factor's copy of the audio are extracted (and
cached) before training, and every training row of a batch is drawn uniformly from the original and its copies
(:func:`emomtl.runtime.batches.make_batch` with views). Validation, test and inference use the original audio.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emomtl.errors import ConfigError
from emomtl.models.tasks import TaskSpec, task_loss

KNOWN = {"specaugment", "gain", "noise", "feature_noise", "mixup", "speed"}


def check_augment(config: dict[str, Any]) -> None:
    unknown = set(config) - KNOWN
    if unknown:
        raise ConfigError(f"train.augment.{sorted(unknown)[0]}: unknown augmentation; valid: {sorted(KNOWN)}")
    speeds = config.get("speed")
    if speeds is not None:
        valid = isinstance(speeds, list) and all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and 0.5 <= f <= 2.0 and f != 1.0 for f in speeds)
        if not valid or len(set(speeds)) != len(speeds):
            raise ConfigError(f"train.augment.speed: expected a list of distinct speed factors between 0.5 and 2 "
                              f"other than 1 (e.g. [0.9, 1.1]), got {speeds!r}")


def spec_augment(logmel: torch.Tensor, rng: np.random.Generator, freq_masks: int = 2, freq_width: int = 8,
                 time_masks: int = 2, time_width: int = 20) -> torch.Tensor:
    """SpecAugment-style masking of (batch, mels, frames): masked bands take each example's mean."""
    out = logmel.clone()
    batch, mels, frames = out.shape
    fill = out.mean(dim=(1, 2))
    for b in range(batch):
        for _ in range(freq_masks):
            width = int(rng.integers(0, freq_width + 1))
            start = int(rng.integers(0, max(1, mels - width)))
            out[b, start : start + width, :] = fill[b]
        for _ in range(time_masks):
            width = int(rng.integers(0, min(time_width, frames) + 1))
            start = int(rng.integers(0, max(1, frames - width)))
            out[b, :, start : start + width] = fill[b]
    return out


def augment_batch(batch: dict[str, torch.Tensor], config: dict[str, Any],
                  rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Apply the configured augmentations to the inputs they concern."""
    if not config:
        return batch
    batch = dict(batch)
    if "specaugment" in config and "logmel" in batch:
        batch["logmel"] = spec_augment(batch["logmel"], rng, **(config["specaugment"] or {}))
    if "gain" in config and "waveform" in batch:
        low, high = config["gain"]
        gains = torch.from_numpy(10 ** (rng.uniform(low, high, size=len(batch["waveform"])) / 20)).float()
        batch["waveform"] = batch["waveform"] * gains[:, None]
    if "noise" in config and "waveform" in batch:
        noise = torch.from_numpy(rng.standard_normal(batch["waveform"].shape).astype(np.float32))
        batch["waveform"] = batch["waveform"] + float(config["noise"]) * noise
    if "feature_noise" in config:  # Gaussian noise on (standardised) utterance-level feature vectors
        sigma = float(config["feature_noise"])
        for name, values in batch.items():
            if values.dim() == 2 and values.is_floating_point() and name != "waveform":
                noise = torch.from_numpy(rng.standard_normal(values.shape).astype(np.float32))
                batch[name] = values + sigma * noise
    return batch


def mixup_batch(batch: dict[str, torch.Tensor], alpha: float, rng: np.random.Generator
                ) -> tuple[dict[str, torch.Tensor], torch.Tensor, float]:
    """Mixup (Zhang et al., 2018): every float input becomes ``lam * x + (1 - lam) * x[perm]``.

    Returns the mixed batch, the partner permutation and ``lam`` ~ Beta(alpha, alpha); the losses follow with
    :func:`mixed_task_loss`. Inputs with a padding mask (variable length) are not mixable and raise.
    """
    if alpha <= 0:
        raise ConfigError(f"train.augment.mixup: alpha must be > 0, got {alpha}")
    if any(name.endswith("_mask") for name in batch):
        raise ConfigError("train.augment.mixup: variable-length inputs (with a padding mask) cannot be mixed; "
                          "give them a fixed inputs.<name>.length")
    size = len(next(iter(batch.values())))
    perm = torch.from_numpy(rng.permutation(size))
    lam = float(rng.beta(alpha, alpha))
    mixed = {name: lam * values + (1 - lam) * values[perm] if values.is_floating_point() else values
             for name, values in batch.items()}
    return mixed, perm, lam


def mixed_task_loss(task: TaskSpec, output: torch.Tensor, target: torch.Tensor, perm: torch.Tensor,
                    lam: float, class_weights: torch.Tensor | None = None) -> torch.Tensor | None:
    """The loss of a mixed batch: classes weight the two partners' losses by ``lam``; values mix the targets.

    A partner without a label drops its term (the other is kept); ``None`` when neither has labels.
    """
    if task.kind == "classification":
        own = task_loss(task, output, target, class_weights)
        other = task_loss(task, output, target[perm], class_weights)
        if own is None or other is None:
            return own if other is None else other
        return lam * own + (1 - lam) * other
    return task_loss(task, output, lam * target + (1 - lam) * target[perm])
