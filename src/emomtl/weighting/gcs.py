"""Gradient cosine similarity: an auxiliary task's gradient reaches the shared layers only where it agrees with
the main task's."""

from __future__ import annotations

from typing import Sequence

import torch

from emomtl.errors import ConfigError
from emomtl.weighting.base import Losses, SharedParameters, WeightingOutput, WeightingStrategy, stack_losses
from emomtl.weighting.gradients import task_gradient_matrix, unflatten

VARIANTS = ("weighted", "unweighted")


class GradientCosineSimilarity(WeightingStrategy):
    """Auxiliary-task gating by gradient cosine similarity.

    Source: Du, Czarnecki, Jayakumar, Farajtabar, Pascanu & Lakshminarayanan, "Adapting auxiliary losses using
    gradient similarity", arXiv 1812.02224 (2018). On the shared parameters, each auxiliary task k adds its
    gradient g_k to the main task's g_main with weight max(0, cos(g_main, g_k)) (``variant="weighted"``, the
    paper's weighted version) or [cos(g_main, g_k) > 0] (``"unweighted"``, its Algorithm 1). Task-specific
    parameters (every head) get the plain sum of the losses, which is the returned ``loss``. ``main`` names the
    main task (default: the first task); every other task is auxiliary. In a batch without a main-task label the
    shared layers get the plain sum. The shared parameters are the model's ``shared_parameters()``: on the
    multi-exit CNN, the blocks before the earliest exit, so give the auxiliary tasks that exit for the gate to
    cover every layer they share with the main task.
    """

    name = "gcs"
    summary = "auxiliary gradients reach the shared layers only when they agree with the main task's (Du et al.)"
    equation = ("GCS: g_shared = g_main + sum_{k != main} w_k g_k,  w_k = max(0, cos(g_main, g_k)) (weighted) or "
                "[cos(g_main, g_k) > 0] (unweighted); heads: sum_k L_k")
    kind = "gradient"
    needs_shared_parameters = True
    ddp_safe = True  # task gradients are averaged over ranks before the cosines are taken

    def __init__(self, task_names: Sequence[str], main: str | None = None, variant: str = "weighted") -> None:
        super().__init__(task_names)
        self.main = self.task_names[0] if main is None else main
        if self.main not in self.task_names:
            raise ConfigError(f"weighting.main: {self.main!r} is not one of the tasks {self.task_names}")
        if variant not in VARIANTS:
            raise ConfigError(f"weighting.variant: {variant!r} is not one of {list(VARIANTS)}")
        self.variant = variant
        self.register_buffer("last_weights", torch.ones(self.num_tasks, dtype=torch.float64))

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        total = stack_losses(losses).sum()
        if not self.updating:  # validation: the plain sum; reported weights are those of the last training step
            return WeightingOutput(loss=total, weights={t: float(self.last_weights[self.index(t)]) for t in losses})
        if not shared_parameters:
            raise ConfigError("weighting: 'gcs' needs shared_parameters=model.shared_parameters()")
        matrix, present = task_gradient_matrix(losses, self.task_names, shared_parameters)
        rows = matrix.double()
        cosines = self.cosines(rows, present)
        weights = self.gate(cosines, present)
        for k, weight in enumerate(weights.tolist()):
            if present[k]:
                self.last_weights[k] = weight
        combined = (weights.unsqueeze(1) * rows).sum(dim=0)
        extras = {f"gcs_cosine.{t}": c for t, c in cosines.items()}
        return WeightingOutput(
            loss=total,
            weights={t: float(weights[self.index(t)]) for t in losses},
            extras=extras,
            shared_gradients=unflatten(combined.to(matrix.dtype), shared_parameters),
        )

    def gate(self, cosines: dict[str, float], present: torch.Tensor) -> torch.Tensor:
        """Weight of each present task's shared gradient: 1 for the main task (and for all when it is absent), else
        the gate of its cosine with the main task's gradient."""
        weights = present.double()
        for task, cosine in cosines.items():
            k = self.index(task)
            weights[k] = max(cosine, 0.0) if self.variant == "weighted" else float(cosine > 0)
        return weights

    def cosines(self, rows: torch.Tensor, present: torch.Tensor) -> dict[str, float]:
        """cos(g_main, g_k) of every present auxiliary task (0 when either gradient is zero)."""
        main = self.index(self.main)
        if not present[main]:
            return {}
        reference = rows[main]
        out = {}
        for k, task in enumerate(self.task_names):
            if k == main or not present[k]:
                continue
            norms = float(reference.norm() * rows[k].norm())
            out[task] = float(reference @ rows[k]) / norms if norms > 0 else 0.0
        return out
