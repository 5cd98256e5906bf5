"""Per-class precision, recall, F1 and support from a pooled confusion matrix (true classes as rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from emomtl.reports.document import Cell, Table


def per_class_metrics(matrix: pd.DataFrame) -> pd.DataFrame:
    """One row per class: precision (of its predictions), recall (of its true rows), their harmonic mean F1 and the
    support (true rows); a class never predicted, or never true, has precision, or recall, 0 (scikit-learn's
    ``zero_division=0``). The last row, ``macro avg``, is the unweighted mean over classes with support."""
    counts = matrix.to_numpy(dtype=float)
    hits = np.diag(counts)
    predicted, support = counts.sum(axis=0), counts.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    frame = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": support.astype(int)},
                         index=pd.Index([str(c) for c in matrix.index], name="class"))
    present = support > 0
    macro = [frame.loc[present, c].mean() if present.any() else float("nan") for c in ("precision", "recall", "f1")]
    frame.loc["macro avg"] = [*macro, int(support.sum())]
    frame["support"] = frame["support"].astype(int)
    return frame


def per_class_table(matrix: pd.DataFrame, caption: str) -> Table:
    """:func:`per_class_metrics` as a report table, metrics in percent."""
    metrics = per_class_metrics(matrix)
    rows = [[Cell(str(name), bold=name == "macro avg")]
            + [Cell(f"{100 * row[c]:.1f}") for c in ("precision", "recall", "f1")] + [Cell(str(int(row["support"])))]
            for name, row in metrics.iterrows()]
    return Table(["class", "precision (%)", "recall (%)", "F1 (%)", "support"], rows, caption=caption)
