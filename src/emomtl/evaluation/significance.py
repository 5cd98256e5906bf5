"""Is a difference between two arms real? Paired tests over runs, a bootstrap over utterances, Holm's correction.

* :func:`paired_test`: the two arms' scores on the same (fold, seed) runs, compared by the Wilcoxon signed-rank
  test (two-sided; zero differences dropped, as ``scipy.stats.wilcoxon``'s default ``zero_method="wilcox"``).
  It makes no normality assumption, which a per-fold UA over 10 speakers does not warrant.
* :func:`bootstrap_difference`: a percentile confidence interval of the UA difference, resampling utterances
  (the same resampled utterances for both arms, so the pairing is kept) from the pooled test predictions.
* :func:`holm`: Holm-Bonferroni adjusted p-values for a family of comparisons (controls the family-wise error).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from emomtl.evaluation.metrics import unweighted_average_recall


@dataclass(frozen=True)
class PairedTest:
    """Result of :func:`paired_test`: mean difference (a - b), the statistic, p-value and number of pairs."""

    mean_difference: float
    statistic: float
    p_value: float
    pairs: int
    test: str = "wilcoxon signed-rank (two-sided)"


def paired_test(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Wilcoxon signed-rank test of paired scores ``a[i]`` vs ``b[i]`` (the same fold and seed)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired_test: need two equal-length 1-D score lists, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    difference = a - b
    if len(a) == 0:
        return PairedTest(float("nan"), float("nan"), float("nan"), 0)
    if np.allclose(difference, 0):
        return PairedTest(0.0, float("nan"), 1.0, len(a))
    result = stats.wilcoxon(a, b, alternative="two-sided")
    return PairedTest(float(difference.mean()), float(result.statistic), float(result.pvalue), len(a))


def bootstrap_difference(truth: Sequence, prediction_a: Sequence, prediction_b: Sequence, resamples: int = 2000,
                         level: float = 0.95, seed: int = 0,
                         groups: Sequence | None = None) -> tuple[float, float, float]:
    """(UA(a) - UA(b), low, high): a percentile bootstrap interval over utterances, paired.

    ``groups`` names each row's utterance when one utterance has several rows (e.g. one per seed): whole utterances
    are resampled, all their rows together, so seeds that agree do not narrow the interval. Without it every row is
    an utterance."""
    truth, a, b = (np.asarray(x, dtype=object) for x in (truth, prediction_a, prediction_b))
    if not len(truth) == len(a) == len(b) or len(truth) == 0:
        raise ValueError("bootstrap_difference: truth and both predictions need the same, non-zero length")
    if groups is not None and len(groups) != len(truth):
        raise ValueError("bootstrap_difference: groups needs one entry per row")
    observed = unweighted_average_recall(truth, a) - unweighted_average_recall(truth, b)
    rng = np.random.default_rng(seed)
    classes, codes = np.unique(truth.astype(str), return_inverse=True)
    hit_a = (a.astype(str) == truth.astype(str)).astype(float)
    hit_b = (b.astype(str) == truth.astype(str)).astype(float)
    if groups is None:
        group_of_row = np.arange(len(truth))
    else:
        _, group_of_row = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    n_groups = int(group_of_row.max()) + 1
    differences = np.empty(resamples)
    for r in range(resamples):
        drawn = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[group_of_row].astype(float)
        counts = np.bincount(codes, weights=drawn, minlength=len(classes))
        present = counts > 0
        recall_a = np.bincount(codes, weights=drawn * hit_a, minlength=len(classes))[present] / counts[present]
        recall_b = np.bincount(codes, weights=drawn * hit_b, minlength=len(classes))[present] / counts[present]
        differences[r] = recall_a.mean() - recall_b.mean()
    tail = (1 - level) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    return float(observed), float(low), float(high)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count in the family)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m, running = len(order), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()
