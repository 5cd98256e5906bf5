"""Fixture trees for the corpus adapters: real file names, short generated audio."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile

WriteWav = Callable[..., Path]


def write_wav(path: Path, seconds: float = 0.25, sample_rate: int = 16000, kind: str = "sine",
              channels: int = 1) -> Path:
    """A short sine (or noise) recording at ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    seed = sum(path.name.encode())
    signal = (0.3 * np.sin(2 * np.pi * (150 + seed % 200) * t) if kind == "sine"
              else np.random.default_rng(seed).normal(0, 0.1, n))
    data = np.repeat(signal[:, None], channels, axis=1) if channels > 1 else signal
    soundfile.write(str(path), data.astype(np.float32), sample_rate, subtype="PCM_16")
    return path


@pytest.fixture
def wav() -> WriteWav:
    """``wav(path, seconds=0.25, sample_rate=16000, kind='sine')`` writes a short recording."""
    return write_wav


@pytest.fixture
def touch() -> Callable[[Path, bytes], Path]:
    """``touch(path, content=b'')`` writes a (non-audio) file."""

    def _touch(path: Path, content: bytes = b"") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    return _touch
