"""Fixed user weights, and equal weighting."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from emomtl.errors import ConfigError
from emomtl.weighting.base import Losses, SharedParameters, WeightingOutput, WeightingStrategy, per_task


class StaticWeighting(WeightingStrategy):
    """Fixed weights (linear scalarisation; e.g. 1 each, 0.5/0.5, 1/3 each).

    ``weights`` is a mapping task -> weight or a list in task order; default 1 per task (equal weighting "equal
    to 1", as in the DRUW and CNN-BLSTM papers and LibMTL's EW). Recipes of papers with other weights (the
    dynamic-joint-loss paper's 0.5/0.5, the categorical + dimensional paper's 1/3) set them explicitly. A task
    absent this step contributes 0.
    """

    name = "static"
    summary = "fixed user weights per task (1 each by default)"
    equation = "L = sum_k w_k L_k,  w_k fixed (default 1)"
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
    """Equal weighting: ``static`` with its default weights (LibMTL's EW; the DRUW paper's baseline)."""

    name = "ew"
    summary = "equal weights, 1 per task"
    equation = "L = sum_k L_k"

    def __init__(self, task_names: Sequence[str]) -> None:
        super().__init__(task_names, weights=None)


def parse_weights(task_names: list[str], weights: Mapping[str, float] | Sequence[float] | None) -> torch.Tensor:
    """Weights in task order from a mapping or a list; ``None`` -> 1 each. Refuses negative weights."""
    if weights is None:
        return torch.ones(len(task_names))
    tensor = per_task(task_names, weights, "weights")
    if bool((tensor < 0).any()):
        raise ConfigError(f"weighting.weights: weights must be >= 0, got {weights!r}")
    return tensor
