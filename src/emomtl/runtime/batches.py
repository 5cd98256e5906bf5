"""Batches from in-memory features: fixed-length crops, padding masks, standardisation, windows.

Crops are drawn from a generator seeded by (seed, epoch), so a resumed run sees the same
batches as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import torch

from emomtl.config import Recipe, as_recipe
from emomtl.errors import ConfigError
from emomtl.features import create_extractor
from emomtl.features.cropping import fit_length



@dataclass
class InputSpec:
    """How one input is shaped into a batch (a recipe's ``inputs.<name>``).

    ``pad_value`` is in the feature's own units (e.g. -80 dB of silence for a log-mel spectrogram): inputs are
    cropped or padded to ``length`` first and standardised afterwards, so padding looks like quiet input.
    Without a ``pad_value`` the padding is the mean: zeros after standardisation.
    """

    name: str
    length: int | None = None
    train_crop: str = "random"
    eval_crop: str = "center"
    pad_value: float | None = None
    standardize: bool | str = False
    window_hop: int | None = None
    time_axis: int | None = 0

    def __post_init__(self) -> None:
        if self.train_crop not in ("random", "center", "start"):
            raise ConfigError(f"inputs.{self.name}.train_crop: {self.train_crop!r} is not random, center or start")
        if self.standardize not in (True, False, "speaker"):
            raise ConfigError(f"inputs.{self.name}.standardize: {self.standardize!r} is not true, false or speaker")
        if self.eval_crop not in ("center", "start", "windows"):
            raise ConfigError(f"inputs.{self.name}.eval_crop: {self.eval_crop!r} is not center, start or windows")


def input_specs(recipe: Recipe | dict[str, Any]) -> dict[str, InputSpec]:
    """One spec per feature (time axis from its extractor); features without an ``inputs`` entry are used whole."""
    recipe = as_recipe(recipe)
    unknown = set(recipe.inputs) - set(recipe.features)
    if unknown:
        raise ConfigError(f"inputs.{sorted(unknown)[0]}: no feature of that name in features")
    specs = {}
    for name, config in recipe.features.items():
        extractor = create_extractor(config, sample_rate=recipe.data.sample_rate, setting=f"features.{name}")
        specs[name] = InputSpec(name, **recipe.inputs.get(name, {}), time_axis=extractor.time_axis)
    return specs


def check_aligned_crops(recipe: Recipe, specs: dict[str, InputSpec]) -> None:
    """Inputs a model joins step by step (its ``aligned_inputs``) must be cropped alike, or they would show it
    different moments of the recording (e.g. audio cut at random beside video cut from the start)."""
    from emomtl.models.registry import is_classical, model_class

    if is_classical(recipe.model):
        return
    aligned = [specs[n] for n in model_class(recipe.model["name"]).aligned_inputs if n in specs]
    for spec in aligned[1:]:
        for setting in ("train_crop", "eval_crop"):
            if getattr(spec, setting) != getattr(aligned[0], setting):
                raise ConfigError(
                    f"inputs.{spec.name}.{setting}: {getattr(spec, setting)!r} differs from "
                    f"inputs.{aligned[0].name}.{setting} ({getattr(aligned[0], setting)!r}); "
                    f"{recipe.model['name']} joins them step by step, so they must be cropped alike")


#: Fewer recordings than this give no usable per-speaker statistics: such a speaker keeps the global ones.
MIN_SPEAKER_FILES = 2


@dataclass
class Standardizer:
    """Per-channel mean and standard deviation.

    ``standardize: true`` fits one set of statistics on the training rows. ``standardize: speaker`` fits one set per
    speaker on all of that speaker's recordings (labels are never used: this is unsupervised speaker normalisation,
    which needs several recordings of each test speaker); rows of an unknown speaker fall back to the training
    statistics.
    """

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]
    speaker_mean: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    speaker_std: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    speakers: np.ndarray | None = None

    @staticmethod
    def _moments(arrays: list[np.ndarray], axis: int | None) -> tuple[np.ndarray, np.ndarray]:
        arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
        stacked = np.stack(arrays) if axis is None else np.concatenate([np.moveaxis(a, axis, 0) for a in arrays])
        return stacked.mean(0).astype(np.float32), np.maximum(stacked.std(0), 1e-6).astype(np.float32)

    @classmethod
    def fit(cls, inputs: dict[str, list[np.ndarray]], rows: np.ndarray, specs: dict[str, InputSpec],
            speakers: np.ndarray | None = None) -> "Standardizer":
        standardizer = cls({}, {}, speakers=None if speakers is None else np.asarray(speakers).astype(str))
        for name, spec in specs.items():
            if not spec.standardize:
                continue
            axis = spec.time_axis
            standardizer.mean[name], standardizer.std[name] = cls._moments([inputs[name][i] for i in rows], axis)
            if spec.standardize == "speaker":
                if standardizer.speakers is None:
                    raise ConfigError(f"inputs.{name}.standardize: 'speaker' needs the speaker of every row")
                means, stds = {}, {}
                for speaker in np.unique(standardizer.speakers):
                    own = np.flatnonzero(standardizer.speakers == speaker)
                    if len(own) < MIN_SPEAKER_FILES:  # as at inference: too few recordings keep the global stats
                        continue
                    means[speaker], stds[speaker] = cls._moments([inputs[name][i] for i in own], axis)
                standardizer.speaker_mean[name], standardizer.speaker_std[name] = means, stds
        return standardizer

    def apply(self, name: str, array: np.ndarray, spec: InputSpec, row: int | None = None) -> np.ndarray:
        if name not in self.mean:
            return array
        mean, std = self.mean[name], self.std[name]
        if name in self.speaker_mean and row is not None and self.speakers is not None:
            speaker = self.speakers[row]
            mean, std = self.speaker_mean[name].get(speaker, mean), self.speaker_std[name].get(speaker, std)
        if spec.time_axis is None:
            return (array - mean) / std
        moved = np.moveaxis(array, spec.time_axis, 0)
        return np.moveaxis((moved - mean) / std, 0, spec.time_axis)

    def state_dict(self) -> dict[str, Any]:
        """Global statistics only: a recogniser meets new speakers."""
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "Standardizer":
        return cls(dict(state["mean"]), dict(state["std"]))


def model_array(value: np.ndarray) -> np.ndarray:
    """float32 features, except int64 arrays (token ids, feature kind ``text_tokens``), which stay int64."""
    array = np.asarray(value)
    return array if array.dtype == np.int64 else array.astype(np.float32, copy=False)


def _stack(arrays: list[np.ndarray], spec: InputSpec) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Stack equal-length arrays, or pad variable-length ones and return a (batch, time) mask.

    int64 arrays (token ids) stay int64, so augmentations that touch float inputs leave them alone."""
    axis = spec.time_axis
    dtype = np.int64 if all(a.dtype == np.int64 for a in arrays) else np.float32
    if axis is None or len({a.shape for a in arrays}) == 1:
        return torch.from_numpy(np.stack(arrays).astype(dtype, copy=False)), None
    longest = max(a.shape[axis] for a in arrays)
    mask = torch.zeros(len(arrays), longest, dtype=torch.bool)
    padded = []
    for i, array in enumerate(arrays):
        mask[i, : array.shape[axis]] = True
        padded.append(fit_length(array, longest, axis=axis, mode="start", pad_value=spec.pad_value or 0.0))
    return torch.from_numpy(np.stack(padded).astype(dtype, copy=False)), mask


