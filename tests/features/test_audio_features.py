"""Waveform, log-mel and openSMILE extractors on generated signals and files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emomtl.data.audio import AudioWarning
from emomtl.errors import AudioError
from emomtl.features import create_extractor


def test_waveform_is_the_front_end_signal(tmp_path: Path, voice_like, write_wav) -> None:
    path = write_wav(tmp_path / "voice.wav", voice_like(rate=8000), rate=8000)
    extractor = create_extractor({"kind": "waveform", "normalize": "peak"})
    samples = extractor.from_path(path)
    assert samples.dtype == np.float32 and samples.shape == (16000,)
    assert np.isclose(np.abs(samples).max(), 1.0)
    np.testing.assert_allclose(extractor.from_signal(voice_like(rate=8000), 8000), samples, atol=2e-4)
    assert extractor.frames_per_second == 16000 and extractor.time_axis == 0


def test_logmel_shape_follows_options(voice_like) -> None:
    extractor = create_extractor({"kind": "logmel", "n_mels": 128, "n_fft": 800, "hop_length": 400})
    features = extractor.from_signal(voice_like(seconds=2.0), 16000)
    assert features.shape == (128, 1 + 32000 // 400) and features.dtype == np.float32
    assert extractor.time_axis == 1 and extractor.frames_per_second == 40
    small = create_extractor({"kind": "logmel", "n_mels": 40, "hop_length": 160, "fmax": 4000.0})
    assert small.from_signal(voice_like(seconds=1.0), 16000).shape == (40, 101)


def test_logmel_scales_and_per_utterance_norm(voice_like) -> None:
    signal = voice_like()
    db = create_extractor({"kind": "logmel"}).from_signal(signal, 16000)
    assert db.max() <= 80 and db.max() - db.min() <= 80 + 1e-3  # top_db floor
    log = create_extractor({"kind": "logmel", "scale": "log", "log_offset": 1e-6}).from_signal(signal, 16000)
    assert log.min() >= np.log(1e-6) - 1e-4
    normed = create_extractor({"kind": "logmel", "per_utterance_norm": True}).from_signal(signal, 16000)
    np.testing.assert_allclose(normed.mean(axis=1), 0, atol=1e-4)
    np.testing.assert_allclose(normed.std(axis=1), 1, atol=1e-2)


def test_logmel_of_silence_is_finite() -> None:
    extractor = create_extractor({"kind": "logmel", "per_utterance_norm": True})
    with pytest.warns(AudioWarning, match="zero"):
        features = extractor.from_signal(np.zeros(16000, dtype=np.float32), 16000)
    assert np.isfinite(features).all()


def test_front_end_faults_reach_extractors(tmp_path: Path, voice_like, write_wav) -> None:
    short = write_wav(tmp_path / "short.wav", voice_like(seconds=0.05))
    with pytest.raises(AudioError, match=r"short\.wav.*too short"):
        create_extractor({"kind": "logmel"}).from_path(short)
    padded = create_extractor({"kind": "logmel", "pad_short": True, "min_seconds": 0.5}).from_path(short)
    assert padded.shape == (64, 51)


@pytest.mark.parametrize(
    ("feature_set", "level", "shape"),
    [
        ("eGeMAPSv02", "functionals", (88,)),
        ("ComParE_2016", "functionals", (6373,)),
        ("eGeMAPSv02", "lld", (None, 25)),
        ("ComParE_2016", "lld", (None, 65)),
    ],
)
def test_opensmile_dimensions(feature_set: str, level: str, shape: tuple, voice_like) -> None:
    extractor = create_extractor({"kind": "opensmile", "feature_set": feature_set, "level": level})
    features = extractor.from_signal(voice_like(seconds=1.0), 16000)
    assert features.dtype == np.float32 and np.isfinite(features).all()
    if level == "functionals":
        assert features.shape == shape and extractor.time_axis is None
    else:
        assert features.ndim == 2 and features.shape[1] == shape[1] and 90 <= features.shape[0] <= 101
        assert extractor.frames_per_second == 100.0
    assert len(extractor.feature_names) == (shape[0] if level == "functionals" else shape[1])


def test_opensmile_nans_become_zero() -> None:
    extractor = create_extractor({"kind": "opensmile", "level": "lld", "min_seconds": 0.0})
    features = extractor.from_signal(np.zeros(400, dtype=np.float32) + 1e-3, 16000)
    assert np.isfinite(features).all()
