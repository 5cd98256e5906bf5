"""Every weighting strategy stays finite in the real training loop under extreme task losses.

``tests/weighting/test_weighting_contract.py`` feeds extreme losses to each strategy on a toy model; here the
losses of the actual loop (``emomtl.training.loop``: masked task losses, optimiser, ``end_epoch``, FAMO's
``after_step``, checkpoints, validation) are scaled by 1e-8, by 1e8, by both at once, or by sudden spikes, and the
run must finish with finite weights, losses, parameters, strategy state and test scores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest
import torch

import emomtl.training.loop as loop
from emomtl.weighting import available
from robustness_support import Trial, read_metrics, tiny_trial

Scale = Callable[[int, str], float]

#: Loss multiplier per (training step, task).
REGIMES: dict[str, Scale] = {
    "tiny": lambda step, task: 1e-8,
    "huge": lambda step, task: 1e8,
    "tiny and huge": lambda step, task: {"emotion": 1e-8, "gender": 1.0, "va": 1e8}[task],
    "spikes": lambda step, task: (1e8 if (step % 5, task) in ((2, "emotion"), (4, "va")) else
                                  1e-8 if (step % 5, task) == (4, "gender") else 1.0),
}


@pytest.fixture(scope="module")
def trial(demo_root: Path, shared_cache: Path) -> Trial:
    return tiny_trial(demo_root, shared_cache, epochs=2)


def scaled_losses(monkeypatch: pytest.MonkeyPatch, scale: Scale) -> list[int]:
    """Multiply the loop's task losses by ``scale(step, task)``; returns the step counter (one per batch)."""
    step = [0]
    real_targets, real_loss = loop.make_targets, loop.task_loss

    def make_targets(*args: Any, **kwargs: Any) -> Any:
        step[0] += 1
        return real_targets(*args, **kwargs)

    def task_loss(task: Any, output: torch.Tensor, target: torch.Tensor,
                  class_weights: torch.Tensor | None = None) -> torch.Tensor | None:
        loss = real_loss(task, output, target, class_weights)
        return None if loss is None else loss * scale(step[0], task.name)

    monkeypatch.setattr(loop, "make_targets", make_targets)
    monkeypatch.setattr(loop, "task_loss", task_loss)
    return step


def finite_tensors(state: Any) -> bool:
    if isinstance(state, torch.Tensor):
        return not state.is_floating_point() or bool(torch.isfinite(state).all())
    if isinstance(state, dict):
        return all(finite_tensors(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return all(finite_tensors(v) for v in state)
    if isinstance(state, float):
        return math.isfinite(state)
    return True


@pytest.mark.parametrize("strategy", available())
def test_every_strategy_stays_finite_under_extreme_losses_in_the_training_loop(
        strategy: str, trial: Trial, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for regime, scale in REGIMES.items():
        out = tmp_path / regime.replace(" ", "_")
        with monkeypatch.context() as patch:
            steps_taken = scaled_losses(patch, scale)
            trial.train(out, weighting={"name": strategy})
        assert steps_taken[0] >= 5, "the loop never reached the spikes"
        where = f"{strategy} under {regime} losses"

        steps = pd.read_csv(out / "steps.csv")
        numbers = steps[[c for c in steps.columns if c == "loss" or c.startswith(("weight.", "extra."))]]
        assert np.isfinite(numbers.to_numpy(dtype=float)).all(), f"{where}: steps.csv\n{numbers}"
        assert (steps[[c for c in steps.columns if c.startswith("weight.")]] >= 0).all().all(), where
        task_losses = steps[[f"{task}.loss" for task in ("emotion", "gender", "va")]].abs()
        assert task_losses.min().min() < 1e-6 or regime == "huge", f"{where}: no tiny loss reached the loop"
        assert task_losses.max().max() > 1e6 or regime == "tiny", f"{where}: no huge loss reached the loop"

        history = pd.read_csv(out / "history.csv")
        numbers = history[[c for c in history.columns if c.startswith(("weight.", "val.", "train."))]]
        assert np.isfinite(numbers.to_numpy(dtype=float)).all(), f"{where}: history.csv\n{numbers.T}"

        state = torch.load(out / "checkpoint_last.pt", map_location="cpu", weights_only=False)
        assert finite_tensors(state["model"]), f"{where}: non-finite model weights"
        assert finite_tensors(state["weighting"]), f"{where}: non-finite strategy state {state['weighting']}"
        assert finite_tensors(state["last_weights"]), f"{where}: {state['last_weights']}"

        metrics = read_metrics(out)
        assert all(math.isfinite(v) for task in metrics["test"].values() for v in task.values()), f"{where}: {metrics}"
        assert math.isfinite(metrics["score"]), where
