"""``tuned_on``: which test speakers a tuned recipe's settings are not independent of."""

from __future__ import annotations

import pytest

from emomtl.config import load_recipe
from emomtl.errors import ConfigError
from emomtl.data.tuned_speakers import tuned_on_record, tuned_test_speakers, tuning_warning


def test_only_test_speakers_of_the_tuned_corpus_count_and_ids_compare_as_loaded():
    recipe = {"data": {"corpus": "emodb"}, "tuned_on": {"corpora": ["emodb"], "speakers": ["03", "08"]}}
    assert tuned_test_speakers(recipe, [3, "10"]) == ["03"]  # a CSV round trip turns "03" into 3
    assert tuned_test_speakers({**recipe, "data": {"corpus": "turev-db"}}, ["03"]) == []
    assert tuning_warning(recipe, ["10"]) is None
    assert "1 of its 2 test speakers (08)" in tuning_warning(recipe, ["08", "10"])
    pooled = {"data": {"corpora": [{"corpus": "savee"}, {"corpus": "emodb"}]}, "tuned_on": recipe["tuned_on"]}
    assert tuned_test_speakers(pooled, ["08"]) == ["08"]


def test_a_new_search_adds_to_the_record():
    recipe = {"data": {"corpus": "emodb"}, "tuned_on": {"corpora": ["turev-db"], "speakers": ["1"]}}
    assert tuned_on_record(recipe, {"03", "09"}) == {"corpora": ["emodb", "turev-db"], "speakers": ["03", "09", "1"]}


def test_the_shipped_whisper_recipes_say_where_they_were_tuned():
    emodb, turev = load_recipe("whisper_emodb"), load_recipe("whisper_turev")
    assert len(tuned_test_speakers(emodb, [f"{s:02d}" for s in (3, 8, 9, 10, 11, 12, 13, 14, 15, 16)])) == 10
    assert tuned_test_speakers(turev, ["1", "2", "3"]) == []  # tuned on EMO-DB only


@pytest.mark.parametrize("section, message", [({"speaker": ["1"]}, "unknown key"),
                                              ({"speakers": "03"}, "list of names")])
def test_a_malformed_record_is_a_clear_error(section, message):
    from emomtl.config import resolve_recipe

    with pytest.raises(ConfigError, match=f"tuned_on.*{message}"):
        resolve_recipe({**load_recipe("whisper_turev"), "tuned_on": section})


def test_corpus_aliases_pooled_prefixes_and_case_compare_as_the_loaders_do():
    recipe = {"data": {"corpus": "emo-db"}, "tuned_on": {"corpora": ["emodb"], "speakers": ["03", "DC"]}}
    assert tuned_test_speakers(recipe, ["emodb:03", "dc", "10"]) == ["03", "DC"]
