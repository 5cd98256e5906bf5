"""Fit a closed-form model (``linear_svm``) on one split, through the same protocol, metrics and files as the loop.

The classical anchor of the ComParE challenges (Schuller et al., 2016): functionals standardised as the recipe's
``inputs.<name>.standardize`` says (``true``: training-row statistics; ``speaker``: each speaker's own, unsupervised),
one scikit-learn ``LinearSVC`` per classification task (``class_weight: balanced`` passed on) and one
``LinearSVR`` per regression column. With several ``model.C`` values, each task's C is the one of best headline
metric on the validation speakers (first on ties); the test speakers are scored once, afterwards. ``train.refit``
refits on training + validation speakers with the chosen C, as the loop refits with the chosen epoch count.

Writes what :func:`~emomtl.training.loop.train_split` writes (``predictions.csv``, ``metrics.json``,
``checkpoint_best.pt`` in the inference format, so ``emomtl predict`` runs it) plus ``svm_search.csv`` (validation
metric of every C); there is no epoch history. Auxiliary tasks are not fitted: they only ever help a shared
representation, which per-task linear maps do not have.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch

from emomtl.config import as_recipe
from emomtl.errors import ConfigError
from emomtl.models import build_model, model_class
from emomtl.models.settings import parse_settings
from emomtl.models.tasks import IGNORE_INDEX, TaskSpec
from emomtl.runtime.batches import Standardizer, input_specs, make_batch
from emomtl.runtime.checkpoint import recipe_fingerprint, save_checkpoint, seed_everything
from emomtl.runtime.files import write_csv
from emomtl.runtime.predict import predict_outputs
from emomtl.training.evaluate import (combined_score, flatten_scores, headline_metric, prediction_table,
                                      score_tasks, selection_sign, task_losses)

log = logging.getLogger(__name__)

#: Bias of a class absent from the training rows: never predicted.
ABSENT_CLASS_BIAS = -1e4


class ClassicalFit:
    """A standardiser and a model fitted on ``rows`` of a job, with one C per task."""

    def __init__(self, job: Any, tasks: list[TaskSpec], rows: np.ndarray) -> None:
        self.job, self.tasks = job, tasks
        prepared = job.prepared
        self.recipe = as_recipe(job.recipe)
        self.specs = input_specs(self.recipe)
        self.standardizer = Standardizer.fit(prepared.inputs, rows, self.specs, prepared.table["speaker"].to_numpy())
        sample = make_batch(prepared.inputs, np.array([0]), self.specs, self.standardizer, train=False)
        self.input_shapes = {name: tuple(tensor.shape[1:]) for name, tensor in sample.items()}
        self.model = build_model(self.recipe.model, tasks, self.input_shapes)
        self.rows = rows

    def design(self, rows: np.ndarray) -> np.ndarray:
        """Standardised, concatenated functionals of ``rows`` (float64 for scikit-learn)."""
        batch = make_batch(self.job.prepared.inputs, rows, self.specs, self.standardizer, train=False)
        return self.model.features(batch).numpy().astype(np.float64)

    def fit(self, targets: dict[str, np.ndarray], costs: dict[str, float]) -> "ClassicalFit":
        features = self.design(self.rows)
        settings = self.model.settings
        for task in self.tasks:
            weight, bias = _fit_task(task, features, targets[task.name][self.rows], costs[task.name],
                                     settings.max_iter, self.job.seed, self.model.estimator)
            self.model.set_linear(task.name, torch.as_tensor(weight, dtype=torch.float32),
                                  torch.as_tensor(bias, dtype=torch.float32))
        return self

    def evaluate(self, rows: np.ndarray, targets: dict[str, np.ndarray]) -> tuple[dict, dict, dict]:
        outputs = predict_outputs(self.model, self.job.prepared.inputs, rows, self.specs, self.standardizer, self.tasks)
        truth = {name: values[rows] for name, values in targets.items()}
        return outputs, task_losses(self.tasks, outputs, truth), score_tasks(self.tasks, outputs, truth)

    def inference_state(self) -> dict[str, Any]:
        """The checkpoint layout of :meth:`SplitTrainer.inference_state`: tensors and arrays, no estimator."""
        return {"fingerprint": recipe_fingerprint(self.recipe.to_dict()), "recipe": self.recipe.to_dict(),
                "tasks": [t.to_dict() for t in self.tasks], "input_shapes": self.input_shapes,
                "standardizer": self.standardizer.state_dict(), "model": self.model.state_dict(),
                "epoch": 0, "best": {"value": float("nan"), "epoch": 0}}


def _fit_task(task: TaskSpec, features: np.ndarray, target: np.ndarray, cost: float, max_iter: int,
              seed: int, estimator: str = "svm") -> tuple[np.ndarray, np.ndarray]:
    """``(weight (output_dim, d), bias (output_dim,))`` of one task's linear model on its labelled rows."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.svm import LinearSVC, LinearSVR

    width = features.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter bounds the cost, as in the ComParE baseline
        if task.kind == "classification":
            keep = target != IGNORE_INDEX
            labels = target[keep]
            weight = np.zeros((task.output_dim, width))
            bias = np.full(task.output_dim, ABSENT_CLASS_BIAS)
            present = np.unique(labels)
            if len(present) == 1:
                bias[present[0]] = 0.0
                return weight, bias
            balance = "balanced" if task.class_weight == "balanced" else None
            if estimator == "logistic":
                svm = LogisticRegression(C=cost, max_iter=max_iter, class_weight=balance)
            else:
                svm = LinearSVC(C=cost, max_iter=max_iter, random_state=seed, class_weight=balance)
            svm.fit(features[keep], labels)
            if len(svm.classes_) == 2:  # one decision function: +f for the second class, -f for the first
                weight[svm.classes_[1]], bias[svm.classes_[1]] = svm.coef_[0] / 2, svm.intercept_[0] / 2
                weight[svm.classes_[0]], bias[svm.classes_[0]] = -svm.coef_[0] / 2, -svm.intercept_[0] / 2
            else:
                weight[svm.classes_], bias[svm.classes_] = svm.coef_, svm.intercept_
            return weight, bias
        columns = target.reshape(len(target), -1)
        weight, bias = np.zeros((columns.shape[1], width)), np.zeros(columns.shape[1])
        for j in range(columns.shape[1]):
            keep = np.isfinite(columns[:, j])
            if keep.sum() < 2:
                continue
            regressor = (Ridge(alpha=1.0 / (2.0 * cost)) if estimator == "logistic"
                         else LinearSVR(C=cost, max_iter=max_iter, random_state=seed))
            svr = regressor.fit(features[keep], columns[keep, j])
            weight[j], bias[j] = svr.coef_, float(np.ravel(svr.intercept_)[0])
        return weight, bias


