"""A small numpy source-filter voice: synthetic speech whose acoustics depend on speaker, gender and emotion.

The model is the classic source-filter one:

1. **Source** - a Rosenberg glottal pulse train at a fundamental frequency F0 that follows an intonation
   contour (declination, accents on stressed syllables, a slow drift), with per-period **jitter** (F0
   perturbation) and **shimmer** (amplitude perturbation), differentiated for lip radiation, plus
   pulse-synchronous breath noise.
2. **Spectral tilt** - a one-pole low-pass; a steeper tilt (larger coefficient) sounds softer, as in sadness,
   a flat one pressed, as in anger.
3. **Filter** - each syllable is a vowel: the source is passed through a cascade of four formant resonators
   (second-order IIR sections) whose frequencies scale with the speaker's vocal-tract length (women:
   higher formants and F0) and shift slightly with emotion.
4. **Timing** - syllables at an emotion- and speaker-dependent rate, each with a smooth amplitude envelope,
   a short fricative-like noise onset, and pauses; leading and trailing silence; a little background noise.

Emotions change F0 level and range, speaking rate, loudness, jitter/shimmer, breathiness and tilt
(:data:`EMOTION_PROSODY`); speakers change F0, formants, rate, loudness, tilt and how strongly they express
emotion (:class:`Speaker`). Nothing here touches files: :mod:`emomtl.data.corpora.demo` writes the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import signal

#: Formant frequencies (Hz) F1-F4 of a few vowels for an adult male vocal tract.
VOWEL_FORMANTS: dict[str, tuple[float, float, float, float]] = {
    "a": (730.0, 1090.0, 2440.0, 3400.0),
    "e": (530.0, 1840.0, 2480.0, 3500.0),
    "i": (270.0, 2290.0, 3010.0, 3700.0),
    "o": (570.0, 840.0, 2410.0, 3300.0),
    "u": (300.0, 870.0, 2240.0, 3300.0),
}
FORMANT_BANDWIDTHS = (80.0, 100.0, 140.0, 200.0)

#: Reference RMS level of neutral speech (about -26 dBFS).
REFERENCE_RMS = 0.05


@dataclass(frozen=True)
class Prosody:
    """How an emotion is spoken.

    ``pitch_level`` multiplies the speaker's F0; ``pitch_range`` is the intonation range in semitones;
    ``rate`` is syllables per second; ``energy_db`` the loudness relative to neutral; ``tilt`` the one-pole
    low-pass coefficient (0 flat ... 0.9 steep); ``jitter`` / ``shimmer`` relative per-period perturbations;
    ``breathiness`` the breath-noise share; ``open_quotient`` the open phase of the glottal cycle (pressed
    voice is shorter); ``formant_shift`` multiplies (F1, F2).
    """

    pitch_level: float
    pitch_range: float
    rate: float
    energy_db: float
    tilt: float
    jitter: float
    shimmer: float
    breathiness: float
    open_quotient: float = 0.45
    formant_shift: tuple[float, float] = (1.0, 1.0)

    def expressed(self, strength: float) -> "Prosody":
        """This prosody moved towards :data:`NEUTRAL` (``strength`` 0) or kept (``strength`` 1)."""
        n = NEUTRAL

        def mix(a: float, b: float) -> float:
            return b + strength * (a - b)

        return Prosody(
            pitch_level=n.pitch_level * (self.pitch_level / n.pitch_level) ** strength,
            pitch_range=mix(self.pitch_range, n.pitch_range),
            rate=n.rate * (self.rate / n.rate) ** strength,
            energy_db=mix(self.energy_db, n.energy_db),
            tilt=mix(self.tilt, n.tilt),
            jitter=mix(self.jitter, n.jitter),
            shimmer=mix(self.shimmer, n.shimmer),
            breathiness=mix(self.breathiness, n.breathiness),
            open_quotient=mix(self.open_quotient, n.open_quotient),
            formant_shift=(mix(self.formant_shift[0], 1.0), mix(self.formant_shift[1], 1.0)),
        )


NEUTRAL = Prosody(1.0, 4.0, 4.2, 0.0, 0.5, 0.006, 0.03, 0.03)

#: Prosody of each emotion the demo voice can speak (after the literature on vocal emotion cues:
#: anger high/loud/fast/flat tilt, sadness low/narrow/slow/soft/steep tilt, happiness high/wide range).
EMOTION_PROSODY: dict[str, Prosody] = {
    "neutral": NEUTRAL,
    "anger": Prosody(1.3, 8.0, 5.3, 8.0, 0.05, 0.012, 0.06, 0.01, open_quotient=0.35, formant_shift=(1.08, 1.02)),
    "happiness": Prosody(1.25, 11.0, 4.9, 4.0, 0.3, 0.008, 0.04, 0.02, formant_shift=(1.04, 1.09)),
    "sadness": Prosody(0.88, 2.5, 3.0, -7.0, 0.75, 0.010, 0.05, 0.07, open_quotient=0.55, formant_shift=(0.95, 0.97)),
    "fear": Prosody(1.35, 6.0, 5.6, 0.0, 0.35, 0.020, 0.07, 0.06, formant_shift=(1.02, 1.03)),
    "disgust": Prosody(0.92, 5.0, 3.3, -1.0, 0.5, 0.010, 0.05, 0.04, formant_shift=(0.98, 0.95)),
    "surprise": Prosody(1.35, 12.0, 4.5, 3.0, 0.25, 0.008, 0.04, 0.03, formant_shift=(1.05, 1.02)),
    "boredom": Prosody(0.9, 2.0, 3.2, -3.0, 0.55, 0.006, 0.03, 0.04),
    "calm": Prosody(0.97, 3.0, 3.8, -2.0, 0.5, 0.005, 0.03, 0.04),
}


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker: F0 (Hz), vocal-tract scale of the formants, habits and expressiveness (0-1)."""

    gender: str
    f0: float
    formant_scale: float
    rate_factor: float
    loudness_db: float
    tilt_offset: float
    expressiveness: float
    noise_db: float


