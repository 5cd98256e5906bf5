"""``cnn_blstm_att``: CNN-BLSTM with self-attention and local attention pooling (the CNN-BLSTM paper).

128-mel log-spectrogram of 256 frames (mels as channels) -> Conv1d 512/1024/2048 filters, kernels 3/1/3 (batch norm,
ReLU) -> dense bottleneck of 512 per frame -> 2-layer BLSTM of 128 units per direction -> 16-head scaled
dot-product self-attention -> local attention pooling (softmax(u . h_t)-weighted mean) -> emotion and speaker
heads (any task set). Dropout 0.35. Whole recordings (``inputs.logmel.length: null``) are batched with a padding
mask that every layer honours (batch norm's statistics included), so padding never changes a recording's
output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.models.base import MultiTaskModel
from emomtl.models.heads import TaskHeads
from emomtl.models.layers import LocalAttentionPooling, masked_batch_norm
from emomtl.models.registry import register_model
from emomtl.models.settings import require_divisible, require_positive, require_probability
from emomtl.models.tasks import TaskSpec


@dataclass
class CNNBLSTMAttSettings:
    """Paper sizes."""

    conv_channels: list[int] = field(default_factory=lambda: [512, 1024, 2048])
    conv_kernels: list[int] = field(default_factory=lambda: [3, 1, 3])
    bottleneck: int = 512
    lstm_hidden: int = 128
    lstm_layers: int = 2
    attention_heads: int = 16
    dropout: float = 0.35
    head_hidden: int | None = None

    def check(self, where: str) -> None:
        require_positive(
            where, conv_channels=self.conv_channels, conv_kernels=self.conv_kernels, bottleneck=self.bottleneck,
            lstm_hidden=self.lstm_hidden, lstm_layers=self.lstm_layers, attention_heads=self.attention_heads,
        )
        require_probability(where, dropout=self.dropout)
        if len(self.conv_channels) != len(self.conv_kernels):
            raise ConfigError(
                f"{where}.conv_kernels: {len(self.conv_kernels)} kernels for {len(self.conv_channels)} conv_channels"
            )
        require_divisible(where, "attention_heads", 2 * self.lstm_hidden, self.attention_heads, "BLSTM output")


@register_model
class CNNBLSTMAtt(MultiTaskModel):
    """Conv1d stack, bottleneck, BLSTM, multi-head self-attention, attention pooling, a head per task."""

    name = "cnn_blstm_att"
    summary = "Conv1d 512/1024/2048 + BLSTM 2x128 + 16-head self-attention + attention pooling on 128-mel (CNN-BLSTM)"
    Settings = CNNBLSTMAttSettings

    def __init__(
        self, settings: CNNBLSTMAttSettings, tasks: Sequence[TaskSpec], input_shapes: Mapping[str, tuple[int, ...]]
    ) -> None:
        super().__init__(tasks)
        self.settings = settings
        self.require_inputs(input_shapes, ["logmel"], "model.name", "cnn_blstm_att (log-mel input)")
        self.input_keys = ("logmel",)
        self.optional_input_keys = ("logmel_mask",)
        mels, _ = self.input_shape(input_shapes, "logmel", 2, "model.name", "(n_mels, frames)")
        layers: list[nn.Module] = []
        in_channels = mels
        for channels, kernel in zip(settings.conv_channels, settings.conv_kernels):
            layers += [
                nn.Conv1d(in_channels, channels, kernel, padding=kernel // 2),
                nn.BatchNorm1d(channels),
                nn.ReLU(inplace=True),
                nn.Dropout(settings.dropout),
            ]
            in_channels = channels
        self.convs = nn.Sequential(*layers)
        self.bottleneck = nn.Sequential(
            nn.Linear(in_channels, settings.bottleneck), nn.ReLU(), nn.Dropout(settings.dropout)
        )
        self.blstm = nn.LSTM(
            settings.bottleneck, settings.lstm_hidden, num_layers=settings.lstm_layers, batch_first=True,
            bidirectional=True, dropout=settings.dropout if settings.lstm_layers > 1 else 0.0,
        )
        width = 2 * settings.lstm_hidden
        self.attention = nn.MultiheadAttention(width, settings.attention_heads, dropout=settings.dropout,
                                               batch_first=True)
        self.pooling = LocalAttentionPooling(width)
        self.heads = TaskHeads(list(self.tasks.values()), width, settings.head_hidden, settings.dropout)

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        valid = inputs.get("logmel_mask")
        pooled = self._unmasked(inputs["logmel"]) if valid is None else self._masked(inputs["logmel"], valid)
        return self.heads(self._remember_shared(pooled))

    def _unmasked(self, logmel: torch.Tensor) -> torch.Tensor:
        """The pooled vector of fixed-length crops (the paper's 256 frames): every frame counts."""
        sequence, _ = self.blstm(self.bottleneck(self.convs(logmel).transpose(1, 2)))
        attended, _ = self.attention(sequence, sequence, sequence, need_weights=False)
        return self.pooling(attended)

    def _masked(self, logmel: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """The pooled vector of padded batches (``inputs.logmel.length: null``), independent of the padding: padded
        frames are zeroed before each convolution (like its own zero padding), batch norm takes its statistics over
        the valid frames only (in training too), the BLSTM runs on packed sequences, and attention and pooling
        ignore them. A row without any valid frame keeps its first one, so it gives a finite output."""
        valid = valid.clone()
        valid[~valid.any(dim=1), 0] = True
        keep = valid.unsqueeze(1).to(logmel.dtype)
        x = logmel
        for layer in self.convs:
            if isinstance(layer, nn.Conv1d):
                x = layer(x[..., : keep.shape[-1]] * keep)  # an even kernel adds a frame: cut back to the mask
            elif isinstance(layer, nn.BatchNorm1d):
                x = masked_batch_norm(layer, x[..., : keep.shape[-1]], valid)
            else:
                x = layer(x)
        x = x[..., : keep.shape[-1]]
        steps = self.bottleneck((x * keep).transpose(1, 2))
        lengths = valid.sum(dim=1).cpu()  # at least 1 per row (above)
        packed = nn.utils.rnn.pack_padded_sequence(steps, lengths, batch_first=True, enforce_sorted=False)
        sequence, _ = self.blstm(packed)
        sequence, _ = nn.utils.rnn.pad_packed_sequence(sequence, batch_first=True, total_length=steps.shape[1])
        attended, _ = self.attention(sequence, sequence, sequence, key_padding_mask=~valid, need_weights=False)
        return self.pooling(attended, valid)
