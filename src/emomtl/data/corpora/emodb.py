"""EMO-DB (Berlin Database of Emotional Speech): 10 actors, 7 emotions, German.

File names encode everything: ``wav/03a01Fa.wav`` is speaker ``03``, text ``a01``, emotion letter
``F`` (Freude, happiness) and version ``a``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.data.corpora.listing import audio_folder, corpus_root, first_copy_of_each_name, list_files
from emomtl.data.schema import conform

NAME = "emodb"
FILE_NAME = re.compile(r"^(?P<speaker>\d{2})(?P<text>[ab]\d{2})(?P<emotion>[A-Z])(?P<version>[a-z])\.wav$")

#: German initial of the emotion -> English name.
EMOTIONS = {
    "W": "anger",  # Wut / Ärger
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happiness",  # Freude
    "T": "sadness",  # Trauer
    "N": "neutral",
}

#: Speaker -> (gender, age in years), from the corpus documentation.
SPEAKERS = {
    "03": ("male", 31),
    "08": ("female", 34),
    "09": ("female", 21),
    "10": ("male", 32),
    "11": ("male", 26),
    "12": ("male", 30),
    "13": ("female", 32),
    "14": ("female", 35),
    "15": ("male", 25),
    "16": ("female", 31),
}

#: Text code -> sentence.
TEXTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}


def load(root: Path, *, skipped: list[SkippedFile] | None = None) -> pd.DataFrame:
    """One row per ``wav/*.wav`` file; files not named like EMO-DB files are reported and skipped."""
    root = corpus_root(root, NAME)
    rows = []
    for path in first_copy_of_each_name(list_files(audio_folder(root, "wav")), skipped):
        match = FILE_NAME.match(path.name)
        if match is None:
            report_skip(skipped, path, "file name does not follow EMO-DB's <speaker><text><emotion><version>.wav")
            continue
        letter = match["emotion"]
        if letter not in EMOTIONS:
            report_skip(skipped, path, f"unknown EMO-DB emotion code {letter!r}")
            continue
        speaker = match["speaker"]
        gender, age = SPEAKERS.get(speaker, (None, None))
        rows.append({
            "path": str(path),
            "corpus": NAME,
            "speaker": speaker,
            "gender": gender,
            "age": age,
            "language": "de",
            "emotion": EMOTIONS[letter],
            "text": TEXTS.get(match["text"]),
            "text_id": match["text"],
        })
    return conform(pd.DataFrame(rows))
