"""The extractor interface, its option handling and the ``create_extractor(config)`` registry.

An extractor turns one input (an audio file or signal, a video file, a transcript) into one numpy array of
full-utterance features; fixed-length cropping happens later, at batch time (:mod:`emomtl.features.cropping`).
Every extractor is built from a plain mapping (a YAML ``features`` section)::

    create_extractor({"kind": "logmel", "n_mels": 128, "n_fft": 800, "hop_length": 400}, sample_rate=16000)

Kinds are registered by import path so that ``import emomtl.features`` never loads torch, transformers,
openSMILE or OpenCV; they are imported when an extractor of that kind is first created.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from emomtl.data.audio import DEFAULT_SAMPLE_RATE, PathLike, load_audio, prepare_signal
from emomtl.errors import ConfigError

Source = Literal["audio", "video", "text"]

_REGISTRY: dict[str, str | type[FeatureExtractor]] = {
    "waveform": "emomtl.features.waveform:WaveformExtractor",
    "logmel": "emomtl.features.logmel:LogMelExtractor",
    "opensmile": "emomtl.features.opensmile_features:OpenSmileExtractor",
    "speech_encoder": "emomtl.features.speech_encoder:SpeechEncoderExtractor",
    "text_encoder": "emomtl.features.text_encoder:TextEncoderExtractor",
    "text_tokens": "emomtl.features.text_tokens:TextTokensExtractor",
    "video": "emomtl.features.video:VideoExtractor",
    "whisper": "emomtl.features.whisper.extractor:WhisperExtractor",
}


@dataclasses.dataclass(frozen=True)
class Options:
    """Base of every extractor's options; subclasses validate in ``check(setting, sample_rate)``."""

    def check(self, setting: str, sample_rate: int) -> None:
        """Raise :class:`ConfigError` naming ``setting.<option>`` for an invalid value."""


