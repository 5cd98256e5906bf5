"""Protocols: every split is checked here, independently of the library, for speaker leaks."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from emomtl.data.protocols import Split, assert_speaker_disjoint, evaluable_tasks, make_splits
from emomtl.errors import ConfigError, LabelError, SpeakerLeakError

EMOTIONS = ("anger", "happiness", "neutral", "sadness")


def make_table(counts: dict[str, int], sessions: dict[str, str] | None = None) -> pd.DataFrame:
    """``counts[speaker]`` rows per speaker, emotions cycling, optional speaker -> session."""
    rows = []
    for speaker, n in counts.items():
        for i in range(n):
            rows.append({"path": f"/c/{speaker}_{i}.wav", "corpus": "c", "speaker": speaker,
                         "emotion": EMOTIONS[i % len(EMOTIONS)],
                         "session": sessions[speaker] if sessions else None})
    return pd.DataFrame(rows)


def speakers_of(table: pd.DataFrame, rows: np.ndarray) -> set[str]:
    return set(table["speaker"].to_numpy()[rows])


def check_no_leak(table: pd.DataFrame, split: Split) -> None:
    """The test's own leak check: disjoint rows, disjoint speakers, speaker lists that match the rows."""
    parts = {"train": split.train, "validation": split.validation, "test": split.test}
    for name, rows in parts.items():
        assert rows.dtype.kind == "i" and len(set(rows.tolist())) == len(rows)
        assert sorted(speakers_of(table, rows)) == getattr(split, f"{name}_speakers")
    assert not set(split.train) & set(split.validation) and not set(split.train) & set(split.test)
    assert not set(split.validation) & set(split.test)
    assert not speakers_of(table, split.train) & speakers_of(table, split.test)
    assert not speakers_of(table, split.train) & speakers_of(table, split.validation)
    assert not speakers_of(table, split.validation) & speakers_of(table, split.test)


def ten_speakers() -> pd.DataFrame:
    return make_table({f"s{i:02d}": 5 + i for i in range(10)})


# -------------------------------------------------------------------- loso
def test_loso_tests_each_speaker_once_with_drawn_validation_speakers():
    table = ten_speakers()
    splits = make_splits(table, "loso", seed=1)
    assert [s.test_speakers for s in splits] == [[f"s{i:02d}"] for i in range(10)]
    for split in splits:
        check_no_leak(table, split)
        assert len(split.validation_speakers) == 1 and len(split.train_speakers) == 8
        assert len(split.train) + len(split.validation) + len(split.test) == len(table)
    assert sorted(np.concatenate([s.test for s in splits]).tolist()) == list(range(len(table)))


def test_loso_is_reproducible_from_the_seed_and_configurable():
    table = ten_speakers()
    first = [s.validation_speakers for s in make_splits(table, "loso", seed=7)]
    assert first == [s.validation_speakers for s in make_splits(table, "loso", seed=7)]
    assert any(first != [s.validation_speakers for s in make_splits(table, "loso", seed=s)] for s in range(1, 4))
    three = make_splits(table, "loso", seed=0, validation_speakers=3, test_speakers=["s02", "s05"])
    assert [s.name for s in three] == ["loso-s02", "loso-s05"]
    assert all(len(s.validation_speakers) == 3 for s in three)
    for split in three:
        check_no_leak(table, split)


def test_loso_with_too_few_speakers_is_a_clear_error():
    with pytest.raises(ConfigError, match="at least 3 speakers"):
        make_splits(make_table({"a": 3, "b": 3}), "loso")
    with pytest.raises(ConfigError, match="not in the table"):
        make_splits(ten_speakers(), "loso", test_speakers=["zz"])



def test_loso_test_corpora_tests_only_that_corpus_and_pools_the_rest():
    """Cross-corpus LOSO (CNN-BLSTM paper): SAVEE speakers get folds, EMO-DB speakers only train or validate."""
    savee = make_table({"savee:DC": 6, "savee:JE": 6, "savee:JK": 6, "savee:KL": 6}).assign(corpus="savee")
    emodb = make_table({f"emodb:{n:02d}": 4 for n in (3, 8, 9, 10, 11)}).assign(corpus="emodb")
    table = pd.concat([savee, emodb], ignore_index=True)
    splits = make_splits(table, "loso", seed=0, validation_speakers=1, test_corpora=["savee"])
    assert [s.test_speakers for s in splits] == [["savee:DC"], ["savee:JE"], ["savee:JK"], ["savee:KL"]]
    emodb_rows = set(np.flatnonzero(table["corpus"].to_numpy() == "emodb").tolist())
    for split in splits:
        check_no_leak(table, split)
        assert not emodb_rows & set(split.test.tolist())
        assert emodb_rows <= set(split.train.tolist()) | set(split.validation.tolist())
        assert len(split.train) + len(split.validation) + len(split.test) == len(table)
    assert [s.test_speakers for s in make_splits(table, "loso", test_corpora="emodb")][0] == ["emodb:03"]
    with pytest.raises(ConfigError, match=r"test_corpora: corpus\(es\) \['tess'\] are not in the table"):
        make_splits(table, "loso", test_corpora=["tess"])
    with pytest.raises(ConfigError, match="no speaker is both"):
        make_splits(table, "loso", test_corpora=["savee"], test_speakers=["emodb:03"])


