"""Audio input: read any soundfile-readable file as a mono float32 signal at the model rate.

Faults are handled in one place so every caller gets the same behaviour:

* missing file, symlink loop, directory, unreadable permission, zero-byte file, truncated or corrupt header,
  non-audio content, a file with no samples, every sample non-finite, too short a clip
  -> :class:`~emomtl.errors.AudioError` naming the file and the reason;
* NaN / inf samples -> replaced by 0, with an :class:`AudioWarning` naming the file;
* all-zero silence -> loads, with an :class:`AudioWarning`; normalisation never divides by zero;
* clipped audio -> loads unchanged (clipping is a property of the recording, not a read error);
* stereo / 5.1 -> averaged to mono; any sample rate -> resampled with soxr (librosa);
* too short (below ``min_seconds``) -> error, or zero-padded at the end when ``pad_short=True``.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

import librosa
import numpy as np
import soundfile as sf

from emomtl.errors import AudioError

PathLike = Union[str, os.PathLike]
Normalization = Literal["peak", "rms"]

#: Model rate used when a caller does not name one.
DEFAULT_SAMPLE_RATE = 16000
#: Target root-mean-square level of ``normalize="rms"`` (about -20 dBFS).
RMS_TARGET = 0.1
#: Levels below this count as silence: normalisation leaves such signals unchanged.
SILENCE_LEVEL = 1e-8


class AudioWarning(UserWarning):
    """An audio file loaded but needed a repair (non-finite samples) or looks suspicious (silence)."""


@dataclass(frozen=True)
class AudioInfo:
    """Header facts about an audio file, read without decoding the samples."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def check_readable(path: PathLike) -> Path:
    """Return ``path`` as a :class:`Path` or raise :class:`AudioError` saying why it cannot be read."""
    path = Path(path)
    try:
        status = path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise AudioError(f"{path}: symbolic link loop") from error
        if error.errno == errno.ENOENT:
            reason = "dangling symbolic link" if path.is_symlink() else "file not found"
            raise AudioError(f"{path}: {reason}") from error
        raise AudioError(f"{path}: cannot access file ({error.strerror or error})") from error
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if not stat.S_ISREG(status.st_mode):
        raise AudioError(f"{path}: not a regular file ({_file_kind(status.st_mode)})")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: permission denied (file is not readable)")
    if status.st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    return path


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "a special file"


#: Sampling rates a recording header may plausibly claim (Hz); anything else is a damaged or forged header.
PLAUSIBLE_RATES = (1000, 768000)


def check_header_rate(path: PathLike, rate: int) -> None:
    low, high = PLAUSIBLE_RATES
    if not low <= rate <= high:
        raise AudioError(f"{path}: implausible sampling rate {rate} Hz in the header (expected {low}-{high} Hz)")


def audio_info(path: PathLike) -> AudioInfo:
    """Read the header of an audio file; raises :class:`AudioError` naming the file and the reason."""
    path = check_readable(path)
    try:
        info = sf.info(str(path))
    except Exception as error:  # libsndfile reports every format problem as one error type
        raise AudioError(f"{path}: {_decode_failure_reason(path, error)}") from error
    check_header_rate(path, int(info.samplerate))
    return AudioInfo(
        path=str(path),
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        format=str(info.format),
        subtype=str(info.subtype),
    )


def load_audio(
    path: PathLike,
    sample_rate: int | None = DEFAULT_SAMPLE_RATE,
    *,
    trim_silence: bool = False,
    trim_top_db: float = 30.0,
    normalize: Normalization | None = None,
    min_seconds: float = 0.1,
    pad_short: bool = False,
    speed: float = 1.0,
    start: float | None = None,
    end: float | None = None,
) -> np.ndarray:
    """Load ``path`` as a 1-D float32 mono signal at ``sample_rate`` (``None`` keeps the file's rate).

    ``start`` / ``end`` (seconds) read a segment. ``trim_silence`` cuts leading and trailing parts quieter than
    ``trim_top_db`` dB below the peak (kept untrimmed if less than ``min_seconds`` would remain). ``normalize``
    scales to unit peak or to :data:`RMS_TARGET` RMS. A clip shorter than ``min_seconds`` raises
    :class:`AudioError` unless ``pad_short`` is set; then it is zero-padded at the end to ``min_seconds``.
    ``speed`` != 1 applies speed perturbation (see :func:`perturb_speed`).
    """
    path = check_readable(path)
    samples, file_rate = _read(path, start, end)
    signal = _to_finite(downmix(samples), str(path))
    name = str(path)
    duration = signal.shape[0] / file_rate
    if duration < min_seconds and not pad_short:
        raise AudioError(f"{name}: too short ({duration:.3f} s < min_seconds={min_seconds} s)")
    return prepare_signal(
        signal,
        file_rate,
        sample_rate,
        trim_silence=trim_silence,
        trim_top_db=trim_top_db,
        normalize=normalize,
        min_seconds=min_seconds,
        pad_short=True,
        speed=speed,
        name=name,
    )


