"""Long 1-D convolutions computed with the FFT (overlap-save), numerically equal to ``F.conv1d``.

The 500 ms layer of ``wave_av_lstm`` has 4000 taps on a 48,000-sample signal: ~3e11 multiply-accumulates per clip
as a direct convolution. Overlap-save FFT convolution costs O(N log L) per channel plus one complex product per
frequency bin and channel pair, i.e. two to three orders of magnitude less. :class:`LongConv1d` behaves like
``nn.Conv1d`` (stride 1, same parameter layout) and switches to the FFT for kernels of ``fft_min_kernel`` taps
or more.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

ConvMethod = Literal["auto", "direct", "fft"]

def same_padding(kernel_size: int) -> tuple[int, int]:
    """Left/right padding that keeps the length, split like ``F.conv1d(padding='same')``."""
    left = (kernel_size - 1) // 2
    return left, kernel_size - 1 - left


def choose_block_length(kernel_size: int, output_length: int) -> int:
    """FFT block length: the smallest power of two of at least 2K - 1 samples, capped by the signal length.

    Each block then yields at least K outputs; on CPU, measured on the 4000-tap layer, longer blocks are no faster
    (the per-bin channel product dominates and small blocks stay in cache) and need more memory.
    """
    smallest = 1 << max(1, math.ceil(math.log2(2 * kernel_size - 1)))
    whole = 1 << max(1, math.ceil(math.log2(output_length + kernel_size - 1)))
    return min(smallest, whole)


def fft_conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    padding: int | tuple[int, int] | str = 0,
    block_length: int | None = None,
) -> torch.Tensor:
    """Cross-correlation of ``x`` (B, C_in, N) with ``weight`` (C_out, C_in, K), as ``F.conv1d`` computes it.

    Stride 1, no dilation, one group. ``padding`` is an int (both sides), a (left, right) pair or ``'same'``.
    Overlap-save: the padded signal is cut into blocks of ``block_length`` samples overlapping by K - 1; each
    block's circular correlation with the kernel is exact on its first ``block_length - K + 1`` outputs.
    """
    if x.dim() != 3 or weight.dim() != 3 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"fft_conv1d: input {tuple(x.shape)} and weight {tuple(weight.shape)} do not match")
    kernel_size = weight.shape[-1]
    if padding == "same":
        left, right = same_padding(kernel_size)
    elif isinstance(padding, int):
        left = right = padding
    else:
        left, right = padding  # type: ignore[misc]
    x = F.pad(x, (left, right))
    batch, _, length = x.shape
    out_channels = weight.shape[0]
    output_length = length - kernel_size + 1
    if output_length <= 0:
        raise ValueError(f"fft_conv1d: input of {length} samples is shorter than the {kernel_size}-tap kernel")
    block = block_length or choose_block_length(kernel_size, output_length)
    hop = block - kernel_size + 1
    if hop <= 0:
        raise ValueError(f"fft_conv1d: block length {block} must exceed the kernel size {kernel_size}")
    blocks = math.ceil(output_length / hop)
    x = F.pad(x, (0, (blocks - 1) * hop + block - length))
    frames = x.unfold(-1, block, hop)  # (B, C_in, blocks, block)
    signal_spectrum = torch.fft.rfft(frames, n=block)
    kernel_spectrum = torch.fft.rfft(weight, n=block).conj()
    product = torch.einsum("bcnf,ocf->bonf", signal_spectrum, kernel_spectrum)
    y = torch.fft.irfft(product, n=block)[..., :hop]
    y = y.reshape(batch, out_channels, blocks * hop)[..., :output_length]
    if bias is not None:
        y = y + bias[None, :, None]
    return y


class LongConv1d(nn.Module):
    """``nn.Conv1d`` with stride 1 whose forward uses the FFT for long kernels.

    ``method='auto'`` picks the FFT when ``kernel_size >= fft_min_kernel``; ``'direct'`` and ``'fft'`` force one
    path (both give the same numbers within float tolerance). Parameters are initialised like ``nn.Conv1d``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int | str = "same",
        bias: bool = True,
        method: ConvMethod = "auto",
        fft_min_kernel: int = 256,
    ) -> None:
        super().__init__()
        if method not in ("auto", "direct", "fft"):
            raise ValueError(f"LongConv1d: method {method!r} is not one of auto, direct, fft")
        reference = nn.Conv1d(in_channels, out_channels, kernel_size, bias=bias)
        self.weight = reference.weight
        self.bias = reference.bias
        self.padding = padding
        self.kernel_size = kernel_size
        self.method = method
        self.fft_min_kernel = fft_min_kernel

    @property
    def uses_fft(self) -> bool:
        """Whether the forward pass runs through the FFT."""
        return self.method == "fft" or (self.method == "auto" and self.kernel_size >= self.fft_min_kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.uses_fft:
            return fft_conv1d(x, self.weight, self.bias, self.padding)
        if self.padding == "same":
            return F.conv1d(F.pad(x, same_padding(self.kernel_size)), self.weight, self.bias)
        return F.conv1d(x, self.weight, self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        out_channels, in_channels, _ = self.weight.shape
        path = "fft" if self.uses_fft else "direct"
        return f"{in_channels}, {out_channels}, kernel_size={self.kernel_size}, padding={self.padding!r}, path={path}"
