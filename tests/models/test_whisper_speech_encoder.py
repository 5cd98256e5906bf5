"""Whisper as a trainable speech branch (models.whisper_speech_encoder): padding, log-mel parity, freezing rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from emomtl.errors import ConfigError
from signals import voice_like as _voice_like
from whisper_fixtures import write_tiny_whisper


@pytest.fixture(scope="module")
def tiny_model_bin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    return write_tiny_whisper(tmp_path_factory.mktemp("whisper"))


@pytest.fixture
def voice_like():
    """The :func:`signals.voice_like` generator."""
    return _voice_like

def whisper_branch(folder: Path, **spec):
    from emomtl.models.speech_encoders import build_speech_encoder, parse_encoder_spec, SPEECH_ENCODER_TYPES

    entry = {"type": "whisper", "path": str(folder), **spec}
    return build_speech_encoder(parse_encoder_spec(entry, "model.speech_encoder", SPEECH_ENCODER_TYPES),
                                "model.speech_encoder")


def test_branch_gives_each_padded_utterance_its_own_states(tiny_model_bin, voice_like):
    branch = whisper_branch(tiny_model_bin[0].parent).eval()
    short, long = torch.from_numpy(voice_like(0.12, seed=1)), torch.from_numpy(voice_like(0.3, seed=2))
    batch = torch.zeros(2, long.numel())
    batch[0, : short.numel()], batch[1] = short, long
    valid = torch.zeros_like(batch, dtype=torch.bool)
    valid[0, : short.numel()], valid[1] = True, True
    with torch.no_grad():
        states, mask = branch(batch, valid)
        alone, _ = branch(short[None], None)
    frames = alone.shape[1]
    assert mask[0].sum() == frames and mask[1].all()
    steps, predicted = branch.output_steps(batch, valid)
    assert steps == states.shape[1] and torch.equal(predicted, mask)
    # the last frame sees the convolution border (zeros vs. the next utterance's padding); the rest is identical
    torch.testing.assert_close(states[0, : frames - 1], alone[0, : frames - 1], rtol=0, atol=1e-4)


def test_branch_log_mel_matches_the_feature_extractor(tiny_model_bin, voice_like):
    from emomtl.features.whisper.encoder import LogMel

    branch = whisper_branch(tiny_model_bin[0].parent)
    signal = voice_like(0.25)
    np.testing.assert_allclose(branch.log_mel(torch.from_numpy(signal)).numpy(), LogMel(8)(signal), atol=1e-4)


def test_branch_freezes_its_front_end_and_the_layers_below_train_top(tiny_model_bin):
    folder = tiny_model_bin[0].parent
    full = whisper_branch(folder)
    trainable = {n for n, p in full.named_parameters() if p.requires_grad}
    assert not any(n.startswith(("encoder.conv", "encoder.embed_positions")) for n in trainable)
    assert any(n.startswith("encoder.layers.0.") for n in trainable)
    top = whisper_branch(folder, train_top=1)
    trainable = {n for n, p in top.named_parameters() if p.requires_grad}
    assert not any(n.startswith("encoder.layers.0.") for n in trainable)
    assert any(n.startswith("encoder.layers.1.") for n in trainable)
    cut = whisper_branch(folder, num_layers=1)
    assert len(cut.encoder.layers) == 1
    frozen = whisper_branch(folder, finetune=False)
    assert not any(p.requires_grad for p in frozen.parameters())
    with pytest.raises(ConfigError, match="num_layers"):
        whisper_branch(folder, num_layers=5)
    with pytest.raises(ConfigError, match="train_top"):
        whisper_branch(folder, num_layers=1, train_top=2)


def test_layer_options_belong_to_the_whisper_type_only():
    from emomtl.models.speech_encoders import SPEECH_ENCODER_TYPES, parse_encoder_spec

    with pytest.raises(ConfigError, match="model.speech_encoder.num_layers: only the whisper type"):
        parse_encoder_spec({"type": "hf", "path": "x", "num_layers": 2}, "model.speech_encoder", SPEECH_ENCODER_TYPES)


def test_branch_refuses_input_longer_than_its_positions(tiny_model_bin):
    branch = whisper_branch(tiny_model_bin[0].parent)
    with pytest.raises(ConfigError, match="at most 0.32 s per input"):
        branch(torch.zeros(1, 16000))
