"""The sections of a run report, each built from :class:`RunData`; a missing input becomes a sentence, not an error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from emomtl.data.tuned_speakers import tuning_warning
from emomtl.reports.columns import TaskColumns, headline_column, run_tasks, weight_columns
from emomtl.reports.confusion import confusion_matrix
from emomtl.reports.document import Cell, Figure, Paragraph, Report, Section, Table
from emomtl.reports.ensembles import seed_ensemble_section
from emomtl.reports.formatting import column_label, higher_is_better
from emomtl.reports.load import RunData, safe_name
from emomtl.reports.per_class import per_class_table
from emomtl.reports.significance import significance_section
from emomtl.reports.plots import confusion_grid, loss_curves, weight_trajectories
from emomtl.reports.tables import detail_table, natural_key, per_fold_table, results_table


def build_document(run: RunData, title: str | None = None) -> Report:
    """The whole report: run, results, per-fold, losses, weights, confusion matrices."""
    sections = [
        run_section(run),
        results_section(run),
        *filter(None, [significance_section(run), seed_ensemble_section(run)]),
        per_fold_section(run),
        loss_section(run),
        weight_section(run),
        confusion_section(run),
    ]
    if run.incomplete:
        note = Paragraph(f"incomplete: {len(run.results)} of {run.planned_runs} runs finished (arms x folds x seeds); "
                         "every table below covers the finished runs only.")
        sections.insert(0, Section("Incomplete run", [note]))
    if run.unreadable:
        files = ", ".join(str(path.relative_to(run.run_dir)) for path in run.unreadable)
        note = Paragraph(f"These files could not be parsed and were left out: {files}.")
        sections.append(Section("Unreadable files", [note]))
    return Report(title=title or default_title(run), sections=sections)


def default_title(run: RunData) -> str:
    """``emomtl report: <recipe> on <corpus>``: the corpus the run's resolved recipe actually loaded."""
    corpus = corpus_name(run)
    return f"emomtl report: {recipe_name(run)}" + (f" on {corpus}" if corpus else "")


def corpus_name(run: RunData) -> str | None:
    """The corpus the run's ``config.yaml`` loaded: ``data.corpora`` joined by "+" when pooled (it replaces
    ``data.corpus``), else ``data.corpus`` (a ``data.corpus=...`` override is resolved there)."""
    pooled = _lookup(run.config, "data.corpora")
    if isinstance(pooled, (list, tuple)) and pooled:
        names = [str(entry.get("corpus")) if isinstance(entry, dict) else str(entry) for entry in pooled]
        return "+".join(names)
    corpus = _lookup(run.config, "data.corpus")
    return str(corpus) if isinstance(corpus, (str, int, float)) and str(corpus) else None


# ------------------------------------------------------------------------------------------------------- run
def recipe_name(run: RunData) -> str:
    name = _lookup(run.config, "name", "recipe.name", "recipe", "experiment.name")
    return str(name) if isinstance(name, (str, int, float)) else run.run_dir.resolve().name


