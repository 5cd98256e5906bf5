"""PCGrad: project away the conflicting component of each task gradient."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from emomtl.errors import ConfigError
from emomtl.weighting.base import Losses, SharedParameters, WeightingOutput, WeightingStrategy, stack_losses
from emomtl.weighting.gradients import task_gradient_matrix, unflatten

REDUCTIONS = ("sum", "mean")


class PCGrad(WeightingStrategy):
    """PCGrad: g = sum_i g_i', g_i' = g_i - sum_j [g_i'.g_j < 0] (g_i'.g_j / ||g_j||^2) g_j, j != i in random order.

    Source: Yu et al., "Gradient surgery for multi-task learning", NeurIPS 2020. Applied to the shared
    parameters (``shared_gradients``); task-specific parameters get the plain sum (or mean) of the task losses,
    which is the returned ``loss``. ``reduction="mean"`` divides both by the number of present tasks. The random
    order comes from a generator seeded by ``seed``, saved with the state.
    """

    name = "pcgrad"
    summary = "projects away conflicting components of task gradients (Yu et al.)"
    kind = "gradient"
    needs_shared_parameters = True
    ddp_safe = True  # task gradients are averaged over ranks and the generator is seeded alike on every rank

    def __init__(self, task_names: Sequence[str], reduction: str = "sum", seed: int = 0) -> None:
        super().__init__(task_names)
        if reduction not in REDUCTIONS:
            raise ConfigError(f"weighting.reduction: {reduction!r} is not one of {list(REDUCTIONS)}")
        self.reduction = reduction
        self.generator = torch.Generator().manual_seed(int(seed))

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        if not self.updating:  # validation: the plain sum (or mean) of the losses
            scale = 1.0 / len(losses) if self.reduction == "mean" else 1.0
            total = scale * stack_losses(losses).sum()
            return WeightingOutput(loss=total, weights={t: scale for t in losses})
        if shared_parameters is None:
            raise ConfigError("weighting: 'pcgrad' needs shared_parameters (a representation is not enough)")
        matrix, present = task_gradient_matrix(losses, self.task_names, shared_parameters)
        rows = matrix[present].double()
        projected, conflicts = project_conflicts(rows, self.generator)
        scale = 1.0 / rows.shape[0] if self.reduction == "mean" else 1.0
        combined = scale * projected.sum(dim=0)
        total = scale * stack_losses(losses).sum()
        return WeightingOutput(
            loss=total,
            weights={t: scale for t in losses},
            extras={"pcgrad_conflicts": float(conflicts)},
            shared_gradients=unflatten(combined.to(matrix.dtype), shared_parameters),
        )

    def get_extra_state(self) -> Any:
        return {"generator": self.generator.get_state()}

    def set_extra_state(self, state: Any) -> None:
        self.generator.set_state(state["generator"])


def project_conflicts(grads: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """PCGrad projection of each row of ``grads`` (K x P); returns (projected rows, conflicting pairs i < j)."""
    k = grads.shape[0]
    dots = grads @ grads.T
    conflicts = int((torch.triu(dots, diagonal=1) < 0).sum())
    squared_norms = dots.diagonal()
    projected = grads.clone()
    for i in range(k):
        for j in torch.randperm(k, generator=generator).tolist():
            if j == i or squared_norms[j] <= 0:
                continue
            dot = projected[i] @ grads[j]
            if dot < 0:
                projected[i] -= (dot / squared_norms[j]) * grads[j]
    return projected, conflicts
