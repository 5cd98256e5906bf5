"""Fake run directories shaped like docs/ARCHITECTURE.md "Run directory", small enough to report in a second."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

CLASSES = ["angry", "happy", "neutral", "sad"]
EPOCHS = 4
STEPS_PER_EPOCH = 3

#: Test metrics per (strategy, fold, seed); softmax is better on emotion and valence CCC, static on MAE.
RESULTS = {
    ("static", 1, 1): {"emotion.ua": 0.60, "emotion.wa": 0.62, "valence.ccc": 0.40, "valence.mae": 0.10},
    ("static", 1, 2): {"emotion.ua": 0.64, "emotion.wa": 0.66, "valence.ccc": 0.42, "valence.mae": 0.11},
    ("static", 2, 1): {"emotion.ua": 0.50, "emotion.wa": 0.55, "valence.ccc": 0.30, "valence.mae": 0.12},
    ("static", 2, 2): {"emotion.ua": 0.54, "emotion.wa": 0.57, "valence.ccc": 0.36, "valence.mae": 0.13},
    ("softmax", 1, 1): {"emotion.ua": 0.70, "emotion.wa": 0.71, "valence.ccc": 0.50, "valence.mae": 0.20},
    ("softmax", 1, 2): {"emotion.ua": 0.66, "emotion.wa": 0.69, "valence.ccc": 0.52, "valence.mae": 0.22},
    ("softmax", 2, 1): {"emotion.ua": 0.58, "emotion.wa": 0.60, "valence.ccc": 0.44, "valence.mae": 0.21},
    ("softmax", 2, 2): {"emotion.ua": 0.62, "emotion.wa": 0.63, "valence.ccc": 0.46, "valence.mae": 0.19},
}
FINAL_WEIGHTS = {"static": (0.5, 0.5), "softmax": (0.7, 0.3)}


def result_rows(
    seeds: tuple[int, ...] = (1, 2), folds: tuple[int, ...] = (1, 2), regression_only: bool = False
) -> pd.DataFrame:
    """The fixture's ``results.csv`` rows."""
    rows = []
    for (strategy, fold, seed), metrics in RESULTS.items():
        if seed not in seeds or fold not in folds:
            continue
        metrics = {k: v for k, v in metrics.items() if not (regression_only and k.startswith("emotion."))}
        score = np.mean([metrics[k] for k in metrics if k.endswith((".ua", ".ccc"))])
        weights = FINAL_WEIGHTS[strategy]
        row = {"strategy": strategy, "fold": f"fold{fold}", "seed": seed, **metrics, "score": score}
        if not regression_only:
            row["weight.emotion"] = weights[0]
        row |= {"weight.valence": weights[1], "best_epoch": 3, "test_speakers": f"s{fold}", "wall_time_s": 30.0 + fold}
        rows.append(row)
    return pd.DataFrame(rows)


def _history(strategy: str, fold: int, seed: int, tasks: list[str]) -> pd.DataFrame:
    epochs = np.arange(1, EPOCHS + 1)
    offset = 0.1 * fold + 0.01 * seed + (0.3 if strategy == "softmax" else 0.0)
    frame = pd.DataFrame(
        {"epoch": epochs, "lr": 1e-3, "train.loss": 2.0 / epochs + offset, "val.loss": 2.2 / epochs + offset}
    )
    final = dict(zip(["emotion", "valence"], FINAL_WEIGHTS[strategy]))
    for task in tasks:
        frame[f"train.{task}.loss"] = 1.0 / epochs
        frame[f"val.{task}.loss"] = 1.1 / epochs
        frame[f"weight.{task}"] = np.linspace(1.0 / len(tasks), final[task], EPOCHS)
    frame["val.score"] = 0.5
    return frame


def _steps(history: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    rows = []
    for _, epoch_row in history.iterrows():
        for k in range(STEPS_PER_EPOCH):
            step = int(epoch_row["epoch"] - 1) * STEPS_PER_EPOCH + k
            row = {"step": step, "epoch": int(epoch_row["epoch"]), "loss": epoch_row["train.loss"]}
            row |= {f"{task}.loss": 0.5 for task in tasks}
            row |= {f"weight.{task}": epoch_row[f"weight.{task}"] for task in tasks}
            rows.append(row)
    return pd.DataFrame(rows)


def _predictions(strategy: str, fold: int, seed: int, tasks: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(100 * fold + seed + (7 if strategy == "softmax" else 0))
    n = 12
    frame = pd.DataFrame({"path": [f"/corpus/f{fold}_{i}.wav" for i in range(n)], "speaker": f"s{fold}"})
    if "emotion" in tasks:
        true = [CLASSES[i % len(CLASSES)] for i in range(n)]
        pred = [t if rng.random() < 0.6 else CLASSES[rng.integers(len(CLASSES))] for t in true]
        frame["emotion.true"], frame["emotion.pred"] = true, pred
        for c in CLASSES:
            frame[f"emotion.prob.{c}"] = [0.7 if p == c else 0.1 for p in pred]
    frame["valence.true"] = rng.random(n)
    frame["valence.pred"] = rng.random(n)
    return frame


def make_run_dir(
    root: Path,
    seeds: tuple[int, ...] = (1, 2),
    folds: tuple[int, ...] = (1, 2),
    steps: bool = True,
    history_for: tuple[str, ...] | None = None,
    regression_only: bool = False,
    name: str = "run",
) -> Path:
    """Write a run dir under ``root``: 2 strategies (static, softmax) x ``folds`` x ``seeds``."""
    run_dir = root / name
    run_dir.mkdir()
    tasks = ["valence"] if regression_only else ["emotion", "valence"]
    config = {
        "name": "fake-recipe",
        "date": "2024-05-01",
        "train": {"seeds": list(seeds), "epochs": 4},
        "protocol": {"name": "speaker_kfold", "folds": len(folds)},
        "tasks": ([] if regression_only else [{"name": "emotion", "kind": "classification", "classes": CLASSES}])
        + [{"name": "valence", "kind": "regression", "loss": "ccc"}],
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    result_rows(seeds, folds, regression_only).to_csv(run_dir / "results.csv", index=False)
    for strategy in FINAL_WEIGHTS:
        for fold in folds:
            for seed in seeds:
                folder = run_dir / "runs" / strategy / f"fold{fold}_seed{seed}"
                folder.mkdir(parents=True)
                _predictions(strategy, fold, seed, tasks).to_csv(folder / "predictions.csv", index=False)
                if history_for is not None and strategy not in history_for:
                    continue
                history = _history(strategy, fold, seed, tasks)
                history.to_csv(folder / "history.csv", index=False)
                if steps:
                    _steps(history, tasks).to_csv(folder / "steps.csv", index=False)
    return run_dir

