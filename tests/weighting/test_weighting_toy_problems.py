"""Strategies trained with a model on toy two-task regression problems with known noise levels."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
from torch import nn

from emomtl.weighting import create

NOISE = {"easy": 0.5, "hard": 1.5}  # noise standard deviations: variances 0.25 and 2.25


class TwoTaskRegression:
    """y_k = x . a_k + noise_k (scaled by ``scales``), x in R^4; a linear model can reach MSE_k = noise variance."""

    def __init__(self, seed: int = 0, scales: dict[str, float] | None = None, nonlinear_easy: bool = False) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.coefficients = {t: torch.randn(4, generator=self.generator) for t in NOISE}
        self.scales = scales or {t: 1.0 for t in NOISE}
        self.nonlinear_easy = nonlinear_easy
        torch.manual_seed(seed)

    def batch(self, size: int = 256) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x = torch.randn(size, 4, generator=self.generator)
        targets = {}
        for task, sigma in NOISE.items():
            clean = x @ self.coefficients[task]
            if task == "easy" and self.nonlinear_easy:
                clean = torch.sin(clean)
            noise = sigma * torch.randn(size, generator=self.generator)
            targets[task] = self.scales[task] * (clean + noise)
        return x, targets


def _train(strategy, problem: TwoTaskRegression, steps: int, trunk: nn.Module, lr: float = 0.03):
    heads = nn.ModuleDict({t: nn.Linear(8, 1) for t in NOISE})
    optimiser = torch.optim.Adam([*trunk.parameters(), *heads.parameters(), *strategy.parameters()], lr=lr)
    history = []
    for _ in range(steps):
        x, targets = problem.batch()
        h = trunk(x)
        losses = {t: (heads[t](h).squeeze(-1) - targets[t]).pow(2).mean() for t in NOISE}
        optimiser.zero_grad()
        out = strategy(losses, shared_parameters=list(trunk.parameters()))
        out.loss.backward()
        optimiser.step()
        history.append(out)
    return history


def test_uw_learns_sigma_squared_in_the_ratio_of_the_noise_variances():
    # Kendall's 1/(2 sigma^2) for regression: its optimum is sigma^2 = L (the paper's factor 1 gives 2 L)
    strategy = create("uw", list(NOISE), precision_factor="kendall", task_kinds={t: "regression" for t in NOISE})
    _train(strategy, TwoTaskRegression(), steps=350, trunk=nn.Linear(4, 8))
    sigma2 = strategy.log_vars.detach().exp()
    assert float(sigma2[1] / sigma2[0]) == pytest.approx(2.25 / 0.25, rel=0.15)
    assert sigma2.tolist() == pytest.approx([0.25, 2.25], rel=0.2)


def test_softmax_collapses_onto_the_easiest_task():
    """Pins the behaviour the dynamic joint-loss paper leaves open: nothing stops w(easy) -> 1."""
    strategy = create("softmax", list(NOISE))
    history = _train(strategy, TwoTaskRegression(), steps=300, trunk=nn.Linear(4, 8))
    hard = [history[i].weights["hard"] for i in (0, 100, 200, 299)]
    assert hard[0] == 0.5
    assert hard[1] > hard[2] > hard[3], "weight keeps draining from the harder task"
    assert history[-1].weights["easy"] > 0.99


def test_softmax_entropy_regulariser_stops_the_collapse_at_the_gibbs_weights():
    strategy = create("softmax", list(NOISE), entropy_weight=1.0)
    history = _train(strategy, TwoTaskRegression(), steps=300, trunk=nn.Linear(4, 8))
    # for losses near the noise variances (0.25, 2.25) the minimiser is softmax(-L / beta): 1 / (1 + e^-2)
    easy = statistics.mean(out.weights["easy"] for out in history[-50:])
    assert easy == pytest.approx(1 / (1 + math.exp(-2.0)), abs=0.03)


def test_softmax_entropy_regulariser_reaches_softmax_of_minus_losses_for_fixed_losses():
    strategy = create("softmax", ["a", "b", "c"], entropy_weight=0.5)
    optimiser = torch.optim.SGD(strategy.parameters(), lr=0.5)
    losses = {"a": torch.tensor(1.0), "b": torch.tensor(2.0), "c": torch.tensor(1.5)}
    for _ in range(300):
        optimiser.zero_grad()
        out = strategy(losses)
        out.loss.backward()
        optimiser.step()
    exps = {t: math.exp(-float(v) / 0.5) for t, v in losses.items()}
    expected = {t: e / sum(exps.values()) for t, e in exps.items()}
    assert strategy(losses).weights == pytest.approx(expected, abs=1e-4)


def test_gradnorm_equalises_gradient_norms_while_training():
    problem = TwoTaskRegression(scales={"easy": 1.0, "hard": 10.0}, nonlinear_easy=True)
    strategy = create("gradnorm", list(NOISE), alpha=0.0)
    history = _train(strategy, problem, steps=300, trunk=nn.Sequential(nn.Linear(4, 8), nn.Tanh()), lr=0.01)

    def weighted_ratio(out):
        return out.extras["gradnorm_grad_norm.easy"] / out.extras["gradnorm_grad_norm.hard"]

    def raw_ratio(out):
        return weighted_ratio(out) * out.weights["hard"] / out.weights["easy"]

    assert weighted_ratio(history[0]) < 0.1  # equal weights: the scaled task dominates the shared gradient
    assert raw_ratio(history[-1]) < 0.1  # ... and still would at the end
    assert 0.5 < statistics.median(weighted_ratio(out) for out in history[-50:]) < 2.0
