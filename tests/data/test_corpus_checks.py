"""Bad files are reported with the file and the reason, dropped, and never crash a load."""

from __future__ import annotations

import pandas as pd
import pytest

from emomtl.data.corpora import load_corpus
from emomtl.data.corpora.checks import audio_duration, audio_problem, check_files
from emomtl.data.schema import conform
from emomtl.errors import AudioError


def _table(paths, **columns) -> pd.DataFrame:
    return conform(pd.DataFrame({"path": [str(p) for p in paths], "corpus": "x", "speaker": "s", "gender": None,
                                 "language": "en", "emotion": "neutral", **columns}))


def test_audio_problem_names_each_kind_of_bad_file(tmp_path, wav, touch):
    assert audio_problem(wav(tmp_path / "ok.wav", 0.3)) is None
    assert audio_problem(tmp_path / "missing.wav") == "file not found"
    assert "empty" in audio_problem(touch(tmp_path / "zero.wav"))
    assert "not a readable audio file" in audio_problem(touch(tmp_path / "text.wav", b"hello, not audio" * 10))
    assert "too short" in audio_problem(wav(tmp_path / "short.wav", 0.05))
    assert audio_problem(tmp_path / "short.wav", min_duration=0.01) is None


def test_header_only_wav_is_reported_as_without_samples(tmp_path, wav):
    path = wav(tmp_path / "empty.wav", 0.0)
    assert audio_problem(path) == "audio file without samples"
    with pytest.raises(AudioError, match="empty.wav"):
        audio_duration(path)


def test_check_files_keeps_good_rows_and_reports_bad_ones(tmp_path, wav, touch):
    good = wav(tmp_path / "good.wav", 0.5)
    bad = touch(tmp_path / "bad.wav", b"RIFF....garbage")
    short = wav(tmp_path / "short.wav", 0.02)
    checked = check_files(_table([good, bad, short, tmp_path / "gone.wav"]))
    assert checked.table["path"].tolist() == [str(good)]
    assert checked.durations.tolist() == pytest.approx([0.5])
    reasons = {s.path: s.reason for s in checked.skipped}
    assert set(reasons) == {str(bad), str(short), str(tmp_path / "gone.wav")}
    assert "too short" in reasons[str(short)] and "not found" in reasons[str(tmp_path / "gone.wav")]


def test_check_files_measures_segments_by_start_and_end(tmp_path, wav):
    path = wav(tmp_path / "long.wav", 1.0)
    table = _table([path, path], start=[0.0, 0.5], end=[0.6, 0.55])
    checked = check_files(table)
    assert checked.durations.tolist() == pytest.approx([0.6])
    assert "too short" in checked.skipped[0].reason


def test_load_corpus_drops_bad_files_and_keeps_going(tmp_path, wav, touch):
    wav(tmp_path / "wav" / "03a01Fa.wav", 0.3)
    touch(tmp_path / "wav" / "03a01Wa.wav")  # empty
    touch(tmp_path / "wav" / "03a02Ta.wav", b"not audio at all" * 8)
    wav(tmp_path / "wav" / "03a04Nc.wav", 0.05)  # too short
    loaded = load_corpus("emodb", tmp_path)
    assert loaded.table["path"].map(lambda p: p.rsplit("/", 1)[-1]).tolist() == ["03a01Fa.wav"]
    assert sorted(s.path.rsplit("/", 1)[-1] for s in loaded.skipped) == ["03a01Wa.wav", "03a02Ta.wav", "03a04Nc.wav"]
    relaxed = load_corpus("emodb", tmp_path, min_duration=0.01)
    assert len(relaxed.table) == 2
    unchecked = load_corpus("emodb", tmp_path, check_audio=False)
    assert len(unchecked.table) == 4 and unchecked.skipped == []
