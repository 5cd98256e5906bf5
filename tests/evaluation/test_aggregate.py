"""Aggregation over folds and seeds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emomtl.evaluation.aggregate import format_mean_std, mean_std, mean_std_over_seeds, pooled_metrics
from emomtl.evaluation.metrics import task_metrics

RESULTS = pd.DataFrame(
    {
        "strategy": ["equal", "equal", "equal", "equal", "uncertainty"],
        "fold": [0, 1, 0, 1, 0],
        "seed": [0, 0, 1, 1, 0],
        "emotion.ua": [0.8, 0.6, 0.7, 0.5, 0.9],
    }
)


def test_mean_std_uses_sample_std_and_zero_for_one_value():
    table = mean_std(RESULTS, ["strategy"], ["emotion.ua"]).set_index("strategy")
    values = [0.8, 0.6, 0.7, 0.5]  # mean 0.65; squared deviations sum to 0.05 over n-1 = 3
    assert table.loc["equal", "emotion.ua.mean"] == pytest.approx(0.65)
    assert table.loc["equal", "emotion.ua.std"] == pytest.approx(math.sqrt(0.05 / 3))
    assert table.loc["equal", "emotion.ua.std"] == pytest.approx(np.std(values, ddof=1))
    assert table.loc["equal", "n"] == 4
    assert table.loc["uncertainty", "emotion.ua.std"] == 0.0


def test_mean_std_without_groups_and_bad_columns():
    table = mean_std(RESULTS, [], ["emotion.ua"])
    assert len(table) == 1 and table.loc[0, "emotion.ua.mean"] == pytest.approx(3.5 / 5)
    with pytest.raises(ValueError, match="emotion.wa"):
        mean_std(RESULTS, ["strategy"], ["emotion.wa"])


def test_mean_std_over_seeds_averages_folds_first():
    table = mean_std_over_seeds(RESULTS, ["strategy"], ["emotion.ua"]).set_index("strategy")
    # seed 0: (0.8 + 0.6) / 2 = 0.7; seed 1: (0.7 + 0.5) / 2 = 0.6 -> mean 0.65, std sqrt(0.005)
    assert table.loc["equal", "emotion.ua.mean"] == pytest.approx(0.65)
    assert table.loc["equal", "emotion.ua.std"] == pytest.approx(math.sqrt(0.005))
    assert table.loc["equal", "n"] == 2


def test_pooled_classification_reads_probabilities_in_column_order():
    predictions = pd.DataFrame(
        {
            "path": ["1.wav", "2.wav", "3.wav"],
            "emotion.true": ["anger", "sadness", np.nan],
            "emotion.pred": ["anger", "anger", "anger"],
            "emotion.prob.anger": [0.5, 0.8, 0.6],
            "emotion.prob.sadness": [0.5, 0.2, 0.4],
        }
    )
    result = pooled_metrics(predictions, "emotion", "classification")
    assert result["ua"] == pytest.approx(0.5) and result["wa"] == pytest.approx(0.5)
    assert result["nll"] == pytest.approx(-(math.log(0.5) + math.log(0.2)) / 2)


def test_pooled_differs_from_mean_over_folds():
    fold_a = pd.DataFrame({"age.true": [1.0, 2.0], "age.pred": [1.0, 2.0]})
    fold_b = pd.DataFrame({"age.true": [3.0, 4.0], "age.pred": [5.0, 4.0]})
    pooled = pooled_metrics(pd.concat([fold_a, fold_b]), "age", "regression")
    assert pooled["mae"] == pytest.approx(2 / 4)  # equal fold sizes: same as the fold mean
    assert pooled["rmse"] == pytest.approx(math.sqrt(4 / 4))  # fold RMSEs are 0 and sqrt(2)


def test_pooled_multi_regression_and_csv_round_trip_of_numeric_classes(tmp_path):
    predictions = pd.DataFrame(
        {
            "va.true.valence": [1.0, 2.0, 3.0],
            "va.pred.valence": [2.0, 3.0, 4.0],
            "va.true.arousal": [0.0, 1.0, 0.0],
            "va.pred.arousal": [0.0, 1.0, 0.0],
            "level.true": ["1", "2", "2"],
            "level.pred": ["1", "1", "2"],
            "level.prob.1": [1.0, 0.5, 0.0],
            "level.prob.2": [0.0, 0.5, 1.0],
        }
    )
    result = pooled_metrics(predictions, "va", "multi_regression")
    assert result["ccc.valence"] == pytest.approx(4 / 7) and result["ccc.arousal"] == pytest.approx(1.0)
    predictions.to_csv(tmp_path / "predictions.csv", index=False)
    read = pd.read_csv(tmp_path / "predictions.csv")  # "level" labels come back as integers
    result = pooled_metrics(read, "level", "classification")
    assert result["ua"] == pytest.approx((1 + 1 / 2) / 2)
    assert result["nll"] == pytest.approx(-math.log(0.5) / 3, rel=1e-6)


def test_pooled_missing_column_is_named():
    with pytest.raises(ValueError, match="emotion.pred"):
        pooled_metrics(pd.DataFrame({"emotion.true": ["a"]}), "emotion", "classification")


def test_format_mean_std():
    assert format_mean_std(0.8534, 0.0121) == "85.3 ± 1.2"
    assert format_mean_std(4.2219, 0.31, percent=False, digits=2) == "4.22 ± 0.31"
    assert format_mean_std(float("nan"), 0.1) == "n/a"
    assert format_mean_std(0.5, float("nan")) == "50.0"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=1, max_size=30))
def test_pooled_over_one_fold_equals_direct(pairs):
    truth, prediction = [t for t, _ in pairs], [p for _, p in pairs]
    table = pd.DataFrame({"emotion.true": truth, "emotion.pred": prediction})
    assert pooled_metrics(table, "emotion", "classification", ["a", "b", "c"]) == pytest.approx(
        task_metrics("classification", truth, prediction)
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10)), min_size=1, max_size=30))
def test_pooled_regression_over_one_fold_equals_direct(pairs):
    truth, prediction = [t for t, _ in pairs], [p for _, p in pairs]
    table = pd.DataFrame({"age.true": truth, "age.pred": prediction})
    assert pooled_metrics(table, "age", "regression") == pytest.approx(task_metrics("regression", truth, prediction))


def test_ensemble_averages_probabilities_by_file():
    from emomtl.evaluation.aggregate import ensemble_predictions

    a = pd.DataFrame({"path": ["x", "y"], "speaker": ["s1", "s2"], "emotion.true": ["anger", "sadness"],
                      "emotion.pred": ["anger", "anger"],
                      "emotion.prob.anger": [0.9, 0.6], "emotion.prob.sadness": [0.1, 0.4]})
    b = a.iloc[::-1].copy()
    b["emotion.prob.anger"] = [0.0, 0.7]  # rows reversed: y first, then x
    b["emotion.prob.sadness"] = [1.0, 0.3]
    merged = ensemble_predictions([a, b], "emotion").set_index("path")
    assert merged.loc["x", "emotion.prob.anger"] == pytest.approx(0.8)
    assert merged.loc["y", "emotion.prob.sadness"] == pytest.approx(0.7)
    assert merged["emotion.pred"].tolist() == ["anger", "sadness"]
    with pytest.raises(ValueError, match="different files"):
        ensemble_predictions([a, a.iloc[:1]], "emotion")
