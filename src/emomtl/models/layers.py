"""Building blocks shared by several architectures: pooling over time, masked batch norm, LSTM initialisation."""

from __future__ import annotations

import torch
from torch import nn


def masked_mean(sequence: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over time of ``sequence`` (B, T, D), counting only steps where ``valid`` (B, T) is true."""
    if valid is None:
        return sequence.mean(dim=1)
    weights = valid.to(sequence.dtype).unsqueeze(-1)
    return (sequence * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def masked_batch_norm(layer: nn.BatchNorm1d, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``layer`` applied to ``x`` (B, C, T) with batch statistics over the valid frames only (``valid`` (B, T)).

    In training the mean and variance of the frames where ``valid`` is true normalise the batch and update the
    layer's running statistics (PyTorch's momentum rule, unbiased variance), so padding neither shifts a recording's
    normalisation nor the statistics used at inference; in evaluation the running statistics apply, as in
    ``nn.BatchNorm1d``. Uses the layer's own parameters and buffers: checkpoints are unchanged.
    """
    use_batch = layer.training or layer.running_mean is None
    if use_batch:
        keep = valid.unsqueeze(1).to(torch.float32)
        values = x.float()
        count = keep.sum()
        mean = (values * keep).sum(dim=(0, 2)) / count.clamp_min(1.0)
        var = (((values - mean[None, :, None]) ** 2) * keep).sum(dim=(0, 2)) / count.clamp_min(1.0)
        if layer.training and layer.running_mean is not None:  # None without track_running_stats
            with torch.no_grad():
                layer.num_batches_tracked.add_(1)
                momentum = (1.0 / float(layer.num_batches_tracked) if layer.momentum is None
                            else layer.momentum)
                unbiased = var * count / (count - 1).clamp_min(1.0)
                layer.running_mean.mul_(1 - momentum).add_(momentum * mean)
                layer.running_var.mul_(1 - momentum).add_(momentum * unbiased)
    else:
        mean, var = layer.running_mean.float(), layer.running_var.float()
    out = (x.float() - mean[None, :, None]) * torch.rsqrt(var[None, :, None] + layer.eps)
    if layer.affine:
        out = out * layer.weight.float()[None, :, None] + layer.bias.float()[None, :, None]
    return out.to(x.dtype)


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
