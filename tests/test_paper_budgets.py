"""benchmarks/paper_budgets.py: the paper budgets' recipes and GPU estimates, and its CPU ``--smoke`` run on the
embedded demo corpus (no real corpus needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import paper_budgets  # noqa: E402


@pytest.mark.parametrize("name, epochs, batch, optimiser", [("blstm", 300, 64, "rmsprop"), ("cnn", 60, 32, "adamw"),
                                                            ("wave", 50, 16, "adam")])
def test_full_budgets_are_the_papers(name, epochs, batch, optimiser, tmp_path):
    recipe = paper_budgets.model_recipe(name, "emodb", tmp_path, tmp_path, "bf16-mixed", smoke=False)
    assert (recipe["train"]["epochs"], recipe["train"]["batch_size"],
            recipe["optim"]["name"]) == (epochs, batch, optimiser)
    assert recipe["train"]["precision"] == "bf16-mixed" and recipe["train"]["seeds"] == [0]
    assert recipe["protocol"]["name"] == "loso" and recipe["data"]["corpus"] == "emodb"


def test_gpu_estimate_scales_with_arms_and_seeds(tmp_path):
    recipe = paper_budgets.model_recipe("cnn", "emodb", tmp_path, tmp_path, "bf16-mixed", smoke=True)
    one = paper_budgets.gpu_estimate("cnn", recipe, assumed_tflops=100.0)
    many = paper_budgets.gpu_estimate("cnn", recipe, assumed_tflops=100.0, runs=27)
    assert float(many["total PFLOP"]) == pytest.approx(27 * float(one["total PFLOP"]), rel=0.01)
    assert many["optimiser steps"] == 27 * one["optimiser steps"]


def test_gpu_estimate_is_three_forward_passes_per_training_clip(tmp_path):
    recipe = paper_budgets.model_recipe("cnn", "emodb", tmp_path, tmp_path, "bf16-mixed", smoke=True)
    one = paper_budgets.gpu_estimate("cnn", recipe, assumed_tflops=100.0)
    recipe["train"]["epochs"] = 2
    two = paper_budgets.gpu_estimate("cnn", recipe, assumed_tflops=100.0)
    forward = float(one["forward GFLOP / clip"]) * 1e9
    per_speaker = paper_budgets.EMODB_UTTERANCES / paper_budgets.EMODB_SPEAKERS
    expected = 10 * 1 * (3 * 7 * per_speaker + 2 * per_speaker) * forward
    assert float(one["total PFLOP"]) * 1e15 == pytest.approx(expected, rel=0.01)
    assert float(two["total PFLOP"]) == pytest.approx(2 * float(one["total PFLOP"]), rel=0.01)


def test_smoke_run_on_the_demo_corpus_writes_the_result_tables(tmp_path):
    result = subprocess.run([sys.executable, str(BENCHMARKS / "paper_budgets.py"), "--smoke", "--corpus", "demo",
                             "--models", "cnn", "--no-estimate", "--out", str(tmp_path), "--strategies", "ew,druw",
                             "--single-task", "emotion"],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    table = pd.read_csv(tmp_path / "paper_budgets_smoke.csv")
    assert sorted(table["strategy"]) == ["druw", "ew", "single:emotion"] and table["model"].str.contains("smoke").all()
    runs = sorted((tmp_path / "runs" / "paper_budget_cnn_smoke" / "runs" / "druw").glob("*_seed0"))
    assert len(runs) == 2  # two folds
    assert all(len(pd.read_csv(run / "history.csv")) == 1 for run in runs)  # one epoch
    assert (tmp_path / "paper_budgets_smoke.md").read_text().startswith("| model")
    assert (tmp_path / "paper_budgets_cnn_smoke_curves.png").stat().st_size > 10_000
    assert "grad_norm.emotion" in pd.read_csv(runs[0] / "steps.csv").columns
    claims = subprocess.run([sys.executable, str(BENCHMARKS / "claims.py"), "--comparison",
                             str(tmp_path / "runs" / "paper_budget_cnn_smoke"), "--cross-language", "",
                             "--out", str(tmp_path), "--name", "claims_cnn"],
                            capture_output=True, text=True, timeout=120)
    assert claims.returncode == 0, claims.stderr[-2000:]
    relations = list(pd.read_csv(tmp_path / "claims_cnn.csv")["relation"])
    # arms that did not run are skipped, not invented; the multi-task arm against single-task is chosen on validation
    assert relations[0] == "druw > ew" and relations[1] in ("druw > single:emotion", "ew > single:emotion")
    assert len(relations) == 2


def test_smoke_runs_the_cnn_blstm_and_the_raw_waveform_model_too(tmp_path):
    """The other two papers' models through the same CPU path: two folds, one epoch, their own result rows."""
    result = subprocess.run([sys.executable, str(BENCHMARKS / "paper_budgets.py"), "--smoke", "--corpus", "demo",
                             "--models", "blstm,wave", "--no-estimate", "--out", str(tmp_path), "--strategies", "ew"],
                            capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    table = pd.read_csv(tmp_path / "paper_budgets_smoke.csv")
    assert [model.split(" ")[0] for model in table["model"]] == ["CNN-BLSTM-attention", "raw-waveform"]
    for name in ("blstm", "wave"):
        runs = sorted((tmp_path / "runs" / f"paper_budget_{name}_smoke" / "runs" / "ew").glob("*_seed0"))
        assert len(runs) == 2 and all(len(pd.read_csv(run / "history.csv")) == 1 for run in runs)


def test_full_budgets_refuse_to_start_without_a_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = subprocess.run([sys.executable, str(BENCHMARKS / "paper_budgets.py"), "--corpus", "demo", "--no-estimate",
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "need a CUDA device" in result.stderr
