"""Task heads: one small network per task, returning what the task's loss expects.

Classification heads return logits (``loss: ce``) or log-probabilities (``loss: nll``); regression heads return
the task's activated values, shape ``(B,)`` for ``regression`` and ``(B, k)`` for ``multi_regression``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emomtl.errors import ConfigError
from emomtl.models.tasks import TaskSpec, apply_activation


def finalize_output(task: TaskSpec, raw: torch.Tensor) -> torch.Tensor:
    """Turn a head's raw ``(B, output_dim)`` output into the task's output convention."""
    if task.kind == "classification":
        return F.log_softmax(raw, dim=-1) if task.loss == "nll" else raw
    activated = apply_activation(task, raw)
    return activated[:, 0] if task.kind == "regression" else activated


class TaskHead(nn.Module):
    """Dropout, an optional hidden layer, and a linear output layer of ``task.output_dim`` units."""

    def __init__(self, task: TaskSpec, in_features: int, hidden: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.task = task
        layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout > 0 else []
        if hidden:
            layers += [nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout) if dropout > 0 else nn.Identity()]
            in_features = hidden
        layers.append(nn.Linear(in_features, task.output_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return finalize_output(self.task, self.net(features))


class TaskHeads(nn.ModuleDict):
    """A head per task, keyed by task name.

    ``in_features`` is one width for all heads or a mapping task -> width (multi-exit models).
    """

    def __init__(
        self,
        tasks: Sequence[TaskSpec],
        in_features: int | Mapping[str, int],
        hidden: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for task in tasks:
            width = in_features[task.name] if isinstance(in_features, Mapping) else in_features
            try:
                self[task.name] = TaskHead(task, width, hidden, dropout)
            except KeyError as error:  # names such as "keys" or "train" clash with nn.Module attributes
                raise ConfigError(f"tasks.{task.name}: the name clashes with a PyTorch attribute; rename it") from error

    def forward(  # type: ignore[override]
        self, features: torch.Tensor | Mapping[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Apply every head to ``features`` (one tensor, or a tensor per task)."""
        if isinstance(features, Mapping):
            return {name: head(features[name]) for name, head in self.items()}
        return {name: head(features) for name, head in self.items()}


def check_tasks(tasks: Sequence[TaskSpec]) -> list[TaskSpec]:
    """A model needs at least one task, unique names usable as module keys, and fitted classes."""
    tasks = list(tasks)
    if not tasks:
        raise ConfigError("tasks: a model needs at least one task")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ConfigError(f"tasks: duplicate task names in {names}")
    for task in tasks:
        if not task.name or "." in task.name:
            raise ConfigError(f"tasks.{task.name}: a task name must be non-empty and contain no '.'")
        task.output_dim  # raises ConfigError when classes are not fitted yet
    return tasks
