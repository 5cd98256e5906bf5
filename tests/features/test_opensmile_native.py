"""openSMILE through its HTK sink gives exactly the Python API's values, in threads too, and falls back cleanly."""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from emomtl.features import opensmile_features
from emomtl.features.base import create_extractor
from emomtl.features.opensmile_native import HtkSmile, read_htk

opensmile = pytest.importorskip("opensmile")
pytestmark = pytest.mark.filterwarnings("ignore:Segment too short")

LEVELS = {"functionals": opensmile.FeatureLevel.Functionals, "lld": opensmile.FeatureLevel.LowLevelDescriptors,
          "lld_deltas": opensmile.FeatureLevel.LowLevelDescriptors_Deltas}


def signals(voice_like) -> dict[str, np.ndarray]:
    loud = voice_like(seconds=0.7, f0=220.0, seed=1)
    return {"voice": voice_like(seconds=1.3), "loud": 0.999 * loud / np.abs(loud).max(),
            "noise": np.random.default_rng(2).normal(0, 0.05, 9000).astype(np.float32),
            "too short": np.full(200, 1e-3, dtype=np.float32)}


@pytest.mark.parametrize(("feature_set", "level"), [("ComParE_2016", "functionals"), ("eGeMAPSv02", "functionals"),
                                                    ("eGeMAPSv02", "lld"), ("ComParE_2016", "lld_deltas")])
def test_htk_sink_is_bit_identical_to_the_python_api(feature_set: str, level: str, voice_like) -> None:
    smile = opensmile.Smile(opensmile.FeatureSet[feature_set], LEVELS[level])
    native = HtkSmile(smile)
    for name, signal in signals(voice_like).items():
        expected = smile.process_signal(signal, 16000).to_numpy(dtype=np.float32)
        got = native(signal, 16000)
        if name == "too short":  # the API fills a NaN row where openSMILE wrote no frame
            assert np.isnan(expected).all() and got.shape == (0, native.dim)
            continue
        assert got.shape == expected.shape, name
        assert np.array_equal(got, expected, equal_nan=True), name
    folder = native._folder
    del native
    gc.collect()
    assert not folder.exists()  # the sink's temporary folder goes with the runner


def test_extractor_output_matches_the_python_api_path_in_threads(monkeypatch, voice_like) -> None:
    extractor = create_extractor({"kind": "opensmile", "feature_set": "ComParE_2016", "min_seconds": 0.0})
    inputs = [voice_like(seconds=0.4 + 0.1 * i, f0=120.0 + 10 * i, seed=i) for i in range(6)]
    inputs.append(np.full(200, 1e-3, dtype=np.float32))
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(extractor.from_prepared, inputs))
    assert extractor._native is not None
    slow = create_extractor({"kind": "opensmile", "feature_set": "ComParE_2016", "min_seconds": 0.0})
    monkeypatch.setattr(slow, "_build_native", lambda: None)
    for fast, signal in zip(threaded, inputs):
        assert np.array_equal(fast, slow.from_prepared(signal))
    assert not np.any(threaded[-1]) and threaded[-1].shape == (6373,)  # too short: NaN row, then 0
    assert [p.name for p in extractor._native._folder.iterdir()] == ["htk_sink.conf.inc"]  # no output left over


def test_unavailable_htk_sink_warns_and_uses_the_python_api(monkeypatch, voice_like) -> None:
    def broken(smile):
        raise RuntimeError("no cHtkSink in this build")

    monkeypatch.setattr(opensmile_features, "HtkSmile", broken)
    extractor = create_extractor({"kind": "opensmile", "feature_set": "eGeMAPSv02"})
    with pytest.warns(UserWarning, match="HTK sink is unavailable"):
        features = extractor.from_prepared(voice_like(seconds=0.5))
    smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
    assert np.array_equal(features, smile.process_signal(voice_like(seconds=0.5), 16000).to_numpy(np.float32)[0])


def test_truncated_htk_file_is_an_error(tmp_path) -> None:
    path = tmp_path / "broken.htk"
    path.write_bytes(b"\x00\x00\x00\x02\x00\x00\x00\x01\x00\x08\x00\x09" + b"\x00" * 4)  # says 2 frames of 8 bytes
    with pytest.raises(RuntimeError, match="2 x 8 bytes"):
        read_htk(path, 2)
    path.write_bytes(b"")
    assert read_htk(path, 3).shape == (0, 3)
