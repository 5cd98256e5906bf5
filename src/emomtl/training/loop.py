"""Train one model on one split: per-task masked losses -> weighting -> optimiser, checkpoint every epoch.

The best epoch is chosen on the validation speakers (``train.select_metric``); the test speakers are
only scored once, with the best checkpoint, after training. ``resume=True`` continues from
``checkpoint_last.pt`` and ends with the same result as an uninterrupted run. ``train.ema_decay`` keeps an
exponential moving average of the weights (updated after every optimiser step); that average is what is
validated, tested and saved for inference. The model and batches live on Fabric's device (CUDA when Fabric runs
there, else the CPU); the weighting strategy stays on the CPU and receives the losses there (a few scalars per step).
``train.precision`` and ``train.channels_last``: :mod:`emomtl.training.precision`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from emomtl.config import Recipe, as_recipe
from emomtl.data.protocols import Split
from emomtl.errors import ConfigError
from emomtl.models import build_model
from emomtl.models.registry import is_classical
from emomtl.models.tasks import TaskSpec, balanced_class_weights, task_loss
from emomtl.training.augment import augment_batch, check_augment, mixed_task_loss, mixup_batch
from emomtl.runtime.batches import (InputSpec, InputView, Standardizer, batches, check_aligned_crops, epoch_order,
                                    fit_views, input_specs, make_batch, make_targets)
from emomtl.runtime.checkpoint import (load_checkpoint, recipe_fingerprint, restore_rng_state, rng_state,
                                       save_checkpoint, seed_everything)
from emomtl.runtime.bundle import InferenceBundle
from emomtl.runtime.files import atomic_write, write_csv, write_json
from emomtl.runtime.lock import RunLock
from emomtl.runtime.record import claim_run_folder, run_record
from emomtl.runtime.predict import predict_outputs
from emomtl.training.evaluate import (combined_score, flatten_scores, prediction_table, score_tasks, selection_sign,
                                      task_losses)
from emomtl.training.grad_norms import task_gradient_norms
from emomtl.training.logs import RunLogger
from emomtl.training.optim import (build_optimizer, build_scheduler, split_weighting_config, step_scheduler,
                                   upgrade_optimizer_state)
from emomtl.training.precision import autocast, check_precision, float32_outputs, to_channels_last, to_device
from emomtl.training.prepare import PreparedCorpus
from emomtl.weighting import WeightingOutput, create as create_weighting
from emomtl.weighting.step import shared_parameters_for, weigh, wants_losses_after, write_shared_gradients

log = logging.getLogger(__name__)


@dataclass
class SplitJob:
    """Everything one training run needs; ``out_dir`` receives its logs, checkpoints and predictions."""

    recipe: Recipe | dict[str, Any]
    tasks: list[TaskSpec]
    prepared: PreparedCorpus
    split: Split
    weighting: dict[str, Any]
    seed: int
    out_dir: Path
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def model_input_shapes(prepared: PreparedCorpus, specs: dict[str, InputSpec],
                       standardizer: Standardizer) -> dict[str, tuple[int, ...]]:
    """Per-sample shapes of the model inputs after cropping (from one evaluation batch of one row)."""
    batch = make_batch(prepared.inputs, np.array([0]), specs, standardizer, train=False)
    return {name: tuple(tensor.shape[1:]) for name, tensor in batch.items()}


def weight_average(model: torch.nn.Module, decay: float | None) -> AveragedModel | None:
    """An exponential moving average of ``model``'s weights and buffers (``None`` when ``decay`` is unset)."""
    if decay is None:
        return None
    if not 0.0 < float(decay) < 1.0:
        raise ConfigError(f"train.ema_decay: {decay!r} must lie strictly between 0 and 1 (e.g. 0.99), or be null")
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(float(decay)), use_buffers=True)


def check_grad_clip(value: float | None) -> None:
    """``train.grad_clip``: the maximum global gradient norm (``clip_grad_norm_``), a positive number or null."""
    if value is not None and not float(value) > 0.0:
        raise ConfigError(f"train.grad_clip: {value!r} must be a positive gradient norm (e.g. 1.0), or null for none")


