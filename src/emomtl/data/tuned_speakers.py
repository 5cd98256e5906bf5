"""Which test speakers a recipe's tuned settings are not independent of.

``emomtl tune`` records in the chosen recipe the corpora and speakers whose labels the search used
(``tuned_on``: the training and validation speakers of every searched fold). A later ``cv`` or ``compare`` on the
same corpus whose test speaker is among them scores settings chosen with that speaker's labels: the fold is not
speaker-independent of its hyper-parameters. Tuning on another corpus, or on folds without the test speaker
(nested), avoids it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd


def corpora_of(recipe: Mapping[str, Any]) -> list[str]:
    """The canonical corpus names a recipe loads: ``data.corpora`` entries when pooled, else ``data.corpus``."""
    data = recipe.get("data") or {}
    pooled = data.get("corpora")
    if pooled:
        names = {str(entry.get("corpus")) if isinstance(entry, Mapping) else str(entry) for entry in pooled}
    else:
        names = {str(data.get("corpus"))} if data.get("corpus") else set()
    return sorted(_canonical(name) for name in names)


def _canonical(corpus: str) -> str:
    from emomtl.data.corpora import resolve_name
    from emomtl.errors import ConfigError

    try:
        return resolve_name(corpus)
    except ConfigError:  # a manifest's own name
        return str(corpus).strip().lower()


def speakers_of(table: pd.DataFrame, rows: Iterable[np.ndarray]) -> set[str]:
    """The speakers of the given row sets of ``table``."""
    found: set[str] = set()
    for part in rows:
        found |= set(table["speaker"].iloc[np.asarray(part, dtype=int)].astype(str))
    return found


def tuned_on_record(recipe: Mapping[str, Any], speakers: Iterable[str]) -> dict[str, list[str]]:
    """The recipe's ``tuned_on`` after a search that used ``speakers``' labels (earlier searches kept)."""
    before = recipe.get("tuned_on") or {}
    return {"corpora": sorted(set(before.get("corpora", [])) | set(corpora_of(recipe))),
            "speakers": sorted(set(map(str, before.get("speakers", []))) | set(map(str, speakers)))}


def tuned_test_speakers(recipe: Mapping[str, Any], test_speakers: Iterable[str]) -> list[str]:
    """The test speakers whose labels chose the recipe's settings (none when it was tuned on other corpora)."""
    tuned_on = recipe.get("tuned_on") or {}
    if not {_canonical(c) for c in tuned_on.get("corpora", [])} & set(corpora_of(recipe)):
        return []
    tested = {_same_speaker(s) for s in test_speakers}
    return sorted(str(s) for s in tuned_on.get("speakers", []) if _same_speaker(s) in tested)


def _same_speaker(speaker: Any) -> str:
    """Speaker ids compare as the data loaders normalise them ("3" is "03", "DC" is "dc"), without the corpus
    prefix pooled corpora add ("emodb:03" is "03")."""
    from emomtl.data.corpora.hygiene import speaker_key

    return speaker_key(str(speaker).strip().rsplit(":", 1)[-1])


def tuning_warning(recipe: Mapping[str, Any], test_speakers: Iterable[str]) -> str | None:
    """One sentence naming the test speakers a tuned recipe is not independent of, or ``None``."""
    test_speakers = sorted({str(s) for s in test_speakers})
    overlap = tuned_test_speakers(recipe, test_speakers)
    if not overlap:
        return None
    return (f"the settings of this recipe were tuned (emomtl tune, recorded in tuned_on) with the labels of "
            f"{len(overlap)} of its {len(test_speakers)} test speakers ({', '.join(overlap)}): their scores are not "
            "speaker-independent of the settings; tune on another corpus or on folds without them")
