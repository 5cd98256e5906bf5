"""The experiment engine: resume, determinism, identical folds across strategies, logs, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from emomtl.errors import CheckpointError, ConfigError, RunFolderError
from emomtl.runtime.checkpoint import load_checkpoint
from emomtl.training.experiment import build_splits, plan_arms, run_experiment, scored_tasks
from emomtl.training.loop import SplitJob, SplitTrainer, train_split
from emomtl.training.prepare import fit_tasks, prepare_corpus

from engine_fixtures import tiny_recipe


def _job(recipe, out_dir: Path, seed: int = 0) -> SplitJob:
    prepared = prepare_corpus(recipe, progress=False)
    tasks = fit_tasks(recipe, prepared.table)
    split = build_splits(recipe, prepared.table)[0]
    return SplitJob(recipe, tasks, prepared, split, recipe["weighting"], seed, out_dir)


def _test_numbers(metrics: dict) -> dict[str, float]:
    return {f"{t}.{m}": v for t, values in metrics["test"].items() for m, v in values.items()}


def test_same_seed_gives_identical_metrics_and_weights(recipe, tmp_path):
    first = train_split(_job(recipe, tmp_path / "a"), resume=False)
    second = train_split(_job(recipe, tmp_path / "b"), resume=False)
    assert _test_numbers(first) == _test_numbers(second)
    assert first["weights"] == second["weights"]
    histories = [pd.read_csv(tmp_path / run / "history.csv").drop(columns="time_s") for run in "ab"]
    assert histories[0].equals(histories[1])


def test_other_seed_changes_the_run(recipe, tmp_path):
    first = train_split(_job(recipe, tmp_path / "a", seed=0), resume=False)
    other = train_split(_job(recipe, tmp_path / "b", seed=1), resume=False)
    assert first["weights"] != other["weights"]


def _train_killed_after_epoch_2(job: SplitJob, monkeypatch) -> None:
    """Train ``job`` until a simulated kill right after epoch 2's checkpoints are written."""
    original_save = SplitTrainer.save

    def save_then_die(self, best):
        original_save(self, best)
        if self.epoch == 2:
            raise KeyboardInterrupt("simulated kill after epoch 2")

    monkeypatch.setattr(SplitTrainer, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_split(job, resume=True)
    monkeypatch.setattr(SplitTrainer, "save", original_save)


def test_resume_after_interruption_ends_like_an_uninterrupted_run(recipe, tmp_path, monkeypatch):
    reference = train_split(_job(recipe, tmp_path / "full"), resume=False)
    _train_killed_after_epoch_2(_job(recipe, tmp_path / "cut"), monkeypatch)
    assert load_checkpoint(tmp_path / "cut" / "checkpoint_last.pt")["epoch"] == 2
    resumed = train_split(_job(recipe, tmp_path / "cut"), resume=True)
    assert _test_numbers(resumed) == pytest.approx(_test_numbers(reference), abs=1e-6)
    assert resumed["weights"] == pytest.approx(reference["weights"], abs=1e-6)
    history = pd.read_csv(tmp_path / "cut" / "history.csv")
    assert history["epoch"].tolist() == [0, 1, 2]


def test_checkpoint_of_another_recipe_is_refused(recipe, tmp_path):
    train_split(_job(recipe, tmp_path / "run"), resume=False)
    changed = tiny_recipe(tmp_path, model={"name": "multi_exit_cnn", "channels": [4, 16]})
    (tmp_path / "run" / "metrics.json").unlink()
    # issue #18: the run folder's run.json refuses first, naming the changed keys
    with pytest.raises(RunFolderError, match=r"model\.channels \(\[4, 8\] -> \[4, 16\]\)"):
        train_split(_job(changed, tmp_path / "run"), resume=True)
    (tmp_path / "run" / "run.json").unlink()  # a folder written before run.json: the checkpoint still refuses
    with pytest.raises(CheckpointError, match="another recipe"):
        train_split(_job(changed, tmp_path / "run"), resume=True)


def test_best_checkpoint_is_chosen_on_validation_never_test(recipe, tmp_path):
    metrics = train_split(_job(recipe, tmp_path / "run"), resume=False)
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert metrics["best_epoch"] == int(history["val.score"].idxmax())
    assert not any(column.startswith("test") for column in history.columns)


def test_logs_hold_losses_weights_and_predictions(recipe, tmp_path):
    train_split(_job(recipe, tmp_path / "run"), resume=False)
    steps = pd.read_csv(tmp_path / "run" / "steps.csv")
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    for column in ("weight.emotion", "weight.gender", "emotion.loss", "gender.loss"):
        assert column in steps
    for column in ("train.loss", "val.loss", "train.emotion.loss", "val.emotion.ua", "weight.gender", "val.score"):
        assert column in history
    predictions = pd.read_csv(tmp_path / "run" / "predictions.csv")
    probabilities = predictions.filter(like="emotion.prob.")
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert set(predictions["emotion.pred"]) <= {c.split("emotion.prob.")[1] for c in probabilities.columns}


def test_compare_runs_every_strategy_on_identical_folds(recipe, tmp_path):
    recipe["train"]["epochs"] = 1
    recipe["train"]["max_folds"] = 2
    results = run_experiment(recipe, tmp_path / "cmp", weightings=["static", "dwa"], single_task=True)
    assert set(results["strategy"]) == {"static", "dwa", "single:emotion", "single:gender"}
    folds = results.groupby("strategy")[["fold", "test_speakers", "val_speakers"]].apply(
        lambda g: tuple(map(tuple, g.sort_values("fold").to_numpy())))
    assert folds.nunique() == 1
    assert (tmp_path / "cmp" / "results.csv").exists() and (tmp_path / "cmp" / "config.yaml").exists()
    single = results[results["strategy"] == "single:emotion"]
    assert single.filter(like="gender.").isna().all().all()


def test_speaker_task_is_auxiliary_under_loso(tmp_path):
    recipe = tiny_recipe(tmp_path, tasks=[{"name": "emotion", "column": "emotion"},
                                          {"name": "speaker", "column": "speaker"}])
    prepared = prepare_corpus(recipe, progress=False)
    tasks = scored_tasks(fit_tasks(recipe, prepared.table), recipe["protocol"])
    assert [t.auxiliary for t in tasks] == [False, True]


def test_unknown_select_metric_fails_with_the_setting(tmp_path):
    recipe = tiny_recipe(tmp_path, train={"select_metric": "val.nothing", "epochs": 1})
    with pytest.raises(ConfigError, match="train.select_metric"):
        train_split(_job(recipe, tmp_path / "run"), resume=False)


def test_plan_arms_merges_compare_params():
    recipe = {"weighting": {"name": "dwa", "T": 10}, "compare": {"params": {"uw": {"init": 0.5}}},
              "tasks": [{"name": "emotion"}, {"name": "speaker", "auxiliary": True}]}
    arms = plan_arms(recipe, ["dwa", "uw"], single_task=True)
    assert [a.label for a in arms] == ["dwa", "uw", "single:emotion"]
    assert arms[0].weighting == {"name": "dwa", "T": 10}
    assert arms[1].weighting == {"name": "uw", "init": 0.5}


def test_plan_arms_can_name_the_single_task_baselines():
    recipe = {"weighting": {"name": "static"}, "compare": {},
              "tasks": [{"name": "emotion"}, {"name": "gender"}, {"name": "speaker", "auxiliary": True}]}
    assert [a.label for a in plan_arms(recipe, [], single_task=["emotion"])] == ["single:emotion"]
    assert [a.label for a in plan_arms(recipe, ["uw"], single_task=True)] == ["uw", "single:emotion", "single:gender"]
    with pytest.raises(ConfigError, match="'speaker': not a main task"):
        plan_arms(recipe, [], single_task=["speaker"])


def test_parallel_jobs_give_the_same_results_as_sequential(recipe, tmp_path):
    recipe["train"]["epochs"] = 2
    recipe["train"]["max_folds"] = 2
    sequential = run_experiment(recipe, tmp_path / "seq", weightings=["static", "uw"])
    parallel = run_experiment(recipe, tmp_path / "par", weightings=["static", "uw"], jobs=2)
    columns = [c for c in sequential.columns if c != "wall_time_s"]
    pd.testing.assert_frame_equal(sequential[columns], parallel[columns], check_exact=False, atol=1e-5)


def test_refit_retrains_on_train_and_validation_for_the_chosen_epochs(recipe, tmp_path):
    recipe["train"]["refit"] = True
    metrics = train_split(_job(recipe, tmp_path / "run"), resume=False)
    assert metrics["refit_epochs"] == metrics["best_epoch"] + 1
    refit_history = pd.read_csv(tmp_path / "run" / "refit" / "history.csv")
    assert len(refit_history) == metrics["refit_epochs"]
    assert not any(c.startswith("val.") for c in refit_history.columns)  # nothing left to validate on
    refit_predictions = pd.read_csv(tmp_path / "run" / "refit" / "predictions.csv")
    assert pd.read_csv(tmp_path / "run" / "predictions.csv").equals(refit_predictions)
    assert "val.score" in metrics["val"]


def test_exit_search_scores_every_assignment_on_validation(recipe, tmp_path):
    from emomtl.training.exit_search import search_exits

    recipe["train"]["epochs"] = 1
    result = search_exits(recipe, tmp_path / "search", candidates={"emotion": [2], "gender": [1, 2]})
    assert result.trials[["exit.emotion", "exit.gender"]].values.tolist() == [[2, 1], [2, 2]]
    assert result.best_score == result.trials["score"].max()
    assert result.best_exits["gender"] in (1, 2)
    assert not list((tmp_path / "search").rglob("predictions.csv"))  # the test speakers are never scored


def test_corpora_list_prefixes_speakers_even_for_one_corpus(tmp_path):
    from emomtl.training.prepare import load_table

    recipe = tiny_recipe(tmp_path)
    data = dict(recipe["data"], corpora=[{"corpus": "demo", "root": recipe["data"]["root"],
                                          "options": recipe["data"]["options"]}])
    table, _ = load_table(data)
    assert table["speaker"].str.startswith("demo:").all()


def test_single_task_arm_without_the_selection_task_selects_on_its_own_score(recipe, tmp_path):
    from emomtl.training.experiment import recipe_for_arm
    from emomtl.models.tasks import TaskSpec

    recipe["train"]["select_metric"] = "val.emotion.ua"
    assert recipe_for_arm(recipe, [TaskSpec("gender")]).train.select_metric == "val.score"
    assert recipe_for_arm(recipe, [TaskSpec("emotion")]).to_dict() == recipe  # unchanged


def test_weight_average_is_what_is_validated_saved_and_resumed(recipe, tmp_path, monkeypatch):
    recipe["train"]["ema_decay"] = 0.9
    reference = train_split(_job(recipe, tmp_path / "full"), resume=False)
    plain = train_split(_job({**recipe, "train": {**recipe["train"], "ema_decay": None}}, tmp_path / "plain"),
                        resume=False)
    assert _test_numbers(reference) != _test_numbers(plain)  # the average, not the last weights, is scored
    last = load_checkpoint(tmp_path / "full" / "checkpoint_last.pt")
    assert last["ema_updates"] > 0
    trained, averaged = last["train_model"], last["model"]
    assert any(not torch.equal(trained[k], averaged[k]) for k in trained if trained[k].is_floating_point())
    # a run killed after epoch 2 resumes its average too and ends like the uninterrupted one
    _train_killed_after_epoch_2(_job(recipe, tmp_path / "cut"), monkeypatch)
    resumed = train_split(_job(recipe, tmp_path / "cut"), resume=True)
    assert _test_numbers(resumed) == pytest.approx(_test_numbers(reference), abs=1e-6)


def test_weight_average_switched_on_at_resume_starts_from_the_resumed_weights(recipe, tmp_path, monkeypatch, caplog):
    _train_killed_after_epoch_2(_job(recipe, tmp_path / "cut"), monkeypatch)  # saved without an average
    recipe["train"]["ema_decay"] = 0.9
    trainer = SplitTrainer(_job(recipe, tmp_path / "cut"))
    with caplog.at_level("WARNING"):
        assert trainer.restore()
    assert "holds no weight average" in caplog.text
    resumed = trainer.raw_model.state_dict()
    assert all(torch.equal(resumed[k], v) for k, v in trainer.averaged.module.state_dict().items())
    assert int(trainer.averaged.n_averaged) == 0  # the next step restarts the average from these weights


def test_weight_average_is_an_ema_of_every_step():
    from emomtl.training.loop import weight_average

    model = torch.nn.Linear(2, 1, bias=False)
    averaged = weight_average(model, 0.5)
    history = []
    for value in (1.0, 3.0, 5.0):
        with torch.no_grad():
            model.weight.fill_(value)
        averaged.update_parameters(model)
        history.append(float(averaged.module.weight[0, 0].detach()))
    assert history == [1.0, 2.0, 3.5]  # the first step copies, then 0.5 * old + 0.5 * new
    assert weight_average(model, None) is None
    for bad in (0, 1, 1.5):
        with pytest.raises(ConfigError, match="train.ema_decay"):
            weight_average(model, bad)
