"""A tiny random Whisper encoder written as a CTranslate2 ``model.bin`` (for the Whisper tests; not a conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from emomtl.features.whisper.checkpoint import write_variables


def tiny_transformers_encoder(layers: int = 2, positions: int = 16):
    """A random transformers ``WhisperEncoder`` small enough to run in milliseconds."""
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    torch.manual_seed(0)
    config = WhisperConfig(num_mel_bins=8, d_model=16, encoder_layers=layers, encoder_attention_heads=2,
                           encoder_ffn_dim=32, max_source_positions=positions)
    encoder = WhisperEncoder(config).eval()
    with torch.no_grad():  # random, non-trivial values everywhere (transformers initialises biases to zero)
        for parameter in encoder.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return encoder


def to_ctranslate2(encoder) -> dict[str, np.ndarray]:
    """The encoder's weights under CTranslate2's names (q, k, v stacked; k's bias stored as zeros), float16."""

    def half(t: torch.Tensor) -> np.ndarray:
        return t.detach().numpy().astype(np.float16)

    out = {"encoder/conv1/weight": half(encoder.conv1.weight), "encoder/conv1/bias": half(encoder.conv1.bias),
           "encoder/conv2/weight": half(encoder.conv2.weight), "encoder/conv2/bias": half(encoder.conv2.bias),
           "encoder/position_encodings/encodings": half(encoder.embed_positions.weight),
           "encoder/layer_norm/gamma": half(encoder.layer_norm.weight),
           "encoder/layer_norm/beta": half(encoder.layer_norm.bias),
           "encoder/num_heads": np.array(encoder.config.encoder_attention_heads, dtype=np.int16)}
    for i, layer in enumerate(encoder.layers):
        attention, p = layer.self_attn, f"encoder/layer_{i}"
        out[f"{p}/self_attention/linear_0/weight"] = half(torch.cat(
            [attention.q_proj.weight, attention.k_proj.weight, attention.v_proj.weight]))
        out[f"{p}/self_attention/linear_0/bias"] = half(torch.cat(
            [attention.q_proj.bias, torch.zeros_like(attention.q_proj.bias), attention.v_proj.bias]))
        for ours, theirs in [("self_attention/linear_1", attention.out_proj), ("ffn/linear_0", layer.fc1),
                             ("ffn/linear_1", layer.fc2)]:
            out[f"{p}/{ours}/weight"], out[f"{p}/{ours}/bias"] = half(theirs.weight), half(theirs.bias)
        for ours, theirs in [("self_attention/layer_norm", layer.self_attn_layer_norm),
                             ("ffn/layer_norm", layer.final_layer_norm)]:
            out[f"{p}/{ours}/gamma"], out[f"{p}/{ours}/beta"] = half(theirs.weight), half(theirs.bias)
    out["decoder/embeddings/weight"] = np.ones((4, 16), dtype=np.float16)  # skipped by the encoder reader
    return out


def write_tiny_whisper(folder: Path, positions: int = 16) -> tuple[Path, object]:
    """``folder/model.bin`` of a 2-layer, 16-wide, 8-mel encoder, and the float16-rounded reference encoder."""
    encoder = tiny_transformers_encoder(positions=positions)
    with torch.no_grad():  # the file is float16: round the reference to the same values
        for parameter in encoder.parameters():
            parameter.copy_(parameter.half().float())
    path = Path(folder) / "model.bin"
    write_variables(path, "WhisperSpec", to_ctranslate2(encoder))
    return path, encoder
