"""bridge_fusion: ablation switches, modality masking and freezing, encoders from local directories, errors."""

from __future__ import annotations

import math

import pytest
import torch

from emomtl.errors import ConfigError
from emomtl.models import build_model
from emomtl.models.layers import masked_mean
from emomtl.models.modality_masking import BranchFreezer, ModalityMaskSchedule
from model_cases import SMALL, make_tasks, random_inputs

CONFIG, SHAPES = SMALL["bridge_fusion"]


def build(**change):
    torch.manual_seed(0)
    return build_model({**CONFIG, **change}, make_tasks(), SHAPES)


def inputs(batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    return random_inputs(SHAPES, batch=batch, seed=seed)


# ----------------------------------------------------------------------------- ablation switches
@pytest.mark.parametrize("switch", ["self_attention", "cross_attention", "bridge_tokens"])
def test_each_ablation_switch_changes_the_output(switch):
    batch = inputs()
    on = build(**{switch: True}).eval()(batch)["emotion"]
    off = build(**{switch: False}).eval()(batch)["emotion"]
    assert not torch.allclose(on, off)


def test_self_attention_mixes_time_steps_only_when_on():
    batch = inputs()
    changed = {k: v.clone() for k, v in batch.items()}
    changed["speech_states"][:, 0] += 1.0
    for switch in (True, False):
        branch = build(self_attention=switch).eval().audio_branch
        moved = (branch(changed["speech_states"], None) - branch(batch["speech_states"], None))[:, 1:]
        assert (moved.abs().sum() > 0) == switch


def test_bridge_tokens_pair_audio_keys_with_text_values_by_position():
    """With tokens, keys come from one modality and values from the other position by position, so reordering
    only the text steps changes the result; plain cross-attention is invariant to it."""
    batch = inputs()
    batch["text_states"] = torch.randn(2, 12, 16)
    reordered = {**batch, "text_states": batch["text_states"].flip(1)}
    with_tokens = build(bridge_tokens=True, self_attention=False).eval()
    plain = build(bridge_tokens=False, self_attention=False).eval()
    assert hasattr(with_tokens, "tokens") and with_tokens.tokens.shape == (5, 16)
    assert not hasattr(plain, "tokens")
    assert not torch.allclose(with_tokens(batch)["emotion"], with_tokens(reordered)["emotion"])
    torch.testing.assert_close(plain(batch)["emotion"], plain(reordered)["emotion"])


def test_without_cross_attention_the_fused_vector_is_the_mean_of_the_pooled_modalities():
    model = build(cross_attention=False).eval()
    assert not hasattr(model, "audio_keys_attention")
    batch = inputs()
    model(batch)
    audio = model.audio_branch(batch["speech_states"], None)
    text = model.text_branch(batch["text_states"], None)
    expected = (masked_mean(audio) + masked_mean(text)) / 2
    torch.testing.assert_close(model.last_shared_representation, expected)


def test_padded_steps_are_ignored():
    model = build().eval()
    batch = inputs()
    batch["text_mask"] = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    reference = model(batch)["emotion"]
    batch["text_states"][1, 3:] = 100.0
    torch.testing.assert_close(model(batch)["emotion"], reference)
    # the feature layer's ``<input>_mask`` name works too
    renamed = {k: v for k, v in batch.items() if k != "text_mask"} | {"text_states_mask": batch["text_mask"]}
    torch.testing.assert_close(model(renamed)["emotion"], reference)


# ----------------------------------------------------------------------------- masking
def test_masking_probability_starts_at_0_8_decays_by_cosine_and_is_cut_below_0_1():
    schedule = ModalityMaskSchedule()
    p = [schedule.probability(epoch, 20) for epoch in range(20)]
    assert p[0] == pytest.approx(0.8)
    assert p[10] == pytest.approx(0.4)
    assert all(a >= b for a, b in zip(p, p[1:]))
    assert all(v == 0.0 or v >= 0.1 for v in p) and p[-1] == 0.0
    epoch = next(e for e in range(20) if p[e] == 0.0)
    assert 0.8 * (1 + math.cos(math.pi * epoch / 20)) / 2 < 0.1


def test_masked_modality_is_text_60_percent_of_the_time_and_draws_are_reproducible():
    schedule = ModalityMaskSchedule(start=1.0)
    generator = torch.Generator().manual_seed(0)
    draws = [schedule.draw(0, 10, generator)[1] for _ in range(4000)]
    assert set(draws) == {"text", "audio"}
    assert draws.count("text") / len(draws) == pytest.approx(0.6, abs=0.03)
    again = [schedule.draw(0, 10, torch.Generator().manual_seed(s))[1] for s in range(20)]
    assert again == [schedule.draw(0, 10, torch.Generator().manual_seed(s))[1] for s in range(20)]


@pytest.mark.parametrize("masked", ["text", "audio"])
def test_masking_zeroes_and_freezes_the_masked_branch_for_the_epoch(masked):
    model = build(mask_p_start=1.0, mask_text_share=1.0 if masked == "text" else 0.0)
    logged = model.on_epoch_start(0, 10, torch.Generator().manual_seed(0))
    assert logged == {"mask_p": 1.0, "masked": masked}
    frozen = model.text_branch if masked == "text" else model.audio_branch
    other = model.audio_branch if masked == "text" else model.text_branch
    assert all(not p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in other.parameters())
    assert not {id(p) for p in frozen.parameters()} & {id(p) for p in model.shared_parameters()}

    model.train()
    batch = inputs()
    outputs = model(batch)
    sum(o.sum() for o in outputs.values()).backward()
    assert all(p.grad is None for p in frozen.parameters())
    assert all(p.grad is not None for p in other.parameters())
    key = "text_states" if masked == "text" else "speech_states"
    changed = {**batch, key: torch.randn_like(batch[key])}
    torch.manual_seed(1)
    first = model(batch)["emotion"]
    torch.manual_seed(1)
    assert torch.allclose(model(changed)["emotion"], first), "the masked modality still reaches the output"
    model.eval()
    assert not torch.allclose(model(changed)["emotion"], model(batch)["emotion"]), "evaluation must see both"

    # a later epoch without masking releases the branch
    assert model.on_epoch_start(9, 10, torch.Generator().manual_seed(0)) == {"mask_p": 0.0, "masked": "none"}
    assert all(p.requires_grad for p in frozen.parameters())


def test_masking_switched_off_never_masks_or_freezes():
    model = build(masking=False, mask_p_start=1.0)
    assert model.on_epoch_start(0, 10, torch.Generator().manual_seed(0)) == {}
    assert all(p.requires_grad for p in model.parameters())


def test_freezer_keeps_permanently_frozen_parameters_frozen():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1), requires_grad=False)
    freezer = BranchFreezer({"text": [a, b], "audio": []})
    freezer.freeze("text")
    assert not a.requires_grad and not b.requires_grad
    freezer.freeze(None)
    assert a.requires_grad and not b.requires_grad


