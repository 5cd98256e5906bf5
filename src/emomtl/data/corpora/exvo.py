"""ExVo 2022 / HUME-VB vocal bursts: 10 emotion intensities, age, country, a fixed split.

``data_info.csv`` lists every file (``File_ID`` like ``[00000]`` -> ``wav/00000.wav``) with
``Subject_ID``, ``Split`` (``Train``/``Val``/``Test``), ``Age``, ``Country`` (or ``Country_string``)
and the intensities (0-1) of Awe, Excitement, Amusement, Awkwardness, Fear, Horror, Distress,
Triumph, Sadness and Surprise, stored as ``intensity_<emotion>`` columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.data.corpora.listing import audio_folder, corpus_root, find_file
from emomtl.data.schema import INTENSITY_PREFIX, conform
from emomtl.errors import ConfigError, LabelError

NAME = "exvo"
INFO_FILE = "data_info.csv"
INTENSITIES = (
    "Awe", "Excitement", "Amusement", "Awkwardness", "Fear", "Horror", "Distress", "Triumph", "Sadness", "Surprise",
)
SPLITS = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
REQUIRED = ("File_ID", "Subject_ID", "Split")


def _file_name(file_id: str) -> str:
    """``'[00012]'`` -> ``'00012.wav'``."""
    stem = str(file_id).strip().strip("[]").strip()
    return stem if stem.lower().endswith(".wav") else f"{stem}.wav"


def _country(row: pd.Series) -> str | None:
    for column in ("Country_string", "Country"):
        value = row.get(column)
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            continue
        text = str(value).strip()
        if text:
            return text
    return None


def load(
    root: Path,
    *,
    dominant_emotion: bool = False,
    skipped: list[SkippedFile] | None = None,
) -> pd.DataFrame:
    """One row per listed file whose audio exists; ``dominant_emotion`` fills ``emotion`` with the most intense one."""
    root = corpus_root(root, NAME)
    info_path = find_file(root, INFO_FILE)
    if info_path is None:
        raise ConfigError(f"exvo: {INFO_FILE} not found under {root}")
    info = pd.read_csv(info_path, dtype={"File_ID": str, "Subject_ID": str, "Split": str})
    for column in REQUIRED:
        if column not in info.columns:
            raise LabelError(f"{info_path}: column {column!r} is missing")
    missing = [c for c in INTENSITIES if c not in info.columns]
    if missing:
        raise LabelError(f"{info_path}: intensity column(s) {missing} are missing")
    # beside data_info.csv (which may sit below the root the user gave), else under the root
    wav_dir = audio_folder(info_path.parent, "wav", "audio")
    if wav_dir == info_path.parent:
        wav_dir = audio_folder(root, "wav", "audio")
    rows = []
    for _, row in info.iterrows():
        path = wav_dir / _file_name(row["File_ID"])
        split = SPLITS.get(str(row["Split"]).strip().lower())
        if split is None:
            report_skip(skipped, path, f"{INFO_FILE}: unknown Split value {row['Split']!r}")
            continue
        if not isinstance(row["Subject_ID"], str) or not row["Subject_ID"].strip():
            report_skip(skipped, path, f"{INFO_FILE}: no Subject_ID")
            continue
        if not path.is_file():
            report_skip(skipped, path, f"listed in {INFO_FILE} but the audio file is missing")
            continue
        intensities = {
            f"{INTENSITY_PREFIX}{name.lower()}": pd.to_numeric(row[name], errors="coerce") for name in INTENSITIES
        }
        values = np.array(list(intensities.values()), dtype=float)
        emotion = None
        if dominant_emotion and np.isfinite(values).any():
            emotion = INTENSITIES[int(np.nanargmax(values))].lower()
        rows.append({
            "path": str(path),
            "corpus": NAME,
            "speaker": row["Subject_ID"].strip(),
            "gender": None,
            "language": None,
            "emotion": emotion,
            "age": pd.to_numeric(row.get("Age"), errors="coerce"),
            "country": _country(row),
            "split": split,
            **intensities,
        })
    return conform(pd.DataFrame(rows))
