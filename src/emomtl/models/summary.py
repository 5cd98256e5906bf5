"""Model summaries: parameter counts, multiply-accumulates (MACs) per second of audio, output shapes per task.

MACs are counted with ``torch.utils.flop_counter.FlopCounterMode`` during one inference forward (eval mode, no
gradients) and halved (one MAC = two FLOPs). Operators it does not count are added here: CPU LSTM layers
(``mkldnn_rnn_layer``), the fused CPU attention kernels, FFTs (estimated at 2.5 N log2 N FLOPs per real transform
of length N, 5 N log2 N per complex one) and complex matrix products (4 real multiplications per complex one).
Element-wise operations (activations, normalisation) are not counted.

The counter's module tracker refuses module inputs that are views of parameters made under ``no_grad`` (they
require gradients but have no gradient function), so models pass copies (e.g. ``tokens.repeat``) instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

aten = torch.ops.aten


Shape = Sequence[int]


def _numel(shape: Iterable[int]) -> int:
    return int(math.prod(shape))


def _rnn_layer_flops(input_shape: Shape, weight_ih: Shape, weight_hh: Shape, *args: Any, **kwargs: Any) -> int:
    """One direction of one LSTM/GRU layer: every step multiplies the input and hidden state by the gate weights."""
    steps_times_batch = _numel(input_shape) // input_shape[-1]
    return 2 * steps_times_batch * (_numel(weight_ih) + _numel(weight_hh))


def _sdpa_cpu_flops(query_shape: Shape, key_shape: Shape, value_shape: Shape, *args: Any, **kwargs: Any) -> int:
    """Scores Q K^T and the weighted sum of V."""
    batch_heads = _numel(query_shape[:-2])
    length, depth = query_shape[-2:]
    keys, value_depth = key_shape[-2], value_shape[-1]
    return 2 * batch_heads * length * keys * (depth + value_depth)


def _native_mha_flops(query: Shape, key: Shape, value: Shape, embed_dim: int, *args: Any, **kwargs: Any) -> int:
    """Fused multi-head attention: input projections, attention, output projection."""
    batch, length = query[0], query[1]
    keys = key[1]
    projections = 2 * embed_dim * embed_dim * (batch * length + 2 * batch * keys + batch * length)
    return projections + 2 * batch * length * keys * embed_dim * 2


def _fft_flops(transform_size: int, batch: int, complex_input: bool) -> int:
    if transform_size <= 1:
        return 0
    per = (5.0 if complex_input else 2.5) * transform_size * math.log2(transform_size)
    return int(batch * per)


def _fft_r2c_flops(input_shape: Shape, dim: Sequence[int], *args: Any, **kwargs: Any) -> int:
    size = _numel([input_shape[d] for d in dim])
    return _fft_flops(size, _numel(input_shape) // size, complex_input=False)


def _fft_c2r_flops(input_shape: Shape, dim: Sequence[int], *args: Any, out_shape: Shape, **kwargs: Any) -> int:
    size = _numel(out_shape[d] for d in dim)
    return _fft_flops(size, _numel(out_shape) // size, complex_input=False)


def _fft_c2c_flops(input_shape: Shape, dim: Sequence[int], *args: Any, **kwargs: Any) -> int:
    size = _numel([input_shape[d] for d in dim])
    return _fft_flops(size, _numel(input_shape) // size, complex_input=True)


def _bmm_flops(a: torch.Tensor, b: torch.Tensor, *args: Any, **kwargs: Any) -> int:
    """Batched matrix product; complex operands cost four real multiply-accumulates per product."""
    batch, rows, inner = a.shape
    flops = 2 * batch * rows * inner * b.shape[-1]
    return 4 * flops if a.is_complex() else flops


_bmm_flops._get_raw = True  # type: ignore[attr-defined]

EXTRA_FLOP_FORMULAS: dict[Any, Any] = {
    aten.mkldnn_rnn_layer: _rnn_layer_flops,
    aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flops,
    aten._native_multi_head_attention: _native_mha_flops,
    aten._fft_r2c: _fft_r2c_flops,
    aten._fft_c2r: _fft_c2r_flops,
    aten._fft_c2c: _fft_c2c_flops,
    aten.bmm: _bmm_flops,
}


def count_macs(model: nn.Module, inputs: Mapping[str, torch.Tensor]) -> tuple[int, dict[str, torch.Tensor]]:
    """Multiply-accumulates of one inference forward of ``model`` on ``inputs``, and the outputs."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS) as counter:
            outputs = model(inputs)
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2, outputs


