"""The interface every weighting strategy implements, and the checks every call goes through.

A strategy is a :class:`torch.nn.Module`. The training loop calls it once per step::

    out = strategy(losses, shared_parameters=model.shared_parameters())
    out.loss.backward()
    if out.shared_gradients is not None:          # gradient-based strategies only
        for p, g in zip(shared_parameters, out.shared_gradients):
            p.grad = g
    strategy.all_reduce_grads()                    # only under torch.distributed; no-op otherwise
    optimiser.step()                               # the optimiser holds strategy.parameters() too
    strategy.after_step(losses_after)              # optional; only FAMO uses it
    ...
    strategy.end_epoch(mean_train_losses)          # once per epoch, on every rank

With a gradient scaler (mixed precision), write ``shared_gradients`` after ``scaler.unscale_(optimiser)``:
they are computed from the unscaled losses.

Validation batches go through the same call under ``torch.no_grad()`` (or after ``strategy.eval()``): the
strategy then weights the losses with its current state and changes nothing (no loss history, no update,
no per-task gradients; gradient-based strategies use the weights of their last training step).

``losses`` holds one scalar tensor per task that has labels in the batch: a task absent from ``losses``
(or mapped to ``None``) is left out of the weighting for that step and its reported weight is ``0.0``.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import ClassVar, Iterable, Literal, Mapping, Sequence

import torch
from torch import nn

from emomtl.errors import ConfigError, EmomtlError
from emomtl.weighting import distributed

StrategyKind = Literal["loss", "gradient"]
#: The present tasks' losses, in ``task_names`` order.
Losses = dict[str, torch.Tensor]
#: The model's shared parameters, or None when the loop passes none.
SharedParameters = list[torch.Tensor] | None


class NonFiniteLossError(EmomtlError, FloatingPointError):
    """A task loss handed to a weighting strategy is NaN or infinite; ``task`` names the task."""

    def __init__(self, task: str, value: float) -> None:
        super().__init__(f"weighting: the loss of task {task!r} is not finite ({value}); check its labels and outputs")
        self.task = task
        self.value = value


@dataclass
class WeightingOutput:
    """What one weighting step returns.

    ``loss``: scalar to back-propagate. ``weights``: effective weight of every task this step (``0.0`` for a
    task without labels in the batch). ``extras``: internal values such as ``"log_var.emotion"``.
    ``shared_gradients``: ``None``, or one tensor per shared parameter (``None`` for a parameter that does not
    require grad) that the loop writes into ``p.grad`` after ``loss.backward()``.
    """

    loss: torch.Tensor
    weights: dict[str, float]
    extras: dict[str, float] = field(default_factory=dict)
    shared_gradients: list[torch.Tensor | None] | None = None


class WeightingStrategy(nn.Module):
    """Base class: validates the losses, then hands the present tasks to :meth:`combine`.

    Subclasses set ``name``, ``summary`` (one line for listings), ``equation`` (the formula, with the paper's
    equation number; it becomes the first docstring line), ``kind`` (``"gradient"`` when the strategy
    needs per-task gradients), ``needs_shared_parameters`` and ``ddp_safe``, and implement :meth:`combine`.
    All running state (loss history, step counters, generators) lives in buffers or ``get_extra_state``, so
    ``state_dict`` / ``load_state_dict`` resume a run exactly.

    ``ddp_safe``: under ``torch.distributed`` every rank keeps identical strategy state and makes identical
    weighting decisions although each rank sees other batches (and other missing labels). A strategy earns it
    by averaging over ranks whatever it learns from the data (period losses, per-task gradients, log-losses);
    its own parameters are averaged by :meth:`all_reduce_grads`. The loop must call every hook
    (:meth:`all_reduce_grads`, :meth:`after_step` if used, :meth:`end_epoch`) on every rank.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: The strategy's formula, written once: it heads the class docstring and ``emomtl weighting list``.
    equation: ClassVar[str] = ""
    kind: ClassVar[StrategyKind] = "loss"
    needs_shared_parameters: ClassVar[bool] = False
    #: True when the constructor takes ``task_kinds`` (task -> "classification" / "regression" / ...);
    #: :func:`emomtl.weighting.create` then hands over the kinds it is given, whatever the strategy's name.
    wants_task_kinds: ClassVar[bool] = False
    ddp_safe: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "equation" in cls.__dict__ and cls.equation:  # the equation heads the docstring (one source)
            cls.__doc__ = f"{cls.equation}\n\n{inspect.cleandoc(cls.__doc__ or '')}"

    @property
    def wants_representation(self) -> bool:
        """True when the loop should pass ``representation=`` (the model's shared representation) this step."""
        return False

    def __init__(self, task_names: Sequence[str]) -> None:
        super().__init__()
        names = list(task_names)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"weighting.tasks: need a non-empty list of task names, got {task_names!r}")
        if len(set(names)) != len(names):
            raise ConfigError(f"weighting.tasks: duplicate task names in {names}")
        self.task_names: list[str] = names

    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    # ------------------------------------------------------------------ the step
    def forward(
        self,
        losses: Mapping[str, torch.Tensor | None],
        shared_parameters: Iterable[torch.Tensor] | None = None,
        representation: torch.Tensor | None = None,
    ) -> WeightingOutput:
        present = self.check_losses(losses)
        parameters = list(shared_parameters) if shared_parameters is not None else None
        if self.updating and self.needs_shared_parameters and not parameters and representation is None:
            raise ConfigError(
                f"weighting.name: {self.name!r} is gradient-based and needs shared_parameters=model.shared_parameters()"
            )
        out = self.combine(present, parameters, representation)
        out.weights = {task: float(out.weights.get(task, 0.0)) for task in self.task_names}
        return out

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        """Weight the losses of the tasks present this step (keys in ``task_names`` order, all finite)."""
        raise NotImplementedError

    def check_losses(self, losses: Mapping[str, torch.Tensor | None]) -> dict[str, torch.Tensor]:
        """The present losses in ``task_names`` order; rejects unknown tasks, non-scalars and non-finite values."""
        unknown = sorted(set(losses) - set(self.task_names))
        if unknown:
            raise ConfigError(
                f"weighting: losses for task(s) {unknown} the strategy was not created for; valid: {self.task_names}"
            )
        present = {t: losses[t] for t in self.task_names if t in losses and losses[t] is not None}
        if not present:
            raise ConfigError("weighting: no task has a loss this step; skip batches without any label")
        for task, loss in present.items():
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ConfigError(f"weighting: the loss of task {task!r} must be a scalar tensor, got {loss!r}")
        values = torch.stack([loss.detach().reshape(()).float() for loss in present.values()])
        if not bool(torch.isfinite(values).all()):
            for task, value in zip(present, values.tolist()):
                if not math.isfinite(value):
                    raise NonFiniteLossError(task, value)
        return {task: loss.reshape(()) for task, loss in present.items()}

    # ------------------------------------------------------------------ hooks
    def end_epoch(self, mean_losses: Mapping[str, float]) -> None:
        """Close an epoch (``mean_losses``: mean training loss per task). No-op unless a strategy needs it."""

    def after_step(self, losses_after: Mapping[str, torch.Tensor | float | None]) -> None:
        """Optional: losses of the same batch re-computed after the optimiser step (call on every rank).

        No-op unless overridden (FAMO); without it FAMO uses the next step's losses instead.
        """

    def all_reduce_grads(self) -> None:
        """Average the gradients of the strategy's own parameters over ranks (no-op without torch.distributed).

        Call after ``loss.backward()`` and before ``optimiser.step()`` when the strategy is not wrapped in DDP.
        """
        distributed.average_gradients(list(self.parameters()))

    # ------------------------------------------------------------------ helpers
    @property
    def updating(self) -> bool:
        """True for a training step: module in train mode and autograd on. Otherwise state stays untouched."""
        return self.training and torch.is_grad_enabled()

    def index(self, task: str) -> int:
        return self.task_names.index(task)

    def present_mask(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Boolean vector over ``task_names``: which tasks have a loss this step."""
        return torch.tensor([t in losses for t in self.task_names], dtype=torch.bool)

    def extra_repr(self) -> str:
        return f"tasks={self.task_names}"


def stack_losses(losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The present losses as one vector, in the mapping's order."""
    return torch.stack(list(losses.values()))


def loss_vector(losses: Mapping[str, torch.Tensor], task_names: list[str]) -> torch.Tensor:
    """Detached float64 loss of every task in ``task_names`` (0 for absent tasks)."""
    return torch.tensor([float(losses[t].detach()) if t in losses else 0.0 for t in task_names], dtype=torch.float64)


def per_task(task_names: list[str], value: float | Mapping[str, float] | Sequence[float], setting: str) -> torch.Tensor:
    """One finite float per task from a number, a task -> number mapping or a list in task order."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(task_names))
        missing = [t for t in task_names if t not in value]
        if unknown or missing:
            raise ConfigError(
                f"weighting.{setting}: need one value per task {task_names}; unknown {unknown}, missing {missing}"
            )
        values = [value[t] for t in task_names]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        values = list(value)
        if len(values) != len(task_names):
            raise ConfigError(f"weighting.{setting}: {len(values)} values for {len(task_names)} tasks {task_names}")
    else:
        values = [value] * len(task_names)
    try:
        tensor = torch.tensor([float(v) for v in values])
    except (TypeError, ValueError) as error:
        raise ConfigError(f"weighting.{setting}: need numbers, got {value!r}") from error
    if not bool(torch.isfinite(tensor).all()):
        raise ConfigError(f"weighting.{setting}: values must be finite, got {value!r}")
    return tensor