# ----------------------------------------------------------------------------- pretrained encoders
def test_encoders_load_from_local_directories_without_network(tiny_hubert, tiny_deberta, no_network):
    config = {**CONFIG, "speech_encoder": str(tiny_hubert), "text_encoder": str(tiny_deberta), "hidden_dim": 16,
              "local_files_only": True}
    shapes = {"waveform": (3200,), "text_ids": (7,), "text_attention_mask": (7,)}
    model = build_model(config, make_tasks(), shapes)
    assert model.input_keys == ("waveform", "text_ids")
    speech, text = model.audio_branch.encoder.encoder, model.text_branch.encoder.encoder
    assert type(speech).__name__ == "HubertModel" and type(text).__name__ == "DebertaV2Model"
    assert all(not p.requires_grad for p in speech.feature_extractor.parameters())
    assert all(not p.requires_grad for p in text.embeddings.parameters())
    assert all(p.requires_grad for p in speech.encoder.parameters())
    assert all(p.requires_grad for p in text.encoder.parameters())

    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    batch = {"waveform": torch.randn(2, 3200), "text_ids": torch.randint(0, 100, (2, 7)), "text_attention_mask": mask,
             "waveform_mask": torch.arange(3200)[None, :] < torch.tensor([[3200], [1600]])}
    _, audio_valid, _, text_valid = model.encode(batch)
    assert audio_valid.sum(1).tolist() == [158, 78] and text_valid.sum(1).tolist() == [7, 4]
    outputs = model(batch)
    assert outputs["va"].shape == (2, 2)
    sum(o.sum() for o in outputs.values()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in speech.encoder.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in text.encoder.parameters())
    assert all(p.grad is None for p in speech.feature_extractor.parameters())

    frozen = build_model({**config, "finetune_encoders": False}, make_tasks(), shapes)
    assert all(not p.requires_grad for p in frozen.audio_branch.encoder.parameters())
    assert all(not p.requires_grad for p in frozen.text_branch.encoder.parameters())


