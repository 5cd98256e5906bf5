"""Every architecture: built from a small config, output conventions per task, gradients, hooks."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from emomtl.models import MultiTaskModel, available_models, build_model, default_settings, model_class
from emomtl.models.tasks import task_loss

from model_cases import SMALL, make_tasks, random_inputs

ARCHITECTURES = sorted(SMALL)
#: Closed-form models (fitted by emomtl.training.classical, tested in tests/training/test_linear_svm.py): no
#: gradient-trained heads, so the neural contract below does not apply to them.
CLASSICAL = ["linear_probe", "linear_svm"]


def test_registry_lists_every_architecture_with_a_summary():
    models = available_models()
    assert list(models) == sorted(ARCHITECTURES + CLASSICAL)
    assert all(isinstance(line, str) and 10 < len(line) < 130 for line in models.values())


@pytest.mark.parametrize("name", ARCHITECTURES + CLASSICAL)
def test_paper_defaults_are_valid_settings(name):
    settings = default_settings(name)
    assert settings["name"] == name
    cls = model_class(name)
    parsed = cls.Settings(**{k: v for k, v in settings.items() if k != "name"})
    parsed.check("model")
    assert dataclasses.asdict(parsed) == {k: v for k, v in settings.items() if k != "name"}


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_output_shapes_and_conventions_per_task(name):
    config, shapes = SMALL[name]
    torch.manual_seed(0)
    model = build_model(config, make_tasks(), shapes)
    assert isinstance(model, MultiTaskModel)
    assert set(model.input_keys) <= set(shapes)
    model.eval()
    outputs = model(random_inputs(shapes, batch=3))
    assert set(outputs) == {"emotion", "gender", "va", "age"}
    assert outputs["emotion"].shape == (3, 4)
    assert outputs["gender"].shape == (3, 2)
    assert outputs["va"].shape == (3, 2)
    assert outputs["age"].shape == (3,)
    # nll -> log-probabilities; sigmoid -> (0, 1); tanh -> (-1, 1)
    assert torch.allclose(outputs["gender"].exp().sum(-1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(outputs["emotion"].exp().sum(-1), torch.ones(3), atol=1e-3)
    assert ((outputs["va"] > 0) & (outputs["va"] < 1)).all()
    assert ((outputs["age"] > -1) & (outputs["age"] < 1)).all()
    assert model.last_shared_representation is not None
    assert model.last_shared_representation.shape[0] == 3


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_gradients_reach_every_head_and_the_shared_trunk(name):
    config, shapes = SMALL[name]
    torch.manual_seed(0)
    tasks = make_tasks()
    model = build_model(config, tasks, shapes)
    model.train()
    outputs = model(random_inputs(shapes, batch=4))
    targets = {
        "emotion": torch.tensor([0, 1, 2, 3]),
        "gender": torch.tensor([0, 1, 0, 1]),
        "va": torch.rand(4, 2),
        "age": torch.rand(4) * 2 - 1,
    }
    losses = [task_loss(t, outputs[t.name], targets[t.name]) for t in tasks]
    sum(losses).backward()
    for task, head in model.heads.items():
        for parameter in head.parameters():
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, f"head {task} got no gradient"
    shared = model.shared_parameters()
    assert shared, "the trunk has no shared parameters"
    head_ids = {id(p) for p in model.heads.parameters()}
    assert not any(id(p) in head_ids for p in shared)
    for parameter in shared:
        assert parameter.grad is not None
    assert sum(float(p.grad.abs().sum()) for p in shared) > 0


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_each_task_alone_sends_gradient_into_the_shared_trunk(name):
    config, shapes = SMALL[name]
    torch.manual_seed(0)
    model = build_model(config, make_tasks(), shapes)
    inputs = random_inputs(shapes, batch=4)
    for task in ("emotion", "age"):
        model.zero_grad()
        model(inputs)[task].sum().backward()
        assert sum(float(p.grad.abs().sum()) for p in model.shared_parameters() if p.grad is not None) > 0


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_epoch_hook_defaults_to_nothing_to_log(name):
    config, shapes = SMALL[name]
    config = {**config, "masking": False} if name == "bridge_fusion" else config
    model = build_model(config, make_tasks(), shapes)
    assert model.on_epoch_start(0, 10, torch.Generator().manual_seed(0)) == {}