def cut_and_standardize(array: np.ndarray, spec: InputSpec, standardizer: Standardizer | None, row: int,
                        cut: Callable[[np.ndarray, float], list[np.ndarray]]) -> list[np.ndarray]:
    """Crop/pad/window one input with ``cut(array, pad)`` and standardise it, in the order ``pad_value`` implies:
    a pad value is in feature units (cut, then standardise the pieces); none pads with zeros after standardising."""
    if standardizer is None:
        return cut(array, 0.0 if spec.pad_value is None else spec.pad_value)
    if spec.pad_value is None:
        return cut(standardizer.apply(spec.name, array, spec, row), 0.0)
    return [standardizer.apply(spec.name, piece, spec, row) for piece in cut(array, spec.pad_value)]


@dataclass
class InputView:
    """One copy of every input (the original, or a speed-perturbed one) with the statistics that standardise it."""

    inputs: dict[str, list[np.ndarray]]
    standardizer: Standardizer | None


def fit_views(original: InputView, copies: list[dict[str, list[np.ndarray]]], rows: np.ndarray,
              specs: dict[str, InputSpec], speakers: np.ndarray | None) -> list[InputView]:
    """The original view followed by one per perturbed copy.

    A copy standardised per speaker gets statistics of its own for every (speaker, copy), as if each perturbed
    speaker were a new speaker, the way test speakers are normalised; global statistics stay the original's, so
    the model sees the perturbation as variation around the same mean.
    """
    views = [original]
    for inputs in copies:
        standardizer = None
        if original.standardizer is not None:
            standardizer = Standardizer.fit(inputs, rows, specs, speakers)
            standardizer.mean, standardizer.std = original.standardizer.mean, original.standardizer.std
        views.append(InputView(inputs, standardizer))
    return views


