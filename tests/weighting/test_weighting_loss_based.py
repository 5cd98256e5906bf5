"""Loss-based strategies: totals and gradients w.r.t. their own parameters against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from emomtl.weighting import create

E = math.e


def _losses(**values: float) -> dict[str, torch.Tensor]:
    return {task: torch.tensor(float(v), requires_grad=True) for task, v in values.items()}


#: Kendall's 1/(2 sigma^2) for regression tasks (these hand computations were written for it; the paper's
#: factor 1, the default, is checked in test_weighting_equations.py).
KENDALL = {"precision_factor": "kendall", "task_kinds": {"a": "regression", "b": "regression"}}


def _set(parameter: torch.Tensor, values: list[float]) -> None:
    with torch.no_grad():
        parameter.copy_(torch.tensor(values))


# ------------------------------------------------------------------ static / ew
def test_static_total_and_loss_gradients():
    losses = _losses(a=2.0, b=6.0, c=1.0)
    out = create("static", ["a", "b", "c"], weights={"a": 0.5, "b": 0.25, "c": 2.0})(losses)
    assert out.loss.item() == pytest.approx(0.5 * 2 + 0.25 * 6 + 2.0 * 1)  # 4.5
    out.loss.backward()
    assert [float(losses[t].grad) for t in "abc"] == [0.5, 0.25, 2.0]
    assert out.weights == {"a": 0.5, "b": 0.25, "c": 2.0}


def test_static_default_and_ew_are_equal_weights():
    losses = _losses(a=3.0, b=6.0, c=9.0)
    for strategy in (create("static", ["a", "b", "c"]), create("ew", ["a", "b", "c"])):
        out = strategy(losses)
        assert out.loss.item() == pytest.approx(18.0)  # 3 + 6 + 9: every weight "equal to 1"
        assert out.weights == pytest.approx({"a": 1.0, "b": 1.0, "c": 1.0})


def test_static_absent_task_contributes_nothing():
    out = create("static", ["a", "b"], weights=[0.5, 0.5])(_losses(a=4.0))
    assert out.loss.item() == 2.0 and out.weights == {"a": 0.5, "b": 0.0}


# ------------------------------------------------------------------ softmax
def test_softmax_total_and_logit_gradient():
    strategy = create("softmax", ["a", "b"])
    _set(strategy.logits, [0.0, math.log(3.0)])  # w = (1/4, 3/4)
    out = strategy(_losses(a=2.0, b=6.0))
    assert out.loss.item() == pytest.approx(0.25 * 2 + 0.75 * 6)  # 5
    assert out.weights == pytest.approx({"a": 0.25, "b": 0.75})
    out.loss.backward()
    # dL/db_k = w_k (L_k - sum_j w_j L_j): (1/4)(2 - 5), (3/4)(6 - 5)
    assert strategy.logits.grad.tolist() == pytest.approx([-0.75, 0.75])


def test_softmax_temperature_scales_logits_and_gradients():
    strategy = create("softmax", ["a", "b"], temperature=2.0)
    _set(strategy.logits, [0.0, 2 * math.log(3.0)])  # b / tau = (0, ln 3): same w as above
    out = strategy(_losses(a=2.0, b=6.0))
    out.loss.backward()
    assert out.loss.item() == pytest.approx(5.0)
    assert strategy.logits.grad.tolist() == pytest.approx([-0.375, 0.375])


def test_softmax_entropy_regulariser_total_and_gradient():
    strategy = create("softmax", ["a", "b"], entropy_weight=0.5)
    _set(strategy.logits, [0.0, math.log(3.0)])
    out = strategy(_losses(a=2.0, b=6.0))
    entropy = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert out.loss.item() == pytest.approx(5.0 - 0.5 * entropy)
    out.loss.backward()
    # d(-H)/db_k = w_k (log w_k - sum_j w_j log w_j)
    mean_log = 0.25 * math.log(0.25) + 0.75 * math.log(0.75)
    expected = [
        -0.75 + 0.5 * 0.25 * (math.log(0.25) - mean_log),
        0.75 + 0.5 * 0.75 * (math.log(0.75) - mean_log),
    ]
    assert strategy.logits.grad.tolist() == pytest.approx(expected)


def test_softmax_renormalises_over_present_tasks():
    strategy = create("softmax", ["a", "b", "c"])
    _set(strategy.logits, [0.0, math.log(3.0), 5.0])
    out = strategy(_losses(a=2.0, b=6.0))  # "c" absent: softmax over a, b only
    assert out.weights == pytest.approx({"a": 0.25, "b": 0.75, "c": 0.0})
    out.loss.backward()
    assert float(strategy.logits.grad[2]) == 0.0


# ------------------------------------------------------------------ uw / ruw / rruw
def test_uw_total_and_log_variance_gradient():
    strategy = create("uw", ["a", "b"], **KENDALL)
    _set(strategy.log_vars, [0.5, -1.0])
    out = strategy(_losses(a=2.0, b=3.0))
    # sum_k exp(-s_k) L_k / 2 + s_k / 2
    assert out.loss.item() == pytest.approx(math.exp(-0.5) * 1.0 + 0.25 + E * 1.5 - 0.5)
    out.loss.backward()
    # dL/ds_k = -exp(-s_k) L_k / 2 + 1/2
    assert strategy.log_vars.grad.tolist() == pytest.approx([-math.exp(-0.5) + 0.5, -1.5 * E + 0.5])
    assert out.weights == pytest.approx({"a": 0.5 * math.exp(-0.5), "b": 0.5 * E})
    assert out.extras == pytest.approx({"log_var.a": 0.5, "log_var.b": -1.0})


def test_uw_classification_factor_and_initial_value():
    strategy = create("uw", ["a", "b"], precision_factor="kendall", task_kinds={"a": "classification"},
                      init_log_var={"a": 0.0, "b": math.log(2)})
    out = strategy(_losses(a=2.0, b=4.0))
    # a: exp(0) * 2 + 0; b: 1/2 * 1/2 * 4 + ln(2)/2
    assert out.loss.item() == pytest.approx(2.0 + 1.0 + math.log(2) / 2)
    out.loss.backward()
    assert strategy.log_vars.grad.tolist() == pytest.approx([-2.0 + 0.5, -1.0 + 0.5])


def test_ruw_liebel_total_and_gradient():
    strategy = create("ruw", ["a", "b"], **KENDALL)
    _set(strategy.log_vars, [0.0, math.log(3.0)])  # sigma^2 = 1, 3
    out = strategy(_losses(a=2.0, b=6.0))
    # 1/2 * 1 * 2 + ln(1 + 1)  +  1/2 * 1/3 * 6 + ln(1 + 3)
    assert out.loss.item() == pytest.approx(1.0 + math.log(2) + 1.0 + math.log(4))
    out.loss.backward()
    # dL/ds = -exp(-s) L / 2 + sigma^2 / (1 + sigma^2)
    assert strategy.log_vars.grad.tolist() == pytest.approx([-1.0 + 0.5, -1.0 + 0.75])


def test_ruw_printed_form_and_its_guard():
    strategy = create("ruw", ["a", "b"], regularizer="printed", **KENDALL)
    _set(strategy.log_vars, [1.0, -0.9999])  # 1 + s_b = 1e-4 is below the guard 1e-3
    out = strategy(_losses(a=2.0, b=1.0))
    expected = 0.5 * math.exp(-1.0) * 2 + math.log(2.0) + 0.5 * math.exp(0.9999) * 1 + math.log(1e-3)
    assert out.loss.item() == pytest.approx(expected)
    out.loss.backward()
    # a: -exp(-1) + 1/(1 + s) = -exp(-1) + 1/2; b: only the loss term (the guarded log is flat)
    assert strategy.log_vars.grad.tolist() == pytest.approx([-math.exp(-1.0) + 0.5, -0.5 * math.exp(0.9999)])


def test_rruw_restraint_total_and_gradient():
    strategy = create("rruw", ["a", "b"], phi=1.0, **KENDALL)
    _set(strategy.log_vars, [2.0, -4.0])  # ln alpha = 1, -2: sum |ln alpha| = 3, restraint |1 - 3| = 2
    out = strategy(_losses(a=1.0, b=1.0))
    uw_part = 0.5 * math.exp(-2) + math.log1p(math.exp(2)) + 0.5 * math.exp(4) + math.log1p(math.exp(-4))
    assert out.loss.item() == pytest.approx(uw_part + 2.0)
    assert out.extras["restraint"] == pytest.approx(2.0)
    out.loss.backward()

    def sigmoid(x):
        return 1 / (1 + math.exp(-x))

    # restraint gradient: sign(phi - S) * (-sign(s_k) / 2) = (-1)(-1/2), (-1)(+1/2)
    expected = [-0.5 * math.exp(-2) + sigmoid(2) + 0.5, -0.5 * math.exp(4) + sigmoid(-4) - 0.5]
    assert strategy.log_vars.grad.tolist() == pytest.approx(expected)


def test_rruw_restraint_counts_absent_tasks():
    strategy = create("rruw", ["a", "b"], phi=0.0, **KENDALL)
    _set(strategy.log_vars, [0.0, 2.0])
    out = strategy(_losses(a=1.0))
    assert out.extras["restraint"] == pytest.approx(1.0)  # |0 - (0 + 1)|
    assert out.loss.item() == pytest.approx(0.5 + math.log(2) + 1.0)


# ------------------------------------------------------------------ dwa
def _dwa_lambdas(ratios: list[float], T: float) -> list[float]:
    exps = [math.exp(r / T) for r in ratios]
    return [len(ratios) * e / sum(exps) for e in exps]


def test_dwa_epoch_periods_by_hand():
    strategy = create("dwa", ["a", "b"], T=2.0)
    losses = _losses(a=2.0, b=3.0)
    assert strategy(losses).weights == {"a": 1.0, "b": 1.0}  # period 1
    strategy.end_epoch({"a": 1.0, "b": 1.0})
    assert strategy(losses).weights == {"a": 1.0, "b": 1.0}  # period 2
    strategy.end_epoch({"a": 0.5, "b": 0.9})
    out = strategy(losses)  # r = (0.5 / 1, 0.9 / 1)
    lam = _dwa_lambdas([0.5, 0.9], 2.0)
    assert out.weights == pytest.approx({"a": lam[0], "b": lam[1]})
    assert out.loss.item() == pytest.approx(lam[0] * 2 + lam[1] * 3)
    assert out.extras["dwa_ratio.b"] == pytest.approx(0.9)
    strategy.end_epoch({"a": 0.25, "b": 0.9})  # r = (0.25 / 0.5, 0.9 / 0.9)
    assert strategy(losses).weights == pytest.approx(dict(zip("ab", _dwa_lambdas([0.5, 1.0], 2.0))))


def test_dwa_step_period_and_temperature():
    strategy = create("dwa", ["a", "b"], T=10.0, period="step")
    weights = [strategy(_losses(a=a, b=b)).weights for a, b in [(4.0, 1.0), (2.0, 1.0), (1.0, 1.0), (1.0, 1.0)]]
    assert weights[0] == weights[1] == {"a": 1.0, "b": 1.0}
    assert weights[2] == pytest.approx(dict(zip("ab", _dwa_lambdas([0.5, 1.0], 10.0))))
    assert weights[3] == pytest.approx(dict(zip("ab", _dwa_lambdas([0.5, 1.0], 10.0))))  # r = 1/2, 1/1


def test_dwa_window_of_steps_uses_window_means():
    strategy = create("dwa", ["a", "b"], period=2)
    for a in (3.0, 1.0, 1.0, 0.0):  # window means of a: 2, then 0.5; b constant
        strategy(_losses(a=a, b=1.0))
    out = strategy(_losses(a=1.0, b=1.0))
    assert out.weights == pytest.approx(dict(zip("ab", _dwa_lambdas([0.25, 1.0], 2.0))))


def test_dwa_epoch_uses_its_own_means_for_tasks_the_loop_did_not_report():
    strategy = create("dwa", ["a", "b"])
    for epoch_losses in ([(2.0, 1.0), (4.0, 1.0)], [(1.0, 1.0), (2.0, 1.0)]):  # a: means 3 then 1.5
        for a, b in epoch_losses:
            strategy(_losses(a=a, b=b))
        strategy.end_epoch({"b": 1.0})
    assert strategy(_losses(a=1.0, b=1.0)).weights == pytest.approx(dict(zip("ab", _dwa_lambdas([0.5, 1.0], 2.0))))


def test_dwa_task_without_two_periods_has_ratio_one():
    strategy = create("dwa", ["a", "b"], period="step")
    strategy(_losses(a=2.0))
    strategy(_losses(a=1.0))
    out = strategy(_losses(a=1.0, b=5.0))
    assert out.extras["dwa_ratio.b"] == 1.0
    assert out.weights == pytest.approx(dict(zip("ab", _dwa_lambdas([0.5, 1.0], 2.0))))


def test_dwa_zero_losses_give_finite_ratios():
    strategy = create("dwa", ["a", "b"], period="step")
    for a in (0.0, 0.0, 1.0):
        out = strategy(_losses(a=a, b=1.0))
    assert out.extras["dwa_ratio.a"] == 1.0  # 0 / 0 is read as "no change"


# ------------------------------------------------------------------ druw
def test_druw_product_variant_total_and_gradient_by_hand():
    """The product variant (emomtl's druw before issue #16, not in the paper), with Kendall's factor."""
    strategy = create("druw_product", ["a", "b"], T=10.0, phi=1.0, period="step", **KENDALL)
    strategy(_losses(a=1.0, b=1.0))
    strategy(_losses(a=0.5, b=1.0))  # r = (0.5, 1.0) from now on
    _set(strategy.log_vars, [2.0, -4.0])
    lam = _dwa_lambdas([0.5, 1.0], 10.0)
    out = strategy(_losses(a=2.0, b=1.0))
    weighted = lam[0] * 0.5 * math.exp(-2) * 2.0 + lam[1] * 0.5 * math.exp(4) * 1.0
    regulariser = math.log1p(math.exp(2)) + math.log1p(math.exp(-4))
    assert out.loss.item() == pytest.approx(weighted + regulariser + 2.0)  # restraint |1 - (1 + 2)|
    assert out.weights == pytest.approx({"a": lam[0] * 0.5 * math.exp(-2), "b": lam[1] * 0.5 * math.exp(4)})
    assert out.extras["dwa_lambda.a"] == pytest.approx(lam[0])
    out.loss.backward()

    def sigmoid(x):
        return 1 / (1 + math.exp(-x))

    expected = [
        -lam[0] * 0.5 * math.exp(-2) * 2.0 + sigmoid(2) + 0.5,
        -lam[1] * 0.5 * math.exp(4) * 1.0 + sigmoid(-4) - 0.5,
    ]
    assert strategy.log_vars.grad.tolist() == pytest.approx(expected)


def test_druw_defaults_follow_the_paper():
    strategy = create("druw", ["a", "b"])
    assert strategy.descent.temperature == 10.0 and strategy.descent.window == 0 and strategy.phi == 1.0


# ------------------------------------------------------------------ famo
def test_famo_total_weights_and_logit_update_by_hand():
    strategy = create("famo", ["a", "b"], w_lr=0.025, gamma=0.0)
    losses = _losses(a=1.0, b=4.0)
    out = strategy(losses)
    # z = (1/2, 1/2); c = 0.5/1 + 0.5/4 = 0.625; L = (0.5 ln 1 + 0.5 ln 4) / c
    assert out.loss.item() == pytest.approx(0.5 * math.log(4.0) / 0.625, rel=1e-6)
    assert out.weights == pytest.approx({"a": 0.8, "b": 0.2}, rel=1e-6)
    out.loss.backward()
    assert [float(losses[t].grad) for t in "ab"] == pytest.approx([0.8, 0.2], rel=1e-6)

    strategy.after_step({"a": 0.5, "b": 4.0})
    # delta = (ln 2, 0); d(z.delta)/dxi = z (delta - z.delta) = (ln2/4, -ln2/4); first Adam step ~ lr * sign
    assert strategy.logits.tolist() == pytest.approx([-0.025, 0.025], abs=1e-6)
    out = strategy(_losses(a=1.0, b=1.0))
    z_a = 1 / (1 + math.exp(0.05))
    assert out.weights == pytest.approx({"a": z_a, "b": 1 - z_a}, rel=1e-6)


def test_famo_without_after_step_uses_the_next_losses():
    with_hook, without = create("famo", ["a", "b"]), create("famo", ["a", "b"])
    with_hook(_losses(a=1.0, b=4.0))
    with_hook.after_step({"a": 0.5, "b": 4.0})
    with_hook(_losses(a=0.5, b=4.0))
    without(_losses(a=1.0, b=4.0))
    without(_losses(a=0.5, b=4.0))
    assert torch.equal(with_hook.logits, without.logits)
    assert float(without.logits[0]) < 0 < float(without.logits[1])


def test_static_accepts_one_number_for_every_task():
    out = create("static", ["a", "b"], weights=1.0)(_losses(a=2.0, b=3.0))  # gamma = theta = 1
    assert out.loss.item() == 5.0 and out.weights == {"a": 1.0, "b": 1.0}
