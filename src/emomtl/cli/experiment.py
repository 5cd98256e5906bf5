"""``emomtl train | cv | compare``: run a recipe on one split, on every fold, or for several strategies."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from emomtl.config import Recipe
from emomtl.evaluation.metrics import SUMMARY_METRICS
from emomtl.errors import ConfigError

console = Console(stderr=True)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="recipe name (e.g. quickstart) or path to a YAML file")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. model.dropout=0.2 train.epochs=5")
    parser.add_argument("--out", type=Path, help="run directory (default: runs/<recipe>-<command>)")
    parser.add_argument("--seeds", help="comma-separated seeds (default: train.seeds)")
    parser.add_argument("--no-resume", "--fresh", dest="no_resume", action="store_true",
                        help="start the run folder over instead of continuing it (needed when its settings or data "
                             "changed)")
    parser.add_argument("--no-report", action="store_true", help="do not write report.md / report.html")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or tables")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at once in worker processes (cv/compare; with --backend ray: "
                             "runs at once per Ray node)")
    parser.add_argument("--devices", type=int, default=None,
                        help="data-parallel processes / GPUs per run (Lightning Fabric DDP; default: train.devices)")


def _backend_options(parser: argparse.ArgumentParser) -> None:
    from emomtl.config import BACKENDS

    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help="where runs execute: local processes or Ray tasks (default: train.backend, local)")
    parser.add_argument("--address", help="--backend ray: join this running Ray cluster (e.g. 10.0.0.1:6379; "
                                          "default: RAY_ADDRESS, else a local Ray instance)")


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train and test one split of the recipe's protocol")
    _common(train)
    train.add_argument("--fold", default="0", help="fold index or name (default: the first)")
    train.set_defaults(handler=run_train, command_name="train")

    cv = subparsers.add_parser("cv", help="every fold of the protocol x seeds; pooled and mean ± std results")
    _common(cv)
    _backend_options(cv)
    cv.set_defaults(handler=run_cv, command_name="cv")

    compare = subparsers.add_parser("compare", help="several weighting strategies (and single-task baselines) "
                                                    "on identical folds")
    _common(compare)
    _backend_options(compare)
    compare.add_argument("--weightings", help="comma-separated strategies (default: compare.weightings)")
    compare.add_argument("--single-task", action="store_true", default=None,
                         help="add one single-task baseline per scored task")
    compare.add_argument("--models", help="comma-separated other models run as arms on the same folds, e.g. linear_svm "
                                          "(default: compare.models)")
    compare.set_defaults(handler=run_compare, command_name="compare")


def _setup(args: argparse.Namespace) -> tuple[Recipe, Path, list[int]]:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    devices = [f"train.devices={args.devices}"] if getattr(args, "devices", None) else []
    recipe = Recipe.load(args.recipe, [*args.overrides, *devices])  # --devices is a setting of the run like any
    out = args.out or Path(recipe.output.dir) / f"{recipe.name}-{args.command_name}"
    seeds = parse_seeds(args.seeds) if args.seeds is not None else list(recipe.train.seeds)
    return recipe, Path(out), seeds


def parse_seeds(text: str) -> list[int]:
    """``--seeds 0,1,2``: a non-empty comma-separated list of integers."""
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds:
        raise ConfigError(f"--seeds: {text!r} must be comma-separated integers, e.g. --seeds 0,1,2")
    return seeds


def _finish(args: argparse.Namespace, results: pd.DataFrame, out: Path) -> int:
    if not args.quiet:
        print_summary(results, auxiliary_tasks(out))
    if not args.no_report:
        from emomtl.reports import build_report

        paths = build_report(out)
        console.print(f"report: {paths.markdown}  {paths.html}")
    console.print(f"results: {out / 'results.csv'}")
    return 0


def auxiliary_tasks(run_dir: Path) -> set[str]:
    """Tasks the run trained as auxiliary (never scored), from its resolved ``config.yaml``."""
    import yaml

    config = run_dir / "config.yaml"
    tasks = (yaml.safe_load(config.read_text()) or {}).get("tasks", []) if config.exists() else []
    return {t["name"] for t in tasks if isinstance(t, dict) and t.get("auxiliary")}


def print_summary(results: pd.DataFrame, auxiliary: set[str] = frozenset()) -> None:
    """Mean ± std over folds and seeds of the headline metrics (UA, WA, CCC, MAE, score), one row per strategy;
    ``auxiliary`` tasks (e.g. speaker identity under LOSO, unseen test speakers) are left out."""
    metric_columns = [c for c in results.columns if c.count(".") == 1 and c.split(".")[1] in SUMMARY_METRICS
                      and c.split(".")[0] not in auxiliary] + ["score"]
    weight_columns = [c for c in results.columns if c.startswith("weight.")]
    table = Table(title=f"{results['fold'].nunique()} fold(s) x {results['seed'].nunique()} seed(s)")
    table.add_column("strategy")
    for column in metric_columns + weight_columns:
        table.add_column(column, justify="right")
    for strategy, group in results.groupby("strategy", sort=False):
        cells = []
        for column in metric_columns:
            values = pd.to_numeric(group[column], errors="coerce").dropna()
            cells.append(f"{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0:.3f}"
                         if len(values) else "-")
        cells += [f"{pd.to_numeric(group[c], errors='coerce').mean():.2f}" for c in weight_columns]
        table.add_row(str(strategy), *cells)
    output = Console()
    if not output.is_terminal:
        output = Console(width=240)  # files and CI logs: never squeeze the columns
    output.print(table)


def run_train(args: argparse.Namespace) -> int:
    from emomtl.config import save_recipe
    from emomtl.runtime.files import write_csv, write_json
    from emomtl.runtime.lock import RunLock
    from emomtl.runtime.record import PLAN_NAME, Provenance
    from emomtl.training.experiment import result_row
    from emomtl.training.loop import train_split
    from emomtl.training.plan import plan_experiment

    recipe, out, _ = _setup(args)
    seeds = parse_seeds(args.seeds)[:1] if args.seeds is not None else [recipe.train.seed]  # ``train.seed``
    plan = plan_experiment(recipe, out, seeds=seeds, progress=not args.quiet)
    splits = plan.splits
    chosen = [run for run in plan.runs if args.fold in (str(splits.index(run.split)), run.split.name)]
    if not chosen:
        raise ConfigError(f"--fold {args.fold}: not one of 0..{len(splits) - 1} or {[s.name for s in splits]}")
    run = chosen[0]  # ``train`` writes the run straight into --out
    job = dataclasses.replace(run.job, out_dir=out, label=f"{run.arm.label} {run.split.name}")
    devices = args.devices or recipe.train.devices
    with RunLock(out), Provenance(out, plan.recipe.to_dict(), "train"):
        from emomtl.training.distributed import runs_through_fabric

        if runs_through_fabric(devices):
            from emomtl.training.distributed import train_split_distributed

            metrics = train_split_distributed(job, devices, resume=not args.no_resume,
                                              precision=recipe.train.precision)
        else:
            metrics = train_split(job, resume=not args.no_resume, progress=not args.quiet)
        save_recipe(job.recipe.to_dict() if hasattr(job.recipe, "to_dict") else job.recipe, out / "config.yaml")
        write_json(out / PLAN_NAME, {"runs": 1, "arms": [run.arm.label], "folds": [run.split.name],
                                     "seeds": [run.seed]})
        write_csv(out / "results.csv", pd.DataFrame([result_row(run.arm, run.split, run.seed, plan.prepared.table,
                                                                metrics)]), index=False)
    console.print(f"best epoch {metrics['best_epoch']}  test score {metrics['score']:.4f}")
    for task, values in metrics["test"].items():
        console.print(f"  {task}: " + "  ".join(f"{k}={v:.4f}" for k, v in values.items() if isinstance(v, float)))
    console.print(f"checkpoint: {out / 'checkpoint_best.pt'}")
    if not args.no_report:
        from emomtl.reports import build_report

        paths = build_report(out)
        console.print(f"report: {paths.markdown}  {paths.html}")
    return 0


def run_cv(args: argparse.Namespace) -> int:
    from emomtl.training.experiment import run_experiment

    recipe, out, seeds = _setup(args)
    results = run_experiment(recipe, out, seeds=seeds, resume=not args.no_resume, progress=not args.quiet,
                             jobs=args.jobs, devices=args.devices, backend=args.backend, address=args.address)
    return _finish(args, results, out)


def run_compare(args: argparse.Namespace) -> int:
    from emomtl.training.experiment import run_experiment

    recipe, out, seeds = _setup(args)
    weightings = args.weightings.split(",") if args.weightings else list(recipe.compare.weightings)
    single = recipe.compare.single_task if args.single_task is None else args.single_task
    models = args.models.split(",") if args.models else list(recipe.compare.models or [])
    results = run_experiment(recipe, out, weightings=weightings, single_task=single, seeds=seeds,
                             resume=not args.no_resume, progress=not args.quiet, jobs=args.jobs, models=models,
                             devices=args.devices, backend=args.backend, address=args.address)
    return _finish(args, results, out)
