"""Toy models and a minimal training step that follows the weighting step protocol (shared by the tests)."""

from __future__ import annotations

from typing import Callable, Mapping

import torch
from torch import nn

from emomtl.weighting import WeightingOutput, WeightingStrategy

TASKS = ["emotion", "gender", "arousal"]


class ToyModel(nn.Module):
    """A shared linear trunk and one linear head per task."""

    def __init__(self, tasks: list[str] = TASKS, features: int = 4, hidden: int = 6, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.trunk = nn.Linear(features, hidden)
        self.heads = nn.ModuleDict({t: nn.Linear(hidden, 1) for t in tasks})
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)

    def representation(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.trunk(x))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.representation(x)
        return {t: head(h).squeeze(-1) for t, head in self.heads.items()}

    def shared_parameters(self):
        return self.trunk.parameters()


def make_batches(steps: int, tasks: list[str] = TASKS, batch: int = 8, seed: int = 1) -> list[dict]:
    """Random regression batches; targets of task k are scaled by k + 1."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(steps):
        x = torch.randn(batch, 4, generator=generator)
        targets = {t: (k + 1) * torch.randn(batch, generator=generator) for k, t in enumerate(tasks)}
        batches.append({"x": x, "targets": targets})
    return batches


def task_losses(model: ToyModel, batch: dict, drop: tuple[str, ...] = (), scale: Mapping[str, float] | None = None):
    outputs = model(batch["x"])
    scale = scale or {}
    return {
        t: scale.get(t, 1.0) * (outputs[t] - batch["targets"][t]).pow(2).mean()
        for t in outputs
        if t not in drop
    }


def training_step(
    model: ToyModel,
    strategy: WeightingStrategy,
    optimiser: torch.optim.Optimizer,
    losses_fn: Callable[[], dict[str, torch.Tensor]],
) -> WeightingOutput:
    """zero_grad -> strategy -> backward -> write shared gradients -> optimiser step (the loop's protocol)."""
    optimiser.zero_grad(set_to_none=True)
    losses = losses_fn()
    shared = list(model.shared_parameters())
    out = strategy(losses, shared_parameters=shared)
    out.loss.backward()
    if out.shared_gradients is not None:
        for p, g in zip(shared, out.shared_gradients):
            p.grad = g
    strategy.all_reduce_grads()
    optimiser.step()
    return out


def optimiser_for(model: nn.Module, strategy: WeightingStrategy, lr: float = 1e-2) -> torch.optim.Optimizer:
    return torch.optim.Adam(list(model.parameters()) + list(strategy.parameters()), lr=lr)
