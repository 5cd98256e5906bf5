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


def test_compare_honours_train_devices_with_two_cpu_processes(recipe, tmp_path, monkeypatch):
    """Each run of a compare goes through DDP (gloo, two CPU processes); the closed-form anchor stays in one."""
    import emomtl.training.distributed as distributed
    from emomtl.training.experiment import run_experiment

    recipe["train"] |= {"epochs": 1, "max_folds": 1, "devices": 2}
    recipe["features"]["functionals"] = {"kind": "opensmile", "feature_set": "eGeMAPSv02", "level": "functionals"}
    calls = []
    real = distributed.train_split_distributed

    def recording(job, devices, **kwargs):
        calls.append((job.recipe.model["name"], devices))
        return real(job, devices, **kwargs)

    monkeypatch.setattr(distributed, "train_split_distributed", recording)
    results = run_experiment(recipe, tmp_path / "cmp", weightings=["uw"],
                             models=[{"name": "linear_svm", "C": [0.01]}])
    assert calls == [("multi_exit_cnn", 2), ("linear_svm", 2)]
    assert list(results["strategy"]) == ["uw", "linear_svm"] and results["emotion.ua"].notna().all()
    assert len(list((tmp_path / "cmp" / "runs" / "uw").glob("*/checkpoint_best.pt"))) == 1


def test_cv_with_devices_refuses_parallel_jobs_and_unsafe_strategies_before_training(recipe, tmp_path, monkeypatch):
    from emomtl.training.experiment import run_experiment
    from emomtl.weighting.registry import STRATEGIES

    with pytest.raises(ConfigError, match="train.devices=2 .* --jobs 1"):
        run_experiment(recipe, tmp_path / "a", jobs=2, devices=2)
    monkeypatch.setattr(STRATEGIES["pcgrad"], "ddp_safe", False)
    with pytest.raises(ConfigError, match="train.devices=2: weighting 'pcgrad' is not safe"):
        run_experiment(recipe, tmp_path / "b", weightings=["static", "pcgrad"], devices=2)
    assert not (tmp_path / "b" / "results.csv").exists()


def test_cli_compare_passes_devices_through(recipe, tmp_path, capsys):
    import yaml

    from emomtl.cli.main import main

    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["compare", str(path), "--devices", "2", "--jobs", "2", "--out", str(tmp_path / "run")]) == 2
    assert "train.devices=2" in capsys.readouterr().err
