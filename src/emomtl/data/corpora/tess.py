"""TESS (Toronto Emotional Speech Set): 2 female speakers, 7 emotions, English carrier phrase.

Files are ``<speaker>_<word>_<emotion>.wav``, e.g. ``OAF_back_angry.wav``: speaker ``OAF`` (older
talker, 64) or ``YAF`` (younger talker, 26) saying "Say the word back" angrily; ``ps`` is pleasant
surprise.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.data.corpora.listing import corpus_root, first_copy_of_each_name, list_files
from emomtl.data.schema import conform

NAME = "tess"
FILE_NAME = re.compile(r"^(?P<speaker>OAF|YAF)_(?P<word>[^_]+)_(?P<emotion>.+)\.wav$", re.IGNORECASE)
SPEAKER_AGES = {"OAF": 64, "YAF": 26}
EMOTIONS = {
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happiness",
    "neutral": "neutral",
    "ps": "surprise",
    "pleasant_surprise": "surprise",
    "pleasant_surprised": "surprise",
    "sad": "sadness",
}


def load(root: Path, *, skipped: list[SkippedFile] | None = None) -> pd.DataFrame:
    """One row per ``<speaker>_<word>_<emotion>.wav`` file."""
    root = corpus_root(root, NAME)
    rows = []
    for path in first_copy_of_each_name(list_files(root), skipped):
        match = FILE_NAME.match(path.name)
        if match is None:
            report_skip(skipped, path, "file name does not follow TESS's <speaker>_<word>_<emotion>.wav")
            continue
        code = match["emotion"].lower()
        if code not in EMOTIONS:
            report_skip(skipped, path, f"unknown TESS emotion code {code!r}")
            continue
        speaker = match["speaker"].upper()
        word = match["word"].lower()
        rows.append({
            "path": str(path),
            "corpus": NAME,
            "speaker": speaker,
            "gender": "female",
            "age": SPEAKER_AGES[speaker],
            "language": "en",
            "emotion": EMOTIONS[code],
            "text": f"Say the word {word}.",
        })
    return conform(pd.DataFrame(rows))
