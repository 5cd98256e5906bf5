"""Which differences between arms are real: every pair of arms on the first scored classification task.

Per pair: the mean difference of its UA over the paired (fold, seed) runs, a Wilcoxon signed-rank test over those
pairs, a 95 % paired bootstrap interval of the UA difference over utterances (both arms' predictions of the same
files and seeds), and the p-values Holm-corrected over all pairs of the table; a difference is marked significant
at 0.05 after that correction. See :mod:`emomtl.evaluation.significance`.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from emomtl.evaluation.significance import bootstrap_difference, holm, paired_test
from emomtl.reports.columns import run_tasks
from emomtl.reports.document import Cell, Paragraph, Section, Table
from emomtl.reports.load import RunData

#: Bootstrap resamples per pair (a report is built often; the interval's end points move by < 0.5 point).
RESAMPLES = 1000
ALPHA = 0.05


def pairwise_table(run: RunData, task: str, resamples: int = RESAMPLES) -> pd.DataFrame:
    """One row per pair of arms: difference, interval, raw and Holm-adjusted p, significance."""
    column = f"{task}.ua"
    results = run.results
    if column not in results.columns:
        return pd.DataFrame()
    # only arms scored on the task (a single-task arm of another task has no such column values)
    arms = [a for a in run.strategies if results.loc[results["strategy"] == a, column].notna().any()]
    if len(arms) < 2:
        return pd.DataFrame()
    predictions = run.predictions
    rows = []
    for a, b in itertools.combinations(arms, 2):
        left = results[results["strategy"] == a][["fold", "seed", column]]
        right = results[results["strategy"] == b][["fold", "seed", column]]
        paired = left.merge(right, on=["fold", "seed"], suffixes=("_a", "_b"))
        test = paired_test(paired[f"{column}_a"], paired[f"{column}_b"])
        low = high = float("nan")
        if not predictions.empty and f"{task}.pred" in predictions.columns:
            keys = ["path", "seed"]
            joined = predictions[predictions["strategy"] == a].merge(
                predictions[predictions["strategy"] == b], on=keys, suffixes=("_a", "_b"))
            joined = joined[joined[f"{task}.true_a"].notna()]
            if len(joined):
                _, low, high = bootstrap_difference(joined[f"{task}.true_a"].astype(str),
                                                    joined[f"{task}.pred_a"].astype(str),
                                                    joined[f"{task}.pred_b"].astype(str), resamples=resamples,
                                                    groups=joined["path"])  # an utterance's seeds drawn together
        rows.append({"a": a, "b": b, "difference": test.mean_difference, "low": low, "high": high,
                     "p": test.p_value, "pairs": test.pairs})
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p"].tolist())
    table["significant"] = table["p_holm"] < ALPHA
    return table


def significance_section(run: RunData) -> Section | None:
    """The pairwise table of the first scored classification task, or ``None`` with fewer than two arms scored on it."""
    task = next((t.name for t in run_tasks(run) if t.kind == "classification" and not t.auxiliary), None)
    if task is None:
        return None
    table = pairwise_table(run, task)
    if table.empty:
        return None
    rows = []
    for row in table.itertuples():
        interval = "–" if not np.isfinite(row.low) else f"[{100 * row.low:+.1f}, {100 * row.high:+.1f}]"
        p = "–" if not np.isfinite(row.p_holm) else f"{row.p_holm:.3g}"
        rows.append([Cell(f"{row.a} vs {row.b}"), Cell(f"{100 * row.difference:+.1f}"), Cell(interval), Cell(p),
                     Cell(str(row.pairs)), Cell("yes" if row.significant else "no", bold=bool(row.significant))])
    note = Paragraph(
        f"{task} UA, every pair of arms: mean difference over paired (fold, seed) runs in points, 95 % paired "
        f"bootstrap interval over utterances ({RESAMPLES} resamples), Wilcoxon signed-rank p-value Holm-corrected over "
        f"the {len(table)} pairs; significant at {ALPHA} after correction in bold.")
    columns = ["pair", "difference (points)", "95 % CI (points)", "p (Holm)", "runs", "significant"]
    return Section("Significance", [note, Table(columns, rows)])
