"""Per-task gradient norms on the shared parameters, a training diagnostic (``train.log_grad_norms``).

||d L_k / d theta_shared||_2 for every task k, from ``torch.autograd.grad`` on the step's graph (kept for the real
backward pass): one extra backward per task, so the loop computes it only on the steps it logs. Together with the
weights w_k it shows which task drives the shared layers (w_k ||grad L_k|| is that task's share).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch


def task_gradient_norms(losses: Mapping[str, torch.Tensor], shared: Sequence[torch.nn.Parameter]) -> dict[str, float]:
    """The L2 norm of each task loss's gradient on ``shared`` (0 for a task that does not reach them)."""
    parameters = [p for p in shared if p.requires_grad]
    norms = {}
    for name, loss in losses.items():
        grads = torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
        squares = [g.detach().float().pow(2).sum() for g in grads if g is not None]
        norms[name] = float(torch.stack(squares).sum().sqrt()) if squares else 0.0
    return norms
