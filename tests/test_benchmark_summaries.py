"""The benchmark summaries: seed ensembles over disjoint seed groups, and issue 6's target checks choosing arms by
validation UA (never test UA). Runs without any corpus."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def modules():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("_common"), importlib.import_module("emodb_loso")
    finally:
        sys.path.remove(str(BENCHMARKS))


def predictions(correct: list[bool]) -> pd.DataFrame:
    """Six test rows of two classes; row i is predicted right when ``correct[i]`` (probability 0.9 on its pick)."""
    truth = np.array(["a", "b"] * 3)
    right = np.array(correct)
    prob_a = np.where((truth == "a") == right, 0.9, 0.1)
    return pd.DataFrame({"path": [f"f{i}.wav" for i in range(6)], "speaker": ["s1"] * 3 + ["s2"] * 3,
                         "emotion.true": truth, "emotion.pred": np.where(prob_a > 0.5, "a", "b"),
                         "emotion.prob.a": prob_a, "emotion.prob.b": 1 - prob_a})


def test_ensembles_use_disjoint_seed_groups_in_order(modules) -> None:
    common, _ = modules
    good, bad = [True] * 6, [False] * 6
    per_seed = {0: predictions(good), 1: predictions(good), 2: predictions(bad),
                3: predictions(bad), 4: predictions(bad), 5: predictions(good), 6: predictions(good)}
    scores = common.ensemble_scores(per_seed, size=3)
    assert len(scores) == 2  # seeds 0-2 and 3-5; seed 6 is left out, not reused
    assert scores[0]["ua"] == pytest.approx(1.0) and scores[1]["ua"] == pytest.approx(0.0)


def row(model: str, strategy: str, test: float, val: float, seeds: int = 3) -> dict:
    return {"model": model, "strategy": strategy, "_ua_mean": test, "_val_ua": val, "_seeds": seeds}


def test_target_checks_choose_arms_on_validation_and_report_misses(modules) -> None:
    _, loso = modules
    table = pd.DataFrame([
        row("SVM, ComParE, train-set z-norm (classical anchor)", "single:emotion", 0.75, float("nan")),
        row("mlp", "static", 0.84, 0.860),
        row("mlp", "druw", 0.87, 0.850),   # best test UA, but validation prefers softmax among dynamic arms
        row("mlp", "softmax", 0.83, 0.855),
        row("mlp", "mgda", 0.90, 0.990, seeds=1),  # one seed: never chosen
        row("mlp", "single:emotion", 0.845, 0.858),
    ])
    best = table.loc[1]
    checks = loso.target_checks(table, best, table.iloc[0:0]).set_index("target")
    assert checks.loc["best configuration >= 85 % UA (mean over seeds)", "met"] == "no"
    assert checks.loc["best configuration >= 5 points above the SVM anchor", "met"] == "yes"
    multi = checks.loc["mlp: multi-task beats single-task"]
    assert multi["configuration"].startswith("static") and multi["met"] == "no"
    dynamic = checks.loc["mlp: best dynamic strategy beats equal weights"]
    assert dynamic["configuration"].startswith("softmax") and dynamic["UA %"] == "83.0" and dynamic["met"] == "no"


def test_percentages_give_a_spread_only_when_there_is_one(modules) -> None:
    common, _ = modules
    assert common.pct([0.5, 0.7]) == "60.0 ± 14.1"
    assert common.pct([0.5, float("nan")]) == "50.0"  # one seed: no "± 0.0" that would look like zero spread
    assert common.pct([float("nan")]) == "-"


def test_run_plans_follow_the_command_line(modules) -> None:
    _, loso = modules
    parse = loso.build_parser().parse_args
    recipe = {"weighting": {"name": "druw"}, "train": {"seeds": [0]}, "compare": {"weightings": ["druw"]}}
    # the heavy models keep their recipe's reduced budget unless told otherwise
    assert loso.run_plans("blstm", recipe, parse([]), [0, 1, 2]) == [("emodb_blstm", ["druw"], [0], False)]
    # --strategies with --single-task: exactly those single-task baselines, on the seeds given
    chosen = parse(["--strategies", "druw,static", "--single-task", "emotion"])
    assert loso.run_plans("blstm", recipe, chosen, [0]) == [("emodb_blstm", ["druw", "static"], [0], ["emotion"])]
    assert loso.run_plans("blstm", recipe, parse(["--strategies", "druw"]), [0])[0][3] is True  # every task
    assert loso.run_plans("blstm", recipe, parse(["--strategies", "druw", "--no-single-task"]), [0])[0][3] is False
    # --strategies '': the named single-task baselines alone; without any, nothing would run
    alone = parse(["--strategies", "", "--single-task", "emotion"])
    assert loso.run_plans("cnn", recipe, alone, [0]) == [("emodb_cnn", [], [0], ["emotion"])]
    with pytest.raises(SystemExit, match="runs nothing"):
        loso.run_plans("cnn", recipe, parse(["--strategies", ""]), [0])
    with pytest.raises(SystemExit, match="give --strategies too"):  # not silently ignored
        loso.run_plans("cnn", recipe, parse(["--single-task", "emotion"]), [0])
    # mlp: the loss-based strategies on every seed, the gradient-based ones on their own seeds and folder
    plans = loso.run_plans("mlp", recipe, parse(["--gradient-seeds", "0"]), [0, 1, 2])
    assert [(folder, seeds) for folder, _, seeds, _ in plans] == [("emodb_mlp", [0, 1, 2]), ("emodb_mlp_gradient", [0])]


def test_svm_anchor_is_the_toolkit_model_run_as_a_compare_arm(modules, tmp_path, monkeypatch) -> None:
    """No private SVM: both anchors are ``linear_svm`` arms of run_experiment on the mlp recipe's folds."""
    _, loso = modules
    calls = []

    def fake_run(recipe, run_dir, **kwargs):
        calls.append((recipe["inputs"]["functionals"]["standardize"], recipe["model"]["name"], kwargs))

    monkeypatch.setattr(loso, "run_experiment", fake_run)
    monkeypatch.setattr(loso, "summarise", lambda run_dir, label: [{"model": label, "run_dir": run_dir.name}])
    rows = loso.svm_reference(tmp_path / "emodb", tmp_path / "runs", jobs=2)
    assert [standardize for standardize, _, _ in calls] == [True, "speaker"]
    assert all(kwargs["models"] == ["linear_svm"] and kwargs["weightings"] == [] for _, _, kwargs in calls)
    assert [row["model"] for row in rows] == list(loso.SVM_ANCHORS)
    assert not hasattr(loso, "LinearSVC") and "sklearn" not in Path(loso.__file__).read_text()


