"""Same seed, same numbers, for every weighting strategy: two runs in one process give identical metrics, task
weights, logs, predictions and model weights.

``tests/training/test_engine.py`` checks one strategy and that another seed changes the run; across processes see
``test_robustness_interrupted.py::test_same_seed_gives_identical_results_in_two_processes``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from emomtl.weighting import available
from robustness_support import Trial, assert_same_run, tiny_trial


@pytest.fixture(scope="module")
def trial(demo_root: Path, shared_cache: Path) -> Trial:
    return tiny_trial(demo_root, shared_cache, epochs=2)


@pytest.mark.parametrize("strategy", available())
def test_same_seed_gives_identical_runs_in_one_process(strategy: str, trial: Trial, tmp_path: Path) -> None:
    weighting = {"name": strategy}
    first = trial.train(tmp_path / "first", weighting=weighting)
    second = trial.train(tmp_path / "second", weighting=weighting)
    assert {k: v for k, v in first.items() if k != "wall_time_s"} == {
        k: v for k, v in second.items() if k != "wall_time_s"}
    assert_same_run(tmp_path / "first", tmp_path / "second")