def _search_costs(job: Any, tasks: list[TaskSpec], targets: dict[str, np.ndarray],
                  candidates: list[float]) -> tuple[dict[str, float], pd.DataFrame]:
    """Each task's C of best headline metric on the validation speakers, and the whole search."""
    split = job.split
    if len(candidates) == 1:
        return {t.name: candidates[0] for t in tasks}, pd.DataFrame()
    if not len(split.validation):
        raise ConfigError(f"model.C: {len(candidates)} values need validation speakers to choose among "
                          f"(protocol.validation_speakers > 0); or give one value, e.g. model.C=[{candidates[0]}]")
    fitted = ClassicalFit(job, tasks, split.train)
    rows, best = [], {}
    for cost in candidates:
        _, _, scores = fitted.fit(targets, {t.name: cost for t in tasks}).evaluate(split.validation, targets)
        for task in tasks:
            metric = headline_metric(task)
            value = scores.get(task.name, {}).get(metric, float("nan"))
            rows.append({"task": task.name, "C": cost, f"val.{metric}": value})
            signed = selection_sign(metric) * value
            if np.isfinite(signed) and (task.name not in best or signed > best[task.name][0]):
                best[task.name] = (signed, cost)
    return {t.name: best.get(t.name, (None, candidates[0]))[1] for t in tasks}, pd.DataFrame(rows)


def fit_classical(job: Any) -> dict[str, Any]:
    """Fit, select C on validation, optionally refit, test once; the ``metrics.json`` of :func:`train_split`."""
    seed_everything(job.seed)
    recipe = as_recipe(job.recipe)
    tasks = [t for t in job.tasks if not t.auxiliary]
    if not tasks:
        raise ConfigError(f"model.name: {recipe.model['name']!r} fits the scored tasks; every task is auxiliary")
    model = recipe.model
    candidates = parse_settings(model_class(model["name"]).Settings, model, where="model", extra_keys=("name",)).C
    targets = {t.name: t.encode(job.prepared.table) for t in tasks}
    split = job.split
    costs, search = _search_costs(job, tasks, targets, candidates)
    if len(search):
        write_csv(job.out_dir / "svm_search.csv", search, index=False)
    selected = ClassicalFit(job, tasks, split.train).fit(targets, costs)
    val: dict[str, float] = {}
    if len(split.validation):
        _, _, val_scores = selected.evaluate(split.validation, targets)
        val = flatten_scores(val_scores, "val.") | {
            "val.score": combined_score(tasks, val_scores, recipe.train.score)}
    final = selected
    if recipe.train.refit and len(split.validation):
        final = ClassicalFit(job, tasks, np.concatenate([split.train, split.validation])).fit(targets, costs)
    save_checkpoint(job.out_dir / "checkpoint_best.pt", final.inference_state())
    outputs, losses, scores = final.evaluate(split.test, targets)
    truth = {name: values[split.test] for name, values in targets.items()}
    write_csv(job.out_dir / "predictions.csv", prediction_table(job.prepared.table, split.test, tasks, outputs, truth),
              index=False)
    return {"test": scores, "test_losses": losses, "val": val, "best_epoch": 0, "epochs_run": 1,
            "score": combined_score(tasks, scores, recipe.train.score), "weights": {},
            "C": costs, "refit": final is not selected}

