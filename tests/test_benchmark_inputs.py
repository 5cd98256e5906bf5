"""Issue 6's bad input: a benchmark whose corpus is missing names the path it expected, exits non-zero and prints
no table (run as a user would, in a subprocess; no corpus needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = ["emodb_loso.py", "cross_language.py", "speed.py", "emodb_tuning.py", "wave_front_end.py", "encoders.py"]


def run_benchmark(script: str, data: Path, out: Path) -> subprocess.CompletedProcess:
    """``python benchmarks/<script> --data <data> --out <out>``, output captured."""
    return subprocess.run([sys.executable, str(BENCHMARKS / script), "--data", str(data), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_missing_corpus_is_named_and_nothing_is_written(script: str, tmp_path: Path) -> None:
    data, out = tmp_path / "no-data-here", tmp_path / "results"
    result = run_benchmark(script, data, out)
    assert result.returncode == 2, result.stderr
    assert f"{data / 'emodb'} not found" in result.stderr
    assert "|" not in result.stdout  # no partial table
    assert not out.exists()


def test_cross_language_names_the_second_corpus_too(tmp_path: Path) -> None:
    (tmp_path / "emodb").mkdir()  # only the first corpus is there
    result = run_benchmark("cross_language.py", tmp_path, tmp_path / "results")
    assert result.returncode == 2, result.stderr
    assert f"{tmp_path / 'turev-db'} not found" in result.stderr
