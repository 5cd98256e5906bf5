"""The corpus table: one row per utterance, the columns every adapter fills.

Every corpus adapter returns a :class:`pandas.DataFrame` with these columns.
Columns a corpus does not label are filled with missing values (``NaN`` / ``None``),
never dropped, so tables of several corpora can be concatenated.
"""

from __future__ import annotations

import pandas as pd

from emomtl.errors import LabelError

#: Required columns (always present, ``path`` and ``speaker`` never missing).
REQUIRED_COLUMNS: tuple[str, ...] = ("path", "corpus", "speaker", "gender", "language", "emotion")

#: Optional columns, present in every table but possibly all-missing.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "age",
    "country",
    "valence",
    "arousal",
    "dominance",
    "text",
    "video",
    "session",
    "start",
    "end",
    "split",
)

#: Prefix of the per-emotion intensity columns (ExVo: ``intensity_awe`` ...).
INTENSITY_PREFIX = "intensity_"

COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


def empty_table() -> pd.DataFrame:
    """A table with every schema column and no rows."""
    return pd.DataFrame({column: pd.Series(dtype="object") for column in COLUMNS})


def conform(table: pd.DataFrame) -> pd.DataFrame:
    """Add missing optional columns, order the schema columns first and validate.

    Extra columns (e.g. ``intensity_*`` or corpus-specific ones) are kept after the schema ones.
    """
    table = table.copy()
    for column in COLUMNS:
        if column not in table.columns:
            table[column] = None
    extra = [c for c in table.columns if c not in COLUMNS]
    table = table[list(COLUMNS) + extra].reset_index(drop=True)
    validate(table)
    return table


def validate(table: pd.DataFrame) -> None:
    """Raise :class:`LabelError` naming the column if the table breaks the schema."""
    for column in REQUIRED_COLUMNS:
        if column not in table.columns:
            raise LabelError(f"corpus table is missing the required column {column!r}")
    for column in ("path", "speaker"):
        missing = table[column].isna()
        if missing.any():
            raise LabelError(f"column {column!r} is missing for {int(missing.sum())} row(s)")
    if table["path"].duplicated().any() and "start" not in table.columns:
        duplicated = table.loc[table["path"].duplicated(), "path"].iloc[0]
        raise LabelError(f"file listed twice in the corpus table: {duplicated}")


def intensity_columns(table: pd.DataFrame) -> list[str]:
    """The ``intensity_*`` columns of a table, in table order."""
    return [c for c in table.columns if str(c).startswith(INTENSITY_PREFIX)]
