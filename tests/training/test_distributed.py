"""Data-parallel training on two CPU processes (gloo) through Lightning Fabric."""

from __future__ import annotations

import pytest

from emomtl.errors import ConfigError
from emomtl.inference import Recognizer
from emomtl.training.distributed import train_split_distributed
from emomtl.training.experiment import build_splits
from emomtl.training.loop import SplitJob
from emomtl.training.prepare import fit_tasks, prepare_corpus


def _job(recipe, out_dir, weighting):
    prepared = prepare_corpus(recipe, progress=False)
    tasks = fit_tasks(recipe, prepared.table)
    split = build_splits(recipe, prepared.table)[0]
    return SplitJob(recipe, tasks, prepared, split, weighting, 0, out_dir), prepared


def test_two_process_cpu_training_and_single_process_loading(recipe, tmp_path):
    recipe["train"]["epochs"] = 2
    job, prepared = _job(recipe, tmp_path / "ddp", {"name": "uw"})
    metrics = train_split_distributed(job, devices=2)
    assert metrics["epochs_run"] == 2 and "emotion" in metrics["test"]
    recognizer = Recognizer.from_checkpoint(tmp_path / "ddp" / "checkpoint_best.pt")
    row = recognizer.process_file(prepared.table["path"].iloc[0])
    assert row["emotion"].iloc[0] in recognizer.tasks[0].classes


def test_strategy_unsafe_under_ddp_is_refused(recipe, tmp_path, monkeypatch):
    from emomtl.weighting.registry import STRATEGIES

    monkeypatch.setattr(STRATEGIES["pcgrad"], "ddp_safe", False)
    job, _ = _job(recipe, tmp_path / "ddp", {"name": "pcgrad"})
    with pytest.raises(ConfigError, match="not safe under data-parallel"):
        train_split_distributed(job, devices=2)
