"""Speed perturbation (``train.augment.speed``): the audio front end, cached perturbed copies, per-row views."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from emomtl.data.audio import load_audio, perturb_speed
from emomtl.errors import ConfigError
from emomtl.features import create_extractor
from emomtl.training.augment import check_augment
from emomtl.runtime.batches import InputSpec, InputView, Standardizer, fit_views, make_batch
from emomtl.training.loop import SplitJob, train_split
from emomtl.training.experiment import build_splits
from emomtl.training.prepare import fit_tasks, prepare_corpus

from engine_fixtures import tiny_recipe

RATE = 16000


def _dominant_hz(signal: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / RATE)[np.argmax(spectrum)])


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_scales_duration_down_and_pitch_up_by_the_factor(factor):
    tone = np.sin(2 * np.pi * 200 * np.arange(RATE) / RATE).astype(np.float32)
    fast = perturb_speed(tone, RATE, factor)
    assert abs(len(fast) - RATE / factor) <= 2
    assert _dominant_hz(fast) == pytest.approx(200 * factor, abs=2)


def test_load_audio_applies_the_speed_after_resampling(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, np.sin(2 * np.pi * 300 * np.arange(44100) / 44100).astype(np.float32), 44100)
    plain, slow = load_audio(path, RATE), load_audio(path, RATE, speed=0.9)
    assert len(plain) == RATE
    assert abs(len(slow) - RATE / 0.9) <= 2
    assert _dominant_hz(slow) == pytest.approx(270, abs=2)


def test_speed_is_part_of_the_cache_identity_only_when_it_perturbs():
    base = {"kind": "logmel", "n_mels": 16}
    plain = create_extractor(base).cache_identity()
    assert "speed" not in plain  # caches written before the option existed stay valid
    assert create_extractor({**base, "speed": 1.0}).cache_identity() == plain
    assert create_extractor({**base, "speed": 0.9}).cache_identity()["speed"] == 0.9


def test_an_out_of_range_speed_names_the_setting():
    with pytest.raises(ConfigError, match=r"features\.logmel\.speed"):
        create_extractor({"kind": "logmel", "speed": 3.0}, setting="features.logmel")


@pytest.mark.parametrize("value", [[1.0], [0.9, 0.9], "fast", [0.3], [True]])
def test_bad_speed_lists_are_refused(value):
    with pytest.raises(ConfigError, match=r"train\.augment\.speed"):
        check_augment({"speed": value})


def test_views_pick_each_rows_copy_and_its_own_speaker_statistics():
    spec = {"x": InputSpec("x", standardize="speaker", time_axis=None)}
    speakers = np.array(["a", "a", "b", "b"])
    original = {"x": [np.full(2, v, dtype=np.float32) for v in (0.0, 2.0, 10.0, 12.0)]}
    copy = {"x": [np.full(2, v, dtype=np.float32) for v in (100.0, 104.0, 50.0, 54.0)]}
    rows = np.arange(4)
    standardizer = Standardizer.fit(original, rows, spec, speakers)
    views = fit_views(InputView(original, standardizer), [copy], rows, spec, speakers)
    batch = make_batch(original, rows, spec, standardizer, True, views=views, view_of_row=np.array([0, 1, 1, 0]))
    # every row is z-normalised with the statistics of its own (speaker, copy): -1 or +1, whichever copy it came from
    np.testing.assert_allclose(batch["x"][:, 0].numpy(), [-1.0, 1.0, -1.0, 1.0], atol=1e-4)
    assert views[1].standardizer.mean == standardizer.mean  # the global fall-back stays the original's


def test_prepare_corpus_extracts_a_cached_copy_per_factor(tmp_path):
    recipe = tiny_recipe(tmp_path, train={"augment": {"speed": [0.9, 1.1]}})
    prepared = prepare_corpus(recipe, progress=False)
    assert sorted(prepared.views) == [0.9, 1.1]
    frames = [np.array([a.shape[1] for a in prepared.views[f]["logmel"]]) for f in (0.9, 1.1)]
    original = np.array([a.shape[1] for a in prepared.inputs["logmel"]])  # (mels, frames)
    assert (frames[0] > original).all() and (frames[1] < original).all()  # slower is longer, faster shorter
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(cached) == 3  # one cache folder per configuration: the original and the two factors


def test_training_with_speed_perturbation_is_deterministic_and_differs_from_without(tmp_path):
    def run(folder: str, **train):
        recipe = tiny_recipe(tmp_path, train={"epochs": 2, **train})
        prepared = prepare_corpus(recipe, progress=False)
        split = build_splits(recipe, prepared.table)[0]
        job = SplitJob(recipe, fit_tasks(recipe, prepared.table), prepared, split, recipe["weighting"], 0,
                       tmp_path / folder)
        return train_split(job, resume=False)["weights"]

    perturbed = run("a", augment={"speed": [0.9, 1.1]})
    assert perturbed == run("b", augment={"speed": [0.9, 1.1]})
    assert perturbed != run("c")
