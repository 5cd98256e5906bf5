"""Training-time augmentation on batches (a recipe's ``train.augment``), seeded per epoch."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emomtl.errors import ConfigError

KNOWN = {"specaugment", "gain", "noise", "feature_noise"}


def check_augment(config: dict[str, Any]) -> None:
    unknown = set(config) - KNOWN
    if unknown:
        raise ConfigError(f"train.augment.{sorted(unknown)[0]}: unknown augmentation; valid: {sorted(KNOWN)}")


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


def augment_batch(batch: dict[str, torch.Tensor], config: dict[str, Any], rng: np.random.Generator) -> dict[str, torch.Tensor]:
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
