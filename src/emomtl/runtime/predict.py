"""The forward pass over rows: whole utterances, or windows averaged per utterance (``eval_crop: windows``)."""

from __future__ import annotations

import numpy as np
import torch

from emomtl.models.tasks import TaskSpec
from emomtl.runtime.batches import InputSpec, Standardizer, _stack, cut_and_standardize, make_batch, windows


def _to_probabilities(task: TaskSpec, output: torch.Tensor) -> torch.Tensor:
    return output.exp() if task.loss == "nll" else torch.softmax(output, dim=-1)


def _device_of(model: torch.nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _run(model: torch.nn.Module, batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The model's outputs on ``batch`` (moved to the model's device), back on the CPU as float32."""
    outputs = model({k: v.to(device) for k, v in batch.items()})
    return {k: v.float().cpu() if torch.is_floating_point(v) else v.cpu() for k, v in outputs.items()}


def _windowed_input(specs: dict[str, InputSpec]) -> str | None:
    names = [n for n, s in specs.items() if s.eval_crop == "windows" and s.length and s.time_axis is not None]
    return names[0] if len(names) == 1 and len(specs) == 1 else None


@torch.no_grad()
def predict_outputs(
    model: torch.nn.Module, inputs: dict[str, list[np.ndarray]], rows: np.ndarray, specs: dict[str, InputSpec],
    standardizer: Standardizer | None, tasks: list[TaskSpec], batch_size: int = 64, max_windows: int | None = 64,
) -> dict[str, np.ndarray]:
    """Per-row outputs: class probabilities for classification, values for regression.

    With ``eval_crop: windows`` on a single time-varying input, every utterance is cut into windows and the
    window outputs (probabilities or values) are averaged; otherwise one (centre-cropped) pass per utterance.
    """
    model.eval()
    device = _device_of(model)
    windowed = _windowed_input(specs)
    collected: dict[str, list[torch.Tensor]] = {t.name: [] for t in tasks}
    if windowed is None:
        for start in range(0, len(rows), batch_size):
            batch = make_batch(inputs, rows[start : start + batch_size], specs, standardizer, train=False)
            outputs = _run(model, batch, device)
            for task in tasks:
                out = outputs[task.name]
                collected[task.name].append(_to_probabilities(task, out) if task.kind == "classification" else out)
        return {name: torch.cat(parts).numpy() for name, parts in collected.items()}
    spec = specs[windowed]
    pieces, owner = [], []
    for position, row in enumerate(rows):
        array = np.asarray(inputs[windowed][row], dtype=np.float32)
        cut = cut_and_standardize(array, spec, standardizer, int(row),
                                  lambda whole, pad: windows(whole, spec, max_windows, pad))  # as in training
        pieces.extend(cut)
        owner.extend([position] * len(cut))
    owner_index = torch.tensor(owner)
    for start in range(0, len(pieces), batch_size):
        tensor, _ = _stack(pieces[start : start + batch_size], spec)
        outputs = _run(model, {windowed: tensor}, device)
        for task in tasks:
            out = outputs[task.name]
            collected[task.name].append(_to_probabilities(task, out) if task.kind == "classification" else out)
    result = {}
    for task in tasks:
        values = torch.cat(collected[task.name])
        summed = torch.zeros((len(rows),) + tuple(values.shape[1:]), dtype=values.dtype)
        summed.index_add_(0, owner_index, values)
        counts = torch.bincount(owner_index, minlength=len(rows)).clamp(min=1).to(values.dtype)
        result[task.name] = (summed / counts.reshape(-1, *([1] * (values.dim() - 1)))).numpy()
    return result

