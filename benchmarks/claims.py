"""The four papers' claims, read against our runs: mean ± std, paired tests, bootstrap intervals, a verdict.

    python benchmarks/claims.py        # after emodb_loso.py --configs whisper and cross_language.py --model whisper
    python benchmarks/claims.py --comparison benchmarks/results/runs/paper_budget_cnn --cross-language "" \
        --name claims_cnn              # the same claims on another strategy comparison (paper_budgets.py)

Reads finished run folders (it trains nothing):

* ``--comparison`` (default ``runs/benchmarks/emodb_whisper``): the EMO-DB LOSO strategy comparison on the best model
  (Whisper base layers +
  MLP; arms ew, static 0.5, softmax, uw, ruw, rruw, dwa, druw, single-task), 10 folds x 3 seeds;
* ``--cross-language`` (default ``runs/benchmarks/cross_language_whisper``; "" skips it): EMO-DB alone vs pooled with
  TurEV-DB, single vs multi-task.

Each comparison "a vs b": UA of a minus UA of b, pooled over folds per seed (mean ± std over seeds); a Wilcoxon
signed-rank test over the paired (fold, seed) UAs; a 95 % paired bootstrap interval over utterances (all seeds'
predictions of an utterance drawn together); how many test predictions (utterance x seed) the two arms label
differently; p-values Holm-corrected over every comparison in the table. A claim "a > b" holds when the
difference is positive and significant at 0.05 after correction; "a >= b" holds unless a is significantly lower;
otherwise the claim is not supported (the sign is wrong and significant) or not shown (no significant difference).
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import _common  # noqa: F401
import numpy as np
import pandas as pd
from _common import ROOT, complete_seeds, markdown_table, pct, run_predictions, write_outputs

from emomtl.evaluation.aggregate import pooled_metrics
from emomtl.evaluation.significance import bootstrap_difference, holm, paired_test

#: (paper, claim, [(a, b, relation)]) with relation ">" (a better) or ">=" (a not worse).
CLAIMS = [
    ("1 dynamic joint-loss weights", "dynamic softmax weights beat static 0.5/0.5", "comparison",
     [("softmax", "static", ">")]),
    ("2 DRUW", "DRUW >= RRUW", "comparison", [("druw", "rruw", ">=")]),
    ("2 DRUW", "RRUW >= UW, RUW, DWA", "comparison", [("rruw", "uw", ">="), ("rruw", "ruw", ">="),
                                                          ("rruw", "dwa", ">=")]),
    ("2 DRUW", "UW, RUW, DWA, RRUW, DRUW > EW", "comparison",
     [(s, "ew", ">") for s in ("uw", "ruw", "dwa", "rruw", "druw")]),
    ("all", "multi-task beats single-task (the multi-task arm chosen on validation UA)", "comparison",
     [("best-multi", "single:emotion", ">")]),
    ("4 CNN-BLSTM", "the speaker task raises UA (one corpus)", "cross_language",
     [("EMO-DB/multi", "EMO-DB/single", ">")]),
    ("4 CNN-BLSTM", "pooling corpora across languages raises UA (single task)", "cross_language",
     [("pooled/single", "EMO-DB/single", ">")]),
    ("4 CNN-BLSTM", "pooling + the speaker task raise UA", "cross_language",
     [("pooled/multi", "EMO-DB/single", ">")]),
]


@functools.cache
def arm_runs(run_dir: Path, arm: str) -> tuple[pd.DataFrame, dict[int, pd.DataFrame]]:
    """(results rows of the arm, test predictions per seed); ``EMO-DB/single`` style names are sub-folders."""
    if "/" in arm:
        corpus, kind = arm.split("/")
        folder = run_dir / ("EMO-DB_only" if corpus == "EMO-DB" else "pooled") / kind
        results = pd.read_csv(folder / "results.csv")
        strategy = results["strategy"].iloc[0]
        return results[results["strategy"] == strategy], run_predictions(folder, strategy)
    results = pd.read_csv(run_dir / "results.csv")
    return results[results["strategy"] == arm], run_predictions(run_dir, arm)


def best_multi(run_dir: Path) -> str:
    results = pd.read_csv(run_dir / "results.csv")
    multi = results[~results["strategy"].str.startswith("single:")]
    return multi.groupby("strategy")["val.emotion.ua"].mean().idxmax()  # validation speakers only


def compare(run_dir: Path, a: str, b: str) -> dict | None:
    """The comparison's table row, or None when no seed finished every fold of both arms."""
    results_a, predictions_a = arm_runs(run_dir, a)
    results_b, predictions_b = arm_runs(run_dir, b)
    folds = set(results_a["fold"]) | set(results_b["fold"])
    seeds = sorted(complete_seeds(results_a, folds) & complete_seeds(results_b, folds) & set(predictions_a)
                   & set(predictions_b))
    if not seeds:
        return None
    results_a, results_b = results_a[results_a["seed"].isin(seeds)], results_b[results_b["seed"].isin(seeds)]
    ua_a = [pooled_metrics(predictions_a[s], "emotion", "classification")["ua"] for s in seeds]
    ua_b = [pooled_metrics(predictions_b[s], "emotion", "classification")["ua"] for s in seeds]
    paired = results_a.merge(results_b, on=["fold", "seed"], suffixes=("_a", "_b"))
    test = paired_test(paired["emotion.ua_a"], paired["emotion.ua_b"])
    joined = pd.concat([predictions_a[s].assign(seed=s) for s in seeds]).merge(
        pd.concat([predictions_b[s].assign(seed=s) for s in seeds]), on=["path", "seed"], suffixes=("_a", "_b"))
    difference, low, high = bootstrap_difference(joined["emotion.true_a"], joined["emotion.pred_a"],
                                                 joined["emotion.pred_b"], resamples=2000, groups=joined["path"])
    return {"a": a, "b": b, "seeds": len(seeds), "UA a %": pct(ua_a), "UA b %": pct(ua_b),
            "difference (points)": f"{100 * (np.mean(ua_a) - np.mean(ua_b)):+.1f}",
            "95 % CI (points)": f"[{100 * low:+.1f}, {100 * high:+.1f}]", "pairs": test.pairs,
            "predictions that differ": f"{int((joined['emotion.pred_a'] != joined['emotion.pred_b']).sum())} / "
                                       f"{len(joined)}",
            "_p": test.p_value,
            "_difference": float(np.mean(ua_a) - np.mean(ua_b))}


