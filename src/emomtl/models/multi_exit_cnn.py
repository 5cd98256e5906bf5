"""``multi_exit_cnn``: the lightweight multi-exit CNN of the DRUW paper (Song et al., ExVo MultiTask 2022).

Five blocks of two 3x3 conv layers (batch norm, ReLU) with 2x2 average pooling on 64-mel log-spectrograms. Each
task leaves the trunk after the block its configuration names (age after block 1, country after 3, emotion after 5
in the paper): the block's maps are averaged over frequency and time and fed to that task's head. Exits come from
``model.exits`` (task -> block, 1-based) or else the task's ``exit_block``; the default is the last block.
Blocks past the deepest exit are not built. :mod:`emomtl.models.exit_search` grid-searches exits on validation.
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
class MultiExitCNNSettings:
    """Paper layout: five blocks; the channel widths are configurable (one entry per block)."""

    channels: list[int] = field(default_factory=lambda: [32, 64, 128, 256, 512])
    convs_per_block: int = 2
    kernel_size: int = 3
    pool: list[int] = field(default_factory=lambda: [2, 2])
    dropout: float = 0.2
    exits: dict[str, int] = field(default_factory=dict)
    head_hidden: int | None = None

    def check(self, where: str) -> None:
        require_positive(
            where, channels=self.channels, convs_per_block=self.convs_per_block, kernel_size=self.kernel_size,
            pool=self.pool,
        )
        require_probability(where, dropout=self.dropout)
        if len(self.pool) != 2:
            raise ConfigError(f"{where}.pool: give [frequency, time] pooling sizes, got {self.pool}")


class ConvBlock(nn.Module):
    """``convs`` x (conv k x k, batch norm, ReLU), then average pooling and dropout."""

    def __init__(self, in_channels: int, channels: int, convs: int, kernel_size: int, pool: Sequence[int],
                 dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(convs):
            layers += [
                nn.Conv2d(in_channels, channels, kernel_size, padding=kernel_size // 2, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            ]
            in_channels = channels
        layers += [nn.AvgPool2d(tuple(pool)), nn.Dropout(dropout)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def resolve_exits(settings: MultiExitCNNSettings, tasks: Sequence[TaskSpec]) -> dict[str, int]:
    """Exit block (1-based) of every task: ``model.exits``, else ``tasks.<name>.exit_block``, else the last block."""
    last = len(settings.channels)
    names = {t.name for t in tasks}
    for name in settings.exits:
        if name not in names:
            raise ConfigError(f"model.exits.{name}: there is no task named {name!r} (tasks: {sorted(names)})")
    exits: dict[str, int] = {}
    for task in tasks:
        if task.name in settings.exits:
            block, setting = settings.exits[task.name], f"model.exits.{task.name}"
        elif task.exit_block is not None:
            block, setting = task.exit_block, f"tasks.{task.name}.exit_block"
        else:
            block, setting = last, ""
        if block > last:
            raise ConfigError(f"{setting}: block {block} is past the last block ({last})")
        if block < 1:
            raise ConfigError(f"{setting}: blocks are numbered from 1, got {block}")
        exits[task.name] = block
    return exits


@register_model
class MultiExitCNN(MultiTaskModel):
    """CNN on log-mel spectrograms whose tasks exit after different blocks."""

    name = "multi_exit_cnn"
    summary = "5-block CNN on 64-mel log-spectrograms, each task exits after its own block (DRUW, ExVo 2022)"
    Settings = MultiExitCNNSettings

    def __init__(
        self, settings: MultiExitCNNSettings, tasks: Sequence[TaskSpec], input_shapes: Mapping[str, tuple[int, ...]]
    ) -> None:
        super().__init__(tasks)
        self.settings = settings
        self.require_inputs(input_shapes, ["logmel"], "model.name", "multi_exit_cnn (log-mel input)")
        self.input_keys = ("logmel",)
        self.exits = resolve_exits(settings, list(self.tasks.values()))
        depth = max(self.exits.values())
        mels, frames = self.input_shape(input_shapes, "logmel", 2, "model.name", "(n_mels, frames)")
        for block in range(1, depth + 1):
            mels, frames = mels // settings.pool[0], frames // settings.pool[1]
            if mels < 1 or frames < 1:
                raise ConfigError(
                    f"model.pool: after block {block} the {tuple(input_shapes['logmel'])} log-mel input has no "
                    f"frequency or time bins left; use fewer blocks, smaller pooling or longer inputs"
                )
        widths = [1] + settings.channels
        self.blocks = nn.ModuleList(
            ConvBlock(widths[i], widths[i + 1], settings.convs_per_block, settings.kernel_size, settings.pool,
                      settings.dropout)
            for i in range(depth)
        )
        self.shared_blocks = min(self.exits.values())
        in_features = {name: settings.channels[block - 1] for name, block in self.exits.items()}
        self.heads = TaskHeads(list(self.tasks.values()), in_features, settings.head_hidden, settings.dropout)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters of the blocks up to the earliest exit: the only ones every task's loss passes through."""
        return [p for block in self.blocks[: self.shared_blocks] for p in block.parameters() if p.requires_grad]

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = inputs["logmel"].unsqueeze(1)
        pooled: dict[int, torch.Tensor] = {}
        wanted = set(self.exits.values())
        for number, block in enumerate(self.blocks, start=1):
            x = block(x)
            if number == self.shared_blocks:
                x = self._remember_shared(x)
            if number in wanted:
                pooled[number] = x.mean(dim=(2, 3))
        return self.heads({name: pooled[block] for name, block in self.exits.items()})
