"""On-disk feature cache keyed by input content and extractor configuration.

Layout: ``<root>/<kind>-<config digest[:16]>/<content digest[:2]>/<content digest>.npy`` plus a ``config.json``
per configuration directory for humans. The config digest hashes the extractor's :meth:`cache_identity` and
:data:`FEATURE_VERSION`, so a changed option (or a new version of the feature code) never reuses stale entries.
Entries are written to a temporary file and renamed (atomic); an unreadable entry is deleted and recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emomtl.data.audio import PathLike, check_readable
from emomtl.features.base import FeatureExtractor, canonical_json
from emomtl.features.video_segment import parse_video_item

#: Bump when the feature code changes its output for the same config, to invalidate every cache.
FEATURE_VERSION = "1"
_READ_BLOCK = 1 << 20


class CacheWarning(UserWarning):
    """A cache entry was unreadable and has been deleted (it will be recomputed)."""


@dataclass(frozen=True)
class CacheKey:
    """Where one item's features live: the extractor config digest and the content digest."""

    kind: str
    config: str
    content: str


def config_digest(extractor: FeatureExtractor) -> str:
    """SHA-256 of the extractor's cache identity and :data:`FEATURE_VERSION`."""
    text = canonical_json({"feature_version": FEATURE_VERSION, "extractor": extractor.cache_identity()})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_digest(item: PathLike | str, source: str) -> str:
    """SHA-256 of a file's bytes, or of a text (``source == "text"``), domain-separated."""
    digest = hashlib.sha256()
    if source == "text":
        if not isinstance(item, str):
            raise ValueError(f"transcript must be a string, got {type(item).__name__} ({item!r})")
        digest.update(b"text\0" + item.encode("utf-8"))
        return digest.hexdigest()
    if source == "video":
        segment = parse_video_item(item)
        if segment.fragment:  # a segment of a long recording: the file's digest (read once) + the fragment
            path = check_readable(segment.path)
            status = path.stat()
            file_digest = _file_digest(str(path.resolve()), status.st_size, status.st_mtime_ns)
            digest.update(b"segment\0" + file_digest.encode() + b"#" + segment.fragment.encode("utf-8"))
            return digest.hexdigest()
    path = check_readable(item)
    digest.update(b"file\0")
    with open(path, "rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1024)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file's bytes, remembered per (path, size, mtime): many segments share one long video."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class FeatureCache:
    """Feature arrays stored as ``.npy`` files under ``root``; safe to share between processes."""

    def __init__(self, root: PathLike) -> None:
        self.root = Path(root)

    def key(self, item: PathLike | str, extractor: FeatureExtractor) -> CacheKey:
        """The key of ``item`` under ``extractor`` (hashes the file content; raises if the file is unreadable)."""
        digest = extractor.resource("cache_config_digest", lambda: config_digest(extractor))
        return CacheKey(extractor.kind, digest, content_digest(item, extractor.source))

    def path(self, key: CacheKey) -> Path:
        """File of an entry."""
        return self.root / f"{key.kind}-{key.config[:16]}" / key.content[:2] / f"{key.content}.npy"

    def load(self, key: CacheKey) -> np.ndarray | None:
        """The cached array, or ``None`` when absent; a corrupt entry is deleted (with a warning) and ``None``."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            array = np.load(path, allow_pickle=False)
            if not isinstance(array, np.ndarray):
                raise ValueError("not a single array")
            return array
        except Exception as error:  # any unreadable entry is treated as missing
            warnings.warn(f"feature cache entry {path} is corrupt ({error}); recomputing", CacheWarning, stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def save(self, key: CacheKey, array: np.ndarray, extractor: FeatureExtractor | None = None) -> Path:
        """Write an entry atomically (temporary file in the same folder, then ``os.replace``)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        if extractor is not None:
            self._write_config(path.parent.parent, extractor)
        _atomic_write(path, lambda handle: np.save(handle, np.asarray(array), allow_pickle=False))
        return path

    def get_or_compute(self, item: PathLike | str, extractor: FeatureExtractor) -> np.ndarray:
        """Cached features of ``item``, computing and storing them on a miss."""
        key = self.key(item, extractor)
        array = self.load(key)
        if array is None:
            array = extractor.compute(item)
            self.save(key, array, extractor)
        return array

    def _write_config(self, folder: Path, extractor: FeatureExtractor) -> None:
        target = folder / "config.json"
        if not target.exists():
            text = canonical_json({"feature_version": FEATURE_VERSION, "extractor": extractor.cache_identity()})
            _atomic_write(target, lambda handle: handle.write(text.encode("utf-8")))


def _atomic_write(path: Path, write) -> None:
    """Call ``write(binary handle)`` on a temporary file next to ``path``, then rename it onto ``path``.

    No fsync: the rename is atomic against killed processes; an entry torn by a power loss is caught by ``load``.
    """
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