def make_batch(
    inputs: dict[str, list[np.ndarray]], rows: np.ndarray, specs: dict[str, InputSpec],
    standardizer: Standardizer | None, train: bool, rng: np.random.Generator | None = None,
    views: list[InputView] | None = None, view_of_row: np.ndarray | None = None,
) -> dict[str, torch.Tensor]:
    """Model inputs for ``rows``: cropped/padded, standardised, as float tensors (plus ``<name>_mask``).

    With ``views`` and ``view_of_row``, row ``rows[j]`` is read from ``views[view_of_row[j]]`` (training-time
    speed perturbation) instead of ``inputs`` / ``standardizer``.
    """
    batch: dict[str, torch.Tensor] = {}
    if views is not None and view_of_row is not None:
        sources = [views[int(v)] for v in view_of_row]  # the view each row is read from
    else:
        sources = [InputView(inputs, standardizer)] * len(rows)
    fractions = shared_crop_fractions(specs, len(rows), train, rng)
    for name, spec in specs.items():
        arrays = []
        for j, (source, i) in enumerate(zip(sources, rows)):
            array = model_array(source.inputs[name][i])
            if spec.length is not None and spec.time_axis is not None:
                mode = spec.train_crop if train else ("center" if spec.eval_crop == "windows" else spec.eval_crop)
                fraction = None if fractions is None else float(fractions[j])

                def crop(whole: np.ndarray, pad: float) -> list[np.ndarray]:
                    return [fit_length(whole, spec.length, axis=spec.time_axis, mode=mode, pad_value=pad, rng=rng,
                                       fraction=fraction)]

                array = cut_and_standardize(array, spec, source.standardizer, int(i), crop)[0]
            elif source.standardizer is not None:
                array = source.standardizer.apply(name, array, spec, int(i))
            arrays.append(array)
        batch[name], mask = _stack(arrays, spec)
        if mask is not None:
            batch[f"{name}_mask"] = mask
    return batch


def shared_crop_fractions(specs: dict[str, InputSpec], rows: int, train: bool,
                          rng: np.random.Generator | None) -> np.ndarray | None:
    """One random draw per row shared by every randomly cropped input, or ``None`` when fewer than two are.

    Inputs of one recording (a waveform and its video frames) then cover the same moments when their windows
    last equally long: each is cut at the same fraction of its possible offsets. One random input keeps its own
    draw from ``rng``.
    """
    cropped = [s for s in specs.values() if train and s.length is not None and s.time_axis is not None
               and s.train_crop == "random"]
    if len(cropped) < 2:
        return None
    if rng is None:
        raise ValueError("random crops need rng=np.random.Generator so they are reproducible")
    return rng.random(rows)


def make_targets(targets: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, torch.Tensor]:
    return {task: torch.from_numpy(values[rows]) for task, values in targets.items()}


def epoch_order(rows: np.ndarray, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
    """Shuffled training rows for one epoch (this rank's shard), reproducible from (seed, epoch)."""
    order = np.random.default_rng([seed, epoch]).permutation(rows)
    if world_size > 1:
        usable = len(order) - len(order) % world_size
        order = order[:usable][rank::world_size]
    return order


def batches(order: np.ndarray, batch_size: int, drop_last: bool = False) -> Iterator[np.ndarray]:
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        if drop_last and len(chunk) < batch_size:
            return
        yield chunk


def windows(array: np.ndarray, spec: InputSpec, max_windows: int | None = None,
            pad_value: float = 0.0) -> list[np.ndarray]:
    """Cut one utterance into windows of ``spec.length`` with ``spec.window_hop`` (default: half a window).

    The last window is aligned to the end, so every frame is covered; a short utterance gives one padded window.
    """
    axis = spec.time_axis
    length = spec.length
    total = array.shape[axis]
    if length is None or axis is None or total <= length:
        return [fit_length(array, length, axis=axis, mode="start", pad_value=pad_value)] if length else [array]
    hop = spec.window_hop or max(1, length // 2)
    starts = list(range(0, total - length + 1, hop))
    if starts[-1] != total - length:
        starts.append(total - length)
    if max_windows is not None and len(starts) > max_windows:
        starts = [starts[int(round(i))] for i in np.linspace(0, len(starts) - 1, max_windows)]
    return [np.take(array, np.arange(s, s + length), axis=axis) for s in starts]
