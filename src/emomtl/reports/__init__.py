"""Run reports: Markdown and self-contained HTML with the results table, curves and confusion matrices."""

from __future__ import annotations

from emomtl.reports.build import ReportPaths, build_report
from emomtl.reports.load import RunData, RunDirError, load_run

__all__ = ["ReportPaths", "RunData", "RunDirError", "build_report", "load_run"]