def test_claims_verdicts_follow_the_relation_and_the_corrected_p_value():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from claims import verdict

    assert verdict(">", 0.02, 0.01) == "holds"
    assert verdict(">", -0.02, 0.01).startswith("does not hold")
    assert verdict(">", 0.02, 0.2).startswith("not shown")
    assert verdict(">=", -0.01, 0.2).startswith("holds")
    assert verdict(">=", -0.03, 0.01).startswith("does not hold")


def test_complete_seeds_are_those_that_finished_every_fold(modules) -> None:
    common, _ = modules
    results = pd.DataFrame({"seed": [0, 0, 1, 2, 2, 2], "fold": [0, 1, 0, 0, 1, 1]})
    assert common.complete_seeds(results, {0, 1}) == {0, 2}
    assert common.complete_seeds(results, {0, 1, 2}) == set()


def test_architectures_table_copies_rows_from_their_source_tables(tmp_path: Path, modules) -> None:
    architectures = importlib.import_module("architectures")
    (tmp_path / "cnn").mkdir()
    pd.DataFrame({"model": ["cnn", "cnn"], "strategy": ["single:emotion", "druw"], "UA %": ["63.1", "54.8"],
                  "val UA %": ["66.7", "58.4"]}).to_csv(tmp_path / "cnn" / "emodb_loso.csv", index=False)
    rows = [architectures.Row("multi-exit CNN", "2", "15 epochs", "cnn/emodb_loso.csv", "cnn", "druw", "single - 1"),
            architectures.Row("CNN-BLSTM", "4", "15 epochs", "blstm/emodb_loso.csv", "blstm", "druw")]
    table = architectures.collect(tmp_path, rows)
    assert table[["architecture", "arm", "UA %", "val UA %"]].values.tolist() == [["multi-exit CNN", "druw", "54.8",
                                                                                 "58.4"]]


