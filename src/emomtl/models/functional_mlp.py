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
    #: How an input of shape ``(layers, dim)`` (pooled encoder layers) becomes one vector: ``"softmax"`` (a learnable
    #: softmax-weighted sum over layers, logits initialised to 0: the SUPERB convention), ``"concat"``, or an int
    #: (a row of the input, i.e. a position in ``features.<name>.layers``, not a hidden-state index; a recipe whose
    #: list makes the two differ is refused). ``None`` accepts vectors only.
    layer_mix: str | int | None = None
    #: Tasks that read other inputs than ``inputs`` (e.g. ``{gender: [whisper_low]}``: gender from a low encoder layer
    #: with global standardisation while emotion reads a middle layer standardised per speaker). Tasks with the same
    #: inputs share one trunk.
    task_inputs: dict[str, list[str]] = field(default_factory=dict)

    def check(self, where: str) -> None:
        if self.hidden:
            require_positive(where, hidden=self.hidden)
        require_probability(where, dropout=self.dropout)
        require_probability(where, input_dropout=self.input_dropout)
        if not (self.layer_mix is None or self.layer_mix in LAYER_MIXES
                or (isinstance(self.layer_mix, int) and not isinstance(self.layer_mix, bool))):
            raise ConfigError(f"{where}.layer_mix: {self.layer_mix!r} is not null, "
                              f"an int or one of {list(LAYER_MIXES)}")


LAYER_MIXES = ("softmax", "concat")


class LayerMix(nn.Module):
    """``(batch, layers, dim)`` -> ``(batch, dim)`` by a learnable softmax-weighted sum (SUPERB), a concatenation
    or one chosen layer; vectors pass through."""

    def __init__(self, mode: str | int, layers: int) -> None:
        super().__init__()
        self.mode = mode
        if mode == "softmax":
            self.logits = nn.Parameter(torch.zeros(layers))
        elif isinstance(mode, int) and not -layers <= mode < layers:
            raise ConfigError(f"model.layer_mix: layer {mode} of an input with {layers} layers")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return x
        if self.mode == "softmax":
            return torch.einsum("l,bld->bd", torch.softmax(self.logits, dim=0), x)
        if self.mode == "concat":
            return x.flatten(1)
        return x[:, self.mode]

    def width(self, shape: tuple[int, ...]) -> int:
        if len(shape) == 1:
            return shape[0]
        return shape[0] * shape[1] if self.mode == "concat" else shape[1]


class Trunk(nn.Module):
    """Layer mixes of its inputs, concatenation, optional batch norm and input dropout, then ReLU layers."""

    def __init__(self, settings: FunctionalMLPSettings, keys: Sequence[str],
                 shapes: Mapping[str, tuple[int, ...]]) -> None:
        super().__init__()
        self.keys = tuple(keys)
        self.mixes = nn.ModuleDict({key: LayerMix(settings.layer_mix, shapes[key][0])
                                    for key in self.keys if len(shapes[key]) == 2})
        width = sum(self.mixes[key].width(shapes[key]) if key in self.mixes else shapes[key][0] for key in self.keys)
        layers: list[nn.Module] = [nn.BatchNorm1d(width)] if settings.input_batchnorm else []
        if settings.input_dropout:  # drops whole functionals: a regulariser for thousands of correlated inputs
            layers.append(nn.Dropout(settings.input_dropout))
        for hidden in settings.hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(settings.dropout)]
            width = hidden
        self.layers = nn.Sequential(*layers)
        self.width = width

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        parts = [self.mixes[key](inputs[key]) if key in self.mixes else inputs[key] for key in self.keys]
        return self.layers(torch.cat(parts, dim=1))


@register_model
class FunctionalMLP(MultiTaskModel):
    """Shared MLP trunk on an utterance-level feature vector (or pooled encoder layers, mixed per input)."""

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
        # entries of tasks this model lacks (a single-task arm of a multi-task recipe) do not apply; names that are
        # no task of the recipe at all are refused by the plan (training.plan.check_arms)
        groups: dict[tuple[str, ...], list[str]] = {}
        for task in self.tasks:
            keys = tuple(settings.task_inputs.get(task) or settings.inputs)
            groups.setdefault(keys, []).append(task)
        shapes = {}
        for keys in groups:
            where = "model.task_inputs" if keys != tuple(settings.inputs) else "model.inputs"
            self.require_inputs(input_shapes, keys, where, "functional_mlp (utterance-level vectors)")
            for key in keys:
                allowed = (1, 2) if settings.layer_mix is not None else (1,)
                shape = tuple(input_shapes[key])
                if len(shape) not in allowed:
                    self.input_shape(input_shapes, key, 1, where, "(dim,)" if settings.layer_mix is None
                                     else "(dim,) or (layers, dim)")
                shapes[key] = shape
        self.input_keys = tuple(dict.fromkeys(k for keys in groups for k in keys))
        main = tuple(settings.inputs)
        self.trunk_of = {task: keys for keys, names in groups.items() for task in names}
        main_trunk = Trunk(settings, main, shapes)
        self.trunk, self.mixes, self.width = main_trunk.layers, main_trunk.mixes, main_trunk.width
        self.task_trunks = nn.ModuleDict({"+".join(keys): Trunk(settings, keys, shapes)
                                          for keys in groups if keys != main})
        widths = {task: self.width if keys == main else self.task_trunks["+".join(keys)].width
                  for task, keys in self.trunk_of.items()}
        self.heads = TaskHeads(list(self.tasks.values()), widths, settings.head_hidden, 0.0)

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        main = self.settings.inputs
        parts = [self.mixes[key](inputs[key]) if key in self.mixes else inputs[key] for key in main]
        shared = self._remember_shared(self.trunk(torch.cat(parts, dim=1)))
        features = {key: trunk(inputs) for key, trunk in self.task_trunks.items()}
        return self.heads({task: shared if keys == tuple(self.settings.inputs) else features["+".join(keys)]
                           for task, keys in self.trunk_of.items()})
