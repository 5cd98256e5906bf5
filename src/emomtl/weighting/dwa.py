"""Dynamic Weight Average: weights from how fast each task's loss went down over the last two periods."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch
from torch import nn

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

#: Added to both losses of a ratio so zero losses give finite ratios (two zeros give 1).
RATIO_EPS = 1e-12


def parse_period(period: str | int) -> int:
    """``"epoch"`` -> 0, ``"step"`` -> 1, a positive int N -> a window of N steps."""
    if period == "epoch":
        return 0
    if period == "step":
        return 1
    if isinstance(period, int) and not isinstance(period, bool) and period >= 1:
        return period
    if isinstance(period, str) and period.isdigit() and int(period) >= 1:
        return int(period)
    raise ConfigError(f"weighting.period: {period!r} is not 'epoch', 'step' or a positive number of steps")


class LossDescent(nn.Module):
    """Running per-task loss means over periods, and the DWA weights they give.

    A period closes at each ``end_epoch`` (``period="epoch"``) or every N calls of :meth:`record` (a window of N
    steps; ``"step"`` is N = 1). A task keeps the means of the last two periods in which it had a loss; its
    ratio is 1 until it has two. All weights are 1 until two periods have closed.
    """

    def __init__(self, num_tasks: int, temperature: float, period: str | int) -> None:
        super().__init__()
        if not temperature > 0:
            raise ConfigError(f"weighting.T: must be > 0, got {temperature!r}")
        self.temperature = float(temperature)
        self.window = parse_period(period)
        nan = torch.full((num_tasks,), float("nan"), dtype=torch.float64)
        self.register_buffer("last", nan.clone())
        self.register_buffer("before_last", nan.clone())
        self.register_buffer("period_sum", torch.zeros(num_tasks, dtype=torch.float64))
        self.register_buffer("period_count", torch.zeros(num_tasks, dtype=torch.float64))
        self.register_buffer("periods_closed", torch.zeros((), dtype=torch.long))
        self.register_buffer("steps_in_period", torch.zeros((), dtype=torch.long))

    def ratios(self) -> torch.Tensor:
        """r_k = L_k(t-1) / L_k(t-2), 1 where a task has fewer than two periods."""
        known = torch.isfinite(self.last) & torch.isfinite(self.before_last)
        ratio = (self.last + RATIO_EPS) / (self.before_last + RATIO_EPS)
        ratio = torch.nan_to_num(ratio, nan=1.0, posinf=torch.finfo(torch.float64).max)
        return torch.where(known, ratio, torch.ones_like(ratio))

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(lambda_k = K softmax(r_k / T), r_k); all ones for the first two periods."""
        ratios = self.ratios()
        if int(self.periods_closed) < 2:
            return torch.ones_like(ratios), ratios
        return len(ratios) * torch.softmax(ratios / self.temperature, dim=0), ratios

    def record(self, index: torch.Tensor, values: torch.Tensor) -> None:
        """Add one step's detached losses of the tasks at ``index``; closes a window when it is full."""
        self.period_sum[index] += values.detach().to(self.period_sum)
        self.period_count[index] += 1
        self.steps_in_period += 1
        if self.window and int(self.steps_in_period) >= self.window:
            self.close()

    def close(self, overrides: Mapping[int, float] | None = None) -> None:
        """Close a period with the accumulated means (``overrides``: task index -> mean to use instead)."""
        present = self.period_count > 0
        means = self.period_sum / self.period_count.clamp(min=1)
        for k, value in (overrides or {}).items():
            means[k] = float(value)
            present[k] = True
        means, present = distributed.masked_mean(means, present)
        self.before_last.copy_(torch.where(present, self.last, self.before_last))
        self.last.copy_(torch.where(present, means, self.last))
        self.periods_closed += 1
        self.period_sum.zero_()
        self.period_count.zero_()
        self.steps_in_period.zero_()


class DynamicWeightAverage(WeightingStrategy):
    """Dynamic Weight Average (DRUW paper Eq. 3).

    Source: Liu, Johns & Davison, "End-to-end multi-task learning with attention", CVPR 2019; Song et al. 2022,
    Eq. 3. L_k(t) is the mean
    loss of task k over period t; lambda_k = 1 for the first two periods. T = 2 as published (10 in the DRUW
    recipe). ``period`` is ``"epoch"`` (as published; closed by ``end_epoch``, whose mean losses take precedence
    over the strategy's own running means), ``"step"``, or a window of N steps, because published
    implementations differ. lambda is computed over all tasks; a task absent this step simply drops out.
    """

    name = "dwa"
    summary = "dynamic weight average from loss-descent ratios (Liu et al.; DRUW paper Eq. 3)"
    equation = (
        "Eq. 3 (DWA): L = sum_k lambda_k(t) L_k,  lambda_k(t) = K exp(r_k(t-1) / T) / sum_i exp(r_i(t-1) / T),"
        "  r_k(t-1) = L_k(t-1) / L_k(t-2)"
    )
    kind = "loss"
    needs_shared_parameters = False
    ddp_safe = True  # period means are averaged over ranks when a period closes, so every rank has one history

    def __init__(self, task_names: Sequence[str], T: float = 2.0, period: str | int = "epoch") -> None:
        super().__init__(task_names)
        self.descent = LossDescent(self.num_tasks, T, period)

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        lambdas, ratios = self.descent.weights()
        index = torch.tensor([self.index(t) for t in losses])
        values = stack_losses(losses)
        weights = lambdas[index].to(values)
        total = (weights * values).sum()
        if self.updating:
            self.descent.record(index, values)
        return WeightingOutput(
            loss=total,
            weights={t: float(w) for t, w in zip(losses, weights)},
            extras=descent_extras(self.task_names, lambdas, ratios),
        )

    def end_epoch(self, mean_losses: Mapping[str, float]) -> None:
        end_epoch(self, self.descent, mean_losses)


def end_epoch(strategy: WeightingStrategy, descent: LossDescent, mean_losses: Mapping[str, float]) -> None:
    """Close an epoch period of ``descent`` (no-op for step or window periods)."""
    if descent.window:
        return
    unknown = sorted(set(mean_losses) - set(strategy.task_names))
    if unknown:
        raise ConfigError(
            f"weighting: end_epoch got losses for unknown task(s) {unknown}; valid: {strategy.task_names}"
        )
    overrides = {}
    for task, value in mean_losses.items():
        if value is None:
            continue
        value = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
        if not math.isfinite(value):
            raise NonFiniteLossError(task, value)
        overrides[strategy.index(task)] = value
    descent.close(overrides)


def descent_extras(task_names: list[str], lambdas: torch.Tensor, ratios: torch.Tensor) -> dict[str, float]:
    extras = {f"dwa_ratio.{t}": float(r) for t, r in zip(task_names, ratios)}
    extras.update({f"dwa_lambda.{t}": float(w) for t, w in zip(task_names, lambdas)})
    return extras
