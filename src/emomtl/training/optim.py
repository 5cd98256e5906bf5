"""Optimisers and learning-rate schedules from a recipe's ``optim`` and ``scheduler`` sections.

The parameters of a weighting strategy (log-variances, softmax logits, ...) get their own parameter group:
no weight decay, learning rate ``weighting.lr`` (``null``: the model's ``optim.lr``), and the learning-rate
schedule only when ``weighting.follow_schedule`` is true (default). Group 0 is always the model's.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import torch

from emomtl.config import OptimSettings, SchedulerSettings
from emomtl.errors import ConfigError

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
              "rmsprop": torch.optim.RMSprop}
SCHEDULERS = ("none", "cosine", "step", "plateau")


#: Keys of a recipe's ``weighting`` section that set the optimiser of the strategy's parameters (not the strategy).
WEIGHTING_OPTIM_DEFAULTS: dict[str, Any] = {"lr": None, "follow_schedule": True}


def check_weighting_optim(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``weighting.lr`` (null or a number > 0) and ``weighting.follow_schedule`` (bool), with defaults."""
    out = {**WEIGHTING_OPTIM_DEFAULTS, **{k: v for k, v in settings.items() if k in WEIGHTING_OPTIM_DEFAULTS}}
    lr = out["lr"]
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf):
        raise ConfigError(f"weighting.lr: expected null (the model's optim.lr) or a finite number > 0, got {lr!r}")
    if not isinstance(out["follow_schedule"], bool):
        raise ConfigError(f"weighting.follow_schedule: expected true or false, got {out['follow_schedule']!r}")
    return out


def split_weighting_config(weighting: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(strategy name, strategy parameters, optimiser settings of its parameters) from a ``weighting`` section."""
    name = weighting.get("name", "static")
    params = {k: v for k, v in weighting.items() if k != "name" and k not in WEIGHTING_OPTIM_DEFAULTS}
    return name, params, check_weighting_optim(weighting)


def build_optimizer(
    parameters: Iterable[torch.nn.Parameter],
    config: OptimSettings | Mapping[str, Any],
    weighting_parameters: Iterable[torch.nn.Parameter] = (),
    weighting: Mapping[str, Any] | None = None,
    model_groups: Iterable[Mapping[str, Any]] = (),
) -> torch.optim.Optimizer:
    """The model's parameters in group 0; the strategy's (if any) in group 1 without weight decay; then each of
    ``model_groups`` (``{"name", "params", "lr"}``: parts of the model with their own learning rate, taken out of
    group 0, scheduled like it)."""
    optim = config if isinstance(config, OptimSettings) else OptimSettings.parse(config)
    options = optim.options()
    name = optim.name.lower()
    if name not in OPTIMIZERS:
        raise ConfigError(f"optim.name: {name!r} is not one of {sorted(OPTIMIZERS)}")
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    settings = check_weighting_optim(weighting or {})
    own = [{"params": list(g["params"]), "lr": float(g["lr"]), "name": g.get("name", "")} for g in model_groups]
    taken = {id(p) for g in own for p in g["params"]}
    groups: list[dict[str, Any]] = [{"params": [p for p in parameters if id(p) not in taken]}]
    extra = list(weighting_parameters)
    if extra:
        group: dict[str, Any] = {"params": extra, "weight_decay": 0.0, "follow_schedule": settings["follow_schedule"]}
        if settings["lr"] is not None:
            group["lr"] = float(settings["lr"])
        groups.append(group)
    groups += own
    try:
        optimizer = OPTIMIZERS[name](groups, **options)
    except (TypeError, ValueError, IndexError) as error:  # e.g. betas of one value, a negative alpha
        raise ConfigError(f"optim ({name}): {error} (settings: {options})") from error
    for group in optimizer.param_groups:
        group.setdefault("follow_schedule", True)
        group["fixed_lr"] = group["lr"]
    return optimizer


def hold_unscheduled_groups(optimizer: torch.optim.Optimizer) -> None:
    """Put back the fixed learning rate of every group with ``follow_schedule`` false (after a scheduler acts)."""
    for group in optimizer.param_groups:
        if not group.get("follow_schedule", True):
            group["lr"] = group["fixed_lr"]


def step_scheduler(scheduler: Any, optimizer: torch.optim.Optimizer, value: float) -> None:
    """One epoch step of ``scheduler`` (``value``: validation score for plateau), then hold unscheduled groups."""
    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(value)
    else:
        scheduler.step()
    hold_unscheduled_groups(optimizer)


def upgrade_optimizer_state(state: dict[str, Any], optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """An optimiser state saved with one group (model + strategy together, before issue #16) split in two.

    The old single group listed the model's parameters first, then the strategy's; their moment estimates are
    kept, and the strategy's group takes the current hyperparameters (no weight decay, its own lr).
    """
    saved, current = state["param_groups"], optimizer.param_groups
    if len(saved) != 1 or len(current) != 2:
        return state
    ids = list(saved[0]["params"])
    n_model = len(current[0]["params"])
    if len(ids) != n_model + len(current[1]["params"]):
        return state
    model_group = {**saved[0], "params": ids[:n_model]}
    model_group.setdefault("follow_schedule", True)
    model_group.setdefault("fixed_lr", model_group["lr"])
    strategy_group = {k: v for k, v in current[1].items() if k != "params"} | {"params": ids[n_model:]}
    return {**state, "param_groups": [model_group, strategy_group]}


def build_scheduler(optimizer: torch.optim.Optimizer, config: SchedulerSettings | Mapping[str, Any], epochs: int):
    """An epoch-level scheduler (``step()`` once per epoch; plateau gets the validation score)."""
    config = config if isinstance(config, SchedulerSettings) else SchedulerSettings.parse(config)
    name = config.name
    if name not in SCHEDULERS:
        raise ConfigError(f"scheduler.name: {name!r} is not one of {SCHEDULERS}")
    if name == "none":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, config.step_size, config.gamma)
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", patience=config.patience, factor=config.factor
        )
    warmup = config.warmup_epochs
    floor = config.min_lr / max(optimizer.param_groups[0]["lr"], 1e-12)

    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        progress = (epoch - warmup) / max(1, epochs - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    hold_unscheduled_groups(optimizer)  # LambdaLR already applied the first factor to every group
    return scheduler
