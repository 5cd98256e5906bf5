"""Label maps: let several corpora share one label set, and pool their tables.

A label map is a YAML file (bundled ones live in ``data/label_maps/``)::

    name: shared4
    column: emotion          # the column it rewrites
    unmapped: drop           # drop | keep: what happens to labels the map does not list
    classes: [anger, happiness, neutral, sadness]
    map: {anger: anger, excited: happiness, calm: neutral, ...}

Several source labels mapping to one target merge them; a label mapped to ``null`` is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from emomtl.data.schema import conform
from emomtl.errors import ConfigError, LabelError

#: Folder of the bundled label maps.
BUNDLED_DIR = Path(__file__).with_name("label_maps")
UNMAPPED_CHOICES = ("drop", "keep")
#: Separator between corpus and speaker in pooled speaker ids (``emodb:03``).
SPEAKER_SEPARATOR = ":"


@dataclass
class LabelMap:
    """Source label -> target label (``None`` drops) for one column."""

    name: str
    mapping: dict[str, str | None]
    column: str = "emotion"
    unmapped: str = "drop"
    classes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.unmapped not in UNMAPPED_CHOICES:
            raise ConfigError(f"label map {self.name!r}: unmapped must be one of {UNMAPPED_CHOICES}, "
                              f"not {self.unmapped!r}")
        self.mapping = {
            str(k).strip().lower(): (None if v is None else str(v).strip().lower()) for k, v in self.mapping.items()
        }
        if not self.classes:
            self.classes = sorted({v for v in self.mapping.values() if v is not None})


def available_label_maps() -> list[str]:
    """Names of the bundled label maps."""
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml"))


def _label_map_file(name_or_path: str | Path) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    bundled = BUNDLED_DIR / f"{name_or_path}.yaml"
    if bundled.is_file():
        return bundled
    raise ConfigError(
        f"data.label_map: {str(name_or_path)!r} is neither a file nor a bundled label map; "
        f"bundled: {', '.join(available_label_maps())}"
    )


def load_label_map(name_or_path: str | Path) -> LabelMap:
    """A bundled label map by name (``shared4``) or one from a YAML file."""
    path = _label_map_file(name_or_path)
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"data.label_map: {path} is not valid YAML ({error})") from None
    if not isinstance(content, dict) or not isinstance(content.get("map"), dict):
        raise ConfigError(f"data.label_map: {path} needs a 'map' mapping of source label -> target label")
    unknown = set(content) - {"name", "description", "column", "unmapped", "classes", "map"}
    if unknown:
        raise ConfigError(f"data.label_map: {path} has unknown key(s) {sorted(unknown)}")
    return LabelMap(
        name=str(content.get("name") or path.stem),
        mapping=content["map"],
        column=str(content.get("column") or "emotion"),
        unmapped=str(content.get("unmapped") or "drop"),
        classes=[str(c) for c in content.get("classes") or []],
    )


def _as_label_map(mapping: LabelMap | Mapping[str, str | None] | str | Path) -> LabelMap:
    if isinstance(mapping, LabelMap):
        return mapping
    if isinstance(mapping, Mapping):
        return LabelMap(name="inline", mapping=dict(mapping))
    return load_label_map(mapping)


def apply_label_map(
    table: pd.DataFrame,
    mapping: LabelMap | Mapping[str, str | None] | str | Path,
    column: str | None = None,
    keep_missing: bool = False,
) -> tuple[pd.DataFrame, int]:
    """Rewrite ``column`` (default: the map's, i.e. ``emotion``) through the map.

    Returns the new table and how many rows were dropped: rows whose label maps to ``null``, rows
    the map does not list (when ``unmapped: drop``) and rows without a label (unless ``keep_missing``).
    """
    label_map = _as_label_map(mapping)
    column = column or label_map.column
    if column not in table.columns:
        raise LabelError(f"label map {label_map.name!r}: column {column!r} is not in the corpus table")
    targets, keep = [], []
    for value in table[column]:
        if pd.isna(value):
            targets.append(None)
            keep.append(keep_missing)
            continue
        key = str(value).strip().lower()
        if key in label_map.mapping:
            target = label_map.mapping[key]
        else:
            target = key if label_map.unmapped == "keep" else None
        targets.append(target)
        keep.append(target is not None)
    result = table.copy()
    result[column] = targets
    mask = pd.Series(keep, index=table.index, dtype=bool)
    return result.loc[mask].reset_index(drop=True), int((~mask).sum())


def _prefixed(corpus: object, speaker: object) -> str:
    prefix = f"{corpus}{SPEAKER_SEPARATOR}"
    speaker = str(speaker)
    return speaker if speaker.startswith(prefix) else prefix + speaker


def pool_corpora(tables: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One table of several corpora; speaker ids become ``<corpus>:<speaker>`` so they stay distinct."""
    tables = [conform(t) for t in tables]
    if not tables:
        raise ConfigError("data.corpora: nothing to pool")
    pooled = pd.concat(tables, ignore_index=True)
    if pooled["corpus"].isna().any():
        raise LabelError("column 'corpus' is missing for some rows; cannot keep pooled speakers apart")
    pooled["speaker"] = [_prefixed(c, s) for c, s in zip(pooled["corpus"], pooled["speaker"])]
    key = pooled[["path", "start", "end"]].astype(str)
    duplicated = key.duplicated()
    if duplicated.any():
        raise LabelError(f"file listed twice in the pooled corpora: {pooled.loc[duplicated, 'path'].iloc[0]}")
    return conform(pooled)