class FeatureExtractor(ABC):
    """One kind of feature. Subclasses set the class attributes and implement the ``from_*`` methods they support.

    ``source`` says what :meth:`compute` takes (an audio path, a video path or a text) and what the cache hashes.
    ``time_axis`` is the axis that grows with the input (``None`` for a fixed-size vector), ``frames_per_second``
    the rate along it; both let callers turn crop seconds into frames.
    """

    kind: ClassVar[str]
    source: ClassVar[Source] = "audio"
    #: How :func:`~emomtl.features.extract.extract_features` parallelises: fresh processes or shared threads.
    parallel: ClassVar[Literal["process", "thread"]] = "process"
    #: Upper bound on parallel workers (``1`` when the extractor already uses every core, like torch models).
    max_workers: ClassVar[int | None] = None
    #: Options that change speed or placement but never the values (kept out of the cache key).
    runtime_options: ClassVar[tuple[str, ...]] = ()
    Options: ClassVar[type[Options]] = Options

    def __init__(self, options: Options, sample_rate: int = DEFAULT_SAMPLE_RATE) -> None:
        self.options = options
        self.sample_rate = int(sample_rate)
        self._resources: dict[str, Any] = {}
        self._resource_lock = threading.RLock()

    @property
    @abstractmethod
    def input_name(self) -> str:
        """The batch key these features fill (``"logmel"``, ``"functionals"``, ...)."""

    @property
    def time_axis(self) -> int | None:
        """The axis that grows with the input length, or ``None`` for a fixed-size vector."""
        return 0

    @property
    def frames_per_second(self) -> float | None:
        """Frames per second along :attr:`time_axis`, or ``None`` when it is not time (tokens, vectors)."""
        return None

    @property
    def config(self) -> dict[str, Any]:
        """Canonical configuration: ``kind``, ``sample_rate`` and every option with its resolved value."""
        return {"kind": self.kind, "sample_rate": self.sample_rate, **_plain(dataclasses.asdict(self.options))}

    def cache_identity(self) -> dict[str, Any]:
        """What the cache key hashes: the config without runtime options (encoders add a model fingerprint).
        An unperturbed ``speed`` of 1 is left out, so caches written before that option existed stay valid."""
        return {k: v for k, v in self.config.items()
                if k not in self.runtime_options and not (k == "speed" and v == 1.0)}

    def from_signal(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """Features of an in-memory signal (resampled to :attr:`sample_rate` if needed)."""
        raise NotImplementedError(f"the {self.kind!r} extractor does not take audio signals")

    def from_path(self, path: PathLike) -> np.ndarray:
        """Features of a file."""
        raise NotImplementedError(f"the {self.kind!r} extractor does not read files")

    def from_text(self, text: str) -> np.ndarray:
        """Features of a transcript."""
        raise NotImplementedError(f"the {self.kind!r} extractor does not take text")

    def compute(self, item: PathLike | str) -> np.ndarray:
        """Features of one item of :attr:`source`: a text for text extractors, otherwise a file path."""
        if self.source == "text":
            return self.from_text(item)  # type: ignore[arg-type]
        return self.from_path(item)

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k != "kind")
        return f"{type(self).__name__}({options})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_resources"] = {}  # loaded models and detectors are rebuilt lazily in the receiving process
        del state["_resource_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._resource_lock = threading.RLock()

    def resource(self, name: str, build: Any) -> Any:
        """A lazily built heavy object (model, detector), built once per process (thread-safe) by ``build()``."""
        with self._resource_lock:
            if name not in self._resources:
                self._resources[name] = build()
            return self._resources[name]


@dataclasses.dataclass(frozen=True)
class AudioOptions(Options):
    """Front-end options shared by every audio extractor (see :func:`~emomtl.data.audio.load_audio`)."""

    trim_silence: bool = False
    trim_top_db: float = 30.0
    normalize: str | None = None
    min_seconds: float = 0.1
    pad_short: bool = False
    speed: float = 1.0

    def check(self, setting: str, sample_rate: int) -> None:
        require(isinstance(self.trim_silence, bool), setting, "trim_silence", "must be true or false")
        require(is_number(self.trim_top_db) and self.trim_top_db > 0, setting, "trim_top_db", "must be positive")
        require(self.normalize in (None, "peak", "rms"), setting, "normalize", "must be null, 'peak' or 'rms'")
        require(is_number(self.min_seconds) and self.min_seconds >= 0, setting, "min_seconds", "must be >= 0")
        require(isinstance(self.pad_short, bool), setting, "pad_short", "must be true or false")
        require(is_number(self.speed) and 0.5 <= self.speed <= 2.0, setting, "speed", "must be between 0.5 and 2")


class AudioExtractor(FeatureExtractor):
    """An extractor over audio: the shared front end (trim, normalise, minimum length) then :meth:`from_prepared`."""

    options: AudioOptions

    def from_path(self, path: PathLike) -> np.ndarray:
        return self.from_prepared(load_audio(path, self.sample_rate, **self.front_end))

    def from_signal(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        signal = prepare_signal(signal, sample_rate, self.sample_rate, **self.front_end)
        return self.from_prepared(signal)

    @abstractmethod
    def from_prepared(self, signal: np.ndarray) -> np.ndarray:
        """Features of a finite mono float32 signal already at :attr:`sample_rate`."""

    @property
    def front_end(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~emomtl.data.audio.load_audio` taken from the options."""
        o = self.options
        return {
            "trim_silence": o.trim_silence,
            "trim_top_db": o.trim_top_db,
            "normalize": o.normalize,
            "min_seconds": o.min_seconds,
            "pad_short": o.pad_short,
            "speed": o.speed,
        }


def create_extractor(
    config: Mapping[str, Any] | FeatureExtractor,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
    *,
    setting: str = "features",
) -> FeatureExtractor:
    """Build an extractor from a ``features`` mapping (``kind`` plus that kind's options).

    ``sample_rate`` is the model rate; a ``sample_rate`` key in ``config`` wins over it. Unknown kinds, unknown
    options and invalid values raise :class:`ConfigError` naming ``<setting>.<option>``. An extractor passed in is
    returned as is.
    """
    if isinstance(config, FeatureExtractor):
        return config
    if not isinstance(config, Mapping):
        raise ConfigError(f"{setting}: expected a mapping with a 'kind', got {type(config).__name__}")
    values = dict(config)
    kind = values.pop("kind", None)
    rate = values.pop("sample_rate", sample_rate)
    require(is_number(rate) and int(rate) == rate and rate > 0, setting, "sample_rate", "must be a positive integer")
    cls = extractor_class(kind, setting=setting)
    known = {f.name for f in dataclasses.fields(cls.Options)}
    for key in values:
        if key not in known:
            raise ConfigError(
                f"{setting}.{key}: unknown option for feature kind {kind!r}; known options: {', '.join(sorted(known))}"
            )
    options = cls.Options(**values)
    options.check(setting, int(rate))
    return cls(options, sample_rate=int(rate))


def extractor_class(kind: Any, *, setting: str = "features") -> type[FeatureExtractor]:
    """The extractor class registered under ``kind`` (imported on first use)."""
    if kind not in _REGISTRY:
        raise ConfigError(f"{setting}.kind: unknown feature kind {kind!r}; known kinds: {', '.join(available_kinds())}")
    target = _REGISTRY[kind]
    if isinstance(target, str):
        module_name, class_name = target.split(":")
        target = getattr(importlib.import_module(module_name), class_name)
        _REGISTRY[kind] = target
    return target


def register_extractor(cls: type[FeatureExtractor]) -> type[FeatureExtractor]:
    """Register a custom extractor class under its ``kind`` (usable as a class decorator)."""
    _REGISTRY[cls.kind] = cls
    return cls


def available_kinds() -> list[str]:
    """Registered feature kinds."""
    return sorted(_REGISTRY)


def canonical_json(value: Any) -> str:
    """A stable JSON text of a config (sorted keys, no spaces) for hashing."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def require(condition: bool, setting: str, option: str, message: str) -> None:
    """Raise :class:`ConfigError` naming ``setting.option`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"{setting}.{option}: {message}")


def is_number(value: Any) -> bool:
    """A real number (int or float, not bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """Tuples -> lists, paths -> strings, numpy scalars -> Python scalars, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
