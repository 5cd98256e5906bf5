"""A worker process that dies costs only the item it was working on."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from dying_extractor import DyingExtractor
from emomtl.features import extract_features


def test_dead_worker_loses_only_its_own_item(tmp_path):
    paths = []
    for name in ["a.wav", "b.wav", "die.wav", "c.wav", "d.wav", "e.wav"]:
        sf.write(tmp_path / name, np.full(1600, 0.1, dtype=np.float32), 16000)
        paths.append(str(tmp_path / name))
    result = extract_features(paths, DyingExtractor(DyingExtractor.Options()), num_workers=2)
    assert sorted(result.failed) == [str(tmp_path / "die.wav")]
    assert "died" in result.failed[str(tmp_path / "die.wav")]
    assert len(result.features) == 5
