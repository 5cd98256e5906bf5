"""The architecture registry: ``build_model`` picks a :class:`MultiTaskModel` by the recipe's ``model.name``."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from emomtl.errors import ConfigError
from emomtl.models.base import MultiTaskModel
from emomtl.models.settings import parse_settings
from emomtl.models.tasks import TaskSpec

#: Modules defining the built-in architectures; imported on first use so ``import emomtl.models`` stays light.
BUILTIN_MODULES = (
    "emomtl.models.wave_av_lstm",
    "emomtl.models.multi_exit_cnn",
    "emomtl.models.bridge_fusion",
    "emomtl.models.cnn_blstm_att",
    "emomtl.models.functional_mlp",
    "emomtl.models.linear_svm",
)

_REGISTRY: dict[str, type[MultiTaskModel]] = {}


def register_model(cls: type[MultiTaskModel]) -> type[MultiTaskModel]:
    """Class decorator adding an architecture under ``cls.name``."""
    known = _REGISTRY.get(cls.name)
    if not cls.name or (known is not None and known.__qualname__ != cls.__qualname__):
        raise ValueError(f"model name {cls.name!r} is empty or already registered by {known}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def available_models() -> dict[str, str]:
    """Registered architecture names (sorted) mapped to their one-line summaries."""
    _load_builtins()
    return {name: _REGISTRY[name].summary for name in sorted(_REGISTRY)}


def model_class(name: str) -> type[MultiTaskModel]:
    """The class registered as ``name``, or ``ConfigError`` listing the valid names."""
    _load_builtins()
    if name not in _REGISTRY:
        raise ConfigError(f"model.name: {name!r} is not one of {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def is_classical(config: Mapping[str, Any]) -> bool:
    """Whether the recipe's ``model:`` section names a closed-form model (fitted without the gradient loop)."""
    return bool(getattr(model_class(str(config.get("name"))), "classical", False))


def default_settings(name: str) -> dict[str, Any]:
    """The paper-size settings of an architecture, as a ``model:`` section."""
    return {"name": name, **dataclasses.asdict(model_class(name).Settings())}


def check_model_settings(config: Mapping[str, Any]) -> None:
    """Parse a ``model:`` section with its architecture's settings (a bad name or setting raises ConfigError)."""
    if "name" not in config:
        raise ConfigError("model.name: a recipe must name its model")
    parse_settings(model_class(config["name"]).Settings, config, where="model", extra_keys=("name",))


def build_model(
    config: Mapping[str, Any], tasks: Sequence[TaskSpec], input_shapes: Mapping[str, tuple[int, ...]]
) -> MultiTaskModel:
    """Build the architecture named by ``config['name']`` for ``tasks`` on inputs of ``input_shapes``.

    ``config`` is the recipe's ``model:`` section; unknown keys, ill-typed values, inputs the configuration
    needs but the corpus lacks, and inconsistent sizes raise :class:`ConfigError` naming the setting.
    """
    if not isinstance(config, Mapping) or "name" not in config:
        raise ConfigError(f"model.name: the model section needs a 'name' (one of {sorted(available_models())})")
    cls = model_class(str(config["name"]))
    settings = parse_settings(cls.Settings, config, where="model", extra_keys=("name",))
    model = cls(settings, list(tasks), dict(input_shapes))  # type: ignore[call-arg]
    MultiTaskModel.require_inputs(input_shapes, model.input_keys, "model", f"{cls.name} input")
    return model
