"""File checks: report and drop recordings that cannot be used, never crash on them.

A file is checked with :func:`soundfile.info`, which only reads the header, so checking a whole
corpus takes a second or two. Missing, empty, unreadable, non-audio and too-short files are
reported as :class:`SkippedFile` entries (path + reason) and dropped from the table.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emomtl.data.audio import audio_info
from emomtl.errors import AudioError

#: Files shorter than this (seconds) are skipped unless the caller sets another limit.
DEFAULT_MIN_DURATION = 0.1


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of a corpus table, with the reason."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


def report_skip(skipped: list[SkippedFile] | None, path: Path | str, reason: str) -> None:
    """Record a skipped file in ``skipped``, or warn when the caller keeps no list."""
    entry = SkippedFile(str(path), reason)
    if skipped is None:
        warnings.warn(f"skipped {entry}", stacklevel=3)
    else:
        skipped.append(entry)


def probe(path: Path | str) -> float | str:
    """The file's duration in seconds, or the reason it cannot be used."""
    path = Path(path)
    try:  # the audio front end's reasons: symlink loop, directory, permission, truncated header, not audio ...
        info = audio_info(path)
    except AudioError as error:
        return str(error).removeprefix(f"{path}: ")
    if info.frames <= 0 or info.sample_rate <= 0:
        return "audio file without samples"
    return info.frames / info.sample_rate


def audio_duration(path: Path | str) -> float:
    """Duration in seconds from the file header; :class:`AudioError` naming the file otherwise."""
    result = probe(path)
    if isinstance(result, str):
        raise AudioError(f"{path}: {result}")
    return result


def audio_problem(path: Path | str, min_duration: float = DEFAULT_MIN_DURATION) -> str | None:
    """Why a file cannot be used, or ``None`` when it is fine."""
    result = probe(path)
    if isinstance(result, str):
        return result
    if result < min_duration:
        return f"too short ({result:.3f} s < {min_duration:g} s)"
    return None


@dataclass
class FileCheck:
    """Result of :func:`check_files`: the usable rows, what was dropped and each kept row's duration."""

    table: pd.DataFrame
    skipped: list[SkippedFile] = field(default_factory=list)
    durations: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _segment_length(row_start: object, row_end: object, file_duration: float) -> float:
    start = 0.0 if pd.isna(row_start) else float(row_start)
    end = file_duration if pd.isna(row_end) else min(float(row_end), file_duration)
    return end - start


def check_files(table: pd.DataFrame, min_duration: float = DEFAULT_MIN_DURATION) -> FileCheck:
    """Check every row's ``path`` (and ``start``/``end`` segment, when set); drop and report bad ones."""
    keep = np.zeros(len(table), dtype=bool)
    durations = np.zeros(len(table))
    skipped: list[SkippedFile] = []
    known: dict[str, float | str] = {}
    starts = table["start"] if "start" in table.columns else pd.Series([None] * len(table))
    ends = table["end"] if "end" in table.columns else pd.Series([None] * len(table))
    for i, (path, start, end) in enumerate(zip(table["path"], starts, ends)):
        path = str(path)
        if path not in known:
            known[path] = probe(path)
        file_duration = known[path]
        if isinstance(file_duration, str):
            skipped.append(SkippedFile(path, file_duration))
            continue
        length = _segment_length(start, end, file_duration)
        if length < min_duration:
            skipped.append(SkippedFile(path, f"too short ({length:.3f} s < {min_duration:g} s)"))
            continue
        keep[i] = True
        durations[i] = length
    return FileCheck(table.loc[keep].reset_index(drop=True), skipped, durations[keep])
