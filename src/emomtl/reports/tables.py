"""The paper-style results table, the per-dimension table and the per-fold table, built from ``results.csv``."""

from __future__ import annotations

import re

import pandas as pd

from emomtl.evaluation.aggregate import mean_std
from emomtl.reports.columns import WEIGHT_PREFIX, headline_column, run_tasks, weight_columns
from emomtl.reports.document import Cell, Table
from emomtl.reports.formatting import (
    MISSING,
    best_rows,
    column_label,
    format_duration,
    format_mean_std,
    format_value,
    scale_factor,
)
from emomtl.reports.load import RunData


def scored_columns(run: RunData) -> list[str]:
    """Columns of the results table that get mean ± std and a bold best: task metrics in task order, then ``score``.

    Auxiliary tasks (trained, never scored: e.g. speaker identity under LOSO, where the test speaker is unseen) are
    left out, so they are neither shown nor bolded as a best result.
    """
    columns = [column for task in run_tasks(run) if not task.auxiliary for column in task.metric_columns]
    return columns + (["score"] if "score" in run.results.columns else [])


def detail_columns(run: RunData) -> list[str]:
    """Finer metric columns (``<task>.<metric>.<dimension>``) of the scored tasks, in task order."""
    return [column for task in run_tasks(run) if not task.auxiliary for column in task.detail_columns]


def mean_and_std(run: RunData, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Per strategy (in file order) over its (fold, seed) rows: mean, sample std (0 for one run) and run count."""
    summary = mean_std(run.results, ["strategy"], columns).set_index("strategy").reindex(run.strategies)
    means = pd.DataFrame({c: summary[f"{c}.mean"] for c in columns}, index=summary.index)
    stds = pd.DataFrame({c: summary[f"{c}.std"] for c in columns}, index=summary.index)
    return means, stds, summary["n"]


def results_table(run: RunData) -> Table:
    """One row per strategy: metrics and score as mean ± std (best in bold), final weights, wall time, run count."""
    results = run.results
    scored = scored_columns(run)
    weights = weight_columns(results)
    times = ["wall_time_s"] if "wall_time_s" in results.columns else []
    means, stds, counts = mean_and_std(run, scored + weights + times)
    header = ["strategy", *(column_label(c) for c in scored)]
    header += [f"w({c.removeprefix(WEIGHT_PREFIX)})" for c in weights]
    header += ["wall time / run"] * len(times) + ["runs"]
    rows = _scored_cells(run, scored, means, stds)
    for row, strategy in zip(rows, means.index):
        row += [Cell(format_value(means.at[strategy, c], "weight")) for c in weights]
        row += [Cell(format_duration(means.at[strategy, c])) for c in times]
        row.append(Cell(str(int(counts.at[strategy]))))
    caption = (
        "Mean ± std over folds × seeds; rates in percent; best value per column in bold; "
        "w(task) is the final task weight, averaged over runs."
    )
    if "score" in scored and any(strategy.startswith("single:") for strategy in run.strategies):
        caption += " A single-task baseline's score covers its one task only."
    return Table(columns=header, rows=rows, caption=caption)


def detail_table(run: RunData) -> Table | None:
    """Per-dimension metrics (e.g. CCC of each emotion intensity) as mean ± std; ``None`` when there are none."""
    columns = detail_columns(run)
    if not columns:
        return None
    means, stds, _ = mean_and_std(run, columns)
    rows = _scored_cells(run, columns, means, stds)
    caption = "Mean ± std over folds × seeds of each dimension; best value per column in bold."
    return Table(columns=["strategy", *(column_label(c) for c in columns)], rows=rows, caption=caption)


def per_fold_table(run: RunData) -> Table | None:
    """Strategy × fold: mean over seeds of the headline metric, best per fold in bold; ``None`` without one."""
    column = headline_column(run)
    results = run.results
    if column is None or "fold" not in results.columns:
        return None
    values = pd.to_numeric(results[column], errors="coerce")
    folds = sorted(results["fold"].dropna().astype(str).unique(), key=natural_key)
    grid = (
        values.groupby([results["strategy"], results["fold"].astype(str)], sort=False)
        .mean()
        .unstack("fold")
        .reindex(index=run.strategies, columns=folds)
    )
    grid["mean"] = grid.mean(axis=1)
    factor = scale_factor(results[column], column)
    best = {fold: best_rows(grid[fold], column, factor) for fold in grid.columns}
    rows = [
        [Cell(str(strategy))]
        + [
            Cell(format_value(grid.at[strategy, fold], column, factor), bold=bool(best[fold].at[strategy]))
            for fold in grid.columns
        ]
        for strategy in grid.index
    ]
    caption = (
        f"{column_label(column)} per test fold, mean over seeds; 'mean' averages the folds; best per column in bold."
    )
    header = ["strategy", *(f"fold {fold}" if fold.isdigit() else fold for fold in folds), "mean"]
    return Table(columns=header, rows=rows, caption=caption)


def _scored_cells(run: RunData, columns: list[str], means: pd.DataFrame, stds: pd.DataFrame) -> list[list[Cell]]:
    """Rows of ``strategy, mean ± std ...`` with the best mean of each column in bold."""
    factors = {column: scale_factor(run.results[column], column) for column in columns}
    best = {column: best_rows(means[column], column, factors[column]) for column in columns}
    rows = []
    for strategy in means.index:
        row = [Cell(str(strategy))]
        for column in columns:
            text = format_mean_std(means.at[strategy, column], stds.at[strategy, column], column, factors[column])
            row.append(Cell(text, bold=bool(best[column].at[strategy]) and text != MISSING))
        rows.append(row)
    return rows


def natural_key(text: str) -> list:
    """Sort key of fold names putting ``fold2`` before ``fold10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text) if part]
