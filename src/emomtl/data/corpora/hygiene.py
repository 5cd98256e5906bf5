"""Table hygiene every corpus gets: a file listed twice is kept once, and speaker ids that differ only by
padding, surrounding spaces or case (``"3"``, ``"03"``, ``" 3"``) become one speaker, each with a warning."""

from __future__ import annotations

import logging
import os

import pandas as pd

log = logging.getLogger(__name__)

#: Examples a warning lists before "and N more".
SHOWN = 5


def _listed(items: list[str]) -> str:
    return ", ".join(items[:SHOWN]) + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def drop_duplicate_files(table: pd.DataFrame, where: str = "corpus") -> pd.DataFrame:
    """Keep the first row of each file (same real path and, for segments, same start and end)."""
    if table.empty:
        return table
    key = pd.DataFrame({"file": [os.path.realpath(str(p)) for p in table["path"]]}, index=table.index)
    for column in ("start", "end"):
        if column in table.columns:
            key[column] = table[column].astype(str)
    duplicated = key.duplicated(keep="first").to_numpy()
    if not duplicated.any():
        return table
    paths = sorted({str(p) for p in table["path"][duplicated]})
    log.warning("%s: %d row(s) list a file already listed; each file is used once: %s", where,
                int(duplicated.sum()), _listed(paths))
    return table.loc[~duplicated].reset_index(drop=True)


def speaker_key(speaker: str) -> str:
    """The id a speaker is compared by: trimmed, case-folded, leading zeros of a number removed."""
    text = str(speaker).strip().casefold()
    return str(int(text)) if text.isdigit() else text


def normalise_speakers(table: pd.DataFrame, where: str = "corpus") -> pd.DataFrame:
    """Give every group of speaker ids with one :func:`speaker_key` its most frequent spelling (ties: the first
    in sort order); ids without a look-alike keep their spelling."""
    if table.empty or "speaker" not in table.columns:
        return table
    speakers = table["speaker"].astype(str)
    counts = speakers.value_counts()
    groups: dict[str, list[str]] = {}
    for speaker in sorted(counts.index):
        groups.setdefault(speaker_key(speaker), []).append(speaker)
    mapping: dict[str, str] = {}
    merged = []
    for spellings in groups.values():
        if len(spellings) > 1:
            chosen = max(spellings, key=lambda s: (counts[s], -spellings.index(s)))
            mapping.update({s: chosen for s in spellings if s != chosen})
            merged.append(f"{' / '.join(repr(s) for s in spellings)} -> {chosen!r}")
    if not mapping:
        return table
    log.warning("%s: speaker ids that differ only by padding, spaces or case are one speaker: %s", where,
                _listed(merged))
    table = table.copy()
    table["speaker"] = speakers.replace(mapping)
    return table
