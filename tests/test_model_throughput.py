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


@pytest.mark.parametrize("mode", [m for m in model_throughput.MODES if not m.compiled], ids=lambda m: m.label)
def test_every_mode_trains_a_tiny_model(mode):
    timing = model_throughput.train_timing(TINY, mode, iterations=1)
    assert timing.samples_per_second > 0 and timing.first_step_seconds > 0


def test_the_first_step_is_kept_out_of_the_median_and_the_batch_factor_counts(monkeypatch):
    calls = []

    def fake_timed(step, iterations, warmup):
        calls.append((iterations, warmup))
        step()
        return 0.5 if len(calls) == 1 else 0.25  # first step 0.5 s, then a median of 0.25 s

    monkeypatch.setattr(model_throughput, "timed", fake_timed)
    mode = next(m for m in model_throughput.MODES if m.batch_factor == 4)
    timing = model_throughput.train_timing(TINY, mode, iterations=5)
    assert calls == [(1, 0), (5, 0)]  # the first step alone, then the timed steps without another warm-up
    assert timing.first_step_seconds == 0.5
    assert timing.samples_per_second == pytest.approx(TINY.train_batch * 4 / 0.25)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [m for m in model_throughput.MODES if m.compiled], ids=lambda m: m.label)
def test_the_compiled_mode_trains_a_tiny_model(mode):
    """Slow: inductor's first compilation takes minutes on two cores."""
    assert model_throughput.train_timing(TINY, mode, iterations=1).samples_per_second > 0


def test_the_table_has_a_column_per_mode_and_ranks_only_the_case_batch(monkeypatch):
    modes = model_throughput.MODES
    speeds = {m.label: float(i + 1) for i, m in enumerate(modes)}  # the 4x batch (last) is the fastest overall
    monkeypatch.setattr(model_throughput, "train_timing", lambda case, mode, iterations: model_throughput.Timing(
        speeds[mode.label], 10.0 * (modes.index(mode) + 1)))
    rows = model_throughput.precision_rows(1)
    assert len(rows) == 3
    assert [k for k in rows[0] if k.endswith("(samples/s)")] == [f"{m.label} (samples/s)" for m in modes]
    compiled = next(i for i, m in enumerate(modes) if m.compiled)
    assert rows[0][f"{modes[compiled].label}: first step (s)"] == f"{10 * (compiled + 1)}"
    fastest = max((m for m in modes if m.batch_factor == 1), key=lambda m: speeds[m.label])
    assert fastest.batch_factor == 1 and modes[-1].batch_factor == 4
    assert rows[0]["fastest at the case's batch"] == f"{fastest.label} ({speeds[fastest.label]:.2f}x fp32)"
    without = model_throughput.precision_rows(1, [m for m in modes if not m.compiled])
    assert not any("torch.compile" in key for key in without[0])
