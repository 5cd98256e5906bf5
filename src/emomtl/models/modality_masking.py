"""Random modality masking (Ispas et al., 2023): some epochs train on one modality only.

Each epoch masks one modality with probability ``p = start * (1 + cos(pi * epoch / num_epochs)) / 2`` (0.8 at the
first epoch, cosine decay over training, set to 0 once below ``floor`` = 0.1); the masked modality is text with
probability ``text_share`` (0.6), else audio. The masked branch's output is replaced by zeros and its parameters
are frozen for that epoch (``requires_grad`` off, so gradient-based weighting skips them). The masked branch,
its pretrained encoder included, is not run at all, so every step of that epoch leaves its gradients ``None``
(the loop zeroes gradients with ``set_to_none=True``); Adam, AdamW, SGD and RMSprop skip parameters without a
gradient, so neither momentum nor weight decay moves them: the branch's weights stay bit-identical. (A zero
gradient would not do: Adam's first moment would keep moving the weights.) Epochs are counted from 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ModalityMaskSchedule:
    """Probability of masking an epoch, and which modality to mask."""

    start: float = 0.8
    floor: float = 0.1
    text_share: float = 0.6

    def probability(self, epoch: int, num_epochs: int) -> float:
        """Cosine-decayed masking probability of ``epoch`` (0-based) out of ``num_epochs``."""
        progress = min(max(epoch, 0) / max(num_epochs, 1), 1.0)
        p = self.start * 0.5 * (1.0 + math.cos(math.pi * progress))
        return 0.0 if p < self.floor else p

    def draw(self, epoch: int, num_epochs: int, generator: torch.Generator) -> tuple[float, str | None]:
        """``(p, masked)``, ``masked`` in ``{'text', 'audio', None}``; always takes two draws from ``generator``."""
        p = self.probability(epoch, num_epochs)
        mask_draw, modality_draw = torch.rand(2, generator=generator).tolist()
        if mask_draw >= p:
            return p, None
        return p, "text" if modality_draw < self.text_share else "audio"


class BranchFreezer:
    """Freezes one named branch's parameters at a time, restoring every other parameter's own setting.

    Parameters frozen for good (e.g. a pretrained encoder's embeddings) stay frozen when a branch is released.
    """

    def __init__(self, branches: Mapping[str, Iterable[nn.Parameter]]) -> None:
        self.branches = {name: list(params) for name, params in branches.items()}
        self._trainable = {id(p): p.requires_grad for params in self.branches.values() for p in params}
        self.frozen: str | None = None

    def freeze(self, branch: str | None) -> None:
        """Freeze ``branch`` (``None``: none) and restore the others."""
        if branch is not None and branch not in self.branches:
            raise KeyError(f"unknown branch {branch!r}; branches: {sorted(self.branches)}")
        if self.frozen is not None:
            for p in self.branches[self.frozen]:
                p.requires_grad_(self._trainable[id(p)])
        if branch is not None:
            for p in self.branches[branch]:
                p.requires_grad_(False)
        self.frozen = branch
