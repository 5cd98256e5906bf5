"""Aggregation of results over folds and seeds: mean ± std of per-run metrics, and pooled metrics.

Two ways to summarise a cross-validation, both reported in the literature:

* **mean ± std** (:func:`mean_std`): score each fold (and seed) on its own test set, then average the
  scores; the standard deviation (``ddof=1``) shows the spread between folds or seeds.
* **pooled** (:func:`pooled_metrics`): concatenate every fold's test predictions and score them once, as
  if the folds were one test set (common for leave-one-speaker-out, where a fold may lack a class).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emomtl.evaluation.metrics import MetricKind, task_metrics


def mean_std(results: pd.DataFrame, by: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Mean and sample standard deviation (``ddof=1``) of ``metrics`` within each group of ``by``.

    ``results`` has one row per run (e.g. ``results.csv``: one per strategy, fold and seed). Returns one row
    per group with the ``by`` columns, ``n`` (number of runs) and ``<metric>.mean`` / ``<metric>.std`` for
    each metric. A group with a single value has std 0; missing metric values are skipped. With
    ``by=[]`` all rows form one group.
    """
    by, metrics = list(by), list(metrics)
    missing = [c for c in by + metrics if c not in results.columns]
    if missing:
        raise ValueError(f"results have no column(s) {missing}; columns: {list(results.columns)}")
    if results.empty:
        raise ValueError("results are empty: nothing to aggregate")
    values = results[metrics].apply(pd.to_numeric, errors="coerce")
    groups = values.groupby([results[c] for c in by], sort=True, dropna=False) if by else values.groupby(
        np.zeros(len(values), dtype=int)
    )
    mean, std, count = groups.mean(), groups.std(ddof=1), groups.count()
    std = std.where(count != 1, 0.0)
    table = pd.DataFrame(index=mean.index)
    table["n"] = groups.size()
    for metric in metrics:
        table[f"{metric}.mean"] = mean[metric]
        table[f"{metric}.std"] = std[metric]
    return table.reset_index(drop=not by)


def mean_std_over_seeds(
    results: pd.DataFrame,
    by: Sequence[str],
    metrics: Sequence[str],
    *,
    seed: str = "seed",
) -> pd.DataFrame:
    """Average the folds of each seed first, then mean ± std over seeds.

    The std then measures how much the cross-validated result changes with the seed, not the spread
    between folds (which :func:`mean_std` over all rows mixes in). ``n`` counts seeds.
    """
    by = list(by)
    if seed not in results.columns:
        raise ValueError(f"results have no {seed!r} column")
    per_seed = mean_std(results, by + [seed], metrics)
    per_seed = per_seed.rename(columns={f"{m}.mean": m for m in metrics})
    return mean_std(per_seed, by, metrics)


