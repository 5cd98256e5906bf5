"""One experiment plan: the one place that turns a recipe into work (corpus, folds, arms, jobs, output folders).

:func:`check_arms` validates the model settings and every arm's weighting strategy before any feature is
extracted; :func:`plan_experiment` then prepares the corpus and lists one :class:`PlannedRun` per (arm, fold,
seed), each carrying only its own arm's recipe. ``emomtl train | cv | compare``, the exit search and the speed
benchmark all start from a plan.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emomtl.config import Recipe, as_recipe
from emomtl.data.protocols import Split
from emomtl.errors import ConfigError
from emomtl.models.registry import check_model_settings
from emomtl.models.tasks import TaskSpec, parse_tasks
from emomtl.training.experiment import Arm, build_splits, plan_arms, recipe_for_arm, scored_tasks
from emomtl.training.loop import SplitJob
from emomtl.training.optim import split_weighting_config
from emomtl.training.prepare import PreparedCorpus, fit_tasks, prepare_corpus
from emomtl.weighting import create as create_weighting

log = logging.getLogger(__name__)


@dataclass
class PlannedRun:
    """One (arm, fold, seed) run and the job that trains it."""

    arm: Arm
    split: Split
    seed: int
    job: SplitJob


@dataclass
class Plan:
    """Everything an experiment runs: ``recipe`` holds the fitted tasks; one run per (arm, fold, seed)."""

    recipe: Recipe
    prepared: PreparedCorpus
    tasks: list[TaskSpec]
    splits: list[Split]
    arms: list[Arm]
    runs: list[PlannedRun]
    run_dir: Path


def check_arms(recipe: Recipe, arms: list[Arm]) -> None:
    """Build every arm's weighting strategy and parse the model settings: a bad one fails before any extraction."""
    check_model_settings(recipe.model)
    check_layer_choice(recipe.model, recipe.features)
    for arm in arms:
        if arm.model is not None:
            check_model_settings(arm.model)
            check_layer_choice(arm.model, recipe.features)
    tasks = parse_tasks(recipe.tasks)
    unknown = sorted(set((recipe.model.get("task_inputs") or {})) - {t.name for t in tasks})
    if unknown:
        raise ConfigError(f"model.task_inputs: unknown task(s) {unknown}; tasks: {[t.name for t in tasks]}")
    for arm in arms:
        chosen = [t for t in tasks if arm.task_names is None or t.name in arm.task_names]
        if not chosen:
            raise ConfigError(f"compare: arm {arm.label} has no task")
        name, params, _ = split_weighting_config(arm.weighting)
        try:
            create_weighting(name, [t.name for t in chosen], task_kinds={t.name: t.kind for t in chosen}, **params)
        except ConfigError as error:
            if arm.label not in recipe.compare.params:
                raise
            raise ConfigError(f"compare.params.{arm.label} (with the recipe's weighting section): {error}") from error


def check_layer_choice(model: dict[str, Any], features: dict[str, Any]) -> None:
    """An int ``layer_mix`` / ``layer`` picks a ROW of a ``(layers, dim)`` input; when the input's
    ``features.<name>.layers`` is an explicit list, that row must hold the hidden state of the same number."""
    for key in ("layer_mix", "layer"):
        value = model.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        names = [*(model.get("inputs") or []), *(n for v in (model.get("task_inputs") or {}).values() for n in v)]
        for name in dict.fromkeys(names):
            layers = (features.get(name) or {}).get("layers")
            if not isinstance(layers, list) or len(layers) < 2:
                continue
            if not (0 <= value < len(layers) and layers[value] == value):
                raise ConfigError(f"model.{key}: {value} picks a row of features.{name}.layers {layers}, not hidden "
                                  f"state {value}; extract only that layer (features.{name}.layers: [{value}])")


def run_folder(run_dir: Path, arm: Arm, split: Split, seed: int) -> Path:
    """``<run_dir>/runs/<arm>/<fold>_seed<seed>`` (docs/ARCHITECTURE.md)."""
    return Path(run_dir) / "runs" / arm.label.replace(":", "_") / f"{split.name}_seed{seed}"


def without_auxiliary_baselines(arms: list[Arm], tasks: list[TaskSpec], single_task: bool | Sequence[str]) -> list[Arm]:
    """Drop the single-task baselines (``single_task: true``) of tasks that turned out train-only, e.g. speaker
    identity under a speaker-independent protocol: nothing of theirs is scored. Asking for one by name is an error."""
    auxiliary = {task.name for task in tasks if task.auxiliary}
    baselines = {arm.task_names[0]: arm for arm in arms if arm.label.startswith("single:") and arm.task_names}
    dropped = sorted(set(baselines) & auxiliary)
    if dropped and single_task is not True:
        raise ConfigError(f"single-task baseline for {dropped[0]!r}: it is train-only (auxiliary) under this "
                          "protocol, so nothing of it would be scored")
    if dropped:
        log.warning("no single-task baseline for %s: train-only (auxiliary) under this protocol", ", ".join(dropped))
    return [arm for arm in arms if not (arm.label.startswith("single:") and arm.task_names
                                        and arm.task_names[0] in dropped)]


def plan_experiment(
    recipe: Recipe | dict[str, Any], run_dir: Path, weightings: list[str] | None = None,
    single_task: bool | Sequence[str] = False, seeds: list[int] | None = None,
    prepared: PreparedCorpus | None = None, progress: bool = False, models: Sequence[str | dict[str, Any]] = (),
) -> Plan:
    """Check the arms, prepare the corpus, then plan every arm on every fold and seed.

    ``models`` adds one arm per other model (e.g. ``linear_svm``) on the same folds; its job's recipe carries that
    model section."""
    recipe = as_recipe(recipe)
    arms = plan_arms(recipe, weightings, single_task, models)
    check_arms(recipe, arms)  # before any feature extraction
    seeds = list(seeds or recipe.train.run_seeds())
    prepared = prepared or prepare_corpus(recipe, progress=progress)
    tasks = scored_tasks(fit_tasks(recipe, prepared.table), recipe.protocol)
    arms = without_auxiliary_baselines(arms, tasks, single_task)
    splits = build_splits(recipe, prepared.table)
    resolved = dataclasses.replace(recipe, tasks=[t.to_dict() for t in tasks])
    runs = []
    for arm in arms:
        arm_tasks = [t for t in tasks if arm.task_names is None or t.name in arm.task_names]
        arm_recipe = dataclasses.replace(recipe_for_arm(resolved, arm_tasks), weighting=copy.deepcopy(arm.weighting))
        if arm.model is not None:
            arm_recipe = dataclasses.replace(arm_recipe, model=copy.deepcopy(arm.model))
        for split in splits:
            for seed in seeds:
                job = SplitJob(arm_recipe, copy.deepcopy(arm_tasks), prepared, split, arm.weighting, seed,
                               run_folder(run_dir, arm, split, seed), label=f"{arm.label} {split.name} seed {seed}")
                runs.append(PlannedRun(arm, split, seed, job))
    return Plan(resolved, prepared, tasks, splits, arms, runs, Path(run_dir))
