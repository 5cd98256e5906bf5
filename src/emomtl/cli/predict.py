"""``emomtl predict CHECKPOINT FILES_OR_DIRS``: one row per file with every task's output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emomtl.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="run a trained checkpoint on audio files or folders")
    parser.add_argument("checkpoint", type=Path, help="checkpoint_best.pt of a run (or a run folder holding one)")
    parser.add_argument("inputs", nargs="+", help="audio files and/or folders (searched recursively)")
    parser.add_argument("-o", "--output", type=Path, help="write .csv or .json (default: CSV on stdout)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from emomtl.inference.recognizer import Recognizer, expand_inputs

    checkpoint = args.checkpoint / "checkpoint_best.pt" if args.checkpoint.is_dir() else args.checkpoint
    recognizer = Recognizer.from_checkpoint(checkpoint)
    files = expand_inputs(args.inputs)
    if not files:
        raise ConfigError(f"predict: no audio files found in {args.inputs}")
    table = recognizer.process_files(files, progress=not args.quiet)
    failed = int(table["error"].notna().sum())
    if args.output is None:
        table.to_csv(sys.stdout)
    elif args.output.suffix.lower() == ".json":
        table.reset_index().to_json(args.output, orient="records", indent=2)
    else:
        table.to_csv(args.output)
    if failed:
        print(f"emomtl: {failed} of {len(table)} file(s) failed; see the 'error' column", file=sys.stderr)
    return 0
