"""Evaluation protocols: train / validation / test splits that never share a speaker.

``make_splits(table, protocol, seed, **options)`` returns a list of :class:`Split` (row positions
into ``table``). Protocols:

- ``loso``: leave one speaker out; ``validation_speakers`` (default 1) are drawn from the training
  speakers; ``test_speakers`` restricts which speakers get a fold, ``test_corpora`` gives folds only to
  the speakers of those corpora (pooled corpora: the others always train or validate).
- ``loso_session``: leave one ``session`` out; validation as for ``loso`` (or whole sessions with
  ``validation_sessions``).
- ``speaker_kfold``: speakers in ``folds`` groups (default ``min(10, speakers)``), one group tested
  per fold, ``validation_speakers`` drawn from the rest: 10 speakers give 8 / 1 / 1.
- ``random``: ``ratios`` (default 6:2:2) by speaker groups; ``speaker_independent: false`` splits
  utterances stratified by ``stratify`` (default ``emotion``) instead, with a warning: the same
  speakers then appear in train and test.
- ``fixed``: the corpus's own ``split`` column; when it has no validation rows,
  ``validation_speakers`` are drawn from the training speakers.

Every speaker-independent split is checked by :func:`assert_speaker_disjoint`; the same seed always
gives the same splits.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from emomtl.errors import ConfigError, LabelError, SpeakerLeakError

PARTS = ("train", "validation", "test")
FIXED_SPLIT_NAMES = {
    "train": "train", "training": "train",
    "validation": "validation", "val": "validation", "valid": "validation", "dev": "validation",
    "development": "validation",
    "test": "test", "eval": "test", "evaluation": "test",
}


@dataclass
class Split:
    """One fold: row positions of each part (into the table it was made from) and their speakers."""

    name: str
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    train_speakers: list[str] = field(default_factory=list)
    validation_speakers: list[str] = field(default_factory=list)
    test_speakers: list[str] = field(default_factory=list)
    protocol: str = ""
    speaker_independent: bool = True

    def sizes(self) -> dict[str, int]:
        return {part: int(len(getattr(self, part))) for part in PARTS}

    def summary(self) -> dict[str, Any]:
        """Sizes and speakers, JSON-ready."""
        return {
            "name": self.name,
            "protocol": self.protocol,
            "speaker_independent": self.speaker_independent,
            **self.sizes(),
            **{f"{part}_speakers": list(getattr(self, f"{part}_speakers")) for part in PARTS},
        }


# ----------------------------------------------------------------- checks
def _speakers(table: pd.DataFrame) -> np.ndarray:
    if "speaker" not in table.columns:
        raise LabelError("column 'speaker' is missing: protocols need a speaker for every row")
    if table["speaker"].isna().any():
        raise LabelError(f"column 'speaker' is missing for {int(table['speaker'].isna().sum())} row(s)")
    return table["speaker"].astype(str).to_numpy()


def assert_speaker_disjoint(table: pd.DataFrame, split: Split) -> None:
    """:class:`SpeakerLeakError` naming the speaker (or row) found in two parts of ``split``."""
    speakers = _speakers(table)
    rows = {part: np.asarray(getattr(split, part), dtype=np.int64) for part in PARTS}
    for first, second in combinations(PARTS, 2):
        shared_rows = np.intersect1d(rows[first], rows[second])
        if len(shared_rows):
            path = table["path"].iloc[int(shared_rows[0])] if "path" in table.columns else int(shared_rows[0])
            raise SpeakerLeakError(f"split {split.name!r}: row {path} is in both {first} and {second}")
        shared = sorted(set(speakers[rows[first]]) & set(speakers[rows[second]]))
        if shared:
            raise SpeakerLeakError(
                f"split {split.name!r}: speaker {shared[0]!r} is in both {first} and {second}"
                + (f" (and {len(shared) - 1} more)" if len(shared) > 1 else "")
            )


def _build(table: pd.DataFrame, name: str, protocol: str, parts: dict[str, np.ndarray],
           speaker_independent: bool = True, allow_empty_validation: bool = False) -> Split:
    """A :class:`Split` from boolean masks or row positions, checked for emptiness and leaks."""
    speakers = _speakers(table)
    rows = {}
    for part in PARTS:
        value = np.asarray(parts[part])
        rows[part] = np.flatnonzero(value) if value.dtype == bool else np.sort(value.astype(np.int64))
        if len(rows[part]) == 0 and not (part == "validation" and allow_empty_validation):
            raise ConfigError(f"protocol {protocol!r}: the {part} part of split {name!r} is empty; "
                              "the table has too few speakers (or rows) for this protocol and its options")
    split = Split(
        name, rows["train"], rows["validation"], rows["test"],
        *(sorted(set(speakers[rows[part]])) for part in PARTS),
        protocol=protocol, speaker_independent=speaker_independent,
    )
    if speaker_independent:
        assert_speaker_disjoint(table, split)
    return split


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *keys])


def _draw(candidates: Sequence[str], count: int, rng: np.random.Generator) -> list[str]:
    if count <= 0:
        return []
    return sorted(rng.choice(np.array(sorted(candidates), dtype=object), size=count, replace=False).tolist())


def _check_count(protocol: str, option: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"protocol.{option}: expected an integer >= {minimum} for {protocol!r}, got {value!r}")
    return int(value)


def _held_out(table: pd.DataFrame, protocol: str, name: str, test: np.ndarray, candidates: list[str],
              validation_speakers: int, rng: np.random.Generator) -> Split:
    """Test rows given; validation speakers drawn from ``candidates``, the rest trains."""
    speakers = _speakers(table)
    if validation_speakers >= len(candidates):
        raise ConfigError(
            f"protocol {protocol!r}: split {name!r} has {len(candidates)} non-test speaker(s), too few for "
            f"{validation_speakers} validation speaker(s) and at least one training speaker"
        )
    test = np.asarray(test, dtype=bool)
    validation = np.isin(speakers, _draw(candidates, validation_speakers, rng)) & ~test
    train = np.isin(speakers, candidates) & ~validation & ~test
    return _build(table, name, protocol, {"train": train, "validation": validation, "test": test},
                  allow_empty_validation=validation_speakers == 0)


# ---------------------------------------------------------------- protocols
def _corpus_speakers(table: pd.DataFrame, corpora: Iterable[str] | str) -> list[str]:
    """The speakers of the rows of ``corpora`` (``protocol.test_corpora``); unknown corpus names fail."""
    wanted = {str(c) for c in ([corpora] if isinstance(corpora, str) else corpora)}
    if "corpus" not in table.columns or table["corpus"].isna().all():
        raise LabelError("column 'corpus' is missing: protocol.test_corpora needs it")
    present = set(table["corpus"].dropna().astype(str))
    unknown = sorted(wanted - present)
    if unknown:
        raise ConfigError(f"protocol.test_corpora: corpus(es) {unknown} are not in the table; "
                          f"present: {sorted(present)}")
    rows = table["corpus"].astype(str).isin(wanted).to_numpy()
    return sorted(set(_speakers(table)[rows]))


def _loso(table: pd.DataFrame, seed: int, validation_speakers: int = 1,
          test_speakers: Iterable[str] | None = None, test_corpora: Iterable[str] | None = None) -> list[Split]:
    speakers = _speakers(table)
    everyone = sorted(set(speakers))
    count = _check_count("loso", "validation_speakers", validation_speakers)
    if isinstance(test_speakers, str):
        test_speakers = [test_speakers]
    tested = everyone if test_speakers is None else sorted({str(s) for s in test_speakers})
    unknown = sorted(set(tested) - set(everyone))
    if unknown:
        raise ConfigError(f"protocol.test_speakers: speaker(s) {unknown} are not in the table")
    if test_corpora is not None:
        tested = sorted(set(tested) & set(_corpus_speakers(table, test_corpora)))
        if not tested:
            raise ConfigError("protocol.test_corpora: no speaker is both in those corpora "
                              "and in protocol.test_speakers")
    if len(everyone) < count + 2:
        raise ConfigError(f"protocol 'loso' needs at least {count + 2} speakers (1 test, {count} validation, "
                          f"1 train); the table has {len(everyone)}")
    splits = []
    for k, speaker in enumerate(everyone):
        if speaker not in tested:
            continue
        others = [s for s in everyone if s != speaker]
        splits.append(_held_out(table, "loso", f"loso-{speaker}", speakers == speaker, others, count, _rng(seed, k)))
    return splits


def _loso_session(table: pd.DataFrame, seed: int, validation_speakers: int = 1,
                  validation_sessions: int = 0) -> list[Split]:
    if "session" not in table.columns or table["session"].isna().all():
        raise LabelError("column 'session' is missing or empty: protocol 'loso_session' needs it")
    if table["session"].isna().any():
        raise LabelError(f"column 'session' is missing for {int(table['session'].isna().sum())} row(s)")
    speakers, sessions = _speakers(table), table["session"].astype(str).to_numpy()
    names = sorted(set(sessions))
    n_val_speakers = _check_count("loso_session", "validation_speakers", validation_speakers)
    n_val_sessions = _check_count("loso_session", "validation_sessions", validation_sessions)
    if len(names) < 2 + (n_val_sessions > 0):
        raise ConfigError(f"protocol 'loso_session' needs at least {2 + (n_val_sessions > 0)} sessions; "
                          f"the table has {len(names)}")
    splits = []
    for k, session in enumerate(names):
        test = sessions == session
        name = f"loso_session-{session}"
        if n_val_sessions:
            others = [s for s in names if s != session]
            if n_val_sessions >= len(others):
                raise ConfigError(f"protocol.validation_sessions: {n_val_sessions} leaves no training session")
            validation = np.isin(sessions, _draw(others, n_val_sessions, _rng(seed, k)))
            splits.append(_build(table, name, "loso_session",
                                 {"train": ~test & ~validation, "validation": validation, "test": test}))
        else:
            candidates = sorted(set(speakers[~test]))
            splits.append(_held_out(table, "loso_session", name, test, candidates, n_val_speakers, _rng(seed, k)))
    return splits


def speaker_groups(table: pd.DataFrame, folds: int, seed: int) -> list[list[str]]:
    """Speakers dealt into ``folds`` groups: sizes differ by at most one, row counts roughly even.

    Speakers are shuffled (seeded), sorted by row count (largest first, the shuffle breaking ties)
    and dealt back and forth over the groups.
    """
    counts = pd.Series(_speakers(table)).value_counts()
    order = list(_rng(seed).permutation(sorted(counts.index)))
    order.sort(key=lambda s: -counts[s])  # stable: the shuffled order breaks ties
    groups: list[list[str]] = [[] for _ in range(folds)]
    for position, speaker in enumerate(order):
        lap, offset = divmod(position, folds)
        groups[offset if lap % 2 == 0 else folds - 1 - offset].append(speaker)
    return [sorted(g) for g in groups]


def _speaker_kfold(table: pd.DataFrame, seed: int, folds: int | None = None,
                   validation_speakers: int = 1) -> list[Split]:
    speakers = _speakers(table)
    everyone = sorted(set(speakers))
    count = _check_count("speaker_kfold", "validation_speakers", validation_speakers)
    folds = min(10, len(everyone)) if folds is None else _check_count("speaker_kfold", "folds", folds, 2)
    if folds > len(everyone):
        raise ConfigError(f"protocol.folds: {folds} folds need at least {folds} speakers; "
                          f"the table has {len(everyone)}")
    splits = []
    for k, group in enumerate(speaker_groups(table, folds, seed)):
        others = [s for s in everyone if s not in group]
        name = f"fold{k + 1}"
        splits.append(_held_out(table, "speaker_kfold", name, np.isin(speakers, group), others, count, _rng(seed, k)))
    return splits


def _ratios(value: Sequence[float]) -> np.ndarray:
    ratios = np.asarray(value, dtype=float)
    if ratios.shape != (3,) or (ratios < 0).any() or ratios.sum() <= 0 or ratios[0] <= 0 or ratios[2] <= 0:
        raise ConfigError("protocol.ratios: expected [train, validation, test] with train and test > 0, "
                          f"got {list(value)}")
    return ratios / ratios.sum()


def _assign_speakers(order: list[str], counts: pd.Series, ratios: np.ndarray) -> dict[str, list[str]]:
    """Greedy: each speaker to the part furthest below its share of rows, every active part non-empty."""
    assigned: dict[str, list[str]] = {part: [] for part in PARTS}
    totals = np.zeros(3)
    active = [i for i in range(3) if ratios[i] > 0]
    total = float(counts.sum())
    for position, speaker in enumerate(order):
        empty = [i for i in active if not assigned[PARTS[i]]]
        if empty and len(order) - position <= len(empty):
            target = empty[0]
        else:
            deficit = ratios * total - totals
            target = max(active, key=lambda i: (deficit[i], -i))
        assigned[PARTS[target]].append(speaker)
        totals[target] += counts[speaker]
    return assigned


def _grouped_random(table: pd.DataFrame, seed: int, ratios: np.ndarray, attempts: int = 64) -> Split:
    """Whole speakers to each part; of ``attempts`` seeded speaker orders, the one closest to ``ratios``."""
    speakers = _speakers(table)
    counts = pd.Series(speakers).value_counts()
    needed = int((ratios > 0).sum())
    if len(counts) < needed:
        raise ConfigError(f"protocol 'random' (speaker independent) needs at least {needed} speakers; the table has "
                          f"{len(counts)} (set speaker_independent: false to split utterances instead)")
    rng = _rng(seed)
    best, best_error = None, np.inf
    for _ in range(attempts):
        assigned = _assign_speakers(list(rng.permutation(sorted(counts.index))), counts, ratios)
        shares = np.array([counts[assigned[p]].sum() for p in PARTS]) / counts.sum()
        error = float(((shares - ratios) ** 2).sum())
        if error < best_error:
            best, best_error = assigned, error
    masks = {part: np.isin(speakers, best[part]) for part in PARTS}
    return _build(table, "random", "random", masks, allow_empty_validation=ratios[1] == 0)


def _utterance_random(table: pd.DataFrame, seed: int, ratios: np.ndarray, stratify: str | None) -> Split:
    """Rows split per class of ``stratify``; speakers are shared between parts."""
    warnings.warn(
        "protocol 'random' with speaker_independent: false splits utterances, not speakers: the same speakers are "
        "in train, validation and test, so scores are optimistic and not comparable to speaker-independent ones",
        UserWarning, stacklevel=4,
    )
    if stratify and stratify not in table.columns:
        raise LabelError(f"protocol.stratify: column {stratify!r} is not in the corpus table")
    if stratify:
        codes = table[stratify].astype(object).where(table[stratify].notna(), "<missing>").astype(str).to_numpy()
    else:
        codes = np.zeros(len(table), dtype=str)
    rng = _rng(seed)
    parts: dict[str, list[int]] = {part: [] for part in PARTS}
    for value in sorted(set(codes)):
        rows = rng.permutation(np.flatnonzero(codes == value))
        n_train = int(round(ratios[0] * len(rows)))
        n_val = int(round(ratios[1] * len(rows)))
        parts["train"].extend(rows[:n_train])
        parts["validation"].extend(rows[n_train:n_train + n_val])
        parts["test"].extend(rows[n_train + n_val:])
    return _build(table, "random", "random", {p: np.array(v, dtype=np.int64) for p, v in parts.items()},
                  speaker_independent=False, allow_empty_validation=ratios[1] == 0)


def _random(table: pd.DataFrame, seed: int, ratios: Sequence[float] = (0.6, 0.2, 0.2),
            speaker_independent: bool = True, stratify: str | None = "emotion",
            validation_speakers: int | None = None) -> list[Split]:
    """``validation_speakers`` is accepted for recipe compatibility; ``ratios`` decide the validation share."""
    shares = _ratios(ratios)
    if speaker_independent:
        return [_grouped_random(table, seed, shares)]
    return [_utterance_random(table, seed, shares, stratify)]


def _fixed(table: pd.DataFrame, seed: int, column: str = "split", validation_speakers: int = 1,
           speaker_independent: bool = True) -> list[Split]:
    if column not in table.columns or table[column].isna().all():
        raise LabelError(f"column {column!r} is missing or empty: protocol 'fixed' needs the corpus's own split")
    labels = table[column].astype(object).map(
        lambda v: FIXED_SPLIT_NAMES.get(str(v).strip().lower()) if pd.notna(v) else None
    )
    bad = labels.isna()
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        where = table["path"].iloc[first] if "path" in table.columns else f"row {first}"
        raise LabelError(f"column {column!r}: value {table[column].iloc[first]!r} of {where} "
                         "is not train/validation/test "
                         f"({int(bad.sum())} row(s) affected)")
    if not speaker_independent:
        warnings.warn("protocol 'fixed': speaker_independent: false, speakers shared between parts are not checked",
                      UserWarning, stacklevel=3)
    masks = {part: (labels == part).to_numpy() for part in PARTS}
    if not masks["validation"].any():
        speakers = _speakers(table)
        count = _check_count("fixed", "validation_speakers", validation_speakers)
        candidates = sorted(set(speakers[masks["train"]]))
        if count >= len(candidates):
            raise ConfigError(f"protocol 'fixed': the {column!r} column has no validation rows "
                              f"and the {len(candidates)} "
                              f"training speaker(s) cannot spare {count} validation speaker(s)")
        drawn = np.isin(speakers, _draw(candidates, count, _rng(seed))) & masks["train"]
        masks = {"train": masks["train"] & ~drawn, "validation": drawn, "test": masks["test"]}
    return [_build(table, "fixed", "fixed", masks, speaker_independent=speaker_independent)]


def _cross_corpus(table: pd.DataFrame, seed: int, test_corpora: Iterable[str] | str | None = None,
                  validation_speakers: int = 2) -> list[Split]:
    """One split: every row of ``test_corpora`` is tested; the other corpora train, with ``validation_speakers``
    of their speakers drawn for validation (cross-corpus evaluation over shared labels)."""
    if test_corpora is None:
        raise ConfigError("protocol.test_corpora: 'cross_corpus' needs the corpus (or corpora) to test on")
    count = _check_count("cross_corpus", "validation_speakers", validation_speakers)
    tested = _corpus_speakers(table, test_corpora)
    speakers = _speakers(table)
    others = sorted(set(speakers) - set(tested))
    if not others:
        raise ConfigError("protocol.test_corpora: every corpus of the table is a test corpus; nothing trains")
    names = "+".join(sorted({str(c) for c in ([test_corpora] if isinstance(test_corpora, str) else test_corpora)}))
    return [_held_out(table, "cross_corpus", f"to-{names}", np.isin(speakers, tested), others, count, _rng(seed))]


PROTOCOLS: dict[str, Callable[..., list[Split]]] = {
    "loso": _loso,
    "cross_corpus": _cross_corpus,
    "loso_session": _loso_session,
    "speaker_kfold": _speaker_kfold,
    "random": _random,
    "fixed": _fixed,
}
ALIASES = {"leave_one_speaker_out": "loso", "leave_one_session_out": "loso_session", "kfold": "speaker_kfold"}


def available_protocols() -> list[str]:
    return sorted(PROTOCOLS)


def resolve_protocol(name: str) -> str:
    """The canonical protocol name (``loso-session`` -> ``loso_session``); :class:`ConfigError` if unknown."""
    key = str(name).strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in PROTOCOLS:
        raise ConfigError(f"protocol.name: unknown protocol {name!r}; available: {', '.join(available_protocols())}")
    return key


def _check_options(protocol: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options, or :class:`ConfigError` naming those ``protocol`` does not take."""
    parameters = inspect.signature(PROTOCOLS[protocol]).parameters
    valid = sorted(n for n in parameters if n not in ("table", "seed"))
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"protocol: option(s) {unknown} do not apply to {protocol!r}; valid: {valid}")
    return options


