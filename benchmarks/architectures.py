"""The papers' architectures beside the functional MLP, the Whisper model and the SVM anchor: one EMO-DB LOSO table.

    python benchmarks/architectures.py     # after the emodb_loso.py runs its rows name

Trains nothing: every row is copied from a committed table of ``benchmarks/results/`` that a command in
``benchmarks/`` wrote (the ``source`` column), with the budget it ran at and issue 20's goal for that model.
A row whose source is missing is left out and named on stdout.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import _common  # noqa: F401
import pandas as pd
from _common import ROOT, markdown_table, write_outputs


@dataclass(frozen=True)
class Row:
    architecture: str
    paper: str
    budget: str
    source: str  # a CSV under benchmarks/results/
    model: str  # its "model" column
    strategy: str  # its "strategy" column
    goal: str = "-"


ROWS = [
    Row("SVM on ComParE functionals, per-speaker z-norm", "classical anchor", "deterministic, C chosen on validation",
        "emodb_loso.csv", "SVM, ComParE, per-speaker z-norm", "single:emotion"),
    Row("functional MLP (ComParE), speed perturbation", "-", "3 seeds", "emodb_loso.csv", "mlp_speed",
        "single:emotion"),
    Row("functional MLP (ComParE), speed perturbation", "-", "3 seeds", "emodb_loso.csv", "mlp_speed", "static"),
    Row("Whisper base layers 1-3 + MLP", "3 (pretrained speech encoder)", "50 epochs, 3 seeds",
        "whisper_arms/emodb_loso.csv", "whisper", "single:emotion"),
    Row("Whisper base layers 1-3 + MLP", "3 (pretrained speech encoder)", "50 epochs, 3 seeds",
        "whisper_arms/emodb_loso.csv", "whisper", "ew"),
    Row("multi-exit CNN, 64-mel", "2 DRUW", "15 epochs, 1 seed", "cnn_15_epochs/emodb_loso.csv", "cnn",
        "single:emotion", ">= 75"),
    Row("multi-exit CNN, 64-mel", "2 DRUW", "15 epochs, 1 seed", "cnn_15_epochs/emodb_loso.csv", "cnn", "druw",
        "single - 1"),
    Row("multi-exit CNN, 64-mel, speaker exits after block 2", "2 DRUW", "15 epochs, 1 seed",
        "cnn_speaker_exit2/emodb_loso.csv", "cnn_speaker_exit2", "druw", "single - 1"),
    Row("multi-exit CNN, 64-mel", "2 DRUW", "45 epochs, 3 seeds", "cnn_45_epochs/emodb_loso.csv", "cnn",
        "single:emotion", ">= 75"),
    Row("multi-exit CNN, 64-mel", "2 DRUW", "45 epochs, seed 0", "cnn_arms_45_epochs/emodb_loso.csv", "cnn", "druw",
        "single - 1"),
    Row("multi-exit CNN, 64-mel", "2 DRUW", "45 epochs, seed 0", "cnn_arms_45_epochs/emodb_loso.csv", "cnn", "static",
        "single - 1"),
    Row("multi-exit CNN, 64-mel", "2 DRUW", "45 epochs, seed 0", "cnn_arms_45_epochs/emodb_loso.csv", "cnn", "uw",
        "single - 1"),
    Row("multi-exit CNN, 64-mel, speaker exits after block 2", "2 DRUW", "45 epochs, 1 seed",
        "cnn_speaker_exit2_45_epochs/emodb_loso.csv", "cnn_speaker_exit2", "druw", "single - 1"),
    Row("multi-exit CNN, 64-mel, speaker exits after block 2", "2 DRUW", "15 epochs, 1 seed",
        "cnn_speaker_exit2_gcs/emodb_loso.csv", "cnn_speaker_exit2", "gcs", "single - 1"),
    Row("CNN-BLSTM with attention, 128-mel x 256", "4 CNN-BLSTM", "15 epochs, 1 seed",
        "blstm_15_epochs/emodb_loso.csv", "blstm", "single:emotion", ">= 75"),
    Row("CNN-BLSTM with attention, 128-mel x 256", "4 CNN-BLSTM", "15 epochs, 1 seed",
        "blstm_15_epochs/emodb_loso.csv", "blstm", "druw", "single - 1"),
    Row("CNN-BLSTM with attention, 128-mel x 256 at a 10 ms hop, crops", "4 CNN-BLSTM", "15 epochs, 1 seed",
        "blstm_crops_15_epochs/emodb_loso.csv", "blstm_crops", "single:emotion", ">= 75"),
    Row("CNN-BLSTM with attention, 128-mel x 256 at a 10 ms hop, crops", "4 CNN-BLSTM", "15 epochs, 1 seed",
        "blstm_crops_15_epochs/emodb_loso.csv", "blstm_crops", "ew", "single - 1"),
    Row("CNN-BLSTM with attention, 128-mel x 256 at a 10 ms hop, crops", "4 CNN-BLSTM", "30 epochs, 1 seed",
        "blstm_crops_30_epochs/emodb_loso.csv", "blstm_crops", "single:emotion", ">= 75"),
    Row("CNN-BLSTM with attention, 128-mel x 256 at a 10 ms hop, crops", "4 CNN-BLSTM", "30 epochs, 1 seed",
        "blstm_crops_30_epochs/emodb_loso.csv", "blstm_crops", "ew", "single - 1"),
    Row("raw-waveform CNN + LSTM, audio only", "1 dynamic joint-loss weights", "4 epochs, 1 seed",
        "emodb_loso.csv", "wave", "softmax", ">= 50"),
    Row("raw-waveform CNN + LSTM, audio only", "1 dynamic joint-loss weights", "12 epochs, 1 seed",
        "wave_12_epochs/emodb_loso.csv", "wave", "softmax", ">= 50"),
]
COLUMNS = ["architecture", "paper", "arm", "UA %", "val UA %", "budget", "goal (issue 20, UA %)", "source"]


def collect(results: Path, rows: list[Row] = ROWS) -> pd.DataFrame:
    """One line per row whose source table has it; missing sources or rows are reported and left out."""
    lines = []
    for row in rows:
        path = results / row.source
        table = pd.read_csv(path, dtype=str) if path.exists() else pd.DataFrame(columns=["model", "strategy"])
        found = table[(table["model"] == row.model) & (table["strategy"] == row.strategy)]
        if found.empty:
            print(f"skip {row.architecture} / {row.strategy}: not in {path}")
            continue
        hit = found.iloc[0]
        budget = row.budget  # a table with a seeds column (arms may differ) says how many seeds this arm has
        if "seeds" in hit and pd.notna(hit["seeds"]):
            seeds = int(hit["seeds"])
            budget = f"{budget.split(',')[0]}, {seeds} seed{'s' if seeds > 1 else ''}"
        lines.append({"architecture": row.architecture, "paper": row.paper, "arm": row.strategy,
                      "UA %": hit["UA %"], "val UA %": hit.get("val UA %", "-"), "budget": budget,
                      "goal (issue 20, UA %)": row.goal, "source": f"benchmarks/results/{row.source}"})
    return pd.DataFrame(lines, columns=COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    table = collect(args.results)
    write_outputs(args.results, "architectures_emodb", table)
    print(markdown_table(table))


if __name__ == "__main__":
    main()
