"""Whisper's encoder as a trainable speech branch (``model.speech_encoder: {type: whisper, path: base}``).

The packaged CTranslate2 weights (``tiny.en``, ``base``, or a folder with a ``model.bin``) are loaded into
transformers' ``WhisperEncoder`` by :mod:`emomtl.features.whisper`. ``num_layers`` truncates the encoder after
that many layers (a middle layer is what carries emotion); ``train_top`` trains only the top N of the kept layers
(``null``: all of them). The front end (log-mel, the two convolutions, the positional table) is always frozen.
Each utterance's log-mel is computed on its valid samples only (Whisper's per-utterance max - 8 dB floor), and
padded frames are masked out of self-attention, so a padded batch gives each utterance the states it has alone
(up to the convolution border).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.features.whisper.encoder import frame_mask, hidden_states
from emomtl.models.speech_encoders import EncoderSpec, SpeechEncoderModule

N_FFT = 400
HOP = 160


class WhisperSpeechEncoder(SpeechEncoderModule):
    """Waveform (B, samples) at 16 kHz -> Whisper encoder states (B, frames, d_model) at 50 frames per second."""

    def __init__(self, encoder: nn.Module, n_mels: int) -> None:
        super().__init__()
        from transformers import WhisperFeatureExtractor

        self.encoder = encoder
        self.width = int(encoder.config.d_model)
        filters = WhisperFeatureExtractor(feature_size=n_mels).mel_filters  # (freqs, mels), Slaney as in Whisper
        self.register_buffer("mel_filters", torch.from_numpy(np.asarray(filters, dtype=np.float32).T.copy()),
                             persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    @classmethod
    def from_spec(cls, spec: EncoderSpec, setting: str) -> "WhisperSpeechEncoder":
        from emomtl.features.whisper.checkpoint import read_variables
        from emomtl.features.whisper.encoder import build_encoder, layer_count
        from emomtl.features.whisper.packages import model_file

        _, variables = read_variables(model_file(spec.path), prefix="encoder/")
        total = layer_count(variables)
        keep = total if spec.num_layers is None else spec.num_layers
        if not 1 <= keep <= total:
            raise ConfigError(f"{setting}.num_layers: {spec.path!r} has {total} layers; got {spec.num_layers}")
        if spec.train_top is not None and not 0 <= spec.train_top <= keep:
            raise ConfigError(f"{setting}.train_top: between 0 and num_layers ({keep}); got {spec.train_top}")
        module = cls(build_encoder(variables, keep), int(variables["encoder/conv1/weight"].shape[1]))
        module.train_top = spec.train_top
        return module

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """(n_mels, frames) log-mel of one utterance, as Whisper computes it (``log10``, max - 8 floor, scaled)."""
        spectrum = torch.stft(waveform, N_FFT, HOP, window=self.window, return_complex=True)
        power = spectrum[..., :-1].abs() ** 2
        log_spec = torch.clamp(self.mel_filters @ power, min=1e-10).log10()
        log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
        return (log_spec + 4.0) / 4.0

    def _lengths(self, waveform: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        if valid is None:
            return torch.full((waveform.shape[0],), waveform.shape[-1], dtype=torch.long, device=waveform.device)
        return valid.long().sum(dim=1)

    @staticmethod
    def _frames(samples: torch.Tensor) -> torch.Tensor:
        """Encoder frames of utterances of ``samples`` samples (mel frames = samples // hop; conv2 has stride 2)."""
        mel_frames = torch.div(samples, HOP, rounding_mode="floor").clamp(min=1)
        return torch.div(mel_frames + 1, 2, rounding_mode="floor")

    def forward(self, waveform: torch.Tensor, valid: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        limit = self.encoder.embed_positions.num_embeddings * 2 * HOP  # 30 s for every released Whisper
        if waveform.shape[-1] > limit:
            raise ConfigError("model.speech_encoder: this Whisper branch takes at most "
                              f"{limit / 16_000:g} s per input, "
                              f"got {waveform.shape[-1] / 16_000:g} s; crop the waveform (inputs.waveform.length)")
        lengths = self._lengths(waveform, valid)
        with torch.no_grad():  # the front end is frozen and has no parameters before conv1
            mels = [self.log_mel(w[: max(int(n), N_FFT)]) for w, n in zip(waveform, lengths)]
            longest = max(m.shape[-1] for m in mels)
            mel = torch.stack([nn.functional.pad(m, (0, longest - m.shape[-1])) for m in mels])
        frames = torch.tensor([(m.shape[-1] + 1) // 2 for m in mels], device=mel.device)
        x = hidden_states(self.encoder, mel, frames)[-1]
        return x, (frame_mask(frames, x.shape[1]) if valid is not None else None)

    def output_steps(self, waveform: torch.Tensor, valid: torch.Tensor | None = None
                     ) -> tuple[int, torch.Tensor | None]:
        frames = self._frames(self._lengths(waveform, valid).clamp(min=N_FFT))
        steps = int(frames.max())
        if valid is None:
            return steps, None
        return steps, frame_mask(frames, steps)

    def freeze_front_end(self) -> list[str]:
        """Freeze the convolutions and the positional table; with ``train_top``, every layer below the top N."""
        frozen = ["conv1", "conv2", "embed_positions"]
        for name in frozen:
            for parameter in getattr(self.encoder, name).parameters():
                parameter.requires_grad_(False)
        top = getattr(self, "train_top", None)
        if top is not None:
            below = len(self.encoder.layers) - top
            for index, layer in enumerate(self.encoder.layers):
                if index < below:
                    layer.requires_grad_(False)
                    frozen.append(f"layers.{index}")
        return frozen

