"""Task specifications: what each head predicts, from which column, with which loss.

A task list lives in a recipe's ``tasks:`` section, e.g.::

    tasks:
      - {name: emotion, kind: classification, column: emotion}
      - {name: gender, kind: classification, column: gender, classes: [female, male]}
      - {name: va, kind: multi_regression, columns: [valence, arousal], loss: ccc, activation: sigmoid}
      - {name: speaker, kind: classification, column: speaker, auxiliary: true}

Missing labels are masked: a classification target of ``IGNORE_INDEX`` or a regression target of
``NaN`` contributes nothing to its task's loss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from emomtl.errors import ConfigError, LabelError

TaskKind = Literal["classification", "regression", "multi_regression"]
IGNORE_INDEX = -100
_LOSSES = {
    "classification": ("ce", "nll"),
    "regression": ("mse", "l1", "ccc"),
    "multi_regression": ("mse", "l1", "ccc"),
}
_ACTIVATIONS = ("none", "sigmoid", "tanh")


@dataclass
class TaskSpec:
    """One task of a multi-task model."""

    name: str
    kind: TaskKind = "classification"
    column: str | None = None
    columns: list[str] | None = None
    classes: list[str] | None = None
    loss: str | None = None
    activation: str = "none"
    auxiliary: bool = False
    exit_block: int | None = None
    metric: str | None = None
    label_smoothing: float = 0.0
    #: ``"balanced"``: cross-entropy weighted by inverse class frequency of the training rows (each class then
    #: counts equally, as in unweighted average recall); ``None``: every sample counts equally.
    class_weight: str | None = None

    def __post_init__(self) -> None:
        where = f"tasks.{self.name}"
        if self.kind not in _LOSSES:
            raise ConfigError(f"{where}.kind: {self.kind!r} is not one of {sorted(_LOSSES)}")
        if self.kind == "multi_regression":
            if not self.columns:
                raise ConfigError(f"{where}.columns: a multi_regression task needs a list of columns")
        else:
            self.column = self.column or self.name
        self.loss = self.loss or ("ce" if self.kind == "classification" else "mse")
        if self.loss not in _LOSSES[self.kind]:
            raise ConfigError(f"{where}.loss: {self.loss!r} is not valid for {self.kind}; "
                              f"use one of {_LOSSES[self.kind]}")
        if not 0.0 <= self.label_smoothing < 1.0 or (self.label_smoothing and self.loss != "ce"):
            raise ConfigError(f"{where}.label_smoothing: {self.label_smoothing!r} must be in [0, 1) "
                              "and needs loss 'ce'")
        if self.class_weight not in (None, "balanced") or (self.class_weight and self.kind != "classification"):
            raise ConfigError(f"{where}.class_weight: {self.class_weight!r} must be null or 'balanced' "
                              "(classification)")
        if self.activation not in _ACTIVATIONS:
            raise ConfigError(f"{where}.activation: {self.activation!r} is not one of {_ACTIVATIONS}")

    @property
    def label_columns(self) -> list[str]:
        """The table columns this task reads."""
        return list(self.columns) if self.kind == "multi_regression" else [str(self.column)]

    @property
    def output_dim(self) -> int:
        """Width of the head's output."""
        if self.kind == "classification":
            if not self.classes:
                raise ConfigError(f"tasks.{self.name}.classes: unknown until fitted on a table")
            return len(self.classes)
        if self.kind == "multi_regression":
            return len(self.columns or [])
        return 1

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    # ----------------------------------------------------------------- labels
    def fit(self, table: pd.DataFrame) -> "TaskSpec":
        """Check the label columns exist and infer ``classes`` (sorted) when not given."""
        for column in self.label_columns:
            if column not in table.columns:
                raise ConfigError(f"tasks.{self.name}: label column {column!r} is not in the corpus table")
        if self.kind == "classification" and not self.classes:
            values = table[self.column].dropna().astype(str).unique()
            if len(values) == 0:
                raise LabelError(f"tasks.{self.name}: column {self.column!r} has no labels")
            self.classes = sorted(values)
        return self

    def encode(self, table: pd.DataFrame) -> np.ndarray:
        """Targets for every row: class indices (``IGNORE_INDEX`` when missing) or floats (``NaN`` when missing).

        Classification labels not in ``classes`` are treated as missing (masked), never mapped silently.
        """
        if self.kind == "classification":
            index = {c: i for i, c in enumerate(self.classes or [])}
            labels = table[self.column]
            return np.array(
                [IGNORE_INDEX if pd.isna(v) else index.get(str(v), IGNORE_INDEX) for v in labels], dtype=np.int64
            )
        values = table[self.label_columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
        return values[:, 0] if self.kind == "regression" else values


def parse_tasks(section: list[dict[str, Any]] | None) -> list[TaskSpec]:
    """Build task specs from a recipe's ``tasks`` list, refusing duplicates and unknown keys."""
    if not section:
        raise ConfigError("tasks: a recipe needs at least one task")
    known = set(TaskSpec.__dataclass_fields__)
    tasks: list[TaskSpec] = []
    for i, entry in enumerate(section):
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError(f"tasks[{i}]: each task needs a mapping with a 'name'")
        unknown = set(entry) - known
        if unknown:
            raise ConfigError(f"tasks.{entry['name']}: unknown key(s) {sorted(unknown)}; valid: {sorted(known)}")
        tasks.append(TaskSpec(**entry))
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ConfigError(f"tasks: duplicate task names in {names}")
    return tasks


# ------------------------------------------------------------------- losses
def ccc_loss(prediction: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """1 - concordance correlation coefficient, averaged over output columns."""
    if prediction.dim() == 1:
        prediction, target = prediction[:, None], target[:, None]
    mean_p, mean_t = prediction.mean(0), target.mean(0)
    var_p, var_t = prediction.var(0, unbiased=False), target.var(0, unbiased=False)
    cov = ((prediction - mean_p) * (target - mean_t)).mean(0)
    ccc = 2 * cov / (var_p + var_t + (mean_p - mean_t) ** 2 + eps)
    return (1 - ccc).mean()


def task_loss(task: TaskSpec, output: torch.Tensor, target: torch.Tensor,
              class_weights: torch.Tensor | None = None) -> torch.Tensor | None:
    """Masked loss of one task on one batch, or ``None`` when no sample in the batch has a label.

    Classification outputs are logits (``ce``) or log-probabilities (``nll``); ``class_weights`` (one per class)
    weight the samples, normalised by the batch's total weight.
    """
    if task.kind == "classification":
        mask = target != IGNORE_INDEX
        if not bool(mask.any()):
            return None
        if task.loss == "nll":
            return F.nll_loss(output[mask], target[mask], weight=class_weights)
        return F.cross_entropy(output[mask], target[mask], weight=class_weights, label_smoothing=task.label_smoothing)
    if task.kind == "regression":
        output = output.reshape(-1)
        mask = torch.isfinite(target)
    else:
        mask = torch.isfinite(target).all(dim=1)
    if not bool(mask.any()) or (task.loss == "ccc" and int(mask.sum()) < 2):
        return None
    prediction, reference = output[mask], target[mask]
    if task.loss == "mse":
        return F.mse_loss(prediction, reference)
    if task.loss == "l1":
        return F.l1_loss(prediction, reference)
    return ccc_loss(prediction, reference)


def apply_activation(task: TaskSpec, output: torch.Tensor) -> torch.Tensor:
    """The task's output activation (applied by heads before the loss)."""
    if task.activation == "sigmoid":
        return torch.sigmoid(output)
    if task.activation == "tanh":
        return torch.tanh(output)
    return output


def balanced_class_weights(targets: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights ``n / (k * n_c)`` over the labelled ``targets`` (``k`` classes present); a class
    absent from ``targets`` gets weight 1 (it never occurs in the loss)."""
    labelled = targets[targets != IGNORE_INDEX]
    counts = np.bincount(labelled, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.ones(n_classes)
    weights[present] = len(labelled) / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)
