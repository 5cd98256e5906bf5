"""From a recipe to in-memory inputs: corpus table, extracted (cached) features and task targets.

Every file that cannot be read or whose features cannot be computed is reported with its reason
and dropped; the run goes on with the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emomtl.config import DataSettings, Recipe, as_recipe
from emomtl.data.corpora import NO_ROOT, SkippedFile, load_corpus
from emomtl.data.label_maps import apply_label_map, load_label_map, pool_corpora
from emomtl.errors import ConfigError
from emomtl.features import FeatureCache, create_extractor, extract_features
from emomtl.models.tasks import TaskSpec, parse_tasks
from emomtl.training.augment import check_augment

log = logging.getLogger(__name__)

#: The table column that feeds each extractor source.
SOURCE_COLUMN = {"audio": "path", "text": "text", "video": "video"}


@dataclass
class PreparedCorpus:
    """The usable rows of a corpus with their features, aligned by position."""

    table: pd.DataFrame
    inputs: dict[str, list[np.ndarray]]
    skipped: list[SkippedFile] = field(default_factory=list)
    #: Speed-perturbed copies of ``inputs`` (``train.augment.speed``), by factor, aligned with ``table``.
    views: dict[float, dict[str, list[np.ndarray]]] = field(default_factory=dict)

    @property
    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-sample shape of each input (from the first row; the time axis varies)."""
        return {name: tuple(values[0].shape) for name, values in self.inputs.items()}


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "emomtl" / "features"


def load_table(data: DataSettings | dict[str, Any]) -> tuple[pd.DataFrame, list[SkippedFile]]:
    """Load one corpus or pool several (``data.corpora``), then apply the label map."""
    data = data if isinstance(data, DataSettings) else DataSettings.parse(data)
    entries = data.corpora or [{"corpus": data.corpus, "root": data.root, "options": data.options}]
    tables, skipped = [], []
    for i, entry in enumerate(entries):
        where = f"data.corpora[{i}]" if data.corpora else "data"
        if "corpus" not in entry:
            raise ConfigError(f"{where}.corpus: each pooled corpus needs a name")
        root = entry.get("root")
        generated = entry["corpus"] in NO_ROOT
        if not generated and root is None:
            raise ConfigError(f"{where}.root: corpus {entry['corpus']!r} needs the folder it lives in")
        if not generated and not Path(root).expanduser().exists():
            raise ConfigError(f"{where}.root: corpus folder {root} does not exist")
        loaded = load_corpus(entry["corpus"], Path(root).expanduser() if root else None,
                             check_audio=data.check_audio, **(entry.get("options") or {}))
        tables.append(loaded.table)
        skipped.extend(loaded.skipped)
    table = pool_corpora(tables) if data.corpora else tables[0]  # pooled ids: "<corpus>:<speaker>"
    if data.label_map:
        table, dropped = apply_label_map(table, load_label_map(data.label_map))
        if dropped:
            log.info("label map %s dropped %d row(s) whose labels do not map", data.label_map, dropped)
    if data.max_files:
        table = table.sample(n=min(len(table), data.max_files), random_state=0).sort_index()
    return table.reset_index(drop=True), skipped


def extract_inputs(
    table: pd.DataFrame, features: dict[str, dict[str, Any]], sample_rate: int, cache_dir: Path | None,
    num_workers: int = 2, progress: bool = True,
) -> tuple[pd.DataFrame, dict[str, list[np.ndarray]], list[SkippedFile]]:
    """Compute (or read from the cache) every feature; drop rows any feature failed on."""
    cache = FeatureCache(cache_dir or default_cache_dir())
    per_feature: dict[str, list[np.ndarray | None]] = {}
    skipped: list[SkippedFile] = []
    keep = np.ones(len(table), dtype=bool)
    for name, config in features.items():
        extractor = create_extractor(config, sample_rate=sample_rate, setting=f"features.{name}")
        column = SOURCE_COLUMN[extractor.source]
        if column not in table or table[column].isna().all():
            raise ConfigError(f"features.{name}: the corpus has no {column!r} column for a {config['kind']} feature")
        sources = table[column].tolist()
        valid = [s for s in sources if isinstance(s, str) and s]
        result = extract_features(sorted(set(valid)), extractor,
                                  cache=cache, num_workers=num_workers, progress=progress)
        values: list[np.ndarray | None] = []
        for i, source in enumerate(sources):
            value = result.features.get(source) if isinstance(source, str) else None
            if value is None:
                reason = result.failed.get(source, f"no {column} for this row")
                skipped.append(SkippedFile(str(table.loc[i, "path"]), f"{name}: {reason}"))
                keep[i] = False
            values.append(value)
        per_feature[name] = values
    rows = np.flatnonzero(keep)
    inputs = {name: [values[i] for i in rows] for name, values in per_feature.items()}
    return table.iloc[rows].reset_index(drop=True), inputs, skipped


