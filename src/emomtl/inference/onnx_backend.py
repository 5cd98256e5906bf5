"""ONNX Runtime backend of :class:`~emomtl.inference.Recognizer`: an exported model (``emomtl export``) run by
onnxruntime on NumPy arrays.

Cropping, windowing, standardisation and the averaging of window outputs follow
:func:`emomtl.training.evaluate.predict_outputs` step by step, in NumPy; no torch operation runs in the model's
forward pass. Feature extraction is the recipe's own extractor and still uses torch where that extractor does
(log-mel spectrograms, speech encoders).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emomtl.errors import ConfigError
from emomtl.export.onnx import read_export
from emomtl.features.cropping import fit_length
from emomtl.models.tasks import TaskSpec
from emomtl.runtime.batches import InputSpec, Standardizer, cut_and_standardize, input_specs, model_array, windows


class OnnxSession:
    """An onnxruntime session: ``session({input: array}) -> {task: array}`` (probabilities or values)."""

    def __init__(self, graph: str | Path, threads: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError as error:  # pragma: no cover - the onnx extra is missing
            raise ConfigError("--backend onnxruntime needs onnxruntime: pip install 'emomtl[onnx]'") from error
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(self.output_names, {name: batch[name] for name in self.input_names})
        return dict(zip(self.output_names, values))


def _windowed_input(specs: dict[str, InputSpec]) -> str | None:
    """The single windowed input, as in ``predict_outputs`` (None: one pass per utterance)."""
    names = [n for n, s in specs.items() if s.eval_crop == "windows" and s.length and s.time_axis is not None]
    return names[0] if len(names) == 1 and len(specs) == 1 else None


def _row_arrays(inputs: dict[str, list[np.ndarray]], row: int, specs: dict[str, InputSpec], names: list[str],
                standardizer: Standardizer | None) -> dict[str, np.ndarray]:
    """One row's model inputs, cropped and standardised as ``make_batch(train=False)`` does."""
    arrays = {}
    for name in names:
        spec = specs[name]
        array = model_array(inputs[name][row])
        if spec.length is not None and spec.time_axis is not None:
            mode = "center" if spec.eval_crop == "windows" else spec.eval_crop

            def crop(whole: np.ndarray, pad: float) -> list[np.ndarray]:
                return [fit_length(whole, spec.length, axis=spec.time_axis, mode=mode, pad_value=pad)]

            array = cut_and_standardize(array, spec, standardizer, row, crop)[0]
        elif standardizer is not None:
            array = standardizer.apply(name, array, spec, row)
        arrays[name] = model_array(array)
    return arrays


def onnx_outputs(session: OnnxSession, inputs: dict[str, list[np.ndarray]], rows: np.ndarray,
                 specs: dict[str, InputSpec], standardizer: Standardizer | None, tasks: list[TaskSpec],
                 batch_size: int = 64, max_windows: int | None = 64) -> dict[str, np.ndarray]:
    """Per-row outputs (class probabilities, regression values), equal to ``predict_outputs`` of the torch model.

    Rows whose inputs differ in length (no fixed ``length``) run one at a time: the graph takes no padding masks.
    """
    names = session.input_names
    collected: dict[str, list[np.ndarray]] = {t.name: [] for t in tasks}
    windowed = _windowed_input(specs)
    if windowed is None:
        for start in range(0, len(rows), batch_size):
            block = [_row_arrays(inputs, int(r), specs, names, standardizer) for r in rows[start : start + batch_size]]
            same = all(len({a[n].shape for a in block}) == 1 for n in names)
            groups = [block] if same else [[a] for a in block]
            for group in groups:
                outputs = session({n: np.stack([a[n] for a in group]) for n in names})
                for task in tasks:
                    collected[task.name].append(outputs[task.name])
        return {name: np.concatenate(parts) for name, parts in collected.items()}
    spec = specs[windowed]
    pieces: list[np.ndarray] = []
    owner: list[int] = []
    for position, row in enumerate(rows):
        array = np.asarray(inputs[windowed][row], dtype=np.float32)
        cut = cut_and_standardize(array, spec, standardizer, int(row),
                                  lambda whole, pad: windows(whole, spec, max_windows, pad))
        pieces.extend(cut)
        owner.extend([position] * len(cut))
    for start in range(0, len(pieces), batch_size):
        outputs = session({windowed: np.stack(pieces[start : start + batch_size]).astype(np.float32, copy=False)})
        for task in tasks:
            collected[task.name].append(outputs[task.name])
    owners = np.asarray(owner)
    counts = np.maximum(np.bincount(owners, minlength=len(rows)), 1)
    result = {}
    for task in tasks:
        values = np.concatenate(collected[task.name])
        summed = np.zeros((len(rows),) + values.shape[1:], dtype=values.dtype)
        np.add.at(summed, owners, values)
        result[task.name] = summed / counts.reshape(-1, *([1] * (values.ndim - 1))).astype(values.dtype)
    return result


@dataclass
class OnnxMember:
    """A recognizer member backed by an exported ONNX graph (same fields as ``recognizer.Member``)."""

    name: str
    recipe: dict[str, Any]
    tasks: list[TaskSpec]
    model: OnnxSession
    specs: dict[str, InputSpec]
    standardizer: Standardizer
    featurizer: int

    @classmethod
    def from_state(cls, state: dict[str, Any], name: str, featurizer: int) -> "OnnxMember":
        """``state``: :func:`emomtl.export.onnx.read_export` of the export."""
        recipe = state["recipe"]
        specs = input_specs(recipe)
        for spec in specs.values():  # whole recordings: windows over every time-varying input
            if spec.length is not None and spec.time_axis is not None:
                spec.eval_crop = "windows"
        standardizer = Standardizer(dict(state["standardizer"]["mean"]), dict(state["standardizer"]["std"]))
        tasks = [TaskSpec(**task) for task in state["tasks"]]
        return cls(name, recipe, tasks, OnnxSession(state["graph"], state.get("threads")), specs, standardizer,
                   featurizer)

    def outputs(self, inputs: dict[str, list[np.ndarray]], rows: np.ndarray, standardizer: Standardizer,
                batch_size: int, max_windows: int | None) -> dict[str, np.ndarray]:
        return onnx_outputs(self.model, inputs, rows, self.specs, standardizer, self.tasks, batch_size, max_windows)


def load_exports(paths: list[str | Path], threads: int | None = None) -> list[dict[str, Any]]:
    """The ``model.json`` of every export, ready for :meth:`OnnxMember.from_state`."""
    states = [read_export(p) for p in paths]
    for state in states:
        state["threads"] = threads
    return states
