"""Exit-block search for ``multi_exit_cnn`` on validation speakers (the DRUW paper's grid search, Sec. 3).

:func:`grid_search_exits` is independent of training: it calls a function that trains a model with a given
``{task: block}`` assignment and returns its validation score for every combination. :func:`search_exits` is that
function for a recipe: each candidate ``{task: block}`` assignment trains on the training speakers of the chosen folds
and is scored
by the validation metric of its best epoch (``train.select_metric``); test speakers are never scored.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emomtl.config import Recipe, as_recipe
from emomtl.errors import ConfigError
from emomtl.training.evaluate import selection_sign
from emomtl.training.loop import SplitJob, SplitTrainer
from emomtl.training.logs import RunLogger
from emomtl.training.plan import plan_experiment


@dataclass
class ExitSearchResult:
    """Best assignment, its score, and one row per trial (``exit.<task>`` columns and ``score``)."""

    best_exits: dict[str, int]
    best_score: float
    trials: pd.DataFrame


def exit_grid(
    task_names: Sequence[str], num_blocks: int, candidates: Mapping[str, Sequence[int]] | None = None
) -> list[dict[str, int]]:
    """Every assignment of an exit block to each task; ``candidates`` restricts a task's blocks (default: all)."""
    candidates = dict(candidates or {})
    for name, blocks in candidates.items():
        if name not in task_names:
            raise ConfigError(f"exit_search.candidates.{name}: there is no task named {name!r}")
        for block in blocks:
            if not 1 <= block <= num_blocks:
                raise ConfigError(
                    f"exit_search.candidates.{name}: block {block} is outside 1..{num_blocks} (the last block)"
                )
    choices = [list(candidates.get(name, range(1, num_blocks + 1))) for name in task_names]
    return [dict(zip(task_names, combo)) for combo in itertools.product(*choices)]


def with_exits(model_config: Mapping[str, Any], exits: Mapping[str, int]) -> dict[str, Any]:
    """A copy of a ``model:`` section with ``exits`` replaced."""
    return {**model_config, "exits": dict(exits)}


def grid_search_exits(
    evaluate: Callable[[dict[str, int]], float],
    task_names: Sequence[str],
    num_blocks: int,
    candidates: Mapping[str, Sequence[int]] | None = None,
    higher_is_better: bool = True,
) -> ExitSearchResult:
    """Call ``evaluate(exits)`` for every assignment of :func:`exit_grid`; keep the best validation score."""
    rows = []
    for exits in exit_grid(task_names, num_blocks, candidates):
        score = float(evaluate(dict(exits)))
        rows.append({**{f"exit.{name}": block for name, block in exits.items()}, "score": score})
    trials = pd.DataFrame(rows)
    index = trials["score"].idxmax() if higher_is_better else trials["score"].idxmin()
    best = trials.loc[index]
    best_exits = {name: int(best[f"exit.{name}"]) for name in task_names}
    return ExitSearchResult(best_exits, float(best["score"]), trials)


def search_exits(recipe: Recipe | dict[str, Any], out_dir: Path, folds: int = 1,
                 candidates: Mapping[str, Sequence[int]] | None = None) -> ExitSearchResult:
    """Try every exit assignment on the first ``folds`` folds; the score is the mean validation selection metric."""
    recipe = as_recipe(recipe)
    if recipe.model["name"] != "multi_exit_cnn":
        raise ConfigError(f"model.name: exit search needs multi_exit_cnn, not {recipe.model['name']!r}")
    plan = plan_experiment(recipe, out_dir, seeds=[recipe.train.seed])
    prepared, tasks, splits = plan.prepared, plan.tasks, plan.splits[:folds]
    weighting = plan.arms[0].weighting
    num_blocks = len(recipe.model.get("channels", [0] * 5))
    metric = recipe.train.select_metric

    def evaluate(exits: dict[str, int]) -> float:
        trial = dataclasses.replace(recipe, model=with_exits(recipe.model, exits))
        scores = []
        for split in splits:
            name = "_".join(f"{task}{block}" for task, block in exits.items())
            trainer = SplitTrainer(SplitJob(trial, copy.deepcopy(tasks), prepared, split, weighting,
                                            trial.train.seed, out_dir / name / split.name))
            with RunLogger(trainer.job.out_dir, enabled=False, history=trainer.history) as logger:
                trainer.fit(logger)
            best = trainer.history[trainer.best["epoch"]]
            scores.append(float(best[metric]))
        return float(np.mean(scores))

    return grid_search_exits(evaluate, [t.name for t in tasks], num_blocks, candidates,
                             higher_is_better=selection_sign(metric) > 0)
