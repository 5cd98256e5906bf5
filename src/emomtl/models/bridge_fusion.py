"""``bridge_fusion``: speech + text fusion through learnable bridge tokens (Ispas et al., 2023, categorical +
dimensional emotions).

1. Encoders: a pretrained speech encoder (HuBERT-large in the paper) on the raw waveform and a text encoder
   (DeBERTa-v3-large) on token ids (feature kind ``text_tokens``: the encoder's own tokenizer on the transcripts),
   run inside the model and fine-tuned. ``speech_encoder`` / ``text_encoder`` are ``{type: hf, path, finetune,
   local_files_only}`` (a string is a path of type ``hf``); speech types come from
   :mod:`emomtl.models.speech_encoders`, so another encoder (e.g. Whisper) plugs in there. Front ends stay frozen
   (speech: conv feature encoder + projection; text: embeddings); ``finetune: false`` freezes an encoder whole.
   Or states precomputed by the feature cache (``speech_states``, ``text_states``). Optional valid-step masks:
   ``speech_mask`` or ``speech_states_mask``, ``text_mask`` or ``text_states_mask``; with own encoders
   ``waveform_mask`` and ``text_attention_mask`` (or ``text_ids_mask``).
   Optional linear projection to ``hidden_dim``.
2. Per-modality refinement: multi-head self-attention (32 heads), residual connection and layer norm.
3. The shorter sequence is zero-padded to the longer one (padded steps of either are zeros), so keys of one modality
   can pair with values of the other position by position; positions padded in both modalities are masked.
4. Two multi-head cross-attention layers whose queries are ``num_bridge_tokens`` (30) learnable tokens: one with
   audio keys and text values, one with text keys and audio values. Each layer's tokens are mean-pooled; the two
   vectors are stacked and averaged. With ``bridge_tokens: false`` the layers are plain cross-attention (audio
   queries on text keys/values, text queries on audio keys/values, mean-pooled over valid queries).
5. A head per task (classifier; regressor with two sigmoid outputs for valence and arousal).

Ablation switches (the paper's ablation table): ``self_attention``, ``cross_attention`` (off: mean of the pooled
modalities), ``bridge_tokens``, ``masking`` (random modality masking, :mod:`emomtl.models.modality_masking`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from emomtl.errors import ConfigError
from emomtl.models.base import MultiTaskModel
from emomtl.models.heads import TaskHeads
from emomtl.models.layers import masked_mean
from emomtl.models.modality_masking import BranchFreezer, ModalityMaskSchedule
from emomtl.models.pretrained import TextEncoder, freeze_parts
from emomtl.models.registry import register_model
from emomtl.models.settings import require_divisible, require_positive, require_probability
from emomtl.models.speech_encoders import (
    SPEECH_ENCODER_TYPES,
    EncoderSpec,
    build_speech_encoder,
    parse_encoder_spec,
)
from emomtl.models.tasks import TaskSpec

MODALITIES = ("audio", "text")
#: Text encoder types (``model.text_encoder.type``): transformers models loaded with ``from_pretrained``.
TEXT_ENCODER_TYPES = {"hf": TextEncoder}


@dataclass
class BridgeFusionSettings:
    """Paper sizes and switches."""

    speech_encoder: str | dict[str, Any] | None = None
    text_encoder: str | dict[str, Any] | None = None
    local_files_only: bool = False
    finetune_encoders: bool = True
    frozen_encoder_parts: list[str] = field(default_factory=lambda: ["feature_extractor", "embeddings"])
    speech_dim: int | None = None
    text_dim: int | None = None
    hidden_dim: int | None = None
    self_attention: bool = True
    self_attention_heads: int = 32
    cross_attention: bool = True
    cross_attention_heads: int = 32
    bridge_tokens: bool = True
    num_bridge_tokens: int = 30
    masking: bool = True
    mask_p_start: float = 0.8
    mask_p_floor: float = 0.1
    mask_text_share: float = 0.6
    dropout: float = 0.1
    head_hidden: int | None = None

    def check(self, where: str) -> None:
        require_positive(
            where, self_attention_heads=self.self_attention_heads, cross_attention_heads=self.cross_attention_heads,
            num_bridge_tokens=self.num_bridge_tokens,
        )
        for name in ("speech_dim", "text_dim", "hidden_dim", "head_hidden"):
            if getattr(self, name) is not None:
                require_positive(where, **{name: getattr(self, name)})
        require_probability(where, dropout=self.dropout)
        for name, types in (("speech_encoder", SPEECH_ENCODER_TYPES), ("text_encoder", TEXT_ENCODER_TYPES)):
            if getattr(self, name):
                self.encoder_spec(name, types, where)
        for name in ("mask_p_start", "mask_p_floor", "mask_text_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{where}.{name}: must be in [0, 1], got {getattr(self, name)!r}")

    def encoder_spec(self, name: str, types: Mapping[str, Any], where: str = "model") -> EncoderSpec:
        """The parsed ``speech_encoder`` / ``text_encoder`` entry (a string is a path of type ``hf``)."""
        return parse_encoder_spec(getattr(self, name), f"{where}.{name}", types, self.finetune_encoders,
                                  self.local_files_only)


class SelfAttentionRefiner(nn.Module):
    """x + MHA(x, x, x) followed by layer norm; padded steps are ignored as keys."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        padding = None if valid is None else ~valid
        attended, _ = self.attention(x, x, x, key_padding_mask=padding, need_weights=False)
        return self.norm(x + self.dropout(attended))


