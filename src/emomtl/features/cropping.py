"""Fixed-length cut / pad of feature arrays at batch time: random crops for training, centre or start for evaluation."""

from __future__ import annotations

from typing import Literal

import numpy as np

CropMode = Literal["random", "center", "start"]
MODES = ("random", "center", "start")


def fit_length(
    array: np.ndarray,
    length: int,
    axis: int = -1,
    mode: CropMode = "random",
    pad_value: float = 0.0,
    rng: np.random.Generator | None = None,
    fraction: float | None = None,
) -> np.ndarray:
    """Cut or pad ``array`` along ``axis`` to exactly ``length`` (a new array, never a view of the input).

    Longer inputs are cut at a random offset (``"random"``, needs ``rng`` for reproducibility, or ``fraction``: a
    draw in [0, 1) already made, so inputs of one recording can share it), in the middle (``"center"``) or from
    the beginning (``"start"``). Shorter inputs keep their values at the start and are padded at the end with
    ``pad_value``.
    """
    if mode not in MODES:
        raise ValueError(f"fit_length mode must be one of {MODES}, got {mode!r}")
    if not isinstance(length, (int, np.integer)) or length <= 0:
        raise ValueError(f"fit_length length must be a positive integer, got {length!r}")
    array = np.asarray(array)
    axis = axis % array.ndim
    size = array.shape[axis]
    if size > length:
        offset = crop_offset(size, length, mode, rng, fraction)
        return np.take(array, np.arange(offset, offset + length), axis=axis)
    padding = [(0, 0)] * array.ndim
    padding[axis] = (0, length - size)
    return np.pad(array, padding, mode="constant", constant_values=pad_value)


def crop_offset(size: int, length: int, mode: CropMode, rng: np.random.Generator | None = None,
                fraction: float | None = None) -> int:
    """Start index of a ``length`` window inside ``size`` items (0 when nothing needs cutting).

    A random offset is ``rng``'s draw, or ``fraction`` (in [0, 1)) of the possible offsets when given.
    """
    if size <= length:
        return 0
    if mode == "start":
        return 0
    if mode == "center":
        return (size - length) // 2
    if fraction is not None:
        return min(int(fraction * (size - length + 1)), size - length)
    if rng is None:
        raise ValueError("fit_length(mode='random') needs rng=np.random.Generator so crops are reproducible")
    return int(rng.integers(0, size - length + 1))
