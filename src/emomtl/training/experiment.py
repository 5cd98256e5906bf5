"""Cross-validation and strategy comparison: every (strategy, fold, seed) run on identical splits.

A run directory (docs/ARCHITECTURE.md) collects one sub-folder per run and a ``results.csv`` with one
row per run; rerunning the same command resumes: finished runs are read back, interrupted ones
continue from their last checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
import pandas as pd

from emomtl.config import ProtocolSettings, Recipe, as_recipe, save_recipe
from emomtl.data.protocols import Split, assert_speaker_disjoint, make_splits
from emomtl.data.tuned_speakers import speakers_of, tuning_warning
from emomtl.errors import ConfigError
from emomtl.evaluation.metrics import SUMMARY_METRICS
from emomtl.models.registry import model_class
from emomtl.models.tasks import TaskSpec
from emomtl.runtime.files import write_csv, write_json
from emomtl.runtime.lock import RunLock
from emomtl.runtime.record import PLAN_NAME, Provenance, claim_run_folder, run_record
from emomtl.training.backends import Backend, LocalBackend, make_backend
from emomtl.training.loop import finished_metrics
from emomtl.training.prepare import PreparedCorpus
from emomtl.weighting.registry import STRATEGIES, parameters as strategy_parameters

log = logging.getLogger(__name__)

#: Tasks that identify the speaker cannot be scored when test speakers are unseen.
SPEAKER_COLUMNS = ("speaker",)


@dataclass
class Arm:
    """One compared configuration: a weighting strategy over all tasks, or a single-task baseline."""

    label: str
    weighting: dict[str, Any]
    task_names: list[str] | None = None  # None: every task of the recipe
    model: dict[str, Any] | None = None  # None: the recipe's model; else this ``model:`` section (e.g. linear_svm)


def plan_arms(recipe: Recipe | dict[str, Any], weightings: list[str] | None = None,
              single_task: bool | Sequence[str] = False,
              models: Sequence[str | dict[str, Any]] = ()) -> list[Arm]:
    """The strategies to run: the recipe's own (``train``/``cv``) or a list (``compare``), plus baselines.

    ``single_task`` adds a single-task baseline per non-auxiliary task (``True``) or for the tasks named.
    ``weightings=[]`` with named single tasks plans the baselines alone. ``models`` adds one arm per other model
    (a name such as ``linear_svm``, or a ``model:`` section), labelled by its name, e.g. the classical anchor.
    """
    recipe = as_recipe(recipe)
    params = recipe.compare.params
    unknown = sorted(set(params) - set(STRATEGIES))
    if unknown:
        raise ConfigError(f"compare.params.{unknown[0]}: not a weighting strategy (emomtl weighting list)")
    own = recipe.weighting
    arms = []
    for name in weightings if weightings is not None else [own["name"]]:
        config = dict(own) if name == own["name"] else {"name": name, **shared_weighting_settings(own, name)}
        config.update(params.get(name, {}))
        arms.append(Arm(name, config))
    names = recipe.scored_task_names
    wanted = names if single_task is True else list(single_task or [])
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise ConfigError(f"single-task baseline for {unknown[0]!r}: not a main task of the recipe ({names})")
    arms += [Arm(f"single:{name}", {"name": "static"}, [name]) for name in names if name in wanted]
    for entry in models:
        section = {"name": entry} if isinstance(entry, str) else dict(entry)
        if not isinstance(section.get("name"), str):
            raise ConfigError(f"compare.models: {entry!r} is neither a model name nor a model section with a name")
        try:
            model_class(section["name"])
        except ConfigError as error:
            raise ConfigError(f"compare.models: {error}") from error
        if section["name"] in {arm.label for arm in arms}:
            raise ConfigError(f"compare.models: {section['name']!r} is already an arm label")
        arms.append(Arm(section["name"], {"name": "static"}, model=section))
    labels = [arm.label for arm in arms]
    if not arms:
        raise ConfigError("compare: no arm to run (compare.weightings / --weightings is empty and no single-task "
                          "baseline or model was asked for)")
    if len(set(labels)) < len(labels):
        twice = sorted({label for label in labels if labels.count(label) > 1})
        raise ConfigError(f"compare: arm {twice[0]!r} is listed twice; each arm runs once")
    return arms


#: Settings of the recipe's ``weighting`` section that every compared strategy shares (if it takes them).
SHARED_WEIGHTING_SETTINGS = ("lr", "follow_schedule", "precision_factor")


def shared_weighting_settings(own: dict[str, Any], name: str) -> dict[str, Any]:
    """The recipe's ``weighting.lr`` / ``follow_schedule`` for any arm, ``precision_factor`` for arms taking it."""
    takes = strategy_parameters(STRATEGIES[name]) if name in STRATEGIES else {}
    return {k: own[k] for k in SHARED_WEIGHTING_SETTINGS
            if k in own and (k != "precision_factor" or k in takes)}


