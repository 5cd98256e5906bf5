"""``emomtl recipe show NAME [overrides]``: the fully resolved recipe (every default filled in), as YAML."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from typing import Any

import yaml

from emomtl.config import Recipe

#: Strategy arguments the trainer passes itself (not recipe settings).
TRAINER_SUPPLIED = ("task_kinds",)


def show_recipe(args: argparse.Namespace) -> int:
    print(yaml.safe_dump(resolved_with_defaults(Recipe.load(args.recipe, args.overrides)), sort_keys=False), end="")
    return 0


def resolved_with_defaults(recipe: Recipe) -> dict[str, Any]:
    """The recipe as a mapping, with the model's and the weighting strategy's own defaults filled in as well."""
    from emomtl.models.registry import model_class
    from emomtl.models.settings import parse_settings
    from emomtl.training.optim import WEIGHTING_OPTIM_DEFAULTS
    from emomtl.weighting.registry import STRATEGIES, parameters

    out = recipe.to_dict()
    model = out["model"]
    settings = parse_settings(model_class(model["name"]).Settings, model, where="model", extra_keys=("name",))
    out["model"] = {"name": model["name"], **dataclasses.asdict(settings)}
    weighting = out.get("weighting") or {"name": "static"}
    name = weighting.get("name", "static")
    if name in STRATEGIES:
        defaults = {key: value for key, value in parameters(STRATEGIES[name]).items()
                    if value is not inspect.Parameter.empty and key not in TRAINER_SUPPLIED}
        out["weighting"] = {"name": name, **defaults, **WEIGHTING_OPTIM_DEFAULTS, **weighting}
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``recipe show`` to the ``emomtl`` parser."""
    parser = subparsers.add_parser("recipe", help="inspect recipes")
    commands = parser.add_subparsers(dest="recipe_command", required=True)
    show = commands.add_parser("show", help="print the resolved recipe (defaults filled in, overrides applied)")
    show.add_argument("recipe", help="recipe name (e.g. quickstart) or path to a YAML file")
    show.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=5")
    show.set_defaults(handler=show_recipe)
