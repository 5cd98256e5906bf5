"""``train.log_grad_norms``: each task's gradient norm on the shared parameters, logged to steps.csv."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from emomtl.training.experiment import build_splits
from emomtl.training.grad_norms import task_gradient_norms
from emomtl.training.logs import RunLogger
from emomtl.training.loop import SplitJob, SplitTrainer
from emomtl.training.prepare import fit_tasks, prepare_corpus


def test_norms_match_the_analytic_gradient_and_keep_the_graph():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    x = torch.tensor([1.0, 2.0])
    losses = {"a": (w * x).sum(), "b": 0.5 * (w ** 2).sum()}  # gradients x and w
    norms = task_gradient_norms(losses, [w])
    assert norms == pytest.approx({"a": 5 ** 0.5, "b": 5.0})
    sum(losses.values()).backward()  # the graph is still there for the real backward pass
    assert torch.allclose(w.grad, x + w.detach())


def test_logged_steps_carry_each_tasks_gradient_norm(recipe, tmp_path):
    recipe["train"] |= {"log_grad_norms": True, "log_every": 2}
    prepared = prepare_corpus(recipe, progress=False)
    tasks = fit_tasks(recipe, prepared.table)
    job = SplitJob(recipe, tasks, prepared, build_splits(recipe, prepared.table)[0],
                   {"name": "uw"}, 0, tmp_path / "run")
    trainer = SplitTrainer(job)
    (tmp_path / "run").mkdir()
    with RunLogger(tmp_path / "run", tensorboard=False) as logger:
        trainer.train_epoch(logger)
    steps = pd.read_csv(tmp_path / "run" / "steps.csv")
    assert len(steps) == trainer.step // 2 and len(steps) >= 1
    assert (steps[["grad_norm.emotion", "grad_norm.gender"]] > 0).all().all()
