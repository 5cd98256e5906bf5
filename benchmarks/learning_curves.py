"""Learning curves of benchmark runs: validation UA, task weights and per-task gradient norms, one panel each.

    python benchmarks/learning_curves.py benchmarks/results/runs/emodb_cnn [--out curves.png] [--task emotion]
    python benchmarks/learning_curves.py runs/benchmarks/emodb_cnn runs/benchmarks/emodb_cnn_speaker_exit2 --out x.png

Reads the run folders of a ``cv`` / ``compare`` / benchmark folder (``runs/<arm>/fold<k>_seed<s>/``, or one run
folder): ``history.csv`` gives per epoch ``val.<task>.ua`` and ``weight.<task>``; ``steps.csv`` gives per logged
step ``grad_norm.<task>`` (written with ``train.log_grad_norms: true``; the panel then shows the gradient norm of
each task on the shared layers, and when no arm logged them the per-task training losses per epoch).
Curves are averaged over
the folds and seeds of an arm, epoch by epoch (step by step for gradient norms). With several folders in one
figure each arm is named ``<folder>/<arm>``. Beside the PNG, ``<out>.md`` summarises each arm (validation UA at the
last and best epoch, last training losses, gradient norms over the last five epochs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common  # noqa: F401  (sets OMP_WAIT_POLICY before torch is imported)
import pandas as pd
from _common import markdown_table


def run_folders(folder: Path) -> dict[str, list[Path]]:
    """Arm -> its run folders (those holding a ``history.csv``); a single run folder is its own arm."""
    folder = Path(folder)
    if (folder / "history.csv").exists():
        return {folder.name: [folder]}
    arms: dict[str, list[Path]] = {}
    for history in sorted((folder / "runs").glob("*/*/history.csv")):
        arms.setdefault(history.parent.parent.name, []).append(history.parent)
    return arms


def named_arms(folders: list[Path]) -> dict[str, list[Path]]:
    """The arms of every folder; with several folders each arm is named ``<folder>/<arm>``."""
    return {f"{f.name}/{arm}" if len(folders) > 1 else arm: runs for f in folders
            for arm, runs in run_folders(f).items()}


def mean_curves(runs: list[Path], file: str, index: str) -> pd.DataFrame:
    """The numeric columns of ``file`` in every run, averaged over runs by ``index`` (epoch or step)."""
    frames = [pd.read_csv(run / file) for run in runs if (run / file).exists()]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames).groupby(index).mean(numeric_only=True).sort_index()


Curves = dict[str, tuple[int, pd.DataFrame, pd.DataFrame]]  # arm -> (runs, history per epoch, steps per step)


def arm_curves(arms: dict[str, list[Path]]) -> Curves:
    """Each arm's number of runs and its epoch and step curves, averaged over its runs (read once per arm)."""
    return {arm: (len(runs), mean_curves(runs, "history.csv", "epoch"), mean_curves(runs, "steps.csv", "step"))
            for arm, runs in arms.items()}


def run_spread(arms: dict[str, list[Path]], task: str = "emotion", metric: str = "ua") -> dict[str, str]:
    """Per arm: min / median / max over its runs of each run's validation ``metric`` at its last epoch (a mean curve
    hides runs that never leave chance while others learn)."""
    spread = {}
    for arm, runs in arms.items():
        column = f"val.{task}.{metric}"
        last = [frame[column].iloc[-1] for frame in (pd.read_csv(run / "history.csv") for run in runs)
                if column in frame and len(frame)]
        if last:
            spread[arm] = " / ".join(f"{100 * v:.1f}" for v in (min(last), float(pd.Series(last).median()), max(last)))
    return spread


