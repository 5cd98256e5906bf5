"""Recognizer.process_files: parallel extraction, batched prediction, per-speaker statistics, ensembles."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from emomtl.errors import ConfigError
from emomtl.inference import Recognizer
from emomtl.inference.extraction import file_features
from emomtl.runtime.predict import predict_outputs

LOGGER = "emomtl.inference.recognizer"


def with_bad_files(table: pd.DataFrame, folder: Path, count: int = 6) -> list[str]:
    """``count`` good files with a broken and an empty one in between."""
    folder.mkdir(exist_ok=True)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00")
    (folder / "empty.wav").write_bytes(b"")
    good = table["path"].iloc[:count].tolist()
    return [good[0], str(folder / "broken.wav"), *good[1:3], str(folder / "empty.wav"), *good[3:]]


def test_two_workers_give_the_same_table_as_one(plain, tmp_path):
    checkpoint, table = plain
    recognizer = Recognizer.from_checkpoint(checkpoint)
    paths = with_bad_files(table, tmp_path)
    serial = recognizer.process_files(paths, workers=1)
    parallel = recognizer.process_files(paths, workers=2)
    pd.testing.assert_frame_equal(serial, parallel, check_exact=False, rtol=0, atol=1e-6)
    assert list(serial.index) == paths
    assert serial["error"].notna().tolist() == [False, True, False, False, True, False, False, False]
    assert "empty file" in serial.loc[str(tmp_path / "empty.wav"), "error"]
    assert serial.loc[serial["error"].isna(), "emotion"].notna().all()


def test_batched_rows_equal_one_file_at_a_time(plain, monkeypatch):
    checkpoint, table = plain
    recognizer = Recognizer.from_checkpoint(checkpoint)
    paths = table["path"].iloc[:10].tolist()
    calls = []
    forward = recognizer.model.forward
    monkeypatch.setattr(recognizer.model, "forward", lambda inputs: calls.append(1) or forward(inputs))
    batched = recognizer.process_files(paths)
    assert len(calls) < len(paths), "files share forward passes"
    single = pd.concat([recognizer.process_file(p) for p in paths])
    numbers = single.select_dtypes("number").columns
    np.testing.assert_allclose(batched[numbers].to_numpy(), single[numbers].to_numpy(), rtol=0, atol=1e-5)
    assert batched["emotion"].tolist() == single["emotion"].tolist()
    assert list(batched.columns) == [*single.columns, "error", "warning"]  # issue #18: quality notes


def test_process_files_without_a_good_file_keeps_every_column(plain, tmp_path):
    checkpoint, _ = plain
    recognizer = Recognizer.from_checkpoint(checkpoint)
    (tmp_path / "empty.wav").write_bytes(b"")
    table = recognizer.process_files([tmp_path / "empty.wav"])
    assert table["error"].notna().all() and "emotion.prob.anger" in table.columns


def manual_speaker_outputs(recognizer: Recognizer, paths: list[str], speakers: list[str]) -> dict[str, np.ndarray]:
    """Outputs with each speaker's own statistics (the global ones for a speaker with one file), by hand.

    The demo clips are longer than one window, so no window is padded and standardising before cutting windows
    equals standardising each window.
    """
    member = recognizer.members[0]
    axis = member.specs["logmel"].time_axis
    features = [file_features(recognizer.featurizers, p)[0]["logmel"] for p in paths]
    standardised = []
    for array, who in zip(features, speakers):
        own = [f for f, s in zip(features, speakers) if s == who]
        if len(own) >= 2:
            frames = np.concatenate([np.moveaxis(f, axis, 0) for f in own]).astype(np.float64)
            mean, std = frames.mean(0), np.maximum(frames.std(0), 1e-6)
        else:
            mean, std = member.standardizer.mean["logmel"], member.standardizer.std["logmel"]
        standardised.append(np.moveaxis((np.moveaxis(array, axis, 0) - mean) / std, 0, axis).astype(np.float32))
    with torch.no_grad():
        return predict_outputs(member.model, {"logmel": standardised}, np.arange(len(paths)), member.specs, None,
                               member.tasks, max_windows=None)


def test_speakers_give_per_speaker_statistics(speaker, caplog):
    checkpoint, table = speaker
    recognizer = Recognizer.from_checkpoint(checkpoint)
    chosen = table.groupby("speaker").head(3)
    lone = table.loc[~table.index.isin(chosen.index), "path"].iloc[0]
    paths = [*chosen["path"], lone]
    speakers = [*chosen["speaker"], "solo"]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        result = recognizer.process_files(paths, speakers=speakers, workers=2)
    warnings = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 1 and "'solo'" in warnings[0], warnings

    expected = manual_speaker_outputs(recognizer, paths, speakers)
    np.testing.assert_allclose(result.filter(like="emotion.prob.").to_numpy(), expected["emotion"], atol=1e-5)
    np.testing.assert_allclose(result[["va.valence", "va.arousal"]].to_numpy(), expected["va"], atol=1e-5)
    global_only = recognizer.process_files(paths)
    assert not np.allclose(global_only.filter(like="emotion.prob.").to_numpy()[:-1],
                           result.filter(like="emotion.prob.").to_numpy()[:-1], atol=1e-4)
    np.testing.assert_allclose(global_only.filter(like="emotion.prob.").to_numpy()[-1],
                               result.filter(like="emotion.prob.").to_numpy()[-1], atol=1e-6)


def test_missing_speakers_warn_once(speaker, plain, caplog):
    paths = speaker[1]["path"].iloc[:3].tolist()
    recognizer = Recognizer.from_checkpoint(speaker[0])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        recognizer.process_files(paths)
        recognizer.process_files(paths)
        recognizer.process_file(paths[0])
        Recognizer.from_checkpoint(plain[0]).process_files(paths)  # global statistics by design: no warning
    messages = [r.getMessage() for r in caplog.records if "no speakers were given" in r.getMessage()]
    assert len(messages) == 1 and "global statistics" in messages[0]


def test_speakers_must_align_with_paths(plain):
    recognizer = Recognizer.from_checkpoint(plain[0])
    with pytest.raises(ConfigError, match="one speaker per path"):
        recognizer.process_files(plain[1]["path"].iloc[:2], speakers=["a"])


def test_ensemble_averages_its_members(plain, speaker):
    paths = plain[1]["path"].iloc[:6].tolist()
    speakers = plain[1]["speaker"].iloc[:6].tolist()
    first, second = Recognizer.from_checkpoint(plain[0]), Recognizer.from_checkpoint(speaker[0])
    ensemble = Recognizer.from_checkpoints([plain[0], speaker[0]])
    assert len(ensemble.featurizers) == 2, "different features sections: extracted once each"
    alone = [first.process_files(paths, speakers=speakers), second.process_files(paths, speakers=speakers)]
    together = ensemble.process_files(paths, speakers=speakers, workers=2)
    assert list(together.columns) == list(alone[0].columns)
    numbers = alone[0].select_dtypes("number").columns
    mean = (alone[0][numbers].to_numpy() + alone[1][numbers].to_numpy()) / 2
    np.testing.assert_allclose(together[numbers].to_numpy(), mean, rtol=0, atol=1e-6)
    probabilities = together.filter(like="emotion.prob.")
    assert (together["emotion"] == probabilities.idxmax(axis=1).str.removeprefix("emotion.prob.")).all()


def test_ensemble_of_equal_features_extracts_once(plain):
    paths = plain[1]["path"].iloc[:3].tolist()
    ensemble = Recognizer.from_checkpoint([plain[0], plain[0]])
    assert len(ensemble.featurizers) == 1 and len(ensemble.members) == 2
    single = Recognizer.from_checkpoint(plain[0]).process_files(paths)
    pd.testing.assert_frame_equal(ensemble.process_files(paths), single, check_exact=False, rtol=0, atol=1e-6)


def test_ensemble_members_must_share_tasks(plain, tmp_path):
    state = torch.load(plain[0], map_location="cpu", weights_only=False)
    emotion = next(t for t in state["tasks"] if t["name"] == "emotion")
    emotion["classes"] = ["fury", *emotion["classes"][1:]]
    other = tmp_path / "renamed_classes.pt"
    torch.save(state, other)
    with pytest.raises(ConfigError, match="renamed_classes.pt"):
        Recognizer.from_checkpoints([plain[0], other])


SITECUSTOMIZE = '''
import os

import emomtl.inference.extraction as extraction

_real = extraction.try_file


def try_file(featurizers, path):
    if os.path.basename(path).startswith("die"):
        os._exit(9)  # what a native crash or a kill looks like from the pool
    return _real(featurizers, path)


extraction.try_file = try_file
'''


def test_a_dying_worker_costs_only_its_own_file(plain, tmp_path, monkeypatch):
    checkpoint, table = plain
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)  # loaded by the spawned workers only
    monkeypatch.setenv("PYTHONPATH", str(site))
    die = tmp_path / "die.wav"
    die.write_bytes(Path(table["path"].iloc[0]).read_bytes())
    paths = [*table["path"].iloc[:2], str(die), table["path"].iloc[2]]
    result = Recognizer.from_checkpoint(checkpoint).process_files(paths, workers=2)
    assert result["error"].notna().tolist() == [False, False, True, False]
    assert "worker process died" in result.loc[str(die), "error"]


def test_opensmile_models_extract_in_threads_with_the_same_results(workspace, tmp_path, monkeypatch):
    """openSMILE releases the GIL, so ``workers=2`` uses threads (no worker process is started) and matches
    ``workers=1`` file for file, bad files included."""
    from concurrent.futures import ProcessPoolExecutor

    from inference_fixtures import train_tiny

    from emomtl.config import resolve_recipe

    recipe = resolve_recipe({
        "name": "inference-egemaps",
        "data": {"corpus": "demo", "root": str(workspace / "corpus"), "cache_dir": str(workspace / "cache"),
                 "options": {"speakers": 4, "utterances_per_emotion": 2, "video": False, "seconds": [0.6, 0.9]}},
        "features": {"functionals": {"kind": "opensmile", "feature_set": "eGeMAPSv02", "level": "functionals"}},
        "inputs": {"functionals": {"standardize": True}},
        "tasks": [{"name": "emotion", "kind": "classification", "column": "emotion"}],
        "model": {"name": "functional_mlp", "hidden": [8]},
        "train": {"epochs": 1, "batch_size": 8, "seeds": [0], "tensorboard": False},
        "protocol": {"name": "loso", "validation_speakers": 1, "seed": 0},
    })
    checkpoint, table = train_tiny(recipe, tmp_path / "egemaps")
    recognizer = Recognizer.from_checkpoint(checkpoint)
    paths = with_bad_files(table, tmp_path / "files")
    serial = recognizer.process_files(paths, workers=1)

    def no_processes(*args, **kwargs):
        raise AssertionError("a process pool was started for a GIL-free extractor")

    monkeypatch.setattr(ProcessPoolExecutor, "__init__", no_processes)
    threaded = recognizer.process_files(paths, workers=2)
    pd.testing.assert_frame_equal(serial, threaded, check_exact=False, rtol=0, atol=1e-6)
    assert serial["error"].notna().tolist() == [False, True, False, False, True, False, False, False]


def test_an_enrolled_speaker_standardises_even_one_new_file(speaker):
    """Statistics from the enrolment files alone: one new file is standardised with them."""
    checkpoint, table = speaker
    recognizer = Recognizer.from_checkpoint(checkpoint)
    own = table[table["speaker"] == table["speaker"].iloc[0]]["path"].tolist()
    enrolment, new = own[:4], own[4]
    assert recognizer.enroll("alice", enrolment) == 4
    enrolled = recognizer.process_file(new, speaker="alice")

    member = recognizer.members[0]
    axis = member.specs["logmel"].time_axis
    frames = np.concatenate([np.moveaxis(file_features(recognizer.featurizers, p)[0]["logmel"], axis, 0)
                             for p in enrolment]).astype(np.float64)
    mean, std = frames.mean(0), np.maximum(frames.std(0), 1e-6)
    array = file_features(recognizer.featurizers, new)[0]["logmel"]
    standardised = np.moveaxis((np.moveaxis(array, axis, 0) - mean) / std, 0, axis).astype(np.float32)
    with torch.no_grad():
        expected = predict_outputs(member.model, {"logmel": [standardised]}, np.arange(1), member.specs, None,
                                   member.tasks, max_windows=None)
    np.testing.assert_allclose(enrolled.filter(like="emotion.prob.").to_numpy(), expected["emotion"], atol=1e-5)

    unenrolled = recognizer.process_file(new)
    assert not np.allclose(enrolled.filter(like="emotion.prob.").to_numpy(),
                           unenrolled.filter(like="emotion.prob.").to_numpy(), atol=1e-4)
    batch = recognizer.process_files([new, *own[5:7]], speakers=["alice"] * 3)  # enrolment wins over these files
    np.testing.assert_allclose(batch.filter(like="emotion.prob.").to_numpy()[0],
                               enrolled.filter(like="emotion.prob.").to_numpy()[0], atol=1e-5)
    with pytest.raises(ValueError, match="not enrolled"):
        recognizer.process_file(new, speaker="bob")
    with pytest.raises(ValueError, match="at least 2 usable"):
        recognizer.enroll("carol", enrolment[:1])
