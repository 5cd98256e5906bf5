"""Audio front end: formats, rates, channel layouts, and every audio fault of issue 7."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emomtl.data import audio as audio_module
from emomtl.data.audio import AudioWarning, audio_info, load_audio, normalize_level, prepare_signal
from emomtl.errors import AudioError


def tone(seconds: float = 0.5, rate: int = 16000, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.size)))
    return float(np.fft.rfftfreq(signal.size, 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    ("name", "subtype", "file_format"),
    [
        ("u8.wav", "PCM_U8", "WAV"),
        ("s16.wav", "PCM_16", "WAV"),
        ("s24.wav", "PCM_24", "WAV"),
        ("f32.wav", "FLOAT", "WAV"),
        ("s16.flac", "PCM_16", "FLAC"),
        ("vorbis.ogg", "VORBIS", "OGG"),
    ],
)
def test_sample_formats_load_as_float_mono(tmp_path: Path, name: str, subtype: str, file_format: str) -> None:
    path = tmp_path / name
    sf.write(path, tone(), 16000, subtype=subtype, format=file_format)
    signal = load_audio(path)
    assert signal.dtype == np.float32 and signal.ndim == 1
    assert abs(signal.size - 8000) <= 2
    assert abs(dominant_frequency(signal, 16000) - 440) < 5
    assert 0.4 < np.abs(signal).max() < 0.6


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_any_rate_is_resampled_to_the_model_rate(tmp_path: Path, rate: int) -> None:
    path = tmp_path / f"tone_{rate}.wav"
    sf.write(path, tone(rate=rate), rate)
    signal = load_audio(path, sample_rate=16000)
    assert abs(signal.size - 8000) <= 2
    assert abs(dominant_frequency(signal, 16000) - 440) < 5
    assert load_audio(path, sample_rate=None).size == int(round(0.5 * rate))


def test_stereo_and_six_channels_are_averaged(tmp_path: Path) -> None:
    base = tone()
    sf.write(tmp_path / "stereo.wav", np.stack([0.8 * base, 0.4 * base], axis=1), 16000)
    stereo = load_audio(tmp_path / "stereo.wav")
    np.testing.assert_allclose(stereo, 0.6 * base, atol=1e-3)
    gains = np.array([1.0, 0.5, 0.0, 0.0, 0.25, 0.25])
    sf.write(tmp_path / "surround.wav", base[:, None] * gains[None, :] * 0.9, 16000)
    surround = load_audio(tmp_path / "surround.wav")
    np.testing.assert_allclose(surround, base * 0.9 * gains.mean(), atol=1e-3)


def test_zero_byte_file_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav.*empty file"):
        load_audio(path)


def test_truncated_riff_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "truncated.wav"
    sf.write(path, tone(), 16000)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(AudioError, match=r"truncated\.wav.*truncated WAV header"):
        load_audio(path)


def test_non_audio_file_with_wav_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("these are meeting notes, not audio\n" * 20)
    with pytest.raises(AudioError, match=r"notes\.wav.*not a readable audio file"):
        load_audio(path)


def test_too_short_clip_is_refused_or_padded(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    sf.write(path, tone(seconds=0.05), 16000)
    with pytest.raises(AudioError, match=r"short\.wav.*too short"):
        load_audio(path, min_seconds=0.1)
    padded = load_audio(path, min_seconds=0.1, pad_short=True)
    assert padded.size == 1600
    assert np.all(padded[800:] == 0) and np.any(padded[:800] != 0)


def test_silence_loads_with_a_warning_and_normalisation_stays_finite(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000, dtype=np.float32), 16000)
    for method in (None, "peak", "rms"):
        with pytest.warns(AudioWarning, match="silence.wav.*zero"):
            signal = load_audio(path, normalize=method, trim_silence=True)
        assert signal.size == 16000 and np.all(signal == 0)


def test_clipped_audio_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "clipped.wav"
    sf.write(path, np.clip(tone(amplitude=3.0), -1.0, 1.0), 16000, subtype="PCM_16")
    signal = load_audio(path)
    assert np.isclose(np.abs(signal).max(), 1.0, atol=1e-3)
    assert np.mean(np.abs(signal) > 0.999) > 0.3


def test_nan_and_inf_samples_are_zeroed_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    samples = tone()
    samples[100], samples[200], samples[300] = np.nan, np.inf, -np.inf
    sf.write(path, samples, 16000, subtype="FLOAT")
    with pytest.warns(AudioWarning, match=r"nan\.wav.*3 non-finite"):
        signal = load_audio(path)
    assert np.isfinite(signal).all()
    assert signal[100] == signal[200] == signal[300] == 0


def test_all_non_finite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "allnan.wav"
    sf.write(path, np.full(4000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"allnan\.wav.*every sample is NaN"):
        load_audio(path)


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.wav"
    sf.write(path, tone(), 16000)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that read any file (root)")
        with pytest.raises(AudioError, match=r"locked\.wav.*permission denied"):
            load_audio(path)
    finally:
        path.chmod(0o644)


def test_permission_check_message_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.wav"
    sf.write(path, tone(), 16000)
    monkeypatch.setattr(audio_module.os, "access", lambda *_args, **_kw: False)
    with pytest.raises(AudioError, match=r"locked\.wav.*permission denied"):
        load_audio(path)


def test_symlink_loop_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.wav").symlink_to(tmp_path / "b.wav")
    (tmp_path / "b.wav").symlink_to(tmp_path / "a.wav")
    with pytest.raises(AudioError, match=r"a\.wav.*symbolic link loop"):
        load_audio(tmp_path / "a.wav")
    with pytest.raises(AudioError, match=r"missing\.wav.*file not found"):
        load_audio(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="is a directory"):
        load_audio(tmp_path)


def test_path_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    folder = tmp_path / "my recordings" / "Ärger — 生气"
    folder.mkdir(parents=True)
    path = folder / "sprecher 03 ünïcødé.wav"
    sf.write(path, tone(rate=44100), 44100)
    assert abs(load_audio(str(path)).size - 8000) <= 2
    assert audio_info(path).sample_rate == 44100


def test_peak_and_rms_normalisation() -> None:
    signal = tone(amplitude=0.2)
    assert np.isclose(np.abs(normalize_level(signal, "peak")).max(), 1.0)
    assert np.isclose(np.sqrt(np.mean(normalize_level(signal, "rms") ** 2)), audio_module.RMS_TARGET, rtol=1e-4)
    with pytest.raises(ValueError):
        normalize_level(signal, "loud")  # type: ignore[arg-type]


def test_trim_silence_cuts_edges_but_never_below_min_seconds(tmp_path: Path) -> None:
    path = tmp_path / "padded.wav"
    sf.write(path, np.concatenate([np.zeros(8000), tone(), np.zeros(8000)]).astype(np.float32), 16000)
    trimmed = load_audio(path, trim_silence=True)
    assert 8000 <= trimmed.size < 12000  # librosa trims in 512-sample hops
    assert load_audio(path).size == 24000
    assert load_audio(path, trim_silence=True, min_seconds=1.2).size == 24000


def test_segment_and_info(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, tone(seconds=2.0), 16000)
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.frames, info.duration) == (16000, 1, 32000, 2.0)
    assert load_audio(path, start=0.5, end=1.0).size == 8000
    with pytest.raises(AudioError, match="empty segment"):
        load_audio(path, start=3.0)


def test_prepare_signal_takes_channels_first_and_resamples() -> None:
    stereo = np.stack([tone(rate=8000), tone(rate=8000)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        signal = prepare_signal(stereo, 8000, 16000)
    assert signal.shape == (8000,)
    with pytest.raises(AudioError, match="<signal>.*no samples"):
        prepare_signal(np.zeros(0), 16000)
