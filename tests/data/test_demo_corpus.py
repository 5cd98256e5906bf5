"""The embedded demo corpus: schema, counts, determinism, caching and that its labels are learnable."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from emomtl.data.corpora import demo
from emomtl.data.schema import COLUMNS, validate
from emomtl.data.synthetic_voice import EMOTION_PROSODY, random_speaker, synthesize

SMALL = {"speakers": 2, "utterances_per_emotion": 1, "emotions": ("anger", "sadness")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The default demo corpus (192 utterances with video), generated once for this module."""
    root = tmp_path_factory.mktemp("demo")
    return root, demo.load(root)


def files_of(table: pd.DataFrame) -> list[Path]:
    return [Path(p) for p in table["path"]] + [Path(p) for p in table["video"].dropna()]


# ----------------------------------------------------------------- table
def test_table_follows_schema_and_counts(corpus):
    _, table = corpus
    validate(table)
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert len(table) == 8 * 4 * 6
    assert set(table["corpus"]) == {"demo"} and set(table["language"]) == {"xx"}
    assert sorted(table["speaker"].unique()) == [f"demo_s{i:02d}" for i in range(1, 9)]
    assert (table.groupby(["speaker", "emotion"]).size() == 6).all()
    genders = table.groupby("speaker")["gender"].first()
    assert (genders == "female").sum() == 4 and (genders == "male").sum() == 4
    sessions = table.groupby("speaker")["session"].first()
    assert sessions[[f"demo_s{i:02d}" for i in range(1, 5)]].eq("demo_sess1").all()
    assert sessions[[f"demo_s{i:02d}" for i in range(5, 9)]].eq("demo_sess2").all()
    assert table.groupby("session")["gender"].nunique().eq(2).all()  # both genders in each session
    assert table["valence"].between(0, 1).all() and table["arousal"].between(0, 1).all()
    arousal = table.groupby("emotion")["arousal"].mean()
    valence = table.groupby("emotion")["valence"].mean()
    assert arousal["anger"] > arousal["neutral"] > arousal["sadness"]
    assert valence["happiness"] > valence["neutral"] > valence["sadness"]
    assert table["text"].map(lambda t: isinstance(t, str) and len(t.split()) >= 4).all()


def test_audio_and_video_files(corpus):
    _, table = corpus
    for path in table["path"].iloc[::24]:
        info = sf.info(path)
        assert info.samplerate == 16000 and info.channels == 1 and 1.0 <= info.duration <= 2.0
    for path, wav in zip(table["video"].iloc[::24], table["path"].iloc[::24]):
        frames = np.load(path)
        assert frames.dtype == np.uint8 and frames.shape[1:] == (3, 96, 96)
        assert frames.shape[0] == round(sf.info(wav).duration * demo.VIDEO_FPS)
        assert frames.std() > 10  # a drawn face, not a blank image


def test_emotions_differ_in_loudness(corpus):
    _, table = corpus
    rms = table["path"].map(lambda p: float(np.sqrt(np.mean(sf.read(p)[0] ** 2))))
    level = rms.groupby(table["emotion"]).median()
    assert level["anger"] > level["neutral"] > level["sadness"]
    assert level["happiness"] > level["neutral"]


def test_mouth_opens_with_the_voice():
    rng = np.random.default_rng(0)
    utterance = synthesize(random_speaker("female", rng), EMOTION_PROSODY["neutral"], 2.0, rng)
    assert len(utterance.envelope) == len(utterance.signal)
    assert 0 <= utterance.envelope.min() <= utterance.envelope.max() <= 1
    silent = type(utterance)(utterance.signal, np.zeros_like(utterance.envelope), utterance.sample_rate)
    look = demo.random_face(np.random.default_rng(1))
    speaking = demo.face_frames(utterance, "neutral", look, np.random.default_rng(2))
    closed = demo.face_frames(silent, "neutral", look, np.random.default_rng(2))
    lips = np.array([120, 30, 40])[None, :, None, None]
    lip_pixels = lambda frames: (np.abs(frames.astype(int) - lips).max(axis=1) < 20).sum()  # noqa: E731
    assert lip_pixels(speaking) > 1.5 * lip_pixels(closed)


# ----------------------------------------------------------------- determinism and caching
def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path):
    first = demo.load(tmp_path / "a", seed=3, **SMALL)
    second = demo.load(tmp_path / "b", seed=3, **SMALL)
    other = demo.load(tmp_path / "c", seed=4, **SMALL)
    for a, b in zip(files_of(first), files_of(second)):
        assert a.read_bytes() == b.read_bytes()
    labels = ["speaker", "gender", "emotion", "valence", "arousal", "text", "session"]
    pd.testing.assert_frame_equal(first[labels], second[labels])
    assert Path(first["path"][0]).read_bytes() != Path(other["path"][0]).read_bytes()


def test_second_call_rewrites_nothing_and_missing_files_come_back_identical(corpus):
    root, table = corpus
    files = files_of(table)
    stamps = {f: f.stat().st_mtime_ns for f in files}
    start = time.perf_counter()
    again = demo.load(root)
    assert time.perf_counter() - start < 2.0
    pd.testing.assert_frame_equal(again, table)
    assert {f: f.stat().st_mtime_ns for f in files} == stamps

    wav, npy = Path(table["path"][5]), Path(table["video"][7])
    contents = wav.read_bytes(), npy.read_bytes()
    wav.unlink()
    npy.unlink()
    demo.load(root)
    assert (wav.read_bytes(), npy.read_bytes()) == contents
    untouched = [f for f in files if f not in (wav, npy)]
    assert all(f.stat().st_mtime_ns == stamps[f] for f in untouched)


def test_other_options_in_the_same_root_regenerate(tmp_path):
    demo.load(tmp_path / "shared", seed=0, **SMALL)
    reused = demo.load(tmp_path / "shared", seed=1, **SMALL)
    fresh = demo.load(tmp_path / "fresh", seed=1, **SMALL)
    assert [Path(p).read_bytes() for p in reused["path"]] == [Path(p).read_bytes() for p in fresh["path"]]


def test_default_root_is_a_cache_folder_keyed_by_options(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    one = demo.load(video=False, **SMALL)
    two = demo.load(video=False, seed=1, **SMALL)
    folder_one, folder_two = Path(one["path"][0]).parents[1], Path(two["path"][0]).parents[1]
    assert folder_one.parent == tmp_path / "emomtl" / "demo" and folder_one != folder_two
    assert one["video"].isna().all() and not list(folder_one.rglob("*.npy"))


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="contempt"):
        demo.load(emotions=("anger", "contempt"))
    with pytest.raises(ValueError, match="seconds"):
        demo.load(seconds=(2.0, 1.0))


# ----------------------------------------------------------------- learnable, not trivial
def test_simple_classifier_learns_emotion_and_gender_across_speakers(corpus):
    librosa = pytest.importorskip("librosa")
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, recall_score
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _, table = corpus
    features = np.array(
        [librosa.feature.mfcc(y=sf.read(p)[0], sr=16000, n_mfcc=13).mean(axis=1) for p in table["path"]]
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))

    def predict(column: str) -> np.ndarray:  # speaker-independent: 2 held-out speakers per fold
        return cross_val_predict(model, features, table[column], groups=table["speaker"], cv=GroupKFold(4))

    emotion_ua = recall_score(table["emotion"], predict("emotion"), average="macro")
    assert 0.5 < emotion_ua < 0.95  # chance is 0.25; perfect would leave nothing for models to show
    assert accuracy_score(table["gender"], predict("gender")) > 0.8
