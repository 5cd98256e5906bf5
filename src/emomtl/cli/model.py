"""``emomtl model``: the architecture registry from the command line.

``emomtl model search-exits RECIPE`` grid-searches the exit block of every task of a ``multi_exit_cnn`` recipe on
validation speakers.

``emomtl model list`` prints every architecture with one line about it.
``emomtl model summary RECIPE [KEY=VALUE ...]`` builds the recipe's model for its corpus and features and prints
its parameters, multiply-accumulates per second of audio and output shape per task (Markdown).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emomtl.errors import ConfigError
from emomtl.models import available_models
from emomtl.models.summary import ModelSummary


def list_models(args: argparse.Namespace) -> int:
    """Print ``name  summary`` for every registered architecture."""
    models = available_models()
    width = max(map(len, models))
    for name, summary in models.items():
        print(f"{name:<{width}}  {summary}")
    return 0


def search_exit_blocks(args: argparse.Namespace) -> int:
    """Print every exit assignment's validation score and the best one (a ``model.exits`` override)."""
    import yaml

    from emomtl.config import Recipe
    from emomtl.training.exit_search import search_exits

    recipe = Recipe.load(args.recipe, args.overrides)
    candidates = yaml.safe_load(args.candidates) if args.candidates else None
    result = search_exits(recipe, args.out, folds=args.folds, candidates=candidates)
    print(result.trials.to_string(index=False))
    exits = ", ".join(f"{task}: {block}" for task, block in result.best_exits.items())
    print(f"\nbest (validation {recipe.train.select_metric} = {result.best_score:.4f}): model.exits={{{exits}}}")
    return 0


def summarize_recipe(args: argparse.Namespace) -> int:
    """Print the Markdown summary of a recipe's model (see :func:`recipe_summary`)."""
    print(recipe_summary(args.recipe, args.overrides, rows=args.rows).to_markdown(), end="")
    return 0


def recipe_summary(recipe_name: str, overrides: list[str] | None = None, rows: int = 4) -> ModelSummary:
    """Build a recipe's model and summarise it on real inputs of its corpus.

    Tasks are fitted on the whole corpus table (so class counts are right); features are extracted (or read from
    the cache) for the first of the first ``rows`` files that work. Seconds of audio come from the first input
    with a time rate (waveform, log-mel, encoder states, video), else from the audio file's duration.
    """
    import numpy as np
    import soundfile as sf

    from emomtl.config import Recipe
    from emomtl.features import create_extractor
    from emomtl.models.registry import build_model
    from emomtl.models.summary import summarize
    from emomtl.models.tasks import parse_tasks
    from emomtl.runtime.batches import input_specs, make_batch
    from emomtl.training.prepare import extract_inputs, feature_cache_dir, load_table

    recipe = Recipe.load(recipe_name, overrides or [])
    data = recipe.data
    table, _ = load_table(data)
    tasks = [task.fit(table) for task in parse_tasks(recipe.tasks)]
    head, inputs, _ = extract_inputs(table.head(rows), recipe.features, data.sample_rate, feature_cache_dir(data),
                                     num_workers=1, progress=False)
    if len(head) == 0:
        raise ConfigError(f"features: none of the first {rows} files of the corpus yields features")
    specs = input_specs(recipe)
    batch = make_batch(inputs, np.array([0]), specs, None, train=False)
    model = build_model(recipe.model, tasks, {name: tuple(t.shape[1:]) for name, t in batch.items()})
    keys = set(model.input_keys) | set(model.optional_input_keys)
    batch = {name: tensor for name, tensor in batch.items() if name in keys}
    seconds = None
    for name, spec in specs.items():
        rate = create_extractor(recipe.features[name], data.sample_rate).frames_per_second
        if name in batch and rate and spec.time_axis is not None:
            seconds = batch[name].shape[1:][spec.time_axis] / rate
            break
    if seconds is None:
        seconds = float(sf.info(str(head.loc[0, "path"])).duration)
    return summarize(model, batch, seconds)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``model list`` and ``model summary`` to the ``emomtl`` parser."""
    parser = subparsers.add_parser("model", help="list and inspect architectures")
    commands = parser.add_subparsers(dest="model_command", required=True)
    listing = commands.add_parser("list", help="the available architectures, one line each")
    listing.set_defaults(handler=list_models)
    summary = commands.add_parser(
        "summary", help="parameters, multiply-accumulates per second of audio and output shapes of a recipe's model"
    )
    summary.add_argument("recipe", help="recipe name (e.g. quickstart) or path to a YAML file")
    summary.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.lstm_hidden=128")
    summary.add_argument("--rows", type=int, default=4, help="files to try for example inputs (default: 4)")
    summary.set_defaults(handler=summarize_recipe)
    search = commands.add_parser("search-exits", help="grid-search multi_exit_cnn exit blocks on validation speakers")
    search.add_argument("recipe", help="recipe name or path (model.name must be multi_exit_cnn)")
    search.add_argument("overrides", nargs="*", help="dotted overrides")
    search.add_argument("--folds", type=int, default=1, help="folds whose validation speakers score each trial")
    search.add_argument("--candidates", default=None,
                        help="YAML mapping task -> blocks to try, e.g. '{age: [1, 2], country: [2, 3, 4]}'")
    search.add_argument("--out", type=Path, default=Path("runs") / "exit-search")
    search.set_defaults(handler=search_exit_blocks)
