"""Raw waveform features: the front-end signal itself, float32 samples at the model rate."""

from __future__ import annotations

import dataclasses

import numpy as np

from emomtl.features.base import AudioExtractor, AudioOptions


@dataclasses.dataclass(frozen=True)
class WaveformOptions(AudioOptions):
    """Only the shared front-end options (trim, normalise, minimum length)."""


class WaveformExtractor(AudioExtractor):
    """Output: ``(samples,)`` float32 at :attr:`sample_rate` (e.g. 6 s at 16 kHz = 96,000 samples after cropping)."""

    kind = "waveform"
    Options = WaveformOptions

    @property
    def input_name(self) -> str:
        return "waveform"

    @property
    def frames_per_second(self) -> float:
        return float(self.sample_rate)

    def from_prepared(self, signal: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(signal, dtype=np.float32)