def test_architectures_budget_names_the_seeds_of_a_table_with_a_seeds_column(tmp_path: Path, modules) -> None:
    architectures = importlib.import_module("architectures")
    (tmp_path / "cnn").mkdir()
    pd.DataFrame({"model": ["cnn", "cnn"], "strategy": ["static", "druw"], "seeds": [3, 1],
                  "UA %": ["73.0 ± 1.0", "70.7"]}).to_csv(tmp_path / "cnn" / "emodb_loso.csv", index=False)
    rows = [architectures.Row("CNN", "2", "45 epochs, seed 0", "cnn/emodb_loso.csv", "cnn", arm) for arm in
            ("static", "druw")]
    assert architectures.collect(tmp_path, rows)["budget"].tolist() == ["45 epochs, 3 seeds", "45 epochs, 1 seed"]


def test_every_benchmark_configuration_is_a_valid_recipe(modules):
    """Each ``--configs`` name of emodb_loso.py resolves, with its overrides, without touching the corpus."""
    from emomtl.config import load_recipe

    _, emodb_loso = modules
    for name, path in emodb_loso.CONFIGS.items():
        recipe = load_recipe(path, emodb_loso.OVERRIDES.get(name, []))
        assert recipe["tasks"][0]["name"] == "emotion", name


def test_seed_records_give_each_finished_seed_its_pooled_scores(tmp_path: Path, modules) -> None:
    common, _ = modules
    run_dir = tmp_path / "emodb_cnn"
    arm = run_dir / "runs" / "druw"
    for folder, correct in (("s1_seed0", [True] * 6), ("s2_seed0", [True, False] * 3), ("s1_seed1", [False] * 6)):
        (arm / folder).mkdir(parents=True)
        predictions(correct).to_csv(arm / folder / "predictions.csv", index=False)
    pd.DataFrame({"strategy": ["druw"] * 3, "seed": [0, 0, 1], "fold": [0, 1, 0]}).to_csv(
        run_dir / "results.csv", index=False)
    records = common.seed_records(run_dir, "cnn")
    # seed 1 has one fold of two: unfinished, left out; seed 0 pools its 12 predictions (9 right)
    assert [(r["strategy"], r["seed"]) for r in records] == [("druw", 0)]
    assert records[0]["WA %"] == pytest.approx(75.0)


def write_table(folder: Path, rows: list[dict], seeds: list[int] | None = None, records: list[dict] | None = None):
    folder.mkdir(parents=True)
    (folder / "emodb_loso.json").write_text(json.dumps({"rows": rows, "seeds": seeds or [0, 1, 2]}))
    if records is not None:
        pd.DataFrame(records).to_csv(folder / "emodb_loso_seeds.csv", index=False)
    return folder


OLD_ROWS = [
    {"model": "cnn", "strategy": "dwa", "seeds": 1, "UA %": "68.9", "WA %": "70.0"},
    {"model": "cnn", "strategy": "ruw", "seeds": 2, "UA %": "65.8 ± 5.9", "WA %": "-"},
    {"model": "cnn", "strategy": "static", "seeds": 3, "UA %": "70.2 ± 3.6"},
    {"model": "cnn, 3-seed ensemble (1 x 3 seeds)", "strategy": "static", "seeds": 1, "UA %": "74.7"},
]


def test_combine_seeds_pools_recovered_seeds_with_seed_records(tmp_path: Path, modules) -> None:
    combine_seeds = importlib.import_module("combine_seeds")
    old = write_table(tmp_path / "old", OLD_ROWS)
    alone = combine_seeds.combine([old]).set_index(["model", "strategy"])
    assert alone.loc[("cnn", "ruw"), "UA %"] == "65.8 ± 5.9"  # the two recovered seeds give the row back
    new = write_table(tmp_path / "new", [], records=[
        {"model": "cnn", "strategy": "dwa", "seed": s, "UA %": ua, "WA %": wa}
        for s, ua, wa in ((1, 70.0, 71.0), (2, 72.0, 73.0))] + [
        {"model": "cnn", "strategy": "ruw", "seed": 2, "UA %": 66.0, "WA %": 67.0}])
    table = combine_seeds.combine([old, new]).set_index(["model", "strategy"])
    dwa, ruw = table.loc[("cnn", "dwa")], table.loc[("cnn", "ruw")]
    assert dwa["seeds"] == 3 and dwa["UA %"] == "70.3 ± 1.6" and dwa["WA %"] == "71.3 ± 1.5"
    # ruw's seeds 0 and 1 come back as 65.8 ∓ 5.9/√2 = 61.63, 69.97; with 66.0: mean 65.87, sample std 4.17
    assert ruw["seeds"] == 3 and ruw["UA %"] == "65.9 ± 4.2" and "2-seed mean" in ruw["per-seed source"]
    assert ruw["WA %"] == "-"  # not every pooled seed has it
    assert table.loc[("cnn", "static"), "UA %"] == "70.2 ± 3.6"  # kept whole
    assert table.loc[("cnn, 3-seed ensemble (1 x 3 seeds)", "static"), "UA %"] == "74.7"  # never taken apart


