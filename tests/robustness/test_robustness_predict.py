"""``emomtl predict``: a folder with bad files gives one row per file (bad ones with their reason) and goes on;
a 10-minute recording is cut into training-length windows and gives one row.

Peak memory of long recordings is measured by ``benchmarks/predict_memory.py``, not asserted here.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import emomtl.runtime.bundle as bundle_module  # builds the recognizer's models
from emomtl.cli.main import main as emomtl_main
from robustness_support import messy_folder, tiny_trial, unreadable, voice, write_audio

CLASSES = ["anger", "happiness", "neutral", "sadness"]


@pytest.fixture(scope="module")
def checkpoint(demo_root: Path, shared_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("predict") / "run"
    tiny_trial(demo_root, shared_cache, epochs=1).train(out)
    return out / "checkpoint_best.pt"


def check_good_row(row: pd.Series) -> None:
    assert pd.isna(row["error"]), row["error"]
    assert row["emotion"] in CLASSES and row["gender"] in ("female", "male")
    probabilities = [row[f"emotion.prob.{c}"] for c in CLASSES]
    assert all(math.isfinite(p) for p in probabilities) and sum(probabilities) == pytest.approx(1.0, abs=1e-5)
    assert all(0.0 <= row[f"va.{c}"] <= 1.0 for c in ("valence", "arousal"))


def test_predict_over_a_folder_with_bad_files_reports_each_in_its_own_row(
        checkpoint: Path, demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest, good, bad = messy_folder(demo_root, tmp_path / "recordings – émotions")
    folder = manifest.parent
    bad[str(folder / "loop b.wav")] = "symbolic link loop"  # found in the folder too
    out = tmp_path / "predictions.csv"
    with unreadable(folder / "locked.wav"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the NaN and silent files warn, by design
        code = emomtl_main(["predict", str(checkpoint), str(folder), str(folder / "missing.wav"), "-o", str(out),
                            "--quiet"])
    assert code == 0
    assert f"{len(bad)} of {len(good) + len(bad)} file(s) failed" in capsys.readouterr().err

    table = pd.read_csv(out, index_col="file")
    assert sorted(table.index) == sorted(good + list(bad)), "one row per file, good or bad"
    for path, phrase in bad.items():
        error = table.loc[path, "error"]
        assert isinstance(error, str) and phrase in error and path in error, (path, error)
    for path in good:
        check_good_row(table.loc[path])


def test_a_ten_minute_recording_is_predicted_in_windows(checkpoint: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    minutes = 10
    second = voice(1.0, seed=1)
    long_file = write_audio(tmp_path / "ten minutes.wav", np.tile(second, 60 * minutes), 16000, "PCM_16")

    batches: list[tuple[int, ...]] = []
    real_build = bundle_module.build_model

    def build_model(*args: Any, **kwargs: Any) -> Any:
        model = real_build(*args, **kwargs)
        forward = model.forward

        def recording_forward(inputs: dict[str, Any]) -> Any:
            batches.append(tuple(inputs["logmel"].shape))
            return forward(inputs)

        model.forward = recording_forward
        return model

    monkeypatch.setattr(bundle_module, "build_model", build_model)
    out = tmp_path / "long.json"
    assert emomtl_main(["predict", str(checkpoint), str(long_file), "-o", str(out), "--quiet"]) == 0

    table = pd.read_json(out)
    assert len(table) == 1 and table.loc[0, "file"] == str(long_file)
    check_good_row(table.loc[0])
    frames = 60 * minutes * 16000 // 160
    length, hop = 80, 40  # inputs.logmel.length and its default hop (half a window)
    assert {shape[-1] for shape in batches} == {length}, "every window has the training length"
    assert max(shape[0] for shape in batches) <= 64, "windows go through the model in bounded batches"
    windows = sum(shape[0] for shape in batches)
    assert windows >= (frames - length) // hop, "the windows cover the whole recording"
