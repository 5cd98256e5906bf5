"""Fixtures of the engine tests (the recipe builder lives in engine_fixtures.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine_fixtures import tiny_recipe


@pytest.fixture
def recipe(tmp_path: Path) -> dict[str, Any]:
    return tiny_recipe(tmp_path)