def test_masking_with_pretrained_encoders_keeps_their_frozen_parts_frozen(tiny_hubert, tiny_deberta, no_network):
    config = {**CONFIG, "speech_encoder": str(tiny_hubert), "text_encoder": str(tiny_deberta), "hidden_dim": 16,
              "local_files_only": True, "mask_p_start": 1.0, "mask_text_share": 0.0}
    model = build_model(config, make_tasks(), {"waveform": (3200,), "text_ids": (7,)})
    speech = model.audio_branch.encoder.encoder
    assert model.on_epoch_start(0, 4, torch.Generator().manual_seed(0))["masked"] == "audio"
    assert all(not p.requires_grad for p in speech.parameters())

    def not_run(*args, **kwargs):
        raise AssertionError("the masked encoder ran")

    waveform_mask = torch.arange(3200)[None, :] < torch.tensor([[3200], [1600]])
    batch = {"waveform": torch.randn(2, 3200), "waveform_mask": waveform_mask,
             "text_ids": torch.randint(0, 100, (2, 7))}
    speech.forward = not_run
    model.train()
    audio, audio_valid, _, _ = model.encode(batch)
    # the tiny HuBERT's convs (kernel 10 stride 5, kernel 8 stride 4): 3200 samples -> 158 frames, 1600 -> 78
    assert audio.shape == (2, 158, 16) and not audio.any()
    assert audio_valid.sum(1).tolist() == [158, 78]
    del speech.forward
    model.on_epoch_start(3, 4, torch.Generator().manual_seed(0))
    assert all(p.requires_grad for p in speech.encoder.parameters())
    assert all(not p.requires_grad for p in speech.feature_extractor.parameters())


def test_encoder_width_mismatch_needs_a_projection(tiny_hubert, tiny_deberta, no_network):
    config = {**CONFIG, "speech_encoder": str(tiny_hubert), "text_encoder": str(tiny_deberta), "local_files_only": True}
    with pytest.raises(ConfigError, match=r"model\.hidden_dim: speech states have 32 dims but text states 24"):
        build_model(config, make_tasks(), {"waveform": (3200,), "text_ids": (7,)})
    with pytest.raises(ConfigError, match=r"model\.speech_dim: 1024 does not match the 32 dims of encoder"):
        build_model({**config, "hidden_dim": 16, "speech_dim": 1024}, make_tasks(),
                    {"waveform": (3200,), "text_ids": (7,)})


def test_unloadable_encoder_names_the_setting(tmp_path, no_network):
    with pytest.raises(ConfigError, match=r"model\.speech_encoder\.path: cannot load encoder"):
        build_model({**CONFIG, "speech_encoder": str(tmp_path / "missing"), "local_files_only": True}, make_tasks(),
                    {"waveform": (3200,), "text_states": (6, 16)})


# ----------------------------------------------------------------------------- configuration errors
@pytest.mark.parametrize(("config", "shapes", "match"), [
    ({}, {"speech_states": (12, 16)}, r"model\.text_encoder: text precomputed states requested but the corpus "
                                      r"provides no 'text_states' input"),
    ({}, {"speech_states": (12, 16), "text_states": (6, 8)}, r"model\.hidden_dim: speech states have 16 dims"),
    ({"text_dim": 32}, SHAPES, r"model\.text_dim: 32 does not match the 16 dims of input 'text_states'"),
    ({"self_attention_heads": 3}, SHAPES, r"model\.self_attention_heads: 3 heads do not divide the fusion width 16"),
    ({"mask_p_start": 1.5}, SHAPES, r"model\.mask_p_start: must be in \[0, 1\]"),
    ({"num_bridge_tokens": 0}, SHAPES, r"model\.num_bridge_tokens: must be positive"),
])
def test_bad_settings_are_refused_before_training(config, shapes, match):
    with pytest.raises(ConfigError, match=match):
        build_model({**CONFIG, **config}, make_tasks(), shapes)


def test_a_projection_reconciles_different_precomputed_widths():
    model = build_model({**CONFIG, "hidden_dim": 8}, make_tasks(), {"speech_states": (12, 16), "text_states": (6, 24)})
    out = model({"speech_states": torch.randn(2, 12, 16), "text_states": torch.randn(2, 6, 24)})
    assert out["emotion"].shape == (2, 4) and model.last_shared_representation.shape == (2, 8)