def check_data_parallel(arms: list[Arm], devices: int, jobs: int) -> None:
    """Refuse, before any training, what ``train.devices > 1`` cannot run: parallel jobs or DDP-unsafe strategies."""
    if jobs > 1:
        raise ConfigError(f"train.devices={devices} trains every run on {devices} processes already; "
                          f"use --jobs 1 with it (or train.devices=1 with --jobs {jobs})")
    unsafe = sorted({arm.weighting.get("name", "static") for arm in arms if arm.model is None}
                    & {name for name, entry in STRATEGIES.items() if not entry.ddp_safe})
    if unsafe:
        raise ConfigError(f"train.devices={devices}: weighting {unsafe[0]!r} is not safe under data-parallel "
                          "training (emomtl weighting list); drop it from the arms or set train.devices=1")


def recipe_for_arm(recipe: Recipe | dict[str, Any], tasks: list[TaskSpec]) -> Recipe:
    """The recipe as one arm runs it: a selection metric of a task the arm lacks falls back to ``val.score``."""
    recipe = as_recipe(recipe)
    metric = recipe.train.select_metric
    parts = metric.split(".")
    if len(parts) >= 3 and parts[0] == "val" and parts[1] not in {t.name for t in tasks}:
        log.info("arm without task %s: selecting on val.score instead of %s", parts[1], metric)
        return dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, select_metric="val.score"))
    return recipe


def scored_tasks(tasks: list[TaskSpec], protocol: ProtocolSettings | dict[str, Any]) -> list[TaskSpec]:
    """Mark speaker-identity tasks auxiliary (train-only) under speaker-independent protocols."""
    protocol = protocol if isinstance(protocol, ProtocolSettings) else ProtocolSettings.parse(protocol)
    independent = protocol.is_speaker_independent
    for task in tasks:
        if independent and task.kind == "classification" and task.column in SPEAKER_COLUMNS and not task.auxiliary:
            log.warning("task %s: speaker identity cannot be scored on unseen test speakers; trained as auxiliary",
                        task.name)
            task.auxiliary = True
    return tasks


def build_splits(recipe: Recipe | dict[str, Any], table: pd.DataFrame) -> list[Split]:
    """The protocol's splits of ``table`` (the first ``train.max_folds``), each checked speaker-disjoint."""
    recipe = as_recipe(recipe)
    protocol = recipe.protocol
    splits = make_splits(table, protocol.name, seed=protocol.seed, **protocol.options())
    for split in splits:
        assert_speaker_disjoint(table, split)
    limit = recipe.train.max_folds
    return splits[:limit] if limit else splits


def _speakers(table: pd.DataFrame, rows: np.ndarray) -> str:
    return " ".join(sorted(map(str, table["speaker"].iloc[rows].unique())))


def result_row(arm: Arm, split: Split, seed: int, table: pd.DataFrame, metrics: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"strategy": arm.label, "fold": split.name, "seed": seed,
                           "test_speakers": _speakers(table, split.test),
                           "val_speakers": _speakers(table, split.validation)}
    for task, values in metrics["test"].items():
        row.update({f"{task}.{metric}": value for metric, value in values.items() if isinstance(value, (int, float))})
    row["score"] = metrics["score"]
    # the best epoch's validation headline metrics: compare configurations on these, never on test
    row.update({key: value for key, value in metrics.get("val", {}).items()
                if key.endswith((*(f".{m}" for m in SUMMARY_METRICS), "score")) and isinstance(value, (int, float))})
    row.update({f"weight.{task}": value for task, value in metrics.get("weights", {}).items()})
    row.update({"best_epoch": metrics["best_epoch"], "epochs_run": metrics.get("epochs_run"),
                "wall_time_s": metrics.get("wall_time_s", float("nan"))})
    return row


