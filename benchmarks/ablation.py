"""What each change around a paper's layers is worth: a benchmark recipe with one of them undone at a time (issue 20).

    python benchmarks/ablation.py --config cnn --override train.epochs=15 --seeds 0 \
        --runs runs/benchmarks_cnn_ablation --out benchmarks/results/cnn_ablation_15_epochs

Trains the single-task emotion arm of ``emodb_loso.py``'s configuration ``--config`` on EMO-DB LOSO (validation
speakers drawn inside each training fold choose the checkpoint) as the recipe has it (``full recipe``) and once per
ablation, each undoing one practice the recipe adds around the paper's layers:

- per-speaker standardisation of the input -> one set of statistics from the training rows;
- random crops in training -> the centre crop;
- every window averaged at test -> the centre crop;
- SpecAugment -> none;
- the learning-rate schedule -> a constant rate.

An ablation whose practice the recipe does not use is skipped and named. Each variant has its own run folder
(``<runs>/<ablation>``, resumable) and one table row: test UA pooled over the folds, validation UA, and both as a
difference to the full recipe. Trains one arm per variant; ``--jobs 2`` trains two folds at a time.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (sets OMP_WAIT_POLICY before torch is imported)
import numpy as np
import pandas as pd
import yaml
from _common import (DEFAULT_DATA, ROOT, UA, Timer, markdown_table, require_corpus, seed_records, summarise,
                     write_outputs)
from emodb_loso import CONFIGS, config_recipe

from emomtl.runtime.batches import InputSpec
from emomtl.training.experiment import run_experiment

FULL = "full recipe"


#: A recipe and its input's name -> the overrides that undo one practice, or None when the recipe does not use it.
Undo = Callable[[dict[str, Any], str], list[str] | None]


@dataclass(frozen=True)
class Ablation:
    """One practice of a recipe undone: ``overrides(recipe, input)`` gives the recipe overrides, or None when the
    recipe does not use the practice."""

    name: str
    undoes: str
    overrides: Undo


def _spec(recipe: dict[str, Any], name: str) -> InputSpec:
    """The input's batch settings as training reads them (the defaults of ``InputSpec`` filled in)."""
    return InputSpec(name, **(recipe["inputs"].get(name) or {}))


def _input_setting(key: str, used: Callable[[InputSpec], bool], plain: str) -> Undo:
    def overrides(recipe: dict[str, Any], name: str) -> list[str] | None:
        return [f"inputs.{name}.{key}={plain}"] if used(_spec(recipe, name)) else None
    return overrides


def _no_specaugment(recipe: dict[str, Any], name: str) -> list[str] | None:
    augment = dict(recipe["train"].get("augment") or {})
    if "specaugment" not in augment:
        return None
    augment.pop("specaugment")  # the rest of the augmentation stays (``specaugment: null`` would mean its defaults)
    return [f"train.augment={yaml.safe_dump(augment, default_flow_style=True).strip()}"]


def _constant_rate(recipe: dict[str, Any], name: str) -> list[str] | None:
    return ["scheduler.name=none"] if recipe["scheduler"]["name"] != "none" else None


ABLATIONS = [
    Ablation("train-set standardisation", "per-speaker standardisation",
             _input_setting("standardize", lambda s: s.standardize == "speaker", "true")),
    # crops and windows act only on an input cut to a length (InputSpec's train_crop defaults to random)
    Ablation("centre crop in training", "random crops in training",
             _input_setting("train_crop", lambda s: bool(s.length) and s.train_crop == "random", "center")),
    # validation takes the same path, so this arm's validation UA changes with it
    Ablation("centre crop at test", "every window averaged at test",
             _input_setting("eval_crop", lambda s: bool(s.length) and s.eval_crop == "windows", "center")),
    Ablation("no SpecAugment", "SpecAugment", _no_specaugment),
    Ablation("constant learning rate", "the learning-rate schedule", _constant_rate),
]


def main_input(recipe: dict[str, Any]) -> str:
    """The input the ablations act on: the recipe's only feature (windows at test need exactly one; a model with
    several inputs is not ablated here)."""
    features = list(recipe["features"])
    if len(features) != 1:
        raise SystemExit(f"ablation needs a recipe with one feature input, not {features}")
    return features[0]


def variants(recipe: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """``(name, what it undoes, overrides)`` of the full recipe and of each ablation the recipe allows."""
    name = main_input(recipe)
    planned = [(FULL, "-", [])]
    for ablation in ABLATIONS:
        overrides = ablation.overrides(recipe, name)
        if overrides is None:
            print(f"skip {ablation.name}: the recipe does not use {ablation.undoes}")
        else:
            planned.append((ablation.name, ablation.undoes, overrides))
    return planned


def ablation_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The summarised variants with their differences to the full recipe (test and validation UA, points)."""
    table = pd.DataFrame(rows)
    full = table[table["ablation"] == FULL].iloc[0]
    if table["_seeds"].nunique() != 1:  # a difference between unequal seed sets would compare unlike things
        seeds = dict(zip(table["ablation"], table["_seeds"]))
        raise SystemExit(f"variants finished different numbers of seeds: {seeds}")

    def points(value: float) -> str:
        return f"{100 * value:+.1f}" if np.isfinite(value) else "-"

    table["UA change (points)"] = [points(ua - full["_ua_mean"]) if a != FULL else "-"
                                   for a, ua in zip(table["ablation"], table["_ua_mean"])]
    table["val UA change (points)"] = [points(ua - full["_val_ua"]) if a != FULL else "-"
                                       for a, ua in zip(table["ablation"], table["_val_ua"])]
    table["seeds"] = table["_seeds"]
    columns = ["ablation", "undoes", "overrides", "seeds", UA, "UA change (points)", f"val {UA}",
               "val UA change (points)", "train time (s)"]
    return table[columns]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding emodb/")
    parser.add_argument("--config", default="cnn", help=f"one of {sorted(CONFIGS)}")
    parser.add_argument("--override", action="append", default=[], help="recipe override for every variant")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "benchmarks_ablation")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ablation")
    args = parser.parse_args()
    root = require_corpus(args.data, "emodb")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, seed_rows = [], []
    for name, undoes, overrides in variants(config_recipe(args.config, root, args.override)):
        recipe = config_recipe(args.config, root, [*args.override, *overrides])
        run_dir = args.runs / name.replace(" ", "_")
        with Timer() as timer:
            run_experiment(recipe, run_dir, weightings=[], single_task=["emotion"], seeds=seeds, jobs=args.jobs)
        print(f"{name}: {timer.seconds:.0f} s wall time, {len(seeds)} seed(s)", flush=True)
        for row in summarise(run_dir, args.config):
            rows.append({"ablation": name, "undoes": undoes, "overrides": " ".join(overrides) or "-", **row})
        seed_rows.extend({"ablation": name, **r} for r in seed_records(run_dir, args.config))
    table = ablation_table(rows)
    write_outputs(args.out, "ablation", table, {"config": args.config, "overrides": args.override, "seeds": seeds})
    write_outputs(args.out, "ablation_seeds", pd.DataFrame(seed_rows))
    print(markdown_table(table))


if __name__ == "__main__":
    main()
