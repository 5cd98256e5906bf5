"""Loss-weighting strategies: per-task losses in, one loss to back-propagate (plus weights) out.

    from emomtl.weighting import create
    strategy = create("druw", ["emotion", "gender"], T=10, phi=1.0)
    out = strategy(losses, shared_parameters=model.shared_parameters())

See :mod:`emomtl.weighting.base` for the step protocol the training loop follows.
"""

from __future__ import annotations

from emomtl.weighting.base import NonFiniteLossError, WeightingOutput, WeightingStrategy
from emomtl.weighting.registry import STRATEGIES, available, create, describe

__all__ = [
    "NonFiniteLossError",
    "STRATEGIES",
    "WeightingOutput",
    "WeightingStrategy",
    "available",
    "create",
    "describe",
]
