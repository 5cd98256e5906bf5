"""Recipes: YAML files that declare a whole experiment, with dotted command-line overrides.

A recipe has these sections (see ``recipes/*.yaml``)::

    name, description, data, features, inputs, tasks, model, weighting, optim, scheduler,
    train, protocol, compare, output

Keys of the fixed sections are checked here (an unknown key or a wrong type fails before any
work, naming the key's dotted path). Open sections (``model``, ``weighting``, ``features`` entries)
are checked by the component that consumes them, which raises the same :class:`ConfigError`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from emomtl.errors import ConfigError

_NUMBER = (int, float)
_OPTIONAL_STR = (str, type(None))
_OPTIONAL_INT = (int, type(None))

#: Fixed sections: key -> accepted types. ``dict``-typed keys are free-form mappings.
SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "data": {
        "corpus": (str,),
        "root": _OPTIONAL_STR,
        "options": (dict,),
        "corpora": (list, type(None)),
        "label_map": _OPTIONAL_STR,
        "check_audio": (bool,),
        "sample_rate": (int,),
        "max_files": _OPTIONAL_INT,
        "cache_dir": _OPTIONAL_STR,
    },
    "optim": {
        "name": (str,),
        "lr": _NUMBER,
        "weight_decay": _NUMBER,
        "momentum": _NUMBER,
        "betas": (list,),
        "alpha": _NUMBER,
        "eps": _NUMBER,
    },
    "scheduler": {
        "name": (str,),
        "warmup_epochs": (int,),
        "step_size": (int,),
        "gamma": _NUMBER,
        "min_lr": _NUMBER,
        "patience": (int,),
        "factor": _NUMBER,
    },
    "train": {
        "epochs": (int,),
        "batch_size": (int,),
        "eval_batch_size": (int,),
        "grad_clip": (*_NUMBER, type(None)),
        "ema_decay": (*_NUMBER, type(None)),
        "seed": (int,),
        "seeds": (list,),
        "select_metric": (str,),
        "early_stopping": (int, type(None)),
        "num_workers": (int,),
        "devices": (int,),
        "precision": (str,),
        "log_every": (int,),
        "augment": (dict,),
        "score": (str,),
        "refit": (bool,),
        "tensorboard": (bool,),
        "max_folds": _OPTIONAL_INT,
    },
    "protocol": {
        "name": (str,),
        "seed": (int,),
        "validation_speakers": (int,),
        "folds": (int,),
        "test_speakers": (list, type(None)),
        "test_corpora": (list, str, type(None)),
        "speaker_independent": (bool,),
        "ratios": (list,),
    },
    "compare": {
        "weightings": (list,),
        "single_task": (bool, list),  # true: every scored task; a list: those tasks
        "models": (list,),  # other models as arms beside the weightings, e.g. [linear_svm]
        "params": (dict,),
    },
    "output": {"dir": (str,)},
}

#: Top-level keys and their types; ``SCHEMA`` sections are dicts checked key by key.
TOP_LEVEL: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "description": (str,),
    "method": (str,),
    "reference": (str,),
    "data": (dict,),
    "features": (dict,),
    "inputs": (dict,),
    "tasks": (list,),
    "model": (dict,),
    "weighting": (dict,),
    "optim": (dict,),
    "scheduler": (dict,),
    "train": (dict,),
    "protocol": (dict,),
    "compare": (dict,),
    "output": (dict,),
}

#: Keys of each ``inputs.<name>`` entry (batch-time shaping of one input).
INPUT_KEYS: dict[str, tuple[type, ...]] = {
    "length": _OPTIONAL_INT,
    "train_crop": (str,),
    "eval_crop": (str,),
    "pad_value": (int, float, type(None)),
    "standardize": (bool, str),
    "window_hop": _OPTIONAL_INT,
}

#: Keys of the open ``weighting`` section checked here (the strategy checks its own parameters):
#: the optimiser of the strategy's parameters and the precision factor of the uncertainty family.
WEIGHTING_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "lr": (*_NUMBER, type(None)),
    "follow_schedule": (bool,),
    "precision_factor": (str,),
}
PRECISION_FACTORS = ("paper", "kendall")


def check_weighting_section(section: dict[str, Any], where: str) -> None:
    """Types and values of the ``WEIGHTING_KEYS`` in a weighting section (``where``: its dotted path)."""
    for key, types in WEIGHTING_KEYS.items():
        if key in section:
            _check(section[key], types, f"{where}.{key}")
    lr = section.get("lr")
    if lr is not None and not lr > 0:
        raise ConfigError(f"{where}.lr: must be > 0 (or null for the model's optim.lr), got {lr!r}")
    factor = section.get("precision_factor")
    if factor is not None and factor not in PRECISION_FACTORS:
        raise ConfigError(f"{where}.precision_factor: {factor!r} is not one of {list(PRECISION_FACTORS)}")


DEFAULTS: dict[str, Any] = {
    "description": "",
    "data": {"corpus": "demo", "root": None, "options": {}, "label_map": None, "check_audio": True,
             "sample_rate": 16000, "max_files": None, "cache_dir": None},
    "features": {},
    "inputs": {},
    "weighting": {"name": "static"},
    "optim": {"name": "adam", "lr": 1e-3, "weight_decay": 0.0},
    "scheduler": {"name": "none"},
    "train": {"epochs": 10, "batch_size": 32, "grad_clip": None, "seed": 0, "seeds": [0],
              "select_metric": "val.score", "early_stopping": None, "num_workers": 0, "devices": 1,
              "precision": "32-true", "log_every": 10, "augment": {}, "score": "mean", "refit": False,
              "tensorboard": True, "max_folds": None},
    "protocol": {"name": "loso", "seed": 0, "validation_speakers": 1},
    "compare": {"weightings": ["static"], "single_task": False, "params": {}},
    "output": {"dir": "runs"},
}


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def _check(value: Any, types: tuple[type, ...], where: str) -> None:
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{where}: expected {_type_names(types)}, got a boolean ({value!r})")
    if not isinstance(value, types):
        raise ConfigError(f"{where}: expected {_type_names(types)}, got {type(value).__name__} ({value!r})")


def validate_recipe(recipe: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the dotted path of the first unknown key or wrong type."""
    for key, value in recipe.items():
        if key not in TOP_LEVEL:
            raise ConfigError(f"{key}: unknown recipe section; valid sections: {sorted(TOP_LEVEL)}")
        _check(value, TOP_LEVEL[key], key)
    for section, keys in SCHEMA.items():
        for key, value in recipe.get(section, {}).items():
            if key not in keys:
                raise ConfigError(f"{section}.{key}: unknown key; valid keys: {sorted(keys)}")
            _check(value, keys[key], f"{section}.{key}")
    check_weighting_section(recipe.get("weighting", {}), "weighting")
    for name, entry in (recipe.get("compare", {}).get("params") or {}).items():
        _check(entry, (dict,), f"compare.params.{name}")
        check_weighting_section(entry, f"compare.params.{name}")
    for name, entry in recipe.get("inputs", {}).items():
        _check(entry, (dict,), f"inputs.{name}")
        for key, value in entry.items():
            if key not in INPUT_KEYS:
                raise ConfigError(f"inputs.{name}.{key}: unknown key; valid keys: {sorted(INPUT_KEYS)}")
            _check(value, INPUT_KEYS[key], f"inputs.{name}.{key}")
    for name, entry in recipe.get("features", {}).items():
        _check(entry, (dict,), f"features.{name}")
        if "kind" not in entry:
            raise ConfigError(f"features.{name}.kind: every feature needs a kind")
    if "name" not in recipe.get("model", {}):
        raise ConfigError("model.name: a recipe must name its model")
    if "tasks" not in recipe:
        raise ConfigError("tasks: a recipe needs at least one task")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"model.dropout=0.2"`` -> (["model", "dropout"], 0.2); values are parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY.PATH=VALUE")
    key, raw = text.split("=", 1)
    path = [part for part in key.strip().split(".") if part]
    if not path:
        raise ConfigError(f"override {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({error})") from error
    return path, value


