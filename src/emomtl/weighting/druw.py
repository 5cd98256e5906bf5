"""Dynamic Restrained Uncertainty Weighting: DWA weights on top of restrained uncertainty weighting."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from emomtl.weighting.base import Losses, SharedParameters, WeightingOutput, stack_losses
from emomtl.weighting.dwa import LossDescent, descent_extras, end_epoch
from emomtl.weighting.uncertainty import RestrainedUncertaintyWeighting


class DynamicRestrainedUncertaintyWeighting(RestrainedUncertaintyWeighting):
    """DRUW: L = sum_k [lambda_k c_k exp(-s_k) L_k + R(s_k)] + |phi - sum_k |ln alpha_k||.

    Source: Song et al., "Dynamic restrained uncertainty weighting loss for multitask learning of vocal
    expression", 2022. lambda_k = K softmax(r_k / T) are the DWA weights (``dwa``; T = 10 and epoch periods as in
    the paper), s_k = ln alpha_k^2 learnable, c_k = 1/2 (regression) or 1 (classification), R the RUW
    regulariser (``regularizer="liebel"``: ln(1 + alpha^2); ``"printed"``: the paper's guarded ln(1 + ln alpha^2),
    see ``ruw``), phi = 1 by default. The reported weight of a task is lambda_k c_k exp(-s_k).
    """

    name = "druw"
    summary = "DWA weights on restrained uncertainty weighting (Song et al.)"
    ddp_safe = True  # log-variances via all_reduce_grads; DWA period means are averaged over ranks

    def __init__(
        self,
        task_names: Sequence[str],
        T: float = 10.0,
        period: str | int = "epoch",
        phi: float = 1.0,
        regularizer: str = "liebel",
        init_log_var: float | Mapping[str, float] = 0.0,
        task_kinds: Mapping[str, str] | None = None,
        log_var_bounds: Sequence[float] = (-20.0, 20.0),
    ) -> None:
        super().__init__(task_names, init_log_var, task_kinds, log_var_bounds, regularizer, phi)
        self.descent = LossDescent(self.num_tasks, T, period)

    def loss_scale(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        lambdas, _ = self.descent.weights()
        index = torch.tensor([self.index(t) for t in losses])
        return lambdas[index].to(self.log_vars)

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        lambdas, ratios = self.descent.weights()
        out = super().combine(losses, shared_parameters, representation)
        out.extras.update(descent_extras(self.task_names, lambdas, ratios))
        if self.updating:
            index = torch.tensor([self.index(t) for t in losses])
            self.descent.record(index, stack_losses(losses).detach())
        return out

    def end_epoch(self, mean_losses: Mapping[str, float]) -> None:
        end_epoch(self, self.descent, mean_losses)