def run_experiment(
    recipe: Recipe | dict[str, Any], run_dir: Path, weightings: list[str] | None = None,
    single_task: bool | Sequence[str] = False,
    seeds: list[int] | None = None, resume: bool = True, progress: bool = False, prepared: PreparedCorpus | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None, jobs: int = 1,
    models: Sequence[str | dict[str, Any]] = (), devices: int | None = None,
    backend: str | Backend | None = None, address: str | None = None, finished_only: bool = False,
) -> pd.DataFrame:
    """Run every arm on every fold and seed; returns (and writes) ``results.csv``.

    ``finished_only`` trains nothing: ``results.csv`` lists the planned runs that have finished (e.g. to write
    tables while a longer plan is stopped half-way; its seeds may then differ between arms).

    ``jobs > 1`` trains that many runs at once in worker processes (each with ``cores / jobs`` threads),
    which keeps both cores busy with small models; results are identical to ``jobs=1``.
    ``devices`` (default ``train.devices``) > 1 trains each run data-parallel on that many processes / GPUs
    (DDP, as ``emomtl train`` does), one run after another; it excludes ``jobs > 1`` on the local backend. With CUDA
    present and ``jobs`` 1, every run goes through Fabric on the GPU (``train.precision`` selects mixed precision).
    ``backend`` (default ``train.backend``): ``local`` (this machine) or ``ray`` (every run a Ray task, on a local Ray
    instance or the cluster at ``address``; ``jobs`` then means runs at once per node), or a ``Backend`` object;
    see ``training.backends``.
    """
    settings = as_recipe(recipe).train
    devices = int(devices or settings.devices or 1)
    runner = backend if isinstance(backend, Backend) else make_backend(
        backend or settings.backend, jobs=jobs, devices=devices, resume=resume, progress=progress, address=address,
        cpus_per_job=settings.cpus_per_job, gpus_per_job=settings.gpus_per_job)
    if finished_only and not resume:
        raise ConfigError("finished_only reads finished runs back; it cannot start the run folder over (resume=False)")
    runner.check()  # e.g. Ray missing, or GPUs the cluster lacks: before any feature extraction
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir):
        return _run_experiment(recipe, run_dir, weightings, single_task, seeds, resume, progress, prepared, on_result,
                               jobs, models, devices, runner, finished_only)


def _run_experiment(
    recipe: Recipe | dict[str, Any], run_dir: Path, weightings: list[str] | None, single_task: bool | Sequence[str],
    seeds: list[int] | None, resume: bool, progress: bool, prepared: PreparedCorpus | None,
    on_result: Callable[[dict[str, Any]], None] | None, jobs: int, models: Sequence[str | dict[str, Any]],
    devices: int, runner: Backend, finished_only: bool = False,
) -> pd.DataFrame:
    from emomtl.training.plan import plan_experiment

    plan = plan_experiment(recipe, run_dir, weightings, single_task, seeds, prepared, progress, models)
    if finished_only:
        plan = dataclasses.replace(plan, runs=[run for run in plan.runs if finished_metrics(run.job) is not None])
    if devices > 1:  # Ray runs jobs side by side on other CPUs / GPUs: there only the strategies are checked
        check_data_parallel(plan.arms, devices, jobs if isinstance(runner, LocalBackend) else 1)
    claim_run_folder(run_dir, run_record(plan.recipe.to_dict(), plan.prepared.table), fresh=not resume)
    with Provenance(run_dir, plan.recipe.to_dict(), "compare" if weightings is not None else "cv"):
        return _run_plan(plan, run_dir, on_result, runner)


def _run_plan(plan: Any, run_dir: Path, on_result: Callable[[dict[str, Any]], None] | None,
              runner: Backend) -> pd.DataFrame:
    prepared = plan.prepared
    warning = tuning_warning(plan.recipe.to_dict(), speakers_of(prepared.table, [s.test for s in plan.splits]))
    if warning:
        log.warning("%s: %s", run_dir, warning)
    save_recipe(plan.recipe.to_dict(), run_dir / "config.yaml")
    write_json(run_dir / "splits.json",
               [{"name": s.name, "train": _speakers(prepared.table, s.train),
                 "validation": _speakers(prepared.table, s.validation), "test": _speakers(prepared.table, s.test),
                 "sizes": [len(s.train), len(s.validation), len(s.test)]} for s in plan.splits])
    if prepared.skipped:
        write_csv(run_dir / "skipped.csv",
                  pd.DataFrame([{"path": s.path, "reason": s.reason} for s in prepared.skipped]),
                  index=False)
    planned = [(run.arm, run.split, run.seed, run.job) for run in plan.runs]
    write_json(run_dir / PLAN_NAME, {"runs": len(planned), "arms": [arm.label for arm in plan.arms],
                                     "folds": [s.name for s in plan.splits],
                                     "seeds": sorted({run.seed for run in plan.runs})})
    rows: list[dict[str, Any] | None] = [None] * len(planned)

    def record(index: int, metrics: dict[str, Any]) -> None:
        arm, split, seed, _ = planned[index]
        rows[index] = result_row(arm, split, seed, prepared.table, metrics)
        write_csv(run_dir / "results.csv", pd.DataFrame([r for r in rows if r is not None]), index=False)
        if on_result:
            on_result(rows[index])

    runner.run([job for _, _, _, job in planned], record)
    rows = [r for r in rows if r is not None]
    return pd.DataFrame(rows)
