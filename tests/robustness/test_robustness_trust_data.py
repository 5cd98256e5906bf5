"""Issue #18, bad data: duplicate listings, look-alike speaker ids, special files, forged headers, suspect
recordings and symbolically linked corpus folders."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emomtl.data.audio import audio_info, load_audio, quality_warnings
from emomtl.data.corpora import load_corpus
from emomtl.data.corpora.listing import list_files
from emomtl.data.protocols import assert_speaker_disjoint, make_splits
from emomtl.errors import AudioError
from emomtl.inference import Recognizer
from robustness_support import demo_table, tiny_trial, voice, write_audio


@pytest.fixture
def table(demo_root: Path) -> pd.DataFrame:
    return demo_table(demo_root)


def test_a_file_listed_twice_is_used_once_with_a_warning(table: pd.DataFrame, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    doubled = pd.concat([table, table.iloc[[0, 5]]], ignore_index=True)
    manifest = tmp_path / "manifest.csv"
    doubled.to_csv(manifest, index=False)
    with caplog.at_level(logging.WARNING):
        loaded = load_corpus("manifest", manifest).table
    assert len(loaded) == len(table) and loaded["path"].is_unique
    assert "2 row(s) list a file already listed" in caplog.text and Path(table["path"][0]).name in caplog.text


def test_speaker_ids_differing_by_padding_or_case_are_one_speaker(table: pd.DataFrame, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    spellings = {"demo_s01": ["3", "03", "003"], "demo_s02": ["Ann", "ann", "ANN"], "demo_s03": ["7"],
                 "demo_s04": ["8"]}
    changed = table.copy()
    changed["speaker"] = [spellings[s][i % len(spellings[s])] for i, s in enumerate(table["speaker"])]
    manifest = tmp_path / "manifest.csv"
    changed.to_csv(manifest, index=False)
    with caplog.at_level(logging.WARNING):
        loaded = load_corpus("manifest", manifest).table
    assert loaded["speaker"].nunique() == 4
    assert "'03'" in caplog.text and "'3'" in caplog.text and "'ann'" in caplog.text
    for split in make_splits(loaded, "loso", validation_speakers=1):  # the leak check sees one speaker per person
        assert_speaker_disjoint(loaded, split)
        assert len(split.test_speakers) == 1


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_special_file_is_not_a_regular_file(kind: str, tmp_path: Path) -> None:
    if kind == "fifo":
        path = tmp_path / "pipe.wav"
        os.mkfifo(path)
        phrase = "not a regular file (a named pipe)"
    else:
        path = tmp_path / "zero.wav"
        path.symlink_to("/dev/zero")
        phrase = "not a regular file (a character device)"
    for read in (audio_info, load_audio):
        with pytest.raises(AudioError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
            read(path)
    with pytest.raises(AudioError, match="not a regular file"):
        audio_info("/dev/zero")


def test_a_header_claiming_1_hz_is_refused_with_the_value(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "one hertz.wav", np.full(2000, 0.1, dtype=np.float32), rate=1)
    for read in (audio_info, load_audio):
        with pytest.raises(AudioError, match="implausible sampling rate 1 Hz"):
            read(path)


def test_quality_warnings_name_dc_clipped_and_noise_only_audio() -> None:
    speech = voice(1.0)
    noise = np.random.default_rng(0).normal(scale=0.1, size=16000).astype(np.float32)
    assert quality_warnings(speech, 16000) == []
    assert quality_warnings(np.full(16000, 0.3, dtype=np.float32), 16000)[0].startswith("constant level only")
    assert quality_warnings(np.clip(speech * 10, -1, 1), 16000)[0].startswith("clipped")
    assert quality_warnings(noise, 16000) == ["noise only (no voiced sound: flat spectrum)"]


def test_predict_output_has_a_warning_column_for_suspect_recordings(demo_root: Path, shared_cache: Path,
                                                                     tmp_path: Path) -> None:
    tiny_trial(demo_root, shared_cache, epochs=1).train(tmp_path / "run")
    recognizer = Recognizer.from_checkpoint(tmp_path / "run" / "checkpoint_best.pt")
    speech = voice(1.0)
    files = [write_audio(tmp_path / "good.wav", speech),
             write_audio(tmp_path / "dc.wav", np.full(16000, 0.3, dtype=np.float32)),
             write_audio(tmp_path / "clipped.wav", np.clip(speech * 10, -1, 1)),
             write_audio(tmp_path / "noise.wav", np.random.default_rng(0).normal(scale=0.1, size=16000))]
    table = recognizer.process_files(files)
    assert table["error"].isna().all()
    notes = table["warning"].tolist()
    assert pd.isna(notes[0])
    assert "constant level" in notes[1] and "clipped" in notes[2] and "noise only" in notes[3]


def test_symlinked_subfolders_of_a_corpus_root_are_searched_once(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "corpus", tmp_path / "elsewhere"
    write_audio(root / "own" / "a.wav", voice(0.5))
    write_audio(elsewhere / "b.wav", voice(0.5))
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    (root / "own" / "loop").symlink_to(root, target_is_directory=True)  # a loop back to the root
    (root / "again").symlink_to(root / "own", target_is_directory=True)  # a second way into one folder
    found = list_files(root)
    assert sorted(p.name for p in found) == ["a.wav", "b.wav"]
