"""``emomtl tune``: choose settings on validation speakers inside the training folds (Optuna)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rich.console import Console

from emomtl.config import Recipe
from emomtl.errors import ConfigError

console = Console(stderr=True)


def register(subparsers: argparse._SubParsersAction) -> None:
    tune = subparsers.add_parser("tune",
                                 help="search settings on validation speakers only (Optuna TPE + median pruning)")
    tune.add_argument("recipe", help="recipe name or path to a YAML file")
    tune.add_argument("overrides", nargs="*", help="dotted overrides applied before the search")
    tune.add_argument("--space", type=Path, required=True,
                      help="YAML search space: dotted key -> {type, low, high, ...}")
    tune.add_argument("--trials", type=int, default=20, help="number of trials (default 20)")
    tune.add_argument("--folds", help="comma-separated outer folds whose training part is searched (default: all)")
    tune.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    tune.add_argument("--out", type=Path, help="output folder (default: runs/<recipe>-tune)")
    tune.add_argument("--quiet", action="store_true", help="no progress bars")
    tune.set_defaults(handler=run_tune, command_name="tune")


def run_tune(args: argparse.Namespace) -> int:
    from emomtl.training.tuning import load_space, tune

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    recipe = Recipe.load(args.recipe, args.overrides)
    space = load_space(args.space)
    try:
        folds = [int(k) for k in args.folds.split(",")] if args.folds else None
    except ValueError as error:
        raise ConfigError(f"--folds: need comma-separated fold numbers, got {args.folds!r}") from error
    out = args.out or Path(recipe.output.dir) / f"{recipe.name}-tune"

    def report(number: int, state: str, value: float | None, per_fold: list[float]) -> None:
        if not args.quiet:
            shown = "-" if value is None else f"{value:.4f}"
            console.print(f"trial {number + 1}/{args.trials} {state.lower()}: {shown} over {len(per_fold)} fold(s)")

    result = tune(recipe, space, args.trials, out, folds=folds, seed=args.seed, progress=not args.quiet,
                  on_trial=report)
    console.print(f"best validation {recipe.train.select_metric} = {result.best_value:.4f} with "
                  f"{' '.join(result.best_overrides)}")
    console.print(f"trials: {out / 'trials.csv'}  chosen recipe: {out / 'best_recipe.yaml'}")
    return 0
