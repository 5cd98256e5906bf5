"""Fixtures of the inference tests: two tiny checkpoints trained once per session on a small demo corpus.

``plain``: log-mel (16 bands), global standardisation. ``speaker``: log-mel (20 bands, another features section),
per-speaker standardisation. Both predict emotion, gender and valence/arousal; inputs are windowed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from inference_fixtures import inference_recipe, train_tiny


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inference")


@pytest.fixture(scope="session")
def plain(workspace: Path) -> tuple[Path, pd.DataFrame]:
    """(checkpoint, corpus table) of the globally standardised model."""
    return train_tiny(inference_recipe(workspace, 16, True, seed=0), workspace / "plain")


@pytest.fixture(scope="session")
def speaker(workspace: Path) -> tuple[Path, pd.DataFrame]:
    """(checkpoint, corpus table) of the per-speaker standardised model (other features than ``plain``)."""
    return train_tiny(inference_recipe(workspace, 20, "speaker", seed=1), workspace / "speaker")
