"""Gradient-based strategies on hand-made gradients: PCGrad, MGDA, GradNorm, GCS."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from emomtl.errors import ConfigError
from emomtl.weighting import create as create_strategy
from emomtl.weighting.mgda import min_norm_by_descent, min_norm_weights


def create(name, task_names, **params):
    """The toy model passes shared parameters, not a representation: MGDA differentiates w.r.t. the parameters."""
    if name == "mgda":
        params.setdefault("gradients", "parameters")
    return create_strategy(name, task_names, **params)


def _linear_losses(gradients: dict[str, list[float]], theta: torch.Tensor, offset: float = 10.0):
    """L_k = offset + g_k . theta: a constant gradient g_k for every task (losses stay positive near 0)."""
    return {t: offset + torch.tensor(g) @ theta for t, g in gradients.items()}


def _theta(size: int = 2) -> torch.Tensor:
    return torch.zeros(size, requires_grad=True)


# ------------------------------------------------------------------ pcgrad
def test_pcgrad_removes_the_conflicting_component_of_two_opposing_gradients():
    theta = _theta()
    strategy = create("pcgrad", ["a", "b"])
    out = strategy(_linear_losses({"a": [1.0, 0.0], "b": [-1.0, 1.0]}, theta), shared_parameters=[theta])
    # g_a . g_b = -1 < 0: g_a' = g_a + (1/2) g_b = (0.5, 0.5); g_b' = g_b + 1 * g_a = (0, 1)
    assert out.shared_gradients[0].tolist() == pytest.approx([0.5, 1.5])
    assert out.extras["pcgrad_conflicts"] == 1.0
    # neither projected gradient conflicts with the other task's gradient any more
    g_a_projected, g_b = torch.tensor([0.5, 0.5]), torch.tensor([-1.0, 1.0])
    assert float(g_a_projected @ g_b) == pytest.approx(0.0)


def test_pcgrad_leaves_agreeing_gradients_alone_and_returns_the_plain_sum_loss():
    theta = _theta()
    losses = _linear_losses({"a": [1.0, 0.0], "b": [1.0, 1.0]}, theta)
    out = create("pcgrad", ["a", "b"])(losses, shared_parameters=[theta])
    assert out.shared_gradients[0].tolist() == pytest.approx([2.0, 1.0])
    assert out.extras["pcgrad_conflicts"] == 0.0
    assert out.loss.item() == pytest.approx(20.0) and out.weights == {"a": 1.0, "b": 1.0}


def test_pcgrad_mean_reduction_halves_both():
    theta = _theta()
    losses = _linear_losses({"a": [1.0, 0.0], "b": [-1.0, 1.0]}, theta)
    out = create("pcgrad", ["a", "b"], reduction="mean")(losses, shared_parameters=[theta])
    assert out.shared_gradients[0].tolist() == pytest.approx([0.25, 0.75])
    assert out.loss.item() == pytest.approx(10.0) and out.weights == {"a": 0.5, "b": 0.5}


def test_pcgrad_three_tasks_depend_on_the_order_and_the_seed_fixes_it():
    gradients = {"a": [1.0, 0.0], "b": [-0.8, 1.0], "c": [-0.5, -1.0]}

    def run(seed):
        theta = _theta()
        strategy = create("pcgrad", list(gradients), seed=seed)
        losses = _linear_losses(gradients, theta)
        return [tuple(strategy(losses, shared_parameters=[theta]).shared_gradients[0].tolist()) for _ in range(8)]

    assert run(0) == run(0)
    assert len(set(run(0))) > 1, "the random order must matter for three conflicting tasks"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=6, max_size=6))
def test_pcgrad_two_gradients_match_the_closed_form(values):
    g1, g2 = torch.tensor(values[:3], dtype=torch.float64), torch.tensor(values[3:], dtype=torch.float64)
    if float(g1 @ g1) < 1e-3 or float(g2 @ g2) < 1e-3:
        return
    theta = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    out = create("pcgrad", ["a", "b"])({"a": g1 @ theta + 100, "b": g2 @ theta + 100}, shared_parameters=[theta])
    dot = float(g1 @ g2)
    if dot < 0:  # each gradient loses its component along the other: g_i - (g_i.g_j / ||g_j||^2) g_j
        expected = g1 - dot / float(g2 @ g2) * g2 + g2 - dot / float(g1 @ g1) * g1
    else:
        expected = g1 + g2
    assert out.shared_gradients[0].tolist() == pytest.approx(expected.tolist(), abs=1e-9)


# ------------------------------------------------------------------ mgda
def test_mgda_min_norm_convex_combination_of_two_gradients():
    theta = _theta()
    losses = _linear_losses({"a": [1.0, 0.0], "b": [0.0, 2.0]}, theta)
    out = create("mgda", ["a", "b"])(losses, shared_parameters=[theta])
    # alpha = (g_b - g_a) . g_b / ||g_a - g_b||^2 = (-1, 2).(0, 2) / 5 = 4/5; min-norm point (0.8, 0.4)
    assert out.extras["mgda_alpha.a"] == pytest.approx(0.8) and out.extras["mgda_alpha.b"] == pytest.approx(0.2)
    assert out.extras["mgda_min_norm"] == pytest.approx((0.8**2 + 0.4**2) ** 0.5)
    assert out.weights == pytest.approx({"a": 1.6, "b": 0.4})  # K alpha
    out.loss.backward()
    assert theta.grad.tolist() == pytest.approx([1.6, 0.8])  # K (0.8, 0.4)
    assert out.shared_gradients is None


def test_mgda_dominated_gradient_takes_all_the_weight():
    theta = _theta()
    losses = _linear_losses({"a": [1.0, 0.0], "b": [2.0, 0.0]}, theta)
    out = create("mgda", ["a", "b"])(losses, shared_parameters=[theta])
    assert out.weights == pytest.approx({"a": 2.0, "b": 0.0})


def test_mgda_l2_normalisation():
    theta = _theta()
    losses = _linear_losses({"a": [1.0, 0.0], "b": [0.0, 2.0]}, theta)
    out = create("mgda", ["a", "b"], normalization="l2")(losses, shared_parameters=[theta])
    # unit gradients (1, 0), (0, 1): alpha = 1/2 each; weight K alpha / ||g||: 1 and 1/2
    assert out.weights == pytest.approx({"a": 1.0, "b": 0.5})


def test_mgda_on_the_shared_representation():
    z = torch.zeros(2, requires_grad=True)
    losses = {"a": 3.0 + z @ torch.tensor([1.0, 0.0]), "b": 3.0 + z @ torch.tensor([0.0, 2.0])}
    out = create_strategy("mgda", ["a", "b"])(losses, representation=z)  # the default: MGDA-UB
    assert out.weights == pytest.approx({"a": 1.6, "b": 0.4})


def _two_path_problem():
    """theta -> Z = W theta -> L_k: the gradients w.r.t. Z and w.r.t. theta give different min-norm weights."""
    theta = torch.tensor([1.0, 1.0], requires_grad=True)
    mixing = torch.tensor([[1.0, 0.0], [3.0, 1.0]])
    z = mixing @ theta
    losses = {"a": 10.0 + z @ torch.tensor([1.0, 0.0]), "b": 10.0 + z @ torch.tensor([0.0, 2.0])}
    return theta, z, losses


def test_mgda_representation_and_parameter_variants_take_different_paths(monkeypatch):
    from emomtl.weighting import mgda

    calls = []
    for function in ("representation_gradient_gram", "task_gradient_matrix"):
        original = getattr(mgda, function)
        monkeypatch.setattr(mgda, function, lambda *a, _f=original, _n=function: calls.append(_n) or _f(*a))
    theta, z, losses = _two_path_problem()
    by_representation = create_strategy("mgda", ["a", "b"])(losses, shared_parameters=[theta], representation=z)
    assert calls == ["representation_gradient_gram"]
    theta, z, losses = _two_path_problem()
    by_parameters = create_strategy("mgda", ["a", "b"], gradients="parameters")(
        losses, shared_parameters=[theta], representation=z
    )
    assert calls == ["representation_gradient_gram", "task_gradient_matrix"]
    # d/dZ: g_a = (1, 0), g_b = (0, 2) -> alpha = (0.8, 0.2); d/dtheta = W' g: (1, 0), (6, 2) -> alpha = (1, 0)
    alphas = [[out.extras[f"mgda_alpha.{t}"] for t in "ab"] for out in (by_representation, by_parameters)]
    assert alphas[0] == pytest.approx([0.8, 0.2]) and alphas[1] == pytest.approx([1.0, 0.0], abs=1e-9)
    for alpha in alphas:  # convex combinations
        assert min(alpha) >= 0 and sum(alpha) == pytest.approx(1.0)


def test_mgda_representation_variant_without_a_representation_names_the_setting():
    theta, _, losses = _two_path_problem()
    with pytest.raises(ConfigError, match="weighting.gradients"):
        create_strategy("mgda", ["a", "b"])(losses, shared_parameters=[theta])
    with pytest.raises(ConfigError, match="weighting.gradients"):
        create_strategy("mgda", ["a", "b"], gradients="shared")


def test_mgda_three_orthogonal_gradients():
    theta = _theta(3)
    losses = _linear_losses({"a": [1.0, 0, 0], "b": [0, 2.0, 0], "c": [0, 0, 3.0]}, theta)
    out = create("mgda", ["a", "b", "c"])(losses, shared_parameters=[theta])
    # orthogonal gradients: alpha_k proportional to 1 / ||g_k||^2 = 1, 1/4, 1/9
    total = 1 + 1 / 4 + 1 / 9
    alphas = [out.extras[f"mgda_alpha.{t}"] for t in "abc"]
    assert alphas == pytest.approx([1 / total, (1 / 4) / total, (1 / 9) / total], abs=1e-6)


def _grid_min_norm(gram: torch.Tensor, steps: int = 60) -> float:
    best = float("inf")
    for i, j in itertools.product(range(steps + 1), repeat=2):
        if i + j <= steps:
            a = torch.tensor([i, j, steps - i - j], dtype=torch.float64) / steps
            best = min(best, float(a @ gram @ a))
    return best


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-3, 3, allow_nan=False), min_size=12, max_size=12))
def test_mgda_solvers_are_never_worse_than_a_grid_over_the_simplex(values):
    g = torch.tensor(values, dtype=torch.float64).reshape(3, 4)
    gram = g @ g.T
    grid = _grid_min_norm(gram)
    scale = max(float(gram.abs().max()), 1e-12)
    exact = min_norm_weights(gram)
    descent = torch.from_numpy(min_norm_by_descent(gram.numpy() / scale, iterations=2000))  # used beyond 6 tasks
    for alpha in (exact, descent):
        assert float(alpha.sum()) == pytest.approx(1.0) and bool((alpha >= -1e-12).all())
        assert float(alpha @ gram @ alpha) <= grid + 1e-6


# ------------------------------------------------------------------ gradnorm
def test_gradnorm_weight_gradient_by_hand():
    theta = torch.ones(2, requires_grad=True)
    losses = {"a": 10.0 * theta[0], "b": 1.0 * theta[1]}  # ||g_a|| = 10, ||g_b|| = 1, L = (10, 1) = L(0)
    strategy = create("gradnorm", ["a", "b"], alpha=1.5)
    out = strategy(losses, shared_parameters=[theta])
    # r = 1 for both at t = 0: target = mean(G) = 5.5; dL_grad/dw_k = sign(G_k - 5.5) ||g_k|| = (+10, -1)
    assert strategy.task_weights.grad.tolist() == pytest.approx([10.0, -1.0])
    assert out.extras["gradnorm_target.a"] == pytest.approx(5.5)
    assert out.loss.item() == pytest.approx(11.0)  # weights 1 at the start
    out.loss.backward()
    assert strategy.task_weights.grad.tolist() == pytest.approx([10.0, -1.0])  # the loss uses w detached


def test_gradnorm_training_rates_shift_the_target():
    theta = torch.ones(2, requires_grad=True)
    strategy = create("gradnorm", ["a", "b"], alpha=1.0)
    strategy({"a": 4.0 * theta[0], "b": 4.0 * theta[1]}, shared_parameters=[theta])  # L(0) = (4, 4)
    strategy.task_weights.grad = None
    out = strategy({"a": 2.0 * theta[0], "b": 4.0 * theta[1]}, shared_parameters=[theta])
    # Ltilde = (1/2, 1), r = (2/3, 4/3); G = (2, 4), mean 3: targets (2, 4) -> sign 0 for both
    assert out.extras["gradnorm_target.a"] == pytest.approx(2.0)
    assert out.extras["gradnorm_target.b"] == pytest.approx(4.0)


def test_gradnorm_equalises_gradient_norms_on_a_frozen_toy():
    theta = torch.ones(2, requires_grad=True)  # not trained: per-task gradient norms stay 10 and 1
    strategy = create("gradnorm", ["a", "b"], alpha=0.0)
    optimiser = torch.optim.SGD(strategy.parameters(), lr=2e-4)
    for _ in range(600):
        optimiser.zero_grad()
        out = strategy({"a": 10.0 * theta[0], "b": 1.0 * theta[1]}, shared_parameters=[theta])
        optimiser.step()
    # equal weighted norms with w_a + w_b = 2: 10 w_a = w_b -> w = (2/11, 20/11)
    assert out.weights["a"] == pytest.approx(2 / 11, abs=0.01)
    assert out.weights["b"] == pytest.approx(20 / 11, abs=0.01)
    ratio = out.extras["gradnorm_grad_norm.a"] / out.extras["gradnorm_grad_norm.b"]
    assert ratio == pytest.approx(1.0, abs=0.06)


@pytest.mark.parametrize("name", ["pcgrad", "gradnorm", "mgda"])
def test_frozen_shared_parameters_are_skipped(name):
    theta, frozen = _theta(), torch.ones(3)  # frozen: requires_grad False
    losses = _linear_losses({"a": [1.0, 0.0], "b": [-1.0, 1.0]}, theta)
    out = create(name, ["a", "b"])(losses, shared_parameters=[frozen, theta])
    if out.shared_gradients is not None:
        assert out.shared_gradients[0] is None and out.shared_gradients[1].tolist() == pytest.approx([0.5, 1.5])
    assert all(w >= 0 for w in out.weights.values())


# ------------------------------------------------------------------ gcs
@pytest.mark.parametrize(
    "variant, b, weight_b, shared",
    [
        ("weighted", [1.0, 1.0], 2 ** -0.5, [1 + 2 ** -0.5, 2 ** -0.5]),  # cos = 1/sqrt 2: b enters at that weight
        ("weighted", [-1.0, 1.0], 0.0, [1.0, 0.0]),  # cos = -1/sqrt 2: b is shut out of the shared layers
        ("unweighted", [1.0, 1.0], 1.0, [2.0, 1.0]),  # Algorithm 1: any positive cosine lets b in whole
        ("unweighted", [-1.0, 1.0], 0.0, [1.0, 0.0]),
    ],
)
def test_gcs_gates_the_auxiliary_gradient_by_its_cosine_with_the_main_task(variant, b, weight_b, shared):
    theta = _theta()
    out = create("gcs", ["a", "b"], variant=variant)(_linear_losses({"a": [1.0, 0.0], "b": b}, theta),
                                                      shared_parameters=[theta])
    assert out.shared_gradients[0].tolist() == pytest.approx(shared)
    assert out.weights == pytest.approx({"a": 1.0, "b": weight_b})
    assert out.extras["gcs_cosine.b"] == pytest.approx(b[0] / 2 ** 0.5)
    assert out.loss.item() == pytest.approx(20.0)  # the heads get the plain sum


def test_gcs_main_task_is_a_setting_and_without_it_the_shared_layers_get_the_plain_sum():
    theta = _theta()
    strategy = create("gcs", ["a", "b"], main="b")
    out = strategy(_linear_losses({"a": [-1.0, 0.0], "b": [1.0, 0.0]}, theta), shared_parameters=[theta])
    assert out.weights == {"a": 0.0, "b": 1.0} and out.shared_gradients[0].tolist() == pytest.approx([1.0, 0.0])
    out = strategy(_linear_losses({"a": [-1.0, 2.0]}, theta), shared_parameters=[theta])
    assert out.weights == {"a": 1.0, "b": 0.0} and out.shared_gradients[0].tolist() == pytest.approx([-1.0, 2.0])


def test_gcs_validation_reports_the_last_training_weights_and_changes_nothing():
    theta = _theta()
    strategy = create("gcs", ["a", "b"])
    strategy(_linear_losses({"a": [1.0, 0.0], "b": [-1.0, 1.0]}, theta), shared_parameters=[theta])
    strategy.eval()
    with torch.no_grad():
        out = strategy(_linear_losses({"a": [1.0, 0.0], "b": [1.0, 1.0]}, theta))
    assert out.weights == {"a": 1.0, "b": 0.0} and out.shared_gradients is None
    assert out.loss.item() == pytest.approx(20.0)


@pytest.mark.parametrize("params", [{"main": "c"}, {"variant": "cosine"}])
def test_gcs_bad_settings_name_the_setting(params):
    with pytest.raises(ConfigError, match=f"weighting.{next(iter(params))}"):
        create("gcs", ["a", "b"], **params)
