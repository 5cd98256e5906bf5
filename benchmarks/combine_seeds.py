"""Pool the seeds of two ``emodb_loso.py`` tables written from different run folders into one table.

    python benchmarks/combine_seeds.py benchmarks/results/cnn_arms_45_epochs \\
        benchmarks/results/cnn_arms_45_epochs_seed_completion --out benchmarks/results/cnn_arms_45_epochs_3_seeds

Each table's per-seed scores come from its ``emodb_loso_seeds.csv``. A table written before that file existed has
only mean ± std per arm: an arm of one seed gives that seed's value, an arm of two seeds gives its two values back
exactly as mean ∓ std/√2 (sample std), up to the table's rounding to 0.1 point (the ``per-seed source`` column says
which rows were recovered so); an arm of three or more seeds without records cannot be pooled and is an error when
another table adds seeds to it. An arm of n seeds in such a table holds seeds 0 to n-1 (tables written seed by seed,
in order); a seed present in two tables is an error, never counted twice.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import _common  # noqa: F401  (sets OMP_WAIT_POLICY)
import numpy as np
import pandas as pd
from _common import F1, UA, WA, markdown_table, write_outputs

METRICS = (UA, WA, F1, "gender acc %")


def parse_mean_std(cell: object) -> tuple[float, float | None]:
    """``"65.8 ± 5.9"`` → (65.8, 5.9); ``"68.9"`` → (68.9, None)."""
    text = str(cell)
    if "±" in text:
        mean, std = text.split("±")
        return float(mean), float(std)
    return float(text), None


def seeds_from_summary(row: dict) -> tuple[list[dict], str]:
    """Per-seed values of an arm from its summary row (one or two seeds only), and how they were obtained."""
    n = int(row["seeds"])
    records = [{"model": row["model"], "strategy": row["strategy"], "seed": seed} for seed in range(n)]
    for metric in METRICS:
        if metric not in row or row[metric] in ("-", None) or (isinstance(row[metric], float) and
                                                                 math.isnan(row[metric])):
            continue
        mean, std = parse_mean_std(row[metric])
        values = [mean] if n == 1 else [mean - std / math.sqrt(2), mean + std / math.sqrt(2)]
        for record, value in zip(records, values):
            record[metric] = value
    how = "table value" if n == 1 else "2-seed mean ∓ std/√2 (±0.1)"
    return records, how


def table_seeds(folder: Path) -> tuple[pd.DataFrame, dict[tuple[str, str], str]]:
    """Per-seed records of one results folder (an arm kept whole has seed NaN), and how each arm's were obtained."""
    records_file = folder / "emodb_loso_seeds.csv"
    if records_file.exists():
        records = pd.read_csv(records_file)
        return records, {key: "seed records" for key in records.groupby(["model", "strategy"]).groups}
    frames, how = [], {}
    for row in json.loads((folder / "emodb_loso.json").read_text())["rows"]:
        if "seeds" not in row:
            raise SystemExit(f"error: {folder}: a table without a seeds column cannot be pooled")
        key = (row["model"], row["strategy"])
        if int(row["seeds"]) <= 2:
            records, how[key] = seeds_from_summary(row)
            frames.append(pd.DataFrame(records))
        else:
            frames.append(pd.DataFrame([{**{k: row.get(k, "-") for k in ("model", "strategy", "seeds", *METRICS)},
                                         "seed": np.nan}]))
            how[key] = f"table row ({row['seeds']} seeds)"
    return pd.concat(frames, ignore_index=True), how


def combine(folders: list[Path]) -> pd.DataFrame:
    """One row per arm: mean ± std over the seeds of every folder."""
    frames, sources = [], {}
    for folder in folders:
        records, how = table_seeds(folder)
        frames.append(records.assign(_folder=folder.name))
        for key, text in how.items():
            sources.setdefault(key, []).append(f"{folder.name}: {text}")
    seeds = pd.concat(frames, ignore_index=True)
    numbered = seeds[seeds["seed"].notna()]
    duplicated = numbered[numbered.duplicated(["model", "strategy", "seed"], keep=False)]
    if not duplicated.empty:
        first = duplicated.iloc[0]
        raise SystemExit(f"error: seed {int(first['seed'])} of {first['model']}/{first['strategy']} is in more "
                         "than one table")
    rows = []
    for (model, strategy), group in seeds.groupby(["model", "strategy"], sort=False):
        if group["seed"].isna().any():  # an arm kept whole (3+ seeds, no records)
            if group["_folder"].nunique() > 1:
                raise SystemExit(f"error: {model}/{strategy} has 3 or more seeds without per-seed records in one "
                                 "table and more seeds in another: they cannot be pooled")
            rows.append({"model": model, "strategy": strategy, "seeds": int(group.iloc[0]["seeds"]),
                         **group.iloc[0][list(METRICS)].to_dict(),
                         "per-seed source": "; ".join(sources[(model, strategy)])})
            continue
        row = {"model": model, "strategy": strategy, "seeds": len(group)}
        for metric in METRICS:
            values = group[metric].dropna().tolist() if metric in group else []
            row[metric] = spread(values)
        row["per-seed source"] = "; ".join(sources[(model, strategy)])
        rows.append(row)
    return pd.DataFrame(rows)


def spread(values: list[float]) -> str:
    """Mean ± sample std to 0.1 point; one value alone has no spread."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}"


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
