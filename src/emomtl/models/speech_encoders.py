"""Trainable encoders inside a model: the speech-encoder interface, its registry, and the recipe entry that picks one.

A recipe names an encoder as ``model.speech_encoder: {type: hf, path: /models/hubert-large-ll60k, finetune: true}``
(a bare string is shorthand for ``{type: hf, path: <string>}``). ``type`` selects a builder registered with
:func:`register_speech_encoder`; ``hf`` is any transformers speech model (HuBERT, wav2vec 2.0, WavLM) loaded with
``AutoModel.from_pretrained(path)``. Another type (e.g. a Whisper encoder) plugs in by registering a builder that
returns a :class:`SpeechEncoderModule`; models such as ``bridge_fusion`` only use that interface.

Freezing (Ispas et al., 2023): the front end (:meth:`SpeechEncoderModule.freeze_front_end`) stays frozen for good;
``finetune: false`` freezes the whole encoder.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.models.settings import parse_settings


@dataclass
class EncoderSpec:
    """One encoder entry of a recipe's ``model`` section."""

    path: str = ""
    type: str = "hf"
    finetune: bool = True
    local_files_only: bool = False
    #: Keep only the first N transformer layers (``whisper``; ``null``: all).
    num_layers: int | None = None
    #: Train only the top N kept layers (``whisper``; ``null``: all but the front end).
    train_top: int | None = None
    #: Learning rate of this encoder's parameters, in their own optimiser group under the same schedule
    #: (``null``: ``optim.lr``, like the rest of the model).
    lr: float | None = None

    def check(self, where: str) -> None:
        if not self.path:
            raise ConfigError(f"{where}.path: is required (a local directory written by save_pretrained, or a hub id)")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"{where}.lr: must be > 0 (or null for optim.lr), got {self.lr!r}")
        if self.type != "whisper":
            for key in ("num_layers", "train_top"):
                if getattr(self, key) is not None:
                    raise ConfigError(f"{where}.{key}: only the whisper type supports it")


def parse_encoder_spec(value: str | Mapping[str, Any], where: str, types: Mapping[str, Any],
                       finetune: bool = True, local_files_only: bool = False) -> EncoderSpec:
    """An :class:`EncoderSpec` from a string (a path of type ``hf``) or a mapping; ``types`` lists the allowed types.

    ``finetune`` and ``local_files_only`` are the defaults for keys the entry leaves out.
    """
    entry = {"path": value} if isinstance(value, str) else dict(value)
    entry.setdefault("finetune", finetune)
    entry.setdefault("local_files_only", local_files_only)
    spec = parse_settings(EncoderSpec, entry, where)
    if spec.type not in types:
        raise ConfigError(f"{where}.type: {spec.type!r} is not one of {sorted(types)}")
    return spec


class SpeechEncoderModule(nn.Module, ABC):
    """Waveform batch (B, samples) at 16 kHz + valid-sample mask -> frame states (B, frames, width) + frame mask."""

    width: int

    @abstractmethod
    def forward(self, waveform: torch.Tensor, valid: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Frame states and their (B, frames) valid mask (``None`` when ``valid`` is ``None``)."""

    @abstractmethod
    def output_steps(self, waveform: torch.Tensor, valid: torch.Tensor | None = None
                     ) -> tuple[int, torch.Tensor | None]:
        """Number of output frames and their valid mask, without running the encoder (a masked modality)."""

    @abstractmethod
    def freeze_front_end(self) -> list[str]:
        """Freeze the front end (conv feature encoder, its projection, ...); returns the names of what was frozen."""

    def freeze_all(self) -> None:
        """Freeze every parameter (``finetune: false``)."""
        for parameter in self.parameters():
            parameter.requires_grad_(False)


SpeechEncoderBuilder = Callable[[EncoderSpec, str], SpeechEncoderModule]
SPEECH_ENCODER_TYPES: dict[str, SpeechEncoderBuilder] = {}


def register_speech_encoder(type_name: str) -> Callable[[SpeechEncoderBuilder], SpeechEncoderBuilder]:
    """Decorator: ``builder(spec, setting) -> SpeechEncoderModule`` becomes ``model.speech_encoder.type: <name>``."""

    def add(builder: SpeechEncoderBuilder) -> SpeechEncoderBuilder:
        SPEECH_ENCODER_TYPES[type_name] = builder
        return builder

    return add


def build_speech_encoder(spec: EncoderSpec, setting: str) -> SpeechEncoderModule:
    """The registered encoder of ``spec.type``, front end frozen, wholly frozen unless ``spec.finetune``."""
    encoder = SPEECH_ENCODER_TYPES[spec.type](spec, setting)
    encoder.freeze_front_end()
    if not spec.finetune:
        encoder.freeze_all()
    return encoder


@register_speech_encoder("hf")
def _transformers_speech_encoder(spec: EncoderSpec, setting: str) -> SpeechEncoderModule:
    from emomtl.models.pretrained import HFSpeechEncoder

    return HFSpeechEncoder.from_spec(spec, setting)


@register_speech_encoder("whisper")
def _whisper_speech_encoder(spec: EncoderSpec, setting: str) -> SpeechEncoderModule:
    from emomtl.models.whisper_speech_encoder import WhisperSpeechEncoder

    return WhisperSpeechEncoder.from_spec(spec, setting)
