"""Numeric precision and memory layout of training: ``train.precision`` and ``train.channels_last``.

``train.precision`` takes Lightning Fabric's names. ``32-true`` trains in float32; ``bf16-mixed`` runs the forward
pass of training under ``torch.autocast`` with bfloat16 (CPU or CUDA); ``16-mixed`` under float16 autocast with a
gradient scaler, which needs CUDA (Fabric refuses it on CPU). Without Fabric (one CPU process) the loop applies
the autocast itself through :func:`autocast`; with Fabric, Fabric does. The model's float outputs are cast back to
float32 either way, so losses, weighting strategies and evaluation stay in float32 (evaluation runs without
autocast). ``train.channels_last`` stores the 4-D convolution weights of a model in channels-last layout (NHWC),
which oneDNN and cuDNN convolve faster; models without 4-D weights are unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import torch

from emomtl.errors import ConfigError

#: The accepted values of ``train.precision`` (Lightning Fabric's names).
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
_AUTOCAST_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def check_precision(precision: str, device_type: str = "cpu") -> str:
    """``precision`` if it is known and runs on ``device_type``; errors name ``train.precision``."""
    if precision not in PRECISIONS:
        raise ConfigError(f"train.precision: {precision!r} is not one of {list(PRECISIONS)}")
    if precision == "16-mixed" and device_type != "cuda":
        raise ConfigError("train.precision: '16-mixed' (float16 autocast with a gradient scaler) needs a CUDA device; "
                          "on CPU use 'bf16-mixed' or '32-true'")
    return precision


@contextlib.contextmanager
def autocast(precision: str, device_type: str = "cpu") -> Iterator[None]:
    """``torch.autocast`` for a mixed ``precision`` on ``device_type``; nothing for ``32-true``."""
    dtype = _AUTOCAST_DTYPES.get(check_precision(precision, device_type))
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device_type, dtype=dtype):
        yield


def float32_outputs(outputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating-point outputs of an autocast forward pass as float32 (losses and strategies run in float32)."""
    return {k: v.float() if torch.is_floating_point(v) and v.dtype != torch.float32 else v for k, v in outputs.items()}


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with its 4-D parameters and buffers in channels-last layout (in place; others unchanged)."""
    return model.to(memory_format=torch.channels_last)


def to_device(tensors: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Every tensor of a batch on ``device`` (no copy when it is already there)."""
    return {k: v.to(device, non_blocking=True) for k, v in tensors.items()}