def apply_overrides(recipe: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``recipe`` with each ``a.b.c=value`` override set (creating mappings as needed).

    A list element is addressed by its index: ``tasks.0.label_smoothing=0.1``.
    """
    recipe = copy.deepcopy(recipe)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = recipe
        for i, part in enumerate(path):
            where = ".".join(path[: i + 1])
            if isinstance(node, list):
                if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                    raise ConfigError(f"override {text!r}: {where} is not an index of a list of {len(node)}")
                key: Any = int(part)
            elif isinstance(node, dict):
                key = part
            else:
                raise ConfigError(f"override {text!r}: {'.'.join(path[:i])} is not a mapping or a list")
            if i == len(path) - 1:
                node[key] = value
            else:
                if isinstance(node, dict) and node.get(key) is None:
                    node[key] = {}
                node = node[key]
    return recipe


def recipe_search_path() -> list[Path]:
    """Folders searched for a recipe given by name: ``./recipes`` then the repository's ``recipes/``."""
    repository = Path(__file__).resolve().parents[2] / "recipes"
    return [Path.cwd() / "recipes", repository]


def find_recipe(name_or_path: str | Path) -> Path:
    """Resolve a recipe path, or a bare name such as ``quickstart``."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for folder in recipe_search_path():
        for candidate in (folder / f"{name_or_path}.yaml", folder / str(name_or_path)):
            if candidate.is_file():
                return candidate
    raise ConfigError(f"recipe {str(name_or_path)!r} not found (looked in {[str(p) for p in recipe_search_path()]})")


def load_recipe(name_or_path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read a recipe, fill defaults, apply overrides and validate; returns the resolved mapping."""
    path = find_recipe(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of sections")
    recipe = resolve_recipe(raw, overrides)
    recipe.setdefault("name", path.stem)
    return recipe


def resolve_recipe(raw: dict[str, Any], overrides: list[str] | None = None) -> dict[str, Any]:
    """Validate a raw mapping, then fill defaults and apply overrides (validating again)."""
    validate_recipe(raw)
    recipe = _merge(DEFAULTS, apply_overrides(raw, overrides or []))
    validate_recipe(recipe)
    return recipe


def save_recipe(recipe: dict[str, Any], path: Path) -> None:
    """Write the resolved recipe next to a run's results."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
