"""The contract every strategy keeps: checks on its input, missing labels, extreme losses, state round-trip."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch

from emomtl.errors import ConfigError, EmomtlError
from emomtl.models.tasks import IGNORE_INDEX, TaskSpec, task_loss
from emomtl.weighting import NonFiniteLossError, WeightingOutput, available, create as create_strategy
from weighting_toys import TASKS, ToyModel, make_batches, optimiser_for, task_losses, training_step


def create(name, task_names, **params):
    """The toy model passes shared parameters, not a representation: MGDA differentiates w.r.t. the parameters."""
    if name == "mgda":
        params.setdefault("gradients", "parameters")
    return create_strategy(name, task_names, **params)

ALL = available()
STATEFUL = ["softmax", "uw", "ruw", "rruw", "dwa", "druw", "gradnorm", "pcgrad", "famo"]


def _step(model, strategy, losses):
    return strategy(losses, shared_parameters=list(model.shared_parameters()))


@pytest.mark.parametrize("name", ALL)
def test_output_has_a_scalar_loss_and_a_weight_for_every_task(name):
    model, strategy = ToyModel(), create(name, TASKS)
    out = _step(model, strategy, task_losses(model, make_batches(1)[0]))
    assert isinstance(out, WeightingOutput)
    assert out.loss.dim() == 0 and out.loss.requires_grad
    assert list(out.weights) == TASKS
    assert all(isinstance(w, float) and math.isfinite(w) for w in out.weights.values())
    assert all(isinstance(v, float) for v in out.extras.values())
    if out.shared_gradients is not None:
        shapes = [p.shape for p in model.shared_parameters()]
        assert [g.shape for g in out.shared_gradients] == shapes


@pytest.mark.parametrize("name", ALL)
def test_losses_of_unknown_tasks_are_rejected(name):
    model, strategy = ToyModel(), create(name, ["emotion", "gender"])
    losses = task_losses(model, make_batches(1)[0])  # includes "arousal"
    with pytest.raises(ConfigError, match="arousal"):
        _step(model, strategy, losses)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_losses_name_the_task(name, bad):
    model, strategy = ToyModel(), create(name, TASKS)
    losses = task_losses(model, make_batches(1)[0])
    losses["gender"] = losses["gender"] * bad
    with pytest.raises(NonFiniteLossError, match="gender") as error:
        _step(model, strategy, losses)
    assert isinstance(error.value, EmomtlError) and error.value.task == "gender"


@pytest.mark.parametrize("name", ALL)
def test_a_step_without_any_loss_is_refused(name):
    model, strategy = ToyModel(), create(name, TASKS)
    with pytest.raises(ConfigError):
        _step(model, strategy, {"emotion": None})


@pytest.mark.parametrize("name", ALL)
def test_non_scalar_losses_are_refused(name):
    model, strategy = ToyModel(), create(name, TASKS)
    with pytest.raises(ConfigError, match="scalar"):
        _step(model, strategy, {"emotion": torch.ones(3, requires_grad=True)})


@pytest.mark.parametrize("name", [n for n in ALL if create(n, TASKS).needs_shared_parameters])
def test_gradient_strategies_need_shared_parameters(name):
    model, strategy = ToyModel(), create(name, TASKS)
    with pytest.raises(ConfigError, match="shared_parameters"):
        strategy(task_losses(model, make_batches(1)[0]))


# ------------------------------------------------------------------ missing labels
def _classification_batch(labelled: list[bool]):
    """Emotion logits for 4 samples; gender labels only where ``labelled``."""
    emotion = TaskSpec("emotion", classes=["angry", "happy", "sad"])
    gender = TaskSpec("gender", classes=["female", "male"])
    generator = torch.Generator().manual_seed(3)
    outputs = {
        "emotion": torch.randn(4, 3, generator=generator, requires_grad=True),
        "gender": torch.randn(4, 2, generator=generator, requires_grad=True),
    }
    targets = {
        "emotion": torch.tensor([0, 1, 2, 1]),
        "gender": torch.tensor([1 if ok else IGNORE_INDEX for ok in labelled]),
    }
    losses = {t.name: task_loss(t, outputs[t.name], targets[t.name]) for t in (emotion, gender)}
    return outputs, losses


@pytest.mark.parametrize("name", ALL)
def test_a_batch_without_labels_for_a_task_leaves_it_out(name):
    outputs, losses = _classification_batch([False] * 4)
    assert losses["gender"] is None  # the masked loss of a task with no label in the batch
    strategy = create(name, ["emotion", "gender"])
    shared = [outputs["emotion"], outputs["gender"]]  # stand-ins for shared parameters
    out = strategy(losses, shared_parameters=shared)
    assert out.weights["gender"] == 0.0 and out.weights["emotion"] > 0
    assert torch.isfinite(out.loss)
    out.loss.backward()
    grad = outputs["gender"].grad
    assert grad is None or bool((grad == 0).all())
    if out.shared_gradients is not None:
        assert bool((out.shared_gradients[1] == 0).all())
    for parameter in strategy.parameters():  # the absent task's own parameter gets no gradient
        if parameter.grad is not None and parameter.numel() == 2:
            assert float(parameter.grad[1]) == 0.0


def test_samples_without_a_label_add_nothing_to_their_task_loss():
    outputs, losses = _classification_batch([True, False, True, False])
    kept = torch.nn.functional.cross_entropy(outputs["gender"][[0, 2]].detach(), torch.tensor([1, 1]))
    assert float(losses["gender"].detach()) == pytest.approx(float(kept))
    out = create("static", ["emotion", "gender"], weights=[1.0, 1.0])(losses)
    out.loss.backward()
    assert bool((outputs["gender"].grad[[1, 3]] == 0).all())
    assert bool((outputs["gender"].grad[[0, 2]] != 0).any())


@pytest.mark.parametrize("name", ALL)
def test_tasks_coming_and_going_keep_everything_finite(name):
    model, strategy = ToyModel(), create(name, TASKS)
    optimiser = optimiser_for(model, strategy)
    drops = [(), ("gender",), ("emotion", "arousal"), (), ("arousal",), ()]
    for epoch, (batch, drop) in enumerate(zip(make_batches(len(drops)), drops)):
        out = training_step(model, strategy, optimiser, lambda: task_losses(model, batch, drop=drop))
        assert all(out.weights[t] == 0.0 for t in drop)
        assert torch.isfinite(out.loss) and all(math.isfinite(w) for w in out.weights.values())
        strategy.end_epoch({t: 1.0 + epoch for t in TASKS if t not in drop})
    state = [t for t in strategy.state_dict().values() if isinstance(t, torch.Tensor) and t.is_floating_point()]
    assert all(bool(torch.isfinite(t).all()) for t in state)  # every task was seen: no placeholder left


# ------------------------------------------------------------------ validation
def _state(strategy):
    return {k: v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v) for k, v in strategy.state_dict().items()}


def _same(a, b):
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b) or (a.is_floating_point() and torch.allclose(a, b, rtol=0, atol=0, equal_nan=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("mode", ["no_grad", "eval"])
@pytest.mark.parametrize("name", ALL)
def test_validation_calls_change_no_state(name, mode):
    model, strategy = ToyModel(), create(name, TASKS, **({"period": "step"} if name in ("dwa", "druw") else {}))
    optimiser = optimiser_for(model, strategy)
    batches = make_batches(4)
    for batch in batches[:2]:
        training_step(model, strategy, optimiser, lambda: task_losses(model, batch))
    before = _state(strategy)
    for batch in batches[2:]:
        if mode == "no_grad":
            with torch.no_grad():
                out = strategy(task_losses(model, batch), shared_parameters=list(model.shared_parameters()))
        else:
            strategy.eval()
            out = strategy(task_losses(model, batch), shared_parameters=list(model.shared_parameters()))
        assert torch.isfinite(out.loss) and out.shared_gradients is None
        assert all(math.isfinite(out.weights[t]) and out.weights[t] >= 0 for t in TASKS)
    assert _same(before, _state(strategy))


# ------------------------------------------------------------------ numerical safety
SCHEDULES = {
    "tiny": [{t: 1e-8 for t in TASKS}] * 6,
    "huge": [{t: 1e8 for t in TASKS}] * 6,
    "mixed": [{"emotion": 1e-8, "gender": 1.0, "arousal": 1e8}] * 6,
    "spikes": [{t: 1.0 for t in TASKS}] * 2
    + [{"emotion": 1e8, "gender": 1.0, "arousal": 1.0}]
    + [{t: 1.0 for t in TASKS}]
    + [{"emotion": 1.0, "gender": 1e-8, "arousal": 1e8}]
    + [{t: 1.0 for t in TASKS}],
    "zero": [{"emotion": 0.0, "gender": 1.0, "arousal": 1.0}] * 6,
}


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize("name", ALL)
def test_extreme_losses_stay_finite(name, schedule):
    model, strategy = ToyModel(), create(name, TASKS, **({"period": "step"} if name in ("dwa", "druw") else {}))
    optimiser = optimiser_for(model, strategy)
    for batch, scale in zip(make_batches(6), SCHEDULES[schedule]):
        out = training_step(model, strategy, optimiser, lambda: task_losses(model, batch, scale=scale))
        strategy.after_step(task_losses(model, batch, scale=scale))
        assert torch.isfinite(out.loss), (name, schedule, out)
        assert all(math.isfinite(v) for v in [*out.weights.values(), *out.extras.values()]), out
        assert all(w >= 0 for w in out.weights.values())
        assert all(bool(torch.isfinite(p).all()) for p in [*model.parameters(), *strategy.parameters()])


@pytest.mark.parametrize("name", ["uw", "ruw", "rruw", "druw"])
@pytest.mark.parametrize("log_var", [-1e4, 1e4])
def test_log_variances_far_out_of_range_do_not_overflow(name, log_var):
    strategy = create(name, ["a", "b"])
    with torch.no_grad():
        strategy.log_vars.fill_(log_var)
    losses = {"a": torch.tensor(1e8, requires_grad=True), "b": torch.tensor(1e-8, requires_grad=True)}
    out = strategy(losses)
    out.loss.backward()
    assert torch.isfinite(out.loss) and bool(torch.isfinite(strategy.log_vars.grad).all())


# ------------------------------------------------------------------ checkpoints
def _run(model, strategy, optimiser, batches, start):
    records = []
    for step, batch in enumerate(batches, start=start):
        drop = ("gender",) if step % 3 == 1 else ()
        out = training_step(model, strategy, optimiser, lambda: task_losses(model, batch, drop=drop))
        strategy.after_step(task_losses(model, batch, drop=drop)) if step % 2 else None
        if step % 2 == 1:
            strategy.end_epoch({t: 0.5 + 0.1 * step + k for k, t in enumerate(TASKS)})
        records.append((float(out.loss.detach()), out.weights, out.extras))
    return records


def _roundtrip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("name", ALL)
def test_a_resumed_run_continues_identically(name):
    params = {"period": "step"} if name == "dwa" else {}
    batches = make_batches(10)
    model, strategy = ToyModel(), create(name, TASKS, **params)
    optimiser = optimiser_for(model, strategy)
    _run(model, strategy, optimiser, batches[:6], 0)
    saved = _roundtrip(
        {"model": model.state_dict(), "strategy": strategy.state_dict(), "optimiser": optimiser.state_dict()}
    )
    expected = _run(model, strategy, optimiser, batches[6:], 6)

    resumed_model, resumed = ToyModel(seed=5), create(name, TASKS, **params)
    resumed_optimiser = optimiser_for(resumed_model, resumed)
    resumed_model.load_state_dict(saved["model"])
    resumed.load_state_dict(saved["strategy"])
    resumed_optimiser.load_state_dict(saved["optimiser"])
    assert _run(resumed_model, resumed, resumed_optimiser, batches[6:], 6) == expected


@pytest.mark.parametrize("name", STATEFUL)
def test_without_the_strategy_state_a_resumed_run_differs(name):
    """Guards the round-trip test: the state it restores does matter."""
    params = {"period": "step"} if name == "dwa" else {}
    batches = make_batches(10)
    model, strategy = ToyModel(), create(name, TASKS, **params)
    optimiser = optimiser_for(model, strategy)
    _run(model, strategy, optimiser, batches[:6], 0)
    saved = copy.deepcopy({"model": model.state_dict(), "optimiser": optimiser.state_dict()})
    expected = _run(model, strategy, optimiser, batches[6:], 6)

    fresh_model, fresh = ToyModel(), create(name, TASKS, **params)
    fresh_optimiser = optimiser_for(fresh_model, fresh)
    fresh_model.load_state_dict(saved["model"])
    fresh_optimiser.load_state_dict(saved["optimiser"])
    assert _run(fresh_model, fresh, fresh_optimiser, batches[6:], 6) != expected
