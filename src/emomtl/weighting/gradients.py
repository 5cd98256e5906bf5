"""Per-task gradients of the shared parameters, as the rows of one matrix.

Used by the gradient-based strategies. Each present task costs one ``torch.autograd.grad`` pass through the
shared trunk (the graph is retained for the loop's own ``backward``) and a row of P floats, P = number of
shared parameter values. Under ``torch.distributed`` the rows are averaged over ranks, so every rank sees the
gradients of the global batch and makes the same decision.
"""

from __future__ import annotations

from typing import Mapping

import torch

from emomtl.errors import ConfigError
from emomtl.weighting import distributed


def trainable(parameters: list[torch.Tensor]) -> list[torch.Tensor]:
    return [p for p in parameters if p.requires_grad]


def task_gradient_matrix(
    losses: Mapping[str, torch.Tensor], task_names: list[str], parameters: list[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(G, present): G[k] = flattened d L_k / d theta for every task (zeros when absent), present on any rank."""
    params = trainable(parameters)
    if not params:
        raise ConfigError("weighting: no shared parameter requires grad; gradient-based strategies need some")
    size = sum(p.numel() for p in params)
    reference = params[0]
    matrix = torch.zeros(len(task_names), size, dtype=reference.dtype, device=reference.device)
    present = torch.zeros(len(task_names), dtype=torch.bool)
    for k, task in enumerate(task_names):
        if task not in losses:
            continue
        present[k] = True
        loss = losses[task]
        if not loss.requires_grad:
            continue
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        matrix[k] = flatten(grads, params)
    return distributed.masked_mean(matrix, present)


def representation_gradient_gram(
    losses: Mapping[str, torch.Tensor], task_names: list[str], representation: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, present): Gram matrix of d L_k / d Z for the shared representation Z (averaged over ranks)."""
    rows = torch.zeros(len(task_names), representation.numel(), dtype=torch.float64, device=representation.device)
    present = torch.zeros(len(task_names), dtype=torch.bool)
    for k, task in enumerate(task_names):
        if task not in losses:
            continue
        present[k] = True
        if losses[task].requires_grad:
            (grad,) = torch.autograd.grad(losses[task], representation, retain_graph=True, allow_unused=True)
            if grad is not None:
                rows[k] = grad.reshape(-1).double()
    return distributed.masked_mean(rows @ rows.T, present)


def flatten(grads: tuple[torch.Tensor | None, ...], params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)])


def unflatten(vector: torch.Tensor, parameters: list[torch.Tensor]) -> list[torch.Tensor | None]:
    """Split a flat gradient back into one tensor per parameter (``None`` for parameters without grad)."""
    out: list[torch.Tensor | None] = []
    offset = 0
    for p in parameters:
        if not p.requires_grad:
            out.append(None)
            continue
        n = p.numel()
        out.append(vector[offset : offset + n].reshape(p.shape).to(p.dtype).clone())
        offset += n
    return out