class ModalityBranch(nn.Module):
    """One modality: optional encoder, projection to the shared width, optional self-attention refinement."""

    def __init__(self, encoder: nn.Module | None, in_width: int, width: int, refiner: nn.Module | None) -> None:
        super().__init__()
        self.encoder = encoder
        self.projection: nn.Module = nn.Linear(in_width, width) if in_width != width else nn.Identity()
        self.refiner = refiner

    def forward(self, states: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        x = self.projection(states)
        return self.refiner(x, valid) if self.refiner is not None else x


def first_present(inputs: Mapping[str, torch.Tensor], names: Sequence[str]) -> torch.Tensor | None:
    """The first of ``names`` present in ``inputs`` (masks come as ``<input>_mask`` or the short names)."""
    return next((inputs[name] for name in names if name in inputs), None)


def _as_bool(mask: torch.Tensor | None) -> torch.Tensor | None:
    return None if mask is None else mask.bool()


def pad_time(x: torch.Tensor, valid: torch.Tensor | None, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad (B, T, D) to ``length`` steps, zeroing steps already padded; return it with its valid mask."""
    batch, steps, _ = x.shape
    if valid is None:
        valid = torch.ones(batch, steps, dtype=torch.bool, device=x.device)
    x = x * valid.unsqueeze(-1).to(x.dtype)
    return F.pad(x, (0, 0, 0, length - steps)), F.pad(valid, (0, length - steps), value=False)


@register_model
class BridgeFusion(MultiTaskModel):
    """Speech/text encoders, self-attention refinement, bridge-token cross-attention fusion, a head per task."""

    name = "bridge_fusion"
    summary = "HuBERT + DeBERTa (or cached states), self-attention, bridge-token cross-attention, modality masking"
    Settings = BridgeFusionSettings

    def __init__(
        self, settings: BridgeFusionSettings, tasks: Sequence[TaskSpec], input_shapes: Mapping[str, tuple[int, ...]]
    ) -> None:
        super().__init__(tasks)
        self.settings = settings
        s = settings
        speech_key = "waveform" if s.speech_encoder else "speech_states"
        text_key = "text_ids" if s.text_encoder else "text_states"
        self.require_inputs(input_shapes, [speech_key], "model.speech_encoder",
                            f"speech {'waveform' if s.speech_encoder else 'precomputed states'}")
        self.require_inputs(input_shapes, [text_key], "model.text_encoder",
                            f"text {'token ids' if s.text_encoder else 'precomputed states'}")
        self.input_keys = (speech_key, text_key)
        self.speech_masks = ("waveform_mask",) if s.speech_encoder else ("speech_mask", "speech_states_mask")
        self.text_masks = (
            ("text_attention_mask", "text_ids_mask") if s.text_encoder else ("text_mask", "text_states_mask")
        )
        self.optional_input_keys = self.speech_masks + self.text_masks
        self.speech_key, self.text_key = speech_key, text_key

        speech_encoder, speech_width = self._encoder("speech", s.speech_encoder, input_shapes, speech_key, s.speech_dim)
        text_encoder, text_width = self._encoder("text", s.text_encoder, input_shapes, text_key, s.text_dim)
        if s.hidden_dim is None and speech_width != text_width:
            raise ConfigError(
                f"model.hidden_dim: speech states have {speech_width} dims but text states {text_width}; "
                "set model.hidden_dim to project both to one width"
            )
        width = s.hidden_dim or speech_width
        if s.self_attention:
            require_divisible("model", "self_attention_heads", width, s.self_attention_heads, "fusion")
        if s.cross_attention:
            require_divisible("model", "cross_attention_heads", width, s.cross_attention_heads, "fusion")
        self.width = width

        def refiner() -> nn.Module | None:
            return SelfAttentionRefiner(width, s.self_attention_heads, s.dropout) if s.self_attention else None

        self.audio_branch = ModalityBranch(speech_encoder, speech_width, width, refiner())
        self.text_branch = ModalityBranch(text_encoder, text_width, width, refiner())
        if s.cross_attention:
            self.audio_keys_attention = nn.MultiheadAttention(width, s.cross_attention_heads, dropout=s.dropout,
                                                              batch_first=True)
            self.text_keys_attention = nn.MultiheadAttention(width, s.cross_attention_heads, dropout=s.dropout,
                                                             batch_first=True)
        if s.cross_attention and s.bridge_tokens:
            self.tokens = nn.Parameter(torch.randn(s.num_bridge_tokens, width) * width**-0.5)
        self.heads = TaskHeads(list(self.tasks.values()), width, s.head_hidden, s.dropout)
        self.schedule = ModalityMaskSchedule(s.mask_p_start, s.mask_p_floor, s.mask_text_share)
        self.freezer = BranchFreezer({"audio": self.audio_branch.parameters(), "text": self.text_branch.parameters()})
        self.masked: str | None = None

    # ------------------------------------------------------------------ construction helpers
    def _encoder(
        self, modality: str, name: str | dict[str, Any] | None, input_shapes: Mapping[str, tuple[int, ...]],
        key: str, declared: int | None,
    ) -> tuple[nn.Module | None, int]:
        setting = f"model.{modality}_encoder"
        if name:
            if modality == "speech":
                wrapped: nn.Module = build_speech_encoder(
                    self.settings.encoder_spec("speech_encoder", SPEECH_ENCODER_TYPES), setting)
            else:
                wrapped = TextEncoder.from_spec(self.settings.encoder_spec("text_encoder", TEXT_ENCODER_TYPES),
                                                setting)
            # extra sub-modules frozen by name (of the wrapped transformers model, if any)
            freeze_parts(getattr(wrapped, "encoder", wrapped), self.settings.frozen_encoder_parts)
            width = wrapped.width  # type: ignore[assignment]
        else:
            shape = self.input_shape(input_shapes, key, 2, setting, "(steps, dim)")
            wrapped, width = None, shape[-1]
        if declared is not None and declared != width:
            source = f"encoder {self._encoder_path(name)!r}" if name else f"input {key!r}"
            raise ConfigError(f"model.{modality}_dim: {declared} does not match the {width} dims of {source}")
        return wrapped, int(width)

    @staticmethod
    def _encoder_path(entry: str | dict[str, Any]) -> str:
        return entry if isinstance(entry, str) else str(entry.get("path"))

    def learning_rate_groups(self) -> list[dict[str, Any]]:
        """Each encoder whose entry sets ``lr``: all its parameters (frozen ones too, as masking toggles them)."""
        groups = []
        for name, branch, types in (("speech_encoder", self.audio_branch, SPEECH_ENCODER_TYPES),
                                    ("text_encoder", self.text_branch, TEXT_ENCODER_TYPES)):
            if branch.encoder is None:
                continue
            lr = self.settings.encoder_spec(name, types).lr
            if lr is not None:
                groups.append({"name": f"model.{name}", "params": list(branch.encoder.parameters()), "lr": lr})
        return groups

    # ------------------------------------------------------------------ masking hook
    def on_epoch_start(self, epoch: int, num_epochs: int, generator: torch.Generator) -> dict[str, Any]:
        """Draw this epoch's masked modality (if any) and freeze its branch; returns ``mask_p`` and ``masked``."""
        if not self.settings.masking:
            return {}
        p, masked = self.schedule.draw(epoch, num_epochs, generator)
        self.masked = masked
        self.freezer.freeze(masked)
        return {"mask_p": p, "masked": masked or "none"}

    # ------------------------------------------------------------------ forward
    def encode(
        self, inputs: Mapping[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """Refined audio and text sequences (B, T, width) with their valid masks; a masked modality is zeros."""
        masked = self.masked if self.training else None
        audio, audio_valid = self._branch(self.audio_branch, inputs[self.speech_key],
                                          first_present(inputs, self.speech_masks), masked == "audio")
        text, text_valid = self._branch(self.text_branch, inputs[self.text_key],
                                        first_present(inputs, self.text_masks), masked == "text")
        return audio, audio_valid, text, text_valid

    def _branch(
        self, branch: ModalityBranch, raw: torch.Tensor, valid: torch.Tensor | None, masked: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One modality's refined sequence, or zeros of its length when masked (the branch is not run)."""
        if masked:
            if branch.encoder is not None:
                steps, valid = branch.encoder.output_steps(raw, valid)
            else:
                steps = raw.shape[1]
            return raw.new_zeros(raw.shape[0], steps, self.width, dtype=torch.get_default_dtype()), _as_bool(valid)
        if branch.encoder is not None:
            raw, valid = branch.encoder(raw, valid)
        valid = _as_bool(valid)
        return branch(raw, valid), valid

    def fuse(self, audio: torch.Tensor, audio_valid: torch.Tensor | None, text: torch.Tensor,
             text_valid: torch.Tensor | None) -> torch.Tensor:
        """(B, width) fused vector from the refined sequences."""
        if not self.settings.cross_attention:
            return torch.stack([masked_mean(audio, audio_valid), masked_mean(text, text_valid)]).mean(0)
        if not self.settings.bridge_tokens:
            text_pad = None if text_valid is None else ~text_valid
            audio_pad = None if audio_valid is None else ~audio_valid
            on_text, _ = self.audio_keys_attention(audio, text, text, key_padding_mask=text_pad, need_weights=False)
            on_audio, _ = self.text_keys_attention(text, audio, audio, key_padding_mask=audio_pad, need_weights=False)
            pooled = [masked_mean(on_text, audio_valid), masked_mean(on_audio, text_valid)]
            return torch.stack(pooled, dim=1).mean(dim=1)
        length = max(audio.shape[1], text.shape[1])
        audio, audio_valid = pad_time(audio, audio_valid, length)
        text, text_valid = pad_time(text, text_valid, length)
        padding = ~(audio_valid | text_valid)
        queries = self.tokens.unsqueeze(0).repeat(audio.shape[0], 1, 1)  # a copy, not a view: see summary.py
        audio_keys, _ = self.audio_keys_attention(queries, audio, text, key_padding_mask=padding, need_weights=False)
        text_keys, _ = self.text_keys_attention(queries, text, audio, key_padding_mask=padding, need_weights=False)
        return torch.stack([audio_keys.mean(dim=1), text_keys.mean(dim=1)], dim=1).mean(dim=1)

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        fused = self.fuse(*self.encode(inputs))
        return self.heads(self._remember_shared(fused))
