"""``emomtl recipe show NAME [overrides]``: the fully resolved recipe (every default filled in), as YAML."""

from __future__ import annotations

import argparse

import yaml

from emomtl.config import Recipe


def show_recipe(args: argparse.Namespace) -> int:
    print(yaml.safe_dump(Recipe.load(args.recipe, args.overrides).to_dict(), sort_keys=False), end="")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``recipe show`` to the ``emomtl`` parser."""
    parser = subparsers.add_parser("recipe", help="inspect recipes")
    commands = parser.add_subparsers(dest="recipe_command", required=True)
    show = commands.add_parser("show", help="print the resolved recipe (defaults filled in, overrides applied)")
    show.add_argument("recipe", help="recipe name (e.g. quickstart) or path to a YAML file")
    show.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=5")
    show.set_defaults(handler=show_recipe)
