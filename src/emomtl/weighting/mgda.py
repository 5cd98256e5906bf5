"""MGDA-UB: the minimum-norm convex combination of the task gradients."""

from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
import torch

from emomtl.errors import ConfigError
from emomtl.weighting import distributed
from emomtl.weighting.base import Losses, SharedParameters, WeightingOutput, WeightingStrategy, loss_vector
from emomtl.weighting.gradients import representation_gradient_gram, task_gradient_matrix

NORMALIZATIONS = ("none", "l2", "loss", "loss+")
#: What the task gradients are taken with respect to: MGDA-UB's shared representation or the shared parameters.
GRADIENT_TARGETS = ("representation", "parameters")
#: Up to this many tasks the min-norm problem is solved exactly, support set by support set (2^K - 1 of them).
EXACT_MAX_TASKS = 6


class MGDA(WeightingStrategy):
    """MGDA-UB: alpha = argmin_{alpha in simplex} ||sum_k alpha_k g_k / n_k||^2, L = K sum_k alpha_k L_k / n_k.

    Source: Sener & Koltun, "Multi-task learning as multi-objective optimization", NeurIPS 2018. With
    ``gradients="representation"`` (default, MGDA-UB) g_k is the gradient of L_k w.r.t. the shared
    representation Z, which the training loop passes as ``representation=`` (the model's
    ``last_shared_representation``; one cheap backward per task into Z, the upper bound of the paper). With
    ``gradients="parameters"`` g_k is the gradient w.r.t. the shared parameters (exact MGDA, one backward per
    task through the trunk).
    n_k normalises the gradients: ``"none"`` (1), ``"l2"`` (||g_k||), ``"loss"`` (L_k), ``"loss+"`` (L_k ||g_k||).
    Weights are scaled by K (present tasks) so that equal weights are 1.
    """

    name = "mgda"
    summary = "min-norm convex combination of task gradients, MGDA-UB (Sener & Koltun)"
    kind = "gradient"
    needs_shared_parameters = True
    ddp_safe = True  # parameter gradients (or the representation Gram matrix) are averaged over ranks

    def __init__(self, task_names: Sequence[str], normalization: str = "none",
                 gradients: str = "representation") -> None:
        super().__init__(task_names)
        if normalization not in NORMALIZATIONS:
            raise ConfigError(f"weighting.normalization: {normalization!r} is not one of {list(NORMALIZATIONS)}")
        if gradients not in GRADIENT_TARGETS:
            raise ConfigError(f"weighting.gradients: {gradients!r} is not one of {list(GRADIENT_TARGETS)}")
        self.normalization = normalization
        self.gradients = gradients
        self.register_buffer("last_weights", torch.ones(self.num_tasks, dtype=torch.float64))

    @property
    def wants_representation(self) -> bool:
        return self.gradients == "representation"

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        if not self.updating:  # validation: the weights of the last training step
            weights = {t: float(self.last_weights[self.index(t)]) for t in losses}
            return WeightingOutput(loss=sum(weights[t] * loss for t, loss in losses.items()), weights=weights)
        if self.gradients == "representation":
            if representation is None:
                raise ConfigError(
                    "weighting.gradients: 'representation' (MGDA-UB) needs representation= (the model's "
                    "last_shared_representation); pass it, or set weighting.gradients: parameters"
                )
            gram, present = representation_gradient_gram(losses, self.task_names, representation)
        else:
            if not shared_parameters:
                raise ConfigError("weighting.gradients: 'parameters' needs shared_parameters=model.shared_parameters()")
            matrix, present = task_gradient_matrix(losses, self.task_names, shared_parameters)
            rows = matrix.double()
            gram = rows @ rows.T
        tasks = [t for t, p in zip(self.task_names, present.tolist()) if p]
        index = torch.tensor([self.index(t) for t in tasks])
        gram = gram.detach().double().cpu()[index][:, index]
        values = distributed.masked_mean(loss_vector(losses, self.task_names), self.present_mask(losses))[0][index]
        norms = normalizers(gram, values, self.normalization)
        normalized = gram / torch.outer(norms, norms)
        alpha = min_norm_weights(normalized)
        weights = {t: len(tasks) * float(a / n) for t, a, n in zip(tasks, alpha, norms)}
        for task, weight in weights.items():
            self.last_weights[self.index(task)] = weight
        total = sum(weights[t] * loss for t, loss in losses.items())
        extras = {f"mgda_alpha.{t}": float(a) for t, a in zip(tasks, alpha)}
        extras["mgda_min_norm"] = max(float(alpha @ normalized @ alpha), 0.0) ** 0.5
        return WeightingOutput(loss=total, weights={t: weights[t] for t in losses}, extras=extras)


