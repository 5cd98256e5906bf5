"""Each strategy's published equation, by hand for two tasks: total, d total / d L_k, d total / d own parameters.

Equations (DRUW paper, Song et al. 2022): Eq. 1 UW, Eq. 2 RUW, Eq. 3 DWA, Eq. 4 RRUW, Eq. 5 DRUW; the
precision factor is the paper's 1/alpha^2 (c = 1) unless ``precision_factor="kendall"``.
"""

from __future__ import annotations

import math

import pytest
import torch

from emomtl.errors import ConfigError
from emomtl.weighting import STRATEGIES, create

LA, LB = 2.0, 3.0


def _losses() -> dict[str, torch.Tensor]:
    return {"a": torch.tensor(LA, requires_grad=True), "b": torch.tensor(LB, requires_grad=True)}


def _set(parameter: torch.Tensor, values: list[float]) -> None:
    with torch.no_grad():
        parameter.copy_(torch.tensor(values))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def _run(strategy, losses=None):
    losses = losses or _losses()
    out = strategy(losses)
    out.loss.backward()
    return out, [float(losses[t].grad) for t in "ab"]


def _dwa_lambdas(ratios: list[float], T: float) -> list[float]:
    exps = [math.exp(r / T) for r in ratios]
    return [len(ratios) * e / sum(exps) for e in exps]


def _with_ratios_half_and_one(strategy):
    """Two step-periods with losses (1, 1) then (0.5, 1): r = (0.5, 1) for the next call."""
    strategy({"a": torch.tensor(1.0), "b": torch.tensor(1.0)})
    strategy({"a": torch.tensor(0.5), "b": torch.tensor(1.0)})
    return strategy


def test_static():
    out, grads = _run(create("static", ["a", "b"], weights=[0.5, 2.0]))
    assert out.loss.item() == pytest.approx(0.5 * LA + 2.0 * LB) and grads == pytest.approx([0.5, 2.0])
    out, grads = _run(create("static", ["a", "b"]))  # default: 1 per task
    assert out.loss.item() == pytest.approx(LA + LB) and grads == [1.0, 1.0]


def test_softmax():
    strategy = create("softmax", ["a", "b"])
    _set(strategy.logits, [0.3, -0.2])
    w_a = 1 / (1 + math.exp(-0.5))
    w = [w_a, 1 - w_a]
    out, grads = _run(strategy)
    total = w[0] * LA + w[1] * LB
    assert out.loss.item() == pytest.approx(total) and grads == pytest.approx(w)
    # d total / d b_k = w_k (L_k - total)
    assert strategy.logits.grad.tolist() == pytest.approx([w[0] * (LA - total), w[1] * (LB - total)])


def test_uw_eq1_paper_factor():
    strategy = create("uw", ["a", "b"])
    _set(strategy.log_vars, [0.5, -1.0])
    out, grads = _run(strategy)
    precision = [math.exp(-0.5), math.exp(1.0)]
    assert out.loss.item() == pytest.approx(precision[0] * LA + precision[1] * LB + 0.25 - 0.5)
    assert grads == pytest.approx(precision)
    assert strategy.log_vars.grad.tolist() == pytest.approx([-precision[0] * LA + 0.5, -precision[1] * LB + 0.5])


def test_ruw_eq2_liebel_regulariser_is_the_default():
    strategy = create("ruw", ["a", "b"])
    assert strategy.regularizer_form == "liebel"
    _set(strategy.log_vars, [0.5, -1.0])
    out, grads = _run(strategy)
    precision = [math.exp(-0.5), math.exp(1.0)]
    expected = precision[0] * LA + precision[1] * LB + _softplus(0.5) + _softplus(-1.0)
    assert out.loss.item() == pytest.approx(expected) and grads == pytest.approx(precision)
    assert strategy.log_vars.grad.tolist() == pytest.approx(
        [-precision[0] * LA + _sigmoid(0.5), -precision[1] * LB + _sigmoid(-1.0)]
    )


def _restrained_expectations(lambdas=(0.0, 0.0), product=False):
    """s = (2, -4): ln alpha = (1, -2), restraint |1 - 3| = 2, d restraint / d s = (+1/2, -1/2)."""
    precision = [math.exp(-2.0), math.exp(4.0)]
    if product:
        factors = [lam * p for lam, p in zip(lambdas, precision)]
    else:
        factors = [lam + p for lam, p in zip(lambdas, precision)]
    total = factors[0] * LA + factors[1] * LB + _softplus(2.0) + _softplus(-4.0) + 2.0
    scale = lambdas if product else (1.0, 1.0)
    d_s = [
        -scale[0] * precision[0] * LA + _sigmoid(2.0) + 0.5,
        -scale[1] * precision[1] * LB + _sigmoid(-4.0) - 0.5,
    ]
    return total, factors, d_s


