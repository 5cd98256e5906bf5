"""The ``whisper`` feature kind: hidden states of a Whisper encoder, per layer, as frames or pooled functionals.

``layers`` are hidden-state indices (0 = convolutional front end, i = output of layer i); the encoder is
truncated after the highest one, so layer 3 of base costs half of the full encoder. ``pooling: mean_std`` gives
the per-layer mean and standard deviation over frames: a vector ``(2 d,)`` for one layer, ``(layers, 2 d)`` for
several (a model mixes them, e.g. ``functional_mlp``'s ``layer_mix``). ``pooling: none`` gives frames
``(frames, d)`` of one layer at 50 frames per second (sequence models).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from emomtl.features.base import AudioExtractor, AudioOptions, require
from emomtl.features.whisper.encoder import FRAMES_PER_SECOND, SAMPLE_RATE, chunks

POOLINGS = ("mean_std", "none")


@dataclasses.dataclass(frozen=True)
class WhisperOptions(AudioOptions):
    """``model``: ``tiny.en``, ``base`` (packaged) or a folder with a CTranslate2 Whisper ``model.bin``."""

    model: str = "base"
    layers: int | list[int] | str = "all"
    pooling: str = "mean_std"
    threads: int | None = None

    def check(self, setting: str, sample_rate: int) -> None:
        super().check(setting, sample_rate)
        require(sample_rate == SAMPLE_RATE, setting, "sample_rate",
                f"Whisper needs {SAMPLE_RATE} Hz, got {sample_rate}")
        require(isinstance(self.model, str) and bool(self.model), setting, "model",
                "must be 'tiny.en', 'base' or a folder with a CTranslate2 Whisper model.bin")
        layers = [self.layers] if isinstance(self.layers, int) and not isinstance(self.layers, bool) else self.layers
        require(layers == "all" or (isinstance(layers, (list, tuple)) and len(layers) > 0
                                    and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in layers)
                                    and len(set(layers)) == len(layers)),
                setting, "layers", "must be 'all', a hidden-state index >= 0, or a list of distinct indices")
        require(self.pooling in POOLINGS, setting, "pooling", f"must be one of {list(POOLINGS)}")
        require(self.pooling != "none" or (layers != "all" and len(layers) == 1), setting, "layers",
                "pooling: none gives frames of exactly one layer; name one index")


class WhisperExtractor(AudioExtractor):
    """Output: ``(2 d,)`` / ``(layers, 2 d)`` pooled, or ``(frames, d)`` frames (input name ``"whisper"``)."""

    kind = "whisper"
    Options = WhisperOptions
    parallel = "thread"
    max_workers = 1  # torch spreads one forward pass over every core
    runtime_options = ("threads",)

    @property
    def input_name(self) -> str:
        return "whisper"

    @property
    def time_axis(self) -> int | None:
        return 0 if self.options.pooling == "none" else None

    @property
    def frames_per_second(self) -> float | None:
        return FRAMES_PER_SECOND if self.options.pooling == "none" else None

    def cache_identity(self) -> dict[str, Any]:
        from emomtl.features.whisper.packages import PACKAGED, model_file

        identity = super().cache_identity()
        if self.options.model in PACKAGED:
            identity["model_sha256"] = PACKAGED[self.options.model].sha256
        else:
            path = model_file(self.options.model)
            identity["model_file"] = [str(path), path.stat().st_size, path.stat().st_mtime_ns]
        return identity

    def layer_indices(self, total: int) -> list[int]:
        """The hidden-state indices to return, checked against an encoder with ``total`` layers."""
        layers = self.options.layers
        if layers == "all":
            return list(range(total + 1))
        layers = [layers] if isinstance(layers, int) else list(layers)
        too_high = [x for x in layers if x > total]
        if too_high:
            from emomtl.errors import ConfigError

            raise ConfigError(f"features.layers: {too_high} out of range; {self.options.model!r} has hidden states "
                              f"0..{total} (0 = front end, {total} = last layer)")
        return layers

    def from_prepared(self, signal: np.ndarray) -> np.ndarray:
        import torch

        from emomtl.features.whisper.encoder import hidden_states

        encoder, layers, log_mel = self.resource("encoder", self._load)
        if self.options.threads:
            torch.set_num_threads(int(self.options.threads))
        per_chunk = []
        with torch.inference_mode():
            for piece in chunks(signal):
                mel = torch.from_numpy(log_mel(piece))[None]
                states = hidden_states(encoder, mel)
                per_chunk.append(torch.stack([states[i][0] for i in layers]))  # (layers, frames, d)
        frames = torch.cat(per_chunk, dim=1).double()
        if self.options.pooling == "none":
            return np.ascontiguousarray(frames[0].numpy(), dtype=np.float32)
        pooled = torch.cat([frames.mean(dim=1), frames.std(dim=1, unbiased=False)], dim=-1)
        pooled = pooled.numpy().astype(np.float32)
        return pooled[0] if len(layers) == 1 else pooled

    def _load(self) -> tuple[Any, list[int], Any]:
        from emomtl.features.whisper.checkpoint import read_variables
        from emomtl.features.whisper.encoder import LogMel, build_encoder, layer_count
        from emomtl.features.whisper.packages import model_file

        _, variables = read_variables(model_file(self.options.model), prefix="encoder/")
        layers = self.layer_indices(layer_count(variables))
        encoder = build_encoder(variables, num_layers=max(layers))
        return encoder, layers, LogMel(int(variables["encoder/conv1/weight"].shape[1]))