@dataclass
class ModelSummary:
    """What ``emomtl model summary`` prints."""

    name: str
    parameters: int
    trainable_parameters: int
    macs_per_second: float
    seconds_of_audio: float
    batch_size: int
    output_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def to_markdown(self) -> str:
        """A Markdown section: totals, inputs and a table of task outputs."""
        def shape(s: tuple[int, ...]) -> str:
            return "(" + ", ".join(["B", *map(str, s)]) + ("," if not s else "") + ")"

        lines = [
            f"### {self.name}",
            "",
            "| quantity | value |",
            "|---|---|",
            f"| parameters | {self.parameters:,} |",
            f"| trainable parameters | {self.trainable_parameters:,} |",
            f"| multiply-accumulates per second of audio | {_si(self.macs_per_second)} |",
            f"| measured on | {self.batch_size} x {self.seconds_of_audio:g} s |",
        ]
        lines += [f"| input `{k}` | {shape(v)} |" for k, v in self.input_shapes.items()]
        lines += ["", "| task | output shape |", "|---|---|"]
        lines += [f"| {task} | {shape(s)} |" for task, s in self.output_shapes.items()]
        return "\n".join(lines) + "\n"


def _si(value: float) -> str:
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {suffix}"
    return f"{value:.0f}"


def summarize(model: nn.Module, example_inputs: Mapping[str, torch.Tensor], seconds_of_audio: float) -> ModelSummary:
    """Summarise ``model`` from one forward on ``example_inputs`` (a batch of clips of ``seconds_of_audio`` each).

    MACs per second of audio = MACs of the batch / (batch size x ``seconds_of_audio``).
    """
    if seconds_of_audio <= 0:
        raise ValueError(f"seconds_of_audio must be positive, got {seconds_of_audio}")
    macs, outputs = count_macs(model, example_inputs)
    batch = next(iter(example_inputs.values())).shape[0]
    parameters = list(model.parameters())
    return ModelSummary(
        name=getattr(model, "name", "") or type(model).__name__,
        parameters=sum(p.numel() for p in parameters),
        trainable_parameters=sum(p.numel() for p in parameters if p.requires_grad),
        macs_per_second=macs / (batch * seconds_of_audio),
        seconds_of_audio=seconds_of_audio,
        batch_size=batch,
        output_shapes={task: tuple(out.shape[1:]) for task, out in outputs.items()},
        input_shapes={key: tuple(value.shape[1:]) for key, value in example_inputs.items()},
    )


def example_inputs(
    input_shapes: Mapping[str, tuple[int, ...]], batch_size: int = 1, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Random inputs of the given per-sample shapes: token ids are zeros, masks all valid, the rest Gaussian."""
    generator = torch.Generator().manual_seed(seed)
    inputs: dict[str, torch.Tensor] = {}
    for key, shape in input_shapes.items():
        full = (batch_size, *shape)
        if key.endswith("_ids"):
            inputs[key] = torch.zeros(full, dtype=torch.long)
        elif key.endswith("attention_mask"):
            inputs[key] = torch.ones(full, dtype=torch.long)
        elif key.endswith("_mask"):
            inputs[key] = torch.ones(full, dtype=torch.bool)
        else:
            inputs[key] = torch.randn(full, generator=generator)
    return inputs


def summarize_config(
    model_config: Mapping[str, Any],
    tasks: list[Any],
    input_shapes: Mapping[str, tuple[int, ...]],
    seconds_of_audio: float,
    batch_size: int = 1,
) -> ModelSummary:
    """Build the model of a recipe's ``model:`` section and summarise it on random inputs (``model summary``)."""
    from emomtl.models.registry import build_model

    model = build_model(model_config, tasks, input_shapes)
    keys = set(model.input_keys) | set(getattr(model, "optional_input_keys", ()))
    inputs = example_inputs({k: v for k, v in input_shapes.items() if k in keys}, batch_size)
    return summarize(model, inputs, seconds_of_audio)
