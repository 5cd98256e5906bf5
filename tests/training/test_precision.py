"""``train.precision`` (bfloat16 autocast on CPU, with or without Fabric) and ``train.channels_last``."""

from __future__ import annotations

import pytest
import torch

from emomtl.config import Recipe
from emomtl.errors import ConfigError
from emomtl.training.experiment import build_splits
from emomtl.training.logs import RunLogger
from emomtl.training.loop import SplitJob, SplitTrainer
from emomtl.training.precision import autocast, check_precision
from emomtl.training.prepare import fit_tasks, prepare_corpus


def _trainer(recipe, out_dir, fabric=None) -> SplitTrainer:
    prepared = prepare_corpus(recipe, progress=False)
    tasks = fit_tasks(recipe, prepared.table)
    job = SplitJob(recipe, tasks, prepared, build_splits(recipe, prepared.table)[0], {"name": "uw"}, 0, out_dir)
    return SplitTrainer(job, fabric)


def _autocast_seen(trainer: SplitTrainer, tmp_path) -> list[torch.dtype | None]:
    """The autocast dtype active inside every training forward pass of one epoch (None: no autocast)."""
    seen: list[torch.dtype | None] = []
    trainer.raw_model.register_forward_pre_hook(lambda *_: seen.append(
        torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None))
    with RunLogger(tmp_path / "log", enabled=False, tensorboard=False) as logger:
        means = trainer.train_epoch(logger)
    assert all(torch.isfinite(torch.tensor(v)) for v in means.values())
    return seen


def test_precision_is_checked_with_its_key_and_allowed_values():
    with pytest.raises(ConfigError, match=r"train.precision.*'32-true', 'bf16-mixed', '16-mixed'"):
        Recipe.parse({"train": {"precision": "bf16"}})
    with pytest.raises(ConfigError, match="train.precision: '16-mixed' .* needs a CUDA device"):
        check_precision("16-mixed", "cpu")
    with autocast("32-true"):
        assert not torch.is_autocast_enabled("cpu")


def test_bf16_mixed_autocasts_training_only_and_channels_last_converts_conv_weights(recipe, tmp_path):
    recipe["train"] |= {"precision": "bf16-mixed", "channels_last": True}
    trainer = _trainer(recipe, tmp_path / "run")
    conv = next(p for p in trainer.raw_model.parameters() if p.dim() == 4 and p.shape[1] > 1)
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    seen = _autocast_seen(trainer, tmp_path)
    assert seen and set(seen) == {torch.bfloat16}
    outputs, losses, _ = trainer.evaluate(trainer.job.split.validation)  # evaluation: float32, no autocast
    assert all(v.dtype.kind == "f" and v.dtype.itemsize == 4 for v in outputs.values())


def test_float32_training_has_no_autocast(recipe, tmp_path):
    assert set(_autocast_seen(_trainer(recipe, tmp_path / "run"), tmp_path)) == {None}


def test_fabric_on_cpu_trains_with_bf16_mixed(recipe, tmp_path):
    from lightning_fabric import Fabric

    recipe["train"] |= {"precision": "bf16-mixed"}
    fabric = Fabric(accelerator="cpu", devices=1, precision="bf16-mixed")
    trainer = _trainer(recipe, tmp_path / "run", fabric)
    assert set(_autocast_seen(trainer, tmp_path)) == {torch.bfloat16}
