"""Generated signals, audio files and tiny local transformers models for the feature tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from signals import voice_like


def write_wav(path: Path, signal: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, signal, rate, subtype=subtype)
    return path


@pytest.fixture(name="voice_like")
def voice_like_fixture():
    """The :func:`voice_like` generator."""
    return voice_like


@pytest.fixture(name="write_wav")
def write_wav_fixture():
    """The :func:`write_wav` writer."""
    return write_wav


@pytest.fixture(scope="session")
def tiny_hubert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide random HuBERT saved locally (no hub access)."""
    import torch
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny_hubert")
    config = HubertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    HubertModel(config).eval().save_pretrained(directory)
    return directory
