"""Finding a corpus's files on disk, whatever folder the user pointed at."""

from __future__ import annotations

import os
from pathlib import Path

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.errors import ConfigError

#: Folders archive tools leave behind; never part of a corpus.
_JUNK_DIRS = {"__MACOSX"}


def corpus_root(root: Path | str | None, corpus: str) -> Path:
    """The absolute corpus folder; :class:`ConfigError` when it is not given or does not exist."""
    if root is None:
        raise ConfigError(f"corpus {corpus!r} needs a root folder (--root / data.root)")
    path = Path(root).expanduser().resolve()
    if not path.exists():
        raise ConfigError(f"corpus {corpus!r}: root folder {path} does not exist")
    return path


def list_files(root: Path, suffixes: tuple[str, ...] = (".wav",)) -> list[Path]:
    """Files under ``root`` ending in one of ``suffixes`` (any case), sorted.

    Hidden files (``.DS_Store``, AppleDouble ``._name.wav``) and ``__MACOSX`` folders are ignored. Symbolically
    linked subfolders are searched; a folder reached twice (a link loop, or two links to one folder) only once.
    """
    wanted = tuple(s.lower() for s in suffixes)
    found: list[Path] = []
    seen = {os.path.realpath(root)}
    for folder, subfolders, names in os.walk(root, followlinks=True):
        kept = []
        for name in subfolders:
            real = os.path.realpath(os.path.join(folder, name))
            if not name.startswith(".") and name not in _JUNK_DIRS and real not in seen:
                seen.add(real)
                kept.append(name)
        subfolders[:] = kept
        for name in names:
            if not name.startswith(".") and name.lower().endswith(wanted):
                found.append(Path(folder) / name)
    return sorted(found)


def find_file(root: Path, name: str) -> Path | None:
    """``root/name`` if it exists, else the shallowest file called ``name`` under ``root``."""
    if (root / name).is_file():
        return root / name
    matches = [p for p in list_files(root, (name,)) if p.name == name]
    return min(matches, key=lambda p: (len(p.parts), str(p))) if matches else None


def audio_folder(root: Path, *names: str) -> Path:
    """The first of ``root/<name>`` that is a folder, else ``root`` itself."""
    for name in names:
        if (root / name).is_dir():
            return root / name
    return root


def first_copy_of_each_name(paths: list[Path], skipped: list[SkippedFile] | None) -> list[Path]:
    """One path per file name, for corpora whose file names identify the recording (RAVDESS, CREMA-D, TESS,
    EMO-DB, TurEV-DB): a second copy of the corpus under the same root (common in repacked downloads) would
    otherwise count each recording twice. The copy nearest the root is kept; the others are reported in ``skipped``.
    """
    kept: dict[str, Path] = {}
    for path in sorted(paths, key=lambda p: (len(p.parts), str(p))):
        first = kept.setdefault(path.name.lower(), path)
        if first != path:
            report_skip(skipped, path, f"same file name as {first} (a second copy of the corpus?); the first is kept")
    return sorted(kept.values())
