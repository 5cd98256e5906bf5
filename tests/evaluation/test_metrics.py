"""Metrics against hand-computed values, edge cases and invariants."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emomtl.evaluation.metrics import (
    METRIC_DIRECTION,
    accuracy,
    concordance_cc,
    confusion_matrix,
    exvo_score,
    higher_is_better,
    macro_f1,
    mean_absolute_error,
    negative_log_likelihood,
    pearson_cc,
    root_mean_squared_error,
    task_metrics,
    unweighted_average_recall,
)

TRUTH = ["a", "a", "a", "b"]
PREDICTION = ["a", "a", "b", "b"]


# ------------------------------------------------------------- classification
def test_accuracy_is_share_correct():
    assert accuracy(TRUTH, PREDICTION) == pytest.approx(3 / 4)


def test_ua_averages_recall_over_classes_in_truth():
    # recall a = 2/3, recall b = 1/1
    assert unweighted_average_recall(TRUTH, PREDICTION) == pytest.approx((2 / 3 + 1) / 2)


def test_ua_ignores_class_only_predicted_by_default_but_counts_it_as_error():
    # c never true: not averaged; the row predicted as c lowers recall of a
    assert unweighted_average_recall(["a", "a", "b"], ["a", "c", "b"]) == pytest.approx((1 / 2 + 1) / 2)


def test_ua_with_fixed_labels_counts_absent_class_as_zero():
    value = unweighted_average_recall(TRUTH, PREDICTION, labels=["a", "b", "c"])
    assert value == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_macro_f1_by_hand():
    # a: P=1, R=2/3 -> F1=0.8; b: P=1/2, R=1 -> F1=2/3
    assert macro_f1(TRUTH, PREDICTION) == pytest.approx((0.8 + 2 / 3) / 2)


def test_confusion_matrix_rows_are_truth_in_label_order():
    matrix = confusion_matrix(TRUTH, PREDICTION, labels=["b", "a"])
    assert list(matrix.index) == ["b", "a"] and list(matrix.columns) == ["b", "a"]
    assert matrix.to_numpy().tolist() == [[1, 0], [1, 2]]
    normalized = confusion_matrix(TRUTH, PREDICTION, labels=["a", "b", "c"], normalize=True)
    np.testing.assert_allclose(normalized.to_numpy(), [[2 / 3, 1 / 3, 0], [0, 1, 0], [0, 0, 0]])


def test_missing_truth_rows_are_masked():
    assert accuracy(["a", None, "b", np.nan], ["a", "b", "a", "a"]) == pytest.approx(1 / 2)
    assert unweighted_average_recall([0, np.nan, 1], [0, 1, 0]) == pytest.approx(0.5)


def test_negative_log_likelihood_by_hand():
    probabilities = [[0.5, 0.5], [0.2, 0.8]]
    expected = -(math.log(0.5) + math.log(0.8)) / 2
    assert negative_log_likelihood(["a", "b"], probabilities, classes=["a", "b"]) == pytest.approx(expected)
    assert negative_log_likelihood([0, 1], probabilities) == pytest.approx(expected)


def test_negative_log_likelihood_refuses_logits_and_unknown_labels():
    with pytest.raises(ValueError, match="sum to 1"):
        negative_log_likelihood([0, 1], [[2.0, -1.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match="not in classes"):
        negative_log_likelihood(["a", "z"], [[0.5, 0.5], [0.2, 0.8]], classes=["a", "b"])


# ------------------------------------------------------------- regression
def test_ccc_by_hand():
    # means 2 and 3, variances 2/3, covariance 2/3: 2*(2/3) / (2/3 + 2/3 + 1) = 4/7
    assert concordance_cc([1, 2, 3], [2, 3, 4]) == pytest.approx(4 / 7)
    # equal means: CCC = 2 cov / (var + var) = 2*1 / 2.5
    assert concordance_cc([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert concordance_cc([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.0)


def test_ccc_of_constant_prediction():
    assert concordance_cc([1, 2, 3], [2, 2, 2]) == 0.0
    assert concordance_cc([2, 2, 2], [2, 2, 2]) == 1.0


def test_pearson_by_hand_and_zero_for_constant_without_warning():
    assert pearson_cc([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 5)
    assert pearson_cc([1, 2, 3], [2, 3, 4]) == pytest.approx(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pearson_cc([1, 1, 1], [1, 2, 3]) == 0.0
        assert pearson_cc([5.0], [3.0]) == 0.0


def test_mae_and_rmse_by_hand():
    assert mean_absolute_error([0, 0], [3, 4]) == pytest.approx(3.5)
    assert root_mean_squared_error([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))
    assert mean_absolute_error([1, np.nan, 3], [2, 100, 3]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "metric", [accuracy, unweighted_average_recall, macro_f1, concordance_cc, pearson_cc, mean_absolute_error]
)
def test_bad_input_raises_clear_value_error(metric):
    with pytest.raises(ValueError, match="empty"):
        metric([], [])
    with pytest.raises(ValueError, match="rows"):
        metric([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="missing"):
        metric([np.nan, np.nan], [1, 2])
    with pytest.raises(ValueError, match="prediction is missing"):
        metric([1.0, 2.0], [1.0, np.nan])


# ------------------------------------------------------------- ExVo score
def test_exvo_score_of_official_baseline():
    assert exvo_score(0.416, 0.506, 4.222) == pytest.approx(3 / (1 / 0.416 + 1 / 0.506 + 4.222))
    assert round(exvo_score(0.416, 0.506, 4.222), 3) == 0.349


def test_exvo_score_averages_ccc_list_and_handles_edges():
    assert exvo_score([0.3, 0.5], 0.5, 2.0) == pytest.approx(3 / (1 / 0.4 + 1 / 0.5 + 2.0))
    assert exvo_score(-0.1, 0.5, 2.0) == 0.0
    assert exvo_score(0.5, 0.5, 0.0) == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="mae"):
        exvo_score(0.5, 0.5, -1.0)


# ------------------------------------------------------------- task_metrics and directions
def test_task_metrics_classification_set():
    result = task_metrics("classification", ["a", "b"], ["a", "a"], [[0.5, 0.5], [0.2, 0.8]], ["a", "b"])
    assert set(result) == {"ua", "wa", "macro_f1", "nll"}
    assert result["ua"] == pytest.approx(0.5) and result["wa"] == pytest.approx(0.5)
    assert "nll" not in task_metrics("classification", ["a", "b"], ["a", "a"])


def test_task_metrics_regression_set():
    result = task_metrics("regression", [1, 2, 3], [2, 3, 4])
    assert result == pytest.approx({"ccc": 4 / 7, "mae": 1.0, "rmse": 1.0, "pearson": 1.0})


def test_task_metrics_multi_regression_means_columns_and_names_them():
    truth = np.array([[1, 1], [2, 2], [3, 3], [np.nan, 4]])
    prediction = np.array([[2, 1], [3, 3], [4, 2], [9, 4]])
    result = task_metrics("multi_regression", truth, prediction, names=["valence", "arousal"])
    assert result["ccc.valence"] == pytest.approx(4 / 7)  # the NaN row is masked in column 0 only
    assert result["ccc.arousal"] == pytest.approx(0.8)
    assert result["ccc"] == pytest.approx((4 / 7 + 0.8) / 2)
    assert "ccc.1" in task_metrics("multi_regression", truth, prediction)


def test_task_metrics_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        task_metrics("ranking", [1], [1])  # type: ignore[arg-type]


def test_every_task_metric_has_a_direction():
    names = set(task_metrics("classification", ["a", "b"], ["a", "b"], [[1, 0], [0, 1]], ["a", "b"]))
    names |= set(task_metrics("multi_regression", [[1, 2], [2, 1]], [[1, 2], [2, 1]], names=["v", "a"]))
    assert all(isinstance(higher_is_better(n), bool) for n in names)
    assert METRIC_DIRECTION["ua"] == "higher" and METRIC_DIRECTION["mae"] == "lower"
    assert higher_is_better("ccc.valence") and not higher_is_better("val.age.mae")
    with pytest.raises(KeyError, match="bogus"):
        higher_is_better("bogus")


# ------------------------------------------------------------- properties
labels_and_predictions = st.integers(min_value=2, max_value=5).flatmap(
    lambda k: st.tuples(
        st.just(k),
        st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=40),
        st.permutations(list(range(k))),
    )
)
finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(labels_and_predictions)
def test_ua_invariant_to_renaming_classes(data):
    _, pairs, permutation = data
    truth, prediction = [t for t, _ in pairs], [p for _, p in pairs]
    renamed_truth = [f"c{permutation[t]}" for t in truth]
    renamed_prediction = [f"c{permutation[p]}" for p in prediction]
    assert unweighted_average_recall(truth, prediction) == pytest.approx(
        unweighted_average_recall(renamed_truth, renamed_prediction)
    )


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=30))
def test_ccc_between_minus_one_and_one(pairs):
    truth, prediction = [t for t, _ in pairs], [p for _, p in pairs]
    assert -1.0 <= concordance_cc(truth, prediction) <= 1.0
    assert -1.0 <= pearson_cc(truth, prediction) <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=1, max_size=30))
def test_ccc_is_one_for_identical_series(values):
    assert concordance_cc(values, values) == pytest.approx(1.0)


@settings(max_examples=80, deadline=None)
@given(
    st.floats(min_value=-1.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=1e-3, max_value=100.0),
)
def test_exvo_score_between_min_and_max_of_its_terms(ccc, uar, mae):
    terms = [ccc, uar, 1 / mae]
    score = exvo_score(ccc, uar, mae)
    assert min(terms) - 1e-12 <= score <= max(terms) + 1e-12
