"""benchmarks/model_throughput.py --precision-modes: every training mode runs on a tiny model; the paper models."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import model_throughput  # noqa: E402


def test_the_precision_table_covers_the_three_paper_models():
    labels = [c.label for c in model_throughput.paper_cases(False) if c.label.startswith(model_throughput.PAPER_MODELS)]
    assert [label.split(" ")[0] for label in labels] == ["wave_av_lstm", "multi_exit_cnn", "cnn_blstm_att"]


@pytest.mark.parametrize("label, precision, channels_last", model_throughput.MODES)
def test_every_mode_trains_a_tiny_model(label, precision, channels_last):
    case = model_throughput.Case("tiny", {"name": "multi_exit_cnn", "channels": [4, 8]}, {"logmel": (16, 40)},
                                 0.4, 2, 2, tasks="emotion+gender")
    assert model_throughput.train_samples_per_second(case, precision, channels_last, iterations=1) > 0
