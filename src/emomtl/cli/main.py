"""The ``emomtl`` command: each sub-command group lives in its own module with a ``register`` function."""

from __future__ import annotations

import argparse
import importlib
import sys

from emomtl import __version__
from emomtl.errors import EmomtlError

#: Modules of :mod:`emomtl.cli` that add sub-commands (``register(subparsers)``).
COMMAND_MODULES = ("data", "features", "recipe", "weighting", "model", "experiment", "tune", "fuse", "report",
                   "predict", "export", "serve")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emomtl", description=__doc__)
    parser.add_argument("--version", action="version", version=f"emomtl {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"emomtl.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # dotted overrides may also follow the options: ``emomtl cv quickstart --seeds 1 model.dropout=0.2``
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.handler(args) or 0)
    except EmomtlError as error:
        print(f"emomtl: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
