"""The weighting strategy's parameters have their own optimiser group: no weight decay, own lr, schedule or not."""

from __future__ import annotations

import pytest
import torch

from emomtl.config import validate_recipe
from emomtl.errors import ConfigError
from emomtl.training.optim import (build_optimizer, build_scheduler, split_weighting_config, step_scheduler,
                                   upgrade_optimizer_state)
from emomtl.weighting import create


def _setup(weighting=None, optim=None):
    model = torch.nn.Linear(3, 2)
    strategy = create("uw", ["a", "b"])
    config = optim or {"name": "adamw", "lr": 0.1, "weight_decay": 0.5}
    return model, strategy, build_optimizer(model.parameters(), config, strategy.parameters(), weighting)


def test_weight_decay_shrinks_the_model_but_not_the_strategy_parameters():
    model, strategy, optimizer = _setup()
    with torch.no_grad():
        model.weight.fill_(1.0)
        strategy.log_vars.copy_(torch.tensor([0.7, -0.3]))
    for p in [*model.parameters(), *strategy.parameters()]:
        p.grad = torch.zeros_like(p)  # zero loss gradient: only weight decay can move a parameter
    before = strategy.log_vars.detach().clone()
    for _ in range(3):
        optimizer.step()
    assert torch.equal(strategy.log_vars.detach(), before)
    assert bool((model.weight < 1.0).all())
    assert optimizer.param_groups[1]["weight_decay"] == 0.0 and optimizer.param_groups[0]["weight_decay"] == 0.5


def test_weighting_lr_defaults_to_the_model_lr_and_can_be_set():
    _, _, optimizer = _setup()
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.1]
    _, _, optimizer = _setup({"lr": 0.01})
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.01]


@pytest.mark.parametrize("scheduler", [{"name": "cosine"}, {"name": "step", "step_size": 1, "gamma": 0.5},
                                       {"name": "plateau", "patience": 0, "factor": 0.5}])
def test_follow_schedule_false_keeps_the_weighting_lr(scheduler):
    for follow in (True, False):
        _, _, optimizer = _setup({"follow_schedule": follow})
        sched = build_scheduler(optimizer, scheduler, epochs=4)
        for _ in range(3):
            optimizer.step()
            step_scheduler(sched, optimizer, value=0.0)  # a flat score: plateau reduces every epoch
        model_lr, weighting_lr = (g["lr"] for g in optimizer.param_groups)
        assert model_lr < 0.1
        assert weighting_lr == (pytest.approx(model_lr) if follow else 0.1)


def test_two_group_state_resumes_and_a_one_group_state_is_split():
    model, strategy, optimizer = _setup()
    for p in [*model.parameters(), *strategy.parameters()]:
        p.grad = torch.ones_like(p)
    optimizer.step()
    _, _, resumed = _setup()
    resumed.load_state_dict(upgrade_optimizer_state(optimizer.state_dict(), resumed))
    assert len(resumed.param_groups) == 2 and resumed.param_groups[1]["weight_decay"] == 0.0
    # a checkpoint from before the split: one group holding the model's parameters, then the strategy's
    old = torch.optim.AdamW([*model.parameters(), *strategy.parameters()], lr=0.1, weight_decay=0.5)
    for p in [*model.parameters(), *strategy.parameters()]:
        p.grad = torch.ones_like(p)
    old.step()
    _, _, resumed = _setup()
    resumed.load_state_dict(upgrade_optimizer_state(old.state_dict(), resumed))
    assert [len(g["params"]) for g in resumed.param_groups] == [2, 1]
    assert resumed.param_groups[1]["weight_decay"] == 0.0 and resumed.param_groups[0]["weight_decay"] == 0.5
    assert int(resumed.state_dict()["state"][2]["step"]) == 1  # the strategy's moments survive


def test_weighting_section_splits_into_strategy_and_optimiser_settings():
    name, params, optim = split_weighting_config({"name": "druw", "T": 10, "lr": 0.01, "follow_schedule": False})
    assert name == "druw" and params == {"T": 10} and optim == {"lr": 0.01, "follow_schedule": False}


@pytest.mark.parametrize("weighting, key", [({"lr": -1.0}, "weighting.lr"), ({"lr": "fast"}, "weighting.lr"),
                                            ({"follow_schedule": "yes"}, "weighting.follow_schedule"),
                                            ({"precision_factor": "half"}, "weighting.precision_factor")])
def test_recipe_schema_checks_the_new_weighting_keys(weighting, key):
    recipe = {"model": {"name": "functional_mlp"}, "tasks": [], "weighting": {"name": "uw", **weighting}}
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_recipe(recipe)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        split_weighting_config(recipe["weighting"]) if key != "weighting.precision_factor" else create(
            "uw", ["a"], precision_factor="half")


def test_recipe_schema_accepts_the_new_weighting_keys():
    validate_recipe({"model": {"name": "functional_mlp"}, "tasks": [],
                     "weighting": {"name": "uw", "lr": None, "follow_schedule": False, "precision_factor": "kendall"},
                     "compare": {"weightings": ["uw"], "params": {"uw": {"precision_factor": "paper"}}}})


def test_the_loop_hands_mgda_the_model_representation_and_task_kinds_to_any_strategy(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from engine_fixtures import tiny_recipe
    from test_engine import _job

    from emomtl.training.loop import SplitTrainer
    from emomtl.weighting.mgda import MGDA

    seen = []
    original = MGDA.combine

    def spy(self, losses, shared_parameters, representation):
        seen.append(representation)
        return original(self, losses, shared_parameters, representation)

    monkeypatch.setattr(MGDA, "combine", spy)
    recipe = tiny_recipe(tmp_path / "data", weighting={"name": "mgda"}, train={"epochs": 1})
    trainer = SplitTrainer(_job(recipe, tmp_path / "run"))
    trainer.train_epoch(type("Quiet", (), {"step": lambda self, row: None})())
    assert seen and all(r is not None and r.requires_grad for r in seen)
    from emomtl.training import loop

    calls = []
    monkeypatch.setattr(loop, "create_weighting", lambda *a, **k: calls.append((a, k)) or create(*a, **k))
    for name in ("rruw", "static"):  # the same generic hand-over whatever the strategy
        recipe = tiny_recipe(tmp_path / "data", weighting={"name": name, "lr": 0.001, "follow_schedule": False})
        trainer = SplitTrainer(_job(recipe, tmp_path / name))
        assert calls[-1][1]["task_kinds"] == {"emotion": "classification", "gender": "classification"}
        assert "lr" not in calls[-1][1] and "follow_schedule" not in calls[-1][1]
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [0.01]  # static: no strategy parameters


def test_famo_step_size_is_its_own_setting_not_the_optimiser_group_lr():
    name, params, optim = split_weighting_config({"name": "famo", "w_lr": 0.1, "lr": 0.5})
    assert params == {"w_lr": 0.1} and optim["lr"] == 0.5
    assert create(name, ["a", "b"], **params).w_lr == 0.1
