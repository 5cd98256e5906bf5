"""benchmarks/learning_curves.py on run folders written by hand (history.csv, steps.csv)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import learning_curves  # noqa: E402


def _run(folder: Path, shift: float, grad_norms: bool) -> None:
    folder.mkdir(parents=True)
    pd.DataFrame({"epoch": [0, 1, 2], "val.emotion.ua": [0.2 + shift, 0.4 + shift, 0.5 + shift],
                  "val.gender.ua": [0.6, 0.7, 0.8], "weight.emotion": [1.0, 1.2, 1.4], "weight.gender": [1.0, 0.9, 0.8],
                  "train.loss": [3.0, 2.0, 1.0], "train.emotion.loss": [2.0, 1.5, 1.0],
                  "train.gender.loss": [0.7, 0.3, 0.1]}).to_csv(folder / "history.csv", index=False)
    if grad_norms:
        pd.DataFrame({"step": [2, 4], "epoch": [0, 1], "grad_norm.emotion": [1.0, 0.5],
                      "grad_norm.gender": [0.2, 0.1]}).to_csv(folder / "steps.csv", index=False)


def test_curves_are_averaged_over_the_folds_of_each_arm(tmp_path):
    for fold, shift in [(0, 0.0), (1, 0.1)]:
        _run(tmp_path / "runs" / "druw" / f"fold{fold}_seed0", shift, grad_norms=True)
    _run(tmp_path / "runs" / "static" / "fold0_seed0", 0.0, grad_norms=False)
    arms = learning_curves.run_folders(tmp_path)
    assert {arm: len(runs) for arm, runs in arms.items()} == {"druw": 2, "static": 1}
    mean = learning_curves.mean_curves(arms["druw"], "history.csv", "epoch")
    assert list(mean["val.emotion.ua"]) == pytest.approx([0.25, 0.45, 0.55])
    out = learning_curves.plot_learning_curves(tmp_path, tmp_path / "curves.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_an_empty_folder_is_refused_by_name(tmp_path):
    with pytest.raises(SystemExit, match="no run folders with history.csv"):
        learning_curves.plot_learning_curves(tmp_path, tmp_path / "x.png")


def test_several_folders_share_one_figure_with_their_arms_named_by_folder(tmp_path):
    _run(tmp_path / "a" / "runs" / "druw" / "fold0_seed0", 0.0, grad_norms=True)
    _run(tmp_path / "b" / "runs" / "druw" / "fold0_seed0", 0.1, grad_norms=True)
    assert sorted(learning_curves.named_arms([tmp_path / "a", tmp_path / "b"])) == ["a/druw", "b/druw"]
    assert list(learning_curves.named_arms([tmp_path / "a"])) == ["druw"]
    out = learning_curves.plot_learning_curves([tmp_path / "a", tmp_path / "b"], tmp_path / "curves.png")
    assert out.stat().st_size > 10_000


def test_summary_gives_last_and_best_validation_ua_and_late_gradient_norms(tmp_path):
    _run(tmp_path / "runs" / "druw" / "fold0_seed0", 0.0, grad_norms=True)
    table = learning_curves.summary_table(learning_curves.arm_curves(learning_curves.run_folders(tmp_path)), last=1)
    row = table.iloc[0]
    assert (row["arm"], row["epochs"], row["val UA % (last epoch)"], row["val UA % (best epoch)"]) == (
        "druw", 3, "50.0", "50.0")
    assert row["last train loss: gender"] == "0.10" and row["grad norm: emotion (last 1 epochs)"] == "0.50"


def test_spread_shows_runs_that_stay_at_chance_beside_runs_that_learn(tmp_path):
    for fold, shift in [(0, -0.36), (1, 0.0), (2, 0.1)]:  # last epoch: 14 %, 50 %, 60 %
        _run(tmp_path / "runs" / "druw" / f"fold{fold}_seed0", shift, grad_norms=False)
    arms = learning_curves.run_folders(tmp_path)
    spread = learning_curves.run_spread(arms)
    assert spread == {"druw": "14.0 / 50.0 / 60.0"}
    table = learning_curves.summary_table(learning_curves.arm_curves(arms), spread=spread)
    assert table.iloc[0]["val UA % per run, last epoch (min / median / max)"] == "14.0 / 50.0 / 60.0"
    assert table.iloc[0]["val UA % (last epoch)"] == "41.3"  # the mean curve alone hides the stuck run