def check_padding_masks(model: torch.nn.Module, specs: dict[str, InputSpec]) -> None:
    """A time-varying input without a fixed ``length`` is padded per batch to its longest row; a model that reads
    no ``<name>_mask`` would then see padding as signal and give a row another output in another batch."""
    for name in getattr(model, "input_keys", ()):
        spec = specs.get(name)
        if spec is None or spec.time_axis is None or spec.length is not None:
            continue
        if f"{name}_mask" not in getattr(model, "optional_input_keys", ()):
            raise ConfigError(
                f"inputs.{name}.length: {type(model).__name__} reads no padding mask, so it needs fixed-length "
                f"{name} inputs; set inputs.{name}.length (with eval_crop: windows to score whole recordings)")


class SplitTrainer:
    """Owns the model, optimiser, scheduler and weighting of one run; see :func:`train_split`."""

    def __init__(self, job: SplitJob, fabric: Any = None) -> None:
        self.job, self.fabric = job, fabric
        recipe = self.settings = as_recipe(job.recipe)
        self.train_cfg = recipe.train
        check_augment(self.train_cfg.augment)
        check_grad_clip(self.train_cfg.grad_clip)
        self.rank = fabric.global_rank if fabric else 0
        self.world_size = fabric.world_size if fabric else 1
        self.device = torch.device(fabric.device) if fabric else torch.device("cpu")
        self.precision = check_precision(self.train_cfg.precision, self.device.type)
        seed_everything(job.seed)
        self.specs = input_specs(recipe)
        check_aligned_crops(recipe, self.specs)  # training only: old checkpoints still load for inference
        self.targets = {t.name: t.encode(job.prepared.table) for t in job.tasks}
        self.class_weights = {t.name: balanced_class_weights(self.targets[t.name][job.split.train],
                                                             len(t.classes or [])).to(self.device)
                              for t in job.tasks if t.class_weight == "balanced"}  # training rows only
        speakers = job.prepared.table["speaker"].to_numpy()
        self.standardizer = Standardizer.fit(job.prepared.inputs, job.split.train, self.specs, speakers)
        self.views = fit_views(InputView(job.prepared.inputs, self.standardizer),
                               [job.prepared.views[f] for f in sorted(job.prepared.views)], job.split.train,
                               self.specs, speakers)
        self.input_shapes = model_input_shapes(job.prepared, self.specs, self.standardizer)
        self.model = build_model(recipe.model, job.tasks, self.input_shapes).to(self.device)
        check_padding_masks(self.model, self.specs)
        if self.train_cfg.channels_last:
            to_channels_last(self.model)
        self.averaged = weight_average(self.model, self.train_cfg.ema_decay)
        name, params, weighting_optim = split_weighting_config(job.weighting)
        self.strategy = create_weighting(name, [t.name for t in job.tasks],
                                         task_kinds={t.name: t.kind for t in job.tasks},
                                         data_parallel=self.world_size > 1, **params)
        if self.precision == "16-mixed" and self.strategy.needs_shared_parameters:
            raise ConfigError(f"train.precision: '16-mixed' scales the loss, but weighting {name!r} "
                              "computes and writes "
                              "unscaled shared gradients; use 'bf16-mixed' (no scaler) or '32-true'")
        self.optimizer = build_optimizer(self.model.parameters(), recipe.optim, self.strategy.parameters(),
                                         weighting_optim, self.model.learning_rate_groups())
        self.scheduler = build_scheduler(self.optimizer, recipe.scheduler, self.train_cfg.epochs)
        self.raw_model = self.model
        if fabric:
            self.model, self.optimizer = fabric.setup(self.model, self.optimizer)
        self.fingerprint = recipe_fingerprint(recipe.to_dict())
        self.epoch = 0
        self.stopped = False  # early stopping ended training (kept in checkpoint_last.pt)
        self.step = 0
        self.best: dict[str, Any] = {"value": -math.inf, "epoch": -1}
        self.history: list[dict[str, Any]] = []
        self.last_weights: dict[str, float] = {t.name: 1.0 for t in job.tasks}
        self.grad_norms: dict[str, float] = {}  # of the last logged step (train.log_grad_norms)

    # ------------------------------------------------------------ checkpoints
    @property
    def last_path(self) -> Path:
        return self.job.out_dir / "checkpoint_last.pt"

    @property
    def best_path(self) -> Path:
        return self.job.out_dir / "checkpoint_best.pt"

    def inference_state(self) -> dict[str, Any]:
        """What a :class:`~emomtl.inference.Recognizer` needs to rebuild and run the model."""
        return InferenceBundle(self.settings, self.job.tasks, self.eval_model, self.specs, self.standardizer,
                               self.input_shapes).state()

    def save(self, best: bool) -> None:
        if self.rank != 0:
            return
        state = self.inference_state() | {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "weighting": self.strategy.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "best": self.best,
            "stopped": self.stopped,
            "history": self.history,
            "last_weights": self.last_weights,
            "rng": rng_state(),
        }
        if self.averaged is not None:  # the weights being trained; "model" holds their average
            state |= {"train_model": self.raw_model.state_dict(), "ema_updates": int(self.averaged.n_averaged)}
        if best:  # best first: a kill between the two writes then replays this epoch instead of losing its best
            save_checkpoint(self.best_path, self.inference_state() | {"epoch": self.epoch - 1, "best": self.best})
        save_checkpoint(self.last_path, state)

    def restore(self) -> bool:
        if not self.last_path.exists():
            return False
        state = load_checkpoint(self.last_path, self.fingerprint)
        self.raw_model.load_state_dict(state.get("train_model", state["model"]))
        if self.averaged is not None:
            if "ema_updates" in state:
                self.averaged.module.load_state_dict(state["model"])
                self.averaged.n_averaged.fill_(state["ema_updates"])
            else:  # saved before train.ema_decay was set: the average starts from the resumed weights
                log.warning("%s holds no weight average; it starts from the resumed weights", self.last_path)
                self.averaged.module.load_state_dict(self.raw_model.state_dict())
        self.optimizer.load_state_dict(upgrade_optimizer_state(state["optimizer"], self.optimizer))
        if self.scheduler and state["scheduler"]:
            self.scheduler.load_state_dict(state["scheduler"])
        self.strategy.load_state_dict(state["weighting"])
        self.epoch, self.step, self.best = state["epoch"], state["step"], state["best"]
        self.stopped = bool(state.get("stopped", False))
        self.history, self.last_weights = state["history"], state["last_weights"]
        restore_rng_state(state["rng"])
        log.info("resumed %s at epoch %d", self.job.out_dir, self.epoch)
        return True

    @property
    def eval_model(self) -> torch.nn.Module:
        """The weights that are validated, tested and saved: their moving average when ``ema_decay`` is set."""
        return self.averaged.module if self.averaged is not None else self.raw_model

    # ------------------------------------------------------------- training
    def _backward(self, loss: torch.Tensor) -> None:
        if self.fabric:
            self.fabric.backward(loss)
        else:
            loss.backward()

    def _forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The training forward pass, under ``train.precision``'s autocast (Fabric's own when Fabric runs)."""
        if self.fabric:
            return self.model(batch)
        with autocast(self.precision, self.device.type):
            return float32_outputs(self.model(batch))

    @torch.no_grad()
    def _losses_after(self, batch: dict[str, torch.Tensor],
                      targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self._losses(self._forward(batch), targets, None, 1.0)

    # one training step: batch -> forward -> losses -> weighting -> backward -> log
    def _batch(self, rows: np.ndarray,
               rng: np.random.Generator) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], Any, float]:
        """The augmented (and possibly mixed-up) batch of ``rows`` and its targets; ``partners``/``lam`` of mixup."""
        augment = self.train_cfg.augment
        view_of_row = rng.integers(0, len(self.views), size=len(rows)) if len(self.views) > 1 else None
        batch = augment_batch(make_batch(self.job.prepared.inputs, rows, self.specs, self.standardizer, True, rng,
                                         self.views, view_of_row), augment, rng)
        partners, lam = None, 1.0
        if augment.get("mixup"):
            batch, partners, lam = mixup_batch(batch, float(augment["mixup"]), rng)
        return to_device(batch, self.device), to_device(make_targets(self.targets, rows), self.device), partners, lam

    def _losses(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], partners: Any,
                lam: float) -> dict[str, torch.Tensor]:
        """Per-task masked losses (mixup: both partners' targets); tasks without a label this batch are left out."""
        losses = {}
        for task in self.job.tasks:
            weights = self.class_weights.get(task.name)
            if partners is None:
                loss = task_loss(task, outputs[task.name], targets[task.name], weights)
            else:
                loss = mixed_task_loss(task, outputs[task.name], targets[task.name], partners, lam, weights)
            if loss is not None:
                losses[task.name] = loss.to("cpu")  # the strategy's device (a no-op on CPU)
        return losses

    def _optimise(self, losses: dict[str, torch.Tensor], shared: list[torch.nn.Parameter] | None) -> WeightingOutput:
        """Weighting, backward pass, shared gradients, clipping, optimiser step and weight average."""
        if self.train_cfg.log_grad_norms and (self.step + 1) % self.train_cfg.log_every == 0:  # a logged step
            self.grad_norms = task_gradient_norms(losses, list(self.raw_model.shared_parameters()))
        self.optimizer.zero_grad(set_to_none=True)  # before the strategy: GradNorm sets its weights' gradients
        out = weigh(self.strategy, losses, shared, lambda: self.raw_model.last_shared_representation)
        self._backward(out.loss)
        write_shared_gradients(out, shared)
        if self.world_size > 1:
            self.strategy.all_reduce_grads()  # the strategy is not inside the DDP wrapper
        if self.train_cfg.grad_clip and self.fabric:  # Fabric unscales 16-mixed gradients first
            self.fabric.clip_gradients(self.model, self.optimizer, max_norm=self.train_cfg.grad_clip)
        elif self.train_cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.train_cfg.grad_clip)
        self.optimizer.step()
        if self.averaged is not None:
            self.averaged.update_parameters(self.raw_model)
        return out

    def _log_step(self, logger: RunLogger, out: WeightingOutput, losses: dict[str, torch.Tensor],
                  sums: dict[str, float], counts: dict[str, int]) -> None:
        self.last_weights = {k: float(v) for k, v in out.weights.items()}
        for name, value in [*losses.items(), ("loss", out.loss)]:
            sums[name] = sums.get(name, 0.0) + float(value.detach())
            counts[name] = counts.get(name, 0) + 1
        self.step += 1
        if self.step % self.train_cfg.log_every == 0:
            logger.step({"step": self.step, "epoch": self.epoch, "loss": float(out.loss.detach()),
                         **{f"{k}.loss": float(v.detach()) for k, v in losses.items()},
                         **{f"weight.{k}": v for k, v in self.last_weights.items()},
                         **{f"grad_norm.{k}": v for k, v in self.grad_norms.items()},
                         **{f"extra.{k}": v for k, v in out.extras.items()}})

    def train_epoch(self, logger: RunLogger) -> dict[str, float]:
        cfg = self.train_cfg
        self.model.train()
        epoch_info = self.raw_model.on_epoch_start(self.epoch, cfg.epochs,
                                                   torch.Generator().manual_seed(self.job.seed * 1000 + self.epoch))
        rng = np.random.default_rng([self.job.seed, self.epoch, 1])
        order = epoch_order(self.job.split.train, self.job.seed, self.epoch, self.rank, self.world_size)
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        shared = shared_parameters_for(self.strategy, self.raw_model.shared_parameters)  # asked every epoch
        for rows in batches(order, cfg.batch_size, drop_last=len(order) > cfg.batch_size):
            batch, targets, partners, lam = self._batch(rows, rng)
            losses = self._losses(self._forward(batch), targets, partners, lam)
            if not losses:
                continue
            out = self._optimise(losses, shared)
            if wants_losses_after(self.strategy):
                self.strategy.after_step(self._losses_after(batch, targets))
            self._log_step(logger, out, losses, sums, counts)
        means = {k: sums[k] / counts[k] for k in sums}
        self.strategy.end_epoch({k: v for k, v in means.items() if k != "loss"})
        return means | {f"info.{k}": v for k, v in epoch_info.items() if isinstance(v, (int, float))}

    def evaluate(self, rows: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, dict[str, float]]]:
        tasks = self.job.tasks
        outputs = predict_outputs(self.eval_model, self.job.prepared.inputs, rows, self.specs, self.standardizer, tasks,
                                  batch_size=self.train_cfg.eval_batch_size or 64)
        targets = {name: values[rows] for name, values in self.targets.items()}
        return outputs, task_losses(tasks, outputs, targets), score_tasks(tasks, outputs, targets)

    def select_value(self, row: dict[str, Any]) -> float:
        metric = self.train_cfg.select_metric
        if metric not in row:
            raise ConfigError(f"train.select_metric: {metric!r} is not computed; "
                              f"available: {sorted(k for k in row if k.startswith('val.'))}")
        return selection_sign(metric) * float(row[metric])

    def fit(self, logger: RunLogger) -> None:
        cfg = self.train_cfg
        val_rows = self.job.split.validation
        patience = cfg.early_stopping
        while self.epoch < cfg.epochs and not self.stopped:
            start = time.perf_counter()
            train_means = self.train_epoch(logger)
            row: dict[str, Any] = {"epoch": self.epoch, "lr": self.optimizer.param_groups[0]["lr"]}
            row.update({f"train.{k}" if k == "loss" or k.startswith("info.") else f"train.{k}.loss": v
                        for k, v in train_means.items()})
            row.update({f"weight.{k}": v for k, v in self.last_weights.items()})
            if len(val_rows):
                _, val_losses, val_scores = self.evaluate(val_rows)
                row["val.loss"] = sum(self.last_weights.get(k, 1.0) * v for k, v in val_losses.items())
                row.update({f"val.{k}.loss": v for k, v in val_losses.items()})
                row.update(flatten_scores(val_scores, "val."))
                row["val.score"] = combined_score(self.job.tasks, val_scores, cfg.score)
            row["time_s"] = time.perf_counter() - start
            self.history.append(row)
            logger.epoch(row)
            value = self.select_value(row) if len(val_rows) else float(self.epoch)
            improved = value > self.best["value"] or (not math.isfinite(self.best["value"]) and math.isfinite(value))
            if improved:
                self.best = {"value": value, "epoch": self.epoch}
            step_scheduler(self.scheduler, self.optimizer, value)
            self.epoch += 1
            self.stopped = bool(patience and self.epoch - 1 - self.best["epoch"] >= patience)
            self.save(best=improved)  # with ``stopped``: a run killed before its test does not train on
            if self.stopped:
                log.info("early stop at epoch %d (best %d)", self.epoch - 1, self.best["epoch"])
        if not self.best_path.exists() and self.rank == 0:
            self.save(best=True)

    def test(self) -> dict[str, Any]:
        """Score the test speakers with the best (validation-selected) weights."""
        state = load_checkpoint(self.best_path, self.fingerprint)
        self.eval_model.load_state_dict(state["model"])
        rows = self.job.split.test
        outputs, losses, scores = self.evaluate(rows)
        targets = {name: values[rows] for name, values in self.targets.items()}
        predictions = prediction_table(self.job.prepared.table, rows, self.job.tasks, outputs, targets)
        write_csv(self.job.out_dir / "predictions.csv", predictions, index=False)
        val_row = self.history[self.best["epoch"]] if 0 <= self.best["epoch"] < len(self.history) else {}
        metrics = {
            "test": scores,
            "test_losses": losses,
            "val": {k: v for k, v in val_row.items() if k.startswith("val.")},
            "best_epoch": self.best["epoch"],
            "epochs_run": len(self.history),
            "score": combined_score(self.job.tasks, scores, self.train_cfg.score),
            "weights": self.last_weights,
        }
        write_json(self.job.out_dir / "metrics.json", metrics)
        return metrics


