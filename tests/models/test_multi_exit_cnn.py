"""multi_exit_cnn: exits attach after the configured blocks; exit errors; a model with searched exits."""

from __future__ import annotations

import pytest

from emomtl.errors import ConfigError
from emomtl.models import build_model
from emomtl.training.exit_search import with_exits
from emomtl.models.tasks import TaskSpec
from model_cases import SMALL, make_tasks, random_inputs

CONFIG, SHAPES = SMALL["multi_exit_cnn"]


def paper_tasks() -> list[TaskSpec]:
    return [
        TaskSpec("age", kind="regression", exit_block=1),
        TaskSpec("country", classes=["china", "south_africa", "usa", "venezuela"], exit_block=3),
        TaskSpec("emotion", kind="multi_regression", columns=[f"i{k}" for k in range(10)], activation="sigmoid"),
    ]


def test_exits_attach_after_the_configured_blocks():
    model = build_model({"name": "multi_exit_cnn", "channels": [4, 6, 8, 10, 12]}, paper_tasks(), SHAPES)
    assert model.exits == {"age": 1, "country": 3, "emotion": 5}
    assert len(model.blocks) == 5
    widths = {name: head.net[-1].in_features for name, head in model.heads.items()}
    assert widths == {"age": 4, "country": 8, "emotion": 12}
    # a task's output only depends on the blocks up to its exit
    model.eval()
    inputs = random_inputs(SHAPES, batch=2)
    for name, block in model.exits.items():
        model.zero_grad()
        model(inputs)[name].sum().backward()
        reached = [any(p.grad is not None and p.grad.abs().sum() > 0 for p in b.parameters()) for b in model.blocks]
        assert reached == [i < block for i in range(5)], name


def test_model_exits_override_task_exit_blocks_and_default_is_the_last_block():
    tasks = paper_tasks()
    model = build_model({**CONFIG, "exits": {"age": 2}}, tasks, SHAPES)
    assert model.exits == {"age": 2, "country": 3, "emotion": 5}
    model = build_model({**CONFIG, "exits": {}}, make_tasks(), SHAPES)
    assert set(model.exits.values()) == {5}


def test_blocks_past_the_deepest_exit_are_not_built_and_shared_trunk_ends_at_the_earliest_exit():
    model = build_model({**CONFIG, "exits": {"emotion": 3, "gender": 2, "va": 2, "age": 3}}, make_tasks(), SHAPES)
    assert len(model.blocks) == 3
    assert model.shared_blocks == 2
    shared = {id(p) for p in model.shared_parameters()}
    assert shared == {id(p) for b in model.blocks[:2] for p in b.parameters()}
    model(random_inputs(SHAPES, batch=2))
    assert model.last_shared_representation.shape[1] == 6  # maps of block 2


def test_exit_past_the_last_block_names_the_setting():
    with pytest.raises(ConfigError, match=r"^model\.exits\.age: block 7 is past the last block \(5\)$"):
        build_model({**CONFIG, "exits": {"age": 7}}, make_tasks(), SHAPES)
    tasks = make_tasks()
    tasks[0].exit_block = 6
    with pytest.raises(ConfigError, match=r"^tasks\.emotion\.exit_block: block 6 is past the last block \(5\)$"):
        build_model({**CONFIG, "exits": {}}, tasks, SHAPES)


@pytest.mark.parametrize(("change", "match"), [
    ({"exits": {"nope": 1}}, r"model\.exits\.nope: there is no task named"),
    ({"exits": {"age": 0}}, r"model\.exits\.age: blocks are numbered from 1"),
    ({"exits": {"age": "two"}}, r"model\.exits\.age: expected an integer"),
    ({"pool": [2]}, r"model\.pool"),
    ({"channels": [4, 0]}, r"model\.channels: must be positive"),
])
def test_bad_exit_settings_are_refused(change, match):
    with pytest.raises(ConfigError, match=match):
        build_model({**CONFIG, **change}, make_tasks(), SHAPES)


def test_input_too_small_for_the_pooling_is_refused_before_training():
    with pytest.raises(ConfigError, match=r"model\.pool: after block 5"):
        build_model({**CONFIG, "exits": {}}, make_tasks(), {"logmel": (16, 64)})


def test_with_exits_builds_a_model_with_the_searched_exits():
    config = with_exits(CONFIG, {"emotion": 2, "gender": 1, "va": 2, "age": 1})
    assert CONFIG["exits"] == {"gender": 1, "va": 3}
    assert build_model(config, make_tasks(), SHAPES).exits == {"emotion": 2, "gender": 1, "va": 2, "age": 1}
