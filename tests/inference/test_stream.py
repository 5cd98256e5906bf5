"""Recognizer.process_stream: windows of a chunked signal, their times, count and predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emomtl.inference import Recognizer


@pytest.fixture(scope="module")
def recognizer(plain) -> Recognizer:
    return Recognizer.from_checkpoint(plain[0])


def _signal(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.5 * t)) * np.exp(-0.2 * t)).astype(np.float32)


def test_default_window_is_the_training_length(recognizer):
    window, hop = recognizer.stream_window()
    assert window == pytest.approx(40 * 160 / 16000) and hop == pytest.approx(window / 2)


@pytest.mark.parametrize("chunk", [1000, 4000, 7777])
def test_windows_times_count_and_predictions_equal_process_signal(recognizer, chunk):
    rate = 8000  # another rate than the model's: each window is resampled like process_signal's input
    signal = _signal(1.9, rate)
    chunks = (signal[i : i + chunk] for i in range(0, len(signal), chunk))
    rows = list(recognizer.process_stream(chunks, rate, window_seconds=0.5, hop_seconds=0.25))
    times = [row.index[0] for row in rows]
    # full windows start every 0.25 s while they fit in 1.9 s (0 .. 1.25), then one aligned to the end
    expected = [(s, s + 0.5) for s in np.arange(0, 1.25 + 1e-9, 0.25)] + [(1.4, 1.9)]
    assert len(times) == len(expected) == 7
    np.testing.assert_allclose(np.array(times), np.array(expected), atol=1e-9)
    for (start, end), row in zip(times, rows):
        window = signal[int(round(start * rate)) : int(round(end * rate))]
        reference = recognizer.process_signal(window, rate)
        pd.testing.assert_frame_equal(row.reset_index(drop=True), reference.reset_index(drop=True))


def test_a_stream_shorter_than_a_window_gives_one_short_window(recognizer):
    rate = 16000
    signal = _signal(0.3, rate)
    rows = list(recognizer.process_stream([signal[:1000], signal[1000:]], rate, window_seconds=0.5, hop_seconds=0.25))
    assert len(rows) == 1 and rows[0].index[0] == pytest.approx((0.0, 0.3))
    assert not list(recognizer.process_stream([], rate, window_seconds=0.5, hop_seconds=0.25))
