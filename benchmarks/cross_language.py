"""Cross-language pooling (the CNN-BLSTM paper's experiment with the corpora we have).

EMO-DB (German) pooled with TurEV-DB (Turkish) after mapping both to their shared emotions (anger,
happiness, sadness, neutral/calm); leave-one-speaker-out over the 10 EMO-DB speakers (TurEV-DB speakers
are always in training). Four arms in one table, like the paper's Table 2:

    single corpus, single task | single corpus, multi-task (+ speaker aux.)
    pooled, single task         | pooled, multi-task (+ language, + speaker aux.)

    python benchmarks/cross_language.py --model mlp --seeds 0,1,2

UA is on the four shared classes of the EMO-DB test speakers, pooled over folds, mean ± std over seeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common  # noqa: F401
import pandas as pd
from _common import DEFAULT_DATA, ROOT, Timer, markdown_table, require_corpus, summarise, write_outputs

from emomtl.config import load_recipe
from emomtl.training.experiment import run_experiment

EMODB_SPEAKERS = ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
#: Lighter front ends than the paper's CNN-BLSTM for the CPU budget (``--model blstm`` keeps the recipe's).
MODEL_OVERRIDES = {
    "mlp": [
        "features={functionals: {kind: opensmile, feature_set: ComParE_2016, level: functionals}}",
        "inputs={functionals: {standardize: speaker}}",
        "model={name: functional_mlp, hidden: [256, 128], dropout: 0.5, input_batchnorm: false}",
        "optim={name: adamw, lr: 0.001, weight_decay: 0.01}", "train.epochs=40", "train.batch_size=32",
    ],
    "blstm": ["inputs.logmel.standardize=speaker", "train.epochs=30", "optim.lr=0.0005"],
}


def whisper_overrides() -> list[str]:
    """The best model's settings, read from ``recipes/whisper_emodb.yaml`` (one source for both benchmarks);
    gender is not a task here, so its own input goes."""
    import yaml

    recipe = load_recipe("whisper_emodb")
    model = {k: v for k, v in recipe["model"].items() if k != "task_inputs"}
    flow = lambda value: yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()  # noqa: E731
    return [f"features={{whisper: {flow(recipe['features']['whisper'])}}}",
            f"inputs={{whisper: {flow(recipe['inputs']['whisper'])}}}", f"model={flow(model)}",
            f"optim={flow(recipe['optim'])}", f"train.epochs={recipe['train']['epochs']}",
            f"train.batch_size={recipe['train']['batch_size']}"]


MODEL_OVERRIDES["whisper"] = []  # filled from the recipe in main (whisper_overrides)


def arms(data: Path) -> dict[str, list[str]]:
    emodb, turev = data / "emodb", data / "turev-db"
    single_corpus = [f"data.corpora=[{{corpus: emodb, root: {emodb}}}]"]
    pooled = [f"data.corpora=[{{corpus: emodb, root: {emodb}}}, {{corpus: turev-db, root: {turev}}}]"]
    test = "protocol.test_speakers=[" + ", ".join(f"'emodb:{s}'" for s in EMODB_SPEAKERS) + "]"
    emotion = "{name: emotion, kind: classification, column: emotion}"
    speaker = "{name: speaker, kind: classification, column: speaker, auxiliary: true}"
    language = "{name: language, kind: classification, column: language}"
    return {
        "EMO-DB only, single task": single_corpus + [test, f"tasks=[{emotion}]"],
        "EMO-DB only, multi-task (+speaker)": single_corpus + [test, f"tasks=[{emotion}, {speaker}]"],
        "pooled, single task": pooled + [test, f"tasks=[{emotion}]"],
        "pooled, multi-task (+language, +speaker)": pooled + [test, f"tasks=[{emotion}, {language}, {speaker}]"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", choices=sorted(MODEL_OVERRIDES), default="mlp")
    parser.add_argument("--weighting", default="druw", help="strategy of the multi-task arms")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "benchmarks")
    args = parser.parse_args()
    for corpus in ("emodb", "turev-db"):
        require_corpus(args.data, corpus)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for label, overrides in arms(args.data).items():
        multi = "multi-task" in label
        model_overrides = whisper_overrides() if args.model == "whisper" else MODEL_OVERRIDES[args.model]
        recipe = load_recipe("cross_language", model_overrides + overrides
                             + [f"weighting={{name: {args.weighting if multi else 'static'}}}"])
        run_dir = args.runs / f"cross_language_{args.model}" / label.split(",")[0].replace(" ", "_") / (
            "multi" if multi else "single")
        with Timer() as timer:
            run_experiment(recipe, run_dir, seeds=seeds, jobs=args.jobs)
        for row in summarise(run_dir, args.model, extra_tasks=("language",)):
            row["strategy"] = f"{label} [{row['strategy']}]"
            row["wall time (s)"] = f"{timer.seconds:.0f}"
            rows.append(row)
    table = pd.DataFrame(rows)
    table = table.drop(columns=[c for c in table.columns if c.startswith("_")])
    write_outputs(args.out, f"cross_language_{args.model}", table, {"seeds": seeds})
    print(markdown_table(table))


if __name__ == "__main__":
    main()