# ----------------------------------------------------------------------------- fine-tuning the encoders
def encoder_model(tiny_hubert, tiny_deberta, **change):
    config = {**CONFIG, "speech_encoder": {"type": "hf", "path": str(tiny_hubert), "local_files_only": True},
              "text_encoder": {"path": str(tiny_deberta), "local_files_only": True}, "hidden_dim": 16, **change}
    torch.manual_seed(0)
    return build_model(config, make_tasks(), {"waveform": (3200,), "text_ids": (7,)})


def encoder_batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {"waveform": torch.randn(2, 3200, generator=generator),
            "text_ids": torch.randint(0, 100, (2, 7), generator=generator)}


def adam_step(model, optimizer, batch) -> None:
    """One step as the training loop takes it: grads set to None, backward, clip to norm 1, Adam step."""
    optimizer.zero_grad(set_to_none=True)
    outputs = model(batch)
    sum(o.square().mean() for o in outputs.values()).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def test_a_masked_step_leaves_the_masked_encoder_bit_identical_despite_adam_momentum(tiny_hubert, tiny_deberta,
                                                                                      no_network):
    """Adam (with weight decay) has moment estimates for the speech encoder from an unmasked step; a masked step
    must still not move it: the masked branch is not run, so its gradients stay None and Adam skips them (a zero
    gradient would not be enough: the first moment would keep moving the weights)."""
    model = encoder_model(tiny_hubert, tiny_deberta, mask_p_start=1.0, mask_text_share=0.0).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=0.1)
    speech = model.audio_branch
    model.on_epoch_start(9, 10, torch.Generator().manual_seed(0))  # p = 0: nothing masked
    before = {k: v.clone() for k, v in speech.state_dict().items()}
    adam_step(model, optimizer, encoder_batch())
    moved = {k for k, v in speech.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("encoder.encoder.encoder.layers.") for k in moved)
    assert not any(".feature_extractor." in k or ".feature_projection." in k for k in moved)
    assert any(optimizer.state[p] for p in speech.parameters())  # Adam now holds moments for the branch

    assert model.on_epoch_start(0, 10, torch.Generator().manual_seed(0))["masked"] == "audio"
    before = {k: v.clone() for k, v in speech.state_dict().items()}
    text_before = {k: v.clone() for k, v in model.text_branch.state_dict().items()}
    adam_step(model, optimizer, encoder_batch())
    assert all(torch.equal(v, before[k]) for k, v in speech.state_dict().items())
    assert all(p.grad is None for p in speech.parameters())
    assert not all(torch.equal(v, text_before[k]) for k, v in model.text_branch.state_dict().items())


