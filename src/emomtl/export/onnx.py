"""Export a checkpoint as ONNX (opset 18) plus ``model.json``: inputs, standardisation, tasks and label sets.

The graph maps the model's input arrays (batch first) to one output per task: class probabilities for
classification (softmax of logits, exp of log-probabilities: the conversion of
:func:`emomtl.runtime.predict.predict_outputs` is part of the graph) and activated values for regression. Feature
extraction, cropping/windowing and standardisation stay outside the graph; ``model.json`` holds what they need, so
:class:`emomtl.inference.onnx_backend.OnnxMember` reproduces :class:`emomtl.inference.Recognizer` without torch in
the model's forward pass.

Architectures (``emomtl.models.registry``): ``multi_exit_cnn``, ``cnn_blstm_att``, ``functional_mlp``,
``bridge_fusion`` (on precomputed encoder states), ``linear_svm`` and ``linear_probe`` export. ``wave_av_lstm`` does
not: its long raw-audio kernels are FFT convolutions on complex tensors (``models/fft_conv.py``: ``rfft`` and a
complex ``einsum``), and ONNX has no complex type. ``bridge_fusion`` with its own speech / text encoders inside the
model (``model.speech_encoder``) is not tested (it needs downloaded weights).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.models import build_model
from emomtl.models.tasks import TaskSpec
from emomtl.runtime.batches import input_specs
from emomtl.runtime.checkpoint import load_checkpoint
from emomtl.runtime.files import atomic_write, write_text

#: ONNX opset of exported graphs (the issue asks for >= 17; torch's exporter writes 18 natively).
OPSET = 18
FORMAT = "emomtl-onnx/1"
GRAPH_FILE = "model.onnx"
SPEC_FILE = "model.json"
#: Architectures whose operators ONNX cannot express, with the reason.
NOT_EXPORTABLE = {
    "wave_av_lstm": "its raw-audio front end convolves with FFTs on complex tensors (models/fft_conv.py); "
                    "ONNX has no complex type",
}


class ProbabilityGraph(nn.Module):
    """Positional inputs in ``keys`` order -> one tensor per task: probabilities or activated values."""

    def __init__(self, model: nn.Module, keys: Sequence[str], tasks: Sequence[TaskSpec]) -> None:
        super().__init__()
        self.model, self.keys, self.tasks = model, list(keys), list(tasks)

    def forward(self, *arrays: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model(dict(zip(self.keys, arrays)))
        result = []
        for task in self.tasks:
            out = outputs[task.name]
            if task.kind == "classification":
                out = out.exp() if task.loss == "nll" else torch.softmax(out, dim=-1)
            result.append(out)
        return tuple(result)


def export_module(model: nn.Module, tasks: Sequence[TaskSpec], example: Mapping[str, torch.Tensor], path: Path,
                  dynamic_axes: Mapping[str, Sequence[int]] | None = None, opset: int = OPSET) -> Path:
    """Write ``model`` (inputs ``example``'s keys, batch axis dynamic, plus ``dynamic_axes[key]``) to ``path``."""
    name = getattr(model, "name", type(model).__name__)
    if name in NOT_EXPORTABLE:
        raise ConfigError(f"model.name: {name!r} cannot be exported to ONNX: {NOT_EXPORTABLE[name]}")
    keys = list(example)
    graph = ProbabilityGraph(model.eval(), keys, tasks)
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    shapes = []
    for key in keys:
        axes: dict[int, Any] = {0: batch}
        for axis in (dynamic_axes or {}).get(key, ()):
            axes[axis] = torch.export.Dim(f"{key}_axis{axis}", min=1, max=1 << 24)
        shapes.append(axes)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        atomic_write(path, lambda temporary: torch.onnx.export(
            graph, tuple(example[k] for k in keys), str(temporary), input_names=keys,
            output_names=[t.name for t in tasks], opset_version=opset, dynamo=True,
            dynamic_shapes=(tuple(shapes),), external_data=False, verbose=False))
    model.last_shared_representation = None  # set to a traced tensor by the export
    return path


def _example(shape: Sequence[int], dtype: str) -> torch.Tensor:
    """A batch of two (not 1: torch.export would specialise the batch axis) random inputs."""
    generator = torch.Generator().manual_seed(0)
    if dtype == "int64":
        return torch.randint(1, 100, (2, *shape), generator=generator)
    return torch.randn((2, *shape), generator=generator)


def check_dynamic_axes(path: Path, shapes: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, str],
                       dynamic: Mapping[str, Sequence[int]]) -> None:
    """Run the exported graph at another length on every variable axis (when onnxruntime is installed): an
    exporter that fixed a length inside the graph (e.g. a reshape after an LSTM) is a :class:`ConfigError` naming
    the input, and the broken graph is removed, instead of an export that fails on the first real recording."""
    if not dynamic:
        return
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for key, axes in dynamic.items():
        for axis in axes:
            shape = list(shapes[key])
            shape[axis - 1] += 7
            feeds = {k: _example(shape if k == key else shapes[k], dtypes[k]).numpy() for k in shapes}
            try:
                session.run(None, feeds)
            except Exception as error:  # onnxruntime raises its own error types
                path.unlink(missing_ok=True)
                raise ConfigError(f"export: the ONNX graph only runs at the example's length on {key!r} (axis "
                                  f"{axis}): {str(error).splitlines()[0][:160]}. Export a model trained with a fixed "
                                  f"inputs.{key}.length (the paper recipes fix 256 frames)") from error


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, opset: int = OPSET) -> Path:
    """Write ``out_dir/model.onnx`` and ``out_dir/model.json`` for a checkpoint; returns the JSON path."""
    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    state = load_checkpoint(checkpoint)
    recipe = state["recipe"]
    tasks = [TaskSpec(**task) for task in state["tasks"]]
    shapes = {k: tuple(int(d) for d in v) for k, v in state["input_shapes"].items()}
    model = build_model(recipe["model"], tasks, shapes)
    model.load_state_dict(state["model"])
    specs = input_specs(recipe)
    dtypes = {k: ("int64" if recipe["features"].get(k, {}).get("kind") == "text_tokens" else "float32")
              for k in model.input_keys}
    example = {k: _example(shapes[k], dtypes[k]) for k in model.input_keys}
    dynamic = {k: [specs[k].time_axis + 1] for k in model.input_keys
               if k in specs and specs[k].time_axis is not None and specs[k].length is None}
    export_module(model, tasks, example, out_dir / GRAPH_FILE, dynamic, opset)
    check_dynamic_axes(out_dir / GRAPH_FILE, shapes, dtypes, dynamic)
    standardizer = state["standardizer"]
    spec = {
        "format": FORMAT,
        "graph": GRAPH_FILE,
        "opset": opset,
        "source": str(checkpoint),
        "model": recipe["model"]["name"],
        "inputs": {k: {"shape": list(shapes[k]), "dtype": dtypes[k], "dynamic_axes": dynamic.get(k, [])}
                   for k in model.input_keys},
        "standardizer": {"mean": standardizer["mean"], "std": standardizer["std"]},
        "tasks": state["tasks"],
        "labels": {t.name: list(t.classes or []) for t in tasks if t.kind == "classification"},
        "recipe": recipe,
    }
    write_text(out_dir / SPEC_FILE, json.dumps(spec, indent=1, default=_jsonable))
    return out_dir / SPEC_FILE


def read_export(path: str | Path) -> dict[str, Any]:
    """``model.json`` of an export (given its folder, its ``model.json`` or its ``model.onnx``), with ``graph``
    made an absolute path and the standardisation statistics as float32 arrays."""
    path = Path(path)
    spec_path = path / SPEC_FILE if path.is_dir() else (path.with_name(SPEC_FILE) if path.suffix == ".onnx" else path)
    if not spec_path.is_file() or spec_path.suffix != ".json":
        raise ConfigError(f"onnx model: {path} is not an ONNX export (no {SPEC_FILE}); write one with "
                          "`emomtl export CHECKPOINT --format onnx`")
    spec = json.loads(spec_path.read_text())
    if spec.get("format") != FORMAT:
        raise ConfigError(f"onnx model: {spec_path} has format {spec.get('format')!r}, expected {FORMAT!r}")
    spec["graph"] = str(spec_path.parent / spec["graph"])
    spec["standardizer"] = {part: {k: np.asarray(v, dtype=np.float32) for k, v in spec["standardizer"][part].items()}
                            for part in ("mean", "std")}
    return spec
