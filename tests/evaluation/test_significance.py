"""Paired tests, the paired bootstrap and Holm's correction on synthetic scores of known outcome."""

from __future__ import annotations

import numpy as np
import pytest

from emomtl.evaluation.significance import bootstrap_difference, holm, paired_test


def test_a_consistent_improvement_is_significant_and_noise_is_not():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 0.8, 30)
    better = paired_test(base + 0.03 + rng.normal(0, 0.005, 30), base)
    assert better.mean_difference == pytest.approx(0.03, abs=0.005) and better.p_value < 1e-4 and better.pairs == 30
    same = paired_test(base + rng.normal(0, 0.01, 30), base)
    assert same.p_value > 0.05


def test_identical_scores_give_p_one_and_nan_pairs_are_dropped():
    assert paired_test([0.5, 0.6], [0.5, 0.6]).p_value == 1.0
    assert paired_test([0.5, np.nan, 0.7], [0.4, 0.2, 0.6]).pairs == 2
    with pytest.raises(ValueError, match="equal-length"):
        paired_test([0.1, 0.2], [0.1])


def test_bootstrap_interval_covers_the_true_difference_and_excludes_zero_when_it_should():
    rng = np.random.default_rng(1)
    truth = rng.choice(["a", "b", "c"], 600)
    good = np.where(rng.random(600) < 0.9, truth, "a")  # ~90 % right
    poor = np.where(rng.random(600) < 0.6, truth, "a")  # ~60 % right
    difference, low, high = bootstrap_difference(truth, good, poor, resamples=500)
    assert low < difference < high and low > 0.15
    difference, low, high = bootstrap_difference(truth, good, good, resamples=200)
    assert difference == low == high == 0.0


def test_holm_matches_a_hand_computation():
    # sorted p: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04, monotone)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    adjusted = holm([0.5, float("nan"), 0.01])
    assert adjusted[0] == pytest.approx(0.5) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.02)


def test_bootstrap_draws_an_utterances_seeds_together():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 300).astype(str)
    a = np.where(rng.random(300) < 0.7, truth, "0")
    b = np.where(rng.random(300) < 0.65, truth, "1")
    one = bootstrap_difference(truth, a, b, resamples=500)
    copies = [np.tile(x, 3) for x in (truth, a, b)]  # three seeds that agree: no new information
    paths = np.tile(np.arange(300).astype(str), 3)
    grouped = bootstrap_difference(*copies, resamples=500, groups=paths)
    naive = bootstrap_difference(*copies, resamples=500)
    assert grouped[0] == pytest.approx(one[0])
    assert _width(grouped) == pytest.approx(_width(one), rel=0.25) and _width(naive) < 0.8 * _width(one)


def _width(interval: tuple[float, float, float]) -> float:
    return interval[2] - interval[1]
