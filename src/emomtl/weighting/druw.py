"""Dynamic Restrained Uncertainty Weighting (DRUW paper Eq. 5), and a product variant that is not in the paper."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch

from emomtl.weighting.base import Losses, SharedParameters, WeightingOutput, stack_losses
from emomtl.weighting.dwa import LossDescent, descent_extras, end_epoch
from emomtl.weighting.uncertainty import RestrainedUncertaintyWeighting


class DynamicRestrainedUncertaintyWeighting(RestrainedUncertaintyWeighting):
    """DRUW as published: the DWA term and the restrained uncertainty term are added, not multiplied.

    Source: Song et al., "Dynamic restrained uncertainty weighting loss for multitask learning of vocal
    expression", 2022, Eq. 5. lambda_k(t) = K softmax_k(r_k(t-1) / T) are the DWA weights of Eq. 3 (``dwa``;
    T = 10 and epoch periods as in the paper; 1 for the first two periods), s_k = ln alpha_k^2 learnable,
    c_k the precision factor (``precision_factor``, 1 as in the paper), R the RUW regulariser of Eq. 2
    (``regularizer="liebel"``: ln(1 + alpha^2), default; ``"printed"``: the paper's guarded ln(1 + ln alpha^2),
    see ``ruw``), phi = 1 by default. The reported weight of a task is lambda_k + c_k exp(-s_k), which is 2 at
    initialisation (alpha = 1, lambda = 1).
    """

    name = "druw"
    summary = "DWA weights plus restrained uncertainty weighting, as published (Song et al.; Eq. 5)"
    equation = (
        "Eq. 5 (DRUW): L = sum_k [ lambda_k(t) L_k + c_k exp(-s_k) L_k + R(s_k) ] + |phi - sum_k |ln alpha_k||,"
        "  lambda_k(t) of Eq. 3"
    )
    ddp_safe = True  # log-variances via all_reduce_grads; DWA period means are averaged over ranks

    def __init__(
        self,
        task_names: Sequence[str],
        T: float = 10.0,
        period: str | int = "epoch",
        phi: float = 1.0,
        regularizer: str = "liebel",
        init_log_var: float | Mapping[str, float] = 0.0,
        precision_factor: str = "paper",
        task_kinds: Mapping[str, str] | None = None,
        log_var_bounds: Sequence[float] = (-20.0, 20.0),
    ) -> None:
        super().__init__(task_names, init_log_var, precision_factor, task_kinds, log_var_bounds, regularizer, phi)
        self.descent = LossDescent(self.num_tasks, T, period)

    def dwa_lambdas(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        lambdas, _ = self.descent.weights()
        index = torch.tensor([self.index(t) for t in losses])
        return lambdas[index].to(self.log_vars)

    def task_weights(self, losses: Mapping[str, torch.Tensor], precisions: torch.Tensor) -> torch.Tensor:
        return self.dwa_lambdas(losses) + precisions

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


class ProductDRUW(DynamicRestrainedUncertaintyWeighting):
    """A variant NOT in the paper: the DWA weight multiplies the precision instead of being added to it.

    emomtl's ``druw`` before issue #16. The reported weight of a task is lambda_k c_k exp(-s_k), 1 at
    initialisation; everything else (lambda_k, c_k, R, the restraint, the settings) is as in ``druw``.
    """

    name = "druw_product"
    summary = "variant not in the paper: DWA weight times the restrained uncertainty precision"
    equation = (
        "not in the paper: L = sum_k [ lambda_k(t) c_k exp(-s_k) L_k + R(s_k) ] + |phi - sum_k |ln alpha_k||"
    )

    def task_weights(self, losses: Mapping[str, torch.Tensor], precisions: torch.Tensor) -> torch.Tensor:
        return self.dwa_lambdas(losses) * precisions
