"""The classical anchor (``model.name: linear_svm``): fitted on the protocol's splits, written like a neural run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from emomtl.errors import ConfigError
from emomtl.inference import Recognizer
from emomtl.models import build_model
from emomtl.models.tasks import TaskSpec
from emomtl.runtime.checkpoint import load_checkpoint
from emomtl.training.experiment import build_splits, plan_arms, run_experiment
from emomtl.training.loop import SplitJob, train_split
from emomtl.training.prepare import PreparedCorpus, fit_tasks

from engine_fixtures import tiny_recipe

CLASSES = ["angry", "happy", "sad"]
EGEMAPS = {"kind": "opensmile", "feature_set": "eGeMAPSv02", "level": "functionals"}


def toy_corpus(speakers: int = 5, per_class: int = 6, dim: int = 10, seed: int = 0) -> PreparedCorpus:
    """Linearly separable functionals: class k shifts feature k by +4, each speaker adds its own offset."""
    rng = np.random.default_rng(seed)
    rows, inputs = [], []
    for s in range(speakers):
        offset = rng.normal(0, 3, dim)
        for k, emotion in enumerate(CLASSES):
            for i in range(per_class):
                vector = offset + rng.normal(0, 0.3, dim)
                vector[k] += 4.0
                inputs.append(vector.astype(np.float32))
                rows.append({"path": f"/toy/s{s}_{emotion}_{i}.wav", "speaker": f"s{s}", "emotion": emotion,
                             "valence": 0.2 * k + 0.01 * i, "corpus": "toy"})
    return PreparedCorpus(pd.DataFrame(rows), {"functionals": inputs})


def toy_recipe(tmp_path, **model) -> dict:
    recipe = tiny_recipe(
        tmp_path, tasks=[{"name": "emotion", "kind": "classification", "column": "emotion"},
               {"name": "valence", "kind": "regression", "column": "valence"}], train={"refit": True})
    recipe["model"] = {"name": "linear_svm", **model}
    recipe["features"] = {"functionals": EGEMAPS}
    recipe["inputs"] = {"functionals": {"standardize": "speaker"}}
    return recipe


def _job(recipe, prepared, out_dir, fold: int = 0) -> SplitJob:
    tasks = fit_tasks(recipe, prepared.table)
    return SplitJob(recipe, tasks, prepared, build_splits(recipe, prepared.table)[fold],
                    recipe["weighting"], 0, out_dir)


def test_learns_a_separable_problem_and_writes_a_run(tmp_path):
    prepared = toy_corpus()
    job = _job(toy_recipe(tmp_path), prepared, tmp_path / "run")
    metrics = train_split(job, resume=False)
    assert metrics["test"]["emotion"]["ua"] == 1.0
    assert metrics["test"]["valence"]["ccc"] > 0.8
    assert set(metrics["C"]) == {"emotion", "valence"} and metrics["refit"]
    assert "val.emotion.ua" in metrics["val"]
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert (predictions["emotion.true"] == predictions["emotion.pred"]).all()
    assert np.allclose(predictions.filter(like="emotion.prob.").sum(axis=1), 1.0, atol=1e-5)
    search = pd.read_csv(tmp_path / "run" / "svm_search.csv")
    assert sorted(search["C"].unique()) == [1e-4, 1e-3, 1e-2]


def test_checkpoint_holds_plain_tensors_and_rebuilds_the_model(tmp_path):
    prepared = toy_corpus()
    job = _job(toy_recipe(tmp_path, C=[0.01]), prepared, tmp_path / "run")
    train_split(job, resume=False)
    state = load_checkpoint(tmp_path / "run" / "checkpoint_best.pt")
    assert all(isinstance(leaf, (torch.Tensor, np.ndarray, np.generic, str, int, float, type(None)))
               for leaf in _leaves(state))  # arrays and tensors only: no pickled scikit-learn estimator
    tasks = [TaskSpec(**t) for t in state["tasks"]]
    model = build_model(state["recipe"]["model"], tasks, state["input_shapes"])
    model.load_state_dict(state["model"])
    assert state["model"]["linear.emotion.weight"].abs().sum() > 0
    features = torch.as_tensor(np.stack(prepared.inputs["functionals"][:3]))
    assert model({"functionals": features})["emotion"].shape == (3, len(CLASSES))


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def test_several_costs_without_validation_speakers_are_refused(tmp_path):
    recipe = toy_recipe(tmp_path)
    recipe["protocol"]["validation_speakers"] = 0
    with pytest.raises(ConfigError, match="model.C"):
        train_split(_job(recipe, toy_corpus(), tmp_path / "run"), resume=False)


def test_cost_is_chosen_on_validation_speakers_only(tmp_path, monkeypatch):
    """Scrambling the test labels changes no choice of C: only validation rows are scored before the test."""
    prepared = toy_corpus()
    recipe = toy_recipe(tmp_path, C=[1e-5, 1.0])
    first = train_split(_job(recipe, prepared, tmp_path / "a"), resume=False)
    split = build_splits(recipe, prepared.table)[0]
    scrambled = prepared.table.copy()
    scrambled.loc[split.test, "emotion"] = np.roll(scrambled.loc[split.test, "emotion"].to_numpy(), 1)
    second = train_split(_job(recipe, PreparedCorpus(scrambled, prepared.inputs), tmp_path / "b"), resume=False)
    assert first["C"] == second["C"]
    assert first["val"] == second["val"]


def test_compare_runs_the_anchor_beside_a_neural_arm_on_identical_folds(tmp_path):
    recipe = tiny_recipe(
        tmp_path, tasks=[{"name": "emotion", "kind": "classification", "column": "emotion"},
               {"name": "speaker", "kind": "classification", "column": "speaker"}],
        weighting={"name": "static"}, train={"epochs": 1, "max_folds": 2}, compare={"models": ["linear_svm"]})
    recipe["model"] = {"name": "functional_mlp", "hidden": [8]}
    recipe["features"] = {"functionals": EGEMAPS}
    recipe["inputs"] = {"functionals": {"standardize": True}}
    results = run_experiment(recipe, tmp_path / "cmp", weightings=["static"], models=recipe["compare"]["models"])
    assert list(results["strategy"].unique()) == ["static", "linear_svm"]
    folds = results.groupby("strategy")[["fold", "test_speakers", "val_speakers"]].apply(
        lambda g: tuple(map(tuple, g.sort_values("fold").to_numpy())))
    assert folds.nunique() == 1
    svm = results[results["strategy"] == "linear_svm"]
    assert svm["emotion.ua"].notna().all() and "val.emotion.ua" in svm
    assert not svm.filter(like="speaker.").notna().any().any()  # auxiliary: not fitted, not scored
    from emomtl.reports import build_report

    markdown = build_report(tmp_path / "cmp").markdown.read_text()  # no epoch history: the report still builds
    assert "| linear\\_svm |" in markdown and "speaker UA" not in markdown
    checkpoint = next((tmp_path / "cmp" / "runs" / "linear_svm").glob("*/checkpoint_best.pt"))
    recognizer = Recognizer.from_checkpoint(checkpoint)
    row = recognizer.process_file(pd.read_csv(checkpoint.parent / "predictions.csv")["path"].iloc[0])
    assert row["emotion"].iloc[0] in recognizer.tasks[0].classes


def test_unknown_compare_model_is_named():
    recipe = {"weighting": {"name": "static"}, "compare": {}, "tasks": [{"name": "emotion"}]}
    assert [a.label for a in plan_arms(recipe, ["static"], models=["linear_svm"])] == ["static", "linear_svm"]
    with pytest.raises(ConfigError, match="compare.models: model.name: 'svm'"):
        plan_arms(recipe, ["static"], models=["svm"])


def test_linear_probe_is_logistic_regression_on_the_same_path(tmp_path):
    """``linear_probe``: the same closed-form path with scikit-learn's LogisticRegression (C = 0.1 by default)."""
    from sklearn.linear_model import LogisticRegression

    prepared = toy_corpus()
    recipe = toy_recipe(tmp_path)
    recipe["model"] = {"name": "linear_probe"}
    recipe["train"]["refit"] = False
    job = _job(recipe, prepared, tmp_path / "run")
    metrics = train_split(job, resume=False)
    assert metrics["C"] == {"emotion": 0.1, "valence": 0.1}
    assert metrics["test"]["emotion"]["ua"] == 1.0
    # the emotion probabilities are scikit-learn's own, fitted on the same standardised training rows
    from emomtl.training.classical import ClassicalFit

    tasks = [t for t in job.tasks if not t.auxiliary]
    fit = ClassicalFit(job, tasks, job.split.train)
    features = fit.design(job.split.train)
    labels = tasks[0].encode(prepared.table)[job.split.train]
    reference = LogisticRegression(C=0.1, max_iter=2000).fit(features, labels)
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    expected = reference.predict_proba(fit.design(job.split.test))
    np.testing.assert_allclose(predictions.filter(like="emotion.prob.").to_numpy(), expected, atol=1e-4)


def test_linear_model_picks_one_layer_of_pooled_encoder_states():
    tasks = [TaskSpec(name="emotion", kind="classification", column="emotion", classes=CLASSES)]
    every = build_model({"name": "linear_probe"}, tasks, {"functionals": (3, 4)})
    one = build_model({"name": "linear_probe", "layer": 1}, tasks, {"functionals": (3, 4)})
    assert every.width == 12 and one.width == 4
    x = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    torch.testing.assert_close(one.features({"functionals": x}), x[:, 1])
    with pytest.raises(ConfigError, match="model.layer: 3 is not a row"):
        build_model({"name": "linear_probe", "layer": 3}, tasks, {"functionals": (3, 4)})
