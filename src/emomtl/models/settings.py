"""Typed, validated model settings parsed from a recipe's ``model:`` section.

Each architecture declares its settings as a dataclass whose defaults are the paper's sizes. Parsing refuses
unknown keys (listing the valid ones) and values of the wrong type, naming the dotted setting, so a bad recipe
fails at construction, before any training.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from emomtl.errors import ConfigError

S = TypeVar("S")


def parse_settings(
    cls: type[S], section: Mapping[str, Any], where: str = "model", extra_keys: tuple[str, ...] = ()
) -> S:
    """Build ``cls`` from ``section``; unknown keys or ill-typed values raise :class:`ConfigError`.

    ``extra_keys`` are accepted-and-ignored keys listed among the valid ones (e.g. ``name``).
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(section) - set(fields) - set(extra_keys))
    if unknown:
        valid = sorted(set(fields) | set(extra_keys))
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {valid}")
    hints = typing.get_type_hints(cls)
    values = {key: coerce(value, hints[key], f"{where}.{key}") for key, value in section.items() if key in fields}
    settings = cls(**values)
    check = getattr(settings, "check", None)
    if callable(check):
        check(where)
    return settings


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """Return ``value`` converted to ``annotation`` (ints to floats, tuples to lists) or raise ``ConfigError``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return coerce(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {args}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return [coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        key_type, value_type = args or (Any, Any)
        return {coerce(k, key_type, where): coerce(v, value_type, f"{where}.{k}") for k, v in value.items()}
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


# ------------------------------------------------------------------ checks used by the settings' check() methods
def require_positive(where: str, **values: int | float | list[int] | list[float]) -> None:
    """Every named value (or every item of a named list) must be > 0."""
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        if not items or any(v <= 0 for v in items):
            raise ConfigError(f"{where}.{name}: must be positive, got {value!r}")


def require_probability(where: str, **values: float) -> None:
    """Every named value must lie in [0, 1)."""
    for name, value in values.items():
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{where}.{name}: must be in [0, 1), got {value!r}")


def require_divisible(where: str, name: str, dim: int, heads: int, dim_name: str) -> None:
    """Attention width must split evenly over the heads."""
    if dim % heads:
        raise ConfigError(f"{where}.{name}: {heads} heads do not divide the {dim_name} width {dim}")
