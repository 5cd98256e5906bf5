"""A generic corpus: any CSV/TSV listing files, with the user naming which column is which.

Example: a file ``labels.tsv`` with columns ``wav``, ``spk``, ``label`` loads with::

    load_corpus("manifest", "labels.tsv", columns={"path": "wav", "speaker": "spk", "emotion": "label"})

or, one column at a time, ``path_column="wav", speaker_column="spk", emotion_column="label"``.
Other columns named like schema columns are taken as they are; the rest are kept as extra columns.
Relative paths are read relative to ``audio_root`` (default: the manifest's folder).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.data.corpora.listing import corpus_root
from emomtl.data.schema import INTENSITY_PREFIX, conform
from emomtl.errors import ConfigError, LabelError

NAME = "manifest"
DEFAULT_FILES = ("manifest.csv", "manifest.tsv")
_COLUMN_SUFFIX = "_column"


def find_manifest(root: Path, file: str | None) -> Path:
    """The manifest file: ``root`` itself, ``root/file`` or ``root/manifest.{csv,tsv}``."""
    if root.is_file():
        return root
    candidates = [root / file] if file else [root / name for name in DEFAULT_FILES]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(f"manifest: no {' or '.join(c.name for c in candidates)} in {root}; "
                      "set data.root to the manifest file or data.options.file to its name")


def column_names(columns: Mapping[str, str] | None, shortcuts: dict[str, object]) -> dict[str, str]:
    """Schema column -> manifest column, from ``columns`` and ``<schema>_column`` options."""
    names = dict(columns or {})
    for key, value in shortcuts.items():
        if not key.endswith(_COLUMN_SUFFIX):
            raise ConfigError(f"manifest: unknown option {key!r}; use columns={{...}} or <schema column>_column=")
        names[key[: -len(_COLUMN_SUFFIX)]] = str(value)
    return names


def read_manifest(path: Path, sep: str | None = None) -> pd.DataFrame:
    """The manifest as strings (tab-separated for ``.tsv``/``.tab``, else comma-separated)."""
    if sep is None:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=True)


def _rename(table: pd.DataFrame, names: dict[str, str], path: Path) -> pd.DataFrame:
    for schema_column, user_column in names.items():
        if user_column not in table.columns:
            raise LabelError(f"{path}: column {user_column!r} (for {schema_column!r}) is not in the manifest; "
                             f"it has {list(table.columns)}")
    renamed = table.rename(columns={user: schema for schema, user in names.items()})
    if renamed.columns.duplicated().any():
        duplicate = renamed.columns[renamed.columns.duplicated()][0]
        raise ConfigError(f"manifest: two columns would be called {duplicate!r} in {path}")
    return renamed


def _absolute(path: Path) -> str:
    """``path`` resolved; a symbolic link loop (``resolve`` raises on Python < 3.13) is kept for the file check."""
    try:
        return str(path.resolve())
    except RuntimeError:
        return str(path)


def load(
    root: Path,
    *,
    file: str | None = None,
    columns: Mapping[str, str] | None = None,
    corpus: str = NAME,
    language: str | None = None,
    audio_root: Path | str | None = None,
    sep: str | None = None,
    skipped: list[SkippedFile] | None = None,
    **column_options: object,
) -> pd.DataFrame:
    """The manifest's rows as a corpus table; rows without a path or speaker are reported and skipped."""
    path = find_manifest(corpus_root(root, NAME), file)
    table = _rename(read_manifest(path, sep), column_names(columns, column_options), path)
    for required in ("path", "speaker"):
        if required not in table.columns:
            raise LabelError(f"{path}: no {required!r} column; name it with {required}_column=<manifest column>")
    base = Path(audio_root).expanduser().resolve() if audio_root else path.parent.resolve()
    keep = []
    for i, row in table.iterrows():
        where = f"{path} row {i + 2}"
        if pd.isna(row["path"]) or not str(row["path"]).strip():
            report_skip(skipped, where, "no file path")
        elif pd.isna(row["speaker"]) or not str(row["speaker"]).strip():
            report_skip(skipped, row["path"], f"{where}: no speaker")
        else:
            keep.append(i)
    table = table.loc[keep].copy()
    table["path"] = [str(p) if Path(p).is_absolute() else _absolute(base / p) for p in table["path"].str.strip()]
    table["speaker"] = table["speaker"].str.strip()
    if "corpus" not in table.columns or table["corpus"].isna().all():
        table["corpus"] = corpus
    if language is not None or "language" not in table.columns:
        table["language"] = language
    if "emotion" in table.columns:
        table["emotion"] = table["emotion"].str.strip().str.lower()
    if "gender" in table.columns:
        table["gender"] = table["gender"].str.strip().str.lower().replace({"f": "female", "m": "male"})
    for numeric in ("age", "valence", "arousal", "dominance", "start", "end"):
        if numeric in table.columns:
            table[numeric] = pd.to_numeric(table[numeric], errors="coerce")
    for column in table.columns:
        if str(column).startswith(INTENSITY_PREFIX):
            table[column] = pd.to_numeric(table[column], errors="coerce")
    return conform(table)
