"""A corpus at a glance: files, duration, speakers, label counts and what was skipped."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emomtl.data.corpora import SkippedFile, load_corpus
from emomtl.data.corpora.checks import DEFAULT_MIN_DURATION, check_files
from emomtl.data.schema import COLUMNS, intensity_columns

#: Columns that are identifiers or free text, never counted as labels.
NOT_LABELS = {"path", "speaker", "text", "video", "start", "end"}
#: Numeric label columns, summarised by count / mean / min / max.
NUMERIC_LABELS = ("age", "valence", "arousal", "dominance")
#: Extra (non-schema) text columns with more distinct values than this are not counted as labels.
MAX_EXTRA_CLASSES = 50


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def label_columns(table: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(categorical, numeric) label columns holding at least one value."""
    categorical, numeric = [], []
    for column in table.columns:
        values = table[column].dropna()
        if column in NOT_LABELS or values.empty:
            continue
        if column in NUMERIC_LABELS or column in intensity_columns(table):
            numeric.append(column)
        elif column in COLUMNS:
            categorical.append(column)
        elif _is_numeric(values.infer_objects()):
            numeric.append(column)
        elif values.astype(str).nunique() <= MAX_EXTRA_CLASSES:
            categorical.append(column)
    categorical.sort(key=lambda column: column != "emotion")
    return categorical, numeric


def _numeric_summary(series: pd.Series) -> dict[str, float]:
    values = pd.to_numeric(series, errors="coerce").dropna()
    return {
        "count": int(len(values)),
        "mean": round(float(values.mean()), 4),
        "min": round(float(values.min()), 4),
        "max": round(float(values.max()), 4),
    }


def summarize(
    table: pd.DataFrame,
    durations: Sequence[float] | np.ndarray | None = None,
    skipped: Sequence[SkippedFile] = (),
) -> dict[str, Any]:
    """The summary of a loaded table (``durations`` in seconds, one per row, when known)."""
    categorical, numeric = label_columns(table)
    speakers = table["speaker"].astype(str).value_counts()
    total = float(np.sum(durations)) if durations is not None else None
    return {
        "corpus": ", ".join(sorted(table["corpus"].dropna().astype(str).unique())),
        "files": int(len(table)),
        "total_duration_s": round(total, 3) if total is not None else None,
        "total_duration_h": round(total / 3600, 4) if total is not None else None,
        "speakers": int(len(speakers)),
        "files_per_speaker": {str(k): int(v) for k, v in sorted(speakers.items())},
        "labels": {
            column: {str(k): int(v) for k, v in table[column].dropna().astype(str).value_counts().sort_index().items()}
            for column in categorical
        },
        "numeric": {column: _numeric_summary(table[column]) for column in numeric},
        "skipped_count": len(skipped),
        "skipped": [s.to_dict() for s in skipped],
    }


def describe(
    name: str,
    root: Path | str | None = None,
    check_audio: bool = True,
    min_duration: float = DEFAULT_MIN_DURATION,
    **options: Any,
) -> dict[str, Any]:
    """Load a corpus and summarise it; durations come from the file headers (``soundfile.info``)."""
    loaded = load_corpus(name, root, check_audio=False, **options)
    table, skipped, durations = loaded.table, list(loaded.skipped), None
    if check_audio:
        checked = check_files(table, min_duration=min_duration)
        table, durations = checked.table, checked.durations
        skipped += checked.skipped
    summary = summarize(table, durations, skipped)
    return {
        "corpus": loaded.name or summary.pop("corpus"),
        "root": str(Path(root).expanduser().resolve()) if root is not None else None,
        **{k: v for k, v in summary.items() if k != "corpus"},
    }
