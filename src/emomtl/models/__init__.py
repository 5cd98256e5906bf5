"""Architectures and task heads. Models return ``dict[task_name, Tensor]`` and never weight losses.

Usage::

    model = build_model({"name": "functional_mlp", "hidden": [64]}, tasks, {"functionals": (88,)})
    outputs = model({"functionals": batch})          # {task name: tensor}

``available_models()`` lists the architectures (``emomtl model list``); ``emomtl.models.summary`` counts
parameters and multiply-accumulates per second of audio.
"""

from __future__ import annotations

from emomtl.models.base import MultiTaskModel
from emomtl.models.registry import available_models, build_model, default_settings, model_class, register_model
from emomtl.models.tasks import TaskSpec

__all__ = [
    "MultiTaskModel",
    "TaskSpec",
    "available_models",
    "build_model",
    "default_settings",
    "model_class",
    "register_model",
]