def random_speaker(gender: str, rng: np.random.Generator) -> Speaker:
    """Draw a speaker: women have a higher F0 (about 210 Hz vs 115 Hz) and 20 % higher formants."""
    if gender not in ("female", "male"):
        raise ValueError(f"gender must be 'female' or 'male', got {gender!r}")
    female = gender == "female"
    return Speaker(
        gender=gender,
        f0=(210.0 if female else 115.0) * float(np.exp(rng.normal(0.0, 0.1))),
        formant_scale=(1.2 if female else 1.0) * float(rng.uniform(0.95, 1.05)),
        rate_factor=float(rng.uniform(0.8, 1.2)),
        loudness_db=float(rng.normal(0.0, 2.5)),
        tilt_offset=float(rng.uniform(-0.15, 0.15)),
        expressiveness=float(rng.uniform(0.7, 1.0)),
        noise_db=float(rng.uniform(-70.0, -64.0)),
    )


@dataclass(frozen=True)
class Utterance:
    """A synthesised utterance: the waveform (float32 in [-1, 1]) and its syllable envelope (0-1)."""

    signal: np.ndarray
    envelope: np.ndarray
    sample_rate: int


def synthesize(
    speaker: Speaker,
    prosody: Prosody,
    duration: float,
    rng: np.random.Generator,
    sample_rate: int = 16000,
) -> Utterance:
    """Speak ``duration`` seconds of syllables with ``prosody`` as ``speaker`` expresses it."""
    if duration <= 0.2:
        raise ValueError(f"duration must exceed 0.2 s, got {duration}")
    style = prosody.expressed(speaker.expressiveness)
    style = replace(
        style,
        pitch_level=style.pitch_level * float(np.exp(rng.normal(0.0, 0.04))),
        rate=style.rate * speaker.rate_factor * float(rng.uniform(0.9, 1.1)),
        energy_db=style.energy_db + speaker.loudness_db + float(rng.normal(0.0, 1.0)),
        tilt=float(np.clip(style.tilt + speaker.tilt_offset, 0.0, 0.92)),
    )
    n = int(round(duration * sample_rate))
    syllables = _plan_syllables(n, sample_rate, style.rate, rng)
    f0 = _intonation(n, sample_rate, speaker.f0 * style.pitch_level, style.pitch_range, syllables, rng)
    source = _glottal_source(f0, sample_rate, style, rng)
    source = signal.lfilter([1.0 - style.tilt], [1.0, -style.tilt], source)

    output = np.zeros(n)
    envelope = np.zeros(n)
    pad = int(0.02 * sample_rate)
    for start, end, vowel, stress in syllables:
        window = _syllable_window(end - start) * stress
        formants = np.array(VOWEL_FORMANTS[vowel]) * speaker.formant_scale
        formants[:2] *= style.formant_shift
        lo = max(0, start - pad)
        voiced = signal.sosfilt(_formant_sos(formants, sample_rate), source[lo:end])[start - lo :]
        output[start:end] += voiced * window
        envelope[start:end] = np.maximum(envelope[start:end], window)
        onset = min(int(0.03 * sample_rate), end - start)
        output[start : start + onset] += _fricative(onset, sample_rate, rng) * stress * 0.03

    voiced_rms = np.sqrt(np.mean(output[envelope > 0.1] ** 2)) if (envelope > 0.1).any() else 1.0
    output *= REFERENCE_RMS * 10 ** (style.energy_db / 20) / max(voiced_rms, 1e-12)
    output += rng.normal(0.0, 10 ** (speaker.noise_db / 20), n)
    peak = np.max(np.abs(output))
    if peak > 0.97:
        output *= 0.97 / peak
    top = envelope.max()
    envelope = envelope / top if top > 0 else envelope
    return Utterance(output.astype(np.float32), envelope.astype(np.float32), sample_rate)