def make_splits(table: pd.DataFrame, protocol: str, seed: int = 0, **options: Any) -> list[Split]:
    """The splits of ``protocol`` over ``table`` (row positions); same seed, same splits."""
    key = resolve_protocol(protocol)
    if len(table) == 0:
        raise ConfigError(f"protocol {key!r}: the corpus table is empty")
    options = {k: v for k, v in options.items() if v is not None}
    if key in ("loso", "loso_session", "speaker_kfold"):
        speaker_independent = options.pop("speaker_independent", True)
        if speaker_independent is not True:
            raise ConfigError(f"protocol.speaker_independent: {key!r} is always speaker independent")
    return PROTOCOLS[key](table, int(seed), **_check_options(key, options))


def is_speaker_independent(protocol: str, **options: Any) -> bool:
    """Whether ``protocol`` with ``options`` keeps every speaker in one part."""
    key = resolve_protocol(protocol)
    return key not in ("random", "fixed") or options.get("speaker_independent", True) is not False


#: Columns whose values are held out whole by each protocol: they cannot be scored on test data.
GROUPING_COLUMNS = {
    "loso": ("speaker",),
    "loso_session": ("speaker", "session"),
    "speaker_kfold": ("speaker",),
    "random": ("speaker",),
    "fixed": ("speaker",),
}


def evaluable_tasks(protocol: str, tasks: Sequence[Any], speaker_independent: bool = True) -> list[Any]:
    """The tasks, with those predicting a held-out grouping (speaker identity) marked train-only.

    Under a speaker-independent protocol the test speakers are never seen in training, so a
    speaker-identity head cannot be scored: it is kept as an auxiliary task (``auxiliary=True``).
    Tasks are :class:`~emomtl.models.tasks.TaskSpec` objects or dicts with a ``column``/``columns``.
    """
    key = resolve_protocol(protocol)
    if not is_speaker_independent(key, speaker_independent=speaker_independent):
        return list(tasks)
    held_out = set(GROUPING_COLUMNS[key])
    result = []
    for task in tasks:
        if isinstance(task, dict):
            columns = set(task.get("columns") or [task.get("column") or task.get("name")])
            result.append({**task, "auxiliary": True} if columns & held_out else task)
        else:
            columns = set(task.label_columns)
            result.append(dataclasses.replace(task, auxiliary=True) if columns & held_out else task)
    return result
