"""``emomtl predict CHECKPOINT FILES_OR_DIRS``: one row per file with every task's output."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from emomtl.errors import ConfigError
from emomtl.runtime.files import refuse_input_as_output, write_csv, write_text

DESCRIPTION = """\
Run a trained checkpoint, or an ensemble of checkpoints, on audio files and folders: one row per file with
every task's output, and an 'error' column naming the reason a file could not be used."""
EPILOG = """\
examples:
  emomtl predict run/checkpoint_best.pt recordings/ -o predictions.csv
  emomtl predict --checkpoint fold0/ --checkpoint fold1/ recordings/ --workers 2   # ensemble: averaged outputs
  emomtl predict run/ recordings/ --speakers speakers.csv   # per-speaker normalisation (standardize: speaker)

Exit status: 0 when at least one file was predicted (files that failed keep their row, with the reason in the
'error' column, and stderr counts them), 1 when every file failed, 2 for a usage or setting error (nothing run).
-o never overwrites an input recording and creates its folder if it is missing.

With --checkpoint every positional argument is an input. Recipes with `inputs.<name>.standardize: speaker`
normalise each speaker on all of that speaker's files; without --speakers / --speaker-from-dir they fall back to
the training set's global statistics (a warning says so).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict", help="run a trained checkpoint (or an ensemble) on audio files or folders",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="PATH",
                        help="the checkpoint (checkpoint_best.pt of a run, or the run folder) unless --checkpoint "
                             "is given, then audio files and/or folders (searched recursively)")
    parser.add_argument("--checkpoint", action="append", type=Path, metavar="PATH",
                        help="a checkpoint or run folder; repeat for an ensemble (class probabilities and values "
                             "averaged over the checkpoints)")
    parser.add_argument("-o", "--output", type=Path, help="write .csv or .json (default: CSV on stdout)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="extract features in N threads (openSMILE) or processes (default: 1)")
    speakers = parser.add_mutually_exclusive_group()
    speakers.add_argument("--speakers", type=Path, metavar="CSV",
                          help="CSV with columns file,speaker (file as given on the command line / found in a folder, "
                               "or its base name) for per-speaker normalisation")
    speakers.add_argument("--speaker-from-dir", action="store_true",
                          help="the speaker of a file is the name of its folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch",
                        help="torch: checkpoints; onnxruntime: folders written by `emomtl export --format onnx` "
                             "(or their model.onnx), run without torch in the model (default: torch)")
    parser.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from emomtl.inference.recognizer import Recognizer, expand_inputs

    checkpoints, inputs = split_arguments(args.checkpoint, args.inputs)
    if args.workers < 1:
        raise ConfigError(f"predict --workers: must be at least 1, got {args.workers}")
    start = time.perf_counter()
    if args.backend == "onnxruntime":
        recognizer = Recognizer.from_onnx(checkpoints)
    else:
        recognizer = Recognizer.from_checkpoints([resolve_checkpoint(p) for p in checkpoints])
    files = expand_inputs(inputs)
    if not files:
        raise ConfigError(f"predict: no audio files found in {inputs}")
    if args.output is not None:  # before any file is read
        check_output(args.output, files)
        refuse_input_as_output(args.output, [*checkpoints, *([args.speakers] if args.speakers else [])], "predict -o",
                               folders=[path for path in checkpoints if path.is_dir()])
    speakers = None
    if args.speakers is not None:
        speakers = speakers_from_csv(args.speakers, files)
    elif args.speaker_from_dir:
        speakers = [path.parent.name for path in files]
    loaded = time.perf_counter()
    table = recognizer.process_files(files, progress=not args.quiet, workers=args.workers, speakers=speakers)
    print(cost_line(len(table), len(checkpoints), loaded - start, time.perf_counter() - loaded), file=sys.stderr)
    failed = int(table["error"].notna().sum())
    if args.output is None:
        table.to_csv(sys.stdout)
    elif args.output.suffix.lower() == ".json":
        write_text(args.output, table.reset_index().to_json(orient="records", indent=2))
    else:
        write_csv(args.output, table)
    if failed:
        print(f"emomtl: {failed} of {len(table)} file(s) failed; see the 'error' column", file=sys.stderr)
    return 1 if failed == len(table) else 0


def cost_line(files: int, models: int, load_seconds: float, predict_seconds: float) -> str:
    """What the prediction cost: models (an ensemble averages them), load time, time and rate over the files."""
    ensemble = " (an ensemble: their probabilities and values averaged)" if models > 1 else ""
    rate = files / predict_seconds if predict_seconds > 0 else float("inf")
    return (f"emomtl: {files} file(s), {models} model(s){ensemble}: loading {load_seconds:.1f} s, "
            f"features and prediction {predict_seconds:.1f} s ({rate:.1f} files/s)")


def check_output(output: Path, files: list[Path]) -> None:
    """``-o``: a table file (``.csv``/``.json``), never one of the input recordings or another recording."""
    from emomtl.inference.recognizer import AUDIO_SUFFIXES

    target = os.path.realpath(output)
    if any(os.path.realpath(path) == target for path in files):
        raise ConfigError(f"predict -o {output}: is one of the input recordings; "
                          "write the table to a .csv or .json file")
    if output.suffix.lower() in AUDIO_SUFFIXES:
        raise ConfigError(f"predict -o {output}: an audio file name; write the table to a .csv or .json file")
    if output.is_dir():
        raise ConfigError(f"predict -o {output}: is a folder; give a .csv or .json file name")


def split_arguments(checkpoints: list[Path] | None, positionals: list[str]) -> tuple[list[Path], list[str]]:
    """(checkpoints, inputs): the first positional is the checkpoint unless ``--checkpoint`` was given."""
    if checkpoints:
        return checkpoints, positionals
    if len(positionals) < 2:
        raise ConfigError("predict: give a checkpoint and at least one audio file or folder")
    return [Path(positionals[0])], positionals[1:]


def resolve_checkpoint(path: Path) -> Path:
    return path / "checkpoint_best.pt" if path.is_dir() else path


def speakers_from_csv(csv: Path, files: list[Path]) -> list[str | None]:
    """The speaker of every file from a ``file,speaker`` CSV: matched by path as given, absolute path or base name
    (a base name listed twice matches nothing). Files not listed get ``None`` (global statistics)."""
    import pandas as pd

    try:
        table = pd.read_csv(csv, dtype=str)
    except (OSError, ValueError) as error:
        raise ConfigError(f"predict --speakers: cannot read {csv} ({error})") from error
    missing = {"file", "speaker"} - set(table.columns)
    if missing:
        raise ConfigError(f"predict --speakers: {csv} lacks column(s) {sorted(missing)}; expected file,speaker")
    by_path: dict[str, str] = {}
    by_name: dict[str, str | None] = {}
    for file, speaker in zip(table["file"], table["speaker"]):
        by_path[os.path.normpath(file)] = speaker
        by_path[os.path.abspath(file)] = speaker
        name = os.path.basename(file)
        by_name[name] = None if name in by_name and by_name[name] != speaker else speaker
    return [by_path.get(os.path.normpath(f), by_path.get(os.path.abspath(f), by_name.get(f.name))) for f in files]
