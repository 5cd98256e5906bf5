"""The contract every architecture implements: inputs dict in, task outputs dict out.

A model consumes the batch keys in ``input_keys`` (and, when present, ``optional_input_keys``), returns
``{task_name: output}`` through its :class:`~emomtl.models.heads.TaskHeads`, and never weights losses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.models.heads import TaskHeads, check_tasks
from emomtl.models.tasks import TaskSpec


class MultiTaskModel(nn.Module):
    """Base class of the architectures in :mod:`emomtl.models`.

    Subclasses set ``name``, ``summary`` (one line for ``emomtl model list``), ``Settings`` (a dataclass whose
    defaults are the paper's sizes), ``input_keys`` and ``self.heads``, and implement :meth:`forward`.

    After each forward, ``last_shared_representation`` holds the tensor every task's output is computed from
    (for MGDA-UB style weighting that differentiates with respect to the shared representation).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Settings: ClassVar[type]
    #: True for models fitted in closed form by :mod:`emomtl.training.classical` (``linear_svm``), not by the loop.
    classical: ClassVar[bool] = False
    #: Inputs the model joins time step by time step (e.g. a waveform and its video frames): their recipe
    #: ``inputs`` must crop alike, so they cover the same moments (``runtime.batches.check_aligned_crops``,
    #: at training).
    aligned_inputs: ClassVar[tuple[str, ...]] = ()

    def learning_rate_groups(self) -> list[dict[str, Any]]:
        """Parts of the model trained at their own learning rate: ``{"name", "params", "lr"}`` each (default: none;
        everything else trains at ``optim.lr``)."""
        return []

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        super().__init__()
        self.tasks: dict[str, TaskSpec] = {t.name: t for t in check_tasks(tasks)}
        self.input_keys: tuple[str, ...] = ()
        self.optional_input_keys: tuple[str, ...] = ()
        self.heads: TaskHeads
        self.last_shared_representation: torch.Tensor | None = None

    # ------------------------------------------------------------------ contract
    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def shared_parameters(self) -> list[nn.Parameter]:
        """Trainable trunk parameters every task's loss depends on (everything but the heads by default)."""
        return [p for name, p in self.named_parameters() if p.requires_grad and not name.startswith("heads.")]

    def on_epoch_start(self, epoch: int, num_epochs: int, generator: torch.Generator) -> dict[str, Any]:
        """Hook called by the training loop before each epoch; returns values to log (none by default)."""
        return {}

    # ------------------------------------------------------------------ helpers for subclasses
    def _remember_shared(self, representation: torch.Tensor) -> torch.Tensor:
        self.last_shared_representation = representation
        return representation

    @staticmethod
    def require_inputs(
        input_shapes: Mapping[str, tuple[int, ...]], keys: Sequence[str], setting: str, requested: str
    ) -> None:
        """Raise ``ConfigError`` naming ``setting`` when an input the configuration needs is not provided."""
        for key in keys:
            if key not in input_shapes:
                provided = sorted(input_shapes) or "none"
                raise ConfigError(
                    f"{setting}: {requested} requested but the corpus provides no {key!r} input (provided: {provided})"
                )

    @staticmethod
    def input_shape(
        input_shapes: Mapping[str, tuple[int, ...]], key: str, rank: int, setting: str, layout: str
    ) -> tuple[int, ...]:
        """The per-sample shape of ``key``, checked to have ``rank`` dimensions (``layout`` names them)."""
        shape = tuple(int(d) for d in input_shapes[key])
        if len(shape) != rank:
            raise ConfigError(f"{setting}: input {key!r} must have per-sample shape {layout}, got {shape}")
        return shape
