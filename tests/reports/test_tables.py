"""The results and per-fold tables hold the fixture's numbers as mean ± std, with the best value in bold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fake_run import RESULTS
from emomtl.reports.load import load_run
from emomtl.reports.tables import detail_table, natural_key, per_fold_table, results_table


def _values(strategy: str, metric: str, seeds=(1, 2), folds=(1, 2)) -> np.ndarray:
    rows = [m for (s, f, seed), m in RESULTS.items() if s == strategy and seed in seeds and f in folds]
    return np.array([m[metric] for m in rows])


def _row(table, strategy: str) -> dict:
    row = next(r for r in table.rows if r[0].text == strategy)
    return dict(zip(table.columns, row))


@pytest.mark.parametrize("strategy", ["static", "softmax"])
def test_results_table_is_mean_and_sample_std_of_the_runs(make_run_dir, strategy):
    table = results_table(load_run(make_run_dir()))
    row = _row(table, strategy)
    ua, ccc = _values(strategy, "emotion.ua"), _values(strategy, "valence.ccc")
    assert row["emotion UA (%)"].text == f"{ua.mean() * 100:.1f} ± {ua.std(ddof=1) * 100:.1f}"
    assert row["valence CCC"].text == f"{ccc.mean():.3f} ± {ccc.std(ddof=1):.3f}"
    assert row["runs"].text == "4"


def test_results_table_shows_final_weights_and_wall_time(make_run_dir):
    table = results_table(load_run(make_run_dir()))
    row = _row(table, "softmax")
    assert (row["w(emotion)"].text, row["w(valence)"].text) == ("0.700", "0.300")
    assert row["wall time / run"].text == "31.5 s"  # (31 + 32) / 2 over folds
    assert "score" in table.columns


def test_best_value_per_column_is_bold_and_lower_is_better_for_mae(make_run_dir):
    table = results_table(load_run(make_run_dir()))
    static, softmax = _row(table, "static"), _row(table, "softmax")
    for column in ["emotion UA (%)", "emotion WA (%)", "valence CCC", "score"]:
        assert softmax[column].bold and not static[column].bold, column
    assert static["valence MAE"].bold and not softmax["valence MAE"].bold
    assert not any(row["w(emotion)"].bold for row in (static, softmax))


def test_single_seed_shows_mean_and_std_over_folds(make_run_dir):
    table = results_table(load_run(make_run_dir(seeds=(1,))))
    ua = _values("static", "emotion.ua", seeds=(1,))
    assert _row(table, "static")["emotion UA (%)"].text == f"{ua.mean() * 100:.1f} ± {ua.std(ddof=1) * 100:.1f}"


def test_per_fold_table_averages_seeds_of_the_headline_metric(make_run_dir):
    table = per_fold_table(load_run(make_run_dir()))
    assert table.columns == ["strategy", "fold1", "fold2", "mean"]
    static = _row(table, "static")
    assert static["fold1"].text == f"{np.mean(_values('static', 'emotion.ua', folds=(1,))) * 100:.1f}"
    assert static["fold2"].text == f"{np.mean(_values('static', 'emotion.ua', folds=(2,))) * 100:.1f}"
    assert all(cell.bold for cell in list(_row(table, "softmax").values())[1:])
    assert not any(cell.bold for cell in list(static.values())[1:])


def test_regression_only_headline_is_the_first_regression_metric(make_run_dir):
    table = per_fold_table(load_run(make_run_dir(regression_only=True)))
    assert "CCC" in table.caption
    assert _row(table, "softmax")["fold1"].text == f"{np.mean(_values('softmax', 'valence.ccc', folds=(1,))):.3f}"


def test_per_dimension_metrics_get_their_own_table(make_run_dir):
    run_dir = make_run_dir()
    results = pd.read_csv(run_dir / "results.csv")
    results["valence.ccc.female"] = np.where(results["strategy"] == "static", 0.2, 0.4)
    results["valence.ccc.male"] = np.where(results["strategy"] == "static", 0.5, 0.3)
    results.to_csv(run_dir / "results.csv", index=False)
    run = load_run(run_dir)
    assert "valence CCC female" not in results_table(run).columns
    table = detail_table(run)
    assert table.columns == ["strategy", "valence CCC female", "valence CCC male"]
    static, softmax = _row(table, "static"), _row(table, "softmax")
    assert static["valence CCC female"].text == "0.200 ± 0.000" and softmax["valence CCC female"].bold
    assert static["valence CCC male"].bold and not softmax["valence CCC male"].bold


def test_nll_is_lower_is_better_and_not_a_percentage(make_run_dir):
    run_dir = make_run_dir()
    results = pd.read_csv(run_dir / "results.csv")
    results.insert(5, "emotion.nll", np.where(results["strategy"] == "static", 0.9, 1.2))
    results.to_csv(run_dir / "results.csv", index=False)
    table = results_table(load_run(run_dir))
    assert _row(table, "static")["emotion NLL"].text == "0.900 ± 0.000"
    assert _row(table, "static")["emotion NLL"].bold and not _row(table, "softmax")["emotion NLL"].bold


def test_folds_sort_naturally():
    assert sorted(["fold10", "fold2", "fold1"], key=natural_key) == ["fold1", "fold2", "fold10"]


def _with_auxiliary_speaker(run_dir):
    """Add a train-only speaker task whose (meaningless, unseen-speaker) test UA beats every real metric."""
    import yaml

    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["tasks"].append({"name": "speaker", "kind": "classification", "auxiliary": True})
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    results = pd.read_csv(run_dir / "results.csv")
    results["speaker.ua"] = np.where(results["strategy"] == "static", 0.99, 0.0)
    results.to_csv(run_dir / "results.csv", index=False)
    return run_dir


def test_auxiliary_task_is_neither_shown_nor_bolded(make_run_dir):
    run = load_run(_with_auxiliary_speaker(make_run_dir()))
    table = results_table(run)
    assert not any("speaker" in column for column in table.columns)
    assert table.columns[1] == "emotion UA (%)"
    assert _row(table, "softmax")["emotion UA (%)"].bold  # the real best is still bold
