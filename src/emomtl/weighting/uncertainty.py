"""Uncertainty weighting and its regularised variants: ``uw``, ``ruw``, ``rruw`` (and DRUW, :mod:`.druw`).

All of them learn s_k = ln alpha_k^2 (= ln sigma_k^2) per task and weight a loss by its precision c_k exp(-s_k).
``precision_factor`` sets c_k identically for all four (uw, ruw, rruw, druw): ``"paper"`` (default) is the DRUW
paper's 1/alpha_k^2, c_k = 1 for every task, so d total / d L_k = 1 at initialisation (s = 0); ``"kendall"``
is Kendall et al.'s two likelihoods, c_k = 1/2 for a regression-type task (1/(2 sigma^2)) and 1 for a
classification task, which needs ``task_kinds`` (the training loop hands them over through
:func:`emomtl.weighting.create`, for every strategy with ``wants_task_kinds``). s_k is clamped to
``log_var_bounds`` inside the formula, so extreme or vanishing losses cannot overflow exp(-s); outside the
bounds the gradient on s_k is zero. A task absent this step contributes no term (neither its weighted loss
nor its regulariser), so its s_k gets no gradient from that step.

Equation numbers are those of Song et al. 2022 (the DRUW paper) as listed in issue #16 (Eq. 1 UW, Eq. 2 RUW,
Eq. 3 DWA, Eq. 4 RRUW, Eq. 5 DRUW); they were not re-checked against the PDF here.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from emomtl.errors import ConfigError
from emomtl.weighting.base import (
    Losses,
    SharedParameters,
    WeightingOutput,
    WeightingStrategy,
    per_task,
    stack_losses,
)

#: Kendall et al.'s loss factor c_k per task kind: Gaussian (1 / 2 sigma^2) vs softmax likelihood (1 / sigma^2).
KIND_FACTORS = {"regression": 0.5, "multi_regression": 0.5, "classification": 1.0}
#: ``precision_factor`` values: the paper's 1/alpha^2 for every task, or Kendall's kind-dependent factor.
PRECISION_FACTORS = ("paper", "kendall")
#: Regularisers R(s) of ``ruw``: Liebel & Koerner's ln(1 + sigma^2), or the form printed in the DRUW paper.
REGULARIZERS = ("liebel", "printed")
#: The printed ln(1 + ln alpha^2) is evaluated as ln(max(1 + s, PRINTED_GUARD)).
PRINTED_GUARD = 1e-3


class UncertaintyWeighting(WeightingStrategy):
    """Uncertainty weighting (DRUW paper Eq. 1), s_k = ln alpha_k^2 learnable, s_k(0) = 0.

    Source: Kendall, Gal & Cipolla, "Multi-task learning using uncertainty to weigh losses for scene geometry
    and semantics", CVPR 2018; written with 1/alpha_k^2 (c_k = 1) in Song et al. 2022, Eq. 1. The regulariser
    s_k / 2 = ln alpha_k is Kendall's ln sigma. ``precision_factor="kendall"`` gives c_k = 1/2 for regression
    tasks (then the optimum is sigma_k^2 = L_k). The reported weight of a task is c_k exp(-s_k).
    """

    name = "uw"
    summary = "homoscedastic uncertainty weighting, learnable log alpha^2 (Kendall et al.; DRUW paper Eq. 1)"
    equation = ("Eq. 1 (UW): L = sum_k [ c_k exp(-s_k) L_k + s_k / 2 ],  s_k = ln alpha_k^2,  "
                "c_k = 1 (paper) or 1/2 for regression (kendall)")
    kind = "loss"
    needs_shared_parameters = False
    wants_task_kinds = True
    ddp_safe = True  # the log-variances are parameters, averaged over ranks by all_reduce_grads

    def __init__(
        self,
        task_names: Sequence[str],
        init_log_var: float | Mapping[str, float] = 0.0,
        precision_factor: str = "paper",
        task_kinds: Mapping[str, str] | None = None,
        log_var_bounds: Sequence[float] = (-20.0, 20.0),
    ) -> None:
        super().__init__(task_names)
        self.log_vars = nn.Parameter(per_task(self.task_names, init_log_var, "init_log_var"))
        self.precision_factor = precision_factor
        self.register_buffer("factors", precision_factors(self.task_names, precision_factor, task_kinds))
        low, high = (float(b) for b in log_var_bounds)
        if not low < high:
            raise ConfigError(f"weighting.log_var_bounds: need (low, high) with low < high, got {log_var_bounds!r}")
        self.log_var_bounds = (low, high)

    # --------------------------------------------------------------- formula
    def regularizer(self, log_var: torch.Tensor) -> torch.Tensor:
        """R(s_k) added per present task."""
        return 0.5 * log_var

    def restraint(self) -> torch.Tensor | None:
        """A term on all log-variances, or None."""
        return None

    def task_weights(self, losses: Mapping[str, torch.Tensor], precisions: torch.Tensor) -> torch.Tensor:
        """The factor of each present loss in the total, from its precision c_k exp(-s_k) (DRUW adds lambda_k)."""
        return precisions

    def clamped_log_vars(self) -> torch.Tensor:
        return self.log_vars.clamp(*self.log_var_bounds)

    def combine(
        self, losses: Losses, shared_parameters: SharedParameters, representation: torch.Tensor | None
    ) -> WeightingOutput:
        index = torch.tensor([self.index(t) for t in losses])
        log_vars = self.clamped_log_vars()[index]
        weights = self.task_weights(losses, self.factors[index] * torch.exp(-log_vars))
        values = stack_losses(losses)
        total = (weights.to(values.dtype) * values).sum() + self.regularizer(log_vars).sum()
        restraint = self.restraint()
        extras = {f"log_var.{t}": float(self.log_vars.detach()[self.index(t)]) for t in self.task_names}
        if restraint is not None:
            total = total + restraint
            extras["restraint"] = float(restraint.detach())
        return WeightingOutput(
            loss=total, weights={t: float(w) for t, w in zip(losses, weights.detach())}, extras=extras
        )


class RegularizedUncertaintyWeighting(UncertaintyWeighting):
    """Regularised UW (DRUW paper Eq. 2): the positive regulariser R(s) = ln(1 + alpha^2) replaces s / 2.

    Source: Liebel & Koerner, "Auxiliary tasks in multi-task learning", 2018: the positive regulariser
    ln(1 + sigma^2) = softplus(s) keeps the total loss >= 0. The DRUW paper (Song et al., 2022, Eq. 2) prints
    the term as ln(1 + ln alpha^2), which is undefined for alpha^2 < 1/e and unbounded below as alpha^2 -> 1/e
    from above, so minimising it drives alpha^2 towards 1/e. That is why the default is
    ``regularizer="liebel"`` (the original, well-defined form); ``regularizer="printed"`` evaluates
    ln(max(1 + s, 1e-3)) (the explicit guard; zero gradient below it) for reproducing the paper, at the price
    of log-variances that settle near the guard.
    """

    name = "ruw"
    summary = "uncertainty weighting with the positive ln(1 + alpha^2) regulariser (Liebel & Koerner; Eq. 2)"
    equation = ("Eq. 2 (RUW): L = sum_k [ c_k exp(-s_k) L_k + R(s_k) ],  "
                "R(s) = ln(1 + alpha^2) = softplus(s) (liebel, default) or ln(1 + ln alpha^2) (printed)")

    def __init__(
        self,
        task_names: Sequence[str],
        init_log_var: float | Mapping[str, float] = 0.0,
        precision_factor: str = "paper",
        task_kinds: Mapping[str, str] | None = None,
        log_var_bounds: Sequence[float] = (-20.0, 20.0),
        regularizer: str = "liebel",
    ) -> None:
        super().__init__(task_names, init_log_var, precision_factor, task_kinds, log_var_bounds)
        if regularizer not in REGULARIZERS:
            raise ConfigError(f"weighting.regularizer: {regularizer!r} is not one of {list(REGULARIZERS)}")
        self.regularizer_form = regularizer

    def regularizer(self, log_var: torch.Tensor) -> torch.Tensor:
        if self.regularizer_form == "printed":
            return torch.log((1.0 + log_var).clamp(min=PRINTED_GUARD))
        return F.softplus(log_var)


class RestrainedUncertaintyWeighting(RegularizedUncertaintyWeighting):
    """Restrained RUW (DRUW paper Eq. 4): RUW plus the restraint |phi - sum_k |ln alpha_k||, ln alpha_k = s_k / 2.

    Source: Song et al., "Dynamic restrained uncertainty weighting loss for multitask learning of vocal
    expression", 2022 (RRUW, phi = 1). The restraint is a property of the parameter vector, so its sum runs
    over all tasks, present this step or not.
    """

    name = "rruw"
    summary = "RUW plus the |phi - sum |log alpha|| restraint (Song et al.; Eq. 4)"
    equation = ("Eq. 4 (RRUW): L = sum_k [ c_k exp(-s_k) L_k + R(s_k) ] + |phi - sum_k |ln alpha_k||,  "
                "ln alpha_k = s_k / 2")

    def __init__(
        self,
        task_names: Sequence[str],
        init_log_var: float | Mapping[str, float] = 0.0,
        precision_factor: str = "paper",
        task_kinds: Mapping[str, str] | None = None,
        log_var_bounds: Sequence[float] = (-20.0, 20.0),
        regularizer: str = "liebel",
        phi: float = 1.0,
    ) -> None:
        super().__init__(task_names, init_log_var, precision_factor, task_kinds, log_var_bounds, regularizer)
        if not phi >= 0:
            raise ConfigError(f"weighting.phi: must be >= 0, got {phi!r}")
        self.phi = float(phi)

    def restraint(self) -> torch.Tensor:
        log_alpha = 0.5 * self.clamped_log_vars()
        return (self.phi - log_alpha.abs().sum()).abs()


def precision_factors(
    task_names: list[str], precision_factor: str, task_kinds: Mapping[str, str] | None
) -> torch.Tensor:
    """c_k for every task: 1 (``"paper"``) or Kendall's factor of the task's kind (``"kendall"``)."""
    if precision_factor not in PRECISION_FACTORS:
        raise ConfigError(f"weighting.precision_factor: {precision_factor!r} is not one of {list(PRECISION_FACTORS)}")
    factors = kind_factors(task_names, task_kinds)  # validates the kinds in both modes
    if precision_factor == "paper":
        return torch.ones(len(task_names))
    if task_kinds is None:
        raise ConfigError(
            "weighting.precision_factor: 'kendall' needs task_kinds (task -> classification/regression); "
            "the training loop passes them, direct callers give task_kinds=..."
        )
    return factors


def kind_factors(task_names: list[str], task_kinds: Mapping[str, str] | None) -> torch.Tensor:
    """c_k for every task from a task -> kind mapping (tasks not named are regression-type)."""
    task_kinds = dict(task_kinds or {})
    unknown = sorted(set(task_kinds) - set(task_names))
    if unknown:
        raise ConfigError(f"weighting.task_kinds: unknown task(s) {unknown}; valid: {task_names}")
    bad = {t: k for t, k in task_kinds.items() if k not in KIND_FACTORS}
    if bad:
        raise ConfigError(f"weighting.task_kinds: {bad} not in {sorted(KIND_FACTORS)}")
    return torch.tensor([KIND_FACTORS[task_kinds.get(t, "regression")] for t in task_names])
