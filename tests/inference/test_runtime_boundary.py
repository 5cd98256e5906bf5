"""The recognizer depends on the shared runtime, never on the trainer."""

from __future__ import annotations

import ast
from pathlib import Path

import emomtl

PACKAGE = Path(emomtl.__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_inference_and_runtime_never_import_training():
    for folder in ("inference", "runtime"):
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            bad = sorted(m for m in _imported_modules(path)
                         if m == "emomtl.training" or m.startswith("emomtl.training."))
            assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"
