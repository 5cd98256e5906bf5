"""Strategy names -> classes: ``create`` builds one by name, ``available`` and ``describe`` list them."""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

from emomtl.errors import ConfigError
from emomtl.weighting.base import WeightingStrategy
from emomtl.weighting.druw import DynamicRestrainedUncertaintyWeighting, ProductDRUW
from emomtl.weighting.dwa import DynamicWeightAverage
from emomtl.weighting.famo import FAMO
from emomtl.weighting.gcs import GradientCosineSimilarity
from emomtl.weighting.gradnorm import GradNorm
from emomtl.weighting.mgda import MGDA
from emomtl.weighting.pcgrad import PCGrad
from emomtl.weighting.softmax import SoftmaxWeighting
from emomtl.weighting.static import EqualWeighting, StaticWeighting
from emomtl.weighting.uncertainty import (
    RegularizedUncertaintyWeighting,
    RestrainedUncertaintyWeighting,
    UncertaintyWeighting,
)

STRATEGIES: dict[str, type[WeightingStrategy]] = {
    cls.name: cls
    for cls in (
        StaticWeighting,
        EqualWeighting,
        SoftmaxWeighting,
        UncertaintyWeighting,
        RegularizedUncertaintyWeighting,
        RestrainedUncertaintyWeighting,
        DynamicWeightAverage,
        DynamicRestrainedUncertaintyWeighting,
        ProductDRUW,
        GradNorm,
        PCGrad,
        MGDA,
        FAMO,
        GradientCosineSimilarity,
    )
}


def available() -> list[str]:
    """Registered strategy names, in registration order (loss-based first)."""
    return list(STRATEGIES)


def require_ddp_safe(name: str) -> None:
    """Refuse a strategy that is not safe under data-parallel training (its ``ddp_safe`` flag)."""
    if name in STRATEGIES and not STRATEGIES[name].ddp_safe:
        raise ConfigError(f"weighting.name: {name!r} is not safe under data-parallel training; "
                          "use one strategy that is (emomtl weighting list)")


def create(
    name: str, task_names: Sequence[str], task_kinds: Mapping[str, str] | None = None, data_parallel: bool = False,
    **params: Any,
) -> WeightingStrategy:
    """Build strategy ``name`` for ``task_names``; unknown names or parameters raise :class:`ConfigError`.

    ``task_kinds`` (task -> kind) is handed to every strategy that declares ``wants_task_kinds`` (the
    uncertainty family, for ``precision_factor="kendall"``) and ignored by the others; a ``task_kinds``
    given in ``params`` (the recipe) wins. ``data_parallel`` refuses a strategy that is not ``ddp_safe``.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"weighting.name: unknown strategy {name!r}; valid: {available()}")
    if data_parallel:
        require_ddp_safe(name)
    cls = STRATEGIES[name]
    if task_kinds is not None and cls.wants_task_kinds and "task_kinds" not in params:
        params["task_kinds"] = {t: task_kinds[t] for t in task_names if t in task_kinds}
    valid = parameters(cls)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(f"weighting: unknown parameter(s) {unknown} for {name!r}; valid: {sorted(valid)}")
    try:
        return cls(task_names, **params)
    except (TypeError, ValueError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"weighting: bad parameters {params} for {name!r}: {error}") from error


def parameters(cls: type[WeightingStrategy]) -> dict[str, Any]:
    """Constructor parameters of a strategy (besides ``task_names``) with their defaults."""
    signature = inspect.signature(cls.__init__)
    return {
        p.name: p.default
        for p in list(signature.parameters.values())[2:]
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def describe() -> list[dict[str, Any]]:
    """One record per strategy: name, kind, ddp_safe, needs_shared_parameters, description, formula, parameters."""
    return [
        {
            "name": name,
            "kind": cls.kind,
            "ddp_safe": cls.ddp_safe,
            "needs_shared_parameters": cls.needs_shared_parameters,
            "description": cls.summary,
            "formula": formula(cls),
            "parameters": {k: _jsonable(v) for k, v in parameters(cls).items()},
        }
        for name, cls in STRATEGIES.items()
    ]


def formula(cls: type[WeightingStrategy]) -> str:
    """The strategy's ``equation`` (else the first line of its docstring)."""
    return cls.equation or (cls.__doc__ or "").strip().splitlines()[0]


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value
