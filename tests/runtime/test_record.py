"""The data digest of ``run.json`` follows file contents, not modification times."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from emomtl.runtime.record import data_manifest


def _corpus(tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF" + bytes(range(200)))
    return pd.DataFrame({"path": [str(wav)], "emotion": ["anger"]}), wav


def test_a_copied_corpus_with_new_times_keeps_its_digest(tmp_path: Path) -> None:
    table, wav = _corpus(tmp_path)
    before = data_manifest(table)["sha256"]
    os.utime(wav, ns=(1, 1))  # as after a copy without preserved times
    assert data_manifest(table)["sha256"] == before


def test_an_edit_of_the_same_size_changes_the_digest(tmp_path: Path) -> None:
    table, wav = _corpus(tmp_path)
    stat = wav.stat()
    before = data_manifest(table)["sha256"]
    wav.write_bytes(b"RIFF" + bytes(reversed(range(200))))
    os.utime(wav, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert data_manifest(table)["sha256"] != before


def test_a_missing_file_is_counted(tmp_path: Path) -> None:
    table, wav = _corpus(tmp_path)
    wav.unlink()
    manifest = data_manifest(table)
    assert manifest["missing"] == 1 and manifest["files"] == 1