def feature_cache_dir(data: DataSettings) -> Path | None:
    """``data.cache_dir`` (null: the default cache, ``~/.cache/emomtl/features``)."""
    return Path(data.cache_dir).expanduser() if data.cache_dir else None


def prepare_corpus(recipe: Recipe | dict[str, Any], progress: bool = True) -> PreparedCorpus:
    """Load the recipe's corpus and extract its features."""
    recipe = as_recipe(recipe)
    data = recipe.data
    table, skipped = load_table(data)
    if len(table) == 0:
        raise ConfigError(f"data: corpus {data.corpus!r} yielded no usable files")
    if not recipe.features:
        raise ConfigError("features: a recipe needs at least one feature")
    augment = recipe.train.augment
    check_augment(augment)  # before any extraction
    cache_dir = feature_cache_dir(data)
    workers = max(1, recipe.train.num_workers or 2)
    table, inputs, failed = extract_inputs(
        table, recipe.features, data.sample_rate, cache_dir, num_workers=workers, progress=progress,
    )
    for item in skipped + failed:
        log.warning("skipped %s: %s", item.path, item.reason)
    if len(table) == 0:
        raise ConfigError(f"data: corpus {data.corpus!r} has no usable files: feature extraction failed on all "
                          f"{len(failed)} (each is named above; first: {failed[0].path}: {failed[0].reason})")
    views = {
        float(factor): extract_speed_view(table, inputs, recipe.features, data.sample_rate, cache_dir,
                                          float(factor), num_workers=workers, progress=progress)
        for factor in augment.get("speed") or []
    }
    return PreparedCorpus(table, inputs, skipped + failed, views)


def extract_speed_view(
    table: pd.DataFrame, inputs: dict[str, list[np.ndarray]], features: dict[str, dict[str, Any]], sample_rate: int,
    cache_dir: Path | None, factor: float, num_workers: int = 2, progress: bool = True,
) -> dict[str, list[np.ndarray]]:
    """Every audio feature recomputed on ``factor``-speed audio (cached like any feature), aligned with ``table``.

    Features of other sources (text, video) are shared with ``inputs``. A row whose perturbed copy fails keeps
    its original features (logged), so augmentation never drops a training file.
    """
    cache = FeatureCache(cache_dir or default_cache_dir())
    view: dict[str, list[np.ndarray]] = {}
    for name, config in features.items():
        extractor = create_extractor(config, sample_rate=sample_rate, setting=f"features.{name}")
        if extractor.source != "audio":
            view[name] = inputs[name]
            continue
        perturbed = create_extractor({**config, "speed": factor}, sample_rate=sample_rate, setting=f"features.{name}")
        paths = table["path"].tolist()
        result = extract_features(sorted(set(paths)), perturbed,
                                  cache=cache, num_workers=num_workers, progress=progress)
        for path, reason in result.failed.items():
            log.warning("speed %.2f copy of %s failed (%s): the original features are used", factor, path, reason)
        view[name] = [result.features.get(path, original) for path, original in zip(paths, inputs[name])]
    return view


def fit_tasks(recipe: Recipe | dict[str, Any], table: pd.DataFrame) -> list[TaskSpec]:
    """Parse the recipe's tasks and fix their class lists on the whole table (so every fold agrees)."""
    return [task.fit(table) for task in parse_tasks(as_recipe(recipe).tasks)]
