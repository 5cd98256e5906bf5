"""Pretrained speech encoders on every corpus we have: Whisper base layers vs the linear probe and ComParE + SVM.

    python benchmarks/encoders.py --seeds 0,1,2 --jobs 2

Per corpus (EMO-DB and TurEV-DB, leave-one-speaker-out) on identical folds:

* the logistic-regression probe (C = 0.1) on the mean + std pooled states of ONE layer, per layer 1..6, and the
  probe whose layer is chosen in each fold on that fold's validation speakers (never its test speaker);
* the learned model: ``recipes/whisper_<corpus>.yaml`` (settings chosen by ``emomtl tune`` on validation speakers),
  multi-task and single-task, with per-speaker standardisation and without any speaker statistics;
* the classical anchor: openSMILE ComParE_2016 functionals + linear SVM (C chosen on validation speakers).

Then cross-corpus both ways over the four shared emotions (protocol ``cross_corpus``), and the time to encode all
EMO-DB files with base up to layer 3 from a cold cache. UA is pooled over the test folds of a seed; rows give
mean ± std over seeds (the closed-form models are deterministic: one seed). Writes ``benchmarks/results/encoders*``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import _common  # noqa: F401  (sets OMP_WAIT_POLICY before torch is imported)
import numpy as np
import pandas as pd
from _common import (DEFAULT_DATA, ROOT, Timer, complete_seeds, markdown_table, pct, require_corpus, run_predictions,
                     write_outputs)

from emomtl.config import load_recipe
from emomtl.evaluation.aggregate import pooled_metrics
from emomtl.training.experiment import run_experiment

CORPORA = {"emodb": "whisper_emodb", "turev-db": "whisper_turev"}
LAYERS = [1, 2, 3, 4, 5, 6]
ALL_LAYERS = "features.whisper={kind: whisper, model: base, layers: all, pooling: mean_std}"
EMOTION_ONLY = "tasks=[{name: emotion, kind: classification, column: emotion}]"
COMPARE = ("features={functionals: {kind: opensmile, feature_set: ComParE_2016, level: functionals}}",
           "inputs={functionals: {standardize: speaker}}")


def finished_seeds(run_dir: Path, arm: str) -> set[int]:
    """Seeds whose every fold of ``arm`` has finished (a reused folder may still be running other seeds)."""
    results = pd.read_csv(run_dir / "results.csv")
    return complete_seeds(results[results["strategy"] == arm], set(results["fold"]))


def pooled(run_dir: Path, arm: str, task: str = "emotion") -> list[float]:
    """Pooled UA over the folds, one value per seed that finished every fold."""
    seeds = finished_seeds(run_dir, arm)
    return [pooled_metrics(p, task, "classification")["ua"] for seed, p in run_predictions(run_dir, arm).items()
            if seed in seeds and f"{task}.true" in p]


def row(corpus: str, model: str, normalisation: str, run_dir: Path, arm: str, seconds: float, **extra) -> dict:
    results = pd.read_csv(run_dir / "results.csv")
    results = results[(results["strategy"] == arm) & results["seed"].isin(finished_seeds(run_dir, arm))]
    scores = pooled(run_dir, arm)
    gender = pooled(run_dir, arm, "gender") if arm != "single:emotion" else []
    return {"corpus": corpus, "model": model, "normalisation": normalisation, "UA %": pct(scores),
            "gender UA %": pct(gender) if gender else "-", "val UA %": pct([results["val.emotion.ua"].mean()])
            if "val.emotion.ua" in results else "-", "seeds": len(scores),
            "wall time (s)": f"{seconds:.0f}" if np.isfinite(seconds) else "(reused)",
            "_ua": float(np.mean(scores)) if scores else float("nan"), **extra}


def probe_rows(corpus: str, base: list[str], runs: Path, jobs: int, normalisation: str) -> tuple[list[dict], dict]:
    """One probe per layer (all layers extracted once), and the probe with its layer chosen per fold on validation."""
    standardize = "speaker" if normalisation == "per speaker" else "true"
    overrides = [*base, ALL_LAYERS, f"inputs.whisper.standardize={standardize}", EMOTION_ONLY]
    rows, per_layer = [], {}
    for layer in LAYERS:
        recipe = load_recipe(CORPORA[corpus],
                             [*overrides, f"model={{name: linear_probe, inputs: [whisper], layer: {layer}}}"])
        run_dir = runs / corpus / f"probe_{standardize}_layer{layer}"
        with Timer() as timer:
            run_experiment(recipe, run_dir, seeds=[0], jobs=jobs)
        arm = recipe["weighting"]["name"]
        per_layer[layer] = (run_dir, arm)
        rows.append(row(corpus, f"probe, Whisper base layer {layer}", normalisation, run_dir, arm, timer.seconds))
    # the layer of each fold: highest validation UA of that fold (ties: the lower layer)
    chosen_predictions, choices = [], []
    results = {layer: pd.read_csv(d / "results.csv").set_index("fold") for layer, (d, _) in per_layer.items()}
    for fold in results[LAYERS[0]].index:
        best = max(LAYERS, key=lambda layer: (results[layer].loc[fold, "val.emotion.ua"], -layer))
        choices.append(best)
        run_dir, arm = per_layer[best]
        chosen_predictions.append(pd.read_csv(next((run_dir / "runs" / arm).glob(f"{fold}_seed0")) / "predictions.csv"))
    ua = pooled_metrics(pd.concat(chosen_predictions, ignore_index=True), "emotion", "classification")["ua"]
    summary = {"corpus": corpus, "model": "probe, layer chosen per fold on validation speakers",
               "normalisation": normalisation, "UA %": f"{100 * ua:.1f}", "gender UA %": "-", "val UA %": "-",
               "seeds": 1, "wall time (s)": "-", "_ua": ua,
               "layers chosen": " ".join(map(str, choices))}
    return rows, summary


def learned_rows(corpus: str, base: list[str], runs: Path, seeds: list[int], jobs: int,
                 reuse: Path | None = None) -> list[dict]:
    """The recipe's model, multi- and single-task with per-speaker statistics, multi-task without any.

    ``reuse``: a finished ``emodb_loso.py --configs whisper`` folder whose ``ew`` (weights 1, the recipe's static
    weights) and ``single:emotion`` arms are this corpus's per-speaker rows (same recipe, folds and seeds)."""
    rows = []
    for normalisation, standardize in (("per speaker", "speaker"), ("none (global)", "true")):
        extra = [f"inputs.whisper.standardize={standardize}"]
        if "whisper_global" in load_recipe(CORPORA[corpus], base)["features"]:
            extra.append("inputs.whisper_global.standardize=true")
        recipe = load_recipe(CORPORA[corpus], [*base, *extra])
        own = recipe["weighting"]["name"]
        arms = [(own, f"learned, multi-task ({own}, weights 1)")]
        single = ["emotion"] if standardize == "speaker" else []
        if single:
            arms.append(("single:emotion", "learned, single-task"))
        if reuse is not None and standardize == "speaker":
            run_dir, seconds = reuse, float("nan")
            arms = [("ew", arms[0][1]), *arms[1:]]
        else:
            run_dir = runs / corpus / f"mlp_{standardize}"
            with Timer() as timer:
                run_experiment(recipe, run_dir, weightings=[own], single_task=single, seeds=seeds, jobs=jobs)
            seconds = timer.seconds
        for arm, label in arms:
            rows.append(row(corpus, f"{label}, Whisper base", normalisation, run_dir, arm, seconds))
    return rows


