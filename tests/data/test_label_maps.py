"""Label maps merge and drop labels; pooling keeps corpora's speakers apart."""

from __future__ import annotations

import pandas as pd
import pytest

from emomtl.data.label_maps import apply_label_map, available_label_maps, load_label_map, pool_corpora
from emomtl.data.schema import conform
from emomtl.errors import ConfigError, LabelError


def _table(corpus: str, speakers: list[str], emotions: list[str | None]) -> pd.DataFrame:
    return conform(pd.DataFrame({
        "path": [f"/{corpus}/{i}.wav" for i in range(len(speakers))], "corpus": corpus, "speaker": speakers,
        "gender": None, "language": "en", "emotion": emotions,
    }))


def test_shared4_merges_calm_and_excited_and_drops_the_rest():
    label_map = load_label_map("shared4")
    assert label_map.classes == ["anger", "happiness", "neutral", "sadness"]
    table = _table("x", list("abcdefgh"), ["anger", "calm", "excited", "boredom", "fear", "Sadness", None, "neutral"])
    mapped, dropped = apply_label_map(table, label_map)
    assert mapped["emotion"].tolist() == ["anger", "neutral", "happiness", "sadness", "neutral"]
    assert mapped["speaker"].tolist() == ["a", "b", "c", "f", "h"]
    assert dropped == 3


def test_bundled_maps_are_listed_and_loadable():
    names = available_label_maps()
    assert {"shared4", "iemocap4", "basic7"} <= set(names)
    for name in names:
        assert load_label_map(name).mapping


def test_inline_map_keep_missing_and_other_column():
    table = _table("x", ["a", "b", "c"], ["anger", None, "fear"])
    mapped, dropped = apply_label_map(table, {"anger": "negative", "fear": None}, keep_missing=True)
    assert mapped["emotion"].iloc[0] == "negative" and pd.isna(mapped["emotion"].iloc[1])
    assert len(mapped) == 2 and dropped == 1
    with pytest.raises(LabelError, match="'mood'"):
        apply_label_map(table, {"anger": "negative"}, column="mood")


def test_label_map_from_a_yaml_file_with_unmapped_keep(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nunmapped: keep\nmap: {happiness: joy}\n")
    table = _table("x", ["a", "b"], ["happiness", "boredom"])
    mapped, dropped = apply_label_map(table, str(path))
    assert mapped["emotion"].tolist() == ["joy", "boredom"] and dropped == 0


def test_bad_label_maps_give_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="bundled: .*shared4"):
        load_label_map("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmapping: {a: b}\n")
    with pytest.raises(ConfigError, match="'map'"):
        load_label_map(bad)
    bad.write_text("map: {a: b}\nunmapped: maybe\n")
    with pytest.raises(ConfigError, match="unmapped"):
        load_label_map(bad)


def test_pool_corpora_prefixes_speakers_by_corpus():
    first = _table("emodb", ["03", "08"], ["anger", "sadness"])
    second = _table("turev-db", ["03", "1157"], ["anger", "calm"])
    pooled = pool_corpora([first, second])
    assert pooled["speaker"].tolist() == ["emodb:03", "emodb:08", "turev-db:03", "turev-db:1157"]
    assert pooled["speaker"].nunique() == 4
    assert pool_corpora([pooled])["speaker"].tolist() == pooled["speaker"].tolist()  # never prefixed twice
    with pytest.raises(LabelError, match="/emodb/0.wav"):
        pool_corpora([first, first])
