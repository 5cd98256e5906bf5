"""README results blocks are copies of the benchmark outputs (``benchmarks/update_readme.py``), never typed numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _updater():
    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "benchmarks" / "update_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_blocks_are_replaced_by_their_tables_and_the_rest_is_kept(tmp_path):
    (tmp_path / "speed.md").write_text("| a |\n|---|\n| 1 |\n")
    readme = "intro\n<!-- results:speed -->\nold numbers\n<!-- /results:speed -->\noutro 42\n"
    rendered = _updater().render(readme, tmp_path)
    assert rendered == "intro\n<!-- results:speed -->\n| a |\n|---|\n| 1 |\n<!-- /results:speed -->\noutro 42\n"
    assert _updater().render(rendered, tmp_path) == rendered


def test_a_block_can_name_a_table_in_a_subfolder(tmp_path):
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "emodb_loso.md").write_text("| b |\n")
    readme = "<!-- results:extra/emodb_loso -->\n<!-- /results:extra/emodb_loso -->\n"
    assert (_updater().render(readme, tmp_path)
            == "<!-- results:extra/emodb_loso -->\n| b |\n<!-- /results:extra/emodb_loso -->\n")


def test_a_block_without_its_table_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="missing"):
        _updater().render("<!-- results:missing -->\n<!-- /results:missing -->\n", tmp_path)


def test_the_committed_readme_matches_the_committed_benchmark_outputs():
    readme = (ROOT / "README.md").read_text()
    assert "<!-- results:emodb_loso -->" in readme
    assert _updater().render(readme, ROOT / "benchmarks" / "results") == readme, (
        "README.md is out of date: run python benchmarks/update_readme.py")
