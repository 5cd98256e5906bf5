"""``emomtl tune``: Optuna on validation speakers inside the training folds; the test fold never matters."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from emomtl.cli.main import main
from emomtl.config import save_recipe
from emomtl.errors import ConfigError
from emomtl.training import tuning
from emomtl.training.experiment import build_splits
from emomtl.training.prepare import prepare_corpus

from engine_fixtures import tiny_recipe

SPACE = {"optim.lr": {"type": "float", "low": 0.001, "high": 0.05, "log": True},
         "model.channels": {"type": "categorical", "choices": [[4, 8], [6, 6]]}}


def write(path: Path, value: object) -> Path:
    path.write_text(yaml.safe_dump(value))
    return path


def test_tune_writes_its_table_and_chosen_recipe_and_ignores_test_labels(tmp_path, monkeypatch):
    recipe = tiny_recipe(tmp_path, train={"epochs": 2})
    recipe_path = tmp_path / "tiny.yaml"
    save_recipe(recipe, recipe_path)
    space = write(tmp_path / "space.yaml", SPACE)
    out = tmp_path / "tuned"
    assert main(["tune", str(recipe_path), "--space", str(space), "--trials", "3", "--folds", "0",
                 "--out", str(out), "--quiet"]) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and set(trials["state"]) == {"COMPLETE"}
    study = json.loads((out / "study.json").read_text())
    assert study["sampler"].startswith("TPESampler") and study["folds"] == [0]
    chosen = yaml.safe_load((out / "best_recipe.yaml").read_text())
    best = trials.loc[trials["value"].idxmax()]
    assert chosen["optim"]["lr"] == pytest.approx(best["params_optim.lr"])
    assert chosen["model"]["channels"] == json.loads(best["params_model.channels"])

    # Corrupt every label of fold 0's test speakers: the search must not notice.
    prepared = prepare_corpus(recipe)
    split = build_splits(recipe, prepared.table)[0]
    test_speakers = set(prepared.table["speaker"].iloc[split.test])
    real_prepare = tuning.prepare_corpus

    def corrupted(candidate, progress=False):
        corpus = real_prepare(candidate, progress=progress)
        table = corpus.table.copy()
        rows = table["speaker"].isin(test_speakers)
        table.loc[rows, "emotion"] = "not-an-emotion"
        table.loc[rows, "gender"] = table.loc[rows, "gender"].map({"female": "male", "male": "female"})
        corpus.table = table
        return corpus

    monkeypatch.setattr(tuning, "prepare_corpus", corrupted)
    again = tuning.tune(recipe, tuning.load_space(space), 3, tmp_path / "again", folds=[0])
    assert again.trials["value"].tolist() == trials["value"].tolist()
    assert yaml.safe_load((tmp_path / "again" / "best_recipe.yaml").read_text()) == chosen
    # every speaker whose labels the search read is recorded: fold 0's training and validation speakers
    searched = set(prepared.table["speaker"].iloc[[*split.train, *split.validation]].astype(str))
    assert chosen["tuned_on"] == {"corpora": [recipe["data"]["corpus"]], "speakers": sorted(searched)}
    assert study["tuned_on"] == chosen["tuned_on"]


def test_a_cv_of_a_recipe_tuned_on_its_test_speakers_says_so(tmp_path, caplog):
    recipe = tiny_recipe(tmp_path, train={"epochs": 1, "max_folds": 2})
    prepared = prepare_corpus(recipe)
    splits = build_splits(recipe, prepared.table)
    held_out = sorted(set(prepared.table["speaker"].iloc[splits[0].test].astype(str)))
    tuned = sorted(set(prepared.table["speaker"].astype(str)) - set(held_out))  # as if searched on fold 0
    recipe_path = tmp_path / "tuned.yaml"
    save_recipe({**recipe, "tuned_on": {"corpora": [recipe["data"]["corpus"]], "speakers": tuned}}, recipe_path)
    out = tmp_path / "cv"
    with caplog.at_level("WARNING"):
        assert main(["cv", str(recipe_path), "--out", str(out), "--quiet"]) == 0
    fold1 = sorted(set(prepared.table["speaker"].iloc[splits[1].test].astype(str)))
    assert f"with the labels of {len(fold1)} of its {len(held_out) + len(fold1)} test speakers" in caplog.text
    report = (out / "report.md").read_text().replace("\\_", "_")  # markdown escapes underscores
    assert "Not speaker-independent" in report and ", ".join(fold1) in report
    assert not set(held_out) & set(report.split("test speakers (")[1].split(")")[0].split(", "))
    # the record is not a result setting: the same folder resumes without it
    save_recipe(recipe, recipe_path)
    assert main(["cv", str(recipe_path), "--out", str(out), "--quiet", "--no-report"]) == 0


def test_the_searched_corpus_has_no_test_row(tmp_path):
    recipe = tiny_recipe(tmp_path)
    prepared = prepare_corpus(recipe)
    split = build_splits(recipe, prepared.table)[1]
    corpus, inner = tuning.without_test(prepared, split)
    assert len(corpus.table) == len(split.train) + len(split.validation)
    assert not set(corpus.table["speaker"]) & set(prepared.table["speaker"].iloc[split.test])
    assert len(inner.test) == 0
    assert set(corpus.table["speaker"].iloc[inner.validation]) == set(prepared.table["speaker"].iloc[split.validation])


@pytest.mark.parametrize("space, message", [
    ({"optim.lr": {"type": "float", "low": 1, "high": 0.1}}, "low < high"),
    ({"optim.lr": {"type": "float", "low": 0, "high": 0.1, "log": True}}, "must be > 0"),
    ({"model.x": {"type": "categorical", "choices": []}}, "non-empty list"),
    ({"model.x": {"type": "grid"}}, "type one of"),
    ({"model.x": {"type": "int", "low": 1, "high": 3, "bogus": 1}}, "unknown option"),
    ({}, "non-empty mapping"),
])
def test_bad_search_spaces_name_the_key(tmp_path, space, message):
    with pytest.raises(ConfigError, match=message):
        tuning.load_space(write(tmp_path / "space.yaml", space))
