"""The embedded demo corpus: a deterministic synthetic corpus generated on first use (no files shipped).

Every task and modality of emomtl can run end to end on it without a download:

* **audio** - 16 kHz mono wav files spoken by the source-filter voice of
  :mod:`emomtl.data.synthetic_voice`; F0, formants, rate and loudness depend on speaker and gender,
  prosody (pitch level and range, rate, energy, jitter, spectral tilt) on emotion;
* **labels** - ``emotion``, ``gender`` (speakers alternate female / male), ``speaker``, ``session`` (first /
  second half of the speakers) and ``valence`` / ``arousal`` in [0, 1] (a per-emotion value plus a small
  per-utterance jitter);
* **text** - a short transcript of emotion-neutral words; with probability :data:`TEXT_CUE_RATE` one
  *mildly* emotion-related word is added, so the text modality carries some (but far from all) of the
  emotion: a text-only model beats chance without solving the task;
* **video** - ``.npy`` arrays ``(frames, 3, 96, 96)`` uint8 at :data:`VIDEO_FPS` frames per second: a cartoon
  face whose mouth opens with the audio's syllable envelope and whose brows and mouth curvature show the
  emotion.

Everything is derived from ``seed`` through :class:`numpy.random.SeedSequence` keyed by speaker, emotion and
utterance number, so one file can be regenerated alone and comes out byte-identical. Files that already
exist are not rewritten: a second :func:`load` only builds the table.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import soundfile as sf

from emomtl.data.schema import conform
from emomtl.data.synthetic_voice import EMOTION_PROSODY, Speaker, Utterance, random_speaker, synthesize

CORPUS = "demo"
LANGUAGE = "xx"
#: Bumped whenever the generated audio or video changes, so cached corpora of older versions are not reused.
GENERATOR_VERSION = 2
VIDEO_FPS = 5
VIDEO_SIZE = 96
#: Probability that a transcript contains one emotion-related word.
TEXT_CUE_RATE = 0.35

#: (valence, arousal) in [0, 1] of each emotion, before the per-utterance jitter.
VALENCE_AROUSAL: dict[str, tuple[float, float]] = {
    "anger": (0.2, 0.85),
    "happiness": (0.85, 0.7),
    "sadness": (0.2, 0.25),
    "neutral": (0.5, 0.45),
    "fear": (0.2, 0.8),
    "disgust": (0.25, 0.55),
    "surprise": (0.7, 0.8),
    "boredom": (0.35, 0.2),
    "calm": (0.6, 0.25),
}
VALENCE_AROUSAL_JITTER = 0.05

NEUTRAL_WORDS = (
    "the table by the window", "seven green boxes", "a letter on the chair", "the train at noon",
    "water in the garden", "a yellow door", "paper and a pencil", "the river road", "on monday morning",
    "two blue cups", "the number nine", "a book on the shelf", "the street corner", "a wooden bridge",
)
CUE_WORDS: dict[str, tuple[str, ...]] = {
    "anger": ("unfair", "enough", "stop it"),
    "happiness": ("wonderful", "great news", "finally"),
    "sadness": ("sorry", "alone", "lost it"),
    "neutral": ("as usual", "okay", "I see"),
    "fear": ("careful", "what was that", "hide"),
    "disgust": ("gross", "awful smell", "yuck"),
    "surprise": ("really", "no way", "oh"),
    "boredom": ("again", "whatever", "same thing"),
    "calm": ("slowly", "all right", "easy"),
}

#: Face parameters per emotion: (inner brow offset in px, +down; whole brow raise, +up; mouth curvature,
#: +smile; mouth half-width).
FACE_STYLE: dict[str, tuple[float, float, float, float]] = {
    "anger": (4.0, 0.0, -2.0, 9.0),
    "happiness": (0.0, 2.0, 5.0, 14.0),
    "sadness": (-4.0, 0.0, -4.0, 10.0),
    "neutral": (0.0, 0.0, 0.0, 11.0),
    "fear": (-3.0, 4.0, -1.0, 10.0),
    "disgust": (2.0, -1.0, -3.0, 10.0),
    "surprise": (0.0, 5.0, 0.0, 8.0),
    "boredom": (0.0, -1.0, -1.0, 10.0),
    "calm": (0.0, 0.0, 1.5, 11.0),
}
_STREAM_AUDIO, _STREAM_VIDEO, _STREAM_LABELS, _STREAM_SPEAKER, _STREAM_FACE = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class FaceLook:
    """How a speaker's synthetic face looks: skin and background RGB, face half-width and half-height (px)."""

    skin: tuple[float, float, float]
    background: tuple[float, float, float]
    half_width: float
    half_height: float