def test_rruw_eq4():
    strategy = create("rruw", ["a", "b"], phi=1.0)
    _set(strategy.log_vars, [2.0, -4.0])
    out, grads = _run(strategy)
    total, factors, d_s = _restrained_expectations()
    assert out.loss.item() == pytest.approx(total) and grads == pytest.approx(factors)
    assert strategy.log_vars.grad.tolist() == pytest.approx(d_s)


def test_dwa_eq3():
    strategy = _with_ratios_half_and_one(create("dwa", ["a", "b"], T=2.0, period="step"))
    lam = _dwa_lambdas([0.5, 1.0], 2.0)
    out, grads = _run(strategy)
    assert out.loss.item() == pytest.approx(lam[0] * LA + lam[1] * LB) and grads == pytest.approx(lam)
    assert list(strategy.parameters()) == []


def test_druw_eq5_is_additive():
    strategy = _with_ratios_half_and_one(create("druw", ["a", "b"], T=10.0, phi=1.0, period="step"))
    _set(strategy.log_vars, [2.0, -4.0])
    lam = _dwa_lambdas([0.5, 1.0], 10.0)
    out, grads = _run(strategy)
    total, factors, d_s = _restrained_expectations(lam)
    assert out.loss.item() == pytest.approx(total) and grads == pytest.approx(factors)
    assert out.weights == pytest.approx(dict(zip("ab", factors)))
    assert strategy.log_vars.grad.tolist() == pytest.approx(d_s)  # lambda does not depend on s


def test_druw_product_variant():
    strategy = _with_ratios_half_and_one(create("druw_product", ["a", "b"], T=10.0, phi=1.0, period="step"))
    _set(strategy.log_vars, [2.0, -4.0])
    lam = _dwa_lambdas([0.5, 1.0], 10.0)
    out, grads = _run(strategy)
    total, factors, d_s = _restrained_expectations(lam, product=True)
    assert out.loss.item() == pytest.approx(total) and grads == pytest.approx(factors)
    assert strategy.log_vars.grad.tolist() == pytest.approx(d_s)


@pytest.mark.parametrize(
    "name, expected", [("uw", 1.0), ("ruw", 1.0), ("rruw", 1.0), ("druw", 2.0), ("druw_product", 1.0)]
)
def test_loss_gradient_at_initialisation(name, expected):
    _, grads = _run(create(name, ["a", "b"]))
    assert grads == pytest.approx([expected, expected])


@pytest.mark.parametrize("name, dwa", [("uw", 0.0), ("ruw", 0.0), ("rruw", 0.0), ("druw", 1.0)])
def test_kendall_factor_applies_identically_to_the_four(name, dwa):
    kinds = {"a": "classification", "b": "regression"}
    _, grads = _run(create(name, ["a", "b"], task_kinds=kinds, precision_factor="kendall"))
    assert grads == pytest.approx([1.0 + dwa, 0.5 + dwa])
    _, grads = _run(create(name, ["a", "b"], task_kinds=kinds))  # kinds handed over, paper factor: unused
    assert grads == pytest.approx([1.0 + dwa, 1.0 + dwa])


def test_task_kinds_go_only_to_strategies_that_want_them():
    kinds = {"a": "classification", "b": "regression"}
    for name, cls in STRATEGIES.items():
        strategy = create(name, ["a", "b"], task_kinds=kinds)  # never an "unknown parameter" error
        assert cls.wants_task_kinds == (name in ("uw", "ruw", "rruw", "druw", "druw_product"))
        if cls.wants_task_kinds:
            assert strategy.factors.tolist() == [1.0, 1.0]


def test_kendall_without_kinds_and_bad_factor_name_the_setting():
    with pytest.raises(ConfigError, match="weighting.precision_factor"):
        create("uw", ["a", "b"], precision_factor="kendall")
    with pytest.raises(ConfigError, match="weighting.precision_factor"):
        create("druw", ["a", "b"], precision_factor="half")


NUMBERED = {"uw": "Eq. 1", "ruw": "Eq. 2", "dwa": "Eq. 3", "rruw": "Eq. 4", "druw": "Eq. 5"}


@pytest.mark.parametrize("name", ["static", "ew", "softmax", "uw", "ruw", "rruw", "dwa", "druw", "druw_product"])
def test_equation_is_written_once_and_heads_the_docstring(name):
    cls = STRATEGIES[name]
    assert cls.equation and cls.__doc__.splitlines()[0] == cls.equation
    if name in NUMBERED:
        assert cls.equation.startswith(NUMBERED[name])
    if name == "druw_product":
        assert "not in the paper" in cls.equation


def test_cli_list_prints_each_equation(capsys):
    from emomtl.cli.main import main

    assert main(["weighting", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name, cls in STRATEGIES.items():
        row = next(i for i, line in enumerate(lines) if line.split() and line.split()[0] == name)
        assert lines[row + 1].strip() == (cls.equation or cls.__doc__.strip().splitlines()[0])
