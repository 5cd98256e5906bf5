"""fit_length: exact lengths, crop positions, padding and reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emomtl.features.cropping import fit_length


def test_center_start_and_padding() -> None:
    array = np.arange(10)
    np.testing.assert_array_equal(fit_length(array, 4, mode="center"), [3, 4, 5, 6])
    np.testing.assert_array_equal(fit_length(array, 4, mode="start"), [0, 1, 2, 3])
    np.testing.assert_array_equal(fit_length(array, 12, mode="center", pad_value=-1), list(range(10)) + [-1, -1])


def test_works_along_any_axis_and_returns_a_copy() -> None:
    logmel = np.arange(3 * 7, dtype=np.float32).reshape(3, 7)
    cut = fit_length(logmel, 5, axis=-1, mode="start")
    assert cut.shape == (3, 5)
    cut[0, 0] = 99
    assert logmel[0, 0] == 0
    lld = np.ones((4, 2), dtype=np.float32)
    padded = fit_length(lld, 6, axis=0, pad_value=-1.0, mode="center")
    assert padded.shape == (6, 2) and np.all(padded[4:] == -1)


def test_random_crops_are_reproducible_and_need_a_generator() -> None:
    array = np.arange(1000)
    first = fit_length(array, 10, rng=np.random.default_rng(3))
    again = fit_length(array, 10, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(first, again)
    offsets = {int(fit_length(array, 10, rng=np.random.default_rng(seed))[0]) for seed in range(20)}
    assert len(offsets) > 1
    with pytest.raises(ValueError, match="rng"):
        fit_length(array, 10, mode="random")
    with pytest.raises(ValueError, match="mode"):
        fit_length(array, 10, mode="middle")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 50), length=st.integers(1, 50), mode=st.sampled_from(["random", "center", "start"]),
       seed=st.integers(0, 2**16))
def test_output_is_a_window_of_the_input_or_the_input_padded(size: int, length: int, mode: str, seed: int) -> None:
    array = np.arange(size, dtype=np.float32) + 1
    out = fit_length(array, length, mode=mode, pad_value=0.0, rng=np.random.default_rng(seed))  # type: ignore[arg-type]
    assert out.shape == (length,)
    kept = out[out != 0]
    assert kept.size == min(size, length)
    assert np.all(np.diff(kept) == 1)  # contiguous window
