"""``linear_svm``: the classical anchor, a linear SVM on utterance-level functionals (ComParE / eGeMAPS).

The baseline of the INTERSPEECH ComParE challenges (Schuller et al., 2016: openSMILE functionals + linear SVM,
C chosen on a development set). One linear map per task, ``scores = W x + b``, fitted by
:mod:`emomtl.training.classical` (scikit-learn ``LinearSVC`` for classification, ``LinearSVR`` for regression,
one per column of a multi-regression task) and copied into this module's weights, so its checkpoint holds
plain tensors (no pickled estimator) and :class:`~emomtl.inference.Recognizer` runs it like any other model.

Classification outputs are the SVM decision scores as logits (``loss: nll`` gets their log-softmax); their
softmax is what ``predictions.csv`` reports as probabilities (a monotone squashing of the margins, not calibrated
probabilities; the argmax is the SVM's decision). Regression outputs are the raw linear values: the task's
``activation`` is not applied, because the SVR is fitted on the targets themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from emomtl.errors import ConfigError
from emomtl.models.base import MultiTaskModel
from emomtl.models.registry import register_model
from emomtl.models.settings import require_positive
from emomtl.models.tasks import TaskSpec


@dataclass
class LinearSVMSettings:
    """The anchor of ``benchmarks/emodb_loso.py``: C searched over three decades on the validation speakers."""

    #: Vector inputs concatenated in this order (e.g. ComParE + eGeMAPS functionals).
    inputs: list[str] = field(default_factory=lambda: ["functionals"])
    #: Candidate costs; with more than one, each task's C is chosen by its headline metric on the validation
    #: speakers (never the test speakers), then the SVM is refitted as ``train.refit`` says.
    C: list[float] = field(default_factory=lambda: [1e-4, 1e-3, 1e-2])
    max_iter: int = 5000
    #: For inputs of shape ``(layers, dim)`` (pooled encoder layers): the row to use (``null``: all, concatenated).
    layer: int | None = None

    def check(self, where: str) -> None:
        if not self.inputs:
            raise ConfigError(f"{where}.inputs: linear_svm needs at least one vector input")
        require_positive(where, C=self.C, max_iter=self.max_iter)


@register_model
class LinearSVM(MultiTaskModel):
    """One linear map per task on the concatenated functionals; fitted in closed form, not by gradient steps."""

    name = "linear_svm"
    summary = "linear SVM on openSMILE functionals (ComParE / eGeMAPS): the classical anchor, fitted by scikit-learn"
    Settings = LinearSVMSettings
    #: Trained by :func:`emomtl.training.classical.fit_classical` instead of the gradient loop.
    classical = True
    #: The scikit-learn family fitted per task: ``svm`` (LinearSVC / LinearSVR) or ``logistic`` (LogisticRegression /
    #: Ridge with alpha = 1 / (2 C)).
    estimator = "svm"

    def __init__(
        self, settings: LinearSVMSettings, tasks: Sequence[TaskSpec], input_shapes: Mapping[str, tuple[int, ...]]
    ) -> None:
        super().__init__(tasks)
        self.settings = settings
        self.require_inputs(input_shapes, settings.inputs, "model.inputs", "linear_svm (utterance-level vectors)")
        self.input_keys = tuple(settings.inputs)
        self.layer = settings.layer
        self.width = sum(self._width(input_shapes, key) for key in self.input_keys)
        self.linear = nn.ModuleDict({t.name: nn.Linear(self.width, t.output_dim) for t in self.tasks.values()})
        for layer in self.linear.values():  # an unfitted anchor predicts nothing in particular
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def _width(self, input_shapes: Mapping[str, tuple[int, ...]], key: str) -> int:
        shape = tuple(input_shapes[key])
        if len(shape) == 2:
            if self.layer is not None and not -shape[0] <= self.layer < shape[0]:
                raise ConfigError(f"model.layer: {self.layer} is not a row of input {key!r} with {shape[0]} layers")
            return shape[1] if self.layer is not None else shape[0] * shape[1]
        return self.input_shape(input_shapes, key, 1, "model.inputs", "(dim,) or (layers, dim)")[0]

    def features(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        for key in self.input_keys:
            value = inputs[key]
            if value.dim() == 3 and self.layer is not None:
                value = value[:, self.layer]
            parts.append(value.flatten(1))  # not len(value): keeps the batch dimension dynamic in torch.export
        return torch.cat(parts, dim=1)

    def set_linear(self, task: str, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Copy a fitted ``(output_dim, width)`` weight and ``(output_dim,)`` bias into ``task``'s map."""
        with torch.no_grad():
            self.linear[task].weight.copy_(weight)
            self.linear[task].bias.copy_(bias)

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        features = self._remember_shared(self.features(inputs))
        outputs = {}
        for name, task in self.tasks.items():
            raw = self.linear[name](features)
            if task.kind == "classification":
                outputs[name] = F.log_softmax(raw, dim=-1) if task.loss == "nll" else raw
            else:
                outputs[name] = raw[:, 0] if task.kind == "regression" else raw
        return outputs


@dataclass
class LinearProbeSettings(LinearSVMSettings):
    """The probe of pretrained-encoder studies: L2-regularised logistic regression, C = 0.1 unless searched."""

    C: list[float] = field(default_factory=lambda: [0.1])
    max_iter: int = 2000


@register_model
class LinearProbe(LinearSVM):
    """A linear probe: multinomial logistic regression per classification task (Ridge for regression), fitted in
    closed form on the same folds; the yardstick a learned model on the same features must beat."""

    name = "linear_probe"
    summary = "logistic-regression probe on utterance-level vectors (e.g. pooled encoder layers), by scikit-learn"
    Settings = LinearProbeSettings
    estimator = "logistic"