# ----------------------------------------------------------------- parts
def _plan_syllables(
    n: int, sample_rate: int, rate: float, rng: np.random.Generator
) -> list[tuple[int, int, str, float]]:
    """(start, end, vowel, stress) of each syllable between a leading and a trailing silence.

    Vowels come in shuffled rounds of all vowels, so every utterance has a similar vowel mix.
    """
    position = int(rng.uniform(0.03, 0.1) * sample_rate)
    stop = n - int(rng.uniform(0.03, 0.1) * sample_rate)
    vowels = list(VOWEL_FORMANTS)
    order = [vowels[i] for _ in range(1 + n // sample_rate * 2) for i in rng.permutation(len(vowels))]
    syllables = []
    while True:
        length = int(sample_rate / rate * rng.uniform(0.7, 1.3))
        voiced = int(length * rng.uniform(0.75, 0.95))
        if position + voiced > stop:
            break
        stress = float(rng.uniform(0.55, 1.0))
        syllables.append((position, position + voiced, order[len(syllables) % len(order)], stress))
        position += length
        if rng.random() < 0.08:  # a short pause
            position += int(rng.uniform(0.1, 0.25) * sample_rate)
    if not syllables:  # very short utterance: one syllable filling the voiced part
        start = min(position, n // 4)
        syllables.append((start, max(start + 1, min(stop, n - 1)), "a", 1.0))
    return syllables


def _intonation(
    n: int,
    sample_rate: int,
    f0: float,
    semitone_range: float,
    syllables: list[tuple[int, int, str, float]],
    rng: np.random.Generator,
) -> np.ndarray:
    """F0 per sample: declination, accents on stressed syllables and a slow drift, within the range."""
    time = np.arange(n) / sample_rate
    duration = n / sample_rate
    contour = 0.25 - 0.5 * time / duration  # declination
    for start, end, _, stress in syllables:
        if stress > 0.8:  # accent: a bump over the syllable
            centre, width = (start + end) / 2 / sample_rate, (end - start) / sample_rate
            contour += 0.6 * stress * np.exp(-0.5 * ((time - centre) / (0.5 * width)) ** 2)
    drift = rng.uniform(0.5, 1.5)
    contour += 0.15 * np.sin(2 * np.pi * drift * time + rng.uniform(0, 2 * np.pi))
    contour -= contour.mean()
    contour /= max(np.ptp(contour), 1e-6)  # peak-to-peak 1
    return f0 * 2.0 ** (semitone_range * contour / 12.0)


def _glottal_source(f0: np.ndarray, sample_rate: int, style: Prosody, rng: np.random.Generator) -> np.ndarray:
    """Differentiated Rosenberg pulses with per-period jitter and shimmer, plus breath noise."""
    phase = np.cumsum(f0 / sample_rate)
    periods = int(phase[-1]) + 2
    jitter = 1.0 + style.jitter * rng.standard_normal(periods)
    phase = np.cumsum(f0 * jitter[phase.astype(np.int64)] / sample_rate)
    periods = int(phase[-1]) + 2
    shimmer = np.clip(1.0 + style.shimmer * rng.standard_normal(periods), 0.2, None)
    cycle = phase - np.floor(phase)
    opening, closing = style.open_quotient, style.open_quotient * 0.4
    pulse = np.where(
        cycle < opening,
        0.5 * (1.0 - np.cos(np.pi * cycle / opening)),
        np.where(cycle < opening + closing, np.cos(0.5 * np.pi * (cycle - opening) / closing), 0.0),
    )
    pulse *= shimmer[phase.astype(np.int64)]
    source = np.diff(pulse, prepend=0.0) * (sample_rate / 16000) * 8.0
    breath = rng.standard_normal(len(pulse)) * style.breathiness * (0.3 + pulse)
    return source + breath


def _formant_sos(formants: np.ndarray, sample_rate: int) -> np.ndarray:
    """Cascade of unit-DC-gain two-pole resonators at ``formants`` (those above 0.45 fs are skipped)."""
    sections = []
    for frequency, bandwidth in zip(formants, FORMANT_BANDWIDTHS):
        if frequency >= 0.45 * sample_rate:
            continue
        radius = np.exp(-np.pi * bandwidth / sample_rate)
        theta = 2 * np.pi * frequency / sample_rate
        a = [1.0, -2 * radius * np.cos(theta), radius**2]
        sections.append([sum(a), 0.0, 0.0, *a])
    return np.array(sections)


def _syllable_window(length: int) -> np.ndarray:
    """A smooth rise-hold-fall envelope (raised-cosine edges of 30 % each)."""
    edge = max(1, int(0.3 * length))
    window = np.ones(length)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(edge) / edge)
    window[:edge] = ramp
    window[length - edge :] = np.minimum(window[length - edge :], ramp[::-1])
    return window


def _fricative(length: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A short high-frequency noise burst, like a consonant onset."""
    if length <= 0:
        return np.zeros(0)
    burst = signal.sosfilt(_highpass(sample_rate), rng.standard_normal(length))
    return burst * np.hanning(length) * 0.5


@lru_cache(maxsize=8)
def _highpass(sample_rate: int) -> np.ndarray:
    return signal.butter(2, min(3500.0, 0.4 * sample_rate), btype="highpass", fs=sample_rate, output="sos")
