"""Confusion matrices and unweighted average recall from pooled ``predictions.csv`` rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Target value that marks a missing classification label.
IGNORE_INDEX = -100


def confusion_matrix(predictions: pd.DataFrame, task: str, classes: list[str] | None = None) -> pd.DataFrame | None:
    """Counts with true classes as rows and predicted classes as columns; ``None`` when the task has no labelled rows.

    Rows without a true label are left out. Integer labels are mapped to ``classes`` when they index it.
    Classes listed in ``classes`` come first, in that order; other labels seen follow, sorted.
    """
    true_column, pred_column = f"{task}.true", f"{task}.pred"
    if true_column not in predictions.columns or pred_column not in predictions.columns:
        return None
    classes = list(classes or [])
    rows = predictions[[true_column, pred_column]]
    rows = rows[rows[true_column].notna() & (rows[true_column].astype(str) != str(IGNORE_INDEX))]
    if rows.empty:
        return None
    true = _as_labels(rows[true_column], classes)
    pred = _as_labels(rows[pred_column], classes)
    seen = sorted((set(true) | set(pred)) - set(classes) - {"nan"})
    labels = classes + seen
    counts = pd.crosstab(pd.Categorical(true, labels), pd.Categorical(pred, labels), dropna=False)
    counts.index, counts.columns = labels, labels
    counts.index.name, counts.columns.name = "true", "predicted"
    return counts.astype(int)


def row_normalised(matrix: pd.DataFrame) -> pd.DataFrame:
    """Each row divided by its total (recall per true class); rows without samples stay 0."""
    totals = matrix.sum(axis=1).replace(0, np.nan)
    return matrix.div(totals, axis=0).fillna(0.0)


def unweighted_average_recall(matrix: pd.DataFrame) -> float:
    """Mean recall over the true classes that have at least one sample."""
    totals = matrix.sum(axis=1)
    present = totals > 0
    if not present.any():
        return float("nan")
    recalls = np.diag(matrix.to_numpy())[present.to_numpy()] / totals[present].to_numpy()
    return float(recalls.mean())


def _as_labels(values: pd.Series, classes: list[str]) -> list[str]:
    numeric = pd.to_numeric(values, errors="coerce")
    is_index = (
        classes
        and numeric.notna().all()
        and (numeric == numeric.round()).all()
        and numeric.between(0, len(classes) - 1).all()
        and not values.astype(str).isin(classes).any()
    )
    if is_index:
        return [classes[int(v)] for v in numeric]
    return [str(v) for v in values]
