"""The real corpora in ../shared/data (opt in with --run-slow; skipped when absent)."""

from __future__ import annotations

import pytest

from emomtl.data.describe import describe
from emomtl.data.protocols import make_splits
from emomtl.data.corpora import load_corpus

pytestmark = pytest.mark.slow

EMODB_EMOTIONS = {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69, "happiness": 71, "sadness": 62, "neutral": 79}


def _root(shared_data, name):
    root = shared_data / name
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    return root


def test_emodb_has_the_published_counts(shared_data):
    summary = describe("emodb", _root(shared_data, "emodb"))
    assert summary["files"] == 535 and summary["speakers"] == 10 and summary["skipped_count"] == 0
    assert summary["labels"]["emotion"] == dict(sorted(EMODB_EMOTIONS.items()))
    assert summary["labels"]["gender"] == {"female": 302, "male": 233}


def test_turev_has_the_published_counts(shared_data):
    summary = describe("turev-db", _root(shared_data, "turev-db"))
    assert summary["files"] == 1735 and summary["speakers"] == 6 and summary["skipped_count"] == 0
    assert summary["labels"]["emotion"] == {"anger": 487, "calm": 408, "happiness": 357, "sadness": 483}


def test_loso_on_emodb_never_leaks(shared_data):
    table = load_corpus("emodb", _root(shared_data, "emodb"), check_audio=False).table
    splits = make_splits(table, "loso", seed=0)
    assert len(splits) == 10
    for split in splits:
        speakers = table["speaker"].to_numpy()
        assert not set(speakers[split.train]) & set(speakers[split.test])


@pytest.mark.parametrize("name", ["emodb", "turev-db"])
def test_opensmile_htk_sink_matches_the_python_api_on_real_files(shared_data, name):
    opensmile = pytest.importorskip("opensmile")
    import numpy as np

    from emomtl.data.audio import load_audio
    from emomtl.features.opensmile_native import HtkSmile

    paths = load_corpus(name, _root(shared_data, name), check_audio=False).table["path"].tolist()[::60]
    smile = opensmile.Smile(opensmile.FeatureSet.ComParE_2016, opensmile.FeatureLevel.Functionals)
    native = HtkSmile(smile)
    for path in paths:
        signal = load_audio(path, 16000)
        expected = smile.process_signal(signal, 16000).to_numpy(dtype=np.float32)
        assert np.array_equal(native(signal, 16000), expected, equal_nan=True), path
