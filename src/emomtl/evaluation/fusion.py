"""Late fusion of finished runs: average the class probabilities of several arms (other features, other models,
other seeds) on the same test rows, fold by fold, and score the fused predictions like any arm.

A member is ``RUN_DIR`` (its only arm) or ``RUN_DIR:ARM``. Members must share folds (the same protocol on the same
corpus): every (fold, seed) run present in all members is fused; equal seeds are paired.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from emomtl.evaluation.aggregate import ensemble_predictions, pooled_metrics, read_predictions


@dataclass(frozen=True)
class Member:
    run_dir: Path
    arm: str

    @classmethod
    def parse(cls, text: str) -> "Member":
        path, _, arm = text.partition(":")
        run_dir = Path(path)
        results = pd.read_csv(run_dir / "results.csv")
        arms = list(dict.fromkeys(results["strategy"]))
        if not arm:
            if len(arms) != 1:
                raise ValueError(f"{run_dir}: several arms {arms}; name one as {run_dir}:ARM")
            arm = arms[0]
        if arm not in arms:
            raise ValueError(f"{run_dir}: no arm {arm!r}; arms: {arms}")
        return cls(run_dir, arm)

    def runs(self) -> dict[tuple[str, int], Path]:
        """(fold, seed) -> run folder with predictions.csv."""
        folder = self.run_dir / "runs" / self.arm.replace(":", "_")
        found = {}
        for run in sorted(folder.glob("*_seed*")):
            if (run / "predictions.csv").exists():
                fold, seed = run.name.rsplit("_seed", 1)
                found[(fold, int(seed))] = run
        return found

    def wall_time(self, runs: set[tuple[str, int]] | None = None) -> float:
        """Summed training seconds of this arm, or of its ``(fold, seed)`` runs in ``runs`` when given."""
        results = pd.read_csv(self.run_dir / "results.csv")
        mine = results[results["strategy"] == self.arm]
        if runs is not None and {"fold", "seed"} <= set(mine.columns):
            keys = list(zip(mine["fold"].astype(str), mine["seed"].astype(int)))
            mine = mine[[key in runs for key in keys]]
        return float(mine["wall_time_s"].sum())


def fuse(members: list[Member], task: str = "emotion") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-(fold, seed) fused UA table, all fused predictions with a ``seed`` column)."""
    if len(members) < 2:
        raise ValueError("fusion needs at least two members")
    runs = [m.runs() for m in members]
    common = sorted(set.intersection(*(set(r) for r in runs)))
    if not common:
        raise ValueError("the members share no (fold, seed) run: were they run on the same protocol and seeds?")
    rows, fused_all = [], []
    for fold, seed in common:
        tables = [read_predictions(r[(fold, seed)] / "predictions.csv") for r in runs]
        fused = ensemble_predictions(tables, task)
        metrics = pooled_metrics(fused, task, "classification")
        rows.append({"fold": fold, "seed": seed, f"{task}.ua": metrics["ua"], f"{task}.wa": metrics["wa"]})
        fused_all.append(fused.assign(fold=fold, seed=seed))
    return pd.DataFrame(rows), pd.concat(fused_all, ignore_index=True)


def summary(members: list[Member], task: str = "emotion") -> dict[str, object]:
    """Pooled UA per seed of the fusion and of each member alone (mean over seeds), and the summed training cost.

    Each member is scored, and its cost counted, over the fused ``(fold, seed)`` runs only, so a member with
    extra folds or seeds is compared with the fusion on the same test rows.
    """
    per_run, fused = fuse(members, task)
    fused_runs = {(str(fold), int(seed)) for fold, seed in zip(per_run["fold"], per_run["seed"])}
    seeds = sorted(fused["seed"].unique())
    fused_ua = [pooled_metrics(fused[fused["seed"] == s], task, "classification")["ua"] for s in seeds]
    alone = {}
    for member in members:
        runs = {key: run for key, run in member.runs().items() if key in fused_runs}
        uas = []
        for s in seeds:
            tables = [read_predictions(run / "predictions.csv") for (_, seed), run in runs.items() if seed == s]
            uas.append(pooled_metrics(pd.concat(tables, ignore_index=True), task, "classification")["ua"])
        alone[f"{member.run_dir}:{member.arm}"] = float(np.mean(uas))
    return {"fused_ua_per_seed": fused_ua, "fused_ua": float(np.mean(fused_ua)), "members_ua": alone,
            "runs_fused": len(per_run), "training_seconds": sum(m.wall_time(fused_runs) for m in members)}
