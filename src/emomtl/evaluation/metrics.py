"""Evaluation metrics, named as the field names them (audmetric style), each with its formula.

Conventions shared by every function:

* ``truth`` comes first, ``prediction`` second.
* Empty input, inputs of different lengths and missing predictions raise :class:`ValueError`.
* Rows whose *truth* is missing (``None`` / ``NaN``) are masked (left out) before computing, so a table
  in which a corpus does not label a task can be scored directly; if no labelled row is left the
  function raises :class:`ValueError`.
* Classification labels may be any hashable values (strings or class indices), as long as truth
  and prediction use the same kind.

:data:`METRIC_DIRECTION` says for each metric whether higher or lower is better (checkpoint selection, reports);
the metric vocabulary (:data:`METRIC_LABELS`, :data:`PERCENT_METRICS`, :data:`HEADLINE_METRIC`,
:data:`SUMMARY_METRICS`) is defined here once and read by training, reports, benchmarks and the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn import metrics as sk

MetricKind = Literal["classification", "regression", "multi_regression"]
Direction = Literal["higher", "lower"]

#: Whether a larger value of each metric is better (``"higher"``) or worse (``"lower"``).
#: Per-column names such as ``ccc.valence`` follow their base metric; see :func:`higher_is_better`.
METRIC_DIRECTION: dict[str, Direction] = {
    "ua": "higher",
    "wa": "higher",
    "macro_f1": "higher",
    "nll": "lower",
    "ccc": "higher",
    "pearson": "higher",
    "mae": "lower",
    "rmse": "lower",
    "exvo_score": "higher",
    "score": "higher",
    "loss": "lower",
    # names other tools write into result tables (reports understand them too)
    "uar": "higher",
    "war": "higher",
    "accuracy": "higher",
    "acc": "higher",
    "balanced_accuracy": "higher",
    "micro_f1": "higher",
    "weighted_f1": "higher",
    "f1": "higher",
    "pcc": "higher",
    "r2": "higher",
    "mse": "lower",
    "eer": "lower",
    "wer": "lower",
    "cer": "lower",
}

#: Metrics where a smaller value is better.
LOWER_IS_BETTER = frozenset(name for name, direction in METRIC_DIRECTION.items() if direction == "lower")

#: Rates that only a classification task reports; printed in percent.
PERCENT_METRICS = frozenset(
    {"ua", "wa", "uar", "war", "accuracy", "acc", "balanced_accuracy", "macro_f1", "micro_f1", "weighted_f1", "f1"}
)

#: The metric that stands for a task of each kind (its recipe ``metric`` may choose another).
HEADLINE_METRIC: dict[str, str] = {"classification": "ua", "regression": "ccc", "multi_regression": "ccc"}

#: The per-task metrics summaries print and result rows keep from validation (besides ``score``).
SUMMARY_METRICS = ("ua", "wa", "ccc", "mae")

#: Printed display names of metrics; others are printed as written.
METRIC_LABELS = {
    "ua": "UA",
    "wa": "WA",
    "uar": "UAR",
    "war": "WAR",
    "accuracy": "Acc",
    "acc": "Acc",
    "macro_f1": "macro-F1",
    "micro_f1": "micro-F1",
    "weighted_f1": "weighted-F1",
    "ccc": "CCC",
    "mae": "MAE",
    "mse": "MSE",
    "rmse": "RMSE",
    "pcc": "PCC",
    "pearson": "Pearson r",
    "nll": "NLL",
    "score": "score",
}


def higher_is_better(metric: str) -> bool:
    """Whether a larger ``metric`` is better; ``"ccc.valence"`` or ``"val.emotion.ua"`` use their base name.

    The full name is looked up first, then its dotted parts from the right. Raises :class:`KeyError`
    naming the metric when none is known.
    """
    if metric in METRIC_DIRECTION:
        return METRIC_DIRECTION[metric] == "higher"
    for part in reversed(metric.split(".")):
        if part in METRIC_DIRECTION:
            return METRIC_DIRECTION[part] == "higher"
    raise KeyError(f"unknown metric {metric!r}; known: {sorted(METRIC_DIRECTION)}")


# ----------------------------------------------------------------- input checks
def _is_missing(values: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(values), dtype=bool).reshape(len(values), -1).any(axis=1)


def _labelled(truth: Any, *others: Any, name: str = "truth") -> tuple[np.ndarray, ...]:
    """Arrays of ``truth`` and ``others`` without the rows whose truth is missing; checks lengths."""
    truth = np.asarray(truth)
    arrays = [np.asarray(o) for o in others]
    if truth.ndim == 0:
        raise ValueError(f"{name} must be a sequence, got a scalar")
    if len(truth) == 0:
        raise ValueError(f"{name} is empty: a metric needs at least one row")
    for array in arrays:
        if array.ndim == 0 or len(array) != len(truth):
            got = "a scalar" if array.ndim == 0 else f"{len(array)} rows"
            raise ValueError(f"truth has {len(truth)} rows but prediction has {got}")
    keep = ~_is_missing(truth)
    if not keep.any():
        raise ValueError(f"every {name} value is missing (NaN): nothing to score")
    arrays = [a[keep] for a in arrays]
    for array in arrays:
        if _is_missing(array).any():
            raise ValueError(f"prediction is missing (NaN) for {int(_is_missing(array).sum())} labelled row(s)")
    return (truth[keep], *arrays)


def _floats(truth: Any, prediction: Any) -> tuple[np.ndarray, np.ndarray]:
    truth, prediction = _labelled(truth, prediction)
    truth = np.asarray(truth, dtype=np.float64).reshape(-1)
    prediction = np.asarray(prediction, dtype=np.float64).reshape(-1)
    if not (np.isfinite(truth).all() and np.isfinite(prediction).all()):
        raise ValueError("regression values must be finite (no inf)")
    return truth, prediction


def _labels(truth: Any, prediction: Any) -> tuple[np.ndarray, np.ndarray]:
    truth, prediction = _labelled(truth, prediction)
    return truth.reshape(-1), prediction.reshape(-1)


# ----------------------------------------------------------------- classification
def accuracy(truth: Sequence[Any], prediction: Sequence[Any]) -> float:
    r"""Weighted accuracy (WA): the share of correctly classified rows.

    .. math:: \mathrm{WA} = \frac{1}{N} \sum_{i=1}^{N} [\hat y_i = y_i]
    """
    truth, prediction = _labels(truth, prediction)
    return float(sk.accuracy_score(truth, prediction))


def unweighted_average_recall(
    truth: Sequence[Any],
    prediction: Sequence[Any],
    *,
    labels: Sequence[Any] | None = None,
) -> float:
    r"""Unweighted average recall (UA / UAR): the mean over classes of each class's recall.

    .. math:: \mathrm{UA} = \frac{1}{|C|} \sum_{c \in C} \frac{|\{i: y_i = c, \hat y_i = c\}|}{|\{i: y_i = c\}|}

    By default ``C`` is the set of classes **present in the truth**: a class with no true row has no
    recall, and counting it as 0 would punish a test fold (e.g. one speaker) that lacks the class.
    Predictions of other classes still count as errors. Pass ``labels=`` to fix ``C`` instead (e.g.
    the task's class list); a class of ``labels`` absent from the truth then has recall 0 and true
    rows whose class is not in ``labels`` are ignored.
    """
    truth, prediction = _labels(truth, prediction)
    classes = np.unique(truth) if labels is None else np.asarray(list(labels))
    if len(classes) == 0:
        raise ValueError("labels is empty: UA needs at least one class")
    return float(sk.recall_score(truth, prediction, labels=classes, average="macro", zero_division=0))


def macro_f1(truth: Sequence[Any], prediction: Sequence[Any], *, labels: Sequence[Any] | None = None) -> float:
    r"""Macro-averaged F1: the unweighted mean over classes of each class's F1.

    .. math:: F_1(c) = \frac{2\,P(c)\,R(c)}{P(c) + R(c)}, \qquad
              \mathrm{macroF1} = \frac{1}{|C|} \sum_{c \in C} F_1(c)

    ``C`` defaults to the classes in truth **or** prediction (a predicted class that never occurs has
    F1 = 0); ``labels=`` fixes it. An undefined precision or recall counts as 0.
    """
    truth, prediction = _labels(truth, prediction)
    classes = None if labels is None else list(labels)
    return float(sk.f1_score(truth, prediction, labels=classes, average="macro", zero_division=0))


def confusion_matrix(
    truth: Sequence[Any],
    prediction: Sequence[Any],
    *,
    labels: Sequence[Any] | None = None,
    normalize: bool = False,
) -> pd.DataFrame:
    r"""Counts :math:`M_{jk} = |\{i: y_i = c_j, \hat y_i = c_k\}|` as a table.

    Rows (index ``"true"``) are true classes, columns (``"predicted"``) predicted classes, both in the
    order of ``labels`` (default: sorted union of truth and prediction). ``normalize=True`` divides each
    row by its sum (each row then holds the recall of its class on the diagonal; empty rows stay 0).
    """
    truth, prediction = _labels(truth, prediction)
    classes = np.unique(np.concatenate([truth, prediction])) if labels is None else np.asarray(list(labels))
    counts = sk.confusion_matrix(truth, prediction, labels=classes)
    values: np.ndarray = counts
    if normalize:
        sums = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, sums, out=np.zeros(counts.shape, dtype=np.float64), where=sums > 0)
    return pd.DataFrame(
        values,
        index=pd.Index(list(classes), name="true"),
        columns=pd.Index(list(classes), name="predicted"),
    )


def negative_log_likelihood(
    truth: Sequence[Any],
    probabilities: Any,
    *,
    classes: Sequence[Any] | None = None,
    eps: float = 1e-12,
) -> float:
    r"""Mean negative log-likelihood of the true class under the predicted probabilities (natural log).

    .. math:: \mathrm{NLL} = -\frac{1}{N} \sum_{i=1}^{N} \log \max(p_{i, y_i}, \epsilon)

    ``probabilities`` has one row per truth row and one column per class, in the order of ``classes``
    (when ``classes`` is ``None`` the truth must be column indices). Rows must be probabilities
    (in [0, 1], summing to 1 within 1e-3) — passing logits raises :class:`ValueError`.
    """
    truth, probs = _labelled(truth, np.asarray(probabilities, dtype=np.float64))
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probabilities must be a 2-D array (rows x classes), got shape {probs.shape}")
    if (probs < 0).any() or (probs > 1).any() or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probabilities must lie in [0, 1] and each row must sum to 1 (got logits?)")
    if classes is None:
        index = np.asarray(truth, dtype=np.float64)
        if not np.all(index == np.round(index)) or index.min() < 0 or index.max() >= probs.shape[1]:
            raise ValueError("without classes=, truth must be column indices 0..K-1 of probabilities")
        index = index.astype(np.int64)
    else:
        position = {c: i for i, c in enumerate(classes)}
        if len(position) != probs.shape[1]:
            raise ValueError(f"{len(position)} classes but probabilities have {probs.shape[1]} columns")
        unknown = sorted({str(t) for t in truth if t not in position})
        if unknown:
            raise ValueError(f"truth labels {unknown} are not in classes {list(classes)}")
        index = np.array([position[t] for t in truth], dtype=np.int64)
    chosen = probs[np.arange(len(index)), index]
    return float(-np.mean(np.log(np.maximum(chosen, eps))))


# ----------------------------------------------------------------- regression
def concordance_cc(truth: Sequence[float], prediction: Sequence[float]) -> float:
    r"""Lin's concordance correlation coefficient (CCC), with population (biased) moments.

    .. math:: \mathrm{CCC} = \frac{2\,\sigma_{y\hat y}}{\sigma_y^2 + \sigma_{\hat y}^2 + (\mu_y - \mu_{\hat y})^2}

    Lies in [-1, 1]. When the denominator is 0 (truth and prediction are the same constant) the
    agreement is perfect and the result is 1; a constant prediction of another series gives 0.
    """
    truth, prediction = _floats(truth, prediction)
    mean_t, mean_p = truth.mean(), prediction.mean()
    dev_t, dev_p = truth - mean_t, prediction - mean_p
    covariance = np.mean(dev_t * dev_p)
    denominator = np.mean(dev_t**2) + np.mean(dev_p**2) + (mean_t - mean_p) ** 2
    if denominator == 0:
        return 1.0
    return float(np.clip(2 * covariance / denominator, -1.0, 1.0))


def pearson_cc(truth: Sequence[float], prediction: Sequence[float]) -> float:
    r"""Pearson's correlation coefficient.

    .. math:: r = \frac{\sum_i (y_i - \mu_y)(\hat y_i - \mu_{\hat y})}
                       {\sqrt{\sum_i (y_i - \mu_y)^2}\,\sqrt{\sum_i (\hat y_i - \mu_{\hat y})^2}}

    Defined here as 0 (no warning, no NaN) when either series is constant, so that a collapsed
    regression head scores as uncorrelated.
    """
    truth, prediction = _floats(truth, prediction)
    dev_t, dev_p = truth - truth.mean(), prediction - prediction.mean()
    norm = np.sqrt(np.sum(dev_t**2)) * np.sqrt(np.sum(dev_p**2))
    if norm == 0 or not np.isfinite(norm):
        return 0.0
    return float(np.clip(np.sum(dev_t * dev_p) / norm, -1.0, 1.0))


def mean_absolute_error(truth: Sequence[float], prediction: Sequence[float]) -> float:
    r"""Mean absolute error. :math:`\mathrm{MAE} = \frac{1}{N} \sum_i |y_i - \hat y_i|`"""
    truth, prediction = _floats(truth, prediction)
    return float(sk.mean_absolute_error(truth, prediction))


def root_mean_squared_error(truth: Sequence[float], prediction: Sequence[float]) -> float:
    r"""Root mean squared error. :math:`\mathrm{RMSE} = \sqrt{\frac{1}{N} \sum_i (y_i - \hat y_i)^2}`"""
    truth, prediction = _floats(truth, prediction)
    return float(np.sqrt(sk.mean_squared_error(truth, prediction)))


# ----------------------------------------------------------------- challenge scores
def exvo_score(ccc: float | Sequence[float], uar: float, mae: float) -> float:
    r"""The ExVo Multi-Task challenge score: harmonic mean of mean CCC, UAR and 1/MAE.

    .. math:: S = \frac{3}{1/\overline{\mathrm{CCC}} + 1/\mathrm{UAR} + \mathrm{MAE}}

    ``ccc`` is the mean CCC over the emotion intensities or the list of per-intensity CCCs (averaged
    here); ``uar`` is the country UAR and ``mae`` the age MAE (years). The official baseline (CCC 0.416,
    UAR 0.506, MAE 4.222) scores 0.349. A harmonic mean is undefined for non-positive terms: a mean CCC
    or UAR <= 0 gives 0, and MAE = 0 makes its term vanish from the denominator (1/MAE = infinity).
    """
    mean_ccc = float(np.mean(np.asarray(ccc, dtype=np.float64)))
    if mae < 0 or not np.isfinite([mean_ccc, uar, mae]).all():
        raise ValueError(f"exvo_score needs finite values and mae >= 0, got ccc={mean_ccc}, uar={uar}, mae={mae}")
    if mean_ccc <= 0 or uar <= 0:
        return 0.0
    return float(3.0 / (1.0 / mean_ccc + 1.0 / uar + mae))


# ----------------------------------------------------------------- per task
def task_metrics(
    kind: MetricKind,
    truth: Any,
    prediction: Any,
    probabilities: Any = None,
    classes: Sequence[Any] | None = None,
    *,
    names: Sequence[str] | None = None,
) -> dict[str, float]:
    """The standard metric set of one task, keyed by the names in :data:`METRIC_DIRECTION`.

    * ``classification``: ``ua``, ``wa``, ``macro_f1`` and, when ``probabilities`` are given (columns in
      the order of ``classes``), ``nll``. UA is over the classes present in the truth.
    * ``regression``: ``ccc``, ``mae``, ``rmse``, ``pearson``.
    * ``multi_regression`` (``truth`` and ``prediction`` are rows x columns): ``ccc``, ``mae``, ``rmse`` and
      ``pearson`` averaged over columns, plus ``ccc.<name>`` per column, named by ``names`` (e.g.
      ``["valence", "arousal"]``) or by column index. Missing truth is masked per column.
    """
    if kind == "classification":
        result = {
            "ua": unweighted_average_recall(truth, prediction),
            "wa": accuracy(truth, prediction),
            "macro_f1": macro_f1(truth, prediction),
        }
        if probabilities is not None:
            result["nll"] = negative_log_likelihood(truth, probabilities, classes=classes)
        return result
    if kind == "regression":
        return {
            "ccc": concordance_cc(truth, prediction),
            "mae": mean_absolute_error(truth, prediction),
            "rmse": root_mean_squared_error(truth, prediction),
            "pearson": pearson_cc(truth, prediction),
        }
    if kind == "multi_regression":
        truth = np.asarray(truth, dtype=np.float64)
        prediction = np.asarray(prediction, dtype=np.float64)
        if truth.ndim != 2 or prediction.shape != truth.shape:
            raise ValueError(
                "multi_regression needs 2-D truth and prediction of the same shape, "
                f"got {truth.shape} and {prediction.shape}"
            )
        labels = [str(i) for i in range(truth.shape[1])] if names is None else [str(n) for n in names]
        if len(labels) != truth.shape[1]:
            raise ValueError(f"{len(labels)} names for {truth.shape[1]} columns")
        columns = [task_metrics("regression", truth[:, j], prediction[:, j]) for j in range(truth.shape[1])]
        result = {metric: float(np.mean([c[metric] for c in columns])) for metric in ("ccc", "mae", "rmse", "pearson")}
        result.update({f"ccc.{label}": c["ccc"] for label, c in zip(labels, columns)})
        return result
    raise ValueError(f"kind must be classification, regression or multi_regression, got {kind!r}")