def pooled_metrics(
    predictions: pd.DataFrame,
    task: str,
    kind: MetricKind,
    classes: Sequence[Any] | None = None,
    *,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """Metrics of ``task`` over all rows of ``predictions`` (the concatenated test predictions of all folds).

    Reads the prediction-table columns of ARCHITECTURE.md: ``<task>.true`` and ``<task>.pred``; for a
    classification task also ``<task>.prob.<class>`` (then ``nll`` is included; ``classes`` default to
    the order of those columns). A ``multi_regression`` task reads ``<task>.true.<name>`` and
    ``<task>.pred.<name>`` for each name of ``names`` (default: every such column, in table order).
    Rows with missing truth are masked, as in :func:`~emomtl.evaluation.metrics.task_metrics`.
    """
    if kind == "multi_regression":
        true_prefix = f"{task}.true."
        if names is None:
            names = [c[len(true_prefix):] for c in predictions.columns if str(c).startswith(true_prefix)]
        if not names:
            raise ValueError(f"predictions have no {true_prefix}<name> columns for task {task!r}")
        truth = _columns(predictions, [f"{task}.true.{n}" for n in names])
        prediction = _columns(predictions, [f"{task}.pred.{n}" for n in names])
        return task_metrics(kind, truth.to_numpy(np.float64), prediction.to_numpy(np.float64), names=list(names))
    truth, prediction = _columns(predictions, [f"{task}.true", f"{task}.pred"]).T.to_numpy()
    if kind == "regression":
        return task_metrics(kind, truth.astype(np.float64), prediction.astype(np.float64))
    prob_prefix = f"{task}.prob."
    if classes is None:
        classes = [c[len(prob_prefix):] for c in predictions.columns if str(c).startswith(prob_prefix)]
    probabilities = None
    if classes and all(f"{prob_prefix}{c}" in predictions.columns for c in classes):
        probabilities = predictions[[f"{prob_prefix}{c}" for c in classes]].to_numpy(np.float64)
    if classes and all(isinstance(c, str) for c in classes):
        # a CSV reads class names such as "1" back as numbers: compare labels as text
        truth, prediction = _as_text(truth), _as_text(prediction)
    return task_metrics(kind, truth, prediction, probabilities, list(classes) if classes else None)


def _as_text(values: np.ndarray) -> np.ndarray:
    return np.array([v if pd.isna(v) else _label_text(v) for v in values], dtype=object)


def _label_text(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _columns(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"predictions have no column(s) {missing}; columns: {list(table.columns)}")
    if table.empty:
        raise ValueError("predictions are empty: nothing to score")
    return table[columns]


def format_mean_std(mean: float, std: float, percent: bool = True, digits: int = 1) -> str:
    """``"85.3 ± 1.2"``: mean and std rounded to ``digits`` decimals, times 100 when ``percent``.

    A missing mean gives ``"n/a"``; a missing std prints the mean alone.
    """
    if mean is None or pd.isna(mean):
        return "n/a"
    scale = 100.0 if percent else 1.0
    text = f"{mean * scale:.{digits}f}"
    if std is None or pd.isna(std):
        return text
    return f"{text} ± {std * scale:.{digits}f}"


def ensemble_predictions(tables: Sequence[pd.DataFrame], task: str) -> pd.DataFrame:
    """Average the class probabilities of several prediction tables of the same test rows (seeds or models).

    Rows are matched by ``path``; ``<task>.pred`` becomes the class of highest mean probability.
    Raises ``ValueError`` when the tables do not cover the same rows or classes.
    """
    if not tables:
        raise ValueError("nothing to ensemble")
    prob_prefix = f"{task}.prob."
    indexed = [t.set_index("path").sort_index() for t in tables]
    first = indexed[0]
    columns = [c for c in first.columns if str(c).startswith(prob_prefix)]
    for other in indexed[1:]:
        if not other.index.equals(first.index):
            raise ValueError("ensembled prediction tables cover different files")
        if [c for c in other.columns if str(c).startswith(prob_prefix)] != columns:
            raise ValueError("ensembled prediction tables have different classes")
    mean = sum(t[columns].to_numpy(np.float64) for t in indexed) / len(indexed)
    result = first[["speaker", f"{task}.true"]].copy()
    result[columns] = mean
    classes = np.array([c[len(prob_prefix):] for c in columns], dtype=object)
    result[f"{task}.pred"] = classes[mean.argmax(axis=1)]
    return result.reset_index()


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A ``predictions.csv`` with class labels kept as text: a classification task's (one with ``.prob.`` columns)
    ``.true`` / ``.pred`` and ``speaker`` are read as strings, so codes such as "01" do not come back as 1."""
    header = pd.read_csv(path, nrows=0).columns
    tasks = {str(c).split(".prob.")[0] for c in header if ".prob." in str(c)}
    text = {c: str for c in header if c == "speaker" or any(c in (f"{t}.true", f"{t}.pred") for t in tasks)}
    return pd.read_csv(path, dtype=text)
