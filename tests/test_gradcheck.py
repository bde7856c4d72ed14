"""Finite differences, the third witness: hand-written and jax.grad both pass the course's check."""

from functools import partial

import jax
import numpy as np
import pytest
from hypothesis import assume, given
from tolerances import finite_difference_noise

import jaxdnn
from jaxdnn import (
    GRADIENT_CHECK_THRESHOLD,
    L_model_backward,
    L_model_forward,
    OptionError,
    autodiff_gradients,
    compute_cost,
    finite_difference_gradients,
    gradient_check,
)
from jaxdnn.testing import problems

KINKED = ("relu", "leaky_relu")


@partial(jax.jit, static_argnames="hidden_activation")
def _forward_and_gradients(X, Y, parameters, hidden_activation):
    AL, caches = L_model_forward(X, parameters, hidden_activation)
    hand = L_model_backward(AL, Y, caches, hidden_activation)
    reference = autodiff_gradients(X, Y, parameters, hidden_activation)
    return [Z for _, Z in caches], hand, reference


@given(case=problems("float64", max_depth=4, max_width=8, max_examples=16, bias=("random",)))
def test_three_witnesses_agree(case):
    Zs, hand, reference = _forward_and_gradients(case.X, case.Y, case.parameters,
                                                 case.hidden_activation)
    # Central differences with step 1e-7 straddle ReLU's kink only if some |Z| is that small.
    kinked = [Z for Z, act in zip(Zs, case.hidden_activation, strict=False) if act in KINKED]
    assume(all(np.abs(np.asarray(Z)).min() > 1e-3 for Z in kinked))
    approx = finite_difference_gradients(case.parameters, case.X, case.Y, case.hidden_activation)
    cost = compute_cost(L_model_forward(case.X, case.parameters, case.hidden_activation)[0],
                        case.Y)
    noise = finite_difference_noise(sum(np.size(p) for p in case.parameters.values()), cost)
    for grads in (hand, reference):
        difference = gradient_check(case.parameters, case.X, case.Y, case.hidden_activation,
                                    grads=grads, approx=approx)
        # The course's check, ||g - g_approx|| < 1e-7 (||g|| + ||g_approx||), with the floor
        # below which finite differences cannot tell (tolerances.finite_difference_noise).
        norms = _norm(grads, approx) + _norm(approx, approx)
        assert difference * norms < GRADIENT_CHECK_THRESHOLD * norms + noise, (difference, noise)


def _norm(grads, keys):
    return float(np.sqrt(sum(np.sum(np.asarray(grads[k], np.float64) ** 2) for k in keys)))


def test_gradient_check_reports_a_wrong_gradient():
    rng = np.random.RandomState(0)
    params = {"W1": rng.randn(3, 4), "b1": rng.randn(3, 1), "W2": rng.randn(1, 3),
              "b2": rng.randn(1, 1)}
    X, Y = rng.randn(4, 5), (rng.rand(1, 5) > 0.5).astype(float)
    AL, caches = L_model_forward(X, params, "tanh")
    grads = L_model_backward(AL, Y, caches, "tanh")
    assert gradient_check(params, X, Y, "tanh", grads=grads) < GRADIENT_CHECK_THRESHOLD
    assert gradient_check(params, X, Y, "tanh") < GRADIENT_CHECK_THRESHOLD  # default grads
    wrong = dict(grads, dW1=grads["dW1"] * 1.001)
    assert gradient_check(params, X, Y, "tanh", grads=wrong) > GRADIENT_CHECK_THRESHOLD


def test_gradient_check_refuses_float32():
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(OptionError, match="jax_enable_x64"):
            gradient_check({"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))}, np.ones((1, 2)),
                           np.ones((1, 2)))
    finally:
        jax.config.update("jax_enable_x64", True)


def test_gradient_check_is_the_course_formula():
    """Guards the witness itself: the course's ||g - g_approx|| / (||g|| + ||g_approx||) over all
    parameters at once, not per leaf, not a norm of per-leaf norms."""
    rng = np.random.RandomState(3)
    params = {"W1": rng.randn(3, 2), "b1": rng.randn(3, 1), "W2": rng.randn(1, 3),
              "b2": rng.randn(1, 1)}
    X, Y = rng.randn(2, 4), (rng.rand(1, 4) > 0.5).astype(float)
    grads = {f"d{k}": rng.randn(*v.shape) for k, v in params.items()}
    approx = {f"d{k}": rng.randn(*v.shape) * 10.0 ** rng.randint(-3, 3)
              for k, v in params.items()}
    g = np.concatenate([grads[k].ravel() for k in sorted(approx)])
    a = np.concatenate([approx[k].ravel() for k in sorted(approx)])
    expected = np.linalg.norm(g - a) / (np.linalg.norm(g) + np.linalg.norm(a))
    assert jaxdnn.gradient_check(params, X, Y, grads=grads, approx=approx) == \
        pytest.approx(expected, rel=1e-12)


def test_each_witness_class_on_a_wrong_custom_vjp_rule():
    """A forward through jax.custom_vjp with a wrong rule, and a backward that calls jax.vjp:
    reverse mode shares the bug and passes, forward mode refuses to differentiate it, and
    finite differences catch it. Why there is more than one witness."""
    @jax.custom_vjp
    def g(Z):
        return jax.numpy.tanh(Z)

    g.defvjp(lambda Z: (jax.numpy.tanh(Z), Z),
             lambda Z, dA: (dA * (1 - jax.numpy.tanh(Z)),))  # 1 - t, not 1 - t^2
    bad = jaxdnn.custom_activation("bad_tanh", lambda Z: (g(Z), Z),
                                   lambda dA, Z: jax.vjp(g, Z)[1](dA)[0])
    rng = np.random.RandomState(0)
    X, Y = rng.randn(3, 5), (rng.rand(1, 5) > 0.5).astype(float)
    params = jaxdnn.initialize_parameters_deep([3, 4, 1], jax.random.PRNGKey(0), scheme="he",
                                               dtype="float64")
    assert max(jaxdnn.autodiff_errors(X, Y, params, bad).values()) < 1e-12  # fooled
    with pytest.raises(jaxdnn.OptionError, match="custom_vjp"):
        jaxdnn.transpose_errors(X, Y, params, bad)
    assert jaxdnn.gradient_check(params, X, Y, bad) > 1e-2  # caught
