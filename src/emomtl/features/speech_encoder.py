"""Hidden states of a pretrained speech encoder (HuBERT, wav2vec 2.0, WavLM, ...) via ``transformers.AutoModel``.

Output ``(frames, hidden_size)`` float32, about 50 frames per second for 16 kHz models. Long inputs are cut into
``chunk_seconds`` pieces, encoded one by one and concatenated along time, so memory stays bounded.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from emomtl.errors import ConfigError
from emomtl.features.base import AudioExtractor, AudioOptions, is_number, require
from emomtl.features.pretrained import (check_layer, load_feature_extractor, load_model, local_only, model_fingerprint,
                                        resolve_model, select_layer)


@dataclasses.dataclass(frozen=True)
class SpeechEncoderOptions(AudioOptions):
    """``model``: hub id or local directory; ``layer``: hidden-state index (0 = embeddings, -1 = last) or ``"mean"``."""

    model: str | None = None
    layer: int | str = -1
    chunk_seconds: float = 20.0
    device: str = "cpu"

    def check(self, setting: str, sample_rate: int) -> None:
        super().check(setting, sample_rate)
        require(isinstance(self.model, str) and bool(self.model), setting, "model",
                "is required: a transformers model id or a local directory")
        check_layer(self.layer, setting)
        require(is_number(self.chunk_seconds) and self.chunk_seconds >= 1, setting, "chunk_seconds", "must be >= 1")


class SpeechEncoderExtractor(AudioExtractor):
    """Output: ``(frames, hidden_size)`` float32 states of the chosen layer (input ``"speech_states"``)."""

    kind = "speech_encoder"
    Options = SpeechEncoderOptions
    parallel = "thread"
    max_workers = 1  # torch already spreads one forward pass over every core
    runtime_options = ("device",)

    @property
    def input_name(self) -> str:
        return "speech_states"

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / math.prod(self._conv_config["conv_stride"])

    def cache_identity(self) -> dict[str, Any]:
        return {**super().cache_identity(), "model_fingerprint": model_fingerprint(self.options.model)}

    def from_prepared(self, signal: np.ndarray) -> np.ndarray:
        import torch

        model = self.resource("model", lambda: load_model(self.options.model, self.options.device))
        processor = self.resource("processor", self._load_processor)
        receptive_field = self._receptive_field
        if signal.shape[0] < receptive_field:
            signal = np.pad(signal, (0, receptive_field - signal.shape[0]))
        pieces = []
        with torch.inference_mode():
            for chunk in self._chunks(signal):
                if processor is not None:
                    values = processor(chunk, sampling_rate=self.sample_rate, return_tensors="pt")["input_values"]
                else:
                    values = torch.from_numpy(np.ascontiguousarray(chunk))[None]
                outputs = model(values.to(self.options.device), output_hidden_states=True)
                states = select_layer(outputs.hidden_states, self.options.layer, self.options.model)
                pieces.append(states[0].float().cpu().numpy())
        return np.ascontiguousarray(np.concatenate(pieces, axis=0), dtype=np.float32)

    def _chunks(self, signal: np.ndarray) -> list[np.ndarray]:
        """Pieces of at most ``chunk_seconds``; a tail shorter than one second is merged into the piece before it."""
        size = int(self.options.chunk_seconds * self.sample_rate)
        starts = list(range(0, signal.shape[0], size))
        if len(starts) > 1 and signal.shape[0] - starts[-1] < self.sample_rate:
            starts.pop()
        ends = starts[1:] + [signal.shape[0]]
        return [signal[s:e] for s, e in zip(starts, ends)]

    @property
    def _conv_config(self) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(resolve_model(self.options.model),
                                                local_files_only=local_only(self.options.model))
            return {
                "conv_stride": list(getattr(config, "conv_stride", [320])),
                "conv_kernel": list(getattr(config, "conv_kernel", [400])),
            }

        return self.resource("conv_config", build)

    @property
    def _receptive_field(self) -> int:
        """Fewest samples that give one output frame."""
        field, jump = 1, 1
        for kernel, stride in zip(self._conv_config["conv_kernel"], self._conv_config["conv_stride"]):
            field += (kernel - 1) * jump
            jump *= stride
        return field

    def _load_processor(self) -> Any:
        """The model's ``AutoFeatureExtractor`` (input normalisation), or ``None`` when it ships none."""
        processor = load_feature_extractor(self.options.model, local_only(self.options.model))
        if processor is None:
            return None
        expected = getattr(processor, "sampling_rate", self.sample_rate)
        if expected != self.sample_rate:
            raise ConfigError(
                f"features.sample_rate: {self.options.model!r} expects {expected} Hz audio, got {self.sample_rate} Hz"
            )
        return processor
