"""Building blocks shared by several architectures: pooling over time, LSTM initialisation."""

from __future__ import annotations

import torch
from torch import nn


def masked_mean(sequence: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over time of ``sequence`` (B, T, D), counting only steps where ``valid`` (B, T) is true."""
    if valid is None:
        return sequence.mean(dim=1)
    weights = valid.to(sequence.dtype).unsqueeze(-1)
    return (sequence * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


class LocalAttentionPooling(nn.Module):
    """Weighted mean over time with weights ``softmax_t(u · h_t)`` (Mirsamadi et al., 2017).

    ``u`` is a learned vector; padded steps (``valid`` false) get zero weight.
    """

    def __init__(self, features: int) -> None:
        super().__init__()
        self.score = nn.Linear(features, 1, bias=False)

    def forward(self, sequence: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        scores = self.score(sequence).squeeze(-1)
        if valid is not None:
            scores = scores.masked_fill(~valid, float("-inf"))
        weights = torch.softmax(scores, dim=1).unsqueeze(-1)
        return (weights * sequence).sum(dim=1)


def glorot_init_lstm(lstm: nn.LSTM) -> nn.LSTM:
    """Glorot (Xavier) uniform input and recurrent weights, zero biases, as in the end-to-end AV papers."""
    for name, parameter in lstm.named_parameters():
        if name.startswith("weight"):
            nn.init.xavier_uniform_(parameter)
        else:
            nn.init.zeros_(parameter)
    return lstm


def pool_sequence(sequence: torch.Tensor, how: str) -> torch.Tensor:
    """Summarise an LSTM output (B, T, D) by its ``last`` step or its ``mean`` over time."""
    return sequence[:, -1] if how == "last" else sequence.mean(dim=1)