def random_face(rng: np.random.Generator) -> FaceLook:
    """Draw a face look."""
    return FaceLook(
        skin=tuple(rng.uniform([150, 110, 90], [235, 190, 160])),
        background=tuple(rng.uniform(40, 120, 3)),
        half_width=float(rng.uniform(26, 32)),
        half_height=float(rng.uniform(34, 40)),
    )


def load(
    root: Path | str | None = None,
    *,
    speakers: int = 8,
    utterances_per_emotion: int = 6,
    emotions: Sequence[str] = ("anger", "happiness", "sadness", "neutral"),
    seconds: tuple[float, float] = (1.0, 2.0),
    sample_rate: int = 16000,
    video: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """Generate (what is missing of) the demo corpus under ``root`` and return its corpus table.

    ``root`` defaults to ``$XDG_CACHE_HOME/emomtl/demo/<hash of the options>`` (``~/.cache`` when unset).
    Files go to ``root/<speaker>/<speaker>_<emotion>_<nn>.wav`` (and ``.npy`` for video). A ``demo.json``
    in ``root`` records the options; if it records others, every file is regenerated.
    """
    emotions = tuple(str(e) for e in emotions)
    unknown = [e for e in emotions if e not in EMOTION_PROSODY]
    if unknown:
        raise ValueError(f"demo corpus cannot speak emotion(s) {unknown}; choose from {sorted(EMOTION_PROSODY)}")
    if len(set(emotions)) != len(emotions) or not emotions:
        raise ValueError(f"emotions must be distinct and non-empty, got {emotions}")
    if speakers < 1 or utterances_per_emotion < 1:
        raise ValueError("speakers and utterances_per_emotion must be at least 1")
    low, high = (float(s) for s in seconds)
    if not 0.3 <= low <= high:
        raise ValueError(f"seconds must be (min, max) with 0.3 <= min <= max, got {seconds}")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz, got {sample_rate}")

    options = {
        "version": GENERATOR_VERSION,
        "speakers": speakers,
        "utterances_per_emotion": utterances_per_emotion,
        "emotions": list(emotions),
        "seconds": [low, high],
        "sample_rate": sample_rate,
        "seed": seed,
    }
    root = Path(root).expanduser() if root is not None else default_root(options)
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / "demo.json"
    stale = not manifest.exists() or json.loads(manifest.read_text()) != options

    rows = []
    for s in range(speakers):
        name = speaker_name(s)
        gender = "female" if s % 2 == 0 else "male"
        voice = random_speaker(gender, _rng(seed, _STREAM_SPEAKER, s))
        look = random_face(_rng(seed, _STREAM_FACE, s))
        (root / name).mkdir(exist_ok=True)
        for emotion in emotions:
            for k in range(utterances_per_emotion):
                stem = root / name / f"{name}_{emotion}_{k + 1:02d}"
                wav, npy = stem.with_suffix(".wav"), stem.with_suffix(".npy")
                need_audio = stale or not wav.exists()
                need_video = video and (stale or not npy.exists())
                if need_audio or need_video:
                    utterance = _speak(voice, emotion, (seed, s, k), (low, high), sample_rate)
                    if need_audio:
                        _write_atomic(wav, lambda f, u=utterance: _write_wav(f, u))
                    if need_video:
                        frames = face_frames(utterance, emotion, look, _rng(seed, _STREAM_VIDEO, s, _code(emotion), k))
                        _write_atomic(npy, lambda f, v=frames: np.save(f, v))
                elif stale and not video:
                    npy.unlink(missing_ok=True)  # a frame file of other options must not be reused later
                labels = _rng(seed, _STREAM_LABELS, s, _code(emotion), k)
                valence, arousal = np.clip(
                    np.array(VALENCE_AROUSAL[emotion]) + labels.normal(0.0, VALENCE_AROUSAL_JITTER, 2), 0.0, 1.0
                )
                rows.append(
                    {
                        "path": str(wav.resolve()),
                        "corpus": CORPUS,
                        "speaker": name,
                        "gender": gender,
                        "language": LANGUAGE,
                        "emotion": emotion,
                        "valence": round(float(valence), 3),
                        "arousal": round(float(arousal), 3),
                        "text": transcript(emotion, labels),
                        "video": str(npy.resolve()) if video else None,
                        "session": "demo_sess1" if s < (speakers + 1) // 2 else "demo_sess2",
                    }
                )
    if stale:
        _write_atomic(manifest, lambda f: f.write(json.dumps(options, indent=1).encode()))
    return conform(pd.DataFrame(rows))


def default_root(options: dict) -> Path:
    """``$XDG_CACHE_HOME/emomtl/demo/<12 hex digits of the options' hash>``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:12]
    return cache / "emomtl" / "demo" / digest


def speaker_name(index: int) -> str:
    """``demo_s01`` for index 0."""
    return f"demo_s{index + 1:02d}"


def transcript(emotion: str, rng: np.random.Generator) -> str:
    """Two neutral phrases, plus (with probability :data:`TEXT_CUE_RATE`) one emotion-related word."""
    first, second = rng.choice(len(NEUTRAL_WORDS), size=2, replace=False)
    words = [NEUTRAL_WORDS[first], NEUTRAL_WORDS[second]]
    if rng.random() < TEXT_CUE_RATE:
        cues = CUE_WORDS[emotion]
        words.insert(int(rng.integers(3)), cues[int(rng.integers(len(cues)))])
    return " ".join(words)


def face_frames(utterance: Utterance, emotion: str, look: FaceLook, rng: np.random.Generator) -> np.ndarray:
    """Synthetic face video ``(frames, 3, 96, 96)`` uint8 at :data:`VIDEO_FPS` frames per second.

    An ellipse face (``look``: skin tone and size per speaker) with eyes, brows and a mouth; the mouth opens with the
    syllable envelope of the audio, brows and mouth curvature follow :data:`FACE_STYLE`; the head moves a
    little and the camera adds noise.
    """
    size = VIDEO_SIZE
    hop = utterance.sample_rate // VIDEO_FPS
    count = max(1, int(round(len(utterance.envelope) / hop)))
    skin, background = np.array(look.skin), np.array(look.background)
    half_width, half_height = look.half_width, look.half_height
    inner, raise_, curvature, mouth_half = FACE_STYLE[emotion]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    frames = np.empty((count, 3, size, size), dtype=np.uint8)
    for i in range(count):
        window = utterance.envelope[i * hop : (i + 1) * hop]
        opening = float(window.mean()) if len(window) else 0.0
        cx, cy = size / 2 + rng.normal(0, 1.0), size / 2 + 2 + rng.normal(0, 1.0)
        image = np.empty((size, size, 3))
        image[:] = background
        image[((xx - cx) / half_width) ** 2 + ((yy - cy) / half_height) ** 2 <= 1] = skin
        dark = np.array([30.0, 20.0, 20.0])
        for side in (-1, 1):
            ex, ey = cx + side * 11, cy - 8
            image[((xx - ex) / 4.0) ** 2 + ((yy - ey) / 2.5) ** 2 <= 1] = dark
            brow_y = ey - 7 - raise_
            image[_segment(xx, yy, (ex - side * 5, brow_y + inner), (ex + side * 6, brow_y), 1.3)] = dark
        mouth_y, offset = cy + 17, (xx - cx) / mouth_half
        centre = mouth_y - curvature * (offset**2 - 0.5)  # curvature > 0 lifts the corners
        gap = 0.6 + 9.0 * opening
        lips = (np.abs(offset) <= 1) & (yy >= centre - 1.2 - gap / 2 * (1 - offset**2)) & (
            yy <= centre + 1.2 + gap / 2 * (1 - offset**2)
        )
        image[lips] = [120.0, 30.0, 40.0]
        image += rng.normal(0.0, 4.0, image.shape)
        frames[i] = np.clip(image, 0, 255).astype(np.uint8).transpose(2, 0, 1)
    return frames


# ----------------------------------------------------------------- helpers
def _speak(
    voice: Speaker, emotion: str, key: tuple[int, int, int], seconds: tuple[float, float], sample_rate: int
) -> Utterance:
    seed, s, k = key
    rng = _rng(seed, _STREAM_AUDIO, s, _code(emotion), k)
    duration = float(rng.uniform(*seconds))
    return synthesize(voice, EMOTION_PROSODY[emotion], duration, rng, sample_rate)


def _write_wav(handle: BinaryIO, utterance: Utterance) -> None:
    sf.write(handle, utterance.signal, utterance.sample_rate, subtype="PCM_16", format="WAV")


def _code(emotion: str) -> int:
    """A stable number per emotion (position in the known list), independent of the requested tuple."""
    return list(EMOTION_PROSODY).index(emotion)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *key]))


def _segment(
    xx: np.ndarray, yy: np.ndarray, a: tuple[float, float], b: tuple[float, float], width: float
) -> np.ndarray:
    """Pixels within ``width`` of the segment from ``a`` to ``b``."""
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return (xx - ax - t * dx) ** 2 + (yy - ay - t * dy) ** 2 <= width**2


def _write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through a temporary file and rename, so a crash or a parallel run never leaves half a file."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as handle:
            write(handle)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
