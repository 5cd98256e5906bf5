"""Exit-block search for ``multi_exit_cnn`` on validation speakers (the DRUW paper's grid search).

Each candidate ``{task: block}`` assignment trains on the training speakers of the chosen folds and is scored
by the validation metric of its best epoch (``train.select_metric``); test speakers are never scored.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from emomtl.config import Recipe, as_recipe
from emomtl.errors import ConfigError
from emomtl.models.exit_search import ExitSearchResult, grid_search_exits, with_exits
from emomtl.training.evaluate import selection_sign
from emomtl.training.experiment import build_splits, plan_arms, scored_tasks
from emomtl.training.loop import SplitJob, SplitTrainer
from emomtl.training.logs import RunLogger
from emomtl.training.prepare import fit_tasks, prepare_corpus


def search_exits(recipe: Recipe | dict[str, Any], out_dir: Path, folds: int = 1,
                 candidates: Mapping[str, Sequence[int]] | None = None) -> ExitSearchResult:
    """Try every exit assignment on the first ``folds`` folds; the score is the mean validation selection metric."""
    recipe = as_recipe(recipe)
    if recipe.model["name"] != "multi_exit_cnn":
        raise ConfigError(f"model.name: exit search needs multi_exit_cnn, not {recipe.model['name']!r}")
    prepared = prepare_corpus(recipe, progress=False)
    tasks = scored_tasks(fit_tasks(recipe, prepared.table), recipe.protocol)
    splits = build_splits(recipe, prepared.table)[:folds]
    weighting = plan_arms(recipe)[0].weighting
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
