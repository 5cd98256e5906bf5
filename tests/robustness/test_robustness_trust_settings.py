"""Issue #18, bad settings: each is refused through the command line with exit status 2 and one line naming the
key and the allowed values; every flag, recipe key and keyword argument an error hint suggests exists."""

from __future__ import annotations

import ast
import argparse
import dataclasses
import re
from pathlib import Path

import pytest

import emomtl
from emomtl.cli.main import build_parser, main as emomtl_main
from emomtl.config import SECTIONS
from robustness_support import write_recipe

SOURCE = Path(emomtl.__file__).parent

#: (command-line arguments after the recipe, phrase the one error line must contain)
BAD_SETTINGS = {
    "epochs 0": (["train.epochs=0"], "train.epochs: 0 must be >= 1"),
    "epochs -3": (["train.epochs=-3"], "train.epochs: -3 must be >= 1"),
    "batch_size 0": (["train.batch_size=0"], "train.batch_size: 0 must be >= 1"),
    "negative lr": (["optim.lr=-0.1"], "optim.lr: -0.1 must be finite and > 0"),
    "NaN lr": (["optim.lr=.nan"], "optim.lr: nan must be finite and > 0"),
    "NaN weighting lr": (["weighting.lr=.nan"], "weighting.lr: must be > 0"),
    "length 0": (["inputs.logmel.length=0"], "inputs.logmel.length: must be > 0"),
    "seeds []": (["train.seeds=[]"], "train.seeds: [] must be a non-empty list of integers"),
    "--seeds abc": (["--seeds", "abc"], "--seeds: 'abc' must be comma-separated integers"),
    "--seeds empty": (["--seeds", ""], "--seeds: '' must be comma-separated integers"),
    "max_folds 0": (["train.max_folds=0"], "train.max_folds: 0 must be >= 1"),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_a_bad_setting_is_one_line_and_exit_status_2(case: str, make_raw_recipe, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    arguments, phrase = BAD_SETTINGS[case]
    recipe = write_recipe(make_raw_recipe(), tmp_path / "recipe.yaml")
    out = tmp_path / "run"
    assert emomtl_main(["cv", str(recipe), *arguments, "--out", str(out), "--quiet", "--no-report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and phrase in err[0], err
    assert not out.exists()


# ------------------------------------------------------------------ hints name things that exist
def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _option_strings(sub)
    return found


def _message_text(node: ast.AST) -> str:
    """The literal text of a message argument (f-string holes left out)."""
    parts = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return " ".join(parts)


def _is_message_call(call: ast.Call) -> bool:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return name.endswith(("Error", "Exception")) or name in ("warning", "error", "warn", "exit")


def hints() -> list[tuple[Path, str, set[str]]]:
    """(file, message text, parameter names of the functions defined in that file) of every error and warning."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        parameters = {a.arg for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                      for a in [*f.args.args, *f.args.kwonlyargs]}
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and _is_message_call(call) and call.args:
                text = _message_text(call.args[0])
                if text:
                    found.append((path, text, parameters))
    return found


def test_every_suggested_flag_exists_in_the_command_line() -> None:
    options = _option_strings(build_parser())
    missing = []
    for path, text, _ in hints():
        own = re.sub(r"pip install[^;)]*", "", text)  # pip's own flags are pip's
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", own):
            if flag not in options:
                missing.append(f"{path.relative_to(SOURCE)}: {flag} in {text[:80]!r}")
    assert not missing, missing
    assert "--resume" not in options  # the old hint 'drop --resume' named a flag that never existed


def test_every_suggested_recipe_key_and_keyword_argument_exists() -> None:
    keys = {f"{section}.{field.name}" for section, cls in SECTIONS.items() for field in dataclasses.fields(cls)}
    missing = []
    for path, text, parameters in hints():
        for key in re.findall(rf"\b((?:{'|'.join(SECTIONS)})\.[a-z_]+)\b", text):
            if key not in keys and not key.startswith("data.options"):
                missing.append(f"{path.relative_to(SOURCE)}: {key}")
        for keyword in re.findall(r"\bpass ([a-z_]+)=", text):
            if keyword not in parameters:
                missing.append(f"{path.relative_to(SOURCE)}: pass {keyword}=")
        if "pass speakers=" in text or "drop --resume" in text:
            missing.append(f"{path.relative_to(SOURCE)}: {text[:80]!r}")
    assert not missing, missing
