"""Generated test signals shared by the feature and model tests (import it; it is not a conftest)."""

from __future__ import annotations

import numpy as np


def voice_like(seconds: float = 1.0, rate: int = 16000, f0: float = 150.0, seed: int = 0) -> np.ndarray:
    """A harmonic tone with a little noise: enough structure for pitch and spectral features."""
    t = np.arange(int(round(seconds * rate))) / rate
    harmonics = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
    noise = np.random.default_rng(seed).normal(scale=0.01, size=t.size)
    return (0.2 * harmonics * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + noise).astype(np.float32)