def summary_table(curves: Curves, task: str = "emotion", metric: str = "ua", last: int = 5,
                  spread: dict[str, str] | None = None) -> pd.DataFrame:
    """Per arm: validation ``metric`` of ``task`` at the last and the best epoch (with ``spread``, from
    :func:`run_spread`, also its min / median / max over runs at the last epoch), each task's training loss at the
    last epoch, and each task's gradient norm on the shared layers averaged over the last ``last`` epochs."""
    rows = []
    for arm, (runs, history, steps) in curves.items():
        column = f"val.{task}.{metric}"
        row: dict[str, object] = {"arm": arm, "runs": runs, "epochs": len(history)}
        if column in history:
            row[f"val {metric.upper()} % (last epoch)"] = f"{100 * history[column].iloc[-1]:.1f}"
            row[f"val {metric.upper()} % (best epoch)"] = f"{100 * history[column].max():.1f}"
        if spread is not None:
            row[f"val {metric.upper()} % per run, last epoch (min / median / max)"] = spread.get(arm, "-")
        for name in [c for c in history if c.startswith("train.") and c.endswith(".loss") and c != "train.loss"]:
            row[f"last train loss: {name[6:-5]}"] = f"{history[name].iloc[-1]:.2f}"
        if "epoch" in steps:
            tail = steps[steps["epoch"] >= steps["epoch"].max() - last + 1]
            for name in [c for c in steps if c.startswith("grad_norm.")]:
                row[f"grad norm: {name[10:]} (last {last} epochs)"] = f"{tail[name].mean():.2f}"
        rows.append(row)
    return pd.DataFrame(rows).fillna("-")


def plot_learning_curves(folder: Path | list[Path], out: Path, task: str = "emotion", metric: str = "ua",
                         curves: Curves | None = None) -> Path:
    """Three panels (validation ``metric`` of every task, weights per epoch, gradient norms or training losses);
    one line per arm and task, of one folder or several (``curves``: already read by :func:`arm_curves`).
    Writes ``out`` (PNG) and returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folders = [Path(f) for f in folder] if isinstance(folder, list) else [Path(folder)]
    curves = arm_curves(named_arms(folders)) if curves is None else curves
    if not curves:
        raise SystemExit(f"error: no run folders with history.csv under {', '.join(map(str, folders))}")
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(8, 10), sharex=False)
    with_norms = any(c.startswith("grad_norm.") for _, _, steps in curves.values() for c in steps)
    bottom_label = "gradient norm on the shared layers" if with_norms else "training loss"
    for arm, (_, history, steps) in curves.items():
        for column in [c for c in history if c.startswith("val.") and c.endswith(f".{metric}")]:
            style = "-" if column == f"val.{task}.{metric}" else ":"
            top.plot(history.index, 100 * history[column], style, label=f"{arm}: {column[4:]}")
        for column in [c for c in history if c.startswith("weight.")]:
            middle.plot(history.index, history[column], label=f"{arm}: {column[7:]}")
        if with_norms:  # arms run without train.log_grad_norms have no line here
            for column in [c for c in steps if c.startswith("grad_norm.")]:
                bottom.plot(steps.index, steps[column], label=f"{arm}: {column[10:]}")
        else:
            for column in [c for c in history if c.startswith("train.") and c.endswith(".loss") and c != "train.loss"]:
                bottom.plot(history.index, history[column], label=f"{arm}: {column[6:-5]}")
    top.set(ylabel=f"validation {metric.upper()} (%)", xlabel="epoch")
    middle.set(ylabel="task weight", xlabel="epoch")
    bottom.set(ylabel=bottom_label, xlabel="step" if with_norms else "epoch")
    if with_norms:
        bottom.set_yscale("log")
    for axis in (top, middle, bottom):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, ncol=2)
    fig.suptitle(f"{', '.join(f.name for f in folders)}: mean over {sum(n for n, _, _ in curves.values())} run(s)")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="+",
                        help="benchmark / compare folders (with runs/) or run folders, drawn in one figure")
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default <folder>/learning_curves.png)")
    parser.add_argument("--task", default="emotion", help="the main task (solid line; others dotted)")
    parser.add_argument("--metric", default="ua", help="validation metric column suffix (default ua)")
    args = parser.parse_args()
    out = args.out or args.folder[0] / "learning_curves.png"
    arms = named_arms(args.folder)
    curves = arm_curves(arms)
    print(plot_learning_curves(args.folder, out, args.task, args.metric, curves))
    table = summary_table(curves, args.task, args.metric, spread=run_spread(arms, args.task, args.metric))
    Path(out).with_suffix(".md").write_text(markdown_table(table) + "\n")
    print(markdown_table(table))


if __name__ == "__main__":
    main()
