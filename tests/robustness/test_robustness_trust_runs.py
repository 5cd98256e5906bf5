"""Issue #18, run integrity: nothing stale, nothing lost.

A run folder records what made it (``run.json``: settings, data, version; ``provenance.json``: software, command,
times, devices); a rerun or a resume with other settings is refused naming the keys; one process writes a folder
at a time; every output is written atomically; ``predict -o`` protects its inputs; reports of unfinished
experiments say so.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import emomtl.runtime.files as files_module
from emomtl.cli.main import main as emomtl_main
from emomtl.config import resolve_recipe
from emomtl.errors import OutputError, RunFolderError
from robustness_support import Trial, subprocess_env, tiny_trial, voice, write_audio, write_recipe

FAST = {"train": {"epochs": 2, "max_folds": 2}}


def cv(recipe: Path, out: Path, *extra: str, command: str = "cv") -> int:
    return emomtl_main([command, str(recipe), *extra, "--out", str(out), "--quiet", "--no-report"])


@pytest.fixture
def recipe_file(make_raw_recipe, tmp_path: Path) -> Path:
    return write_recipe(make_raw_recipe(FAST), tmp_path / "recipe.yaml")


@pytest.fixture(scope="module")
def trial(demo_root: Path, shared_cache: Path) -> Trial:
    return tiny_trial(demo_root, shared_cache, epochs=2)


def last_error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# ------------------------------------------------------------------ fingerprints
def test_a_rerun_with_the_same_settings_reuses_finished_results(recipe_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cv(recipe_file, out) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["settings"]["optim.lr"] == 0.003 and record["data"]["files"] == 32 and record["emomtl"]
    checkpoint = next(out.glob("runs/*/*/checkpoint_best.pt"))
    stamp = checkpoint.stat().st_mtime_ns
    first = pd.read_csv(out / "results.csv")
    assert cv(recipe_file, out) == 0
    assert checkpoint.stat().st_mtime_ns == stamp  # not retrained
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), first)


def test_a_rerun_with_other_settings_is_refused_naming_the_keys(recipe_file: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert cv(recipe_file, out) == 0
    config = (out / "config.yaml").read_text()
    results = (out / "results.csv").read_text()
    capsys.readouterr()
    assert cv(recipe_file, out, "optim.lr=0.01", "model.dropout=0.1") == 2
    error = last_error(capsys)
    assert "optim.lr (0.003 -> 0.01)" in error and "model.dropout" in error and "--fresh" in error
    assert (out / "config.yaml").read_text() == config and (out / "results.csv").read_text() == results
    assert cv(recipe_file, out, "optim.lr=0.01", "model.dropout=0.1", "train.max_folds=1", "--fresh") == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["optim"]["lr"] == 0.01
    assert (out / "results.csv").read_text() != results
    assert len(pd.read_csv(out / "results.csv")) == 1 and len(list(out.glob("runs/*/*"))) == 1  # nothing stale


def test_changed_data_is_refused(make_raw_recipe, demo_root: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from robustness_support import demo_table, manifest_recipe

    table = demo_table(demo_root)
    raw = manifest_recipe(make_raw_recipe(FAST), table, tmp_path / "data" / "manifest.csv")
    recipe = write_recipe(raw, tmp_path / "recipe.yaml")
    out = tmp_path / "run"
    assert cv(recipe, out) == 0
    changed = table.copy()
    changed.loc[0, "emotion"] = "sadness" if changed.loc[0, "emotion"] != "sadness" else "anger"
    changed.to_csv(tmp_path / "data" / "manifest.csv", index=False)
    capsys.readouterr()
    assert cv(recipe, out) == 2
    assert "data changed" in last_error(capsys)


@pytest.mark.parametrize("change, key", [({"optim": {"lr": 0.01}}, "optim.lr"),
                                         ({"weighting": {"name": "dwa"}}, "weighting.name")])
def test_resume_with_changed_settings_is_refused_naming_the_key(trial: Trial, change: dict, key: str,
                                                                tmp_path: Path) -> None:
    from robustness_support import merge

    out = tmp_path / "run"
    trial.train(out)
    (out / "metrics.json").unlink()  # as if killed before testing: a resume would continue the checkpoint
    other = Trial(resolve_recipe(merge(trial.recipe, change)), trial.prepared)
    with pytest.raises(RunFolderError, match=key.replace(".", r"\.")):
        other.train(out, resume=True)
    other.train(out, resume=False)  # starting over is allowed


def test_a_fresh_start_killed_before_it_finishes_leaves_nothing_of_the_old_settings(
        trial: Trial, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from robustness_support import merge

    out = tmp_path / "run"
    trial.train(out)
    (out / "notes.txt").write_text("mine")  # not an output of emomtl: it stays
    other = Trial(resolve_recipe(merge(trial.recipe, {"optim": {"lr": 0.01}})), trial.prepared)

    def killed(self, logger):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr("emomtl.training.loop.SplitTrainer.fit", killed)
        with pytest.raises(KeyboardInterrupt):
            other.train(out, resume=False)
    assert sorted(p.name for p in out.iterdir() if p.name != ".lock") == ["notes.txt", "run.json"]
    assert json.loads((out / "run.json").read_text())["settings"]["optim.lr"] == 0.01
    metrics = other.train(out, resume=True)  # trains with the new settings, reusing nothing of the old run
    assert metrics["epochs_run"] == 2 and (out / "metrics.json").exists()


def test_an_early_stopped_run_killed_before_its_test_does_not_train_on(trial: Trial, tmp_path: Path) -> None:
    from robustness_support import merge

    stopping = Trial(resolve_recipe(merge(trial.recipe, {"train": {"epochs": 12, "early_stopping": 1}})),
                     trial.prepared)
    out = tmp_path / "run"
    first = stopping.train(out)
    assert first["epochs_run"] < 12  # it did stop early
    (out / "metrics.json").unlink()  # as if killed between the last epoch and the test
    again = stopping.train(out, resume=True)
    assert again["epochs_run"] == first["epochs_run"] and again["best_epoch"] == first["best_epoch"]


def test_resuming_on_more_devices_is_a_changed_setting_refused_before_any_process_starts(
        recipe_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert emomtl_main(["train", str(recipe_file), "--out", str(out), "--quiet", "--no-report"]) == 0
    capsys.readouterr()
    assert emomtl_main(["train", str(recipe_file), "--out", str(out), "--quiet", "--no-report", "--devices", "2"]) == 2
    assert "train.devices (1 -> 2)" in last_error(capsys)


def test_moving_a_run_folder_to_ray_through_the_recipe_is_not_a_changed_result() -> None:
    from emomtl.runtime.record import changed_keys, result_settings

    local = resolve_recipe({"data": {"corpus": "demo"}, "tasks": [{"name": "emotion"}],
                            "model": {"name": "functional_mlp"}})
    on_ray = resolve_recipe({**local, "train": {**local["train"], "backend": "ray", "cpus_per_job": 2}})
    assert changed_keys(result_settings(local), result_settings(on_ray)) == []


def test_a_record_listing_settings_that_no_longer_count_is_not_a_change(tmp_path: Path) -> None:
    from emomtl.runtime.record import check_run_folder, run_record

    recipe = resolve_recipe({"data": {"corpus": "demo"}, "tasks": [{"name": "emotion"}],
                             "model": {"name": "functional_mlp"}})
    table = pd.DataFrame({"path": [], "speaker": []})
    record = run_record(recipe, table)
    older = {**record, "fingerprint": "0" * 16, "settings": {**record["settings"], "train.backend": "local"}}
    (tmp_path / "run.json").write_text(json.dumps(older))
    check_run_folder(tmp_path, record)  # accepted: train.backend no longer counts
    changed = {**older, "settings": {**older["settings"], "optim.lr": 1.0}}
    (tmp_path / "run.json").write_text(json.dumps(changed))
    with pytest.raises(RunFolderError, match="optim.lr"):
        check_run_folder(tmp_path, record)


# ------------------------------------------------------------------ one writer
HOLD = """
import sys, time
from emomtl.runtime.lock import RunLock
with RunLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_writer_is_refused_while_the_first_runs(recipe_file: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    env = subprocess_env() | {"PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert cv(recipe_file, out) == 2
        error = last_error(capsys)
        assert f"pid {holder.pid}" in error and str(out) in error
        assert not (out / "results.csv").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_warning(recipe_file: Path, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / ".lock").write_text(f"{dead.pid}\n")
    with caplog.at_level(logging.WARNING):
        assert cv(recipe_file, out) == 0
    assert f"process {dead.pid}, which no longer runs" in caplog.text
    assert not (out / ".lock").exists() and (out / "results.csv").exists()


# ------------------------------------------------------------------ atomic writes
@pytest.mark.parametrize("target", ["results.csv", "metrics.json", "config.yaml", "predictions.csv",
                                    "checkpoint_best.pt", "history.csv"])
def test_a_failed_write_is_one_line_and_leaves_no_temporary_or_half_file(
        target: str, recipe_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    real = files_module._fsync

    def disk_full(path: Path) -> None:
        if path.name.startswith(f".{target}."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path)

    monkeypatch.setattr(files_module, "_fsync", disk_full)
    assert cv(recipe_file, out) == 2
    error = last_error(capsys)
    assert error.startswith("emomtl: error: ") and target in error and "No space left on device" in error
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not list(out.rglob(target))  # the first write of this file failed: nothing half-written
    monkeypatch.setattr(files_module, "_fsync", real)
    assert cv(recipe_file, out) == 0  # and the folder resumes


def test_atomic_write_keeps_the_previous_version_when_the_writer_fails(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    files_module.write_json(path, {"score": 1})

    def half(temporary: Path) -> None:
        temporary.write_text('{"sco')
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    with pytest.raises(OutputError, match="metrics.json: cannot write"):
        files_module.atomic_write(path, half)
    assert json.loads(path.read_text()) == {"score": 1} and sorted(tmp_path.iterdir()) == [path]


# ------------------------------------------------------------------ provenance and reports
@pytest.mark.parametrize("command", ["train", "cv", "compare"])
def test_every_run_folder_holds_its_provenance_and_a_report(command: str, recipe_file: Path, tmp_path: Path) -> None:
    out = tmp_path / command
    assert emomtl_main([command, str(recipe_file), "--out", str(out), "--quiet"]) == 0
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["command"] == command and provenance["status"] == "finished"
    assert provenance["recipe"]["optim"]["lr"] == 0.003 and provenance["finished"] >= provenance["started"]
    versions = provenance["versions"]
    assert {"python", "torch", "emomtl", "opensmile", "transformers"} <= set(versions) and versions["torch"]
    assert "cpu" in provenance["devices"] and "argv" in provenance and "git_commit" in provenance
    assert (out / "report.md").exists() and (out / "report.html").exists()


def test_a_report_over_an_unfinished_cv_says_so_at_the_top(recipe_file: Path, tmp_path: Path) -> None:
    from emomtl.reports import build_report

    out = tmp_path / "run"
    assert cv(recipe_file, out) == 0
    results = pd.read_csv(out / "results.csv")
    results.iloc[:1].to_csv(out / "results.csv", index=False)  # as if killed after the first run
    text = build_report(out).markdown.read_text()
    head = text.split("\n## ")[1]
    assert head.startswith("Incomplete run") and "incomplete: 1 of 2 runs finished" in head
    results.to_csv(out / "results.csv", index=False)
    assert "incomplete" not in build_report(out).markdown.read_text()


# ------------------------------------------------------------------ predict -o
@pytest.fixture(scope="module")
def checkpoint(trial: Trial, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("predict_out") / "run"
    trial.train(out)
    return out / "checkpoint_best.pt"


def test_predict_never_overwrites_an_input_recording(checkpoint: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    audio = write_audio(tmp_path / "a.wav", voice(1.0))
    before = audio.read_bytes()
    assert emomtl_main(["predict", str(checkpoint), str(audio), "-o", str(audio), "--quiet"]) == 2
    assert "input recordings" in last_error(capsys) and audio.read_bytes() == before
    other = write_audio(tmp_path / "b.wav", voice(1.0, seed=1))
    assert emomtl_main(["predict", str(checkpoint), str(audio), "-o", str(other), "--quiet"]) == 2
    assert "audio file" in last_error(capsys)


def test_predict_never_overwrites_its_checkpoint_speaker_table_or_run_folder(
        checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audio = write_audio(tmp_path / "a.wav", voice(1.0))
    speakers = tmp_path / "speakers.csv"
    speakers.write_text("file,speaker\na.wav,s1\n")
    saved = {path: path.read_bytes() for path in (checkpoint, speakers)}
    for output, extra in [(checkpoint, []), (speakers, ["--speakers", str(speakers)])]:
        assert emomtl_main(["predict", str(checkpoint), str(audio), *extra, "-o", str(output), "--quiet"]) == 2
        assert "is one of the inputs" in last_error(capsys)
    run_dir = checkpoint.parent
    assert emomtl_main(["predict", str(run_dir), str(audio), "-o", str(run_dir / "predictions.csv"), "--quiet"]) == 2
    assert "which is an input" in last_error(capsys)
    assert all(path.read_bytes() == data for path, data in saved.items())


def test_predict_creates_a_missing_output_folder(checkpoint: Path, tmp_path: Path) -> None:
    audio = write_audio(tmp_path / "a.wav", voice(1.0))
    out = tmp_path / "new" / "folder" / "predictions.csv"
    assert emomtl_main(["predict", str(checkpoint), str(audio), "-o", str(out), "--quiet"]) == 0
    assert len(pd.read_csv(out)) == 1 and not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_predict_exit_status_is_1_when_every_file_fails_and_0_when_some_do(
        checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_audio(tmp_path / "good.wav", voice(1.0))
    (tmp_path / "empty.wav").write_bytes(b"")
    out = tmp_path / "p.csv"
    assert emomtl_main(["predict", str(checkpoint), str(tmp_path / "empty.wav"), "-o", str(out), "--quiet"]) == 1
    assert "1 of 1 file(s) failed" in capsys.readouterr().err
    assert emomtl_main(["predict", str(checkpoint), str(good), str(tmp_path / "empty.wav"), "-o", str(out),
                        "--quiet"]) == 0
    assert "1 of 2 file(s) failed" in capsys.readouterr().err


def test_every_file_a_cv_run_writes_is_one_a_fresh_start_clears_or_rewrites(recipe_file: Path,
                                                                              tmp_path: Path) -> None:
    """``RUN_OUTPUTS`` is kept by hand: a new output missing from it would outlive a fresh start's new settings."""
    from fnmatch import fnmatch

    from emomtl.runtime.record import PROVENANCE_NAME, RECORD_NAME, RUN_OUTPUTS

    out = tmp_path / "run"
    assert emomtl_main(["cv", str(recipe_file), "--out", str(out), "--quiet", "train.tensorboard=true"]) == 0
    run = next(out.glob("runs/*/*/checkpoint_best.pt")).parent
    assert emomtl_main(["export", str(out), "--run", f"{run.parent.name}/{run.name}"]) == 0  # default: onnx/ in run
    rewritten_at_start = {RECORD_NAME, PROVENANCE_NAME, "config.yaml", "splits.json", ".lock"}
    written = {p.name for p in out.iterdir()} | {p.name for p in out.glob("runs/*/*/*")}
    assert {"report.md", "checkpoint_best.pt", "onnx"} <= written  # the run, its report and the export did write
    strays = {name for name in written - rewritten_at_start if not any(fnmatch(name, p) for p in RUN_OUTPUTS)}
    assert not strays, f"outputs a fresh start would leave behind (add them to RUN_OUTPUTS): {sorted(strays)}"
