"""CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset): 91 actors, 6 emotions, English.

Audio files ``AudioWAV/1001_DFA_ANG_XX.wav`` are ``<actor>_<sentence>_<emotion>_<level>``;
``VideoDemographics.csv`` gives each actor's age and sex. Videos (``VideoFlash/<same stem>.flv``)
go in ``video`` when present. Labels are the intended (acted) emotions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.data.corpora.listing import audio_folder, corpus_root, find_file, first_copy_of_each_name, list_files
from emomtl.data.schema import conform
from emomtl.errors import LabelError

NAME = "cremad"
FILE_NAME = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})\.wav$")
DEMOGRAPHICS = "VideoDemographics.csv"
EMOTIONS = {
    "ANG": "anger",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happiness",
    "NEU": "neutral",
    "SAD": "sadness",
}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock.",
    "TIE": "That is exactly what happened.",
    "IOM": "I'm on my way to the meeting.",
    "IWW": "I wonder what this is about.",
    "TAI": "The airplane is almost full.",
    "MTI": "Maybe tomorrow it will be cold.",
    "IWL": "I would like a new alarm clock.",
    "ITH": "I think I have a doctor's appointment.",
    "DFA": "Don't forget a jacket.",
    "ITS": "I think I've seen this before.",
    "TSI": "The surface is slick.",
    "WSI": "We'll stop in a couple of minutes.",
}
VIDEO_SUFFIXES = (".flv", ".mp4")


def read_demographics(path: Path) -> dict[str, tuple[str | None, float | None]]:
    """Actor id -> (gender, age) from ``VideoDemographics.csv``."""
    table = pd.read_csv(path, dtype={"ActorID": str})
    for column in ("ActorID", "Age", "Sex"):
        if column not in table.columns:
            raise LabelError(f"{path}: column {column!r} is missing")
    people = {}
    for actor, age, sex in zip(table["ActorID"], table["Age"], table["Sex"]):
        gender = str(sex).strip().lower() if isinstance(sex, str) else None
        people[str(actor).strip()] = (gender if gender in ("female", "male") else None,
                                      pd.to_numeric(age, errors="coerce"))
    return people


def load(root: Path, *, video: bool = True, skipped: list[SkippedFile] | None = None) -> pd.DataFrame:
    """One row per ``AudioWAV`` file with the actor's age and gender when the demographics file is found."""
    root = corpus_root(root, NAME)
    demographics_file = find_file(root, DEMOGRAPHICS)
    people = read_demographics(demographics_file) if demographics_file else {}
    videos = {p.stem: p for p in list_files(root, VIDEO_SUFFIXES)} if video else {}
    rows = []
    for path in first_copy_of_each_name(list_files(audio_folder(root, "AudioWAV")), skipped):
        match = FILE_NAME.match(path.name)
        if match is None:
            report_skip(skipped, path, "file name does not follow CREMA-D's <actor>_<sentence>_<emotion>_<level>.wav")
            continue
        problems = [
            f"unknown CREMA-D {field} code {match[field]!r}"
            for field, codes in (("sentence", SENTENCES), ("emotion", EMOTIONS), ("level", LEVELS))
            if match[field] not in codes
        ]
        if problems:
            report_skip(skipped, path, "; ".join(problems))
            continue
        gender, age = people.get(match["actor"], (None, None))
        video_path = videos.get(path.stem)
        rows.append({
            "path": str(path),
            "corpus": NAME,
            "speaker": match["actor"],
            "gender": gender,
            "age": age,
            "language": "en",
            "emotion": EMOTIONS[match["emotion"]],
            "emotion_level": LEVELS[match["level"]],
            "text": SENTENCES[match["sentence"]],
            "video": str(video_path) if video_path else None,
        })
    return conform(pd.DataFrame(rows))
