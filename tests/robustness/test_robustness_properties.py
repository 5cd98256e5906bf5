"""Property tests (hypothesis) the other suites do not already hold.

Already elsewhere, not repeated: UA invariant to renaming classes, CCC and Pearson in [-1, 1], the ExVo harmonic
mean between its terms (``tests/evaluation/test_metrics.py``); LOSO and speaker k-fold leak-free with every row
tested once (``tests/data/test_protocols.py``). Added here: the training score's harmonic mean (the ``hmean``
that selects checkpoints), UA under reordered rows and class lists, and the remaining splitters (speaker-grouped
random, leave-one-session-out) with speakers split across sessions only where the protocol allows it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from emomtl.data.protocols import make_splits
from emomtl.errors import ConfigError
from emomtl.evaluation.metrics import unweighted_average_recall
from emomtl.models.tasks import TaskSpec
from emomtl.training.evaluate import combined_score

unit_scores = st.floats(min_value=1e-6, max_value=1.0, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(st.lists(unit_scores, min_size=1, max_size=6))
def test_harmonic_mean_score_lies_between_the_smallest_score_and_the_mean(values: list[float]) -> None:
    tasks = [TaskSpec(f"t{i}", "classification" if i % 2 else "regression", classes=["a", "b"])
             for i in range(len(values))]
    scores = {task.name: {"ua" if task.kind == "classification" else "ccc": v} for task, v in zip(tasks, values)}
    hmean, mean = combined_score(tasks, scores, "hmean"), combined_score(tasks, scores, "mean")
    assert min(values) * (1 - 1e-9) <= hmean <= mean * (1 + 1e-9)
    assert mean <= max(values) * (1 + 1e-9)
    if len(set(values)) == 1:
        assert hmean == pytest.approx(values[0])


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2, max_value=5).flatmap(lambda k: st.tuples(
    st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=40),
    st.permutations(list(range(k))), st.randoms(use_true_random=False))))
def test_ua_does_not_depend_on_row_order_or_on_the_order_of_the_class_list(data) -> None:
    pairs, class_order, rng = data
    truth, prediction = [t for t, _ in pairs], [p for _, p in pairs]
    expected = unweighted_average_recall(truth, prediction)
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    assert unweighted_average_recall([t for t, _ in shuffled], [p for _, p in shuffled]) == pytest.approx(expected)
    present = sorted(set(truth))
    reordered = [c for c in class_order if c in present]
    assert unweighted_average_recall(truth, prediction, labels=reordered) == pytest.approx(expected)


def speaker_table(counts: list[int], sessions: list[int] | None = None) -> pd.DataFrame:
    rows = []
    for s, n in enumerate(counts):
        for i in range(n):
            rows.append({"path": f"/c/s{s}_{i}.wav", "speaker": f"s{s}", "emotion": "neutral",
                         "session": f"sess{sessions[s]}" if sessions else None})
    return pd.DataFrame(rows)


def assert_disjoint_and_complete(table: pd.DataFrame, split) -> None:
    speakers = table["speaker"].to_numpy()
    parts = [np.asarray(split.train), np.asarray(split.validation), np.asarray(split.test)]
    owners = [set(speakers[rows]) for rows in parts]
    assert not owners[0] & owners[1] and not owners[0] & owners[2] and not owners[1] & owners[2]
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(table))), "every row in exactly one part"


@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.integers(min_value=1, max_value=8), min_size=3, max_size=12),
       ratios=st.sampled_from([(0.6, 0.2, 0.2), (0.8, 0.1, 0.1), (0.5, 0.0, 0.5), (1, 1, 1)]),
       seed=st.integers(min_value=0, max_value=10_000))
def test_speaker_grouped_random_split_keeps_every_speaker_in_one_part(counts, ratios, seed) -> None:
    table = speaker_table(counts).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    (split,) = make_splits(table, "random", seed=seed, ratios=list(ratios))
    assert_disjoint_and_complete(table, split)
    assert len(split.train) and len(split.test)


@settings(max_examples=50, deadline=None)
@given(counts=st.lists(st.integers(min_value=1, max_value=6), min_size=4, max_size=10),
       data=st.data(), seed=st.integers(min_value=0, max_value=10_000))
def test_leave_one_session_out_tests_each_row_once_without_speaker_leaks(counts, data, seed) -> None:
    n_sessions = data.draw(st.integers(min_value=2, max_value=min(4, len(counts))), label="sessions")
    sessions = data.draw(st.lists(st.integers(0, n_sessions - 1), min_size=len(counts), max_size=len(counts)),
                         label="session of each speaker")
    assume(len(set(sessions)) >= 2)
    table = speaker_table(counts, sessions)
    try:
        splits = make_splits(table, "loso_session", seed=seed, validation_speakers=1)
    except ConfigError as error:  # a session whose complement has too few speakers: refused, never leaked
        assert "too few" in str(error) or "empty" in str(error)
        event("refused: too few speakers")
        return
    event("split")
    for split in splits:
        assert_disjoint_and_complete(table, split)
    tested = np.concatenate([s.test for s in splits])
    assert sorted(tested.tolist()) == list(range(len(table)))
