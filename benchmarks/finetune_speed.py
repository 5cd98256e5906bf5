"""Fine-tuning speed of the Whisper speech branch: training samples per second, and a budget for a GPU run.

    python benchmarks/finetune_speed.py                 # CPU, 2 threads
    python benchmarks/finetune_speed.py --device cuda   # the same on a GPU (bf16 autocast)

Each row: encoder (packaged tiny.en / base), layers kept, layers trained (the rest frozen; the convolutional front
end always is), forward + backward + AdamW step on batches of 2.5-s clips through a linear emotion head. The budget
column is the time of one EMO-DB LOSO run of that setting (10 folds x 30 epochs x ~430 training clips, refit
included: x 2) at the measured rate. Writes ``benchmarks/results/finetune_speed.*``.
"""

from __future__ import annotations

import argparse
import os
import time

import _common  # noqa: F401
import pandas as pd
import torch
from _common import ROOT, markdown_table, write_outputs

from emomtl.models.speech_encoders import SPEECH_ENCODER_TYPES, build_speech_encoder, parse_encoder_spec

SETTINGS = [("tiny.en", 2, 1), ("tiny.en", 4, 4), ("base", 3, 1), ("base", 3, 3), ("base", 6, 6)]
#: EMO-DB LOSO: 10 folds x (training + refit) x epochs x training clips.
LOSO_SAMPLES = 10 * 2 * 30 * 430


def rate(model: str, keep: int, train: int, batch: int, steps: int, device: str) -> float:
    spec = parse_encoder_spec({"type": "whisper", "path": model, "num_layers": keep, "train_top": train},
                              "model.speech_encoder", SPEECH_ENCODER_TYPES)
    encoder = build_speech_encoder(spec, "model.speech_encoder").to(device).train()
    head = torch.nn.Linear(encoder.width, 7).to(device)
    parameters = [p for p in [*encoder.parameters(), *head.parameters()] if p.requires_grad]
    optimiser = torch.optim.AdamW(parameters, lr=1e-5)
    waveform = torch.randn(batch, 40_000, device=device) * 0.1
    labels = torch.randint(0, 7, (batch,), device=device)

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            states, _ = encoder(waveform)
            loss = torch.nn.functional.cross_entropy(head(states.mean(1)).float(), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    step()  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for model, keep, train in SETTINGS:
        samples = rate(model, keep, train, args.batch, args.steps, args.device)
        rows.append({"encoder": model, "layers kept": keep, "layers trained": train, "device": args.device,
                     "samples/s": f"{samples:.1f}", "EMO-DB LOSO budget (h)": f"{LOSO_SAMPLES / samples / 3600:.1f}"})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    from pathlib import Path

    write_outputs(Path(args.out), f"finetune_speed_{args.device}", table,
                  {"batch": args.batch, "clip_seconds": 2.5, "threads": args.threads,
                   "load_average_before": os.getloadavg()[0]})
    print(markdown_table(table))


if __name__ == "__main__":
    main()
