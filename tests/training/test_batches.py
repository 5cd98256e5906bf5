"""Batches: padding in feature units before standardisation; feature noise; mixup; label smoothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emomtl.errors import ConfigError
from emomtl.models.tasks import TaskSpec, task_loss
from emomtl.training.augment import augment_batch, check_augment, mixed_task_loss, mixup_batch
from emomtl.runtime.batches import InputSpec, Standardizer, make_batch
from emomtl.runtime.predict import predict_outputs
from emomtl.training.experiment import run_experiment

from engine_fixtures import tiny_recipe


def _logmel_inputs() -> tuple[dict[str, list[np.ndarray]], dict[str, InputSpec]]:
    rng = np.random.default_rng(0)
    inputs = {"logmel": [rng.normal(-30, 10, (4, 12)).astype(np.float32) for _ in range(3)]}
    return inputs, {"logmel": InputSpec("logmel", length=20, train_crop="start", eval_crop="start", pad_value=-80.0,
                                        standardize=True, time_axis=1)}


def test_padding_is_in_feature_units_and_standardised_with_the_rest():
    inputs, specs = _logmel_inputs()
    rows = np.arange(3)
    standardizer = Standardizer.fit(inputs, rows, specs)
    batch = make_batch(inputs, rows, specs, standardizer, train=True, rng=np.random.default_rng(0))["logmel"]
    mean, std = standardizer.mean["logmel"], standardizer.std["logmel"]
    expected_pad = (-80.0 - mean) / std  # per mel band
    np.testing.assert_allclose(batch[0, :, 12:].numpy(), np.repeat(expected_pad[:, None], 8, axis=1), rtol=1e-5)
    np.testing.assert_allclose(batch[0, :, :12].numpy(), (inputs["logmel"][0] - mean[:, None]) / std[:, None],
                               rtol=1e-4)


def test_without_a_pad_value_padding_is_the_mean_zero_after_standardisation():
    inputs, specs = _logmel_inputs()
    specs["logmel"].pad_value = None
    rows = np.arange(3)
    standardizer = Standardizer.fit(inputs, rows, specs)
    batch = make_batch(inputs, rows, specs, standardizer, train=True, rng=np.random.default_rng(0))["logmel"]
    assert not batch[:, :, 12:].any()
    assert batch[:, :, :12].abs().sum() > 0


class _MeanModel(torch.nn.Module):
    """Scores each input by the mean of its (standardised) values: exposes how padding was applied."""

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        mean = batch["logmel"].mean(dim=(1, 2))
        return {"emotion": torch.stack([mean, -mean], dim=1)}


def test_windowed_evaluation_pads_like_training():
    inputs, specs = _logmel_inputs()
    rows = np.arange(3)
    standardizer = Standardizer.fit(inputs, rows, specs)
    task = TaskSpec("emotion", classes=["a", "b"])
    start = predict_outputs(_MeanModel(), inputs, rows, specs, standardizer, [task])["emotion"]
    specs["logmel"].eval_crop = "windows"  # one padded window per (short) utterance: the same input as above
    windowed = predict_outputs(_MeanModel(), inputs, rows, specs, standardizer, [task])["emotion"]
    np.testing.assert_allclose(windowed, start, rtol=1e-5)
    specs["logmel"].pad_value = None  # zero padding after standardisation, in both paths
    windowed = predict_outputs(_MeanModel(), inputs, rows, specs, standardizer, [task])["emotion"]
    specs["logmel"].eval_crop = "start"
    np.testing.assert_allclose(windowed,
                               predict_outputs(_MeanModel(), inputs, rows, specs, standardizer, [task])["emotion"],
                               rtol=1e-5)
    assert not np.allclose(windowed, start)


def test_feature_noise_touches_feature_vectors_only():
    check_augment({"feature_noise": 0.5})
    batch = {"functionals": torch.zeros(64, 100), "waveform": torch.zeros(64, 100), "logmel": torch.zeros(2, 4, 5)}
    out = augment_batch(batch, {"feature_noise": 0.5}, np.random.default_rng(0))
    assert out["functionals"].std().item() == pytest.approx(0.5, rel=0.05)
    assert not out["waveform"].any() and not out["logmel"].any() and not batch["functionals"].any()


def test_label_smoothing_raises_the_loss_of_a_confident_correct_prediction():
    logits, target = torch.tensor([[8.0, 0.0, 0.0]]), torch.tensor([0])
    plain = task_loss(TaskSpec("emotion", classes=["a", "b", "c"]), logits, target)
    smooth = task_loss(TaskSpec("emotion", classes=["a", "b", "c"], label_smoothing=0.2), logits, target)
    expected = torch.nn.functional.cross_entropy(logits, target, label_smoothing=0.2)
    assert smooth.item() == pytest.approx(expected.item()) and smooth > plain
    with pytest.raises(ConfigError, match="label_smoothing"):
        TaskSpec("emotion", loss="nll", label_smoothing=0.1)
    with pytest.raises(ConfigError, match="label_smoothing"):
        TaskSpec("emotion", label_smoothing=1.0)


def test_mixup_mixes_inputs_and_weights_the_partner_losses():
    batch = {"functionals": torch.arange(12, dtype=torch.float32).reshape(4, 3)}
    mixed, perm, lam = mixup_batch(batch, 0.4, np.random.default_rng(3))
    assert 0.0 <= lam <= 1.0 and sorted(perm.tolist()) == [0, 1, 2, 3]
    torch.testing.assert_close(mixed["functionals"],
                               lam * batch["functionals"] + (1 - lam) * batch["functionals"][perm])
    task = TaskSpec("emotion", classes=["a", "b", "c"])
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, -100])
    expected = lam * task_loss(task, logits, target) + (1 - lam) * task_loss(task, logits, target[perm])
    torch.testing.assert_close(mixed_task_loss(task, logits, target, perm, lam), expected)
    unlabeled = torch.full((4,), -100)
    assert mixed_task_loss(task, logits, unlabeled, perm, lam) is None
    value = TaskSpec("valence", kind="regression")
    values, scores = torch.tensor([0.0, 1.0, float("nan"), 3.0]), torch.randn(4)
    mixed_values = lam * values + (1 - lam) * values[perm]
    torch.testing.assert_close(mixed_task_loss(value, scores, values, perm, lam),
                               task_loss(value, scores, mixed_values))


def test_mixup_refuses_masked_inputs_and_bad_alpha():
    with pytest.raises(ConfigError, match="alpha must be > 0"):
        mixup_batch({"x": torch.zeros(2, 3)}, 0.0, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="padding mask"):
        mixup_batch({"x": torch.zeros(2, 3, 4), "x_mask": torch.ones(2, 4, dtype=torch.bool)},
                    0.2, np.random.default_rng(0))


def test_a_run_with_mixup_trains_and_scores(tmp_path):
    recipe = tiny_recipe(tmp_path, train={"epochs": 2, "augment": {"mixup": 0.4}, "max_folds": 1})
    results = run_experiment(recipe, tmp_path / "run")
    assert len(results) == 1 and np.isfinite(results["emotion.ua"]).all()


def _timed_recordings(seconds: list[float]) -> dict[str, list[np.ndarray]]:
    """A 100 Hz "waveform" and 25 fps "video" per recording, each step holding its own time in seconds."""
    return {"waveform": [np.arange(int(s * 100), dtype=np.float32) / 100 for s in seconds],
            "video": [np.repeat((np.arange(int(s * 25)) / 25)[:, None], 3, axis=1).astype(np.float32)
                      for s in seconds]}


def test_random_crops_of_a_recordings_inputs_cover_the_same_moments():
    """Paper 1 joins audio and face frames step by step: both are cut at one shared draw per recording."""
    inputs = _timed_recordings([9.0, 7.5, 12.0, 6.4])
    specs = {"waveform": InputSpec("waveform", length=600, train_crop="random", eval_crop="center", time_axis=0),
             "video": InputSpec("video", length=150, train_crop="random", eval_crop="center", time_axis=0)}
    rows = np.arange(4)
    for train in (True, False):
        batch = make_batch(inputs, rows, specs, None, train=train, rng=np.random.default_rng(3))
        audio_start, video_start = batch["waveform"][:, 0].numpy(), batch["video"][:, 0, 0].numpy()
        np.testing.assert_allclose(audio_start, video_start, atol=1 / 25)
        assert train is False or audio_start.max() > 0.1  # the training crops did move


def test_one_randomly_cropped_input_keeps_its_own_draws():
    """A single random input draws its offsets exactly as before (benchmarks stay reproducible)."""
    inputs = {"waveform": _timed_recordings([9.0, 7.5])["waveform"]}
    spec = InputSpec("waveform", length=600, train_crop="random", time_axis=0)
    batch = make_batch(inputs, np.arange(2), {"waveform": spec}, None, train=True, rng=np.random.default_rng(5))
    rng = np.random.default_rng(5)
    expected = [int(rng.integers(0, len(a) - 600 + 1)) / 100 for a in inputs["waveform"]]
    np.testing.assert_allclose(batch["waveform"][:, 0].numpy(), expected, atol=1e-6)


def test_a_model_joining_inputs_step_by_step_refuses_unlike_crops(tmp_path):
    from emomtl.config import load_recipe, parse_recipe
    from emomtl.runtime.batches import check_aligned_crops, input_specs

    recipe = parse_recipe(load_recipe("dynamic_joint_loss", ["data.root=/nowhere"]))
    check_aligned_crops(recipe, input_specs(recipe))  # the paper recipe crops alike
    unlike = parse_recipe(load_recipe("dynamic_joint_loss", ["data.root=/nowhere", "inputs.video.train_crop=start"]))
    specs = input_specs(unlike)  # an old checkpoint's recipe still gives its specs (inference loads it)
    with pytest.raises(ConfigError, match=r"inputs\.video\.train_crop: 'start' differs from inputs\.waveform"):
        check_aligned_crops(unlike, specs)


def test_speaker_with_one_recording_is_standardised_as_predict_does():
    from emomtl.inference.speakers import speaker_standardizer
    from emomtl.runtime.batches import InputSpec, Standardizer

    rng = np.random.default_rng(0)
    x = [rng.normal(size=3).astype(np.float32) + offset for offset in [0] * 4 + [2] * 4 + [5]]
    speakers = np.array(["A"] * 4 + ["B"] * 4 + ["C"])
    specs = {"f": InputSpec("f", standardize="speaker", time_axis=None)}
    fitted = Standardizer.fit({"f": x}, np.arange(8), specs, speakers)
    training = fitted.apply("f", x[8], specs["f"], row=8)
    bundle = Standardizer.from_state_dict(fitted.state_dict())
    predict = speaker_standardizer(bundle, {"f": [x[8]]}, specs, np.array(["C"], dtype=object))
    np.testing.assert_allclose(training, predict.apply("f", x[8], specs["f"], row=0), rtol=1e-5)
    assert np.abs(training).max() > 1  # not collapsed to zeros by a 1e-6 std


def test_a_model_without_padding_masks_refuses_variable_length_inputs():
    """Padded per batch to its longest row, a row would get another output in another batch."""
    from emomtl.models import build_model
    from emomtl.models.tasks import TaskSpec
    from emomtl.training.loop import check_padding_masks

    tasks = [TaskSpec("emotion", "classification", classes=["a", "b"])]
    cnn = build_model({"name": "multi_exit_cnn", "channels": [4, 4, 4, 4, 4]}, tasks, {"logmel": (64, 256)})
    check_padding_masks(cnn, {"logmel": InputSpec("logmel", length=64, time_axis=1)})  # fixed length: fine
    with pytest.raises(ConfigError, match=r"inputs\.logmel\.length: MultiExitCNN reads no padding mask"):
        check_padding_masks(cnn, {"logmel": InputSpec("logmel", length=None, time_axis=1)})
    blstm = build_model({"name": "cnn_blstm_att", "conv_channels": [8, 8, 8], "bottleneck": 8, "lstm_hidden": 8,
                         "attention_heads": 2}, tasks, {"logmel": (16, 64)})
    check_padding_masks(blstm, {"logmel": InputSpec("logmel", length=None, time_axis=1)})  # it reads the mask
