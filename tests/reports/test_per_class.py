"""Per-class precision, recall, F1 and support: against scikit-learn, and in the Markdown report."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_fscore_support

from emomtl.cli.main import main
from emomtl.reports.confusion import confusion_matrix
from emomtl.reports.load import load_run
from emomtl.reports.per_class import per_class_metrics
from emomtl.reports.sections import best_strategy


def test_metrics_equal_scikit_learn_including_a_never_predicted_class():
    rng = np.random.default_rng(3)
    classes = ["anger", "joy", "neutral", "sadness"]
    true = rng.choice(classes, 60)
    pred = np.where(rng.random(60) < 0.5, true, rng.choice(classes[:3], 60))  # sadness predicted only when right
    pred[true == "sadness"] = "neutral"  # ... and now never
    matrix = confusion_matrix(pd.DataFrame({"e.true": true, "e.pred": pred}), "e", classes)
    metrics = per_class_metrics(matrix)
    p, r, f, s = precision_recall_fscore_support(true, pred, labels=classes, zero_division=0)
    np.testing.assert_allclose(metrics.loc[classes, "precision"], p)
    np.testing.assert_allclose(metrics.loc[classes, "recall"], r)
    np.testing.assert_allclose(metrics.loc[classes, "f1"], f)
    assert list(metrics.loc[classes, "support"]) == list(s) and metrics.loc["macro avg", "support"] == 60
    assert metrics.loc["macro avg", "f1"] == pytest.approx(f.mean())


def test_report_md_has_the_best_strategys_per_class_table_pooled_over_folds(make_run_dir, tmp_path, capsys):
    run_dir = make_run_dir()
    assert main(["report", str(run_dir), "--format", "md", "--out", str(tmp_path / "out")]) == 0
    assert not (tmp_path / "out" / "report.html").exists()
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| class | precision (%) | recall (%) | F1 (%) | support |" in markdown
    run = load_run(run_dir)
    best = best_strategy(run)
    pooled = run.predictions[run.predictions["strategy"] == best]
    expected = per_class_metrics(confusion_matrix(pooled, "emotion", None))
    for name, row in expected.iterrows():
        cells = re.search(rf"^\| \**{re.escape(str(name))}\** \|(.*)\|$", markdown, re.M).group(1).split("|")
        assert [c.strip() for c in cells] == [f"{100 * row['precision']:.1f}", f"{100 * row['recall']:.1f}",
                                              f"{100 * row['f1']:.1f}", str(int(row["support"]))]
    assert expected.loc["macro avg", "support"] == len(pooled) == 2 * 2 * 12  # folds x seeds x rows
