"""Small architecture configurations, tasks of every kind and random inputs shared by the model tests."""

from __future__ import annotations

from typing import Any

import torch

from emomtl.models.tasks import TaskSpec

#: Per architecture: a small ``model:`` section and the per-sample input shapes it is built for.
SMALL: dict[str, tuple[dict[str, Any], dict[str, tuple[int, ...]]]] = {
    "wave_av_lstm": (
        {"name": "wave_av_lstm", "audio_filters": [8, 10], "channel_pool": 5, "audio_kernel_ms": [5.0, 100.0],
         "resnet_depth": 18, "resnet_width": 4, "lstm_hidden": 12, "dropout": 0.1},
        {"waveform": (4000,), "video": (5, 3, 32, 32)},
    ),
    "multi_exit_cnn": (
        {"name": "multi_exit_cnn", "channels": [4, 6, 8, 8, 8], "exits": {"gender": 1, "va": 3}},
        {"logmel": (64, 64)},
    ),
    "bridge_fusion": (
        {"name": "bridge_fusion", "self_attention_heads": 4, "cross_attention_heads": 4, "num_bridge_tokens": 5,
         "dropout": 0.0},
        {"speech_states": (12, 16), "text_states": (6, 16)},
    ),
    "cnn_blstm_att": (
        {"name": "cnn_blstm_att", "conv_channels": [16, 24, 32], "bottleneck": 16, "lstm_hidden": 8,
         "attention_heads": 4},
        {"logmel": (32, 20)},
    ),
    "functional_mlp": ({"name": "functional_mlp", "hidden": [16, 8]}, {"functionals": (88,)}),
}


def make_tasks() -> list[TaskSpec]:
    """One task of every kind and output convention."""
    return [
        TaskSpec("emotion", classes=["anger", "happiness", "neutral", "sadness"]),
        TaskSpec("gender", classes=["female", "male"], loss="nll"),
        TaskSpec("va", kind="multi_regression", columns=["valence", "arousal"], loss="ccc", activation="sigmoid"),
        TaskSpec("age", kind="regression", activation="tanh"),
    ]


def random_inputs(shapes: dict[str, tuple[int, ...]], batch: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {key: torch.randn((batch, *shape), generator=generator) for key, shape in shapes.items()}
