"""``emomtl report RUN_DIR``: write a run's Markdown and HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path

from emomtl.reports import build_report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write report.md and a self-contained report.html for a run directory",
        description="Write a run's report: results table, per-fold table, loss curves, task-weight trajectories "
        "and confusion matrices, as report.md (+ report_figures/) and a self-contained report.html.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="directory with results.csv and runs/")
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="write the report here (default: RUN_DIR)"
    )
    parser.add_argument("--title", default=None, help="page title (default: 'emomtl report: <recipe name>')")
    parser.add_argument("--format", choices=["both", "md", "html"], default="both",
                        help="write report.md, report.html or both (default: both)")
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    formats = ("md", "html") if args.format == "both" else (args.format,)
    paths = build_report(args.run_dir, args.out, title=args.title, formats=formats)
    if "md" in formats:
        print(f"markdown: {paths.markdown}")
    if "html" in formats:
        print(f"html:     {paths.html}")
    return 0
