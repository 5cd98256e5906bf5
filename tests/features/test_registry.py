"""create_extractor: kinds, canonical configs and configuration errors naming the setting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from emomtl.errors import ConfigError
from emomtl.features import available_kinds, create_extractor

EXPECTED_INPUTS = {
    ("waveform", ()): "waveform",
    ("logmel", ()): "logmel",
    ("opensmile", (("level", "functionals"),)): "functionals",
    ("opensmile", (("level", "lld"),)): "lld",
    ("text_encoder", ()): "text_states",
    ("video", ()): "video",
}


def test_every_documented_kind_is_registered() -> None:
    assert set(available_kinds()) >= {"waveform", "logmel", "opensmile", "speech_encoder", "text_encoder", "video"}


@pytest.mark.parametrize(("spec", "input_name"), EXPECTED_INPUTS.items())
def test_input_names(spec: tuple, input_name: str) -> None:
    kind, options = spec
    assert create_extractor({"kind": kind, **dict(options)}).input_name == input_name


def test_speech_encoder_input_name_without_loading_a_model() -> None:
    extractor = create_extractor({"kind": "speech_encoder", "model": "/nowhere/model"})
    assert extractor.input_name == "speech_states"


def test_canonical_config_holds_every_resolved_option() -> None:
    extractor = create_extractor({"kind": "logmel", "n_mels": 128, "n_fft": 800, "hop_length": 400}, sample_rate=8000)
    config = extractor.config
    assert config["kind"] == "logmel" and config["sample_rate"] == 8000
    assert (config["n_mels"], config["n_fft"], config["hop_length"], config["fmin"]) == (128, 800, 400, 0.0)
    assert create_extractor(config).config == config  # round-trips
    assert create_extractor({"kind": "logmel", "sample_rate": 22050}, sample_rate=16000).sample_rate == 22050


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"kind": "spectrogramme"}, r"features\.kind: unknown feature kind 'spectrogramme'"),
        ({}, r"features\.kind: unknown feature kind None"),
        ({"kind": "logmel", "nmels": 64}, r"features\.nmels: unknown option"),
        ({"kind": "logmel", "n_mels": 0}, r"features\.n_mels"),
        ({"kind": "logmel", "fmax": 9000}, r"features\.fmax.*Nyquist"),
        ({"kind": "logmel", "scale": "ln"}, r"features\.scale"),
        ({"kind": "waveform", "normalize": "loud"}, r"features\.normalize"),
        ({"kind": "waveform", "sample_rate": -1}, r"features\.sample_rate"),
        ({"kind": "opensmile", "feature_set": "eGeMAPS9"}, r"features\.feature_set"),
        ({"kind": "opensmile", "level": "frames"}, r"features\.level"),
        ({"kind": "speech_encoder"}, r"features\.model: is required"),
        ({"kind": "speech_encoder", "model": "x", "layer": "last"}, r"features\.layer"),
        ({"kind": "text_encoder", "pooling": "max"}, r"features\.pooling"),
        ({"kind": "video", "dtype": "int16"}, r"features\.dtype"),
    ],
)
def test_config_errors_name_the_setting(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_extractor(config)


def test_setting_prefix_is_configurable() -> None:
    with pytest.raises(ConfigError, match=r"recipe\.features\.audio\.n_fft"):
        create_extractor({"kind": "logmel", "n_fft": -5}, setting="recipe.features.audio")


def test_importing_features_loads_no_heavy_backend() -> None:
    code = (
        "import sys, emomtl.features;"
        "print(sorted(m for m in ('torch', 'transformers', 'opensmile', 'cv2') if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
