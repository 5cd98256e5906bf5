"""``emomtl export RUN_DIR_OR_CHECKPOINT --format onnx``: the model as ONNX plus ``model.json``."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Write a trained model as ONNX (opset 18) with model.json beside it (input shapes, standardisation statistics,
tasks and label sets, the recipe's features), for `emomtl predict --backend onnxruntime` and
Recognizer.from_onnx(...)."""
EPILOG = """\
examples:
  emomtl export runs/quickstart --format onnx                 # runs/quickstart/onnx/model.{onnx,json}
  emomtl export results/cv --run uw/fold0_seed0 -o deploy/    # one run of a cv / compare folder
  emomtl export run/checkpoint_best.pt -o deploy/

RUN_DIR is a run folder (its checkpoint_best.pt), a checkpoint file, or a cv / compare folder; a folder with
several runs needs --run <strategy>/fold<k>_seed<s> (the error lists them). wave_av_lstm does not export (FFT
convolutions on complex tensors; ONNX has no complex type).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write a trained model as ONNX for onnxruntime", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, metavar="RUN_DIR_OR_CHECKPOINT")
    parser.add_argument("--format", choices=["onnx"], default="onnx", help="export format (default: onnx)")
    parser.add_argument("--run", metavar="STRATEGY/FOLD", help="the run of a cv / compare folder, e.g. uw/fold0_seed0")
    parser.add_argument("-o", "--output", type=Path, metavar="DIR",
                        help="output folder (default: onnx/ beside the checkpoint)")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from emomtl.export.locate import find_checkpoint
    from emomtl.export.onnx import export_checkpoint

    checkpoint = find_checkpoint(args.path, args.run, setting="export")
    spec = export_checkpoint(checkpoint, args.output or checkpoint.parent / "onnx")
    print(f"wrote {spec.parent / 'model.onnx'} and {spec}")
    return 0
