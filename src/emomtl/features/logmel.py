"""Log-mel spectrogram features (librosa), shape ``(n_mels, frames)``."""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np

from emomtl.features.base import AudioExtractor, AudioOptions, is_number, require


@dataclasses.dataclass(frozen=True)
class LogMelOptions(AudioOptions):
    """Mel filterbank, STFT and log-compression settings.

    ``scale="db"`` is ``librosa.power_to_db(mel, ref=1.0, amin=log_offset, top_db=top_db)``; ``scale="log"`` is
    ``log(mel + log_offset)``. ``per_utterance_norm`` standardises each mel band over the utterance's frames.
    """

    n_mels: int = 64
    n_fft: int = 400
    hop_length: int = 160
    win_length: int | None = None
    window: str = "hann"
    center: bool = True
    fmin: float = 0.0
    fmax: float | None = None
    power: float = 2.0
    scale: str = "db"
    log_offset: float = 1e-10
    top_db: float | None = 80.0
    per_utterance_norm: bool = False

    def check(self, setting: str, sample_rate: int) -> None:
        super().check(setting, sample_rate)
        for name in ("n_mels", "n_fft", "hop_length"):
            value = getattr(self, name)
            require(isinstance(value, int) and not isinstance(value, bool) and value > 0, setting, name,
                    "must be a positive integer")
        win = self.win_length
        require(win is None or (isinstance(win, int) and 0 < win <= self.n_fft), setting, "win_length",
                f"must be null or an integer in 1..n_fft ({self.n_fft})")
        require(is_number(self.fmin) and self.fmin >= 0, setting, "fmin", "must be >= 0")
        require(self.fmax is None or (is_number(self.fmax) and self.fmin < self.fmax <= sample_rate / 2), setting,
                "fmax", f"must be null or in (fmin, Nyquist = {sample_rate / 2} Hz]")
        require(is_number(self.power) and self.power > 0, setting, "power", "must be positive (1 magnitude, 2 power)")
        require(self.scale in ("db", "log"), setting, "scale", "must be 'db' or 'log'")
        require(is_number(self.log_offset) and self.log_offset > 0, setting, "log_offset", "must be positive")
        require(self.top_db is None or (is_number(self.top_db) and self.top_db > 0), setting, "top_db",
                "must be null or positive")
        require(isinstance(self.per_utterance_norm, bool), setting, "per_utterance_norm", "must be true or false")


class LogMelExtractor(AudioExtractor):
    """Output: ``(n_mels, frames)`` float32, ``frames = 1 + samples // hop_length`` with ``center=True``."""

    kind = "logmel"
    Options = LogMelOptions

    @property
    def input_name(self) -> str:
        return "logmel"

    @property
    def time_axis(self) -> int:
        return 1

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.options.hop_length

    def from_prepared(self, signal: np.ndarray) -> np.ndarray:
        o = self.options
        mel = librosa.feature.melspectrogram(
            y=signal,
            sr=self.sample_rate,
            n_fft=o.n_fft,
            hop_length=o.hop_length,
            win_length=o.win_length,
            window=o.window,
            center=o.center,
            power=o.power,
            n_mels=o.n_mels,
            fmin=o.fmin,
            fmax=o.fmax,
        )
        if o.scale == "db":
            to_db = librosa.amplitude_to_db if o.power == 1.0 else librosa.power_to_db  # 20 log10 vs 10 log10
            features = to_db(mel, ref=1.0, amin=o.log_offset, top_db=o.top_db)
        else:
            features = np.log(mel + o.log_offset)
        if o.per_utterance_norm:
            mean = features.mean(axis=1, keepdims=True)
            std = features.std(axis=1, keepdims=True)
            features = (features - mean) / np.maximum(std, 1e-5)
        return np.ascontiguousarray(features, dtype=np.float32)