def refit_and_test(selected: SplitTrainer) -> dict[str, Any]:
    """Retrain on training + validation speakers for the validation-chosen number of epochs, then test.

    The number of epochs is the only thing carried over (chosen on validation); the test speakers are still
    scored once, with the refitted model. The refit lives in ``<run>/refit/`` and is deterministic, so a run
    killed during it simply refits again.
    """
    job = selected.job
    epochs = selected.best["epoch"] + 1
    pooled = np.concatenate([job.split.train, job.split.validation])
    split = dataclasses.replace(job.split, train=pooled, validation=np.array([], dtype=int),
                                train_speakers=[*job.split.train_speakers, *job.split.validation_speakers],
                                validation_speakers=[])
    settings = as_recipe(job.recipe)
    fabric = selected.fabric if selected.world_size == 1 else None  # one GPU: refit there; DDP: rank 0 alone, CPU
    precision = settings.train.precision if fabric or settings.train.precision != "16-mixed" else "32-true"
    recipe = dataclasses.replace(settings, train=dataclasses.replace(settings.train, epochs=epochs, early_stopping=None,
                                                                     precision=precision))
    refit_dir = job.out_dir / "refit"
    shutil.rmtree(refit_dir, ignore_errors=True)
    refit_dir.mkdir(parents=True)
    trainer = SplitTrainer(dataclasses.replace(job, recipe=recipe, split=split, out_dir=refit_dir), fabric)
    with RunLogger(refit_dir, tensorboard=False, total_epochs=epochs, history=trainer.history) as logger:
        trainer.fit(logger)
    metrics = trainer.test()
    for source, name in (("predictions.csv", "predictions.csv"), ("checkpoint_best.pt", "checkpoint_refit.pt")):
        atomic_write(job.out_dir / name,
                     lambda temporary, source=source: shutil.copyfile(refit_dir / source, temporary))
    val_row = selected.history[selected.best["epoch"]]
    metrics.update({"val": {k: v for k, v in val_row.items() if k.startswith("val.")},
                    "best_epoch": selected.best["epoch"], "epochs_run": len(selected.history), "refit_epochs": epochs})
    write_json(job.out_dir / "metrics.json", metrics)
    return metrics


