"""What the columns of a run's tables mean: tasks, their metric columns, the headline metric."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from emomtl.evaluation.metrics import METRIC_DIRECTION, PERCENT_METRICS
from emomtl.reports.load import RunData

#: ``results.csv`` columns that are not ``<task>.<metric>`` test metrics.
NON_METRIC_COLUMNS = frozenset({"strategy", "fold", "seed", "score", "best_epoch", "test_speakers", "wall_time_s"})
WEIGHT_PREFIX = "weight."
#: Validation metrics of the selected epoch (``val.<task>.<metric>``): for model selection, not the test table.
VALIDATION_PREFIX = "val."
#: Every metric name of the vocabulary (``evaluation.metrics.METRIC_DIRECTION``).
KNOWN_METRICS = frozenset(METRIC_DIRECTION)


@dataclass
class TaskColumns:
    """One task as a report sees it.

    ``metric_columns`` are ``<task>.<metric>`` columns; ``detail_columns`` are finer ones such as
    ``<task>.ccc.<dimension>`` of a multi-regression task.
    """

    name: str
    kind: str  # "classification" or "regression"
    auxiliary: bool = False
    metric_columns: list[str] = field(default_factory=list)
    detail_columns: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    headline_metric: str | None = None


def metric_name(column: str) -> str:
    """The metric a column holds: its last dotted part that names a known metric, else its last part.

    ``emotion.ua`` -> ``ua``; ``emotion.ccc.intensity_awe`` -> ``ccc``; ``score`` -> ``score``.
    """
    parts = column.split(".")
    return next((part for part in reversed(parts) if part in KNOWN_METRICS), parts[-1])


def weight_columns(frame: pd.DataFrame) -> list[str]:
    """``weight.<task>`` columns of a table, in table order."""
    return [c for c in frame.columns if str(c).startswith(WEIGHT_PREFIX)]


def metric_columns(results: pd.DataFrame) -> list[str]:
    """Numeric ``<task>.<metric>...`` columns of ``results.csv``, in file order."""
    return [
        c
        for c in results.columns
        if "." in str(c)
        and c not in NON_METRIC_COLUMNS
        and not str(c).startswith((WEIGHT_PREFIX, VALIDATION_PREFIX))
        and pd.api.types.is_numeric_dtype(results[c])
    ]


def run_tasks(run: RunData) -> list[TaskColumns]:
    """Tasks in recipe order (``config.yaml`` ``tasks:``), then any others named by ``results.csv``."""
    configured = _configured_tasks(run.config)
    names = list(configured)
    columns = metric_columns(run.results)
    for column in columns + [c.removeprefix(WEIGHT_PREFIX) for c in weight_columns(run.results)]:
        name = _task_of(column, names)
        if name not in names:
            names.append(name)
    tasks = []
    for name in names:
        entry = configured.get(name, {})
        own = [c for c in columns if _task_of(c, names) == name]
        main = [c for c in own if "." not in c[len(name) + 1 :]]
        classes_from_probs = _probability_classes(run.predictions, name)
        kind = str(entry.get("kind", ""))
        if kind not in ("classification", "regression", "multi_regression"):
            is_classification = bool(classes_from_probs) or any(metric_name(c) in PERCENT_METRICS for c in own)
            kind = "classification" if is_classification else "regression"
        tasks.append(
            TaskColumns(
                name=name,
                kind="classification" if kind == "classification" else "regression",
                auxiliary=bool(entry.get("auxiliary", False)),
                metric_columns=main,
                detail_columns=[c for c in own if c not in main],
                classes=[str(c) for c in entry.get("classes") or classes_from_probs],
                headline_metric=entry.get("metric"),
            )
        )
    return tasks


def headline_column(run: RunData) -> str | None:
    """The first non-auxiliary task's metric: the recipe's ``metric`` for it if reported, else its first metric column.

    ``score`` when no scored task has a metric column; ``None`` when there is no score either.
    """
    for task in run_tasks(run):
        if not task.auxiliary and task.metric_columns:
            preferred = f"{task.name}.{task.headline_metric}"
            return preferred if preferred in task.metric_columns else task.metric_columns[0]
    return "score" if "score" in run.results.columns else None


def _configured_tasks(config: dict) -> dict[str, dict]:
    section = config.get("tasks")
    if isinstance(section, dict):  # {name: {...}} form
        section = [{"name": name, **(value or {})} for name, value in section.items()]
    if not isinstance(section, list):
        return {}
    return {str(entry["name"]): entry for entry in section if isinstance(entry, dict) and "name" in entry}


def _task_of(column: str, task_names: list[str]) -> str:
    """The task a dotted column belongs to: the longest known task name it starts with, else its first part."""
    known = [name for name in task_names if column == name or column.startswith(name + ".")]
    return max(known, key=len) if known else column.split(".", 1)[0]


def _probability_classes(predictions: pd.DataFrame, task: str) -> list[str]:
    prefix = f"{task}.prob."
    return [str(c)[len(prefix) :] for c in predictions.columns if str(c).startswith(prefix)]