def normalizers(gram: torch.Tensor, losses: torch.Tensor, normalization: str) -> torch.Tensor:
    """n_k for each task; a zero norm or loss is replaced by 1 so that nothing is divided by zero."""
    if normalization == "none":
        norms = torch.ones_like(losses)
    elif normalization == "l2":
        norms = gram.diagonal().clamp(min=0).sqrt()
    elif normalization == "loss":
        norms = losses.clone()
    else:
        norms = losses * gram.diagonal().clamp(min=0).sqrt()
    return torch.where(norms > 0, norms, torch.ones_like(norms))


def min_norm_weights(gram: torch.Tensor, iterations: int = 2000) -> torch.Tensor:
    """argmin_{alpha in simplex} alpha' M alpha for a Gram matrix M.

    Exact for up to ``EXACT_MAX_TASKS`` tasks (the KKT system of every support set, keeping the best feasible
    one); accelerated projected gradient descent with restarts beyond.
    """
    m = gram.detach().double().cpu().numpy()
    k = m.shape[0]
    scale = float(np.abs(m).max())
    if k == 1 or scale == 0 or not np.isfinite(scale):
        return torch.full((k,), 1.0 / k, dtype=torch.float64)
    m = m / scale
    alpha = min_norm_by_supports(m) if k <= EXACT_MAX_TASKS else min_norm_by_descent(m, iterations)
    return torch.from_numpy(alpha)


def min_norm_by_supports(m: np.ndarray) -> np.ndarray:
    """Solve min a'Ma, sum a = 1 on every support set S (2 M_S a + mu 1 = 0); best non-negative solution."""
    k = m.shape[0]
    best, best_value = np.eye(k)[int(np.argmin(m.diagonal()))], float(m.diagonal().min())
    for size in range(2, k + 1):
        for support in itertools.combinations(range(k), size):
            rows = list(support)
            system = np.zeros((size + 1, size + 1))
            system[:size, :size] = 2 * m[np.ix_(rows, rows)]
            system[:size, size] = system[size, :size] = 1.0
            rhs = np.zeros(size + 1)
            rhs[size] = 1.0
            solution = np.linalg.lstsq(system, rhs, rcond=None)[0][:size]
            if (solution < -1e-12).any():
                continue
            alpha = np.zeros(k)
            alpha[rows] = np.clip(solution, 0.0, None) / np.clip(solution, 0.0, None).sum()
            value = float(alpha @ m @ alpha)
            if value < best_value - 1e-15:
                best, best_value = alpha, value
    return best


def min_norm_by_descent(m: np.ndarray, iterations: int) -> np.ndarray:
    """Accelerated projected gradient descent on the simplex, restarting the momentum when it overshoots."""
    k = m.shape[0]
    step = 1.0 / max(float(np.linalg.eigvalsh(m).max()), 1e-12)
    alpha = np.full(k, 1.0 / k)
    momentum, t = alpha.copy(), 1.0
    for _ in range(iterations):
        nxt = project_to_simplex(momentum - step * (m @ momentum))
        if nxt @ m @ nxt > alpha @ m @ alpha:
            momentum, t = alpha.copy(), 1.0
            continue
        t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
        momentum = nxt + ((t - 1) / t_next) * (nxt - alpha)
        alpha, t = nxt, t_next
        if np.abs(alpha - project_to_simplex(alpha - step * (m @ alpha))).max() < 1e-10:
            break
    return alpha


def project_to_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto {x >= 0, sum x = 1} (sort-based, Duchi et al. 2008)."""
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - 1.0
    ranks = np.arange(1, len(v) + 1)
    rho = np.nonzero(u - cumulative / ranks > 0)[0][-1]
    return np.maximum(v - cumulative[rho] / (rho + 1), 0.0)
