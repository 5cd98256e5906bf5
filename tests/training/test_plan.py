"""The experiment plan: arms and model settings are checked before any extraction; a job holds its own arm."""

from __future__ import annotations

import pandas as pd
import pytest

from emomtl.errors import ConfigError
from emomtl.runtime.checkpoint import load_checkpoint
from emomtl.training.experiment import run_experiment
from emomtl.training.plan import plan_experiment


def _no_extraction(*args, **kwargs):
    raise AssertionError("features were extracted before the arms were checked")


@pytest.mark.parametrize("change, message", [
    ({"weightings": ["dwa", "nope"]}, "weighting.name: unknown strategy 'nope'"),
    ({"params": {"dwa": {"T": 2.0, "temperature": 1}}}, r"unknown parameter\(s\) \['temperature'\] for 'dwa'"),
])
def test_a_bad_arm_fails_before_feature_extraction(recipe, tmp_path, monkeypatch, change, message):
    monkeypatch.setattr("emomtl.training.prepare.extract_features", _no_extraction)
    recipe["compare"].update(change)
    with pytest.raises(ConfigError, match=message):
        plan_experiment(recipe, tmp_path / "run", weightings=recipe["compare"]["weightings"] if "weightings" in change
                        else ["dwa"])


def test_a_bad_model_setting_fails_before_feature_extraction(recipe, tmp_path, monkeypatch):
    monkeypatch.setattr("emomtl.training.prepare.extract_features", _no_extraction)
    recipe["model"]["chanels"] = [4, 8]
    with pytest.raises(ConfigError, match=r"model: unknown key\(s\) \['chanels'\]"):
        run_experiment(recipe, tmp_path / "run", weightings=["dwa"])


def test_task_inputs_naming_no_task_of_the_recipe_fail_before_feature_extraction(recipe, tmp_path, monkeypatch):
    monkeypatch.setattr("emomtl.training.prepare.extract_features", _no_extraction)
    recipe["model"] = {"name": "functional_mlp", "inputs": ["logmel"], "task_inputs": {"gendre": ["logmel"]}}
    with pytest.raises(ConfigError, match=r"model.task_inputs: unknown task\(s\) \['gendre'\]"):
        plan_experiment(recipe, tmp_path / "run", weightings=["static"])


def test_each_job_and_checkpoint_carries_its_own_arms_weighting(recipe, tmp_path):
    recipe["weighting"] = {"name": "druw"}
    recipe["train"].update(epochs=1, max_folds=1)
    plan = plan_experiment(recipe, tmp_path / "run", weightings=["druw", "dwa"])
    assert {run.arm.label: run.job.recipe.weighting["name"] for run in plan.runs} == {"druw": "druw", "dwa": "dwa"}
    run_experiment(recipe, tmp_path / "run", weightings=["druw", "dwa"])
    state = load_checkpoint(next((tmp_path / "run" / "runs" / "dwa").glob("*/checkpoint_best.pt")))
    assert state["recipe"]["weighting"]["name"] == "dwa"


def test_finished_only_lists_the_finished_runs_and_trains_nothing(recipe, tmp_path, monkeypatch):
    recipe["train"].update(epochs=1, max_folds=1)
    run_dir = tmp_path / "run"
    first = run_experiment(recipe, run_dir, weightings=["static"], seeds=[0])
    monkeypatch.setattr("emomtl.training.loop.SplitTrainer", _no_training)
    results = run_experiment(recipe, run_dir, weightings=["static", "dwa"], seeds=[0, 1], finished_only=True)
    assert results[["strategy", "fold", "seed"]].values.tolist() == first[["strategy", "fold", "seed"]].values.tolist()
    assert results["emotion.ua"].tolist() == first["emotion.ua"].tolist()
    assert len(results) == len(pd.read_csv(run_dir / "results.csv"))
    with pytest.raises(ConfigError, match="finished_only"):
        run_experiment(recipe, run_dir, weightings=["static"], finished_only=True, resume=False)


def _no_training(*args, **kwargs):
    raise AssertionError("a run was trained under finished_only")


def test_no_single_task_baseline_for_a_task_the_protocol_makes_train_only(recipe, tmp_path):
    recipe["tasks"].append({"name": "speaker", "kind": "classification", "column": "speaker"})  # not declared
    recipe["train"].update(epochs=1, max_folds=1)
    plan = plan_experiment(recipe, tmp_path / "run", weightings=["static"], single_task=True)
    assert sorted({run.arm.label for run in plan.runs}) == ["single:emotion", "single:gender", "static"]
    with pytest.raises(ConfigError, match="single-task baseline for 'speaker': it is train-only"):
        plan_experiment(recipe, tmp_path / "run", weightings=["static"], single_task=["speaker"])


def test_a_corpus_whose_every_file_fails_extraction_says_so_naming_a_file(recipe, monkeypatch):
    from emomtl.data.corpora import SkippedFile
    from emomtl.training.prepare import prepare_corpus

    def every_file_fails(table, *args, **kwargs):
        return table.iloc[:0], {}, [SkippedFile(path, "all samples are NaN") for path in table["path"]]

    monkeypatch.setattr("emomtl.training.prepare.extract_inputs", every_file_fails)
    with pytest.raises(ConfigError, match=r"no usable files: feature extraction failed on all \d+ .*NaN"):
        prepare_corpus(recipe, progress=False)


@pytest.mark.parametrize("weightings, message", [([], "no arm to run"), (["uw", "uw"], "'uw' is listed twice")])
def test_compare_refuses_no_arms_and_duplicate_arms(recipe, tmp_path, weightings, message):
    from emomtl.training.experiment import plan_arms

    with pytest.raises(ConfigError, match=message):
        plan_arms(recipe, weightings=weightings)


def test_compare_params_name_a_strategy_and_their_errors_name_the_section(recipe, tmp_path):
    from emomtl.training.experiment import plan_arms

    recipe["compare"]["params"] = {"dwaa": {"T": 2}}
    with pytest.raises(ConfigError, match="compare.params.dwaa: not a weighting strategy"):
        plan_arms(recipe, weightings=["dwa"])
    recipe["compare"]["params"] = {"uw": {"TT": 2}}
    with pytest.raises(ConfigError, match=r"compare.params.uw .*unknown parameter\(s\) \['TT'\]"):
        plan_experiment(recipe, tmp_path / "run", weightings=["uw"])


# An int layer choice vs features.<name>.layers
def _whisper_recipe(**model):
    return {"name": "t", "data": {"corpus": "emodb", "root": "/nonexistent"},
            "features": {"whisper": {"kind": "whisper", "model": "base", "layers": [1, 2, 3]}},
            "inputs": {"whisper": {"standardize": True}},
            "tasks": [{"name": "emotion", "kind": "classification", "column": "emotion"}],
            "model": {"inputs": ["whisper"], **model}}


@pytest.mark.parametrize("model", [{"name": "functional_mlp", "layer_mix": 1},
                                   {"name": "functional_mlp", "layer_mix": 0},
                                   {"name": "linear_probe", "layer": 1}])
def test_int_layer_that_is_not_its_hidden_state_is_refused_naming_the_extracted_layers(model):
    from emomtl.config import as_recipe
    from emomtl.training.experiment import plan_arms
    from emomtl.training.plan import check_arms

    recipe = as_recipe(_whisper_recipe(**model))
    with pytest.raises(ConfigError, match=r"\[1, 2, 3\]"):
        check_arms(recipe, plan_arms(recipe, None, False, ()))