def test_cross_corpus_trains_on_one_corpus_and_tests_on_all_of_the_other():
    savee = make_table({"savee:DC": 6, "savee:JE": 6, "savee:JK": 6}).assign(corpus="savee")
    emodb = make_table({f"emodb:{n:02d}": 4 for n in (3, 8, 9, 10)}).assign(corpus="emodb")
    table = pd.concat([savee, emodb], ignore_index=True)
    (split,) = make_splits(table, "cross_corpus", seed=0, test_corpora=["emodb"], validation_speakers=1)
    check_no_leak(table, split)
    assert split.name == "to-emodb"
    assert set(table["corpus"].to_numpy()[split.test]) == {"emodb"} and len(split.test) == 16
    assert set(table["corpus"].to_numpy()[np.concatenate([split.train, split.validation])]) == {"savee"}
    assert len(split.validation_speakers) == 1
    with pytest.raises(ConfigError, match="needs the corpus"):
        make_splits(table, "cross_corpus")
    with pytest.raises(ConfigError, match="nothing trains"):
        make_splits(table, "cross_corpus", test_corpora=["emodb", "savee"])


# ------------------------------------------------------------ loso_session
def test_loso_session_holds_out_whole_sessions():
    sessions = {f"s{i}": f"Ses0{i // 2 + 1}" for i in range(10)}
    table = make_table({s: 4 for s in sessions}, sessions)
    splits = make_splits(table, "loso_session", seed=0)
    assert [s.name for s in splits] == [f"loso_session-Ses0{i}" for i in range(1, 6)]
    for split in splits:
        check_no_leak(table, split)
        assert len(split.test_speakers) == 2 and len(split.validation_speakers) == 1
        assert set(table["session"].to_numpy()[split.test]) == {split.name.split("-")[1]}
    by_session = make_splits(table, "loso_session", validation_sessions=1)
    for split in by_session:
        check_no_leak(table, split)
        assert len(set(table["session"].to_numpy()[split.validation])) == 1


def test_loso_session_refuses_a_speaker_recorded_in_two_sessions():
    sessions = {"a": "S1", "b": "S1", "c": "S2", "d": "S3"}
    table = make_table({s: 4 for s in sessions}, sessions)
    table.loc[0, "session"] = "S2"  # one recording of speaker 'a' filed under S2
    with pytest.raises(SpeakerLeakError, match="speaker 'a'"):
        make_splits(table, "loso_session")
    with pytest.raises(LabelError, match="'session'"):
        make_splits(ten_speakers(), "loso_session")


# ----------------------------------------------------------- speaker_kfold
def test_speaker_kfold_ten_speakers_gives_eight_one_one():
    table = ten_speakers()
    splits = make_splits(table, "speaker_kfold", seed=0)
    assert len(splits) == 10
    for split in splits:
        check_no_leak(table, split)
        assert (len(split.train_speakers), len(split.validation_speakers), len(split.test_speakers)) == (8, 1, 1)
    assert sorted(np.concatenate([s.test for s in splits]).tolist()) == list(range(len(table)))


def test_speaker_kfold_groups_are_balanced_and_seeded():
    table = make_table({f"s{i}": 10 for i in range(12)})
    splits = make_splits(table, "speaker_kfold", seed=3, folds=4)
    assert [len(s.test_speakers) for s in splits] == [3, 3, 3, 3]
    for split in splits:
        check_no_leak(table, split)
    assert ([s.test_speakers for s in splits]
            == [s.test_speakers for s in make_splits(table, "speaker_kfold", seed=3, folds=4)])
    with pytest.raises(ConfigError, match="folds"):
        make_splits(table, "speaker_kfold", folds=13)


# ------------------------------------------------------------------ random
def test_random_is_speaker_grouped_by_default():
    table = make_table({f"s{i:02d}": 20 for i in range(20)})
    (split,) = make_splits(table, "random", seed=0)
    check_no_leak(table, split)
    assert split.speaker_independent
    assert split.sizes() == {"train": 240, "validation": 80, "test": 80}


