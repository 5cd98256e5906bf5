"""Label faults in whole runs: unknown codes skipped and reported, missing labels masked, an unseen class scored,
speaker leaks and empty splits refused with a clear message.

Adapter-level parsing of unknown codes is tested in ``tests/data/test_corpus_adapters.py`` and the protocols'
own checks in ``tests/data/test_protocols.py``; here the same faults go through ``run_experiment`` / ``emomtl cv``.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from emomtl.cli.main import main as emomtl_main
from emomtl.config import resolve_recipe
from emomtl.errors import LabelError, SpeakerLeakError
from emomtl.evaluation.metrics import accuracy, concordance_cc, unweighted_average_recall
from emomtl.training.experiment import run_experiment
from robustness_support import demo_table, manifest_recipe, read_metrics, write_recipe

COLUMNS = ["path", "speaker", "gender", "emotion", "valence", "arousal"]
EMOTION_ONLY = [{"name": "emotion", "kind": "classification", "column": "emotion"}]


def one_run(out: Path) -> Path:
    """The only run folder under a run directory."""
    (folder,) = sorted(out.glob("runs/*/*_seed0"))
    return folder


# ------------------------------------------------------------------ unknown codes
def test_unknown_emotion_codes_are_skipped_and_listed_in_skipped_csv(make_raw_recipe, demo_root: Path,
                                                                    tmp_path: Path) -> None:
    """An EMO-DB folder (codes in the file names) with two files of letters EMO-DB does not define."""
    table = demo_table(demo_root)
    letters = {"anger": "W", "happiness": "F", "sadness": "T", "neutral": "N"}
    speakers = dict(zip(sorted(table["speaker"].unique()), ["03", "08", "09", "10"]))
    wav = tmp_path / "emodb" / "wav"
    wav.mkdir(parents=True)
    expected = []
    for row in table.itertuples():
        number = int(Path(row.path).stem[-2:])
        name = f"{speakers[row.speaker]}a0{number}{letters[row.emotion]}a.wav"
        shutil.copy(row.path, wav / name)
        expected.append(str(wav / name))
    unknown = {"03a05Xa.wav": "'X'", "10b01Qc.wav": "'Q'"}
    for name in unknown:
        shutil.copy(table["path"].iloc[0], wav / name)

    raw = make_raw_recipe({"data": {"corpus": "emodb", "root": str(tmp_path / "emodb")},
                           "tasks": EMOTION_ONLY, "train": {"epochs": 1, "max_folds": 1}})
    raw["data"]["options"] = {}
    run_experiment(resolve_recipe(raw), tmp_path / "run")

    skipped = pd.read_csv(tmp_path / "run" / "skipped.csv")
    assert sorted(Path(p).name for p in skipped["path"]) == sorted(unknown)
    for path, reason in zip(skipped["path"], skipped["reason"]):
        assert f"unknown EMO-DB emotion code {unknown[Path(path).name]}" in reason
    assert len(pd.read_csv(tmp_path / "run" / "results.csv")) == 1
    (split,) = json.loads((tmp_path / "run" / "splits.json").read_text())
    assert sum(split["sizes"]) == len(expected)  # every well-named file was used
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["tasks"][0]["classes"] == sorted(letters)  # no class made of an unknown code


# ------------------------------------------------------------------ missing labels
def va_column(predictions: pd.DataFrame, kind: str, name: str) -> pd.Series:
    """``va.true.valence`` (or the older ``va.valence.true``) of predictions.csv."""
    for column in (f"va.{kind}.{name}", f"va.{name}.{kind}"):
        if column in predictions.columns:
            return predictions[column]
    raise KeyError(f"no {kind} column for va/{name} in {list(predictions.columns)}")


def test_missing_labels_of_some_tasks_are_masked_in_training_and_scoring(make_raw_recipe, demo_root: Path,
                                                                        tmp_path: Path) -> None:
    """Half the rows lack gender, three quarters valence/arousal: trains, and scores the labelled rows only."""
    table = demo_table(demo_root)[COLUMNS].copy()
    table.loc[table.index % 2 == 1, "gender"] = None
    table.loc[table.index % 4 != 0, ["valence", "arousal"]] = None
    raw = manifest_recipe(make_raw_recipe(), table, tmp_path / "manifest.csv", {"train": {"max_folds": 2}})
    results = run_experiment(resolve_recipe(raw), tmp_path / "run")

    assert len(results) == 2
    for column in ("emotion.ua", "gender.ua", "va.ccc", "score"):
        assert results[column].map(math.isfinite).all(), column
    for folder in sorted((tmp_path / "run").glob("runs/*/*_seed0")):
        history = pd.read_csv(folder / "history.csv")
        losses = history[["train.loss", "train.emotion.loss", "train.gender.loss", "val.loss", "val.va.loss"]]
        assert np.isfinite(losses.to_numpy()).all()
        steps = pd.read_csv(folder / "steps.csv")
        assert np.isfinite(steps["loss"]).all()
        assert steps["va.loss"].isna().any(), "some batches had < 2 valence/arousal labels: the task sat out"
        va = pd.concat([steps["va.loss"], history["train.va.loss"]]).dropna()
        assert len(va) and np.isfinite(va).all()

        predictions, metrics = pd.read_csv(folder / "predictions.csv"), read_metrics(folder)["test"]
        assert predictions["gender.true"].isna().any() and predictions["gender.pred"].notna().all()
        labelled = predictions[predictions["gender.true"].notna()]
        assert metrics["gender"]["ua"] == pytest.approx(
            unweighted_average_recall(labelled["gender.true"], labelled["gender.pred"]))
        assert metrics["gender"]["wa"] == pytest.approx(accuracy(labelled["gender.true"], labelled["gender.pred"]))
        truth = {c: va_column(predictions, "true", c) for c in ("valence", "arousal")}
        labelled = truth["valence"].notna()
        assert not labelled.all()
        assert metrics["va"]["ccc"] == pytest.approx(np.mean([
            concordance_cc(truth[c][labelled], va_column(predictions, "pred", c)[labelled])
            for c in ("valence", "arousal")]), abs=1e-6)  # predictions.csv holds rounded float32


# ------------------------------------------------------------------ unseen class
def fixed_split(table: pd.DataFrame) -> pd.DataFrame:
    """Speakers 1-2 train, 3 validation, 4 test (the corpus's own split column)."""
    parts = dict(zip(sorted(table["speaker"].unique()), ["train", "train", "validation", "test"]))
    return table.assign(split=table["speaker"].map(parts))


def test_a_class_seen_only_in_test_is_kept_and_scored(make_raw_recipe, demo_root: Path, tmp_path: Path) -> None:
    table = fixed_split(demo_table(demo_root)[COLUMNS])
    unseen = (table["split"] == "test") & (table["emotion"] == "sadness")
    table.loc[unseen, "emotion"] = "fear"
    run_experiment(resolve_recipe(yaml.safe_load(fixed_recipe(make_raw_recipe, table, tmp_path).read_text())),
                   tmp_path / "run")

    folder = one_run(tmp_path / "run")
    predictions = pd.read_csv(folder / "predictions.csv")
    assert len(predictions) == int((table["split"] == "test").sum())  # no test row dropped
    assert (predictions["emotion.true"] == "fear").sum() == int(unseen.sum())
    assert "emotion.prob.fear" in predictions.columns
    metrics = read_metrics(folder)["test"]["emotion"]
    assert metrics["wa"] == pytest.approx(accuracy(predictions["emotion.true"], predictions["emotion.pred"]))
    assert metrics["ua"] == pytest.approx(unweighted_average_recall(predictions["emotion.true"],
                                                                    predictions["emotion.pred"]))


# ------------------------------------------------------------------ refused set-ups
def cv(recipe: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = emomtl_main(["cv", str(recipe), "--out", str(out), "--quiet", "--no-report"])
    return code, capsys.readouterr().err


def fixed_recipe(make_raw_recipe, table: pd.DataFrame, folder: Path) -> Path:
    raw = manifest_recipe(make_raw_recipe(), table, folder / "manifest.csv", {"tasks": EMOTION_ONLY})
    raw["protocol"] = {"name": "fixed", "seed": 0}
    return write_recipe(raw, folder / "recipe.yaml")


@pytest.mark.parametrize("spelling", ["{}", " {} "])
def test_a_speaker_in_two_splits_is_refused(spelling: str, make_raw_recipe, demo_root: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    table = fixed_split(demo_table(demo_root)[COLUMNS])
    test_speaker = table.loc[table["split"] == "test", "speaker"].iloc[0]
    leaked = table.index[table["split"] == "train"][0]
    table.loc[leaked, "speaker"] = spelling.format(test_speaker)
    code, err = cv(fixed_recipe(make_raw_recipe, table, tmp_path), tmp_path / "run", capsys)
    assert code == 2
    assert f"speaker {test_speaker!r} is in both train and test" in err
    assert not (tmp_path / "run" / "results.csv").exists()
    with pytest.raises(SpeakerLeakError):
        run_experiment(resolve_recipe(yaml.safe_load((tmp_path / "recipe.yaml").read_text())), tmp_path / "again")


def test_a_split_left_empty_by_skipped_files_is_a_clear_error(make_raw_recipe, demo_root: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    table = fixed_split(demo_table(demo_root)[COLUMNS])
    broken = tmp_path / "broken"
    broken.mkdir()
    for i in table.index[table["split"] == "test"]:  # every test file is empty: all skipped
        target = broken / Path(table.loc[i, "path"]).name
        target.write_bytes(b"")
        table.loc[i, "path"] = str(target)
    code, err = cv(fixed_recipe(make_raw_recipe, table, tmp_path), tmp_path / "run", capsys)
    assert code == 2
    assert "the test part of split 'fixed' is empty" in err and "Traceback" not in err


def test_a_task_without_any_label_is_a_clear_error(make_raw_recipe, demo_root: Path, tmp_path: Path) -> None:
    table = demo_table(demo_root)[COLUMNS].assign(gender=None)
    raw = manifest_recipe(make_raw_recipe(), table, tmp_path / "manifest.csv")
    with pytest.raises(LabelError, match="tasks.gender: column 'gender' has no labels"):
        run_experiment(resolve_recipe(raw), tmp_path / "run")