def test_another_speech_encoder_type_plugs_in_through_the_registry(tiny_deberta, no_network, monkeypatch):
    from emomtl.models import speech_encoders
    from emomtl.models.speech_encoders import SpeechEncoderModule, register_speech_encoder

    class FrameStub(SpeechEncoderModule):
        """Frames of 160 samples through a linear front end and a linear 'transformer'."""

        width = 16

        def __init__(self) -> None:
            super().__init__()
            self.front, self.body = torch.nn.Linear(160, 16), torch.nn.Linear(16, 16)

        def forward(self, waveform, valid=None):
            frames = waveform[:, : waveform.shape[1] // 160 * 160].reshape(waveform.shape[0], -1, 160)
            return self.body(self.front(frames)), self.output_steps(waveform, valid)[1]

        def output_steps(self, waveform, valid=None):
            steps = waveform.shape[1] // 160
            return steps, None if valid is None else valid[:, ::160][:, :steps]

        def freeze_front_end(self):
            self.front.requires_grad_(False)
            return ["front"]

    monkeypatch.setitem(speech_encoders.SPEECH_ENCODER_TYPES, "stub", None)  # removed again after the test
    register_speech_encoder("stub")(lambda spec, setting: FrameStub())
    config = {**CONFIG, "speech_encoder": {"type": "stub", "path": "unused"}, "hidden_dim": 16,
              "text_encoder": {"path": str(tiny_deberta), "local_files_only": True}}
    model = build_model(config, make_tasks(), {"waveform": (3200,), "text_ids": (7,)})
    assert isinstance(model.audio_branch.encoder, FrameStub)
    assert not any(p.requires_grad for p in model.audio_branch.encoder.front.parameters())
    assert model(encoder_batch())["emotion"].shape == (2, 4)
    frozen = build_model({**config, "speech_encoder": {"type": "stub", "path": "unused", "finetune": False}},
                         make_tasks(), {"waveform": (3200,), "text_ids": (7,)})
    assert not any(p.requires_grad for p in frozen.audio_branch.encoder.parameters())


@pytest.mark.parametrize(("entry", "match"), [
    ({"type": "whisperx", "path": "x"}, r"model\.speech_encoder\.type: 'whisperx' is not one of \['hf'"),
    ({"type": "hf"}, r"model\.speech_encoder\.path: is required"),
    ({"path": "x", "finetun": True}, r"model\.speech_encoder: unknown key\(s\) \['finetun'\]"),
])
def test_bad_encoder_entries_name_the_setting(entry, match):
    with pytest.raises(ConfigError, match=match):
        build_model({**CONFIG, "speech_encoder": entry}, make_tasks(), {"waveform": (3200,), "text_states": (6, 16)})


def test_the_speech_front_end_is_the_conv_encoder_and_its_projection(tiny_hubert, tiny_deberta, no_network):
    speech = encoder_model(tiny_hubert, tiny_deberta).audio_branch.encoder
    frozen = {n for n, p in speech.encoder.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in speech.encoder.named_parameters()
                      if n.startswith(("feature_extractor.", "feature_projection."))}
    assert frozen and speech.freeze_front_end() == ["feature_extractor", "feature_projection"]


def test_waveforms_are_normalised_when_the_model_ships_a_normalising_feature_extractor(tmp_path, tiny_hubert):
    import shutil

    from transformers import Wav2Vec2FeatureExtractor

    from emomtl.models.pretrained import normalize_waveform

    shutil.copytree(tiny_hubert, tmp_path / "model")
    Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(tmp_path / "model")
    plain = encoder_model(tiny_hubert, tiny_hubert).audio_branch.encoder
    normalising = encoder_model(tmp_path / "model", tiny_hubert).audio_branch.encoder
    assert not plain.normalize and normalising.normalize
    waveform = torch.randn(2, 3200) * 3 + 1
    valid = torch.arange(3200)[None, :] < torch.tensor([[3200], [1600]])
    x = normalize_waveform(waveform, valid)
    reference = Wav2Vec2FeatureExtractor(do_normalize=True)([w[: int(n)].numpy()
                                                             for w, n in zip(waveform, valid.sum(1))],
                                                            sampling_rate=16000, padding=True,
                                                            return_attention_mask=True,
                                                            return_tensors="pt")
    torch.testing.assert_close(x, reference["input_values"], atol=1e-4, rtol=1e-4)
    normalising.eval()
    torch.testing.assert_close(normalising(waveform * 5, valid)[0], normalising(waveform, valid)[0], atol=1e-4,
                               rtol=1e-4)


def test_token_ids_outside_the_text_encoders_vocabulary_are_refused(tiny_hubert, tiny_deberta, no_network):
    model = encoder_model(tiny_hubert, tiny_deberta)
    batch = {**encoder_batch(), "text_ids": torch.full((2, 7), 30000)}
    with pytest.raises(ConfigError, match=r"model\.text_encoder\.path: token id 30000 is outside .* vocabulary of 100"):
        model(batch)


def test_an_encoder_with_its_own_learning_rate_gets_its_own_scheduled_group(tiny_hubert, tiny_deberta, no_network):
    from emomtl.training.optim import build_optimizer, build_scheduler

    config = {**CONFIG, "speech_encoder": {"path": str(tiny_hubert), "lr": 1e-5}, "text_encoder": str(tiny_deberta),
              "hidden_dim": 16, "local_files_only": True}
    model = build_model(config, make_tasks(), {"waveform": (3200,), "text_ids": (7,)})
    groups = model.learning_rate_groups()
    assert [g["name"] for g in groups] == ["model.speech_encoder"] and groups[0]["lr"] == 1e-5
    optimizer = build_optimizer(model.parameters(), {"name": "adam", "lr": 3e-5}, model_groups=groups)
    speech = {id(p) for p in model.audio_branch.encoder.parameters()}
    assert [g["lr"] for g in optimizer.param_groups] == [3e-5, 1e-5]
    assert not speech & {id(p) for p in optimizer.param_groups[0]["params"]}  # each parameter in one group
    assert {id(p) for p in optimizer.param_groups[1]["params"]} == speech
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))
    scheduler = build_scheduler(optimizer, {"name": "cosine"}, 4)
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[1]["lr"] / 1e-5 == pytest.approx(optimizer.param_groups[0]["lr"] / 3e-5)
    with pytest.raises(ConfigError, match=r"model\.speech_encoder\.lr: must be > 0"):
        build_model({**config, "speech_encoder": {"path": str(tiny_hubert), "lr": 0}}, make_tasks(),
                    {"waveform": (3200,), "text_ids": (7,)})
