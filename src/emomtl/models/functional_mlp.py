"""``functional_mlp``: an MLP on openSMILE functionals (eGeMAPS 88 / ComParE 6373 dims).

The family of the official ExVo MultiTask baseline and the fast CPU reference: batch-normalised input, hidden
layers of ReLU units with dropout, a head per task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.models.base import MultiTaskModel
from emomtl.models.heads import TaskHeads
from emomtl.models.registry import register_model
from emomtl.models.settings import require_positive, require_probability
from emomtl.models.tasks import TaskSpec


@dataclass
class FunctionalMLPSettings:
    """Baseline sizes."""

    hidden: list[int] = field(default_factory=lambda: [256, 128])
    #: Vector inputs concatenated in this order (feature fusion, e.g. ComParE + eGeMAPS functionals).
    inputs: list[str] = field(default_factory=lambda: ["functionals"])
    dropout: float = 0.3
    input_dropout: float = 0.0
    input_batchnorm: bool = True
    head_hidden: int | None = None

    def check(self, where: str) -> None:
        if self.hidden:
            require_positive(where, hidden=self.hidden)
        require_probability(where, dropout=self.dropout)
        require_probability(where, input_dropout=self.input_dropout)


@register_model
class FunctionalMLP(MultiTaskModel):
    """Shared MLP trunk on an utterance-level feature vector."""

    name = "functional_mlp"
    summary = "MLP on openSMILE functionals (eGeMAPS / ComParE); ExVo baseline family, fast CPU reference"
    Settings = FunctionalMLPSettings

    def __init__(
        self, settings: FunctionalMLPSettings, tasks: Sequence[TaskSpec], input_shapes: Mapping[str, tuple[int, ...]]
    ) -> None:
        super().__init__(tasks)
        self.settings = settings
        if not settings.inputs:
            raise ConfigError("model.inputs: functional_mlp needs at least one vector input")
        self.require_inputs(input_shapes, settings.inputs, "model.inputs", "functional_mlp (utterance-level vectors)")
        self.input_keys = tuple(settings.inputs)
        width = sum(self.input_shape(input_shapes, key, 1, "model.inputs", "(dim,)")[0] for key in self.input_keys)
        layers: list[nn.Module] = [nn.BatchNorm1d(width)] if settings.input_batchnorm else []
        if settings.input_dropout:  # drops whole functionals: a regulariser for thousands of correlated inputs
            layers.append(nn.Dropout(settings.input_dropout))
        for hidden in settings.hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(settings.dropout)]
            width = hidden
        self.trunk = nn.Sequential(*layers)
        self.heads = TaskHeads(list(self.tasks.values()), width, settings.head_hidden, 0.0)

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        features = torch.cat([inputs[key] for key in self.input_keys], dim=1)
        return self.heads(self._remember_shared(self.trunk(features)))