def test_random_utterance_split_is_an_explicit_opt_out_with_a_warning():
    table = make_table({f"s{i}": 40 for i in range(5)})
    with pytest.warns(UserWarning, match="not speakers"):
        (split,) = make_splits(table, "random", seed=0, speaker_independent=False)
    assert not split.speaker_independent
    assert split.sizes() == {"train": 120, "validation": 40, "test": 40}
    for rows in (split.train, split.validation, split.test):  # stratified: each class keeps its 25 %
        counts = table["emotion"].to_numpy()[rows]
        assert {e: int((counts == e).sum()) for e in EMOTIONS} == {e: len(rows) // 4 for e in EMOTIONS}
    assert sorted(np.concatenate([split.train, split.validation, split.test]).tolist()) == list(range(len(table)))
    with pytest.raises(ConfigError, match="ratios"):
        make_splits(table, "random", ratios=[0.5, 0.5, 0])


# ------------------------------------------------------------------- fixed
def test_fixed_uses_the_corpus_split_and_catches_leaks():
    table = make_table({"a": 3, "b": 3, "c": 3, "d": 3})
    table["split"] = table["speaker"].map({"a": "train", "b": "train", "c": "Val", "d": "test"})
    (split,) = make_splits(table, "fixed")
    check_no_leak(table, split)
    assert (split.train_speakers, split.validation_speakers, split.test_speakers) == (["a", "b"], ["c"], ["d"])
    table.loc[0, "split"] = "test"  # one recording of 'a' in the test set
    with pytest.raises(SpeakerLeakError, match="speaker 'a'"):
        make_splits(table, "fixed")


def test_fixed_without_validation_rows_draws_validation_speakers():
    table = make_table({"a": 3, "b": 3, "c": 3, "d": 3})
    table["split"] = table["speaker"].map({"a": "train", "b": "train", "c": "train", "d": "test"})
    (split,) = make_splits(table, "fixed", seed=0, validation_speakers=1)
    check_no_leak(table, split)
    assert len(split.validation_speakers) == 1 and split.test_speakers == ["d"]
    table.loc[1, "split"] = "holdout"
    with pytest.raises(LabelError, match="'holdout'"):
        make_splits(table, "fixed")
    with pytest.raises(LabelError, match="'split'"):
        make_splits(ten_speakers(), "fixed")


# ------------------------------------------------------------------ shared
def test_assert_speaker_disjoint_names_the_leaking_speaker():
    table = make_table({"a": 2, "b": 2, "c": 2})
    leaky = Split("leaky", np.array([0]), np.array([2, 3]), np.array([1, 4, 5]))
    with pytest.raises(SpeakerLeakError, match="speaker 'a' is in both train and test"):
        assert_speaker_disjoint(table, leaky)
    shared_row = Split("rows", np.array([0, 1]), np.array([2, 3]), np.array([1, 4, 5]))
    with pytest.raises(SpeakerLeakError, match="/c/a_1.wav"):
        assert_speaker_disjoint(table, shared_row)


def test_protocol_errors_name_the_problem():
    table = ten_speakers()
    with pytest.raises(ConfigError, match="unknown protocol 'lolo'"):
        make_splits(table, "lolo")
    with pytest.raises(ConfigError, match=r"\['ratios'\].*'loso'"):
        make_splits(table, "loso", ratios=[0.6, 0.2, 0.2])
    with pytest.raises(ConfigError, match="always speaker independent"):
        make_splits(table, "loso", speaker_independent=False)
    with pytest.raises(ConfigError, match="empty"):
        make_splits(table.iloc[:0], "loso")
    assert len(make_splits(table, "speaker-kfold")) == 10  # hyphenated names work too


def test_defaults_from_recipes_are_accepted_by_every_protocol():
    table = make_table({f"s{i}": 4 for i in range(6)}, {f"s{i}": f"S{i // 2}" for i in range(6)})
    table["split"] = ["train"] * 12 + ["validation"] * 4 + ["test"] * 8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for protocol in ("loso", "loso_session", "speaker_kfold", "random", "fixed"):
            for split in make_splits(table, protocol, seed=0, validation_speakers=1):
                check_no_leak(table, split)


def test_speaker_identity_is_train_only_under_speaker_independent_protocols():
    from emomtl.models.tasks import TaskSpec

    tasks = [TaskSpec("emotion"), TaskSpec("speaker", column="speaker"), TaskSpec("gender")]
    marked = evaluable_tasks("loso", tasks)
    assert [t.auxiliary for t in marked] == [False, True, False]
    assert tasks[1].auxiliary is False  # the input list is not changed
    assert [t.auxiliary for t in evaluable_tasks("random", tasks, speaker_independent=False)] == [False, False, False]
    as_dicts = evaluable_tasks("loso_session", [{"name": "session"}, {"name": "emotion"}])
    assert [t.get("auxiliary", False) for t in as_dicts] == [True, False]


# ---------------------------------------------------------------- property
@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=1, max_value=6), min_size=3, max_size=12),
    protocol=st.sampled_from(["loso", "speaker_kfold"]),
    seed=st.integers(min_value=0, max_value=10_000),
    data=st.data(),
)
def test_no_speaker_in_two_parts_and_every_row_tested_once(counts, protocol, seed, data):
    table = (make_table({f"spk{i}": n for i, n in enumerate(counts)})
             .sample(frac=1.0, random_state=seed).reset_index(drop=True))
    options = {}
    if protocol == "speaker_kfold":
        folds = data.draw(st.integers(min_value=2, max_value=len(counts)), label="folds")
        assume(len(counts) - -(-len(counts) // folds) >= 2)  # one validation + one training speaker left
        options["folds"] = folds
    splits = make_splits(table, protocol, seed=seed, **options)
    for split in splits:
        check_no_leak(table, split)
    tested = np.concatenate([s.test for s in splits])
    assert sorted(tested.tolist()) == list(range(len(table)))
