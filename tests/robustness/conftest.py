"""Fixtures of the robustness suite: the tiny demo corpus, a shared feature cache, recipe builders.

Tests slower than ~20 s carry the ``long`` marker (``-m "not long"`` deselects them); they stay in the default run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from emomtl.config import resolve_recipe
from robustness_support import BASE_RECIPE, base_recipe


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "long: a robustness test slower than ~20 s (still run by default)")


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny demo corpus, generated once per session (per xdist worker)."""
    from emomtl.data.corpora import demo

    root = tmp_path_factory.mktemp("demo_corpus")
    demo.load(root, **BASE_RECIPE["data"]["options"])
    return root


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A feature cache shared by the tests that never damage it."""
    return tmp_path_factory.mktemp("feature_cache")


@pytest.fixture
def make_raw_recipe(demo_root: Path, shared_cache: Path) -> Callable[..., dict[str, Any]]:
    """``make_raw_recipe({...})``: the base recipe on the session corpus and cache, with changes merged in."""

    def build(changes: dict[str, Any] | None = None) -> dict[str, Any]:
        return base_recipe(demo_root, shared_cache, changes)

    return build


@pytest.fixture
def make_recipe(make_raw_recipe: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``make_recipe({...})``: the same, resolved (defaults filled in, validated)."""

    def build(changes: dict[str, Any] | None = None) -> dict[str, Any]:
        return resolve_recipe(make_raw_recipe(changes))

    return build
