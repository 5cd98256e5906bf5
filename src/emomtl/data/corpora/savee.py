"""SAVEE (Surrey Audio-Visual Expressed Emotion): 4 male speakers, 7 emotions, British English.

Two published layouts are read: the official ``AudioData/<speaker>/<code><nn>.wav``
(e.g. ``AudioData/DC/sa01.wav``) and the flat ``<speaker>_<code><nn>.wav`` (e.g. ``DC_a01.wav``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.data.corpora.listing import corpus_root, list_files
from emomtl.data.schema import conform

NAME = "savee"
FLAT_NAME = re.compile(r"^(?P<speaker>[A-Za-z]{2})_(?P<code>[a-z]{1,2})(?P<number>\d{2})\.wav$")
NESTED_NAME = re.compile(r"^(?P<code>[a-z]{1,2})(?P<number>\d{2})\.wav$")
SPEAKERS = ("DC", "JE", "JK", "KL")
EMOTIONS = {
    "a": "anger",
    "d": "disgust",
    "f": "fear",
    "h": "happiness",
    "n": "neutral",
    "sa": "sadness",
    "su": "surprise",
}


def _parse(path: Path) -> tuple[str, str] | None:
    """(speaker, emotion code) from either layout, or ``None``."""
    flat = FLAT_NAME.match(path.name)
    if flat is not None:
        return flat["speaker"].upper(), flat["code"]
    nested = NESTED_NAME.match(path.name)
    if nested is not None and path.parent.name.upper() in SPEAKERS:
        return path.parent.name.upper(), nested["code"]
    return None


def load(root: Path, *, skipped: list[SkippedFile] | None = None) -> pd.DataFrame:
    """One row per recording of either layout."""
    root = corpus_root(root, NAME)
    rows = []
    for path in list_files(root):
        parsed = _parse(path)
        if parsed is None:
            report_skip(skipped, path, "file name does not follow SAVEE's <speaker>/<code><nn>.wav "
                                       "or <speaker>_<code><nn>.wav")
            continue
        speaker, code = parsed
        if code not in EMOTIONS:
            report_skip(skipped, path, f"unknown SAVEE emotion code {code!r}")
            continue
        rows.append({
            "path": str(path),
            "corpus": NAME,
            "speaker": speaker,
            "gender": "male",
            "language": "en",
            "emotion": EMOTIONS[code],
        })
    return conform(pd.DataFrame(rows))
