"""Pretrained speech and text encoders loaded through ``transformers.AutoModel.from_pretrained``.

``name_or_path`` is a hub name or a local directory (``save_pretrained`` output); with ``local_files_only`` the
hub is never contacted. The embedding / feature-extractor parts named in ``frozen_parts`` are frozen.
``transformers`` is imported only when an encoder is loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from emomtl.errors import ConfigError


def load_pretrained(name_or_path: str, setting: str, local_files_only: bool = False) -> nn.Module:
    """``AutoModel.from_pretrained(name_or_path)``, with load failures turned into ``ConfigError`` on ``setting``."""
    try:
        from transformers import AutoModel
    except ImportError as error:  # pragma: no cover - transformers is an optional dependency
        raise ConfigError(f"{setting}: loading {name_or_path!r} needs `pip install emomtl[ssl]`") from error
    try:
        return AutoModel.from_pretrained(name_or_path, local_files_only=local_files_only)
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


class SpeechEncoder(nn.Module):
    """Waveform (B, samples) at 16 kHz -> last hidden states (B, frames, D) of a HuBERT / wav2vec 2.0 / WavLM.

    With a (B, samples) valid-sample mask, the valid frames are derived from the conv feature encoder's lengths;
    the mask is passed to the encoder only when its config asks for one (``feat_extract_norm == 'layer'``).
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.width = hidden_width(encoder)
        self.takes_mask = getattr(encoder.config, "feat_extract_norm", "group") == "layer"

    def forward(
        self, waveform: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
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


class TextEncoder(nn.Module):
    """Token ids (B, L) + attention mask -> last hidden states (B, L, D) and the valid-token mask."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.width = hidden_width(encoder)

    def forward(self, ids: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        mask = None if valid is None else valid.long()
        states = self.encoder(input_ids=ids.long(), attention_mask=mask).last_hidden_state
        return states, None if valid is None else valid.bool()

    def output_steps(self, ids: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[int, torch.Tensor | None]:
        """Number of output steps (one per token) without running the encoder."""
        return ids.shape[1], None if valid is None else valid.bool()
