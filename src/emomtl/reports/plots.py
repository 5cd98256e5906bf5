"""Report figures as PNG bytes: loss curves, task-weight trajectories, confusion matrices.

Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas, never through ``pyplot``, so building
a report neither needs a display nor changes the caller's matplotlib state.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from emomtl.reports.confusion import row_normalised, unweighted_average_recall

DPI = 100
#: Confusion matrices with more classes than this are drawn without numbers in the cells.
MAX_ANNOTATED_CLASSES = 12


def figure_png(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def strategy_colours(strategies: list[str]) -> dict[str, str]:
    """One colour per strategy, the same in every figure of a report."""
    palette = [f"C{i}" for i in range(10)]
    return {strategy: palette[i % len(palette)] for i, strategy in enumerate(strategies)}


def mean_band(frame: pd.DataFrame, x: str, column: str) -> pd.DataFrame:
    """Per value of ``x``: ``mean`` and ``std`` (0 when one run) of ``column`` over runs."""
    values = pd.to_numeric(frame[column], errors="coerce")
    grouped = values.groupby(pd.to_numeric(frame[x], errors="coerce")).agg(["mean", "std"]).dropna(subset=["mean"])
    grouped["std"] = grouped["std"].fillna(0.0)
    return grouped.sort_index()


def loss_curves(histories: pd.DataFrame, strategies: list[str]) -> bytes:
    """Train and validation joint loss per epoch, one line per strategy, mean ± std band over folds and seeds."""
    figure = Figure(figsize=(10, 3.6))
    colours = strategy_colours(strategies)
    panels = [("train.loss", "train joint loss"), ("val.loss", "validation joint loss")]
    for position, (column, title) in enumerate(panels):
        axes = figure.add_subplot(1, 2, position + 1)
        for strategy in strategies:
            runs = histories[histories["strategy"] == strategy]
            if column not in runs.columns or runs[column].isna().all():
                continue
            _plot_band(axes, mean_band(runs, "epoch", column), strategy, colours[strategy])
        axes.set_title(title)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch")
        axes.set_ylabel("loss")
        axes.grid(alpha=0.3)
    handles, labels = figure.axes[0].get_legend_handles_labels()
    if not handles:
        handles, labels = figure.axes[1].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    figure.tight_layout()
    return figure_png(figure)


def weight_trajectories(frame: pd.DataFrame, x: str, strategies: list[str]) -> bytes:
    """One panel per strategy with a line per ``weight.<task>`` over ``x`` (``epoch`` or ``step``), mean ± std."""
    columns = min(3, len(strategies))
    rows = math.ceil(len(strategies) / columns)
    figure = Figure(figsize=(3.8 * columns, 2.9 * rows))
    for index, strategy in enumerate(strategies):
        axes = figure.add_subplot(rows, columns, index + 1)
        runs = frame[frame["strategy"] == strategy]
        for position, column in enumerate(c for c in runs.columns if str(c).startswith("weight.")):
            if runs[column].isna().all():
                continue
            label = column.removeprefix("weight.")
            _plot_band(axes, mean_band(runs, x, column), label, f"C{position % 10}")
        axes.set_title(strategy)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel(x)
        axes.set_ylabel("weight")
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small", frameon=False)
    figure.tight_layout()
    return figure_png(figure)


def confusion_grid(panels: list[tuple[str, pd.DataFrame]], panel_size: float = 3.4) -> bytes:
    """Row-normalised confusion matrices (recall in %), one panel per ``(title, counts)``, UA in each title."""
    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(panel_size * columns, panel_size * rows))
    for index, (title, counts) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, index + 1)
        recall = row_normalised(counts).to_numpy() * 100
        axes.imshow(recall, cmap="Blues", vmin=0, vmax=100)
        labels = [str(label) for label in counts.columns]
        axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize="small")
        axes.set_yticks(range(len(labels)), labels, fontsize="small")
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title(f"UA {unweighted_average_recall(counts) * 100:.1f} %\n{title}", fontsize="medium")
        if len(labels) <= MAX_ANNOTATED_CLASSES:
            for (i, j), value in np.ndenumerate(recall):
                colour = "white" if value > 60 else "black"
                axes.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize="x-small", color=colour)
    figure.tight_layout()
    return figure_png(figure)


def _plot_band(axes, band: pd.DataFrame, label: str, colour: str) -> None:
    x = band.index.to_numpy(dtype=float)
    mean, std = band["mean"].to_numpy(dtype=float), band["std"].to_numpy(dtype=float)
    axes.plot(x, mean, label=label, color=colour, linewidth=1.4)
    axes.fill_between(x, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
