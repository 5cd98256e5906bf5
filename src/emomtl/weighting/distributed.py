"""Cross-rank averaging that keeps strategy state identical under ``torch.distributed``.

Without an initialised process group (or with one rank) nothing is communicated, so single-process runs pay
nothing. Each call issues the same collectives on every rank whatever the local batch holds: tasks that
are absent on a rank are sent as zeros with a zero count, never skipped.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True inside an initialised process group with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def masked_mean(values: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over ranks of ``values[k]`` where ``present[k]``; returns (means, present on any rank).

    ``values`` has the task axis first; rows of absent tasks are ignored (zero where no rank has the task).
    """
    present = present.to(device=values.device, dtype=torch.bool)
    if not is_distributed():
        return torch.where(_expand(present, values), values, torch.zeros_like(values)), present
    shape = (-1,) + (1,) * (values.dim() - 1)
    device = collective_device(values)
    counts = present.to(device=device, dtype=values.dtype)
    total = torch.where(_expand(present, values), values, torch.zeros_like(values)).to(device)
    dist.all_reduce(total)
    dist.all_reduce(counts)
    means = total / counts.clamp(min=1).reshape(shape)
    return means.to(values.device), (counts > 0).to(values.device)


def average_gradients(parameters: list[torch.Tensor]) -> None:
    """Average ``p.grad`` over ranks in one collective; a rank without a grad counts as zero."""
    if not is_distributed() or not parameters:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in parameters])
    has_grad = torch.tensor([p.grad is not None for p in parameters], dtype=flat.dtype, device=flat.device)
    packed = torch.cat([flat, has_grad]).to(collective_device(flat))
    dist.all_reduce(packed)
    packed /= dist.get_world_size()
    offset = 0
    for i, p in enumerate(parameters):
        n = p.numel()
        if float(packed[flat.numel() + i]) > 0:
            p.grad = packed[offset : offset + n].reshape(p.shape).to(p.device, copy=True)
        offset += n


def collective_device(tensor: torch.Tensor) -> torch.device:
    """Where a collective can run: NCCL needs CUDA tensors, gloo takes the tensor where it is."""
    if dist.get_backend() == "nccl" and tensor.device.type != "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return tensor.device


def _expand(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.reshape((-1,) + (1,) * (like.dim() - 1)).expand_as(like)
