"""The corpus registry: names, aliases, options and roots."""

from __future__ import annotations

import pytest

from emomtl.data.corpora import available_corpora, load_corpus, resolve_name
from emomtl.errors import ConfigError


def test_every_documented_corpus_is_registered():
    assert set(available_corpora()) == {
        "emodb", "ravdess", "cremad", "savee", "tess", "iemocap", "exvo", "nemo", "turev-db", "manifest", "demo",
    }
    assert resolve_name("turev") == "turev-db"
    assert resolve_name(" EMODB ") == "emodb"


def test_unknown_corpus_lists_the_choices():
    with pytest.raises(ConfigError, match="unknown corpus 'emo'.*emodb"):
        load_corpus("emo", ".")


def test_root_is_required_and_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="needs the folder"):
        load_corpus("emodb")
    with pytest.raises(ConfigError, match="does not exist"):
        load_corpus("emodb", tmp_path / "nowhere")


def test_unknown_adapter_option_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"\['four_class'\]"):
        load_corpus("emodb", tmp_path, four_class=True)


def test_empty_folder_gives_an_empty_conforming_table(tmp_path):
    loaded = load_corpus("savee", tmp_path)
    assert len(loaded.table) == 0 and "speaker" in loaded.table.columns and loaded.skipped == []
