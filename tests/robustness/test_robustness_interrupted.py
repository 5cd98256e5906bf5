"""Killed runs: ``emomtl train`` killed with SIGKILL resumes to exactly the result of an uninterrupted run.

Every run here is a real ``python -m emomtl.cli.main train`` subprocess (one thread each, so all of them do the
same arithmetic). The killed runs are frozen at a known point by ``killable_train.py`` and then killed with
SIGKILL: no handler, no ``finally``, no flush runs. Rerunning the same command continues from
``checkpoint_last.pt`` and must end with the same metrics, history, steps, predictions and best weights as the
uninterrupted reference.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest

from emomtl.errors import CheckpointError
from emomtl.runtime.checkpoint import load_checkpoint
from robustness_support import assert_same_run, base_recipe, emomtl_command, subprocess_env, write_recipe

KILLABLE = Path(__file__).with_name("killable_train.py")
EPOCHS = 6
STEPS_PER_EPOCH = 4  # fold 1: 2 training speakers x 8 utterances, batches of 4
TIMEOUT = 240

pytestmark = pytest.mark.long  # child processes: ~10-30 s per test on a busy 2-core machine


class Run:
    """A child process writing one run folder; ``wait()`` fails the test with its stderr if it did not succeed."""

    def __init__(self, command: list[str], out: Path, log: Path) -> None:
        self.out, self.log = out, log
        self._log_handle = open(log, "wb")
        self.process = subprocess.Popen(command, stdout=self._log_handle, stderr=subprocess.STDOUT,
                                        env=subprocess_env())

    def output(self) -> str:
        self._log_handle.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def wait(self, expect: int = 0) -> "Run":
        try:
            code = self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"still running after {TIMEOUT} s:\n{self.output()}")
        finally:
            self._log_handle.close()
        assert code == expect, f"exit code {code} (expected {expect}):\n{self.output()}"
        return self

    def kill_at(self, marker: Path) -> None:
        """Wait until the child reports it reached its freeze point, then SIGKILL it."""
        deadline = time.monotonic() + TIMEOUT
        while not marker.exists():
            if self.process.poll() is not None:
                pytest.fail(f"the run ended (code {self.process.returncode}) before its freeze point:\n{self.output()}")
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"no freeze point within {TIMEOUT} s:\n{self.output()}")
            time.sleep(0.05)
        os.kill(self.process.pid, signal.SIGKILL)
        self.wait(expect=-signal.SIGKILL)


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory: pytest.TempPathFactory, demo_root: Path, shared_cache: Path) -> Path:
    """The recipe of every run here; its features are cached before the children start."""
    from emomtl.config import resolve_recipe
    from emomtl.training.prepare import prepare_corpus

    raw = base_recipe(demo_root, shared_cache, {"train": {"epochs": EPOCHS}})
    prepare_corpus(resolve_recipe(raw), progress=False)
    return write_recipe(raw, tmp_path_factory.mktemp("interrupted") / "recipe.yaml")


def train(recipe: Path, out: Path, *extra: str) -> Run:
    return Run(emomtl_command("train", str(recipe), "--out", str(out), "--quiet", *extra), out,
               out.with_name(out.name + ".log"))


def killable(recipe: Path, out: Path, point: str, marker: Path) -> Run:
    command = [sys.executable, str(KILLABLE), point, str(marker),
               "train", str(recipe), "--out", str(out), "--quiet"]
    return Run(command, out, out.with_name(out.name + ".log"))


@pytest.fixture(scope="module")
def reference(recipe_file: Path) -> Iterator[Run]:
    """The uninterrupted run, started once per module in the background (waited for when a test needs it)."""
    run = train(recipe_file, recipe_file.parent / "reference")
    yield run
    if run.process.poll() is None:
        run.process.kill()
        run.process.wait()


def test_sigkill_mid_epoch_then_resume_ends_like_an_uninterrupted_run(recipe_file: Path, reference: Run,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "killed"
    frozen_step = 2 * STEPS_PER_EPOCH + 3  # the third step of the third epoch
    killable(recipe_file, out, f"step:{frozen_step}", tmp_path / "frozen").kill_at(tmp_path / "frozen")

    assert not (out / "metrics.json").exists()
    assert load_checkpoint(out / "checkpoint_last.pt")["epoch"] == 2  # two whole epochs saved
    steps = pd.read_csv(out / "steps.csv")
    assert steps["epoch"].max() == 2 and (steps["epoch"] == 2).sum() == 2  # half of epoch 2 logged, then killed

    train(recipe_file, out).wait()
    reference.wait()
    assert_same_run(reference.out, out)


def test_sigkill_while_writing_a_checkpoint_keeps_the_previous_one(recipe_file: Path, reference: Run,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "killed"
    killable(recipe_file, out, "save:3", tmp_path / "frozen").kill_at(tmp_path / "frozen")

    torn = list(out.glob(".checkpoint_last.pt.*.tmp"))
    assert len(torn) == 1, list(out.iterdir())
    with pytest.raises(CheckpointError):
        load_checkpoint(torn[0])  # the half-written file is not a checkpoint
    assert load_checkpoint(out / "checkpoint_last.pt")["epoch"] == 2  # the rename never happened

    train(recipe_file, out).wait()
    reference.wait()
    assert_same_run(reference.out, out)


def test_same_seed_gives_identical_results_in_two_processes(recipe_file: Path, reference: Run, tmp_path: Path) -> None:
    second = train(recipe_file, tmp_path / "second").wait()
    reference.wait()
    assert_same_run(reference.out, second.out)
