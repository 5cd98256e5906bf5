"""Feature extractors (waveform, log-mel, openSMILE, speech / text encoders, video), the on-disk cache and
parallel extraction. Heavy back ends (torch models, openSMILE, OpenCV) load only when an extractor needs them.
"""

from __future__ import annotations

from emomtl.features.base import (
    AudioExtractor,
    FeatureExtractor,
    available_kinds,
    create_extractor,
    register_extractor,
)
from emomtl.features.cache import FEATURE_VERSION, FeatureCache
from emomtl.features.cropping import fit_length
from emomtl.features.extract import ExtractionResult, extract_features

__all__ = [
    "FEATURE_VERSION",
    "AudioExtractor",
    "ExtractionResult",
    "FeatureCache",
    "FeatureExtractor",
    "available_kinds",
    "create_extractor",
    "extract_features",
    "fit_length",
    "register_extractor",
]