def test_combine_seeds_refuses_a_seed_counted_twice_or_an_arm_it_cannot_take_apart(tmp_path: Path, modules) -> None:
    combine_seeds = importlib.import_module("combine_seeds")
    old = write_table(tmp_path / "a" / "run", OLD_ROWS)
    twice = write_table(tmp_path / "b" / "run", [], records=[{"model": "cnn", "strategy": "dwa", "seed": 0,
                                                              "UA %": 70.0}])
    with pytest.raises(SystemExit, match="seed 0 of cnn/dwa"):
        combine_seeds.combine([old, twice])
    more = write_table(tmp_path / "c" / "run", [], records=[{"model": "cnn", "strategy": "static", "seed": 3,
                                                             "UA %": 70.0}])
    with pytest.raises(SystemExit, match="cannot be pooled"):  # same folder name, another table
        combine_seeds.combine([old, more])
    with pytest.raises(SystemExit, match="cannot be pooled"):
        combine_seeds.combine([more, old])
    later = write_table(tmp_path / "later", [{"model": "cnn", "strategy": "dwa", "seeds": 1, "UA %": "60.0"}],
                        seeds=[2])
    assert combine_seeds.combine([old, later]).set_index("strategy").loc["dwa", "seeds"] == 2  # seeds 0 and 2


def test_a_seed_short_of_the_planned_folds_is_never_scored(tmp_path: Path, modules) -> None:
    """With every seed stopped half-way (a plan read with ``--finished-only``), no seed has every fold; the plan, not
    the most folds any seed has, says how many a seed needs."""
    common, _ = modules
    arm = tmp_path / "runs" / "druw"
    for folder in ("s1_seed0", "s2_seed0"):
        (arm / folder).mkdir(parents=True)
        predictions([True] * 6).to_csv(arm / folder / "predictions.csv", index=False)
    assert list(common.run_predictions(tmp_path, "druw")) == [0]  # no plan: the most folds any seed has
    (tmp_path / "plan.json").write_text(json.dumps({"runs": 3, "arms": ["druw"], "folds": ["s1", "s2", "s3"],
                                                    "seeds": [0]}))
    assert common.run_predictions(tmp_path, "druw") == {}
    # a folder of a fold the plan does not name (left from an earlier plan) does not stand in for a missing one
    (arm / "old_seed0").mkdir()
    predictions([True] * 6).to_csv(arm / "old_seed0" / "predictions.csv", index=False)
    assert common.run_predictions(tmp_path, "druw") == {}
    (arm / "s3_seed0").mkdir()
    predictions([False] * 6).to_csv(arm / "s3_seed0" / "predictions.csv", index=False)
    pooled = common.run_predictions(tmp_path, "druw")[0]
    assert len(pooled) == 18  # the three planned folds, not the old one


def test_a_strategy_with_no_finished_seed_is_left_out_of_the_summary(tmp_path: Path, modules, capsys) -> None:
    common, _ = modules
    pd.DataFrame({"strategy": ["druw"]}).to_csv(tmp_path / "results.csv", index=False)
    (tmp_path / "plan.json").write_text(json.dumps({"folds": ["s1", "s2"], "seeds": [0]}))
    (tmp_path / "runs" / "druw" / "s1_seed0").mkdir(parents=True)
    predictions([True] * 6).to_csv(tmp_path / "runs" / "druw" / "s1_seed0" / "predictions.csv", index=False)
    assert common.summarise(tmp_path, "cnn") == []
    assert "cnn / druw: no seed has finished every fold" in capsys.readouterr().err
