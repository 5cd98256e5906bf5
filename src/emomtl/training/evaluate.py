"""Run a model over rows (whole utterances, windowed when configured) and score its outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from emomtl.evaluation.metrics import HEADLINE_METRIC, higher_is_better, task_metrics
from emomtl.models.tasks import IGNORE_INDEX, TaskSpec, task_loss

def selection_sign(metric: str) -> float:
    """+1 when a larger ``metric`` is better, -1 when smaller is (unknown names count as larger-is-better)."""
    try:
        return 1.0 if higher_is_better(metric) else -1.0
    except KeyError:
        return 1.0


def task_losses(tasks: list[TaskSpec], outputs: dict[str, np.ndarray],
                targets: dict[str, np.ndarray]) -> dict[str, float]:
    """Unweighted per-task losses of evaluation outputs (classification as NLL of the averaged probabilities)."""
    losses = {}
    for task in tasks:
        out = torch.from_numpy(outputs[task.name])
        target = torch.from_numpy(targets[task.name])
        if task.kind == "classification":
            out = out.clamp_min(1e-12).log()
            loss = task_loss(TaskSpec(task.name, "classification", classes=task.classes, loss="nll"), out, target)
        else:
            loss = task_loss(task, out, target)
        if loss is not None:
            losses[task.name] = float(loss)
    return losses


def score_tasks(tasks: list[TaskSpec], outputs: dict[str, np.ndarray],
                targets: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Metrics of every task over the rows that carry its label."""
    scores: dict[str, dict[str, float]] = {}
    for task in tasks:
        truth, out = targets[task.name], outputs[task.name]
        if task.kind == "classification":
            keep = truth != IGNORE_INDEX
            if not keep.any():
                continue
            scores[task.name] = task_metrics(
                "classification", truth[keep], out[keep].argmax(1), probabilities=out[keep],
                classes=list(range(len(task.classes or []))),
            )
        else:
            keep = np.isfinite(truth) if truth.ndim == 1 else np.isfinite(truth).all(1)
            if keep.sum() < 2:
                continue
            names = list(task.columns) if task.kind == "multi_regression" else None
            scores[task.name] = task_metrics(task.kind, truth[keep], out[keep], names=names)
    return scores


def headline_metric(task: TaskSpec) -> str:
    if task.metric:
        return task.metric
    return HEADLINE_METRIC[task.kind]


def combined_score(tasks: list[TaskSpec], scores: dict[str, dict[str, float]], kind: str = "mean") -> float:
    """Mean (or harmonic mean, the ExVo score) of each scored task's headline metric; 1/x for lower-is-better."""
    values = []
    for task in tasks:
        if task.auxiliary or task.name not in scores:
            continue
        metric = headline_metric(task)
        value = scores[task.name][metric]
        values.append(value if selection_sign(metric) > 0 else 1.0 / max(value, 1e-12))  # 1/MAE as in the ExVo score
    if not values:
        return float("nan")
    if kind == "hmean":
        return float(len(values) / sum(1.0 / max(v, 1e-12) for v in values))
    return float(np.mean(values))


def prediction_table(table: pd.DataFrame, rows: np.ndarray, tasks: list[TaskSpec], outputs: dict[str, np.ndarray],
                     targets: dict[str, np.ndarray]) -> pd.DataFrame:
    """The ``predictions.csv`` layout of docs/ARCHITECTURE.md."""
    frame = pd.DataFrame({"path": table["path"].to_numpy()[rows], "speaker": table["speaker"].to_numpy()[rows]})
    for task in tasks:
        out, truth = outputs[task.name], targets[task.name]
        if task.kind == "classification":
            classes = np.array(task.classes, dtype=object)
            frame[f"{task.name}.true"] = [classes[t] if t != IGNORE_INDEX else None for t in truth]
            frame[f"{task.name}.pred"] = classes[out.argmax(1)]
            for j, name in enumerate(task.classes or []):
                frame[f"{task.name}.prob.{name}"] = out[:, j]
        elif task.kind == "regression":
            frame[f"{task.name}.true"] = truth
            frame[f"{task.name}.pred"] = out.reshape(-1)
        else:
            for j, column in enumerate(task.columns or []):
                frame[f"{task.name}.true.{column}"] = truth[:, j]
                frame[f"{task.name}.pred.{column}"] = out[:, j]
    return frame


def flatten_scores(scores: dict[str, dict[str, Any]], prefix: str) -> dict[str, float]:
    return {f"{prefix}{task}.{metric}": value for task, metrics in scores.items() for metric, value in metrics.items()
            if isinstance(value, (int, float))}