def verdict(relation: str, difference: float, p_adjusted: float) -> str:
    significant = np.isfinite(p_adjusted) and p_adjusted < 0.05
    if relation == ">":
        if significant:
            return "holds" if difference > 0 else "does not hold (significantly lower)"
        return "not shown (no significant difference)"
    if significant and difference < 0:
        return "does not hold (significantly lower)"
    return "holds (not significantly lower)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comparison", type=Path, default=ROOT / "runs" / "benchmarks" / "emodb_whisper",
                        help="run folder of the EMO-DB LOSO strategy comparison")
    parser.add_argument("--cross-language", default=str(ROOT / "runs" / "benchmarks" / "cross_language_whisper"),
                        help="run folder of cross_language.py ('' to skip those claims)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="claims", help="output tables <out>/<name>.{csv,json,md}")
    args = parser.parse_args()
    folders = {"comparison": args.comparison,
               "cross_language": Path(args.cross_language) if args.cross_language else None}
    rows = []
    for paper, claim, folder, pairs in CLAIMS:
        run_dir = folders[folder]
        if run_dir is None:
            continue
        if not (run_dir / "results.csv").exists() and not run_dir.is_dir():
            print(f"skip {claim!r}: {run_dir} not found")
            continue
        for a, b, relation in pairs:
            chosen = best_multi(run_dir) if a == "best-multi" else a
            row = compare(run_dir, chosen, b)
            if row is None:
                print(f"skip {chosen} {relation} {b}: no seed finished every fold of both arms in {run_dir}")
                continue
            rows.append({"paper": paper, "claim": claim, "relation": f"{chosen} {relation} {b}", **row,
                         "_relation": relation})
    for row, p in zip(rows, holm([r["_p"] for r in rows])):
        row["p (Wilcoxon, Holm)"] = f"{p:.3g}" if np.isfinite(p) else "-"
        row["verdict"] = verdict(row["_relation"], row["_difference"], p)
    table = pd.DataFrame(rows)
    table = table.drop(columns=[c for c in table.columns if c.startswith("_")] + ["a", "b"])
    write_outputs(args.out, args.name, table)
    print(markdown_table(table))


if __name__ == "__main__":
    main()
