"""Issue #18, security and the Python API: a crafted checkpoint never runs code, a recipe name never leaves
the output folder, and the recognizer's entry points refuse nonsense arguments instead of misreading them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from emomtl.cli.main import main as emomtl_main
from emomtl.config import resolve_recipe
from emomtl.errors import CheckpointError, ConfigError
from emomtl.inference import Recognizer
from robustness_support import Trial, tiny_trial, voice, write_audio, write_recipe


class _Planted:
    """Unpickling this creates ``marker`` (stands in for any code an attacker would run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def crafted_checkpoint(path: Path, marker: Path) -> Path:
    """A file shaped like an emomtl checkpoint whose unpickling would create ``marker``."""
    torch.save({"format": 1, "fingerprint": "x", "model": {"w": torch.zeros(1)}, "payload": _Planted(marker)}, path)
    return path


@pytest.fixture(scope="module")
def trial(demo_root: Path, shared_cache: Path) -> Trial:
    return tiny_trial(demo_root, shared_cache, epochs=1)


@pytest.fixture(scope="module")
def checkpoint(trial: Trial, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trust") / "run"
    trial.train(out)
    return out / "checkpoint_best.pt"


def test_a_checkpoint_written_by_this_version_loads_with_weights_only(checkpoint: Path) -> None:
    recognizer = Recognizer.from_checkpoint(checkpoint)
    assert recognizer.process_signal(voice(1.0), 16000).shape[0] == 1
    from emomtl.runtime.checkpoint import load_checkpoint

    assert "optimizer" in load_checkpoint(checkpoint.parent / "checkpoint_last.pt")


def test_a_crafted_checkpoint_is_refused_by_the_python_api_without_running_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = crafted_checkpoint(tmp_path / "checkpoint_best.pt", marker)
    with pytest.raises(CheckpointError, match="refused"):
        Recognizer.from_checkpoint(path)
    assert not marker.exists()


def test_a_crafted_checkpoint_is_refused_by_predict(tmp_path: Path, demo_root: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    path = crafted_checkpoint(tmp_path / "checkpoint_best.pt", marker)
    audio = sorted(demo_root.rglob("*.wav"))[0]
    assert emomtl_main(["predict", str(path), str(audio), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "io.open" in err and "checkpoint_best.pt" in err
    assert len(err.strip().splitlines()) == 1
    assert not marker.exists()


def test_a_crafted_last_checkpoint_is_refused_on_resume(trial: Trial, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    marker = tmp_path / "pwned"
    crafted_checkpoint(out / "checkpoint_last.pt", marker)
    with pytest.raises(CheckpointError, match="refused"):
        trial.train(out, resume=True)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "..evil", "/abs"])
def test_a_recipe_name_cannot_place_a_run_outside_the_output_folder(name: str, make_raw_recipe, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    raw = make_raw_recipe({"name": name, "output": {"dir": str(tmp_path / "runs")}})
    with pytest.raises(ConfigError, match="^name: "):
        resolve_recipe(raw)
    recipe = write_recipe(raw, tmp_path / "recipe.yaml")
    assert emomtl_main(["cv", str(recipe), "--quiet", "--no-report"]) == 2
    assert capsys.readouterr().err.startswith("emomtl: error: name: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.yaml"]


@pytest.mark.parametrize("rate", [0, -16000, float("nan"), None, "16k"])
def test_process_signal_refuses_a_bad_sampling_rate_naming_the_argument(checkpoint: Path, rate: object) -> None:
    recognizer = Recognizer.from_checkpoint(checkpoint)
    with pytest.raises(ValueError, match="sampling_rate"):
        recognizer.process_signal(voice(1.0), rate)  # type: ignore[arg-type]


def test_process_files_takes_a_single_path_as_one_file(checkpoint: Path, tmp_path: Path) -> None:
    recognizer = Recognizer.from_checkpoint(checkpoint)
    audio = write_audio(tmp_path / "a.wav", voice(1.0))
    for given in (str(audio), audio):
        table = recognizer.process_files(given)
        assert list(table.index) == [str(audio)] and table["error"].isna().all()


def test_process_files_of_nothing_is_an_empty_table(checkpoint: Path) -> None:
    recognizer = Recognizer.from_checkpoint(checkpoint)
    table = recognizer.process_files([])
    assert len(table) == 0 and {"error", "warning", "emotion"} <= set(table.columns)
