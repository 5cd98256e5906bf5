"""Whisper's audio encoder in torch: transformers' ``WhisperEncoder`` filled from a CTranslate2 ``model.bin``.

Hidden states follow transformers' convention: index 0 is the convolutional front end plus positions, index i
the output of layer i; the last layer's output is passed through the final layer norm (what Whisper's decoder
reads). Inputs are not padded to 30 s: the convolutions run on the real frames and the first T positional
embeddings are added (Whisper's own ``forward`` insists on 3000 frames; padding costs up to 10x and dilutes pooled
statistics). Inputs over 30 s are encoded in 30-s chunks and concatenated along time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.features.whisper.checkpoint import CTranslate2FormatError, read_variables

#: Whisper's front end: 16 kHz audio, 10 ms mel hop, 2x convolutional stride -> 50 encoder frames per second.
SAMPLE_RATE = 16_000
HOP_LENGTH = 160
FRAMES_PER_SECOND = SAMPLE_RATE / HOP_LENGTH / 2
CHUNK_SECONDS = 30


def layer_count(variables: dict[str, object]) -> int:
    """How many transformer layers the encoder variables hold."""
    count = 0
    while f"encoder/layer_{count}/ffn/linear_0/weight" in variables:
        count += 1
    return count


def build_encoder(variables: dict[str, np.ndarray], num_layers: int | None = None) -> nn.Module:
    """A float32 ``WhisperEncoder`` with the first ``num_layers`` layers (all by default) and the file's weights."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    total = layer_count(variables)
    if total == 0:
        raise CTranslate2FormatError("model.bin holds no Whisper encoder layers (encoder/layer_0/...)")
    refuse_quantized(variables)
    num_layers = total if num_layers is None else int(num_layers)
    if not 0 <= num_layers <= total:
        raise ConfigError(f"features.layers: the encoder has {total} layers; cannot keep {num_layers}")
    d_model, n_mels, _ = variables["encoder/conv1/weight"].shape
    config = WhisperConfig(
        num_mel_bins=int(n_mels), d_model=int(d_model), encoder_layers=max(num_layers, 1),
        encoder_attention_heads=int(variables["encoder/num_heads"]) if "encoder/num_heads" in variables
                                else d_model // 64,
        encoder_ffn_dim=int(variables["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(variables["encoder/position_encodings/encodings"].shape[0]),
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, encoder_layerdrop=0.0,
    )
    encoder = WhisperEncoder(config)
    encoder.layers = encoder.layers[:num_layers]
    encoder.load_state_dict(encoder_state_dict(variables, num_layers), strict=True)
    encoder.full_depth = num_layers == total
    return encoder.float().eval()


def refuse_quantized(variables: dict[str, np.ndarray]) -> None:
    """Integer weights with ``weight_scale`` variables (an int8 / int16 conversion) would load as wrong floats."""
    quantized = sorted(name for name, value in variables.items()
                       if name.endswith("weight_scale") or (name.endswith("/weight")
                                                            and np.issubdtype(np.asarray(value).dtype, np.integer)))
    if quantized:
        raise CTranslate2FormatError(
            f"model.bin is a quantized conversion ({quantized[0]}, ...): emomtl reads float16 or float32 "
            "CTranslate2 files; convert the model again to float16 (the converter's quantization option)")


def encoder_state_dict(variables: dict[str, np.ndarray], num_layers: int) -> dict[str, torch.Tensor]:
    """CTranslate2 names -> ``WhisperEncoder`` names; the stacked q, k, v projection is split (k has no bias)."""

    def tensor(name: str) -> torch.Tensor:
        return torch.from_numpy(np.asarray(variables[f"encoder/{name}"], dtype=np.float32).copy())

    state = {
        "conv1.weight": tensor("conv1/weight"), "conv1.bias": tensor("conv1/bias"),
        "conv2.weight": tensor("conv2/weight"), "conv2.bias": tensor("conv2/bias"),
        "embed_positions.weight": tensor("position_encodings/encodings"),
        "layer_norm.weight": tensor("layer_norm/gamma"), "layer_norm.bias": tensor("layer_norm/beta"),
    }
    for i in range(num_layers):
        source, target = f"layer_{i}", f"layers.{i}"
        qkv_weight = tensor(f"{source}/self_attention/linear_0/weight")
        qkv_bias = tensor(f"{source}/self_attention/linear_0/bias")
        q_weight, k_weight, v_weight = qkv_weight.chunk(3, dim=0)
        q_bias, _, v_bias = qkv_bias.chunk(3, dim=0)
        state.update({
            f"{target}.self_attn.q_proj.weight": q_weight, f"{target}.self_attn.q_proj.bias": q_bias,
            f"{target}.self_attn.k_proj.weight": k_weight,
            f"{target}.self_attn.v_proj.weight": v_weight, f"{target}.self_attn.v_proj.bias": v_bias,
            f"{target}.self_attn.out_proj.weight": tensor(f"{source}/self_attention/linear_1/weight"),
            f"{target}.self_attn.out_proj.bias": tensor(f"{source}/self_attention/linear_1/bias"),
            f"{target}.self_attn_layer_norm.weight": tensor(f"{source}/self_attention/layer_norm/gamma"),
            f"{target}.self_attn_layer_norm.bias": tensor(f"{source}/self_attention/layer_norm/beta"),
            f"{target}.fc1.weight": tensor(f"{source}/ffn/linear_0/weight"),
            f"{target}.fc1.bias": tensor(f"{source}/ffn/linear_0/bias"),
            f"{target}.fc2.weight": tensor(f"{source}/ffn/linear_1/weight"),
            f"{target}.fc2.bias": tensor(f"{source}/ffn/linear_1/bias"),
            f"{target}.final_layer_norm.weight": tensor(f"{source}/ffn/layer_norm/gamma"),
            f"{target}.final_layer_norm.bias": tensor(f"{source}/ffn/layer_norm/beta"),
        })
    return state


def load_encoder(model_bin: str | Path, num_layers: int | None = None) -> nn.Module:
    """``build_encoder`` over the encoder variables of a CTranslate2 Whisper file."""
    spec, variables = read_variables(model_bin, prefix="encoder/")
    if not spec.startswith("Whisper"):
        raise CTranslate2FormatError(f"{model_bin}: a {spec!r} model, not a Whisper model")
    return build_encoder(variables, num_layers)


def frame_mask(valid_frames: torch.Tensor, steps: int) -> torch.Tensor:
    """(batch, steps) bool: True on the first ``valid_frames[b]`` encoder frames of each utterance."""
    return torch.arange(steps, device=valid_frames.device)[None, :] < valid_frames[:, None]


def hidden_states(encoder: nn.Module, mel: torch.Tensor,
                  valid_frames: torch.Tensor | None = None) -> list[torch.Tensor]:
    """All hidden states ``[front end, layer 1, ..., layer L]`` of ``mel`` (batch, n_mels, frames), unpadded.

    ``frames`` may be anything up to 3000 (30 s): positions ``0..T-1`` are added, as Whisper does at the start of
    a padded input. A full-depth encoder layer-normalises its last state (transformers' convention).
    ``valid_frames`` (batch,): encoder frames of each utterance of a padded batch; the rest are masked out of
    self-attention, so each utterance attends only to its own frames.
    """
    if mel.shape[-1] > 2 * encoder.embed_positions.num_embeddings:
        raise ValueError(f"whisper: at most {2 * encoder.embed_positions.num_embeddings} mel frames per chunk")
    x = nn.functional.gelu(encoder.conv1(mel))
    x = nn.functional.gelu(encoder.conv2(x)).permute(0, 2, 1)
    x = x + encoder.embed_positions.weight[: x.shape[1]]
    attention_mask = None
    if valid_frames is not None:
        keep = frame_mask(valid_frames, x.shape[1])
        bias = torch.zeros(keep.shape, dtype=x.dtype, device=x.device).masked_fill(~keep, torch.finfo(x.dtype).min)
        attention_mask = bias[:, None, None, :].expand(-1, 1, x.shape[1], -1)
    states = [x]
    for layer in encoder.layers:
        x = layer(x, attention_mask)
        x = x[0] if isinstance(x, tuple) else x
        states.append(x)
    if getattr(encoder, "full_depth", False) and len(states) > 1:
        states[-1] = encoder.layer_norm(states[-1])
    return states


class LogMel:
    """Whisper's log-mel front end (transformers' ``WhisperFeatureExtractor``), without padding to 30 s."""

    def __init__(self, n_mels: int) -> None:
        from transformers import WhisperFeatureExtractor

        self.extractor = WhisperFeatureExtractor(feature_size=n_mels)

    def __call__(self, signal: np.ndarray) -> np.ndarray:
        """(n_mels, frames) float32 of a 16 kHz signal of at most 30 s."""
        features = self.extractor(signal, sampling_rate=SAMPLE_RATE, padding="longest", truncation=False,
                                  return_tensors="np")["input_features"]
        return features[0].astype(np.float32)


#: Whisper's STFT window (400 samples) is reflect-padded by half its length, so a piece needs more samples.
MIN_PIECE_SAMPLES = 201


def chunks(signal: np.ndarray, seconds: int = CHUNK_SECONDS) -> list[np.ndarray]:
    """Consecutive pieces of at most ``seconds`` (the last one may be short; Whisper's positions cap a piece).

    A last piece too short for the STFT (at most 200 samples, 12.5 ms, after a multiple of ``seconds``) is dropped.
    """
    size = seconds * SAMPLE_RATE
    pieces = [signal[start:start + size] for start in range(0, max(len(signal), 1), size)]
    if len(pieces) > 1 and len(pieces[-1]) < MIN_PIECE_SAMPLES:
        pieces.pop()
    return pieces
