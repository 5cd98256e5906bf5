"""Fixed user weights, and equal weighting."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from emomtl.errors import ConfigError
from emomtl.weighting.base import Losses, SharedParameters, WeightingOutput, WeightingStrategy, per_task


class StaticWeighting(WeightingStrategy):
    """Fixed weights: L = sum_k w_k L_k (linear scalarisation; e.g. 0.5/0.5, 1/3 each, gamma = theta = 1).

    ``weights`` is a mapping task -> weight or a list in task order; default 1/K each (equal weighting, as
    in the dynamic-joint-loss and categorical + dimensional papers). A task absent this step contributes 0.
    """

    name = "static"
    summary = "fixed user weights per task (equal 1/K by default)"
    kind = "loss"
    needs_shared_parameters = False
    ddp_safe = True  # stateless: the weights never depend on the data

    def __init__(self, task_names: Sequence[str], weights: Mapping[str, float] | Sequence[float] | None = None) -> None:
        super().__init__(task_names)
        self.register_buffer("task_weights", parse_weights(self.task_names, weights))

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        weights = {t: self.task_weights[self.index(t)] for t in losses}
        total = sum(weights[t].to(loss.dtype) * loss for t, loss in losses.items())
        return WeightingOutput(loss=total, weights={t: float(w) for t, w in weights.items()})


class EqualWeighting(StaticWeighting):
    """Equal weights: L = (1/K) sum_k L_k; ``static`` with its default weights."""

    name = "ew"
    summary = "equal weights 1/K per task"

    def __init__(self, task_names: Sequence[str]) -> None:
        super().__init__(task_names, weights=None)


def parse_weights(task_names: list[str], weights: Mapping[str, float] | Sequence[float] | None) -> torch.Tensor:
    """Weights in task order from a mapping or a list; ``None`` -> 1/K each. Refuses negative weights."""
    if weights is None:
        return torch.full((len(task_names),), 1.0 / len(task_names))
    tensor = per_task(task_names, weights, "weights")
    if bool((tensor < 0).any()):
        raise ConfigError(f"weighting.weights: weights must be >= 0, got {weights!r}")
    return tensor