def run_settings(job: SplitJob) -> dict[str, Any]:
    """What a run's folder is made from beyond its recipe: seed, weighting, tasks and speakers of its split."""
    split = job.split
    return {"run": {"seed": job.seed, "weighting": job.weighting, "tasks": [t.to_dict() for t in job.tasks],
                    "split": {"name": split.name, "train": sorted(map(str, split.train_speakers)),
                              "validation": sorted(map(str, split.validation_speakers)),
                              "test": sorted(map(str, split.test_speakers)), "sizes": split.sizes()}}}


def train_split(job: SplitJob, resume: bool = True, fabric: Any = None, progress: bool = False) -> dict[str, Any]:
    """Train (or resume) one run, then score the test speakers with the best validation checkpoint.

    The run folder is locked against other writers, and its ``run.json`` must match the job's settings and data
    (else :class:`RunFolderError` names the changed keys); ``resume=False`` starts the folder over.
    """
    job.out_dir.mkdir(parents=True, exist_ok=True)
    if fabric is not None and fabric.global_rank != 0:
        return _train_split(job, resume, fabric, progress)
    with RunLock(job.out_dir):
        claim_run_folder(job.out_dir, run_record(as_recipe(job.recipe).to_dict(), job.prepared.table,
                                                 run_settings(job)), fresh=not resume)
        return _train_split(job, resume, fabric, progress)


