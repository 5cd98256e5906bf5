"""Multi-task without harm: an easy auxiliary task must not stall a hard main task under any dynamic strategy.

A shared MLP trunk feeds a hard main regression (a sum of products and sines of the inputs) and a trivially easy
auxiliary regression (one input coordinate, no noise). Every strategy is driven the way the training loop drives
it (``weighting.step``: shared parameters, representation, shared gradients, ``after_step``, ``end_epoch`` every
``EPOCH`` steps). After ``STEPS`` steps the main task's held-out MSE with the auxiliary task must stay within
``TOLERANCE`` of the main task trained alone (same seed, same trunk).

Published ``softmax`` (beta = 0) moves weight to the lowest loss (dL/db_k = w_k (L_k - sum_j w_j L_j)); within
these 300 steps the main weight falls to ~0.13 but the main task still learns (tests/weighting pins the collapse
itself); ``weighting.entropy_weight`` bounds it. ``mgda`` (no normalisation) and ``famo`` do stall the main task:
documented expected failures (``EXPECTED_FAILURES`` gives the diagnosis); ``mgda`` with
``weighting.normalization: l2`` (unit-norm task gradients) does not.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from emomtl.weighting import create
from emomtl.weighting.step import shared_parameters_for, weigh, wants_losses_after, write_shared_gradients

STEPS, EPOCH, BATCH = 300, 20, 128
#: main MSE with the auxiliary task <= 2 x the main MSE alone. Not stalled: the main target's variance is ~3.7, the
#: main task alone reaches ~0.09 and equal weights (static) ~0.12 (the auxiliary task shares the trunk's capacity).
TOLERANCE = 2.0
TASKS = ["main", "aux"]


def _targets(x: torch.Tensor) -> dict[str, torch.Tensor]:
    main = x[:, 1] * x[:, 2] + torch.sin(2 * x[:, 3]) + 0.5 * x[:, 4] * x[:, 5] - x[:, 6] ** 2 + 1.0
    return {"main": main, "aux": x[:, 0]}


class Net(nn.Module):
    def __init__(self, tasks: list[str]) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh())
        self.heads = nn.ModuleDict({t: nn.Linear(32, 1) for t in tasks})
        self.representation: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.representation = self.trunk(x)
        return {t: head(self.representation).squeeze(-1) for t, head in self.heads.items()}


def _losses(net: Net, x: torch.Tensor) -> dict[str, torch.Tensor]:
    targets = _targets(x)
    return {t: (y - targets[t]).pow(2).mean() for t, y in net(x).items()}


def train(name: str | None, **params) -> tuple[float, list[dict[str, float]]]:
    """Held-out main MSE after training (``name`` None: the main task alone) and the weights of every step."""
    torch.manual_seed(0)
    data = torch.Generator().manual_seed(1)
    tasks = TASKS if name else ["main"]
    net = Net(tasks)
    strategy = create(name or "static", tasks, task_kinds={t: "regression" for t in tasks}, **params)
    optimiser = torch.optim.Adam([*net.parameters(), *strategy.parameters()], lr=0.01)
    shared = shared_parameters_for(strategy, lambda: list(net.trunk.parameters()))
    weights, sums = [], {t: 0.0 for t in tasks}
    for step in range(1, STEPS + 1):
        x = torch.randn(BATCH, 8, generator=data)
        losses = _losses(net, x)
        optimiser.zero_grad(set_to_none=True)
        out = weigh(strategy, losses, shared, lambda: net.representation)
        out.loss.backward()
        write_shared_gradients(out, shared)
        optimiser.step()
        if wants_losses_after(strategy):
            with torch.no_grad():
                strategy.after_step(_losses(net, x))
        weights.append(out.weights)
        for t in tasks:
            sums[t] += float(losses[t].detach()) / EPOCH
        if step % EPOCH == 0:
            strategy.end_epoch(sums)
            sums = {t: 0.0 for t in tasks}
    with torch.no_grad():
        held_out = torch.randn(2048, 8, generator=torch.Generator().manual_seed(2))
        return float(_losses(net, held_out)["main"]), weights


@pytest.fixture(scope="module")
def main_alone() -> float:
    mse, _ = train(None)
    assert mse < 0.5 * float(_targets(torch.randn(2048, 8))["main"].var()), "the main task alone must learn"
    return mse


EXPECTED_FAILURES = {
    "mgda": "the min-norm point of the task gradients' hull is the near-zero gradient of the solved easy task "
            "(Pareto-stationary), so the main task's weight goes to 0; weighting.normalization: l2 fixes it",
    "famo": "the effective weight of L_k is z_k / (c L_k): a near-zero easy loss takes almost all of it (the "
            "logit step cannot catch up; a larger gamma pulls z to uniform and makes it worse); no option fixes it",
}
ARMS = [("uw", {}), ("ruw", {}), ("rruw", {}), ("dwa", {}), ("druw", {}), ("gradnorm", {}), ("pcgrad", {}), ("gcs", {}),
        ("softmax", {}), ("softmax", {"entropy_weight": 0.1}), ("mgda", {"normalization": "l2"}), ("mgda", {}),
        ("famo", {})]


def _arm(name: str, params: dict) -> object:
    label = name + "".join(f"-{k}={v}" for k, v in params.items())
    reason = EXPECTED_FAILURES.get(name) if not params else None
    return pytest.param(name, params, id=label, marks=[pytest.mark.xfail(reason=reason, strict=True)] if reason else [])


@pytest.mark.parametrize("name, params", [_arm(n, p) for n, p in ARMS])
def test_easy_auxiliary_task_does_not_stall_the_main_task(main_alone, name, params):
    with_aux, weights = train(name, **params)
    assert with_aux <= TOLERANCE * main_alone, (f"{name}: main MSE {with_aux:.3f} vs {main_alone:.3f} alone; "
                                                f"last weights {weights[-1]}")
