"""End to end: ``build_report`` and ``emomtl report`` write a Markdown and a self-contained HTML report."""

from __future__ import annotations

import base64
import re
import shutil

import numpy as np
import pandas as pd
import pytest

import fake_run
from fake_run import RESULTS
from emomtl.cli.main import main
from emomtl.errors import EmomtlError
from emomtl.reports import RunDirError, build_report, load_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One full report (2 strategies x 2 folds x 2 seeds, with steps.csv), shared by the read-only tests."""
    run_dir = fake_run.make_run_dir(tmp_path_factory.mktemp("built"))
    return run_dir, build_report(run_dir)


def test_writes_markdown_html_and_figures_into_the_run_dir(built):
    run_dir, paths = built
    assert paths.markdown == run_dir / "report.md" and paths.html == run_dir / "report.html"
    markdown = paths.markdown.read_text()
    linked = re.findall(r"\]\((report_figures/[^)]+\.png)\)", markdown)
    expected = {"report_figures/loss.png", "report_figures/weights_epoch.png", "report_figures/weights_step.png"}
    assert expected <= set(linked)
    assert "report_figures/confusion_best_emotion.png" in linked
    for link in linked:
        assert (run_dir / link).read_bytes().startswith(PNG_MAGIC)


def test_html_is_self_contained_with_embedded_png_figures(built):
    _, paths = built
    html = paths.html.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html and "@import" not in html
    assert "<style>" in html
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 5  # loss, weights per epoch and per step, best and all-strategy confusion
    assert all(base64.b64decode(image).startswith(PNG_MAGIC) for image in images)
    assert len(re.findall(r"<img ", html)) == len(images)


def test_report_contains_run_section_and_results_with_bold_best(built):
    _, paths = built
    markdown, html = paths.markdown.read_text(), paths.html.read_text()
    ua = np.array([m["emotion.ua"] for (s, _, _), m in RESULTS.items() if s == "softmax"])
    best_ua = f"{ua.mean() * 100:.1f} ± {ua.std(ddof=1) * 100:.1f}"
    assert f"**{best_ua}**" in markdown
    assert f"<strong>{best_ua}</strong>" in html
    for expected in ["fake-recipe", "2024-05-01", "speaker\\_kfold", "| seeds | 1, 2 |", "2 (fold1, fold2)"]:
        assert expected in markdown, expected
    titles = ["Run", "Results", "Per-fold results", "Joint loss per epoch", "Task-weight trajectories"]
    for title in titles + ["Confusion matrices"]:
        assert f"## {title}" in markdown and f"<h2>{title}</h2>" in html


def test_out_dir_and_title(make_run_dir, tmp_path):
    run_dir = make_run_dir(steps=False)
    paths = build_report(run_dir, tmp_path / "elsewhere", title="My <comparison>")
    assert paths.markdown.parent == tmp_path / "elsewhere"
    assert not (run_dir / "report.md").exists()
    assert "<title>My &lt;comparison&gt;</title>" in paths.html.read_text()
    assert (tmp_path / "elsewhere" / "report_figures" / "loss.png").is_file()


def test_not_a_run_dir_raises_an_emomtl_error_naming_the_path(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(RunDirError, match=re.escape(str(tmp_path))):
        build_report(tmp_path)
    assert issubclass(RunDirError, EmomtlError)


def test_results_without_strategy_column_is_refused(tmp_path):
    (tmp_path / "results.csv").write_text("fold,seed,emotion.ua\n1,1,0.5\n")
    with pytest.raises(RunDirError, match="strategy"):
        build_report(tmp_path)


def test_cli_report_exits_0_and_prints_both_paths(make_run_dir, tmp_path, capsys):
    run_dir = make_run_dir(steps=False)
    out = tmp_path / "out"
    assert main(["report", str(run_dir), "--out", str(out), "--title", "T"]) == 0
    printed = capsys.readouterr().out
    assert str(out / "report.md") in printed and str(out / "report.html") in printed
    assert (out / "report.html").is_file()


def test_cli_report_on_a_non_run_dir_exits_2_naming_the_path(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err


def test_single_task_baseline_folder_and_loso_split_names(make_run_dir):
    """Runs written as ``runs/single_emotion/loso-03_seed1`` (as training/experiment.py names them) are found."""
    run_dir = make_run_dir(seeds=(1,))
    results = pd.read_csv(run_dir / "results.csv")
    baseline = results[results["strategy"] == "static"].assign(strategy="single:emotion", **{"weight.emotion": 1.0})
    baseline[["valence.ccc", "valence.mae", "weight.valence"]] = np.nan
    pd.concat([results, baseline]).replace({"fold1": "loso-03", "fold2": "loso-07"}).to_csv(
        run_dir / "results.csv", index=False
    )
    for strategy in ["static", "softmax"]:
        for old, new in [("fold1", "loso-03"), ("fold2", "loso-07")]:
            (run_dir / "runs" / strategy / f"{old}_seed1").rename(run_dir / "runs" / strategy / f"{new}_seed1")
    shutil.copytree(run_dir / "runs" / "static", run_dir / "runs" / "single_emotion")

    run = load_run(run_dir)
    assert set(run.histories["strategy"]) == {"static", "softmax", "single:emotion"}
    assert set(run.histories["fold"]) == {"loso-03", "loso-07"}
    markdown = build_report(run_dir).markdown.read_text()
    assert "| strategy | loso-03 | loso-07 | mean |" in markdown
    assert "| single:emotion |" in markdown and "covers its one task only" in markdown
    assert "No history.csv" not in markdown and "No emotion predictions" not in markdown


def test_default_title_names_the_corpus_of_the_resolved_recipe(make_run_dir):
    import yaml

    run_dir = make_run_dir()
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["data"] = {"corpus": "emodb"}  # e.g. quickstart run with data.corpus=emodb
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    markdown = build_report(run_dir).markdown.read_text()
    assert markdown.startswith("# emomtl report: fake-recipe on emodb\n")
    assert "| corpus | emodb |" in markdown


def test_default_title_names_every_pooled_corpus(make_run_dir):
    import yaml

    run_dir = make_run_dir()
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["data"] = {"corpus": "savee", "corpora": [{"corpus": "savee", "root": None},
                                                     {"corpus": "emodb", "root": "/data/emodb"}]}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    markdown = build_report(run_dir).markdown.read_text()
    assert markdown.startswith("# emomtl report: fake-recipe on savee+emodb\n")


def test_run_table_shows_the_papers_reported_results_the_recipe_names(make_run_dir):
    import yaml

    run_dir = make_run_dir()
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["reference"] = "SAVEE 71.1 % UA"
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    assert "| paper's reported results | SAVEE 71.1 % UA |" in build_report(run_dir).markdown.read_text()
