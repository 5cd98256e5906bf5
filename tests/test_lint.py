"""The code passes ruff's pyflakes and pycodestyle rules (settings in pyproject.toml: E, F, W; 120 columns)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing_in_src_benchmarks_and_tests():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "src", "benchmarks", "tests"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
