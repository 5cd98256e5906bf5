"""Recognizer and ``emomtl predict``: file and signal input agree; bad files get their own row."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emomtl.cli.main import main
from emomtl.inference import Recognizer
from emomtl.training.experiment import build_splits
from emomtl.training.loop import SplitJob, train_split
from emomtl.training.prepare import fit_tasks, prepare_corpus


@pytest.fixture
def trained(recipe, tmp_path):
    recipe["tasks"].append({"name": "va", "kind": "multi_regression", "columns": ["valence", "arousal"],
                            "loss": "ccc", "activation": "sigmoid"})
    recipe["train"]["epochs"] = 1
    prepared = prepare_corpus(recipe, progress=False)
    tasks = fit_tasks(recipe, prepared.table)
    split = build_splits(recipe, prepared.table)[0]
    train_split(SplitJob(recipe, tasks, prepared, split, {"name": "static"}, 0, tmp_path / "run"), resume=False)
    return tmp_path / "run" / "checkpoint_best.pt", prepared.table


def test_process_file_equals_process_signal(trained, tmp_path):
    checkpoint, table = trained
    recognizer = Recognizer.from_checkpoint(checkpoint)
    path = tmp_path / "stereo_44k.wav"
    mono, rate = sf.read(table["path"].iloc[0], dtype="float32")
    import librosa

    stereo = np.stack([librosa.resample(mono, orig_sr=rate, target_sr=44100)] * 2, axis=1)
    sf.write(path, stereo, 44100, subtype="FLOAT")
    from_file = recognizer.process_file(path)
    signal, file_rate = sf.read(path, dtype="float32", always_2d=True)
    from_signal = recognizer.process_signal(signal.T, file_rate)
    assert list(from_file.columns) == list(from_signal.columns)
    np.testing.assert_allclose(from_file.select_dtypes("number").to_numpy(),
                               from_signal.select_dtypes("number").to_numpy(), rtol=0, atol=1e-6)
    assert from_file["emotion"].iloc[0] == from_signal["emotion"].iloc[0]
    assert {"emotion", "gender", "va.valence", "va.arousal"} <= set(from_file.columns)
    probabilities = from_file.filter(like="emotion.prob.").to_numpy()
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_long_recording_is_processed_in_windows(trained):
    checkpoint, table = trained
    recognizer = Recognizer.from_checkpoint(checkpoint)
    signal = np.tile(sf.read(table["path"].iloc[0], dtype="float32")[0], 60)  # ~40 s
    row = recognizer.process_signal(signal, 16000)
    assert len(row) == 1 and np.isfinite(row.select_dtypes("number").to_numpy()).all()


def test_predict_cli_reports_bad_files_in_their_own_row(trained, tmp_path, capsys):
    checkpoint, table = trained
    folder = tmp_path / "inbox"
    folder.mkdir()
    for i, source in enumerate(table["path"].iloc[:2]):
        (folder / f"good_{i}.wav").write_bytes(open(source, "rb").read())
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00")
    (folder / "empty.wav").write_bytes(b"")
    out = tmp_path / "predictions.json"
    assert main(["predict", str(checkpoint), str(folder), "-o", str(out), "--quiet"]) == 0
    rows = pd.DataFrame(json.loads(out.read_text())).set_index("file")
    assert len(rows) == 4
    bad = rows[rows["error"].notna()]
    assert sorted(p.rsplit("/", 1)[1] for p in bad.index) == ["broken.wav", "empty.wav"]
    assert rows.loc[rows["error"].isna(), "emotion"].notna().all()
    assert "2 of 4 file(s) failed" in capsys.readouterr().err


def test_predict_refuses_a_non_checkpoint(tmp_path, capsys):
    fake = tmp_path / "model.pt"
    fake.write_bytes(b"not a checkpoint")
    assert main(["predict", str(fake), str(tmp_path)]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
