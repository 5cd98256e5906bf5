"""A cross-validation over a folder with one file of every audio fault completes and reports what it skipped.

The per-file behaviour (each fault loaded, repaired or refused) is tested in ``tests/data/test_audio.py``,
``tests/features/test_extract.py`` and ``tests/data/test_corpus_checks.py``; here the whole ``emomtl cv`` command
runs over such a folder: good files in odd formats train and are tested (repairs warn, naming the file), every bad
file lands in ``skipped.csv`` with its path and reason, and the run finishes with one result per fold.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pandas as pd

from emomtl.cli.main import main as emomtl_main
from emomtl.data.audio import AudioWarning
from robustness_support import messy_folder, unreadable, write_recipe


def test_a_cv_run_over_a_messy_folder_completes_and_reports_every_skipped_file(make_raw_recipe, demo_root: Path,
                                                                               tmp_path: Path) -> None:
    manifest, good, bad = messy_folder(demo_root, tmp_path / "my corpus – données d'émotion")
    raw = make_raw_recipe({"data": {"corpus": "manifest", "root": str(manifest), "cache_dir": str(tmp_path / "cache")},
                           "train": {"epochs": 2}})
    raw["data"]["options"] = {}
    recipe = write_recipe(raw, tmp_path / "recipe.yaml")
    out = tmp_path / "run"
    with unreadable(manifest.parent / "locked.wav"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = emomtl_main(["cv", str(recipe), "--out", str(out), "--quiet", "--no-report"])
    assert code == 0
    repaired = [str(w.message) for w in caught if issubclass(w.category, AudioWarning)]
    assert any("nan.wav" in m and "non-finite" in m for m in repaired), repaired
    assert any("silence.wav" in m and "silent" in m for m in repaired), repaired

    skipped = pd.read_csv(out / "skipped.csv")
    assert sorted(skipped["path"]) == sorted(bad), "each bad file is reported once, no good file is"
    for path, reason in zip(skipped["path"], skipped["reason"]):
        assert bad[path] in reason, (path, reason)

    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4 and all(math.isfinite(v) for v in results["score"])
    tested = pd.concat([pd.read_csv(p) for p in sorted(out.glob("runs/*/*/predictions.csv"))])
    assert sorted(tested["path"]) == sorted(good), "every good file (odd formats included) is tested exactly once"
