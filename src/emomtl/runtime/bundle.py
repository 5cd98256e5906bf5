"""The inference bundle: what training writes into a checkpoint and the recognizer reads back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from emomtl.config import Recipe, as_recipe
from emomtl.models import build_model
from emomtl.models.tasks import TaskSpec
from emomtl.runtime.batches import InputSpec, Standardizer, input_specs
from emomtl.runtime.checkpoint import recipe_fingerprint


@dataclass
class InferenceBundle:
    """A trained model with its input specs, standardiser, task label sets and recipe."""

    recipe: Recipe
    tasks: list[TaskSpec]
    model: torch.nn.Module
    specs: dict[str, InputSpec]
    standardizer: Standardizer
    input_shapes: dict[str, tuple[int, ...]]

    @property
    def fingerprint(self) -> str:
        return recipe_fingerprint(self.recipe.to_dict())

    def state(self) -> dict[str, Any]:
        """The checkpoint entries (``recipe`` as a plain mapping, so old and new checkpoints load alike)."""
        return {
            "fingerprint": self.fingerprint,
            "recipe": self.recipe.to_dict(),
            "tasks": [t.to_dict() for t in self.tasks],
            "input_shapes": self.input_shapes,
            "standardizer": self.standardizer.state_dict(),
            "model": self.model.state_dict(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "InferenceBundle":
        """Rebuild the model (in eval mode) from a checkpoint's entries."""
        recipe = as_recipe(state["recipe"])
        tasks = [TaskSpec(**task) for task in state["tasks"]]
        shapes = {k: tuple(v) for k, v in state["input_shapes"].items()}
        model = build_model(recipe.model, tasks, shapes)
        model.load_state_dict(state["model"])
        model.eval()
        return cls(recipe, tasks, model, input_specs(recipe),
                   Standardizer.from_state_dict(state["standardizer"]), shapes)
