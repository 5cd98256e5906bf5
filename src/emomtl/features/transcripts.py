"""The part every transcript-reading extractor shares: a transcript (or a UTF-8 file of one) in, features of a
transformers model out; the cache key names the model's files, not a sample rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emomtl.data.audio import PathLike
from emomtl.features.base import FeatureExtractor
from emomtl.features.pretrained import model_fingerprint


class TranscriptExtractor(FeatureExtractor):
    """Base of ``text_encoder`` and ``text_tokens``: ``options.model`` names the transformers model."""

    source = "text"

    def cache_identity(self) -> dict[str, Any]:
        identity = {k: v for k, v in super().cache_identity().items() if k != "sample_rate"}
        return {**identity, "model_fingerprint": model_fingerprint(self.options.model)}

    def from_path(self, path: PathLike) -> Any:
        """Features of a UTF-8 transcript file."""
        return self.from_text(Path(path).read_text(encoding="utf-8").strip())
