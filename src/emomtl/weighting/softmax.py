"""Dynamic joint-loss weights: a softmax over learnable logits, trained with the model."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.weighting.base import Losses, SharedParameters, WeightingOutput, WeightingStrategy, stack_losses


class SoftmaxWeighting(WeightingStrategy):
    """Learnable softmax weights, b learnable, b(0) = 0.

    Source: the dynamic joint-loss weighting of multimodal (audio + video) emotion and gender recognition,
    where w = softmax(b) is trained by the same optimiser as the model (``temperature`` tau = 1 and
    ``entropy_weight`` beta = 0 reproduce it).

    Collapse, as published: dL/db_k = w_k (L_k - sum_j w_j L_j) / tau, so gradient descent always moves weight
    from the tasks with higher loss to the task with the lowest loss; with beta = 0, nothing stops w from
    collapsing onto the easiest task. The optional entropy regulariser (beta > 0) bounds this: for fixed losses
    the minimiser is w = softmax(-L / beta). Tasks absent this step are left out and the softmax is taken over
    the present tasks only, so an absent task's logit gets no gradient.
    """

    name = "softmax"
    summary = "learnable softmax weights trained with the model (dynamic joint loss)"
    equation = "L = sum_k w_k L_k - beta H(w),  w = softmax(b / tau),  H(w) = -sum_k w_k ln w_k (beta = 0 as published)"
    kind = "loss"
    needs_shared_parameters = False
    ddp_safe = True  # the only state is the logits, synchronised by all_reduce_grads like any parameter

    def __init__(self, task_names: Sequence[str], temperature: float = 1.0, entropy_weight: float = 0.0) -> None:
        super().__init__(task_names)
        if not temperature > 0:
            raise ConfigError(f"weighting.temperature: must be > 0, got {temperature!r}")
        if not entropy_weight >= 0:
            raise ConfigError(f"weighting.entropy_weight: must be >= 0, got {entropy_weight!r}")
        self.temperature = float(temperature)
        self.entropy_weight = float(entropy_weight)
        self.logits = nn.Parameter(torch.zeros(self.num_tasks))

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        index = torch.tensor([self.index(t) for t in losses])
        weights = torch.softmax(self.logits[index] / self.temperature, dim=0)
        values = stack_losses(losses)
        total = (weights.to(values.dtype) * values).sum()
        if self.entropy_weight > 0:
            entropy = -(weights * torch.log(weights.clamp(min=1e-30))).sum()
            total = total - self.entropy_weight * entropy
        extras = {f"softmax_logit.{t}": float(self.logits.detach()[self.index(t)]) for t in self.task_names}
        return WeightingOutput(
            loss=total, weights={t: float(w) for t, w in zip(losses, weights.detach())}, extras=extras
        )
