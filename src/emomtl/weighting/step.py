"""How a training loop drives a strategy, in one place: what the strategy is handed each step and what it hands back.

The loop asks :func:`shared_parameters_for` once per epoch (a masked branch may leave the shared set), calls
:func:`weigh` between ``optimizer.zero_grad()`` and the backward pass, then :func:`write_shared_gradients`. The
strategy itself still never sees a model: these helpers receive the model's accessors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from emomtl.weighting.base import WeightingOutput, WeightingStrategy


def shared_parameters_for(strategy: WeightingStrategy,
                          shared_parameters: Callable[[], Sequence[torch.nn.Parameter]]
                          ) -> list[torch.nn.Parameter] | None:
    """The shared parameters for a gradient-based strategy (``None`` for the others)."""
    return list(shared_parameters()) if strategy.needs_shared_parameters else None


def weigh(strategy: WeightingStrategy, losses: Mapping[str, torch.Tensor], shared: list[torch.nn.Parameter] | None,
          representation: Callable[[], torch.Tensor | None]) -> WeightingOutput:
    """One strategy step; the shared representation (MGDA-UB) is handed over only when the strategy wants it."""
    return strategy(losses, shared_parameters=shared,
                    representation=representation() if strategy.wants_representation else None)


def write_shared_gradients(out: WeightingOutput, shared: list[torch.nn.Parameter] | None) -> None:
    """After the backward pass: the strategy's combined gradients (PCGrad, MGDA, ...) replace the shared ``.grad``."""
    if out.shared_gradients is None or shared is None:
        return
    for parameter, gradient in zip(shared, out.shared_gradients):
        parameter.grad = gradient.detach().clone() if gradient is not None else None


def wants_losses_after(strategy: WeightingStrategy) -> bool:
    """Strategies such as FAMO update from the same batch's losses after the optimiser step."""
    return type(strategy).after_step is not WeightingStrategy.after_step
