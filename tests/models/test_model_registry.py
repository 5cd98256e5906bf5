"""build_model: names, settings parsing and the errors a bad recipe gets before training."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from emomtl.errors import ConfigError
from emomtl.models import build_model, model_class
from emomtl.models.settings import coerce, parse_settings
from emomtl.models.tasks import TaskSpec
from model_cases import SMALL, make_tasks

CONFIG, SHAPES = SMALL["functional_mlp"]


def test_unknown_model_name_lists_the_valid_names():
    with pytest.raises(ConfigError, match=r"model\.name: 'resnet' is not one of \['bridge_fusion', "):
        build_model({"name": "resnet"}, make_tasks(), SHAPES)
    with pytest.raises(ConfigError, match=r"model\.name: the model section needs a 'name'"):
        build_model({"hidden": [8]}, make_tasks(), SHAPES)


def test_unknown_keys_are_refused_listing_the_valid_keys():
    with pytest.raises(ConfigError) as error:
        build_model({**CONFIG, "hiden": [8]}, make_tasks(), SHAPES)
    message = str(error.value)
    assert message.startswith("model: unknown key(s) ['hiden']; valid keys: ")
    assert "'hidden'" in message and "'dropout'" in message and "'name'" in message


@pytest.mark.parametrize(("value", "match"), [
    ({"hidden": 8}, r"model\.hidden: expected a list"),
    ({"hidden": [8, "x"]}, r"model\.hidden\[1\]: expected an integer"),
    ({"dropout": "high"}, r"model\.dropout: expected a number"),
    ({"input_batchnorm": 1}, r"model\.input_batchnorm: expected true or false"),
    ({"hidden": [8, -1]}, r"model\.hidden: must be positive"),
])
def test_ill_typed_values_name_the_setting(value, match):
    with pytest.raises(ConfigError, match=match):
        build_model({**CONFIG, **value}, make_tasks(), SHAPES)


def test_integers_are_accepted_where_numbers_are_expected():
    model = build_model({**CONFIG, "dropout": 0}, make_tasks(), SHAPES)
    assert model.settings.dropout == 0.0 and isinstance(model.settings.dropout, float)
    assert coerce((1, 2), list[int], "x") == [1, 2]
    assert coerce(None, int | None, "x") is None


def test_tasks_need_fitted_classes_and_unique_dot_free_names():
    with pytest.raises(ConfigError, match=r"tasks\.emotion\.classes: unknown until fitted"):
        build_model(CONFIG, [TaskSpec("emotion")], SHAPES)
    with pytest.raises(ConfigError, match=r"tasks: duplicate task names"):
        build_model(CONFIG, make_tasks() + make_tasks()[:1], SHAPES)
    with pytest.raises(ConfigError, match=r"tasks\.a\.b: a task name must"):
        build_model(CONFIG, [TaskSpec("a.b", kind="regression")], SHAPES)
    with pytest.raises(ConfigError, match=r"tasks\.keys: the name clashes"):
        build_model(CONFIG, [TaskSpec("keys", kind="regression")], SHAPES)
    with pytest.raises(ConfigError, match=r"tasks: a model needs at least one task"):
        build_model(CONFIG, [], SHAPES)


def test_wrong_input_rank_is_refused():
    with pytest.raises(ConfigError, match=r"input 'functionals' must have per-sample shape \(dim,\), got \(10, 88\)"):
        build_model(CONFIG, make_tasks(), {"functionals": (10, 88)})


RECIPES = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_shipped_recipe_has_a_valid_model_section(path):
    section = yaml.safe_load(path.read_text())["model"]
    cls = model_class(section["name"])
    settings = parse_settings(cls.Settings, section, extra_keys=("name",))
    assert isinstance(settings, cls.Settings)
