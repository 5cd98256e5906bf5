"""Atomic output files: every result is written to a temporary file in its folder, flushed, then renamed.

A reader never sees a half-written file; a failed write (disk full, read-only folder) leaves the previous
version in place, removes its temporary file and raises one :class:`OutputError` naming the path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from collections.abc import Iterable
from typing import Any, Callable

import pandas as pd
import yaml

from emomtl.errors import ConfigError, OutputError

#: Suffix of the temporary files (``.<name>.<pid>.tmp``); a run folder holds none once a write returns.
TEMPORARY_SUFFIX = ".tmp"


def temporary_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}{TEMPORARY_SUFFIX}")


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def atomic_write(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """``writer(temporary)`` writes the content; the temporary file then replaces ``path`` in one rename."""
    path = Path(path)
    temporary = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer(temporary)
        _fsync(temporary)
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        raise OutputError(f"{path}: cannot write ({error.strerror or error})") from error
    except BaseException:
        _remove(temporary)
        raise
    return path


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, value: Any) -> Path:
    return write_text(path, json.dumps(value, indent=2, default=float))


def write_yaml(path: str | Path, value: Any) -> Path:
    return write_text(path, yaml.safe_dump(value, sort_keys=False))


def write_csv(path: str | Path, table: pd.DataFrame, **options: Any) -> Path:
    """``table.to_csv(path, **options)`` atomically."""
    return atomic_write(path, lambda temporary: table.to_csv(temporary, **options))


def refuse_input_as_output(output: str | Path, inputs: Iterable[str | Path], what: str,
                           folders: Iterable[str | Path] = ()) -> None:
    """A :class:`ConfigError` when ``output`` is one of the ``inputs`` (links resolved) or lies inside one of the
    ``folders`` (e.g. a run folder read as a checkpoint); ``what`` names the option, e.g. ``"predict -o"``."""
    target = Path(os.path.realpath(output))
    for path in inputs:
        if Path(os.path.realpath(path)) == target:
            raise ConfigError(f"{what} {output}: is one of the inputs ({path}); write to another file")
    for folder in folders:
        if target.is_relative_to(os.path.realpath(folder)):
            raise ConfigError(f"{what} {output}: inside {folder}, which is an input; write outside it")
