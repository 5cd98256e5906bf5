"""Pool the seeds of ``emodb_loso.py`` tables written from different run folders into one table.

    python benchmarks/combine_seeds.py benchmarks/results/cnn_arms_45_epochs \\
        benchmarks/results/cnn_arms_45_epochs_seed_completion --out benchmarks/results/cnn_arms_45_epochs_3_seeds

Each table's per-seed scores come from its ``emodb_loso_seeds.csv``. A table written before that file existed has
only mean ± std per arm: an arm of one seed gives that seed's value, and an arm of two seeds gives its two values
back as mean ∓ std/√2 (sample std), up to the table's rounding to 0.1 point (the ``per-seed source`` column says
which rows were recovered so). Such an arm of n seeds holds the first n of the table's ``seeds``. Any other row (3+
seeds without records, a seed ensemble, the SVM anchor) is kept whole, and it is an error when another table adds
seeds to it; a seed present in two tables is an error too, never counted twice. Only UA, WA, macro-F1 and gender
accuracy are pooled (a seed ensemble, validation UA, weights and times stay in the source tables); a metric that
not every pooled seed has is shown as "-".
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd
from _common import F1, UA, WA, markdown_table, pct, write_outputs

METRICS = (UA, WA, F1, "gender acc %")
Arm = tuple[str, str]


def parse_mean_std(cell: object, where: str) -> tuple[float, float | None]:
    """``"65.8 ± 5.9"`` → (65.8, 5.9); ``"68.9"`` → (68.9, None)."""
    text = str(cell)
    try:
        if "±" in text:
            mean, std = text.split("±")
            return float(mean), float(std)
        return float(text), None
    except ValueError:
        raise SystemExit(f"error: {where}: {text!r} is not a percentage (mean or mean ± std)") from None


def present(value: object) -> bool:
    return value is not None and value != "-" and not (isinstance(value, float) and math.isnan(value))


def seeds_from_row(row: dict, seeds: list[int], where: str) -> list[dict]:
    """The per-seed values of a one- or two-seed arm of a summary row."""
    n = int(row["seeds"])
    records = [{"model": row["model"], "strategy": row["strategy"], "seed": seed} for seed in seeds[:n]]
    for metric in METRICS:
        if not present(row.get(metric)):
            continue
        mean, std = parse_mean_std(row[metric], f"{where} {metric}")
        if n == 2 and std is None:
            raise SystemExit(f"error: {where} {metric}: two seeds but no '± std' to recover them from")
        values = [mean] if n == 1 else [mean - std / math.sqrt(2), mean + std / math.sqrt(2)]
        for record, value in zip(records, values):
            record[metric] = value
    return records


def read_table(folder: Path) -> tuple[list[dict], dict[Arm, dict], dict[Arm, str]]:
    """A results folder as (per-seed records, rows kept whole, how each arm's seeds were obtained)."""
    table = json.loads((folder / "emodb_loso.json").read_text())
    records_file = folder / "emodb_loso_seeds.csv"
    records = pd.read_csv(records_file).to_dict(orient="records") if records_file.exists() else []
    recorded = {(r["model"], r["strategy"]) for r in records}
    how = {arm: "seed records" for arm in recorded}
    whole: dict[Arm, dict] = {}
    for row in table["rows"]:
        arm, where = (row["model"], row["strategy"]), f"{folder}: {row['model']}/{row['strategy']}"
        if arm in recorded:
            continue
        seeds = int(row["seeds"]) if present(row.get("seeds")) else 0
        if 1 <= seeds <= 2 and "ensemble" not in row["model"] and "seeds" in table:
            records += seeds_from_row(row, table["seeds"], where)
            how[arm] = "table value" if seeds == 1 else "2-seed mean ∓ std/√2 (±0.1)"
        else:
            whole[arm] = row
            how[arm] = "table row, kept whole"
    return records, whole, how


def combine(folders: list[Path]) -> pd.DataFrame:
    """One row per arm: mean ± std over the seeds of every folder."""
    records: list[dict] = []
    whole: dict[Arm, dict] = {}
    sources: dict[Arm, list[str]] = {}
    for folder in folders:
        table_records, table_whole, how = read_table(folder)
        for arm in table_whole:
            if arm in sources:  # every arm of an earlier table, kept whole or not
                raise SystemExit(f"error: {arm[0]}/{arm[1]} has seeds without per-seed records in {folder} and "
                                 "seeds in another table: they cannot be pooled")
        for arm in {(r["model"], r["strategy"]) for r in table_records} & set(whole):
            raise SystemExit(f"error: {arm[0]}/{arm[1]} has seeds without per-seed records in another table and "
                             f"seeds in {folder}: they cannot be pooled")
        records += table_records
        whole.update(table_whole)
        for arm, text in how.items():
            sources.setdefault(arm, []).append(f"{folder.name}: {text}")
    seeds = pd.DataFrame(records, columns=["model", "strategy", "seed", *METRICS])
    repeated = seeds[seeds.duplicated(["model", "strategy", "seed"])]
    if not repeated.empty:
        first = repeated.iloc[0]
        raise SystemExit(f"error: seed {int(first['seed'])} of {first['model']}/{first['strategy']} is in more "
                         "than one table")
    rows = []
    for arm in sources:
        if arm in whole:
            row = {"model": arm[0], "strategy": arm[1], "seeds": whole[arm].get("seeds", "-"),
                   **{m: whole[arm].get(m, "-") for m in METRICS}}
        else:
            group = seeds[(seeds["model"] == arm[0]) & (seeds["strategy"] == arm[1])]
            row = {"model": arm[0], "strategy": arm[1], "seeds": len(group)}
            for metric in METRICS:
                values = group[metric].dropna()
                row[metric] = pct((values / 100).tolist()) if len(values) == len(group) else "-"
        rows.append({**row, "per-seed source": "; ".join(sources[arm])})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="results folders of emodb_loso.py")
    parser.add_argument("--out", type=Path, required=True, help="folder to write emodb_loso.{csv,json,md} to")
    args = parser.parse_args()
    if args.out.resolve() in {f.resolve() for f in args.folders}:
        raise SystemExit("error: --out must not be one of the input folders (it would overwrite an input)")
    table = combine(args.folders)
    write_outputs(args.out, "emodb_loso", table, {"pooled_from": [str(f) for f in args.folders]})
    print(markdown_table(table))


if __name__ == "__main__":
    main()
