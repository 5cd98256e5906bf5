"""Each paper model at its paper's full training budget on EMO-DB LOSO, one seed: the GPU benchmark.

    python benchmarks/paper_budgets.py                         # every model, full budgets (needs a GPU; see below)
    python benchmarks/paper_budgets.py --models blstm --precision 16-mixed
    python benchmarks/paper_budgets.py --estimate-only         # the expected GPU time of each model, no training
    python benchmarks/paper_budgets.py --smoke --corpus demo   # CPU check: 2 folds, 1 epoch, tiny widths
    python benchmarks/paper_budgets.py --models cnn --strategies ew,static,softmax,uw,ruw,rruw,dwa,druw \
        --single-task emotion --seeds 0,1,2                   # issue 16's strategy comparison on the CNN

Models (the EMO-DB benchmark recipes of benchmarks/recipes/ brought back to the papers' sizes and budgets):

* ``blstm``: CNN-BLSTM with attention (recipes/cnn_blstm.yaml): Conv1d 512/1024/2048, bottleneck 512, dropout
  0.35, RMSprop 1e-4, batch 64, 300 epochs (no early stopping), emotion + gender + speaker (auxiliary), DRUW;
* ``cnn``: the DRUW paper's multi-exit CNN (recipes/druw.yaml): 5 blocks x 2 convolutions of 32..512 channels,
  dropout 0.2, AdamW 1e-3 (weight decay 0.01), batch 32, 60 epochs, DRUW (phi 1, T 10);
* ``wave``: the dynamic-weights paper's raw-waveform model, audio only (UM-A; recipes/dynamic_joint_loss.yaml):
  6 s of 16 kHz waveform, 2-layer LSTM of 256, dropout 0.5, Adam 1e-4, batch 16, 50 epochs (early stopping 10),
  learnable softmax weights; ``step_norm: layer`` is kept from the CPU benchmark (not in the paper; without it
  the LSTM ignores its input: results/wave_front_end.md).

By default each model runs its recipe's strategy (DRUW; softmax for ``wave``) with seed 0; ``--strategies``,
``--single-task`` and ``--seeds`` make it a strategy comparison on identical folds (``python benchmarks/claims.py
--comparison <out>/runs/paper_budget_cnn --name claims_cnn`` then reads the papers' claims from it), and the GPU
estimate is multiplied by the arms and seeds.

Training runs on CUDA with ``train.precision`` (``--precision``, default ``bf16-mixed``) and data-parallel over
every visible GPU (``train.devices``; Lightning Fabric DDP) when there are several. Writes
``<out>/paper_budgets.{csv,json,md}`` (the columns of emodb_loso.py), ``paper_budgets_gpu_estimate.*`` and
``paper_budgets_<model>_curves.png`` (validation UA, task weights and per-task gradient norms on the shared layers,
mean over folds: benchmarks/learning_curves.py; ``train.log_grad_norms`` is on, one extra backward per task every
``train.log_every`` steps).

GPU time estimate (``--estimate-only``, also written with every run): forward FLOPs per training clip from
``emomtl.models.summary`` (2 x MACs per second of audio x clip seconds), times 3 for forward + backward, times
the clips of one fold's training part per epoch, plus one forward per validation clip, over every fold and epoch,
divided by an assumed sustained throughput (``--assumed-tflops``, default 100 TFLOP/s: about 10 % of an H200's
~989 TFLOP/s dense bf16 peak; small batches and recurrent layers rarely reach more, so the LSTM rows are the
least reliable). Early stopping can only shorten a run. Not counted: per-step overheads (batches are assembled
on the CPU, a few ms each, times the ``optimiser steps`` column), one validation pass and checkpoint per epoch; at
these model sizes they can take longer than the arithmetic, so read the estimate as a lower bound.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (sets OMP_WAIT_POLICY before torch is imported)
import pandas as pd
import torch
from _common import DEFAULT_DATA, ROOT, Timer, markdown_table, require_corpus, summarise, write_outputs
from learning_curves import plot_learning_curves

from emomtl.config import as_recipe, load_recipe
from emomtl.models import build_model
from emomtl.models.summary import example_inputs, summarize
from emomtl.models.tasks import TaskSpec
from emomtl.training.experiment import run_experiment

RECIPES = ROOT / "benchmarks" / "recipes"
#: Benchmark recipe and the overrides that restore each paper's model size and budget.
MODELS: dict[str, tuple[str, Path, list[str]]] = {
    "blstm": ("CNN-BLSTM-attention (paper size, 300 epochs)", RECIPES / "emodb_cnn_blstm_att.yaml", [
        "model.conv_channels=[512,1024,2048]", "model.bottleneck=512", "model.dropout=0.35",
        "optim.name=rmsprop", "optim.lr=0.0001", "scheduler.name=none",
        "train.epochs=300", "train.batch_size=64", "train.early_stopping=null", "train.augment={}"]),
    "cnn": ("multi-exit CNN (DRUW paper budget, our widths, 60 epochs)", RECIPES / "emodb_multi_exit_cnn.yaml", [
        "model.channels=[32,64,128,256,512]", "model.convs_per_block=2", "model.dropout=0.2",
        "optim.name=adamw", "optim.lr=0.001", "optim.weight_decay=0.01", "scheduler.name=none",
        "train.epochs=60", "train.batch_size=32", "train.augment={}"]),
    "wave": ("raw-waveform LSTM, UM-A (paper size, 50 epochs)", RECIPES / "emodb_wave_lstm.yaml", [
        "inputs.waveform.length=96000", "model.lstm_hidden=256", "model.lstm_layers=2", "model.dropout=0.5",
        "optim.name=adam", "optim.lr=0.0001", "train.epochs=50", "train.batch_size=16", "train.early_stopping=10"]),
}
#: ``--smoke``: tiny widths and clips so one CPU epoch takes seconds (the code path, not the numbers).
SMOKE: dict[str, list[str]] = {
    "blstm": ["model.conv_channels=[8,8,8]", "model.bottleneck=8", "model.lstm_hidden=4", "model.attention_heads=2",
              "train.batch_size=8"],
    "cnn": ["model.channels=[4,8]", "model.convs_per_block=1", "train.batch_size=8"],
    "wave": ["inputs.waveform.length=8000", "model.lstm_hidden=8", "model.lstm_layers=1", "train.batch_size=8"],
}
#: EMO-DB: 535 utterances of 10 speakers; LOSO folds test one speaker and validate on two of the other nine.
EMODB_UTTERANCES, EMODB_SPEAKERS, VALIDATION_SPEAKERS = 535, 10, 2
H200_BF16_DENSE_PEAK_TFLOPS = 989.0
COLUMN_ORDER = ["model", "strategy", "UA %", "WA %", "macro-F1 %", "gender acc %", "final weights", "val UA %",
                "train time (s)"]


def demo_overrides(out: Path) -> list[str]:
    """The embedded demo corpus (generated under ``out``): five speakers, a few short utterances each."""
    return ["data.corpus=demo", f"data.root={out / 'demo_corpus'}", f"data.cache_dir={out / 'cache'}",
            "data.options={speakers: 5, utterances_per_emotion: 2, video: false, seconds: [0.6, 0.9]}",
            "protocol.validation_speakers=1"]


def model_recipe(name: str, corpus: str, data: Path, out: Path, precision: str, smoke: bool,
                 extra: list[str] | None = None) -> dict[str, Any]:
    """The recipe of paper model ``name``: full budget, or the ``--smoke`` one (2 folds, 1 epoch, tiny widths)."""
    _, path, paper = MODELS[name]
    corpus_keys = demo_overrides(out) if corpus == "demo" else [f"data.root={data / 'emodb'}"]
    devices = max(1, torch.cuda.device_count())
    smoke_keys = [*SMOKE[name], "train.epochs=1", "train.max_folds=2", "train.log_every=1"] if smoke else []
    return load_recipe(path, [*paper, *corpus_keys, "train.seeds=[0]", f"train.precision={precision}",
                              f"train.devices={devices}", "train.log_grad_norms=true", *smoke_keys, *(extra or [])])


def clip_seconds(recipe: dict[str, Any]) -> float:
    """Seconds of audio in one training clip (the cropped model input)."""
    settings = as_recipe(recipe)
    name, spec = next(iter(settings.inputs.items()))
    feature = settings.features[name]
    if feature["kind"] == "waveform":
        return spec["length"] / settings.data.sample_rate
    return spec["length"] * feature["hop_length"] / settings.data.sample_rate


def input_shapes(recipe: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    settings = as_recipe(recipe)
    name, spec = next(iter(settings.inputs.items()))
    feature = settings.features[name]
    return {name: (spec["length"],) if feature["kind"] == "waveform" else (feature["n_mels"], spec["length"])}


def emodb_tasks(recipe: dict[str, Any]) -> list[TaskSpec]:
    """The recipe's tasks with EMO-DB's label sets (7 emotions, 2 genders, 10 speakers)."""
    classes = {"emotion": ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"],
               "gender": ["female", "male"], "speaker": [f"s{i}" for i in range(EMODB_SPEAKERS)]}
    return [TaskSpec(t["name"], classes=classes[t["name"]], loss=t.get("loss", "ce"), exit_block=t.get("exit_block"),
                     auxiliary=t.get("auxiliary", False)) for t in recipe["tasks"]]


def gpu_estimate(name: str, recipe: dict[str, Any], assumed_tflops: float, runs: int = 1) -> dict[str, Any]:
    """Expected GPU hours of model ``name``'s full budget from measured forward FLOPs (see the module docstring),
    for ``runs`` arm x seed combinations of 10 folds each."""
    seconds = clip_seconds(recipe)
    model = build_model(recipe["model"], emodb_tasks(recipe), input_shapes(recipe))
    summary = summarize(model, example_inputs(input_shapes(recipe), 1), seconds)
    forward_flops = 2 * summary.macs_per_second * seconds  # per clip
    per_speaker = EMODB_UTTERANCES / EMODB_SPEAKERS
    train_clips = per_speaker * (EMODB_SPEAKERS - 1 - VALIDATION_SPEAKERS)
    validation_clips = per_speaker * VALIDATION_SPEAKERS
    epochs = as_recipe(recipe).train.epochs
    total = runs * EMODB_SPEAKERS * epochs * (3 * train_clips + validation_clips) * forward_flops
    hours = total / (assumed_tflops * 1e12) / 3600
    return {"model": MODELS[name][0], "parameters": f"{summary.parameters / 1e6:.2f} M",
            "clip (s)": f"{seconds:g}", "GMAC / s audio": f"{summary.macs_per_second / 1e9:.3g}",
            "forward GFLOP / clip": f"{forward_flops / 1e9:.3g}",
            "epochs x folds x runs": f"{epochs} x {EMODB_SPEAKERS} x {runs}",
            "optimiser steps": runs * EMODB_SPEAKERS * epochs
                               * math.ceil(train_clips / as_recipe(recipe).train.batch_size),
            "total PFLOP": f"{total / 1e15:.3g}", "assumed TFLOP/s": f"{assumed_tflops:g}",
            "expected GPU time": f"{hours * 60:.1f} min" if hours < 1 else f"{hours:.2f} h"}


def estimate_note(assumed_tflops: float) -> str:
    return (f"Assumed sustained throughput {assumed_tflops:g} TFLOP/s (an H200's dense bf16 peak is about "
            f"{H200_BF16_DENSE_PEAK_TFLOPS:g}); EMO-DB LOSO: {EMODB_SPEAKERS} folds, {EMODB_UTTERANCES} utterances, "
            f"{VALIDATION_SPEAKERS} validation speakers per fold, one seed; training = 3 x forward FLOPs. Per-step "
            "overheads (CPU batch assembly, validation, checkpoints) are not counted: a lower bound.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {list(MODELS)}")
    parser.add_argument("--corpus", choices=["emodb", "demo"], default="emodb",
                        help="emodb (real corpus under --data) or the embedded demo corpus (tests, smoke runs)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding emodb/")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                        help="where the tables go (run folders under <out>/runs/)")
    parser.add_argument("--precision", default="bf16-mixed", help="train.precision (32-true, bf16-mixed, 16-mixed)")
    parser.add_argument("--smoke", action="store_true", help="2 folds, 1 epoch, tiny widths: the CPU check")
    parser.add_argument("--estimate-only", action="store_true", help="only the GPU time estimates, no training")
    parser.add_argument("--no-estimate", action="store_true", help="skip the GPU time estimates")
    parser.add_argument("--assumed-tflops", type=float, default=100.0,
                        help="assumed sustained throughput of the GPU in TFLOP/s (default 100 for an H200)")
    parser.add_argument("--set", nargs="*", default=[], help="extra recipe overrides key=value for every model")
    parser.add_argument("--strategies", default="", help="comma-separated weightings (default: each recipe's own)")
    parser.add_argument("--single-task", default="", help="comma-separated tasks given a single-task baseline")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    singles = [t for t in args.single_task.split(",") if t]

    def strategies(settings) -> list[str]:
        return [s for s in args.strategies.split(",") if s] or list(settings.compare.weightings)

    def arms(recipe: dict[str, Any]) -> int:
        return (len(strategies(as_recipe(recipe))) + len(singles)) * len(seeds)

    names = [n for n in args.models.split(",") if n]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"--models: unknown {unknown}; valid: {list(MODELS)}")
    if args.corpus == "emodb" and not args.estimate_only:
        require_corpus(args.data, "emodb")
    if not torch.cuda.is_available() and not args.smoke and not args.estimate_only:
        parser.error("the full budgets need a CUDA device (hours per model); on CPU pass --smoke or --estimate-only")
    suffix = "_smoke" if args.smoke else ""
    if not args.no_estimate:
        full = {n: model_recipe(n, args.corpus, args.data, args.out, args.precision, False, args.set) for n in names}
        estimates = pd.DataFrame([gpu_estimate(n, full[n], args.assumed_tflops, arms(full[n])) for n in names])
        write_outputs(args.out, "paper_budgets_gpu_estimate", estimates, {"note": estimate_note(args.assumed_tflops)})
        print(markdown_table(estimates) + "\n\n" + estimate_note(args.assumed_tflops) + "\n")
    if args.estimate_only:
        return
    rows = []
    for name in names:
        recipe = model_recipe(name, args.corpus, args.data, args.out, args.precision, args.smoke, args.set)
        run_dir = args.out / "runs" / f"paper_budget_{name}{suffix}"
        settings = as_recipe(recipe)
        with Timer() as timer:
            run_experiment(recipe, run_dir, weightings=strategies(settings), single_task=singles or False,
                           seeds=seeds, devices=settings.train.devices)
        print(f"{run_dir.name}: {timer.seconds:.0f} s wall time ({settings.train.devices} device(s), "
              f"{'cuda' if torch.cuda.is_available() else 'cpu'}, {settings.train.precision})", flush=True)
        rows.extend(summarise(run_dir, MODELS[name][0] + (" [smoke]" if args.smoke else "")))
        print(plot_learning_curves(run_dir, args.out / f"paper_budgets_{name}{suffix}_curves.png"), flush=True)
    table = pd.DataFrame(rows)
    table = table[[c for c in COLUMN_ORDER if c in table.columns]]
    write_outputs(args.out, f"paper_budgets{suffix}", table,
                  {"precision": args.precision, "smoke": args.smoke, "corpus": args.corpus,
                   "device": "cuda" if torch.cuda.is_available() else "cpu",
                   "devices": max(1, torch.cuda.device_count())})
    print(markdown_table(table))


if __name__ == "__main__":
    main()
