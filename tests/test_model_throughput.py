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


TINY = model_throughput.Case("tiny", {"name": "multi_exit_cnn", "channels": [4, 8]}, {"logmel": (16, 40)},
                             0.4, 2, 2, tasks="emotion+gender")


@pytest.mark.parametrize("mode", [m for m in model_throughput.MODES if not m.compile], ids=lambda m: m.label)
def test_every_mode_trains_a_tiny_model(mode):
    timing = model_throughput.train_timing(TINY, mode, iterations=1)
    assert timing.samples_per_second > 0 and timing.first_step_seconds > 0


@pytest.mark.slow
@pytest.mark.parametrize("mode", [m for m in model_throughput.MODES if m.compile], ids=lambda m: m.label)
def test_the_compiled_mode_trains_a_tiny_model(mode):
    """Slow: inductor's first compilation takes minutes on two cores."""
    assert model_throughput.train_timing(TINY, mode, iterations=1).samples_per_second > 0


def test_the_table_has_a_column_per_mode_and_the_compile_time(monkeypatch):
    timings = iter(range(1, 100))
    monkeypatch.setattr(model_throughput, "train_timing",
                        lambda case, mode, iterations: model_throughput.Timing(float(next(timings)), 30.0))
    rows = model_throughput.precision_rows(1)
    assert len(rows) == 3
    modes = model_throughput.MODES
    assert [k for k in rows[0] if k.endswith("(samples/s)")] == [f"{m.label} (samples/s)" for m in modes]
    assert rows[0]["bf16 + channels-last + torch.compile: first step (s)"] == "30"
    # the last mode timed is the fastest (speeds 1..6): its speed over fp32's
    assert rows[0]["fastest"] == f"{modes[-1].label} (6.00x fp32)"
    without = model_throughput.precision_rows(1, [m for m in modes if not m.compile])
    assert not any("torch.compile" in key for key in without[0])
