"""nEMO: emotional speech in Polish, 9 actors, 6 emotions.

``data.tsv`` lists ``file_id`` (``samples/<speaker>_<emotion>_<sentence>.wav``), ``emotion``,
``raw_text``, ``normalized_text``, ``speaker_id``, ``gender`` and ``age``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.data.corpora.listing import audio_folder, corpus_root, find_file
from emomtl.data.schema import conform
from emomtl.errors import ConfigError, LabelError

NAME = "nemo"
INFO_FILE = "data.tsv"
REQUIRED = ("file_id", "emotion", "speaker_id")
EMOTIONS = {
    "anger": "anger",
    "fear": "fear",
    "happiness": "happiness",
    "neutral": "neutral",
    "sadness": "sadness",
    "surprised": "surprise",
    "surprise": "surprise",
}
GENDERS = {"f": "female", "female": "female", "m": "male", "male": "male"}


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def load(root: Path, *, skipped: list[SkippedFile] | None = None) -> pd.DataFrame:
    """One row per ``data.tsv`` entry whose audio file exists."""
    root = corpus_root(root, NAME)
    info_path = find_file(root, INFO_FILE)
    if info_path is None:
        raise ConfigError(f"nemo: {INFO_FILE} not found under {root}")
    info = pd.read_csv(info_path, sep="\t", dtype=str, keep_default_na=False)
    for column in REQUIRED:
        if column not in info.columns:
            raise LabelError(f"{info_path}: column {column!r} is missing")
    samples = audio_folder(info_path.parent, "samples")
    rows = []
    for _, row in info.iterrows():
        path = samples / row["file_id"].strip()
        code = row["emotion"].strip().lower()
        if code not in EMOTIONS:
            report_skip(skipped, path, f"unknown nEMO emotion {code!r} in {INFO_FILE}")
            continue
        if not row["speaker_id"].strip():
            report_skip(skipped, path, f"{INFO_FILE}: no speaker_id")
            continue
        if not path.is_file():
            report_skip(skipped, path, f"listed in {INFO_FILE} but the audio file is missing")
            continue
        rows.append({
            "path": str(path),
            "corpus": NAME,
            "speaker": row["speaker_id"].strip(),
            "gender": GENDERS.get(str(row.get("gender", "")).strip().lower()),
            "age": pd.to_numeric(row.get("age"), errors="coerce"),
            "language": "pl",
            "emotion": EMOTIONS[code],
            "text": _text(row.get("raw_text")),
            "text_normalized": _text(row.get("normalized_text")),
        })
    return conform(pd.DataFrame(rows))
