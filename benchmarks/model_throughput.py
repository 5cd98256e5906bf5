"""Throughput of every architecture at its paper size on this CPU, and the FFT speed-up of the 500 ms layer.

Prints Markdown: per architecture, parameters, multiply-accumulates per second of audio, training samples/s
(forward + backward + Adam step) and the inference real-time factor (compute seconds per second of audio; below 1
is faster than real time). A few iterations each; the whole run takes about two to three minutes on 2 cores.

    python benchmarks/model_throughput.py [--iterations 3] [--with-encoders]
    python benchmarks/model_throughput.py --precision-modes [--iterations 3] [--out benchmarks/results] [--note TEXT]

``--precision-modes`` times only the three paper models' training steps instead, in float32, bfloat16 autocast
(``train.precision: bf16-mixed``), channels-last weights (``train.channels_last``), both, both with
``torch.compile`` (its first step, the compilation, is reported on its own) and both at four times the batch, and
writes ``model_throughput_precision.{csv,json,md}`` under ``--out`` (``--note`` is printed under the table,
e.g. the load the machine was under). ``--no-compile`` leaves the compiled mode out.

``bridge_fusion`` runs on precomputed HuBERT-large / DeBERTa-v3-large states (the CPU route through the feature
cache); ``--with-encoders`` also times it with randomly initialised encoders of the large sizes built locally
(nothing is downloaded; needs ~4 GB of memory and several minutes).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from emomtl.models import build_model  # noqa: E402
from emomtl.models.fft_conv import fft_conv1d, same_padding  # noqa: E402
from emomtl.models.summary import example_inputs, summarize  # noqa: E402
from emomtl.models.tasks import TaskSpec, task_loss  # noqa: E402
from emomtl.training.precision import autocast, float32_outputs, to_channels_last  # noqa: E402


@dataclass
class Case:
    """One architecture at paper size: its ``model:`` section, inputs, clip length and batch sizes."""

    label: str
    config: dict[str, Any]
    input_shapes: dict[str, tuple[int, ...]]
    seconds: float
    train_batch: int
    infer_batch: int
    tasks: str = "emotion+gender"


def paper_cases(with_encoders: bool) -> list[Case]:
    cases = [
        Case("wave_av_lstm (MM: audio+video, ResNet-50)", {"name": "wave_av_lstm"},
             {"waveform": (96000,), "video": (150, 3, 96, 96)}, 6.0, 1, 1),
        Case("wave_av_lstm (UM-A: audio)", {"name": "wave_av_lstm", "modalities": "audio"},
             {"waveform": (96000,)}, 6.0, 4, 4),
        Case("multi_exit_cnn (exits 1/3/5)", {"name": "multi_exit_cnn"}, {"logmel": (64, 250)}, 2.5, 16, 16,
             tasks="exvo"),
        Case("bridge_fusion (cached HuBERT-L / DeBERTa-L states)", {"name": "bridge_fusion"},
             {"speech_states": (299, 1024), "text_states": (40, 1024)}, 6.0, 8, 8, tasks="iemocap"),
        Case("cnn_blstm_att", {"name": "cnn_blstm_att"}, {"logmel": (128, 256)}, 256 * 400 / 16000, 8, 8,
             tasks="emotion+speaker"),
        Case("functional_mlp (eGeMAPS 88, 6 s utterances)", {"name": "functional_mlp"}, {"functionals": (88,)},
             6.0, 64, 64),
    ]
    if with_encoders:
        cases.append(Case("bridge_fusion (with HuBERT-L + DeBERTa-v3-L, random init)",
                          {"name": "bridge_fusion", "speech_encoder": "", "text_encoder": ""},
                          {"waveform": (96000,), "text_ids": (40,), "text_attention_mask": (40,)}, 6.0, 1, 1,
                          tasks="iemocap"))
    return cases


def make_tasks(kind: str) -> list[TaskSpec]:
    emotions = ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise", "calm"]
    if kind == "exvo":
        return [TaskSpec("age", kind="regression", exit_block=1),
                TaskSpec("country", classes=["china", "south_africa", "usa", "venezuela"], exit_block=3),
                TaskSpec("emotion", kind="multi_regression", columns=[f"i{k}" for k in range(10)],
                         activation="sigmoid", loss="ccc")]
    if kind == "iemocap":
        return [TaskSpec("emotion", classes=emotions[:4]),
                TaskSpec("va", kind="multi_regression", columns=["valence", "arousal"], activation="sigmoid",
                         loss="ccc")]
    second = TaskSpec("speaker", classes=[f"s{i}" for i in range(10)]) if kind.endswith("speaker") else \
        TaskSpec("gender", classes=["female", "male"])
    return [TaskSpec("emotion", classes=emotions), second]


def random_targets(tasks: list[TaskSpec], batch: int) -> dict[str, torch.Tensor]:
    targets = {}
    for task in tasks:
        if task.kind == "classification":
            targets[task.name] = torch.randint(0, task.output_dim, (batch,))
        elif task.kind == "regression":
            targets[task.name] = torch.rand(batch)
        else:
            targets[task.name] = torch.rand(batch, task.output_dim)
    return targets


def timed(step: Callable[[], None], iterations: int, warmup: int) -> float:
    """Median seconds of ``step`` over ``iterations`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def large_encoders(tmp: str) -> tuple[str, str]:
    """HuBERT-large and DeBERTa-v3-large shaped random models saved locally (nothing downloaded)."""
    from transformers import DebertaV2Config, DebertaV2Model, HubertConfig, HubertModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    speech, text = os.path.join(tmp, "hubert_large"), os.path.join(tmp, "deberta_v3_large")
    HubertModel(HubertConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                             intermediate_size=4096, feat_extract_norm="layer", do_stable_layer_norm=True,
                             apply_spec_augment=False)).save_pretrained(speech)
    DebertaV2Model(DebertaV2Config(vocab_size=128100, hidden_size=1024, num_hidden_layers=24,
                                   num_attention_heads=16, intermediate_size=4096, relative_attention=True,
                                   position_buckets=256, norm_rel_ebd="layer_norm", share_att_key=True,
                                   pos_att_type=["p2c", "c2p"], max_relative_positions=-1,
                                   position_biased_input=False)).save_pretrained(text)
    return speech, text


def benchmark_case(case: Case, iterations: int) -> dict[str, Any]:
    torch.manual_seed(0)
    tasks = make_tasks(case.tasks)
    model = build_model(case.config, tasks, case.input_shapes)
    heavy = case.train_batch == 1
    summary = summarize(model, example_inputs(case.input_shapes, 1), case.seconds)

    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    train_inputs = example_inputs(case.input_shapes, case.train_batch, seed=1)
    targets = random_targets(tasks, case.train_batch)

    def train_step() -> None:
        model.train()
        optimizer.zero_grad()
        outputs = model(train_inputs)
        losses = [task_loss(t, outputs[t.name], targets[t.name]) for t in tasks]
        sum(loss for loss in losses if loss is not None).backward()
        optimizer.step()

    infer_inputs = example_inputs(case.input_shapes, case.infer_batch, seed=2)

    def infer_step() -> None:
        model.eval()
        with torch.no_grad():
            model(infer_inputs)

    runs = 1 if heavy else iterations
    train_seconds = timed(train_step, runs, warmup=0 if heavy else 1)
    infer_seconds = timed(infer_step, runs, warmup=0 if heavy else 1)
    return {
        "architecture": case.label,
        "parameters": f"{summary.parameters / 1e6:.2f} M",
        "GMAC / s audio": f"{summary.macs_per_second / 1e9:.3g}",
        "train batch": case.train_batch,
        "train samples/s": f"{case.train_batch / train_seconds:.3g}",
        "inference RTF": f"{infer_seconds / (case.infer_batch * case.seconds):.2g}",
    }


@dataclass(frozen=True)
class Mode:
    """One training set-up of ``--precision-modes``."""

    label: str
    precision: str  # train.precision
    channels_last: bool  # train.channels_last
    compiled: bool = False  # torch.compile on the model (inductor)
    batch_factor: int = 1  # multiple of the case's training batch


MODES = [Mode("fp32", "32-true", False), Mode("bf16 autocast", "bf16-mixed", False),
         Mode("channels-last", "32-true", True), Mode("bf16 + channels-last", "bf16-mixed", True),
         Mode("bf16 + channels-last + torch.compile", "bf16-mixed", True, compiled=True),
         Mode("bf16 + channels-last, 4x batch", "bf16-mixed", True, batch_factor=4)]


@dataclass
class Timing:
    """Training samples/s after warm-up, and how long the first (warm-up) step took."""

    samples_per_second: float
    first_step_seconds: float


#: The paper models among :func:`paper_cases` (audio-only wave model: the EMO-DB configuration).
PAPER_MODELS = ("multi_exit_cnn", "cnn_blstm_att", "wave_av_lstm (UM-A")


def train_timing(case: Case, mode: Mode, iterations: int) -> Timing:
    """Training samples/s of ``case`` (forward + backward + Adam) in ``mode``, and its first step's seconds."""
    torch.manual_seed(0)
    tasks = make_tasks(case.tasks)
    model = build_model(case.config, tasks, case.input_shapes)
    if mode.channels_last:
        to_channels_last(model)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batch = case.train_batch * mode.batch_factor
    inputs = example_inputs(case.input_shapes, batch, seed=1)
    targets = random_targets(tasks, batch)
    forward = torch.compile(model) if mode.compiled else model

    def train_step() -> None:
        model.train()
        optimizer.zero_grad()
        with autocast(mode.precision, "cpu"):
            outputs = float32_outputs(forward(inputs))
        losses = [task_loss(t, outputs[t.name], targets[t.name]) for t in tasks]
        sum(loss for loss in losses if loss is not None).backward()
        optimizer.step()

    first_step = timed(train_step, 1, warmup=0)
    return Timing(batch / timed(train_step, iterations, warmup=0), first_step)


def precision_rows(iterations: int, modes: list[Mode] = MODES) -> list[dict[str, Any]]:
    """One row per paper model: training samples/s in every mode, torch.compile's first step, and the fastest mode
    at the case's own batch over the first mode (fp32); a larger batch is another training, so it is not ranked."""
    same_batch = [mode.label for mode in modes if mode.batch_factor == 1]  # same training, other arithmetic
    rows = []
    for case in [c for c in paper_cases(False) if c.label.startswith(PAPER_MODELS)]:
        timings = {mode.label: train_timing(case, mode, iterations) for mode in modes}
        print(f"  done: {case.label}", flush=True, file=sys.stderr)
        speeds = {label: timing.samples_per_second for label, timing in timings.items()}
        best = max(same_batch, key=speeds.get)
        row: dict[str, Any] = {"architecture": case.label, "train batch": case.train_batch,
                               **{f"{label} (samples/s)": f"{value:.3g}" for label, value in speeds.items()}}
        for mode in modes:
            if mode.compiled:
                row[f"{mode.label}: first step (s)"] = f"{timings[mode.label].first_step_seconds:.0f}"
        row["fastest at the case's batch"] = f"{best} ({speeds[best] / speeds[modes[0].label]:.2f}x {modes[0].label})"
        rows.append(row)
    return rows


def fft_speedup() -> dict[str, str]:
    """The 500 ms layer of wave_av_lstm: 40 -> 40 maps, 4000 taps, 48,000 pooled samples (one 6 s clip)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 40, 48000, generator=generator)
    weight = torch.randn(40, 40, 4000, generator=generator) / 400
    with torch.no_grad():
        fft = timed(lambda: fft_conv1d(x, weight, padding="same"), 3, warmup=1)
        direct_out = None

        def direct() -> None:
            nonlocal direct_out
            direct_out = F.conv1d(F.pad(x, same_padding(4000)), weight)

        direct_seconds = timed(direct, 1, warmup=0)
        error = (fft_conv1d(x, weight, padding="same") - direct_out).abs().max() / direct_out.abs().max()
    return {"direct (s / clip)": f"{direct_seconds:.2f}", "FFT (s / clip)": f"{fft:.3f}",
            "speed-up": f"{direct_seconds / fft:.0f}x", "max relative difference": f"{float(error):.1e}"}


def markdown(rows: list[dict[str, Any]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[h]) for h in header) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3, help="timed iterations per light model (default 3)")
    parser.add_argument("--with-encoders", action="store_true", help="also time bridge_fusion with large encoders")
    parser.add_argument("--precision-modes", action="store_true",
                        help="only the paper models' training samples/s in fp32, bf16 autocast, channels-last, "
                             "both, both with torch.compile and both at 4x the batch")
    parser.add_argument("--out", default=None, help="--precision-modes: folder for model_throughput_precision.*")
    parser.add_argument("--note", default="", help="--precision-modes: a line printed under the table")
    parser.add_argument("--no-compile", action="store_true", help="--precision-modes: leave torch.compile out")
    args = parser.parse_args()
    if args.precision_modes:
        print(f"# Training throughput by precision and memory layout (torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads, CPU, {args.iterations} timed steps after 1 warm-up)\n")
        rows = precision_rows(args.iterations, [m for m in MODES if not (args.no_compile and m.compiled)])
        table = markdown(rows)
        text = table + (f"\n\n{args.note}" if args.note else "") + "\n"
        print(text)
        if args.out:
            import json
            from pathlib import Path

            import pandas as pd

            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows).to_csv(out / "model_throughput_precision.csv", index=False)
            (out / "model_throughput_precision.json").write_text(json.dumps(
                {"rows": rows, "note": args.note, "torch": torch.__version__, "threads": torch.get_num_threads(),
                 "iterations": args.iterations}, indent=2))
            (out / "model_throughput_precision.md").write_text(text)
        return
    print(f"# Model throughput (torch {torch.__version__}, {torch.get_num_threads()} threads)\n")
    print("## The 4000-tap (500 ms) convolution of wave_av_lstm, one 6 s clip\n")
    print(markdown([fft_speedup()]) + "\n")
    print("## Architectures at paper size\n")
    rows = []
    with_encoders = args.with_encoders
    cases = paper_cases(with_encoders)
    if with_encoders:
        import tempfile

        tmp = tempfile.mkdtemp(prefix="emomtl_bench_")
        speech, text = large_encoders(tmp)
        cases[-1].config.update(speech_encoder=speech, text_encoder=text, local_files_only=True)
    for case in cases:
        rows.append(benchmark_case(case, args.iterations))
        print(f"  done: {case.label}", flush=True, file=sys.stderr)
    print(markdown(rows))
    print("\nRTF = inference compute time / audio duration (batch as in the table; lower is faster). "
          "bridge_fusion on cached states excludes the encoders (see --with-encoders).")


if __name__ == "__main__":
    main()
