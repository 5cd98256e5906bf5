"""Recipes: defaults, dotted overrides, and errors that name the offending key before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from emomtl.cli.main import main
from emomtl.config import apply_overrides, find_recipe, load_recipe, resolve_recipe
from emomtl.errors import ConfigError

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml"))
MINIMAL = {"tasks": [{"name": "emotion"}], "model": {"name": "functional_mlp"},
           "features": {"functionals": {"kind": "opensmile"}}}


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_shipped_recipe_resolves(path):
    recipe = load_recipe(path)
    assert recipe["name"] == path.stem
    assert recipe["tasks"] and recipe["model"]["name"]


def test_defaults_are_filled_and_overrides_applied():
    recipe = resolve_recipe(MINIMAL, ["model.dropout=0.2", "train.seeds=[1, 2]", "weighting={name: uw}"])
    assert recipe["model"] == {"name": "functional_mlp", "dropout": 0.2}
    assert recipe["train"]["seeds"] == [1, 2] and recipe["train"]["epochs"] == 10
    assert recipe["weighting"] == {"name": "uw"}
    assert recipe["protocol"]["name"] == "loso"


@pytest.mark.parametrize("override, message", [
    ("train.epochz=3", "train.epochz: unknown key"),
    ("train.epochs=three", "train.epochs: expected int"),
    ("train.epochs=true", "train.epochs: expected int, got a boolean"),
    ("inputs.functionals.lenght=3", "inputs.functionals.lenght: unknown key"),
    ("optimizer.lr=1", "optimizer: unknown recipe section"),
    ("protocol.folds=[1]", "protocol.folds: expected int"),
])
def test_bad_keys_and_types_name_their_path(override, message):
    with pytest.raises(Exception, match=message.replace("[", r"\[")):
        resolve_recipe(MINIMAL, [override])


def test_override_into_a_non_mapping_is_refused():
    with pytest.raises(Exception, match="model.name is not a mapping"):
        apply_overrides(MINIMAL, ["model.name.sub=1"])


def test_recipe_found_by_name_and_missing_one_is_named(tmp_path):
    assert find_recipe("quickstart").name == "quickstart.yaml"
    with pytest.raises(Exception, match="recipe 'nope' not found"):
        find_recipe("nope")


def test_cli_fails_before_any_work_on_a_bad_key(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "train": {"epochs": 2, "batchsize": 4}}))
    assert main(["cv", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "train.batchsize: unknown key" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cli_names_a_missing_corpus_root(tmp_path, capsys):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({**MINIMAL, "data": {"corpus": "emodb", "root": str(tmp_path / "nowhere")}}))
    assert main(["cv", str(path), "--out", str(tmp_path / "run")]) == 2
    assert f"corpus folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


def test_overrides_may_follow_options(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    assert main(["cv", str(path), "--out", str(tmp_path / "run"), "train.nothing=1"]) == 2
    assert "train.nothing: unknown key" in capsys.readouterr().err


def test_list_elements_are_addressed_by_index():
    recipe = {**MINIMAL, "tasks": [{"name": "emotion"}, {"name": "gender"}]}
    out = apply_overrides(recipe, ["tasks.1.loss=nll", "tasks.-2.label_smoothing=0.1"])
    assert out["tasks"] == [{"name": "emotion", "label_smoothing": 0.1}, {"name": "gender", "loss": "nll"}]
    assert recipe["tasks"][1] == {"name": "gender"}  # the original is untouched
    for bad in ("tasks.2.loss=ce", "tasks.first.loss=ce"):
        with pytest.raises(ConfigError, match=r"tasks\.(2|first) is not an index of a list of 2"):
            apply_overrides(recipe, [bad])


def test_compare_single_task_takes_a_list_of_task_names():
    recipe = resolve_recipe(MINIMAL, ["compare.single_task=[emotion]"])
    assert recipe["compare"]["single_task"] == ["emotion"]
    with pytest.raises(ConfigError, match="compare.single_task: expected bool or list"):
        resolve_recipe(MINIMAL, ["compare.single_task=emotion"])
