"""GradNorm: learn loss weights that equalise the tasks' gradient norms on the shared parameters."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.weighting import distributed
from emomtl.weighting.base import Losses, SharedParameters, WeightingOutput, WeightingStrategy, loss_vector
from emomtl.weighting.gradients import task_gradient_matrix

#: Weights are kept at least this large before renormalisation (a weight must stay positive).
MIN_WEIGHT = 1e-6


class GradNorm(WeightingStrategy):
    """GradNorm: L = sum_k w_k L_k; w follows dL_grad/dw, L_grad = sum_k |G_k - mean_j(G_j) r_k^alpha|.

    Source: Chen et al., "GradNorm: gradient normalization for adaptive loss balancing in deep multitask
    networks", ICML 2018. G_k = w_k ||dL_k/dtheta|| on the shared parameters theta, r_k = Ltilde_k / mean_j
    Ltilde_j with Ltilde_k = L_k / L_k(0) (L_k(0): the task's first loss), the target mean_j(G_j) r_k^alpha
    held constant. The forward pass writes dL_grad/dw into ``task_weights.grad`` (call it after
    ``optimiser.zero_grad()``), so the loop's optimiser step applies the update; at the next call the weights
    are renormalised to sum to K. The returned loss uses the weights detached.
    """

    name = "gradnorm"
    summary = "learned weights that equalise per-task gradient norms (Chen et al.)"
    kind = "gradient"
    needs_shared_parameters = True
    ddp_safe = True  # task gradients and losses are averaged over ranks, so every rank sets the same w.grad

    def __init__(self, task_names: Sequence[str], alpha: float = 1.5) -> None:
        super().__init__(task_names)
        if not alpha >= 0:
            raise ConfigError(f"weighting.alpha: must be >= 0, got {alpha!r}")
        self.alpha = float(alpha)
        self.task_weights = nn.Parameter(torch.ones(self.num_tasks))
        self.register_buffer("initial_losses", torch.full((self.num_tasks,), float("nan"), dtype=torch.float64))

    @torch.no_grad()
    def renormalize(self) -> None:
        """w <- K w / sum(w), after clamping every weight to at least MIN_WEIGHT."""
        w = self.task_weights
        w.clamp_(min=MIN_WEIGHT)
        w.mul_(self.num_tasks / w.sum())

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        if not self.updating:
            w = self.task_weights.detach().clamp(min=MIN_WEIGHT)
            w = w * self.num_tasks / w.sum()
            weights = {t: w[self.index(t)] for t in losses}
            total = sum(weights[t].to(loss.dtype) * loss for t, loss in losses.items())
            return WeightingOutput(loss=total, weights={t: float(v) for t, v in weights.items()})
        if shared_parameters is None:
            raise ConfigError("weighting: 'gradnorm' needs shared_parameters (a representation is not enough)")
        self.renormalize()
        matrix, present = task_gradient_matrix(losses, self.task_names, shared_parameters)
        device = self.initial_losses.device
        grad_norms, present = matrix.double().norm(dim=1).to(device), present.to(device)
        values, _ = distributed.masked_mean(loss_vector(losses, self.task_names).to(device), self.present_mask(losses))
        first = present & torch.isnan(self.initial_losses)
        self.initial_losses[first] = values[first]

        w = self.task_weights.detach().double()
        weighted_norms = w * grad_norms
        relative = values / self.initial_losses.clamp(min=1e-12)
        rates = relative / relative[present].mean().clamp(min=1e-12)
        target = weighted_norms[present].mean() * rates.clamp(min=0) ** self.alpha
        grad_w = torch.where(present, torch.sign(weighted_norms - target) * grad_norms, torch.zeros_like(w))
        grad_w = torch.nan_to_num(grad_w, nan=0.0, posinf=0.0, neginf=0.0).to(self.task_weights)
        if self.task_weights.grad is None:
            self.task_weights.grad = grad_w
        else:
            self.task_weights.grad += grad_w

        weights = {t: self.task_weights[self.index(t)].detach() for t in losses}
        total = sum(weights[t].to(loss.dtype) * loss for t, loss in losses.items())
        extras = {}
        for k, task in enumerate(self.task_names):
            if present[k]:
                extras[f"gradnorm_grad_norm.{task}"] = float(weighted_norms[k])
                extras[f"gradnorm_target.{task}"] = float(target[k])
        return WeightingOutput(loss=total, weights={t: float(w) for t, w in weights.items()}, extras=extras)
