"""wave_av_lstm: paper layer sizes, modality variants, per-step audio/video alignment, configuration errors."""

from __future__ import annotations

import pytest
import torch

from emomtl.errors import ConfigError
from emomtl.models import build_model
from emomtl.models.wave_av_lstm import RawAudioFrontEnd, WaveAVLSTMSettings, chunk_steps
from model_cases import SMALL, make_tasks, random_inputs

CONFIG, SHAPES = SMALL["wave_av_lstm"]


def test_paper_front_end_has_80_and_4000_tap_kernels_and_4000_runs_through_the_fft():
    settings = WaveAVLSTMSettings()
    assert settings.kernel_taps() == [80, 4000]
    front = RawAudioFrontEnd(settings)
    convs = [m for m in front.modules() if type(m).__name__ == "LongConv1d"]
    assert [c.kernel_size for c in convs] == [80, 4000]
    assert [c.uses_fft for c in convs] == [False, True]
    assert front.out_channels == 4  # 40 maps max-pooled by 10 across channels


def test_paper_sizes_give_1280_audio_features_per_40_ms_step_and_150_steps_for_6_s_at_25_fps():
    model = build_model({"name": "wave_av_lstm", "modalities": "audio"}, make_tasks(), {"waveform": (96000,)})
    assert model.audio_step == 320
    assert model.step_features == 1280
    assert model.lstm.hidden_size == 256 and model.lstm.num_layers == 2 and model.lstm.dropout == 0.5


@pytest.mark.parametrize(("modalities", "keys"), [("audio", ("waveform",)), ("video", ("video",)),
                                                  ("audio+video", ("waveform", "video"))])
def test_modalities_select_the_branches_and_inputs(modalities, keys):
    model = build_model({**CONFIG, "modalities": modalities}, make_tasks(), SHAPES)
    assert model.input_keys == keys
    assert (model.audio is not None) == ("waveform" in keys)
    assert (model.video is not None) == ("video" in keys)
    outputs = model(random_inputs({k: SHAPES[k] for k in keys}, batch=2))
    assert outputs["emotion"].shape == (2, 4)


def test_switching_modalities_changes_the_computation():
    inputs = random_inputs(SHAPES, batch=2)
    results = {}
    for modalities in ("audio", "video", "audio+video"):
        torch.manual_seed(0)
        model = build_model({**CONFIG, "modalities": modalities}, make_tasks(), SHAPES).eval()
        results[modalities] = model(inputs)["emotion"]
        changed = {k: v.clone() for k, v in inputs.items()}
        changed["video"] = torch.randn_like(changed["video"])
        moved = not torch.allclose(model(changed)["emotion"], results[modalities])
        assert moved == ("video" in modalities)
    assert model.step_features == model.audio.out_channels * model.audio_step + model.video.out_features


def test_audio_steps_align_with_video_frames_one_step_per_frame():
    model = build_model(CONFIG, make_tasks(), SHAPES).eval()
    # 4000 samples, pooled by 2 -> 2000; 5 frames -> 400 pooled samples (50 ms) per step
    assert model.audio_step == 400
    inputs = random_inputs(SHAPES, batch=2)
    steps = model.step_sequences(inputs)
    assert steps.shape[:2] == (2, 5)
    changed = {k: v.clone() for k, v in inputs.items()}
    changed["video"][:, 3] += 1.0
    difference = (model.step_sequences(changed) - steps).abs().sum(dim=(0, 2))
    assert difference[3] > 0 and torch.all(difference[[0, 1, 2, 4]] == 0)


def test_chunk_steps_flattens_consecutive_samples_of_every_map():
    maps = torch.arange(2 * 10, dtype=torch.float32).view(1, 2, 10)
    steps = chunk_steps(maps, 4)
    assert steps.shape == (1, 2, 8)
    assert steps[0, 1].tolist() == [4, 5, 6, 7, 14, 15, 16, 17]


def test_lstm_uses_glorot_initialisation():
    model = build_model(CONFIG, make_tasks(), SHAPES)
    weight = model.lstm.weight_hh_l0
    bound = (6 / (weight.shape[0] + weight.shape[1])) ** 0.5
    assert weight.abs().max() <= bound and weight.abs().max() > 0.8 * bound
    assert torch.all(model.lstm.bias_ih_l0 == 0)


def test_missing_video_names_the_modality_setting():
    with pytest.raises(ConfigError, match=r"model\.modalities: video requested but the corpus provides no 'video'"):
        build_model(CONFIG, make_tasks(), {"waveform": (4000,)})


@pytest.mark.parametrize(("change", "match"), [
    ({"channel_pool": 3}, r"model\.channel_pool: 3 does not divide"),
    ({"audio_kernel_ms": [5.0]}, r"model\.audio_kernel_ms"),
    ({"resnet_depth": 101}, r"model\.resnet_depth: 101 is not one of"),
    ({"dropout": 1.5}, r"model\.dropout"),
    ({"modalities": "audio", "step_ms": 1000.0}, r"model\.step_ms"),
])
def test_bad_settings_are_refused_naming_the_setting(change, match):
    with pytest.raises(ConfigError, match=match):
        build_model({**CONFIG, **change}, make_tasks(), SHAPES)


def test_step_norm_layer_normalises_each_step_before_the_lstm_and_none_keeps_the_paper_model():
    paper = build_model({**CONFIG, "modalities": "audio"}, make_tasks(), SHAPES)
    normed = build_model({**CONFIG, "modalities": "audio", "step_norm": "layer"}, make_tasks(), SHAPES)
    assert isinstance(paper.step_norm, torch.nn.Identity)
    extra = sum(p.numel() for p in normed.parameters()) - sum(p.numel() for p in paper.parameters())
    assert extra == 2 * normed.step_features  # LayerNorm's gain and bias, nothing else
    inputs = random_inputs({"waveform": SHAPES["waveform"]}, batch=3)
    steps = normed.step_norm(normed.step_sequences(inputs))
    assert torch.allclose(steps.mean(-1), torch.zeros(steps.shape[:2]), atol=1e-4)
    assert torch.allclose(steps.std(-1, unbiased=False), torch.ones(steps.shape[:2]), atol=1e-2)
    captured = {}

    def keep_input(module, args, output):
        captured["input"] = args[0]

    normed.lstm.register_forward_hook(keep_input)
    normed(inputs)
    assert torch.allclose(captured["input"], steps)
    with pytest.raises(ConfigError, match=r"model\.step_norm"):
        build_model({**CONFIG, "modalities": "audio", "step_norm": "batch"}, make_tasks(), SHAPES)