def anchor_row(corpus: str, base: list[str], runs: Path, jobs: int) -> dict:
    recipe = load_recipe(CORPORA[corpus], [*base, *COMPARE, EMOTION_ONLY, "model={name: linear_svm}"])
    run_dir = runs / corpus / "compare_svm"
    with Timer() as timer:
        run_experiment(recipe, run_dir, seeds=[0], jobs=jobs)
    return row(corpus, "ComParE + linear SVM (classical anchor)", "per speaker", run_dir,
               recipe["weighting"]["name"], timer.seconds)


def cross_corpus_rows(data: Path, runs: Path, seeds: list[int], jobs: int) -> list[dict]:
    rows = []
    corpora = (f"data.corpora=[{{corpus: emodb, root: {data / 'emodb'}}}, "
               f"{{corpus: turev-db, root: {data / 'turev-db'}}}]")
    for source, target in (("emodb", "turev-db"), ("turev-db", "emodb")):
        base = [corpora, "data.label_map=shared4", EMOTION_ONLY, "model.task_inputs={}",
                f"protocol={{name: cross_corpus, test_corpora: [{target}], validation_speakers: 2}}"]
        recipe = load_recipe("whisper_emodb", base)
        run_dir = runs / "cross" / f"{source}_to_{target}"
        with Timer() as timer:
            run_experiment(recipe, run_dir, seeds=seeds, jobs=jobs)
        rows.append(row(f"{source} -> {target}", "learned, Whisper base (4 shared emotions)", "per speaker",
                        run_dir, recipe["weighting"]["name"], timer.seconds))
        probe = load_recipe("whisper_emodb", [*base, "features.whisper.layers=[3]",
                                              "model={name: linear_probe, inputs: [whisper]}"])
        probe_dir = runs / "cross" / f"{source}_to_{target}_probe"
        with Timer() as timer:
            run_experiment(probe, probe_dir, seeds=[0], jobs=jobs)
        rows.append(row(f"{source} -> {target}", "probe, Whisper base layer 3 (4 shared emotions)", "per speaker",
                        probe_dir, probe["weighting"]["name"], timer.seconds))
    return rows


