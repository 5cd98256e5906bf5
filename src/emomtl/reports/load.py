"""Read a run directory (see docs/ARCHITECTURE.md, "Run directory") into a few pandas tables."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from emomtl.errors import EmomtlError
from emomtl.evaluation.aggregate import read_predictions

#: Name of a single run's folder under ``runs/<strategy>/``: ``<fold>_seed<seed>``, the fold being the split's name
#: as in ``results.csv`` (``fold3``, ``loso-03``, ``fixed`` ...).
RUN_FOLDER_PATTERN = re.compile(r"^(?P<fold>.+)_seed(?P<seed>-?\d+)$")

#: Columns added to every per-run table to say where its rows come from.
RUN_KEYS = ("strategy", "fold", "seed")


class RunDirError(EmomtlError):
    """A directory is not a run directory, or its ``results.csv`` cannot be read."""


@dataclass
class RunData:
    """Everything a report reads from one run directory.

    ``histories``, ``steps`` and ``predictions`` concatenate the per-run CSV files, each row tagged with
    ``strategy``, ``fold`` (the split name, a string) and ``seed``; they are empty when no run wrote that file.
    ``unreadable`` lists per-run files that exist but could not be parsed (left out of the tables).
    """

    run_dir: Path
    config: dict[str, Any]
    results: pd.DataFrame
    histories: pd.DataFrame = field(default_factory=pd.DataFrame)
    steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    unreadable: list[Path] = field(default_factory=list)
    planned_runs: int | None = None
    """Runs the experiment planned (``plan.json``); ``None`` for folders written before it existed."""

    @property
    def incomplete(self) -> bool:
        return self.planned_runs is not None and len(self.results) < self.planned_runs

    @property
    def strategies(self) -> list[str]:
        """Strategies in the order they first appear in ``results.csv``."""
        if "strategy" not in self.results.columns:
            return []
        return list(dict.fromkeys(self.results["strategy"].astype(str)))


def load_run(run_dir: Path | str) -> RunData:
    """Read ``run_dir``; raise :class:`RunDirError` when it has no readable ``results.csv``."""
    run_dir = Path(run_dir)
    results_path = run_dir / "results.csv"
    if not results_path.is_file():
        raise RunDirError(f"{run_dir} is not a run directory: {results_path} does not exist")
    try:
        results = pd.read_csv(results_path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise RunDirError(f"{results_path} cannot be read: {error}") from error
    if "strategy" not in results.columns:
        raise RunDirError(f"{results_path} has no 'strategy' column; columns are {list(results.columns)}")
    results["strategy"] = results["strategy"].astype(str)
    strategies = list(dict.fromkeys(results["strategy"]))
    unreadable: list[Path] = []
    return RunData(
        run_dir=run_dir,
        config=read_config(run_dir / "config.yaml"),
        results=results,
        histories=_read_per_run(run_dir, "history.csv", strategies, unreadable),
        steps=_read_per_run(run_dir, "steps.csv", strategies, unreadable),
        predictions=_read_per_run(run_dir, "predictions.csv", strategies, unreadable),
        unreadable=unreadable,
        planned_runs=read_planned_runs(run_dir / "plan.json"),
    )


def read_plan(path: Path) -> dict[str, Any]:
    """The mapping ``plan.json`` holds, or ``{}`` when it is missing, unreadable or not a mapping."""
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return plan if isinstance(plan, dict) else {}


def read_planned_runs(path: Path) -> int | None:
    """The number of runs ``plan.json`` lists, or ``None`` when it is missing or unreadable."""
    runs = read_plan(path).get("runs")
    return runs if isinstance(runs, int) and not isinstance(runs, bool) else None


def read_planned_folds(path: Path) -> list[str] | None:
    """The folds ``plan.json`` says each seed runs, or ``None`` when it is missing, unreadable or names none."""
    folds = read_plan(path).get("folds")
    return [str(fold) for fold in folds] if isinstance(folds, list) and folds else None


def read_config(path: Path) -> dict[str, Any]:
    """The resolved recipe, or ``{}`` when the file is missing or not a mapping."""
    if not path.is_file():
        return {}
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise RunDirError(f"{path} is not valid YAML: {error}") from error
    return config if isinstance(config, dict) else {}


def strategy_for_folder(folder_name: str, strategies: list[str]) -> str:
    """The ``results.csv`` strategy a ``runs/`` folder belongs to (``single_emotion`` -> ``single:emotion``).

    Folders are matched to strategies by name or by :func:`safe_name`; an unknown folder keeps its own name.
    """
    for strategy in strategies:
        if folder_name in (strategy, strategy.replace(":", "_"), safe_name(strategy)):
            return strategy
    return folder_name


def safe_name(name: str) -> str:
    """``name`` with every character other than letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _read_per_run(run_dir: Path, file_name: str, strategies: list[str], unreadable: list[Path]) -> pd.DataFrame:
    """Concatenate ``runs/*/fold<k>_seed<s>/<file_name>``; append files that fail to parse to ``unreadable``."""
    frames = []
    for path in sorted((run_dir / "runs").glob(f"*/*/{file_name}")):
        match = RUN_FOLDER_PATTERN.match(path.parent.name)
        if match is None:
            continue
        try:
            frame = read_predictions(path) if file_name == "predictions.csv" else pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            unreadable.append(path)
            continue
        if frame.empty:
            continue
        frame.insert(0, "strategy", strategy_for_folder(path.parent.parent.name, strategies))
        frame.insert(1, "fold", match["fold"])
        frame.insert(2, "seed", int(match["seed"]))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(RUN_KEYS))