def finished_metrics(job: SplitJob) -> dict[str, Any] | None:
    """The job's ``metrics.json`` when it finished before (torn files count as unfinished)."""
    done = Path(job.out_dir) / "metrics.json"
    try:
        return json.loads(done.read_text()) if done.is_file() else None
    except ValueError:
        return None


def _train_split(job: SplitJob, resume: bool, fabric: Any, progress: bool) -> dict[str, Any]:
    done = job.out_dir / "metrics.json"
    if resume and done.exists():
        finished = finished_metrics(job)
        if finished is not None:
            return finished
        log.warning("%s is unreadable; scoring the test speakers again", done)  # torn by a kill while written
    if is_classical(as_recipe(job.recipe).model):  # closed form (linear_svm): same splits, metrics and files, no epochs
        from emomtl.training.classical import fit_classical

        if fabric is not None and fabric.world_size > 1:
            raise ConfigError(f"train.devices: model.name {as_recipe(job.recipe).model['name']!r} "
                              "is fitted by scikit-learn "
                              "in one process; set train.devices=1")
        start = time.perf_counter()
        metrics = fit_classical(job) | {"wall_time_s": time.perf_counter() - start}
        write_json(done, metrics)
        return metrics
    trainer = SplitTrainer(job, fabric)
    if resume:  # (a fresh start cleared the folder's outputs when it claimed it)
        trainer.restore()
    start = time.perf_counter()
    train = trainer.train_cfg
    with RunLogger(job.out_dir, enabled=trainer.rank == 0, tensorboard=train.tensorboard,
                   progress=progress, total_epochs=train.epochs, label=job.label,
                   resumed_epochs=trainer.epoch, truncate=not resume, history=trainer.history) as logger:
        trainer.fit(logger)
    if trainer.rank != 0:
        return {}
    if train.refit and len(job.split.validation):
        metrics = refit_and_test(trainer)
    else:
        metrics = trainer.test()
    metrics["wall_time_s"] = time.perf_counter() - start
    write_json(done, metrics)
    return metrics
