"""Confusion matrices from predictions.csv rows and their unweighted average recall."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from emomtl.reports.confusion import confusion_matrix, unweighted_average_recall
from emomtl.reports.load import load_run, strategy_for_folder


def test_counts_follow_class_order_and_skip_unlabelled_rows():
    frame = pd.DataFrame(
        {
            "emotion.true": ["sad", "sad", "happy", None, "angry"],
            "emotion.pred": ["sad", "happy", "happy", "sad", "sad"],
        }
    )
    matrix = confusion_matrix(frame, "emotion", ["happy", "sad"])
    assert list(matrix.index) == ["happy", "sad", "angry"]
    assert matrix.loc["sad", "sad"] == 1 and matrix.loc["sad", "happy"] == 1 and matrix.loc["angry", "sad"] == 1
    assert int(matrix.to_numpy().sum()) == 4
    # recalls: happy 1, sad 0.5, angry 0
    assert unweighted_average_recall(matrix) == pytest.approx(0.5)


def test_integer_labels_are_mapped_to_classes():
    frame = pd.DataFrame({"emotion.true": [0, 1, 1, -100], "emotion.pred": [0, 0, 1, 1]})
    matrix = confusion_matrix(frame, "emotion", ["a", "b"])
    assert matrix.loc["b", "a"] == 1 and matrix.loc["b", "b"] == 1 and int(matrix.to_numpy().sum()) == 3


def test_task_without_prediction_columns():
    assert confusion_matrix(pd.DataFrame({"x": [1]}), "emotion") is None
    assert math.isnan(unweighted_average_recall(pd.DataFrame([[0]])))


def test_runs_folder_of_a_single_task_baseline_maps_to_its_strategy(make_run_dir):
    assert strategy_for_folder("single_emotion", ["static", "single:emotion"]) == "single:emotion"
    run_dir = make_run_dir()
    (run_dir / "runs" / "softmax").rename(run_dir / "runs" / "soft_max")
    run = load_run(run_dir)
    assert set(run.histories["strategy"]) == {"static", "soft_max"}
    assert set(run.predictions["fold"]) == {"fold1", "fold2"} and set(run.predictions["seed"]) == {1, 2}