def prepare_signal(
    signal: np.ndarray,
    sample_rate: int,
    target_rate: int | None = DEFAULT_SAMPLE_RATE,
    *,
    trim_silence: bool = False,
    trim_top_db: float = 30.0,
    normalize: Normalization | None = None,
    min_seconds: float = 0.0,
    pad_short: bool = False,
    speed: float = 1.0,
    name: str = "<signal>",
) -> np.ndarray:
    """Apply the front end to an in-memory signal: mono, finite, resampled, trimmed, normalised, length-checked.

    ``signal`` is 1-D or ``(channels, samples)`` (librosa's layout). ``name`` labels warnings and errors.
    """
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim == 2:
        signal = signal.mean(axis=0)
    elif signal.ndim != 1:
        raise AudioError(f"{name}: expected a 1-D or (channels, samples) signal, got shape {signal.shape}")
    if signal.size == 0:
        raise AudioError(f"{name}: contains no samples")
    signal = _to_finite(signal, name)
    if not np.any(signal):
        warnings.warn(f"{name}: all samples are zero (silent recording)", AudioWarning, stacklevel=3)
    rate = sample_rate
    if target_rate is not None and target_rate != sample_rate:
        signal = resample(signal, sample_rate, target_rate)
        rate = target_rate
    if speed != 1.0:
        signal = perturb_speed(signal, rate, speed)
    min_samples = int(round(min_seconds * rate))
    if trim_silence:
        signal = trim(signal, top_db=trim_top_db, min_samples=min_samples)
    if normalize is not None:
        signal = normalize_level(signal, normalize)
    if signal.shape[0] < min_samples:
        if not pad_short:
            raise AudioError(f"{name}: too short ({signal.shape[0] / rate:.3f} s < min_seconds={min_seconds} s)")
        signal = np.pad(signal, (0, min_samples - signal.shape[0]))
    return np.ascontiguousarray(signal, dtype=np.float32)