def run_section(run: RunData) -> Section:
    """Recipe name, date, seeds, folds, protocol, strategies and tasks."""
    results = run.results
    if "seed" in results.columns:  # the seeds that ran (a --seeds override is not in config.yaml)
        seeds = sorted(results["seed"].dropna().unique().tolist())
    else:
        seeds = _lookup(run.config, "train.seeds", "seeds", "experiment.seeds", "run.seeds", "train.seed", "seed")
    folds = sorted(results["fold"].dropna().astype(str).unique(), key=natural_key) if "fold" in results else []
    tasks = [f"{task.name} ({task.kind}{', auxiliary' if task.auxiliary else ''})" for task in run_tasks(run)]
    settings = [
        ("recipe", recipe_name(run)),
        ("corpus", corpus_name(run) or "–"),
        ("date", _run_date(run)),
        ("seeds", _as_text(seeds)),
        ("folds", f"{len(folds)} ({', '.join(folds)})" if folds else "–"),
        ("protocol", _as_text(_lookup(run.config, "protocol", "data.protocol", "experiment.protocol"))),
        ("strategies", ", ".join(run.strategies) or "–"),
        ("tasks", ", ".join(tasks) or "–"),
        ("run directory", str(run.run_dir)),
    ]
    reference = _lookup(run.config, "reference")
    if isinstance(reference, str) and reference:  # the paper's own figures, to read the results against
        settings.insert(2, ("paper's reported results", reference))
    tuned_on = _lookup(run.config, "tuned_on")
    if isinstance(tuned_on, dict) and tuned_on:
        settings.insert(3, ("settings tuned on", f"{'+'.join(map(str, tuned_on.get('corpora', [])))}: speakers "
                                                 f"{', '.join(map(str, tuned_on.get('speakers', [])))}"))
    blocks: list = [Table(["setting", "value"], [[Cell(key), Cell(value)] for key, value in settings], numeric=False)]
    test_speakers = [s for cell in results.get("test_speakers", pd.Series(dtype=str)).dropna().astype(str)
                     for s in cell.split()]
    warning = tuning_warning(run.config, test_speakers) if isinstance(run.config, dict) else None
    if warning:
        blocks.append(Paragraph(f"Not speaker-independent: {warning}."))
    if not run.config:
        blocks.append(Paragraph("No readable config.yaml in the run directory: recipe, date and protocol are unknown."))
    return Section("Run", blocks)


# ----------------------------------------------------------------------------------------------- results
def results_section(run: RunData) -> Section:
    """The paper-style table, then per-dimension metrics when a task reports them."""
    blocks: list = [results_table(run)]
    details = detail_table(run)
    if details is not None:
        blocks += [Paragraph("Per-dimension results:"), details]
    return Section("Results", blocks)


# ---------------------------------------------------------------------------------------------- per fold
def per_fold_section(run: RunData) -> Section:
    table = per_fold_table(run)
    if table is None:
        reason = "results.csv has no 'fold' column" if "fold" not in run.results.columns else "no metric column"
        return Section("Per-fold results", [Paragraph(f"No per-fold table: {reason}.")])
    blocks: list = [table]
    if len(table.columns) <= 3:  # strategy, one fold, mean
        blocks.append(Paragraph("The run has a single fold, so there is no spread across folds."))
    return Section("Per-fold results", blocks)


# ------------------------------------------------------------------------------------------------ curves
def loss_section(run: RunData) -> Section:
    """Train and validation joint loss per epoch, or why there is none."""
    histories = run.histories
    with_loss = _strategies_with(histories, ["train.loss", "val.loss"])
    strategies = [s for s in _all_strategies(run) if s in with_loss]
    if not strategies:
        note = Paragraph("No history.csv with train.loss or val.loss was found under runs/.")
        return Section("Joint loss per epoch", [note])
    caption = "Mean over folds and seeds; the band is ± one standard deviation."
    blocks: list = [Figure("loss", loss_curves(histories, strategies), caption)]
    blocks += _missing_note(run, with_loss, "history.csv with a joint loss")
    return Section("Joint loss per epoch", blocks)


def weight_section(run: RunData) -> Section:
    """Task weights per epoch (history.csv) and per step (steps.csv), or why there are none."""
    blocks: list = []
    for frame, x, file_name in [(run.histories, "epoch", "history.csv"), (run.steps, "step", "steps.csv")]:
        with_weights = _strategies_with(frame, weight_columns(frame), x)
        strategies = [s for s in _all_strategies(run) if s in with_weights]
        if not strategies:
            note = f"Per {x}: no {file_name} with weight.<task> columns was found, so no {x} trajectory."
            blocks.append(Paragraph(note))
            continue
        caption = f"Task weights per {x} ({file_name}), mean ± std over folds and seeds."
        blocks.append(Figure(f"weights_{x}", weight_trajectories(frame, x, strategies), caption))
        blocks += _missing_note(run, with_weights, f"{file_name} with task weights")
    return Section("Task-weight trajectories", blocks)


# --------------------------------------------------------------------------------------------- confusion
def best_strategy(run: RunData) -> str | None:
    """The strategy with the best mean headline metric (first one on ties)."""
    column = headline_column(run)
    if column is None:
        return None
    values = pd.to_numeric(run.results[column], errors="coerce")
    means = values.groupby(run.results["strategy"], sort=False).mean().dropna()
    if means.empty:
        return None
    return str(means.idxmax() if higher_is_better(column) else means.idxmin())


