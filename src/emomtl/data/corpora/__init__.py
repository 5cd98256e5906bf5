"""Corpus adapters and their registry: ``load_corpus(name, root)`` -> a checked corpus table.

Each adapter is a module ``emomtl.data.corpora.<module>`` with ``load(root, **options) ->
pandas.DataFrame`` conforming to :mod:`emomtl.data.schema`; modules are imported only when used.
The registry adds what every corpus needs: a readable, long-enough audio file for each row, and a
list of the files left out with the reason (:class:`SkippedFile`).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from emomtl.data.corpora.checks import DEFAULT_MIN_DURATION, SkippedFile, check_files
from emomtl.data.corpora.hygiene import drop_duplicate_files, normalise_speakers
from emomtl.data.schema import conform
from emomtl.errors import ConfigError

__all__ = ["CorpusLoad", "SkippedFile", "available_corpora", "corpus_module", "load_corpus", "resolve_name"]

#: Corpus name -> adapter module (in this package).
CORPORA: dict[str, str] = {
    "emodb": "emodb",
    "ravdess": "ravdess",
    "cremad": "cremad",
    "savee": "savee",
    "tess": "tess",
    "iemocap": "iemocap",
    "exvo": "exvo",
    "nemo": "nemo",
    "turev-db": "turev",
    "manifest": "manifest",
    "demo": "demo",
}
ALIASES: dict[str, str] = {
    "turev": "turev-db",
    "emo-db": "emodb",
    "crema-d": "cremad",
    "hume-vb": "exvo",
}
#: Corpora whose files are generated (into their root, which may not exist yet) rather than found under a root folder.
NO_ROOT = frozenset({"demo"})


@dataclass
class CorpusLoad:
    """A loaded corpus: the usable rows and the files left out (with reasons)."""

    table: pd.DataFrame
    skipped: list[SkippedFile] = field(default_factory=list)
    name: str = ""


def available_corpora() -> list[str]:
    """Names :func:`load_corpus` accepts (aliases such as ``turev`` also work)."""
    return sorted(CORPORA)


def resolve_name(name: str) -> str:
    """The canonical corpus name; :class:`ConfigError` listing the choices when unknown."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in CORPORA:
        raise ConfigError(f"data.corpus: unknown corpus {name!r}; available: {', '.join(available_corpora())}")
    return key


def corpus_module(name: str) -> Any:
    """The adapter module of a corpus, imported on first use."""
    key = resolve_name(name)
    module_name = f"{__name__}.{CORPORA[key]}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            raise ConfigError(
                f"data.corpus: corpus {key!r} is not available in this installation ({module_name} is missing)"
            ) from None
        raise


def _check_options(load: Any, corpus: str, options: dict[str, Any]) -> None:
    """:class:`ConfigError` naming any option the adapter does not take."""
    parameters = inspect.signature(load).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    named = [n for n, p in parameters.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    valid = sorted(n for n in named[1:] if n != "skipped")  # the first parameter is the root folder
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"data.options: corpus {corpus!r} has no option(s) {unknown}; valid: {valid}")


def load_corpus(
    name: str,
    root: Path | str | None = None,
    check_audio: bool = True,
    min_duration: float = DEFAULT_MIN_DURATION,
    **options: Any,
) -> CorpusLoad:
    """Load a corpus table; with ``check_audio`` drop (and report) files that are unreadable or too short.

    ``options`` go to the adapter (e.g. ``four_class=True`` for IEMOCAP, ``columns={...}`` for a manifest).
    """
    key = resolve_name(name)
    module = corpus_module(key)
    skipped: list[SkippedFile] = []
    root_path = Path(root).expanduser() if root is not None else None
    _check_options(module.load, key, options)
    if key in NO_ROOT:
        table = module.load(root_path, **options)
    else:
        if root_path is None:
            raise ConfigError(f"data.root: corpus {key!r} needs the folder it is stored in")
        table = module.load(root_path, skipped=skipped, **options)
    table = normalise_speakers(drop_duplicate_files(conform(table), key), key)
    if check_audio:
        checked = check_files(table, min_duration=min_duration)
        table, skipped = checked.table, skipped + checked.skipped
    return CorpusLoad(table, skipped, key)
