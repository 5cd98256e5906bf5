"""The exit grid search (DRUW paper, Sec. 3): every assignment, candidates, the best validation score."""

from __future__ import annotations

import pytest

from emomtl.errors import ConfigError
from emomtl.training.exit_search import exit_grid, grid_search_exits


def test_exit_grid_covers_every_assignment_and_respects_candidates():
    grid = exit_grid(["age", "country", "emotion"], 5)
    assert len(grid) == 125 and {"age": 1, "country": 3, "emotion": 5} in grid
    grid = exit_grid(["age", "emotion"], 5, {"emotion": [5]})
    assert grid == [{"age": b, "emotion": 5} for b in range(1, 6)]
    with pytest.raises(ConfigError, match=r"exit_search\.candidates\.age: block 9"):
        exit_grid(["age"], 5, {"age": [9]})


def test_grid_search_returns_the_best_validation_score_and_every_trial():
    def validation_score(exits: dict[str, int]) -> float:
        return -abs(exits["age"] - 1) - abs(exits["country"] - 3)

    result = grid_search_exits(validation_score, ["age", "country"], 5)
    assert result.best_exits == {"age": 1, "country": 3}
    assert result.best_score == 0.0
    assert len(result.trials) == 25 and list(result.trials.columns) == ["exit.age", "exit.country", "score"]
    lowest = grid_search_exits(validation_score, ["age", "country"], 5, higher_is_better=False)
    assert lowest.best_score == -6.0
