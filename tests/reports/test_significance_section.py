"""The report's significance section on synthetic runs of known outcome."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emomtl.reports.build import build_report
from emomtl.reports.load import RunData
from emomtl.reports.significance import pairwise_table, significance_section

CLASSES = ["anger", "sadness"]


def synthetic_run(tmp_path: Path) -> RunData:
    """Arms: 'good' beats 'base' by 10 points on every one of 12 (fold, seed) runs; 'twin' equals 'base' +- noise."""
    rng = np.random.default_rng(0)
    results, predictions = [], []
    for fold in range(6):
        for seed in (0, 1):
            base = rng.uniform(0.6, 0.7)
            for arm, ua in (("base", base), ("good", base + 0.1), ("twin", base + rng.normal(0, 0.01))):
                results.append({"strategy": arm, "fold": f"f{fold}", "seed": seed, "emotion.ua": ua})
                truth = np.array(CLASSES * 10)
                right = rng.random(20) < {"base": 0.65, "good": 0.95, "twin": 0.65}[arm]
                pred = np.where(right, truth, np.where(truth == "anger", "sadness", "anger"))
                predictions.append(pd.DataFrame({"strategy": arm, "fold": f"f{fold}", "seed": seed,
                                                 "path": [f"/{fold}/{i}.wav" for i in range(20)],
                                                 "emotion.true": truth, "emotion.pred": pred}))
    config = {"tasks": [{"name": "emotion", "kind": "classification", "classes": CLASSES}]}
    return RunData(tmp_path, config, pd.DataFrame(results), predictions=pd.concat(predictions, ignore_index=True))


def test_a_consistent_gain_is_significant_after_holm_and_noise_is_not(tmp_path):
    table = pairwise_table(synthetic_run(tmp_path), "emotion", resamples=300).set_index(["a", "b"])
    good = table.loc[("base", "good")]
    assert good["difference"] < -0.09 and good["significant"] and good["high"] < 0
    twin = table.loc[("base", "twin")]
    assert not twin["significant"] and twin["low"] < 0 < twin["high"]
    assert (table["p_holm"] >= table["p"]).all()


def test_the_section_marks_significant_pairs_and_needs_two_arms(tmp_path):
    run = synthetic_run(tmp_path)
    section = significance_section(run)
    rows = {row[0].text: row for row in section.blocks[1].rows}
    assert rows["base vs good"][-1].text == "yes" and rows["base vs good"][-1].bold
    assert rows["base vs twin"][-1].text == "no"
    alone = RunData(tmp_path, run.config, run.results[run.results["strategy"] == "base"])
    assert significance_section(alone) is None


def test_a_compare_report_has_the_section(make_run_dir):
    paths = build_report(make_run_dir())
    assert "## Significance" in paths.markdown.read_text()


def test_single_task_arms_of_two_tasks_leave_one_scored_arm_and_no_section(tmp_path):
    """``single:emotion`` beside ``single:gender``: only one arm has emotion UA, so there is no pair to test."""
    run = synthetic_run(tmp_path)
    results = run.results[run.results["strategy"] == "base"].assign(strategy="single:emotion")
    gender = results.drop(columns="emotion.ua").assign(strategy="single:gender", **{"gender.ua": 0.9})
    both = RunData(tmp_path, run.config, pd.concat([results, gender], ignore_index=True))
    assert pairwise_table(both, "emotion").empty
    assert significance_section(both) is None
