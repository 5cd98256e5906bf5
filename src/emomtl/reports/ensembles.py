"""Seed ensembles in the report: what averaging an arm's seeds gives, and what it costs.

For each arm with several seeds, the class probabilities of its seeds are averaged on each fold's test rows (the
seeds that finished that fold), and the ensemble's pooled UA is set beside the mean of the single seeds' pooled UA.
The cost: the number of models each prediction runs and the summed training time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emomtl.evaluation.aggregate import ensemble_predictions, pooled_metrics
from emomtl.reports.columns import run_tasks
from emomtl.reports.document import Cell, Paragraph, Section, Table
from emomtl.reports.formatting import format_duration
from emomtl.reports.load import RunData


def seed_ensemble_rows(run: RunData, task: str) -> list[dict[str, float | int | str]]:
    """Per arm with two or more seeds: single-seed pooled UA (mean), ensemble pooled UA, models, training time."""
    predictions = run.predictions
    if predictions.empty or f"{task}.true" not in predictions.columns:
        return []
    rows = []
    for strategy, arm in predictions.groupby("strategy", sort=False):
        seeds = sorted(arm["seed"].unique())
        probabilities = [c for c in arm.columns if str(c).startswith(f"{task}.prob.") and arm[c].notna().any()]
        if len(seeds) < 2 or not probabilities or arm[f"{task}.true"].isna().all():
            continue  # one seed, or an arm without this task (e.g. single:gender)
        arm = arm.dropna(axis=1, how="all")
        folds = [set(arm.loc[arm["seed"] == s, "fold"]) for s in seeds]
        common = set.intersection(*folds)  # singles and ensemble on the same test rows
        arm = arm[arm["fold"].isin(common)]
        singles = [pooled_metrics(arm[arm["seed"] == s], task, "classification")["ua"] for s in seeds]
        fused = []
        for _, fold in arm.groupby("fold", sort=False):
            tables = [table.drop(columns=["strategy", "fold", "seed"]) for _, table in fold.groupby("seed")]
            fused.append(ensemble_predictions(tables, task))
        ensemble = pooled_metrics(pd.concat(fused, ignore_index=True), task, "classification")["ua"]
        results = run.results
        mine = results[results["strategy"] == strategy] if "strategy" in results.columns else results.iloc[:0]
        seconds = float(mine["wall_time_s"].sum()) if "wall_time_s" in mine.columns else float("nan")
        rows.append({"strategy": str(strategy), "seeds": len(seeds), "single": float(np.mean(singles)),
                     "ensemble": float(ensemble), "training_seconds": seconds})
    return rows


def seed_ensemble_section(run: RunData) -> Section | None:
    """The seed-ensemble table of the first scored classification task, or ``None`` without a multi-seed arm."""
    task = next((t.name for t in run_tasks(run) if t.kind == "classification" and not t.auxiliary), None)
    rows = seed_ensemble_rows(run, task) if task else []
    if not rows:
        return None
    cells = [[Cell(r["strategy"]), Cell(f"{100 * r['single']:.1f}"), Cell(f"{100 * r['ensemble']:.1f}"),
              Cell(f"{100 * (r['ensemble'] - r['single']):+.1f}"), Cell(str(r["seeds"])),
              Cell(format_duration(r["training_seconds"]))] for r in rows]
    note = Paragraph(
        f"{task} UA pooled over the test speakers: the mean of the single seeds, and the ensemble that averages the "
        "seeds' class probabilities on each test row. Cost: the ensemble runs one model per seed for each "
        "prediction (`emomtl predict` with one --checkpoint per seed), and its training time is every seed's.")
    columns = ["strategy", "single seed UA %", "seed ensemble UA %", "gain (points)", "models per prediction",
               "training time (all seeds)"]
    return Section("Seed ensembles", [note, Table(columns, cells)])
