"""Choose the functional-MLP settings of ``recipes/emodb_loso.yaml`` on validation speakers only.

    python benchmarks/emodb_tuning.py                 # every variant, seed 0; base + best 2 again, 3 seeds
    python benchmarks/emodb_tuning.py --variants 14,17,18 --seeds 0,1,2 --finalists 0 --single-task \
        --name emodb_tuning_ema                       # weight EMA on top of the chosen speed perturbation

Each variant (a list of recipe overrides) is trained leave-one-speaker-out; its score is the mean emotion UA
on the two validation speakers of every fold (before the refit), so the choice never looks at a test speaker.
Screening uses one seed; the base and the best screened variants are re-run with three seeds, and the
one-standard-error rule picks among them: the simplest variant (the base first) within one standard error of
the best validation UA. Test UA is printed beside it for the record only. Writes
``benchmarks/results/<--name>.{md,csv,json}`` (default ``emodb_tuning``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common  # noqa: F401  (sets OMP_WAIT_POLICY before torch is imported)
import pandas as pd
from _common import DEFAULT_DATA, ROOT, Timer, markdown_table, require_corpus, summarise, write_outputs

from emomtl.config import load_recipe
from emomtl.training.experiment import run_experiment

RECIPE = ROOT / "recipes" / "emodb_loso.yaml"
VARIANTS: dict[str, list[str]] = {
    "base (hidden 256-128, dropout 0.5)": [],
    "input dropout 0.2": ["model.input_dropout=0.2"],
    "input dropout 0.5": ["model.input_dropout=0.5"],
    "feature noise 0.3": ["train.augment.feature_noise=0.3"],
    "label smoothing 0.1": ["tasks.0.label_smoothing=0.1"],
    "hidden 512-256": ["model.hidden=[512,256]"],
    "60 epochs": ["train.epochs=60"],
    "input dropout 0.2 + noise 0.3 + smoothing 0.1": ["model.input_dropout=0.2", "train.augment.feature_noise=0.3",
                                                        "tasks.0.label_smoothing=0.1"],
    "no speaker task (emotion + gender)": ["tasks=[{name: emotion, column: emotion}, {name: gender, column: gender}]"],
    "dropout 0.3": ["model.dropout=0.3"],
    "lr 0.0005": ["optim.lr=0.0005"],
    "mixup 0.2": ["train.augment.mixup=0.2"],
    "mixup 0.4": ["train.augment.mixup=0.4"],
    "speed perturbation 0.9, 1.1": ["train.augment.speed=[0.9,1.1]"],
    "speed perturbation 0.9, 0.95, 1.05, 1.1": ["train.augment.speed=[0.9,0.95,1.05,1.1]"],
    "balanced class weights": ["tasks.0.class_weight=balanced"],
    "ComParE + eGeMAPS fusion": ["features.egemaps={kind: opensmile, feature_set: eGeMAPSv02, level: functionals}",
                                 "inputs.egemaps={standardize: speaker}", "model.inputs=[functionals,egemaps]"],
    "speed perturbation + weight EMA 0.95": ["train.augment.speed=[0.9,0.95,1.05,1.1]", "train.ema_decay=0.95"],
    "speed perturbation + weight EMA 0.99": ["train.augment.speed=[0.9,0.95,1.05,1.1]", "train.ema_decay=0.99"],
}


def run_variants(root: Path, indices: list[int], seeds: list[int], args: argparse.Namespace, stage: str) -> list[dict]:
    """Train each variant on every fold and seed; one row per (variant, arm) with its validation and test UA."""
    names = list(VARIANTS)
    rows = []
    for index in indices:
        name = names[index]
        recipe = load_recipe(RECIPE, [f"data.root={root}", *VARIANTS[name]])
        run_dir = args.runs / f"variant{index}_seeds{'-'.join(map(str, seeds))}"
        with Timer() as timer:
            run_experiment(recipe, run_dir, weightings=args.strategies.split(","), single_task=args.single_task,
                           seeds=seeds, jobs=args.jobs)
        for row in summarise(run_dir, "mlp"):
            if row["strategy"] == "single:gender":
                continue
            rows.append({"stage": stage, "variant": name, "overrides": " ".join(VARIANTS[name]) or "-",
                         "strategy": row["strategy"], "seeds": len(seeds), "val UA % (selects)": row["val UA %"],
                         "test UA % (record only)": row["UA %"], "wall time (s)": f"{timer.seconds:.0f}",
                         "_val": row["_val_ua"], "_val_se": row["_val_se"], "_index": index})
        print(f"{stage}: {name}: {timer.seconds:.0f} s", flush=True)
    return rows


def one_standard_error_choice(group: pd.DataFrame) -> str:
    """The one-standard-error rule: the simplest variant (lowest index: the base first) whose validation UA is
    within one standard error (over seeds) of the best one; differences smaller than seed noise change nothing."""
    top = group.loc[group["_val"].idxmax()]
    within = group[group["_val"] >= top["_val"] - top["_val_se"]]
    return str(within.sort_values("_index").iloc[0]["variant"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding emodb/")
    parser.add_argument("--seeds", default="0", help="seeds of the screening stage")
    parser.add_argument("--finalists", type=int, default=2,
                        help="variants re-run with --final-seeds beside the base (0: no final stage)")
    parser.add_argument("--final-seeds", default="0,1,2")
    parser.add_argument("--strategies", default="static", help="arms tuned (e.g. static,druw)")
    parser.add_argument("--single-task", action="store_true", help="also tune the single-task arms")
    parser.add_argument("--variants", help=f"comma-separated indices into the {len(VARIANTS)} variants (default all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="emodb_tuning", help="output file name (without suffix)")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "benchmarks" / "tuning")
    args = parser.parse_args()
    root = require_corpus(args.data, "emodb")
    indices = [int(i) for i in args.variants.split(",")] if args.variants else list(range(len(VARIANTS)))
    rows = run_variants(root, indices, [int(s) for s in args.seeds.split(",")], args, "screen")
    if args.finalists:
        screened = pd.DataFrame(rows).groupby("_index")["_val"].mean().drop(0, errors="ignore")
        finalists = [0, *screened.sort_values(ascending=False).index[: args.finalists].tolist()]  # base + best
        rows += run_variants(root, finalists, [int(s) for s in args.final_seeds.split(",")], args, "final")
    table = pd.DataFrame(rows)
    last = table[table["stage"] == table["stage"].iloc[-1]]
    best = {strategy: one_standard_error_choice(group) for strategy, group in last.groupby("strategy")}
    table = table.drop(columns=["_val", "_index", "_val_se"])
    write_outputs(args.out, args.name, table, {"best_by_validation": best})
    print(markdown_table(table))
    for strategy, variant in best.items():
        print(f"best by validation UA for {strategy}: {variant}")


if __name__ == "__main__":
    main()
