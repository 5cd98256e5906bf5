"""Fixtures of the report tests."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

import pytest

import fake_run


@pytest.fixture
def make_run_dir(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_run_dir(seeds=(1, 2), folds=(1, 2), steps=True, history_for=None, regression_only=False)``."""
    return partial(fake_run.make_run_dir, tmp_path)