def encoding_seconds(root: Path) -> float:
    """Cold-cache extraction of every EMO-DB file with base up to layer 3 (2 threads)."""
    from emomtl.training.prepare import prepare_corpus

    with tempfile.TemporaryDirectory() as cache:
        recipe = load_recipe("whisper_emodb", [f"data.root={root}", f"data.cache_dir={cache}",
                                               "features={whisper: {kind: whisper, model: base, layers: [1, 2, 3]}}",
                                               "inputs={whisper: {standardize: speaker}}", "model.task_inputs={}"])
        with Timer() as timer:
            prepared = prepare_corpus(recipe, progress=False)
        print(f"encoded {len(prepared.table)} files in {timer.seconds:.1f} s", flush=True)
        return timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--corpora", default="emodb,turev-db")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: probe,learned,anchor,cross,timing")
    parser.add_argument("--reuse-emodb", type=Path, help="finished emodb_loso.py --configs whisper run folder whose "
                                                          "ew and single:emotion arms are EMO-DB's per-speaker rows")
    parser.add_argument("--name", default="encoders", help="output table name (default: encoders)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "benchmarks" / "encoders")
    args = parser.parse_args()
    corpora = [c for c in args.corpora.split(",") if c]
    roots = {c: require_corpus(args.data, c) for c in corpora}
    seeds = [int(s) for s in args.seeds.split(",")]
    skip = set(args.skip.split(","))
    rows, layer_rows, extra = [], [], {}
    if "timing" not in skip and "emodb" in roots:
        extra["encode_emodb_base_layers_1_3_s"] = round(encoding_seconds(roots["emodb"]), 1)
    for corpus in corpora:
        base = [f"data.root={roots[corpus]}"]
        if "probe" not in skip:
            for normalisation in ("per speaker", "none (global)"):
                per_layer, chosen = probe_rows(corpus, base, args.runs, args.jobs, normalisation)
                layer_rows += per_layer
                rows.append(chosen)
        if "learned" not in skip:
            rows += learned_rows(corpus, base, args.runs, seeds, args.jobs,
                                 args.reuse_emodb if corpus == "emodb" else None)
        if "anchor" not in skip:
            rows.append(anchor_row(corpus, base, args.runs, args.jobs))
    if "cross" not in skip and {"emodb", "turev-db"} <= set(roots):
        rows += cross_corpus_rows(args.data, args.runs, seeds, args.jobs)
    for name, table in ((args.name, pd.DataFrame(rows)), (f"{args.name}_layers", pd.DataFrame(layer_rows))):
        if table.empty:
            continue
        table = table.drop(columns=[c for c in table.columns if c.startswith("_")]).fillna("-")
        write_outputs(args.out, name, table, {"seeds": seeds, **extra})
        print(markdown_table(table), "\n", flush=True)
    print(extra)


if __name__ == "__main__":
    main()
