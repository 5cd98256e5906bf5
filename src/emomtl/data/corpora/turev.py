"""TurEV-DB (Turkish Emotion-Voice Database): 6 actors, 4 emotions, Turkish words, 44.1 kHz.

Files sit in one folder per emotion (``Angry/``, ``Calm/``, ``Happy/``, ``Sad/``) and are named
``<speaker>_<code>_<word>.wav``, e.g. ``Angry/1157_kz_acik.wav``: speaker ``1157``, Turkish emotion
code ``kz`` (kızgın, angry) and the word read. The corpus does not publish the speakers' gender.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.data.corpora.listing import audio_folder, corpus_root, first_copy_of_each_name, list_files
from emomtl.data.schema import conform

NAME = "turev-db"
FILE_NAME = re.compile(r"^(?P<speaker>\d+)_(?P<code>[A-Za-z]+)_(?P<word>.+)\.wav$", re.IGNORECASE)

#: Turkish emotion code in the file name -> English name.
CODES = {
    "kz": "anger",  # kızgın
    "sk": "calm",  # sakin
    "mt": "happiness",  # mutlu
    "hl": "sadness",  # hüzünlü
}

#: Emotion folder -> English name.
FOLDERS = {"angry": "anger", "calm": "calm", "happy": "happiness", "sad": "sadness"}


def load(root: Path, *, skipped: list[SkippedFile] | None = None) -> pd.DataFrame:
    """One row per ``<Emotion>/<speaker>_<code>_<word>.wav`` file.

    The emotion comes from the code in the file name; a file whose code is unknown or disagrees with
    its emotion folder is reported and skipped. Copies of one file name are resolved among the files that pass
    these checks, so a misfiled copy never displaces the correctly filed one.
    """
    root = corpus_root(root, NAME)
    rows: dict[Path, dict] = {}
    files = list_files(audio_folder(root, "Sound Source"))  # the repository also holds filtered test copies
    for path in files:
        match = FILE_NAME.match(path.name)
        if match is None:
            report_skip(skipped, path, "file name does not follow TurEV-DB's <speaker>_<code>_<word>.wav")
            continue
        code = match["code"].lower()
        if code not in CODES:
            report_skip(skipped, path, f"unknown TurEV-DB emotion code {code!r}")
            continue
        emotion = CODES[code]
        folder = FOLDERS.get(path.parent.name.lower())
        if folder is not None and folder != emotion:
            report_skip(skipped, path, f"emotion code {code!r} ({emotion}) disagrees with folder {path.parent.name!r}")
            continue
        rows[path] = {
            "path": str(path),
            "corpus": NAME,
            "speaker": match["speaker"],
            "gender": None,
            "language": "tr",
            "emotion": emotion,
            "text": match["word"],
        }
    kept = first_copy_of_each_name(list(rows), skipped)
    return conform(pd.DataFrame([rows[path] for path in kept]))
