"""Recipes: defaults, dotted overrides, and errors that name the offending key before any work."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
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
    with pytest.raises(ConfigError, match="compare.single_task"):
        resolve_recipe(MINIMAL, ["compare.single_task=emotion"])


@pytest.mark.parametrize("override, message", [
    ("train.epochs=0", "train.epochs: 0 must be >= 1"),
    ("train.batch_size=0", "train.batch_size: 0 must be >= 1"),
    ("optim.lr=.nan", "optim.lr: nan must be finite and > 0"),
    ("optim.lr=0", "optim.lr: 0 must be finite and > 0"),
    ("train.seeds=[]", "train.seeds: [] must be a non-empty list of integers"),
    ("train.seeds=[a]", "train.seeds: ['a'] must be a non-empty list of integers"),
    ("train.max_folds=0", "train.max_folds: 0 must be >= 1"),
    ("inputs.functionals.length=0", "inputs.functionals.length: must be > 0"),
    ("train.score=hmaen", "train.score"),
    ("optim.weight_decay=.inf", "optim.weight_decay: inf must be finite"),
])
def test_values_out_of_range_name_the_key_and_the_allowed_range(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        resolve_recipe(MINIMAL, [override])


def test_parsed_recipe_has_one_default_per_setting_and_round_trips():
    from emomtl.config import Recipe, TrainSettings

    recipe = Recipe.parse(resolve_recipe(MINIMAL))
    assert recipe.train.tensorboard is TrainSettings().tensorboard and recipe.train.epochs == 10
    assert Recipe.parse(recipe.to_dict()) == recipe


def test_switching_the_weighting_drops_the_previous_strategys_parameters():
    recipe = resolve_recipe({**MINIMAL, "weighting": {"name": "dwa", "T": 2.0, "lr": 0.01}}, ["weighting.name=uw"])
    assert recipe["weighting"] == {"name": "uw", "lr": 0.01}
    same = resolve_recipe({**MINIMAL, "weighting": {"name": "dwa", "T": 2.0}}, ["weighting.name=dwa"])
    assert same["weighting"] == {"name": "dwa", "T": 2.0}


def test_recipe_show_prints_the_resolved_recipe(tmp_path, capsys):
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    assert main(["recipe", "show", str(path), "train.epochs=3"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["train"]["epochs"] == 3 and shown["train"]["batch_size"] == 32
    assert shown["name"] == "mini" and shown["data"]["sample_rate"] == 16000


def test_numbers_in_exponent_form_are_numbers():
    recipe = resolve_recipe(MINIMAL, ["optim.lr=1e-3"])
    assert recipe["optim"]["lr"] == 0.001


def test_train_runs_the_seed_of_train_seed(tmp_path):
    import pandas as pd

    out = tmp_path / "run"
    assert main(["train", "quickstart", "train.seed=5", "train.epochs=1", "train.max_folds=1",
                 f"data.root={tmp_path / 'demo'}", "--out", str(out), "--quiet", "--no-report"]) == 0
    assert pd.read_csv(out / "results.csv")["seed"].tolist() == [5]


@pytest.mark.parametrize("override, message", [
    ("model=null", "model: a recipe needs a model section with a name"),
    ("tasks=[emotion]", "tasks.0: expected a mapping with a name"),
])
def test_malformed_sections_are_config_errors_not_tracebacks(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve_recipe(MINIMAL, [override])


def test_optimiser_values_torch_refuses_are_config_errors():
    from emomtl.training.optim import build_optimizer, check_weighting_optim

    weights = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ConfigError, match="optim"):
        build_optimizer(weights, {"name": "adam", "lr": 0.01, "betas": [0.9]})
    with pytest.raises(ConfigError, match="optim"):
        build_optimizer(weights, {"name": "rmsprop", "lr": 0.01, "alpha": -1.0})
    with pytest.raises(ConfigError, match="weighting.lr"):
        check_weighting_optim({"lr": float("inf")})


@pytest.mark.parametrize("corpora, message", [
    ("[{corpus: demo, rooot: /x}]", r"unknown key\(s\) \['rooot'\]"),
    ("[demo]", "entry 0 must be a mapping with a corpus name"),
])
def test_pooled_corpus_entries_are_checked(corpora, message):
    with pytest.raises(ConfigError, match=message):
        resolve_recipe(MINIMAL, [f"data.corpora={corpora}"])


@pytest.mark.parametrize("overrides", [["weighting.T=5", "weighting.name=dwa"],
                                       ["weighting.name=dwa", "weighting.T=5"]])
def test_a_strategy_parameter_given_beside_its_name_survives_in_any_order(overrides):
    assert apply_overrides({"weighting": {"name": "uw"}}, overrides)["weighting"] == {"name": "dwa", "T": 5}


@pytest.mark.parametrize("name", ["quickstart", "druw", "cnn_blstm", "categorical_dimensional"])
def test_recipe_show_fills_model_and_weighting_defaults_and_reloads(name, tmp_path, capsys):
    assert main(["recipe", "show", name]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert "dropout" in shown["model"] and "lr" in shown["weighting"] and "follow_schedule" in shown["weighting"]
    (tmp_path / "shown.yaml").write_text(yaml.safe_dump(shown))
    assert main(["recipe", "show", str(tmp_path / "shown.yaml")]) == 0  # what it prints is a valid recipe
    assert yaml.safe_load(capsys.readouterr().out) == shown
