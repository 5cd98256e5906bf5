"""Optimisers and learning-rate schedules from a recipe's ``optim`` and ``scheduler`` sections."""

from __future__ import annotations

import math
from typing import Any, Iterable

import torch

from emomtl.errors import ConfigError

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}
SCHEDULERS = ("none", "cosine", "step", "plateau")


def build_optimizer(parameters: Iterable[torch.nn.Parameter], config: dict[str, Any]) -> torch.optim.Optimizer:
    options = {k: v for k, v in config.items() if k != "name"}
    name = config.get("name", "adam").lower()
    if name not in OPTIMIZERS:
        raise ConfigError(f"optim.name: {name!r} is not one of {sorted(OPTIMIZERS)}")
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    try:
        return OPTIMIZERS[name](list(parameters), **options)
    except TypeError as error:
        raise ConfigError(f"optim: {error}") from error


def build_scheduler(optimizer: torch.optim.Optimizer, config: dict[str, Any], epochs: int):
    """An epoch-level scheduler (``step()`` once per epoch; plateau gets the validation score)."""
    name = config.get("name", "none")
    if name not in SCHEDULERS:
        raise ConfigError(f"scheduler.name: {name!r} is not one of {SCHEDULERS}")
    if name == "none":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.get("step_size", 10), config.get("gamma", 0.1))
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", patience=config.get("patience", 5), factor=config.get("factor", 0.5)
        )
    warmup = config.get("warmup_epochs", 0)
    floor = config.get("min_lr", 0.0) / max(optimizer.param_groups[0]["lr"], 1e-12)

    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        progress = (epoch - warmup) / max(1, epochs - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
