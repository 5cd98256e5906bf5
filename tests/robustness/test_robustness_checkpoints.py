"""Half-written files of a run: never loaded as valid, and a kill between any two writes still resumes exactly.

The SIGKILL tests (``test_robustness_interrupted.py``) kill a real process at two chosen points; here an
in-process stand-in for the kill (an exception no handler catches) is raised before *every* checkpoint write
of a run in turn, which a subprocess per point would make too slow.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import torch

import emomtl.training.loop as loop
from emomtl.cli.main import main as emomtl_main
from emomtl.errors import CheckpointError
from emomtl.inference import Recognizer
from robustness_support import Trial, assert_same_run, read_metrics, tiny_trial


#: An uninterrupted run's folder and the (file name, epoch) of every checkpoint it wrote, in order.
Reference = tuple[Path, list[tuple[str, int]]]


class Killed(BaseException):
    """Stands in for SIGKILL: derives from BaseException, so no ``except Exception`` in the code under test stops it."""


@pytest.fixture(scope="module")
def trial(demo_root: Path, shared_cache: Path) -> Trial:
    return tiny_trial(demo_root, shared_cache, epochs=3)


@pytest.fixture(scope="module")
def reference(trial: Trial, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The folder of an uninterrupted run, and the (file name, epoch) of every checkpoint it wrote, in order."""
    out = tmp_path_factory.mktemp("checkpoints") / "reference"
    writes: list[tuple[str, int]] = []
    real = loop.save_checkpoint

    def counting(path: Path, state: dict[str, Any]) -> None:
        writes.append((path.name, state["epoch"]))
        real(path, state)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop, "save_checkpoint", counting)
        trial.train(out)
    return out, writes


def test_a_kill_before_any_checkpoint_write_resumes_to_the_same_result(
        trial: Trial, reference: Reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected, writes = reference
    assert {name for name, _ in writes} == {"checkpoint_last.pt", "checkpoint_best.pt"}
    real = loop.save_checkpoint
    for index, (name, epoch) in enumerate(writes):
        calls = {"n": 0}

        def killing(path: Path, state: dict[str, Any]) -> None:
            calls["n"] += 1
            if calls["n"] == index + 1:
                raise Killed(f"before write {index} ({path.name}, epoch {state['epoch']})")
            real(path, state)

        out = tmp_path / f"killed_before_write_{index}"
        with monkeypatch.context() as patch:
            patch.setattr(loop, "save_checkpoint", killing)
            with pytest.raises(Killed):
                trial.train(out, resume=True)
        assert not (out / "metrics.json").exists()
        trial.train(out, resume=True)
        try:
            assert_same_run(expected, out)
        except AssertionError as error:
            raise AssertionError(f"killed before writing {name} of epoch {epoch}: {error}") from error


def test_a_metrics_file_torn_by_a_kill_is_scored_again(trial: Trial, reference: Reference, tmp_path: Path) -> None:
    expected = read_metrics(reference[0])
    out = tmp_path / "run"
    trial.train(out)
    for torn in ("", '{"test": {"emotion": {"ua": 0.'):
        (out / "metrics.json").write_text(torn)
        metrics = trial.train(out, resume=True)
        assert read_metrics(out) == expected
        assert metrics["test"] == expected["test"]


def _damaged(kind: str, good: bytes) -> bytes:
    if kind == "empty":
        return b""
    if kind == "header only":
        return good[:64]
    if kind == "half":
        return good[: len(good) // 2]
    if kind == "last byte missing":
        return good[:-1]
    if kind == "not an emomtl checkpoint":
        buffer = io.BytesIO()
        torch.save({"model": {"weight": torch.zeros(3)}}, buffer)
        return buffer.getvalue()
    raise ValueError(kind)


#: Half-written files (what a torn write would leave) and a valid torch file that is not an emomtl checkpoint;
#: plain garbage and another recipe's checkpoint are refused in ``tests/training``.
DAMAGE = ["empty", "header only", "half", "last byte missing", "not an emomtl checkpoint"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_last_checkpoint_is_refused_not_resumed_from(kind: str, trial: Trial, reference: Reference,
                                                               tmp_path: Path) -> None:
    expected = reference[0]
    out = tmp_path / "run"
    out.mkdir()
    damaged = _damaged(kind, (expected / "checkpoint_last.pt").read_bytes())
    (out / "checkpoint_last.pt").write_bytes(damaged)
    with pytest.raises(CheckpointError, match="checkpoint_last.pt"):
        trial.train(out, resume=True)
    assert (out / "checkpoint_last.pt").read_bytes() == damaged  # left for inspection, never overwritten
    trial.train(out, resume=False)  # starting over is the way out
    assert_same_run(expected, out)


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_best_checkpoint_is_refused_by_predict(kind: str, reference: Reference, demo_root: Path,
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = tmp_path / "checkpoint_best.pt"
    checkpoint.write_bytes(_damaged(kind, (reference[0] / "checkpoint_best.pt").read_bytes()))
    with pytest.raises(CheckpointError, match="checkpoint_best.pt"):
        Recognizer.from_checkpoint(checkpoint)
    audio = sorted(demo_root.rglob("*.wav"))[0]
    assert emomtl_main(["predict", str(checkpoint), str(audio), "--quiet"]) == 2
    assert "checkpoint_best.pt" in capsys.readouterr().err