def quality_warnings(signal: np.ndarray, rate: int) -> list[str]:
    """What makes a readable recording suspect: silence, a constant (DC) level only, clipping, or noise only."""
    signal = np.asarray(signal, dtype=np.float64)
    peak = float(np.max(np.abs(signal))) if signal.size else 0.0
    if peak == 0.0:
        return ["silent (all samples are zero)"]
    level = float(np.mean(signal))
    varying = signal - level
    if float(np.sqrt(np.mean(varying ** 2))) < 0.01 * abs(level):
        return [f"constant level only (DC offset {level:.3f}, no sound)"]
    notes = []
    at_peak = float(np.mean(np.abs(signal) >= 0.999 * peak))
    if peak >= 0.98 and at_peak > 0.005:
        notes.append(f"clipped ({100 * at_peak:.1f}% of samples at full scale)")
    frame = max(64, int(rate * 0.032))
    frames = varying[: len(varying) // frame * frame].reshape(-1, frame)
    if len(frames):
        power = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2 + 1e-12
        flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
        if float(np.median(flatness)) > 0.3:
            notes.append("noise only (no voiced sound: flat spectrum)")
    return notes


def downmix(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a soundfile ``(frames, channels)`` array into a 1-D float32 signal."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        return samples
    with np.errstate(invalid="ignore", over="ignore"):
        return samples.mean(axis=1, dtype=np.float64).astype(np.float32)


def perturb_speed(signal: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Speed perturbation as in Kaldi / ``sox speed``: play ``factor`` times faster, so duration scales by
    ``1 / factor`` and every frequency (pitch, formants) by ``factor``; the result stays at ``sample_rate``."""
    if not factor > 0:
        raise AudioError(f"speed factor must be > 0, got {factor}")
    return resample(signal, sample_rate * factor, sample_rate)


def resample(signal: np.ndarray, source_rate: float, target_rate: float) -> np.ndarray:
    """Resample a 1-D signal with soxr (high quality) through librosa."""
    if source_rate == target_rate:
        return signal
    resampled = librosa.resample(signal, orig_sr=source_rate, target_sr=target_rate, res_type="soxr_hq")
    return resampled.astype(np.float32, copy=False)


def trim(signal: np.ndarray, *, top_db: float = 30.0, min_samples: int = 0) -> np.ndarray:
    """Cut leading and trailing silence; return ``signal`` unchanged if less than ``min_samples`` would remain."""
    if not np.any(signal):
        return signal
    trimmed, _ = librosa.effects.trim(signal, top_db=top_db)
    return trimmed if trimmed.shape[0] >= max(min_samples, 1) else signal


def normalize_level(signal: np.ndarray, method: Normalization) -> np.ndarray:
    """Scale to unit peak (``"peak"``) or to :data:`RMS_TARGET` RMS (``"rms"``); silence is left unchanged."""
    if method == "peak":
        level = float(np.max(np.abs(signal))) if signal.size else 0.0
        target = 1.0
    elif method == "rms":
        level = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64)))) if signal.size else 0.0
        target = RMS_TARGET
    else:
        raise ValueError(f"normalize must be None, 'peak' or 'rms', got {method!r}")
    if level < SILENCE_LEVEL:
        return signal
    return (signal * np.float32(target / level)).astype(np.float32, copy=False)


def _read(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    """Decode the samples of ``path`` (optionally a segment) as float32 ``(frames, channels)``."""
    try:
        with sf.SoundFile(str(path)) as audio:
            rate = int(audio.samplerate)
            check_header_rate(path, rate)
            if audio.frames == 0:
                raise AudioError(f"{path}: contains no samples")
            first = int(round((start or 0.0) * rate))
            last = audio.frames if end is None else min(audio.frames, int(round(end * rate)))
            if first < 0 or first >= last:
                length = audio.frames / rate
                raise AudioError(f"{path}: empty segment start={start} end={end} (file has {length:.3f} s)")
            if first:
                audio.seek(first)
            samples = audio.read(last - first, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except PermissionError as error:
        raise AudioError(f"{path}: permission denied (file is not readable)") from error
    except Exception as error:  # libsndfile reports every format problem as one error type
        raise AudioError(f"{path}: {_decode_failure_reason(path, error)}") from error
    if samples.shape[0] == 0:
        raise AudioError(f"{path}: contains no samples (truncated data chunk)")
    return samples, rate


def _decode_failure_reason(path: Path, error: Exception) -> str:
    """A human reason for a libsndfile failure, telling a damaged WAV from a file that is not audio at all."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        head = b""
    detail = str(error).split(":")[-1].strip() or type(error).__name__
    if head.startswith((b"RIFF", b"RIFX", b"RF64")):
        if len(head) < 12 or os.path.getsize(path) < 44:
            return f"truncated WAV header ({detail})"
        return f"corrupt WAV file ({detail})"
    if head.startswith((b"fLaC", b"OggS", b"FORM")):
        return f"corrupt audio file ({detail})"
    return f"not a readable audio file: unknown or unsupported format ({detail})"


def _to_finite(signal: np.ndarray, name: str) -> np.ndarray:
    """Replace NaN / inf samples by 0 with a warning; raise if no sample is finite."""
    finite = np.isfinite(signal)
    if finite.all():
        return signal
    if not finite.any():
        raise AudioError(f"{name}: every sample is NaN or infinite")
    bad = int(signal.size - np.count_nonzero(finite))
    warnings.warn(
        f"{name}: replaced {bad} non-finite (NaN/inf) sample(s) of {signal.size} by 0", AudioWarning, stacklevel=3
    )
    return np.where(finite, signal, np.float32(0.0)).astype(np.float32, copy=False)
