"""FAMO: fast adaptive multitask optimisation, one loss-based step per iteration, no per-task gradients."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch

from emomtl.errors import ConfigError
from emomtl.weighting import distributed
from emomtl.weighting.base import (
    Losses,
    NonFiniteLossError,
    SharedParameters,
    WeightingOutput,
    WeightingStrategy,
    stack_losses,
)

#: Added to every loss before its logarithm (losses are expected to be >= 0; smaller values are clamped).
LOG_EPS = 1e-8
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


class FAMO(WeightingStrategy):
    """FAMO: L = sum_k (z_k / c) log(L_k + eps), z = softmax(xi), c = sum_k z_k / (L_k + eps).

    Source: Liu et al., "FAMO: fast adaptive multitask optimization", NeurIPS 2023. The effective weight of L_k
    is z_k / (c (L_k + eps)) (they sum to 1). After the optimiser step the logits xi take one Adam step
    (learning rate ``w_lr``, the official code's name; L2 weight decay ``gamma``) on the gradient of z . delta
    w.r.t. xi, where delta_k = log(L_k before) - log(L_k after): tasks whose loss fell least gain weight.
    ``after_step`` gives the losses after the step (the paper recomputes them on the same batch); when the loop
    does not call it, the losses of the next call stand in for them. The logits are buffers with their own Adam
    state, not parameters of the loop's optimiser.
    """

    name = "famo"
    summary = "balances log-loss descent at the cost of a loss-based method (Liu et al.)"
    kind = "loss"
    needs_shared_parameters = False
    ddp_safe = True  # log-losses are averaged over ranks before each logit update: one set of logits

    def __init__(self, task_names: Sequence[str], w_lr: float = 0.025, gamma: float = 1e-5) -> None:
        super().__init__(task_names)
        if not w_lr > 0:
            raise ConfigError(f"weighting.w_lr: must be > 0, got {w_lr!r}")
        if not gamma >= 0:
            raise ConfigError(f"weighting.gamma: must be >= 0, got {gamma!r}")
        self.w_lr = float(w_lr)
        self.gamma = float(gamma)
        k = self.num_tasks
        self.register_buffer("logits", torch.zeros(k, dtype=torch.float64))
        self.register_buffer("adam_m", torch.zeros(k, dtype=torch.float64))
        self.register_buffer("adam_v", torch.zeros(k, dtype=torch.float64))
        self.register_buffer("adam_steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("pending_log_losses", torch.zeros(k, dtype=torch.float64))
        self.register_buffer("pending_present", torch.zeros(k, dtype=torch.bool))
        self.register_buffer("has_pending", torch.zeros((), dtype=torch.bool))

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        if self.updating:
            log_losses, present = self.log_losses(losses)
            if bool(self.has_pending):  # after_step was not called: this step's losses stand in
                self.update(log_losses, present)
            self.pending_log_losses.copy_(log_losses)
            self.pending_present.copy_(present)
            self.has_pending.fill_(True)

        index = torch.tensor([self.index(t) for t in losses])
        z = torch.softmax(self.logits[index], dim=0)
        values = stack_losses(losses)
        shifted = values.clamp(min=0) + LOG_EPS
        c = (z.to(values) / shifted.detach()).sum()
        total = (z.to(values) / c * torch.log(shifted)).sum()
        weights = (z.to(values) / (c * shifted)).detach()
        extras = {f"famo_logit.{t}": float(x) for t, x in zip(self.task_names, self.logits)}
        return WeightingOutput(loss=total, weights={t: float(w) for t, w in zip(losses, weights)}, extras=extras)

    def after_step(self, losses_after: Mapping[str, torch.Tensor | float | None]) -> None:
        """Update the logits from the losses of the same batch after the optimiser step (call on every rank)."""
        present_after = {t: v for t, v in losses_after.items() if v is not None}
        unknown = sorted(set(present_after) - set(self.task_names))
        if unknown:
            raise ConfigError(f"weighting: after_step got unknown task(s) {unknown}; valid: {self.task_names}")
        log_losses, present = self.log_losses(present_after)
        self.update(log_losses, present)

    def log_losses(self, losses: Mapping[str, torch.Tensor | float]) -> tuple[torch.Tensor, torch.Tensor]:
        """log(L_k + eps) over all tasks (averaged over ranks; 0 where absent) and the presence mask."""
        out = torch.zeros(self.num_tasks, dtype=torch.float64)
        for task, value in losses.items():
            value = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(value):
                raise NonFiniteLossError(task, value)
            out[self.index(task)] = math.log(max(value, 0.0) + LOG_EPS)
        return distributed.masked_mean(out.to(self.logits.device), self.present_mask(losses))

    @torch.no_grad()
    def update(self, log_losses_after: torch.Tensor, present_after: torch.Tensor) -> None:
        """One Adam step on xi with grad d(z . delta)/d xi over the tasks present before and after."""
        if not bool(self.has_pending):
            return
        both = self.pending_present & present_after
        delta = self.pending_log_losses - log_losses_after
        self.has_pending.fill_(False)
        if not bool(both.any()):
            return
        z = torch.softmax(self.logits[both], dim=0)
        d = delta[both]
        grad = torch.zeros_like(self.logits)
        grad[both] = z * (d - (z * d).sum()) + self.gamma * self.logits[both]
        self.adam_steps += 1
        beta1, beta2 = ADAM_BETAS
        self.adam_m[both] = beta1 * self.adam_m[both] + (1 - beta1) * grad[both]
        self.adam_v[both] = beta2 * self.adam_v[both] + (1 - beta2) * grad[both] ** 2
        step = int(self.adam_steps)
        m_hat = self.adam_m[both] / (1 - beta1**step)
        v_hat = self.adam_v[both] / (1 - beta2**step)
        self.logits[both] -= self.w_lr * m_hat / (v_hat.sqrt() + ADAM_EPS)
