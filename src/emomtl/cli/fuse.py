"""``emomtl fuse RUN[:ARM] RUN[:ARM] ...``: late fusion of finished runs on the same folds (averaged probabilities)."""

from __future__ import annotations

import argparse
from pathlib import Path

from emomtl.errors import ConfigError
from emomtl.runtime.files import refuse_input_as_output, write_csv, write_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("fuse", help="late fusion of finished cv/compare runs on the same folds",
                                   description=__doc__)
    parser.add_argument("members", nargs="+", help="RUN_DIR or RUN_DIR:ARM (e.g. runs/a-compare:druw), two or more")
    parser.add_argument("--task", default="emotion", help="classification task to fuse (default: emotion)")
    parser.add_argument("--out", type=Path, help="write fused predictions.csv, results.csv and fusion.json here")
    parser.set_defaults(handler=run_fuse)


def run_fuse(args: argparse.Namespace) -> int:
    from emomtl.evaluation.fusion import Member, fuse, summary

    try:
        members = [Member.parse(text) for text in args.members]
        result = summary(members, args.task)
        per_run, predictions = fuse(members, args.task)
    except (ValueError, FileNotFoundError) as error:
        raise ConfigError(f"fuse: {error}") from error
    if args.out:  # a member's run folder holds its own results: never written over
        refuse_input_as_output(args.out, [], "fuse --out", folders=[member.run_dir for member in members])
    for name, ua in result["members_ua"].items():
        print(f"{name}: {args.task} UA {100 * ua:.1f} %")
    per_seed = " ".join(f"{100 * v:.1f}" for v in result["fused_ua_per_seed"])
    print(f"fused ({len(members)} members, {result['runs_fused']} runs): "
          f"{args.task} UA {100 * result['fused_ua']:.1f} % "
          f"(per seed: {per_seed}); training cost {result['training_seconds']:.0f} s summed over members")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        write_csv(args.out / "results.csv", per_run, index=False)
        write_csv(args.out / "predictions.csv", predictions, index=False)
        write_json(args.out / "fusion.json", {**result, "members": args.members})
    return 0
