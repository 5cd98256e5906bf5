"""Why the raw-waveform LSTM needs ``step_norm``: what its LSTM sees, with and without LayerNorm of the steps.

    python benchmarks/wave_front_end.py [--data ../shared/data] [--files 24] [--steps 40]

Builds the model of ``benchmarks/recipes/emodb_wave_lstm.yaml`` (seed 0) twice, ``model.step_norm`` none and
layer, on 2 s crops of every 20th EMO-DB file (RMS-normalised as in the recipe), and prints the spread of the
step features across utterances, the spread of the LSTM's last output across utterances, and the emotion loss
while fitting those files alone with Adam (a capacity check, no test data: chance is ln 7 = 1.95).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _common  # noqa: F401  (sets OMP_WAIT_POLICY before torch is imported)
import numpy as np
import pandas as pd
import torch
from _common import DEFAULT_DATA, ROOT, markdown_table, require_corpus, write_outputs
from emodb_loso import config_recipe

from emomtl.data.audio import load_audio
from emomtl.data.corpora import load_corpus
from emomtl.features.cropping import fit_length
from emomtl.models.registry import build_model
from emomtl.models.tasks import TaskSpec


def crops(root: Path, files: int, samples: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    table = load_corpus("emodb", root).table.iloc[::20].head(files)
    classes = sorted(table["emotion"].unique())
    signals = [fit_length(load_audio(p, 16000, normalize="rms"), samples, mode="start") for p in table["path"]]
    labels = torch.tensor([classes.index(e) for e in table["emotion"]])
    return torch.tensor(np.stack(signals)), labels, classes


def measure(model_config: dict, waveforms: torch.Tensor, labels: torch.Tensor, classes: list[str],
            steps: int) -> dict:
    torch.manual_seed(0)
    model = build_model(model_config, [TaskSpec("emotion", classes=classes, loss="nll")],
                        {"waveform": (waveforms.shape[1],)})
    with torch.no_grad():
        features = model.step_norm(model.step_sequences({"waveform": waveforms}))
        last = model.lstm(features)[0][:, -1]
    row = {"step_norm": model_config["step_norm"],
           "step features: mean": f"{features.mean():.3f}",
           "step features: std across utterances": f"{features.std(dim=0).mean():.3f}",
           "LSTM last output: std across utterances": f"{last.std(dim=0).mean():.4f}"}
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for step in range(steps + 1):
        loss = torch.nn.functional.nll_loss(model({"waveform": waveforms})["emotion"], labels)
        if step in (0, steps // 2, steps):
            row[f"fit loss, step {step}"] = f"{loss.item():.3f}"
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    root = require_corpus(args.data, "emodb")
    recipe = config_recipe("wave", root)
    waveforms, labels, classes = crops(root, args.files, recipe["inputs"]["waveform"]["length"])
    torch.set_num_threads(2)
    rows = [measure({**recipe["model"], "step_norm": norm}, waveforms, labels, classes, args.steps)
            for norm in ("none", "layer")]
    table = pd.DataFrame(rows)
    write_outputs(args.out, "wave_front_end", table, {"files": len(labels), "steps": args.steps})
    print(markdown_table(table))


if __name__ == "__main__":
    main()
