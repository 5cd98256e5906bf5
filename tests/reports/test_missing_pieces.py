"""Missing inputs become a sentence in the report, never a crash."""

from __future__ import annotations

from emomtl.reports import build_report, load_run
from emomtl.reports.document import Figure, Paragraph
from emomtl.reports.sections import build_document, confusion_section, loss_section, per_fold_section, weight_section


def _texts(section) -> str:
    return " ".join(block.text for block in section.blocks if isinstance(block, Paragraph))


def _figures(section) -> list[str]:
    return [block.name for block in section.blocks if isinstance(block, Figure)]


def test_missing_steps_csv_keeps_epoch_weights_and_says_so(make_run_dir):
    run = load_run(make_run_dir(steps=False))
    section = weight_section(run)
    assert _figures(section) == ["weights_epoch"]
    assert "no steps.csv" in _texts(section)
    markdown = build_report(run.run_dir).markdown.read_text()
    assert "no steps.csv" in markdown and "weights_step.png" not in markdown


def test_strategy_without_history_is_named(make_run_dir):
    run = load_run(make_run_dir(history_for=("softmax",)))
    loss = loss_section(run)
    assert _figures(loss) == ["loss"]
    assert "for: static" in _texts(loss)
    assert "for: static" in _texts(weight_section(run))


def test_no_history_at_all(make_run_dir):
    run = load_run(make_run_dir(history_for=()))
    assert _figures(loss_section(run)) == [] and "No history.csv" in _texts(loss_section(run))
    assert _figures(weight_section(run)) == []


def test_regression_only_run_has_no_confusion_matrix(make_run_dir):
    run = load_run(make_run_dir(regression_only=True))
    section = confusion_section(run)
    assert _figures(section) == [] and "no scored classification task" in _texts(section)
    build_report(run.run_dir)  # whole report still renders


def test_single_fold_says_there_is_no_spread(make_run_dir):
    run = load_run(make_run_dir(folds=(1,), seeds=(1,)))
    section = per_fold_section(run)
    assert "single fold" in _texts(section)
    report = build_document(run)
    assert report.sections[1].blocks[0].rows[0][1].text.endswith("± 0.0")  # one run: std 0, as aggregate.mean_std


def test_no_config_and_no_runs_folder(make_run_dir):
    run_dir = make_run_dir()
    (run_dir / "config.yaml").unlink()
    for path in sorted((run_dir / "runs").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    markdown = build_report(run_dir).markdown.read_text()
    assert "No readable config.yaml" in markdown
    assert "No predictions.csv" in markdown and "No history.csv" in markdown
    assert "| seeds | 1, 2 |" in markdown  # from results.csv


def test_unreadable_run_file_is_listed(make_run_dir):
    run_dir = make_run_dir()
    (run_dir / "runs" / "static" / "fold1_seed1" / "history.csv").write_text("")
    markdown = build_report(run_dir).markdown.read_text()
    assert "Unreadable files" in markdown and "fold1\\_seed1/history.csv" in markdown
