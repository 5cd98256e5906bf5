"""``wave_av_lstm``: end-to-end audio-visual CNN + LSTM of the dynamic-joint-loss paper (after Tzirakis et al.).

Audio branch (raw 16 kHz waveform, 6 s): Conv1d of 40 filters of 5 ms (80 taps) -> max-pool 2 in time ->
Conv1d of 40 filters of 500 ms (4000 taps at the pooled 8 kHz rate; FFT convolution, see
:mod:`emomtl.models.fft_conv`) -> max-pool of 10 across channels (40 -> 4 maps).
Video branch: a ResNet-50 (or 18/34) per 96x96 face crop, average-pooled to one vector per frame.

**Time alignment.** The LSTM runs over time steps. With video, there is one step per video frame: the pooled audio
signal is cut into ``frames`` equal chunks of ``pooled_samples // frames`` samples (fixed at construction from
``input_shapes``; 48,000 / 150 = 320 samples = 40 ms at 25 fps), each chunk's 4 maps x 320 samples flattened to
1280 features and concatenated with that frame's ResNet vector; both sequences are cut to the shorter one.
Audio-only, the steps are chunks of ``step_ms`` (40 ms) of the pooled signal. The per-step features go through a
2-layer LSTM of 256 cells (Glorot initialisation, dropout 0.5), summarised by the ``last`` step (or the ``mean``)
and fed to a head per task. ``modalities``: ``audio`` (UM-A), ``video`` (UM-V), ``audio+video`` (MM).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.models.base import MultiTaskModel
from emomtl.models.fft_conv import ConvMethod, LongConv1d
from emomtl.models.heads import TaskHeads
from emomtl.models.layers import glorot_init_lstm, pool_sequence
from emomtl.models.registry import register_model
from emomtl.models.resnet import ResNet
from emomtl.models.settings import require_positive, require_probability
from emomtl.models.tasks import TaskSpec


@dataclass
class WaveAVLSTMSettings:
    """Paper sizes; every width and depth can be changed."""

    modalities: Literal["audio", "video", "audio+video"] = "audio+video"
    sample_rate: int = 16000
    audio_filters: list[int] = field(default_factory=lambda: [40, 40])
    audio_kernel_ms: list[float] = field(default_factory=lambda: [5.0, 500.0])
    audio_time_pool: int = 2
    channel_pool: int = 10
    step_ms: float = 40.0
    resnet_depth: Literal[18, 34, 50] = 50
    resnet_width: int = 64
    lstm_hidden: int = 256
    lstm_layers: int = 2
    dropout: float = 0.5
    pooling: Literal["last", "mean"] = "last"
    #: ``layer``: LayerNorm over each step's features before the LSTM (not in the paper, whose default ``none`` this
    #: keeps). The max-pooled 500 ms maps of a waveform are small and nearly constant across utterances, so without
    #: it the LSTM barely tells inputs apart (``python benchmarks/wave_front_end.py``).
    step_norm: Literal["none", "layer"] = "none"
    head_hidden: int | None = None
    conv_method: ConvMethod = "auto"
    fft_min_kernel: int = 256

    def check(self, where: str) -> None:
        require_positive(
            where,
            sample_rate=self.sample_rate,
            audio_filters=self.audio_filters,
            audio_kernel_ms=self.audio_kernel_ms,
            audio_time_pool=self.audio_time_pool,
            channel_pool=self.channel_pool,
            step_ms=self.step_ms,
            resnet_width=self.resnet_width,
            lstm_hidden=self.lstm_hidden,
            lstm_layers=self.lstm_layers,
            fft_min_kernel=self.fft_min_kernel,
        )
        require_probability(where, dropout=self.dropout)
        if len(self.audio_filters) != len(self.audio_kernel_ms):
            raise ConfigError(
                f"{where}.audio_kernel_ms: {len(self.audio_kernel_ms)} kernels for {len(self.audio_filters)} "
                f"audio_filters; give one kernel per convolution"
            )
        if self.audio_filters[-1] % self.channel_pool:
            raise ConfigError(
                f"{where}.channel_pool: {self.channel_pool} does not divide the last audio_filters "
                f"({self.audio_filters[-1]})"
            )

    @property
    def uses_audio(self) -> bool:
        return "audio" in self.modalities

    @property
    def uses_video(self) -> bool:
        return "video" in self.modalities

    def kernel_taps(self) -> list[int]:
        """Kernel lengths in samples: the first layer at ``sample_rate``, later ones at the time-pooled rate."""
        rates = [self.sample_rate] + [self.sample_rate / self.audio_time_pool] * (len(self.audio_filters) - 1)
        return [max(1, round(ms * rate / 1000)) for ms, rate in zip(self.audio_kernel_ms, rates)]


class RawAudioFrontEnd(nn.Module):
    """Waveform (B, N) -> pooled maps (B, filters[-1] / channel_pool, N / time_pool)."""

    def __init__(self, settings: WaveAVLSTMSettings) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 1
        for index, (filters, taps) in enumerate(zip(settings.audio_filters, settings.kernel_taps())):
            layers += [
                LongConv1d(in_channels, filters, taps, "same", method=settings.conv_method,
                           fft_min_kernel=settings.fft_min_kernel),
                nn.ReLU(),
            ]
            if index == 0:
                layers.append(nn.MaxPool1d(settings.audio_time_pool))
            in_channels = filters
        self.convs = nn.Sequential(*layers)
        self.channel_pool = settings.channel_pool
        self.out_channels = in_channels // settings.channel_pool

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        maps = self.convs(waveform.unsqueeze(1))
        batch, channels, length = maps.shape
        return maps.view(batch, channels // self.channel_pool, self.channel_pool, length).amax(dim=2)


def chunk_steps(maps: torch.Tensor, step: int) -> torch.Tensor:
    """(B, C, T) -> (B, T // step, C * step): consecutive chunks of ``step`` samples flattened per time step."""
    batch, channels, length = maps.shape
    steps = length // step
    chunks = maps[..., : steps * step].reshape(batch, channels, steps, step)
    return chunks.permute(0, 2, 1, 3).reshape(batch, steps, channels * step)


@register_model
class WaveAVLSTM(MultiTaskModel):
    """Raw-waveform CNN and/or per-frame ResNet, concatenated per time step, 2-layer LSTM, a head per task."""

    name = "wave_av_lstm"
    aligned_inputs = ("waveform", "video")
    summary = "raw-waveform CNN (5 ms + 500 ms FFT conv) + ResNet-18/34/50 face frames -> 2-layer LSTM (AV, UM-A, UM-V)"
    Settings = WaveAVLSTMSettings

    def __init__(
        self, settings: WaveAVLSTMSettings, tasks: Sequence[TaskSpec], input_shapes: Mapping[str, tuple[int, ...]]
    ) -> None:
        super().__init__(tasks)
        self.settings = settings
        keys = (["waveform"] if settings.uses_audio else []) + (["video"] if settings.uses_video else [])
        for key, modality in (("waveform", "audio"), ("video", "video")):
            if key in keys:
                self.require_inputs(input_shapes, [key], "model.modalities", modality)
        self.input_keys = tuple(keys)
        step_features = 0
        self.audio: RawAudioFrontEnd | None = None
        self.video: ResNet | None = None
        if settings.uses_audio:
            (samples,) = self.input_shape(input_shapes, "waveform", 1, "model.modalities", "(samples,)")
            self.audio = RawAudioFrontEnd(settings)
            pooled = samples // settings.audio_time_pool
            if settings.uses_video:
                frames = self.input_shape(input_shapes, "video", 4, "model.modalities", "(frames, 3, H, W)")[0]
                self.audio_step = pooled // frames
                if self.audio_step < 1:
                    raise ConfigError(
                        f"model.modalities: {frames} video frames but only {pooled} pooled audio samples; "
                        "audio and video steps cannot be aligned"
                    )
            else:
                self.audio_step = round(settings.step_ms * settings.sample_rate / settings.audio_time_pool / 1000)
                if not 1 <= self.audio_step <= pooled:
                    raise ConfigError(
                        f"model.step_ms: {settings.step_ms} ms gives {self.audio_step} pooled samples per step; "
                        f"the input has {pooled}"
                    )
            step_features += self.audio.out_channels * self.audio_step
        if settings.uses_video:
            shape = self.input_shape(input_shapes, "video", 4, "model.modalities", "(frames, 3, H, W)")
            if shape[1] != 3:
                raise ConfigError(f"model.modalities: video frames must have 3 colour channels, got shape {shape}")
            self.video = ResNet(settings.resnet_depth, settings.resnet_width)
            step_features += self.video.out_features
        self.step_features = step_features
        self.step_norm = nn.LayerNorm(step_features) if settings.step_norm == "layer" else nn.Identity()
        self.lstm = glorot_init_lstm(
            nn.LSTM(
                step_features,
                settings.lstm_hidden,
                num_layers=settings.lstm_layers,
                batch_first=True,
                dropout=settings.dropout if settings.lstm_layers > 1 else 0.0,
            )
        )
        self.heads = TaskHeads(list(self.tasks.values()), settings.lstm_hidden, settings.head_hidden, settings.dropout)

    def step_sequences(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Per-time-step features (B, steps, step_features), audio and video aligned step by step."""
        parts: list[torch.Tensor] = []
        if self.audio is not None:
            parts.append(chunk_steps(self.audio(inputs["waveform"]), self.audio_step))
        if self.video is not None:
            video = inputs["video"]
            batch, frames = video.shape[:2]
            parts.append(self.video(video.flatten(0, 1)).view(batch, frames, -1))
        steps = min(part.shape[1] for part in parts)
        return torch.cat([part[:, :steps] for part in parts], dim=-1)

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        sequence, _ = self.lstm(self.step_norm(self.step_sequences(inputs)))
        shared = self._remember_shared(pool_sequence(sequence, self.settings.pooling))
        return self.heads(shared)
