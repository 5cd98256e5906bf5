"""benchmarks/ablation.py: each ablation undoes exactly one practice of the recipe, with a plain control in its place;
practices a recipe lacks are skipped; every variant trains the same single-task arm as emodb_loso's in its own run
folder; the table's differences are to the full recipe. Runs without any corpus (training is replaced)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

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
        changed[name] = {k: variant.get(k) for k in base.keys() | variant.keys() if base.get(k) != variant.get(k)}
    assert changed["train-set standardisation"] == {"inputs.logmel.standardize": True}  # training rows' statistics
    assert changed["centre crop in training"] == {"inputs.logmel.train_crop": "center"}
    assert changed["centre crop at test"] == {"inputs.logmel.eval_crop": "center"}
    assert changed["constant learning rate"] == {"scheduler.name": "none"}
    assert "train.augment" in changed["no SpecAugment"]
    assert all(k.startswith("train.augment") for k in changed["no SpecAugment"])
    (no_specaugment,) = [o for name, _, o in planned if name == "no SpecAugment"]
    # gone, not null (null would mean its defaults)
    assert ablation.config_recipe("cnn", tmp_path, no_specaugment)["train"]["augment"] == {}


def test_no_specaugment_keeps_the_other_augmentations(ablation, tmp_path: Path) -> None:
    recipe = ablation.config_recipe("cnn", tmp_path, ["train.augment.speed=[0.9,1.1]"])
    (overrides,) = [o for name, _, o in ablation.variants(recipe) if name == "no SpecAugment"]
    augment = ablation.config_recipe("cnn", tmp_path, ["train.augment.speed=[0.9,1.1]", *overrides])["train"]["augment"]
    assert augment == {"speed": [0.9, 1.1]}


def test_practices_the_recipe_lacks_are_skipped(ablation, tmp_path: Path, capsys) -> None:
    plain = ["inputs.logmel.standardize=false", "inputs.logmel.train_crop=center", "inputs.logmel.eval_crop=center",
             "train.augment={}", "scheduler.name=none"]
    planned = ablation.variants(ablation.config_recipe("cnn", tmp_path, plain))
    assert [name for name, _, _ in planned] == [ablation.FULL]
    assert capsys.readouterr().out.count("skip ") == len(ablation.ABLATIONS)


def test_crops_are_read_with_their_defaults(ablation, tmp_path: Path) -> None:
    recipe = ablation.config_recipe("cnn", tmp_path)
    del recipe["inputs"]["logmel"]["train_crop"]  # InputSpec's default: random crops of the length
    assert "centre crop in training" in [name for name, _, _ in ablation.variants(recipe)]
    recipe["inputs"]["logmel"]["length"] = None  # whole recordings: no crop, no windows to undo
    names = [name for name, _, _ in ablation.variants(recipe)]
    assert "centre crop in training" not in names and "centre crop at test" not in names


def test_table_gives_differences_to_the_full_recipe(ablation) -> None:
    ua = ablation.UA

    def row(name: str, test: float, val: float, seeds: int = 1) -> dict:
        return {"ablation": name, "undoes": "-", "overrides": "-", ua: f"{100 * test:.1f}",
                f"val {ua}": f"{100 * val:.1f}", "train time (s)": "1", "_ua_mean": test, "_val_ua": val,
                "_seeds": seeds}

    table = ablation.ablation_table([row("no SpecAugment", 0.60, 0.70), row(ablation.FULL, 0.65, 0.66)])
    by_name = table.set_index("ablation")
    assert by_name.loc["no SpecAugment", "UA change (points)"] == "-5.0"
    assert by_name.loc["no SpecAugment", "val UA change (points)"] == "+4.0"
    assert by_name.loc[ablation.FULL, "UA change (points)"] == "-"
    with pytest.raises(SystemExit, match="different numbers of seeds"):
        ablation.ablation_table([row("no SpecAugment", 0.60, 0.70, seeds=2), row(ablation.FULL, 0.65, 0.66)])


def test_main_trains_emodb_loso_single_task_arm_per_variant(ablation, tmp_path: Path, monkeypatch) -> None:
    import emodb_loso

    calls, written = [], {}
    monkeypatch.setattr(ablation, "require_corpus", lambda data, name: tmp_path)
    monkeypatch.setattr(ablation, "run_experiment", lambda recipe, run_dir, **kw: calls.append((recipe, run_dir, kw)))
    monkeypatch.setattr(ablation, "summarise", lambda run_dir, label: [
        {ablation.UA: "50.0", f"val {ablation.UA}": "60.0", "train time (s)": "1", "_seeds": 1,
         "_ua_mean": 0.5 + 0.01 * len(calls), "_val_ua": 0.6}])
    monkeypatch.setattr(ablation, "seed_records", lambda run_dir, label: [{"seed": 0}])
    monkeypatch.setattr(ablation, "write_outputs", lambda out, name, table, extra=None: written.update({name: table}))
    monkeypatch.setattr(sys, "argv", ["ablation.py", "--config", "cnn", "--override", "train.epochs=15",
                                      "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")])
    ablation.main()
    full_recipe, full_dir, full_kw = calls[0]
    assert full_recipe == emodb_loso.config_recipe("cnn", tmp_path, ["train.epochs=15"])
    assert full_kw["weightings"] == [] and full_kw["single_task"] == ["emotion"] and full_kw["seeds"] == [0]
    assert [run_dir.name for _, run_dir, _ in calls] == [
        "full_recipe", "train-set_standardisation", "centre_crop_in_training", "centre_crop_at_test",
        "no_SpecAugment", "constant_learning_rate"]
    assert all(recipe["train"]["epochs"] == 15 for recipe, _, _ in calls)  # --override reaches every variant
    assert calls[1][0]["inputs"]["logmel"]["standardize"] is True
    table = written["ablation"].set_index("ablation")
    assert table.loc["constant learning rate", "UA change (points)"] == "+5.0"  # 0.56 - 0.51
