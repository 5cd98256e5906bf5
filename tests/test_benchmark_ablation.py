"""benchmarks/ablation.py: each ablation undoes exactly one practice of the recipe, practices a recipe lacks are
skipped, and the table's differences are to the full recipe. Runs without any corpus."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from emomtl.config import load_recipe

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def ablation():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("ablation")
    finally:
        sys.path.remove(str(BENCHMARKS))


def flatten(mapping: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_each_ablation_changes_one_practice_of_the_cnn_recipe(ablation, tmp_path: Path) -> None:
    recipe = ablation.config_recipe("cnn", tmp_path)
    planned = ablation.variants(recipe)
    assert [name for name, _, _ in planned] == [ablation.FULL, "train-set standardisation", "centre crop in training",
                                                "centre crop at test", "no SpecAugment", "constant learning rate"]
    base = flatten(recipe)
    changed = {}
    for name, _, overrides in planned[1:]:
        variant = flatten(ablation.config_recipe("cnn", tmp_path, overrides))
        changed[name] = {k for k in base.keys() | variant.keys() if base.get(k) != variant.get(k)}
    assert changed["train-set standardisation"] == {"inputs.logmel.standardize"}
    assert changed["centre crop in training"] == {"inputs.logmel.train_crop"}
    assert changed["centre crop at test"] == {"inputs.logmel.eval_crop"}
    assert changed["constant learning rate"] == {"scheduler.name"}
    assert changed["no SpecAugment"] and all(k.startswith("train.augment") for k in changed["no SpecAugment"])


def test_no_specaugment_keeps_the_other_augmentations(ablation, tmp_path: Path) -> None:
    recipe = ablation.config_recipe("cnn", tmp_path, ["train.augment.gain={low_db: -3, high_db: 3}"])
    (overrides,) = [o for name, _, o in ablation.variants(recipe) if name == "no SpecAugment"]
    augment = load_recipe(ablation.CONFIGS["cnn"], [*overrides])["train"]["augment"]
    assert augment == {"gain": {"low_db": -3, "high_db": 3}}


def test_practices_the_recipe_lacks_are_skipped(ablation, tmp_path: Path, capsys) -> None:
    plain = ["inputs.logmel.standardize=false", "inputs.logmel.train_crop=center", "inputs.logmel.eval_crop=center",
             "train.augment={}", "scheduler.name=none"]
    planned = ablation.variants(ablation.config_recipe("cnn", tmp_path, plain))
    assert [name for name, _, _ in planned] == [ablation.FULL]
    assert capsys.readouterr().out.count("skip ") == len(ablation.ABLATIONS)


def test_table_gives_differences_to_the_full_recipe(ablation) -> None:
    def row(name: str, ua: float, val: float) -> dict:
        return {"ablation": name, "undoes": "-", "overrides": "-", "UA %": f"{100 * ua:.1f}",
                "val UA %": f"{100 * val:.1f}", "train time (s)": "1", "_ua_mean": ua, "_val_ua": val, "_seeds": 1}

    table = ablation.ablation_table([row("no SpecAugment", 0.60, 0.70), row(ablation.FULL, 0.65, 0.66)])
    by_name = table.set_index("ablation")
    assert by_name.loc["no SpecAugment", "UA change (points)"] == "-5.0"
    assert by_name.loc["no SpecAugment", "val UA change (points)"] == "+4.0"
    assert by_name.loc[ablation.FULL, "UA change (points)"] == "-"
