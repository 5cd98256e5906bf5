"""extract_features over a folder with one of each audio fault: completes, reports skipped files, uses the cache."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile as sf

from emomtl.features import ExtractionResult, FeatureCache, create_extractor, extract_features


@pytest.fixture
def messy_folder(tmp_path: Path, voice_like, write_wav) -> tuple[list[Path], dict[str, str]]:
    """Good files in several formats plus one file per fault; returns (paths, {bad name: expected reason})."""
    folder = tmp_path / "corpus with spaces"
    good = [
        write_wav(folder / "s16.wav", voice_like(seed=1)),
        write_wav(folder / "u8 8k.wav", voice_like(rate=8000, seed=2), rate=8000, subtype="PCM_U8"),
        write_wav(folder / "float 48k.wav", voice_like(rate=48000, seed=3), rate=48000, subtype="FLOAT"),
        write_wav(folder / "stéréo.wav", np.stack([voice_like(seed=4)] * 2, axis=1)),
    ]
    sf.write(folder / "clip.flac", voice_like(seed=5), 16000)
    sf.write(folder / "clip.ogg", voice_like(seed=6), 16000)
    good += [folder / "clip.flac", folder / "clip.ogg"]
    nan = voice_like(seed=7)
    nan[::100] = np.nan
    good.append(write_wav(folder / "some nan.wav", nan, subtype="FLOAT"))
    good.append(write_wav(folder / "silence.wav", np.zeros(16000, dtype=np.float32)))
    (folder / "empty.wav").write_bytes(b"")
    truncated = folder / "truncated.wav"
    truncated.write_bytes((folder / "s16.wav").read_bytes()[:30])
    (folder / "text.wav").write_text("not audio")
    write_wav(folder / "short.wav", voice_like(seconds=0.05))
    (folder / "loop1.wav").symlink_to(folder / "loop2.wav")
    (folder / "loop2.wav").symlink_to(folder / "loop1.wav")
    bad = {
        "empty.wav": "empty file",
        "truncated.wav": "truncated WAV header",
        "text.wav": "not a readable audio file",
        "short.wav": "too short",
        "loop1.wav": "symbolic link loop",
        "missing.wav": "file not found",
    }
    return good + [folder / name for name in bad], bad


def check_result(result: ExtractionResult, paths: list[Path], bad: dict[str, str]) -> None:
    assert set(result.features) | set(result.failed) == set(paths)
    assert {Path(p).name for p in result.failed} == set(bad)
    for path, reason in result.failed.items():
        assert str(path) in reason and bad[Path(path).name] in reason
    for array in result.features.values():
        assert array.shape[0] == 40 and np.isfinite(array).all()


@pytest.mark.parametrize("num_workers", [1, 2])
def test_run_over_a_messy_folder_completes_and_reports(messy_folder, tmp_path: Path, num_workers: int) -> None:
    paths, bad = messy_folder
    extractor = create_extractor({"kind": "logmel", "n_mels": 40})
    cache = FeatureCache(tmp_path / "cache")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = extract_features(paths, extractor, cache=cache, num_workers=num_workers, progress=num_workers == 2)
    check_result(result, paths, bad)
    assert result.computed == len(paths) - len(bad) and result.cache_hits == 0
    again = extract_features(paths, extractor, cache=cache, num_workers=num_workers)
    check_result(again, paths, bad)
    assert again.cache_hits == len(paths) - len(bad) and again.computed == 0
    for path in result.features:
        np.testing.assert_array_equal(result.features[path], again.features[path])
    assert "failed" in again.summary()


def test_parallel_and_serial_agree_without_cache(messy_folder) -> None:
    paths, _ = messy_folder
    config = {"kind": "logmel", "n_mels": 40}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = extract_features(paths, config, num_workers=1)
        parallel = extract_features(paths, config, num_workers=2)
    assert serial.failed.keys() == parallel.failed.keys()
    for path, array in serial.features.items():
        np.testing.assert_allclose(parallel.features[path], array, rtol=1e-5, atol=1e-4)


def test_texts_are_items_for_text_extractors(tmp_path: Path) -> None:
    result = extract_features(
        ["Kids are talking by the door.", "Dogs are sitting by the door.", float("nan")],
        {"kind": "text_encoder"},
        cache=FeatureCache(tmp_path),
    )
    assert [v.shape for v in result.features.values()] == [(384,), (384,)]
    assert len(result.failed) == 1 and "transcript must be a string" in next(iter(result.failed.values()))


def test_videos_are_extracted_by_threads(tmp_path: Path) -> None:
    paths = []
    for index in range(3):
        path = tmp_path / f"clip{index}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
        for _ in range(10):
            writer.write(np.full((48, 64, 3), 40 * index, dtype=np.uint8))
        writer.release()
        paths.append(path)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 64)
    extractor = create_extractor({"kind": "video", "fps": 5, "size": 32})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = extract_features(paths + [broken], extractor, cache=FeatureCache(tmp_path / "cache"), num_workers=2)
    assert [result.features[p].shape for p in paths] == [(5, 3, 32, 32)] * 3
    assert list(result.failed) == [broken] and "broken.mp4" in result.failed[broken]
    assert extractor.face_counts["frames"] == 15


def test_setup_errors_are_raised_not_reported_per_file(tmp_path: Path, tiny_hubert_dir: Path, voice_like,
                                                       write_wav) -> None:
    from emomtl.errors import ConfigError

    paths = [write_wav(tmp_path / f"{i}.wav", voice_like(seed=i)) for i in range(2)]
    with pytest.raises(ConfigError, match=r"features\.layer"):
        extract_features(paths, {"kind": "speech_encoder", "model": str(tiny_hubert_dir), "layer": 9})
    result = extract_features(paths, {"kind": "speech_encoder", "model": str(tiny_hubert_dir)}, num_workers=2)
    assert [a.shape for a in result.features.values()] == [(49, 32), (49, 32)] and not result.failed
