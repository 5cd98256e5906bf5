"""Helpers shared by the real-data benchmarks: data checks, summaries from run folders, Markdown tables."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emomtl.evaluation.aggregate import ensemble_predictions, pooled_metrics, read_predictions
from emomtl.reports.load import read_planned_folds
from emomtl.runtime.record import PLAN_NAME
from emomtl.evaluation.metrics import HEADLINE_METRIC, METRIC_LABELS

#: Column names of the benchmark tables, from the one metric vocabulary (evaluation/metrics.py).
UA, WA, F1 = (f"{METRIC_LABELS[m]} %" for m in ("ua", "wa", "macro_f1"))
#: The metric that ranks configurations: a classification task's headline metric.
MAIN_METRIC = HEADLINE_METRIC["classification"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"


def require_corpus(data: Path, name: str) -> Path:
    """The corpus folder, or exit non-zero naming the path that was expected."""
    folder = Path(data) / name
    if not folder.is_dir():
        print(f"error: corpus folder {folder} not found (expected the real corpus there; pass --data)", file=sys.stderr)
        raise SystemExit(2)
    return folder


def markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(frame.columns))) + "|"
    rows = ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def pct(values: list[float]) -> str:
    """Percent mean ± sample std; one value alone has no spread and is printed without one."""
    values = [v for v in values if np.isfinite(v)]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * np.mean(values):.1f} ± {100 * float(np.std(values, ddof=1)):.1f}"


def complete_seeds(results: pd.DataFrame, folds: set) -> set[int]:
    """Seeds whose rows of ``results`` (one arm of a ``results.csv``) cover every fold in ``folds``."""
    return {int(seed) for seed, group in results.groupby("seed") if set(group["fold"]) >= set(folds)}


def run_predictions(run_dir: Path, strategy: str) -> dict[int, pd.DataFrame]:
    """Test predictions of every fold of one strategy, concatenated per seed; a seed that has not finished every
    fold (a run still going, or stopped) is left out, so a pooled score always covers the whole corpus. With a
    ``plan.json`` a seed needs each fold it names (folders of other folds are ignored); without one, as many
    folds as the seed with the most."""
    plan = read_planned_folds(run_dir / PLAN_NAME)
    per_seed: dict[int, dict[str, pd.DataFrame]] = {}
    for folder in sorted((run_dir / "runs" / strategy.replace(":", "_")).glob("*_seed*")):
        fold, seed = folder.name.rsplit("_seed", 1)
        if not (folder / "predictions.csv").exists() or (plan is not None and fold not in plan):
            continue
        per_seed.setdefault(int(seed), {})[fold] = read_predictions(folder / "predictions.csv")
    needed = len(plan) if plan is not None else max((len(frames) for frames in per_seed.values()), default=0)
    return {seed: pd.concat(frames.values(), ignore_index=True) for seed, frames in sorted(per_seed.items())
            if len(frames) == needed}


def ensemble_scores(predictions: dict[int, pd.DataFrame], size: int, task: str = "emotion") -> list[dict[str, float]]:
    """Pooled scores of ensembles of ``size`` seeds over disjoint seed groups (seeds in order: 0-2, 3-5, ...)."""
    seeds = sorted(predictions)
    groups = [seeds[i : i + size] for i in range(0, len(seeds) - size + 1, size)]
    return [pooled_metrics(ensemble_predictions([predictions[s] for s in group], task), task, "classification")
            for group in groups]


def summarise(run_dir: Path, label: str, main_task: str = "emotion", extra_tasks: tuple[str, ...] = ("gender",),
              wall_time_s: float | None = None, ensemble_size: int | None = None) -> list[dict[str, Any]]:
    """One row per strategy: pooled UA/WA/F1 per seed (mean ± std), the seed ensemble, other tasks, weights.

    With ``ensemble_size`` k, the row describes the *k-seed ensemble* as the configuration: its UA/WA/F1 are
    mean ± std over disjoint groups of k seeds (so 9 seeds give 3 independent ensembles).
    """
    results = pd.read_csv(run_dir / "results.csv")
    rows = []
    for strategy, group in results.groupby("strategy", sort=False):
        predictions = run_predictions(run_dir, strategy)
        if not predictions:
            print(f"{label} / {strategy}: no seed has finished every fold; left out of the table", file=sys.stderr)
            continue
        has_main = f"{main_task}.true" in next(iter(predictions.values())).columns
        nan = {"ua": float("nan"), "wa": float("nan"), "macro_f1": float("nan")}
        if ensemble_size and has_main:
            scores = ensemble_scores(predictions, ensemble_size, main_task)
        else:
            scores = [pooled_metrics(p, main_task, "classification") if has_main else nan for p in predictions.values()]
        ensemble = (pooled_metrics(ensemble_predictions(list(predictions.values()), main_task), main_task,
                                   "classification") if has_main else nan)
        row: dict[str, Any] = {
            "model": label if not ensemble_size else f"{label}, {ensemble_size}-seed ensemble "
                                                       f"({len(scores)} x {ensemble_size} seeds)",
            "strategy": strategy,
            UA: pct([s[MAIN_METRIC] for s in scores]), WA: pct([s["wa"] for s in scores]),
            F1: pct([s["macro_f1"] for s in scores]),
            f"{UA} (seed ensemble)": f"{100 * ensemble[MAIN_METRIC]:.1f}" if has_main else "-",
        }
        if ensemble_size and has_main:  # the members on their own, every seed
            row[f"{UA} (single models, all seeds)"] = pct([pooled_metrics(p, main_task, "classification")[MAIN_METRIC]
                                                         for p in predictions.values()])
        for task in extra_tasks:
            if f"{task}.true" in next(iter(predictions.values())).columns:
                row[f"{task} acc %"] = pct([pooled_metrics(p, task, "classification")["wa"]
                                            for p in predictions.values()])
            else:
                row[f"{task} acc %"] = "-"
        weights = [c for c in group.columns if c.startswith("weight.")]
        row["final weights"] = " ".join(f"{c[7:]}={group[c].mean():.2f}" for c in weights if group[c].notna().any())
        column = f"val.{main_task}.{MAIN_METRIC}"
        row[f"val {UA}"] = pct(group.groupby("seed")[column].mean().tolist()) if column in group else "-"
        row["_val_ua"] = float(group[column].mean()) if column in group and has_main else float("nan")
        per_seed = group.groupby("seed")[column].mean() if column in group and has_main else pd.Series(dtype=float)
        row["_val_se"] = float(per_seed.std(ddof=1) / np.sqrt(len(per_seed))) if len(per_seed) > 1 else 0.0
        row["train time (s)"] = f"{group['wall_time_s'].sum():.0f}"
        row["_seeds"] = len(predictions)
        row["_ua_mean"] = float(np.mean([s[MAIN_METRIC] for s in scores]))
        row["_ensemble_ua"] = float(ensemble[MAIN_METRIC])
        rows.append(row)
    return rows


def seed_records(run_dir: Path, label: str, main_task: str = "emotion",
                 extra_tasks: tuple[str, ...] = ("gender",)) -> list[dict[str, Any]]:
    """One row per strategy and finished seed: the pooled scores behind a table's mean ± std.

    Written beside each table (``<name>_seeds``) so that seeds run later, in another run folder, can be pooled with
    these exactly (``benchmarks/combine_seeds.py``), even once the run folders are gone.
    """
    results = pd.read_csv(run_dir / "results.csv")
    records = []
    for strategy in results["strategy"].drop_duplicates():
        for seed, frame in run_predictions(run_dir, strategy).items():
            record: dict[str, Any] = {"model": label, "strategy": strategy, "seed": seed}
            for task in (main_task, *extra_tasks):
                if f"{task}.true" not in frame.columns:
                    continue
                scores = pooled_metrics(frame, task, "classification")
                if task == main_task:
                    record.update({UA: round(100 * scores[MAIN_METRIC], 2), WA: round(100 * scores["wa"], 2),
                                   F1: round(100 * scores["macro_f1"], 2)})
                else:
                    record[f"{task} acc %"] = round(100 * scores["wa"], 2)
            records.append(record)
    return records


class Timer:
    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def write_outputs(out: Path, name: str, table: pd.DataFrame, extra: dict[str, Any] | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{name}.csv", index=False)
    (out / f"{name}.json").write_text(json.dumps({"rows": table.to_dict(orient="records"), **(extra or {})},
                                                 indent=2, default=str))
    (out / f"{name}.md").write_text(markdown_table(table) + "\n")
