"""The report's seed-ensemble table: averaged seeds per fold, set beside the single seeds, with the cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emomtl.reports.ensembles import seed_ensemble_rows, seed_ensemble_section
from emomtl.reports.load import RunData

CLASSES = ["anger", "sadness"]


def predictions(strategy: str, fold: str, seed: int, probs_anger: list[float]) -> pd.DataFrame:
    truth = ["anger", "sadness"] * (len(probs_anger) // 2)
    anger = np.array(probs_anger)
    return pd.DataFrame({"strategy": strategy, "fold": fold, "seed": seed,
                         "path": [f"/{fold}/{i}.wav" for i in range(len(anger))], "speaker": fold,
                         "emotion.true": truth, "emotion.pred": np.where(anger > 0.5, "anger", "sadness"),
                         "emotion.prob.anger": anger, "emotion.prob.sadness": 1 - anger})


def test_seeds_are_averaged_per_fold_and_costed():
    # each seed gets one of four rows wrong (UA 0.75); their average is right everywhere
    frames = [predictions("uw", "f1", 0, [0.9, 0.2, 0.4, 0.45]), predictions("uw", "f1", 1, [0.4, 0.45, 0.9, 0.2]),
              predictions("static", "f1", 0, [0.9, 0.2, 0.9, 0.2])]  # one seed: no ensemble
    results = pd.DataFrame({"strategy": ["uw", "uw", "static"], "fold": "f1", "seed": [0, 1, 0],
                            "emotion.ua": [0.75, 0.75, 1.0], "wall_time_s": [30.0, 40.0, 10.0]})
    run = RunData(Path("."), {"tasks": [{"name": "emotion", "kind": "classification"}]}, results,
                  predictions=pd.concat(frames, ignore_index=True))
    rows = seed_ensemble_rows(run, "emotion")
    assert rows == [{"strategy": "uw", "seeds": 2, "single": 0.75, "ensemble": 1.0, "training_seconds": 70.0}]
    section = seed_ensemble_section(run)
    assert section is not None and section.title == "Seed ensembles"


def test_an_arm_without_the_task_is_left_out_not_a_crash():
    frames = [predictions("uw", "f1", s, [0.9, 0.2, 0.4, 0.45]) for s in (0, 1)]
    other = [predictions("single:gender", "f1", s, [0.9, 0.2, 0.4, 0.45]) for s in (0, 1)]
    for frame in other:  # a gender-only arm has no emotion columns
        frame[["emotion.true", "emotion.pred", "emotion.prob.anger", "emotion.prob.sadness"]] = np.nan
    results = pd.DataFrame({"strategy": ["uw", "uw", "single:gender", "single:gender"], "fold": "f1",
                            "seed": [0, 1, 0, 1], "emotion.ua": [0.75, 0.75, np.nan, np.nan]})
    run = RunData(Path("."), {"tasks": [{"name": "emotion", "kind": "classification"}]}, results,
                  predictions=pd.concat(frames + other, ignore_index=True))
    assert [row["strategy"] for row in seed_ensemble_rows(run, "emotion")] == ["uw"]
