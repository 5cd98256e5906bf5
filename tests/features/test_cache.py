"""FeatureCache: keyed by content + config + version, atomic writes, corrupt entries recomputed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emomtl.features import FeatureCache, create_extractor
from emomtl.features import cache as cache_module
from emomtl.features.cache import CacheWarning


class CountingCalls:
    """Wraps an extractor's ``compute`` and counts the calls."""

    def __init__(self, extractor) -> None:
        self.calls = 0
        original = extractor.compute

        def compute(item):
            self.calls += 1
            return original(item)

        extractor.compute = compute


def test_hit_after_miss_and_same_values(tmp_path: Path, voice_like, write_wav) -> None:
    path = write_wav(tmp_path / "a.wav", voice_like())
    extractor = create_extractor({"kind": "logmel"})
    counter = CountingCalls(extractor)
    cache = FeatureCache(tmp_path / "cache")
    first = cache.get_or_compute(path, extractor)
    second = cache.get_or_compute(path, extractor)
    assert counter.calls == 1
    np.testing.assert_array_equal(first, second)
    entries = list((tmp_path / "cache").rglob("*.npy"))
    assert len(entries) == 1 and entries[0].parent.parent.name.startswith("logmel-")
    assert (entries[0].parent.parent / "config.json").is_file()
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_changed_config_never_reuses_an_entry(tmp_path: Path, voice_like, write_wav) -> None:
    path = write_wav(tmp_path / "a.wav", voice_like())
    cache = FeatureCache(tmp_path / "cache")
    cache.get_or_compute(path, create_extractor({"kind": "logmel", "n_mels": 64}))
    other = create_extractor({"kind": "logmel", "n_mels": 40})
    assert cache.get_or_compute(path, other).shape[0] == 40
    resampled = create_extractor({"kind": "logmel", "n_mels": 64}, sample_rate=8000)
    assert cache.key(path, resampled) != cache.key(path, create_extractor({"kind": "logmel", "n_mels": 64}))


def test_feature_version_is_part_of_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, voice_like,
                                            write_wav) -> None:
    path = write_wav(tmp_path / "a.wav", voice_like())
    cache = FeatureCache(tmp_path / "cache")
    before = cache.key(path, create_extractor({"kind": "waveform"}))
    monkeypatch.setattr(cache_module, "FEATURE_VERSION", "999")
    assert cache.key(path, create_extractor({"kind": "waveform"})) != before


def test_changed_content_is_recomputed_and_same_content_elsewhere_is_reused(tmp_path: Path, voice_like,
                                                                            write_wav) -> None:
    path = write_wav(tmp_path / "a.wav", voice_like(f0=150))
    extractor = create_extractor({"kind": "waveform"})
    counter = CountingCalls(extractor)
    cache = FeatureCache(tmp_path / "cache")
    old = cache.get_or_compute(path, extractor)
    write_wav(path, voice_like(f0=220))
    new = cache.get_or_compute(path, extractor)
    assert counter.calls == 2 and not np.allclose(old, new)
    copy = tmp_path / "copy of a.wav"
    copy.write_bytes(path.read_bytes())
    cache.get_or_compute(copy, extractor)
    assert counter.calls == 2


def test_runtime_options_do_not_change_the_key(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    cpu = create_extractor({"kind": "text_encoder", "device": "cpu"})
    other = create_extractor({"kind": "text_encoder", "device": "cuda:0"})
    assert cache.key("hello", cpu) == cache.key("hello", other)
    assert cache.key("hello", cpu) != cache.key("hello!", cpu)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_entry_is_deleted_and_recomputed(tmp_path: Path, damage: str, voice_like, write_wav) -> None:
    path = write_wav(tmp_path / "a.wav", voice_like())
    extractor = create_extractor({"kind": "logmel"})
    counter = CountingCalls(extractor)
    cache = FeatureCache(tmp_path / "cache")
    good = cache.get_or_compute(path, extractor)
    entry = cache.path(cache.key(path, extractor))
    data = entry.read_bytes()
    entry.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00junk" * 50, "empty": b""}[damage])
    with pytest.warns(CacheWarning, match="corrupt"):
        again = cache.get_or_compute(path, extractor)
    assert counter.calls == 2
    np.testing.assert_array_equal(good, again)
    np.testing.assert_array_equal(np.load(entry), good)


def test_interrupted_write_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, voice_like,
                                          write_wav) -> None:
    path = write_wav(tmp_path / "a.wav", voice_like())
    extractor = create_extractor({"kind": "waveform"})
    cache = FeatureCache(tmp_path / "cache")
    key = cache.key(path, extractor)

    def killed_mid_write(handle, array, allow_pickle):
        handle.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_module.np, "save", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        cache.save(key, np.zeros(3), extractor)
    assert not cache.path(key).exists()
    assert not list((tmp_path / "cache").rglob("*.tmp"))
