"""Grid search of exit blocks for ``multi_exit_cnn`` on a validation score (DRUW paper, Sec. 3).

The search is independent of training: give it a function that trains a model with a given ``{task: block}``
assignment and returns its validation score (the experiment engine provides one); it tries every combination and
reports them all.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from emomtl.errors import ConfigError


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
