"""Per-speaker standardisation at inference: ``inputs.<name>.standardize: speaker`` fitted, without labels, on the
recordings of each speaker being predicted (as training fits it on every recording of a speaker)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from emomtl.errors import ConfigError
from emomtl.runtime.batches import MIN_SPEAKER_FILES, InputSpec, Standardizer


def speaker_array(speakers: Sequence[Any], count: int) -> np.ndarray:
    """Speakers as an object array of strings aligned with ``count`` paths; a missing speaker becomes ``None``."""
    speakers = list(speakers)
    if len(speakers) != count:
        raise ConfigError(f"speakers: {len(speakers)} value(s) for {count} path(s); give one speaker per path")
    return np.array([None if _missing(s) else str(s) for s in speakers], dtype=object)


def speaker_inputs(specs: dict[str, InputSpec]) -> list[str]:
    """Inputs standardised per speaker."""
    return [name for name, spec in specs.items() if spec.standardize == "speaker"]


def few_file_speakers(speakers: np.ndarray) -> dict[str, int]:
    """Known speakers with fewer than :data:`MIN_SPEAKER_FILES` recordings, and their counts."""
    counts = Counter(s for s in speakers if s is not None)
    return {speaker: n for speaker, n in sorted(counts.items()) if n < MIN_SPEAKER_FILES}


def speaker_standardizer(base: Standardizer, inputs: dict[str, list[np.ndarray]], specs: dict[str, InputSpec],
                         speakers: np.ndarray) -> Standardizer:
    """``base`` (the training set's global statistics) plus per-speaker statistics of every speaker-standardised
    input, for speakers with at least :data:`MIN_SPEAKER_FILES` rows; other rows keep the global statistics.

    ``inputs[name][i]`` and ``speakers[i]`` describe row ``i``.
    """
    result = Standardizer(dict(base.mean), dict(base.std), speakers=speakers)
    counts = Counter(s for s in speakers if s is not None)
    for name in speaker_inputs(specs):
        if name not in base.mean:
            continue
        means, stds = {}, {}
        for speaker, count in counts.items():
            if count >= MIN_SPEAKER_FILES:
                own = np.flatnonzero(speakers == speaker)
                means[speaker], stds[speaker] = Standardizer._moments([inputs[name][i] for i in own],
                                                                      specs[name].time_axis)
        result.speaker_mean[name], result.speaker_std[name] = means, stds
    return result


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value)) or str(value) == ""
    except (TypeError, ValueError):
        return False
