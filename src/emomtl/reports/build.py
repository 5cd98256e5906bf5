"""Write a run's report: ``report.md`` (+ its PNG figures) and a self-contained ``report.html``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emomtl.reports.html import render_html
from emomtl.reports.load import load_run
from emomtl.reports.markdown import FIGURE_FOLDER, render_markdown
from emomtl.reports.sections import build_document
from emomtl.runtime.files import atomic_write, write_text


@dataclass(frozen=True)
class ReportPaths:
    """Files a report was written to; the Markdown's figures are in ``markdown.parent / "report_figures"``."""

    markdown: Path
    html: Path


def build_report(run_dir: Path | str, out_dir: Path | str | None = None, title: str | None = None,
                 formats: tuple[str, ...] = ("md", "html")) -> ReportPaths:
    """Read ``run_dir``; write ``report.md``, its figures and ``report.html`` into ``out_dir`` (default: ``run_dir``).

    ``formats``: which of ``md`` (with its figures) and ``html`` to write.

    Raises :class:`emomtl.reports.load.RunDirError` when ``run_dir`` has no ``results.csv``.
    """
    run = load_run(Path(run_dir))
    out = Path(out_dir) if out_dir is not None else run.run_dir
    out.mkdir(parents=True, exist_ok=True)
    report = build_document(run, title)

    figure_dir = out / FIGURE_FOLDER
    if report.figures:
        figure_dir.mkdir(exist_ok=True)
    for figure in report.figures:
        atomic_write(figure_dir / f"{figure.name}.png", lambda temporary, png=figure.png: temporary.write_bytes(png))

    paths = ReportPaths(markdown=out / "report.md", html=out / "report.html")
    if "md" in formats:
        write_text(paths.markdown, render_markdown(report, FIGURE_FOLDER))
    if "html" in formats:
        write_text(paths.html, render_html(report))
    return paths
