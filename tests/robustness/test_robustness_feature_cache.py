"""Damaged feature-cache entries are detected during a run, recomputed, and the run's result does not change.

``tests/features/test_cache.py`` checks ``FeatureCache`` alone; here the entries of a real run's cache are
damaged between two runs of the same recipe (torn by a kill or a crash: empty, truncated, header only, or
overwritten by other bytes, plus a temporary file a killed writer left behind) and the second run must warn,
rewrite them and reproduce the first run exactly.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from emomtl.features.cache import CacheWarning
from emomtl.training.experiment import run_experiment
from robustness_support import assert_same_run

DAMAGE = {
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "header only": lambda data: data[:128],
    "other bytes": lambda data: bytes(reversed(data)),
    "zeros": lambda data: bytes(len(data)),
}


def test_damaged_cache_entries_are_recomputed_during_a_run(make_recipe, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    recipe = make_recipe({"data": {"cache_dir": str(cache)}, "train": {"epochs": 2, "max_folds": 1}})
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # the first run finds no damage
        run_experiment(recipe, tmp_path / "first")
    entries = sorted(cache.rglob("*.npy"))
    assert len(entries) == 32
    originals = {entry: entry.read_bytes() for entry in entries}
    damaged = dict(zip(entries[::5], DAMAGE))
    for entry, kind in damaged.items():
        entry.write_bytes(DAMAGE[kind](originals[entry]))
    leftover = entries[1].with_name(f".{entries[1].name}.killed.tmp")
    leftover.write_bytes(originals[entries[1]][:100])

    with pytest.warns(CacheWarning) as caught:
        run_experiment(recipe, tmp_path / "second")
    warned = " ".join(str(w.message) for w in caught)
    for entry in damaged:
        assert str(entry) in warned, f"{damaged[entry]} entry not detected"
    for entry, data in originals.items():
        assert entry.read_bytes() == data, "every damaged entry was rewritten with the same features"
        np.load(entry)
    (first,) = (tmp_path / "first").glob("runs/*/*_seed0")
    (second,) = (tmp_path / "second").glob("runs/*/*_seed0")
    assert_same_run(first, second)