def confusion_section(run: RunData) -> Section:
    """Per classification task: the best strategy's pooled matrix, then every strategy's in a grid."""
    tasks = [task for task in run_tasks(run) if task.kind == "classification" and not task.auxiliary]
    if not tasks:
        note = "The run has no scored classification task: no confusion matrix."
        return Section("Confusion matrices", [Paragraph(note)])
    if run.predictions.empty:
        note = "No predictions.csv was found under runs/: no confusion matrix."
        return Section("Confusion matrices", [Paragraph(note)])
    best = best_strategy(run)
    headline = headline_column(run)
    blocks: list = [
        Paragraph(
            f"Predictions pooled over all folds and seeds; cells are recall per true class in percent. "
            f"Best strategy: {best} (by mean {column_label(headline) if headline else '–'})."
        )
    ]
    for task in tasks:
        blocks += _task_confusion_blocks(run, task, best)
    return Section("Confusion matrices", blocks)


def _task_confusion_blocks(run: RunData, task: TaskColumns, best: str | None) -> list:
    matrices = {}
    for strategy in _all_strategies(run):
        rows = run.predictions[run.predictions["strategy"] == strategy]
        matrix = confusion_matrix(rows, task.name, task.classes) if not rows.empty else None
        if matrix is not None:
            matrices[strategy] = matrix
    if not matrices:
        return [Paragraph(f"{task.name}: no predictions.csv has {task.name}.true and {task.name}.pred columns.")]
    blocks: list = []
    if best in matrices:
        png = confusion_grid([(f"{task.name} · {best}", matrices[best])], panel_size=4.5)
        blocks.append(Figure(f"confusion_best_{safe_name(task.name)}", png, f"{task.name}: best strategy ({best})."))
    for strategy, matrix in matrices.items():  # per-class results beside the matrices, best strategy first
        if strategy == best or best not in matrices:
            caption = f"{task.name} · {strategy}: per-class results pooled over folds and seeds."
            blocks.append(per_class_table(matrix, caption))
    panels = [(f"{task.name} · {strategy}", matrix) for strategy, matrix in matrices.items()]
    png = confusion_grid(panels)
    blocks.append(Figure(f"confusion_{safe_name(task.name)}", png, f"{task.name}: every strategy with predictions."))
    blocks += _missing_note(run, set(matrices), f"{task.name} predictions")
    return blocks


# --------------------------------------------------------------------------------------------- helpers
def _all_strategies(run: RunData) -> list[str]:
    """Strategies of results.csv, then any strategy that only has a folder under runs/."""
    extra = [] if run.histories.empty else list(dict.fromkeys(run.histories["strategy"]))
    return list(dict.fromkeys(run.strategies + extra))


def _strategies_with(frame: pd.DataFrame, columns: list[str], x: str | None = None) -> set[str]:
    """Strategies having at least one non-missing value in any of ``columns`` (and an ``x`` column, if given)."""
    present = [c for c in columns if c in frame.columns]
    if frame.empty or not present or (x is not None and x not in frame.columns):
        return set()
    has_value = frame[present].notna().any(axis=1)
    return set(frame.loc[has_value, "strategy"].astype(str))


def _missing_note(run: RunData, found: set[str], what: str) -> list[Paragraph]:
    missing = [s for s in run.strategies if s not in found]
    return [Paragraph(f"No {what} for: {', '.join(missing)}.")] if missing else []


def _lookup(config: dict[str, Any], *paths: str) -> Any:
    """The value at the first dotted path present in ``config``."""
    for path in paths:
        node: Any = config
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            return node
    return None


def _as_text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict):
        return ", ".join(f"{key}={_as_text(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_as_text(item) for item in value)
    return str(value)


def _run_date(run: RunData) -> str:
    date = _lookup(run.config, "date", "created", "run.date", "experiment.date")
    if date is not None:
        return str(date)
    modified = dt.datetime.fromtimestamp((run.run_dir / "results.csv").stat().st_mtime)
    return f"{modified:%Y-%m-%d %H:%M} (results.csv written)"
