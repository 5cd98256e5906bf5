"""How numbers appear in a report: percent or three decimals, mean ± std, the best value of a column."""

from __future__ import annotations

import math

import pandas as pd

from emomtl.evaluation.metrics import LOWER_IS_BETTER, METRIC_LABELS, PERCENT_METRICS
from emomtl.reports.columns import metric_name

MISSING = "–"
PERCENT_DECIMALS = 1
PLAIN_DECIMALS = 3


def is_percent(column: str) -> bool:
    """Whether a column's metric is a rate printed in percent (UA, WA, macro-F1, accuracy ...)."""
    return metric_name(column) in PERCENT_METRICS


def higher_is_better(column: str) -> bool:
    return metric_name(column) not in LOWER_IS_BETTER


def scale_factor(values: pd.Series, column: str) -> float:
    """100 for a percent metric stored as a fraction (all |values| <= 1), else 1."""
    finite = pd.to_numeric(values, errors="coerce").dropna()
    if is_percent(column) and (finite.empty or finite.abs().max() <= 1.0):
        return 100.0
    return 1.0


def decimals(column: str) -> int:
    return PERCENT_DECIMALS if is_percent(column) else PLAIN_DECIMALS


def format_value(value: float, column: str, factor: float = 1.0) -> str:
    """``value * factor`` with the column's number of decimals, or ``–`` when missing."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value * factor:.{decimals(column)}f}"


def format_mean_std(mean: float, std: float, column: str, factor: float = 1.0) -> str:
    """``mean ± std``; only the mean when the std is undefined (a single value)."""
    text = format_value(mean, column, factor)
    if text == MISSING or std is None or not math.isfinite(std):
        return text
    return f"{text} ± {format_value(std, column, factor)}"


def best_rows(means: pd.Series, column: str, factor: float = 1.0) -> pd.Series:
    """True where a mean equals the column's best mean as printed (ties are all best)."""
    shown = (pd.to_numeric(means, errors="coerce") * factor).round(decimals(column))
    if shown.dropna().empty:
        return pd.Series(False, index=means.index)
    best = shown.max() if higher_is_better(column) else shown.min()
    return (shown == best).fillna(False)


def column_label(column: str) -> str:
    """Header of a metric column: ``emotion.ua`` -> ``emotion UA (%)``, ``emotion.ccc.awe`` -> ``emotion CCC awe``."""
    label = " ".join(METRIC_LABELS.get(part, part) for part in column.split("."))
    return f"{label} (%)" if is_percent(column) else label


def format_duration(seconds: float) -> str:
    """``42.0 s``, ``12.5 min`` or ``3.20 h``; ``–`` when missing."""
    if seconds is None or not math.isfinite(seconds):
        return MISSING
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"
