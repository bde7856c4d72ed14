"""The suite bites: plausible bugs injected into the backward make the property checks fail.

Each fault is applied, then the same property the chain tests assert (every gradient within
CHAIN_RTOL of jax.grad) is run under hypothesis, which must find a network that breaks it.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import Phase, given, settings
from tolerances import CHAIN_RTOL

import jaxdnn
import jaxdnn.core.layers
import jaxdnn.core.network
import jaxdnn.core.outputs
from jaxdnn import Activation, autodiff_errors, relu, sigmoid, transpose_errors
from jaxdnn.core import kernels
from jaxdnn.testing import HIDDEN, problems
from jaxdnn.verify.gradcheck import GRADIENT_FLOOR


def _linear_backward_without_1_over_m(dZ, cache):
    A_prev, W, _ = cache
    return W.T @ dZ, dZ @ A_prev.T, jnp.sum(dZ, axis=1, keepdims=True)


def _linear_backward_transposed_dW(dZ, cache):
    A_prev, W, _ = cache
    m = A_prev.shape[1]
    return W.T @ dZ, (A_prev @ dZ.T) / m, jnp.sum(dZ, axis=1, keepdims=True) / m


def _linear_backward_db_wrong_axis(dZ, cache):
    A_prev, W, _ = cache
    m = A_prev.shape[1]
    return W.T @ dZ, dZ @ A_prev.T / m, jnp.sum(dZ, axis=0, keepdims=True) / m


def _linear_backward_dW_negated(dZ, cache):  # gradient ascent on W: same size, wrong sign
    A_prev, W, _ = cache
    m = A_prev.shape[1]
    return W.T @ dZ, -(dZ @ A_prev.T) / m, jnp.sum(dZ, axis=1, keepdims=True) / m


def _relu_backward_mask_lt_zero(dA, Z):  # keeps the gradient at Z == 0: wrong at the kink
    return jnp.where(Z < 0, 0, dA)


def _relu_backward_flipped(dA, Z):
    return jnp.where(Z > 0, 0, dA)


def _sigmoid_backward_s_only(dA, Z):
    return dA * jax.nn.sigmoid(Z)


def _tanh_backward_one_minus_t(dA, Z):
    return dA * (1 - jnp.tanh(Z))


def _leaky_relu_backward_mask_ge_zero(dA, Z):  # slope 1 at Z == 0, unlike the forward
    return jnp.where(Z >= 0, dA, jaxdnn.LEAKY_RELU_SLOPE * dA)


def _softmax_backward_diagonal_only(dA, Z):  # forgets the Jacobian's off-diagonal terms
    A = jax.nn.softmax(Z, axis=0)
    return dA * A * (1 - A)


def _softmax_backward_unnormalised(dA, Z):  # sum over classes dropped: dZ = A * dA
    return dA * jax.nn.softmax(Z, axis=0)


LINEAR_FAULTS = {
    "1/m dropped": _linear_backward_without_1_over_m,
    "dW transposed": _linear_backward_transposed_dW,
    "db over examples": _linear_backward_db_wrong_axis,
    "dW negated": _linear_backward_dW_negated,
}
ACTIVATION_FAULTS = {
    "relu mask Z < 0": ("relu", Activation(relu, _relu_backward_mask_lt_zero)),
    "relu mask flipped": ("relu", Activation(relu, _relu_backward_flipped)),
    "sigmoid' = s": ("sigmoid", Activation(sigmoid, _sigmoid_backward_s_only)),
    "tanh' = 1 - t": ("tanh", Activation(jaxdnn.tanh, _tanh_backward_one_minus_t)),
    "leaky mask Z >= 0": ("leaky_relu", Activation(jaxdnn.leaky_relu,
                                                   _leaky_relu_backward_mask_ge_zero)),
}

def _l2_gradients_on_biases_too(grads, caches, lambd, m):
    return [(dW + lambd / m * W, db + lambd / m * b)
            for (dW, db), ((_, W, b), *_) in zip(grads, caches, strict=True)]


def _l2_gradients_without_1_over_m(grads, caches, lambd, m):
    return [(dW + lambd * W, db) for (dW, db), ((_, W, _), *_) in zip(grads, caches, strict=True)]


def _dropout_backward_fresh_mask(dA, cache, activation):  # draws its own mask
    linear_cache, Z, *mask = cache
    if mask:
        dA = dA * jax.random.bernoulli(jax.random.PRNGKey(7), 0.5, Z.shape).astype(dA.dtype) / 0.5
    return kernels.linear_backward(activation.backward(dA, Z), linear_cache)


def _dropout_backward_unscaled(dA, cache, activation):  # forgets / keep_prob
    linear_cache, Z, *mask = cache
    if mask:
        dA = dA * (mask[0] > 0).astype(dA.dtype)
    return kernels.linear_backward(activation.backward(dA, Z), linear_cache)


DROPOUT_FAULTS = {"fresh mask in the backward": _dropout_backward_fresh_mask,
                  "backward without / keep_prob": _dropout_backward_unscaled}

L2_FAULTS = {"lambd/m on biases": _l2_gradients_on_biases_too,
             "lambd without 1/m": _l2_gradients_without_1_over_m}

OUTPUT_FAULTS = {
    "softmax Jacobian diagonal only": _softmax_backward_diagonal_only,
    "softmax Jacobian without the sum": _softmax_backward_unnormalised,
}


def chain_property(backward_check, max_examples=200, outputs=("sigmoid",), bias=("zero", "random"),
                   hidden=HIDDEN):
    """The chain property, with ``backward_check(case) -> errors`` supplying the gradients.

    Searched without shrinking (each example compiles): the first failure found is enough.
    """

    @settings(max_examples=max_examples, phases=[Phase.generate], database=None)
    @given(case=problems("float64", max_depth=4, max_width=6, max_examples=8, outputs=outputs,
                         bias=bias, hidden=hidden))
    def check(case):
        errors = backward_check(case)
        bad = {k: e for k, e in errors.items() if not e <= CHAIN_RTOL[np.dtype("float64")]}
        assert not bad, f"gradients differ from jax.grad: {bad}"

    return check


FLOOR = GRADIENT_FLOOR[np.dtype("float64")]
WITNESSES = {"autodiff": partial(autodiff_errors, floor=FLOOR),
             "transpose": partial(transpose_errors, floor=FLOOR)}
"""Both witnesses must catch every fault: reverse mode (jax.grad) and forward mode (jax.jvp).
A leaf that is truly 0 (zero inputs, balanced labels) is rounding noise on both sides, so leaves
are judged against GRADIENT_FLOOR; the faults' errors are of order 1 at any scale."""


@pytest.mark.parametrize("witness", sorted(WITNESSES))
@pytest.mark.parametrize("stable", [False, True], ids=["literal", "stable"])
@pytest.mark.parametrize("fault", sorted(LINEAR_FAULTS))
def test_linear_fault_is_caught(fault, stable, witness, monkeypatch):
    # the kernel every backward calls: layers' own, and model's import of it (the fused step)
    monkeypatch.setattr(kernels, "linear_backward", LINEAR_FAULTS[fault])
    check = chain_property(lambda case: WITNESSES[witness](
        case.X, case.Y, case.parameters, case.hidden_activation, stable=stable))
    with pytest.raises(AssertionError, match="differ from jax.grad"):
        check()


@pytest.mark.parametrize("witness", sorted(WITNESSES))
@pytest.mark.parametrize("fault", sorted(ACTIVATION_FAULTS))
def test_activation_fault_is_caught(fault, witness, monkeypatch):
    # Only the backward is broken: the references differentiate the (correct) forward.
    name, broken = ACTIVATION_FAULTS[fault]
    monkeypatch.setitem(jaxdnn.core.activations.ACTIVATIONS, name, broken)
    check = chain_property(lambda case: WITNESSES[witness](  # networks of that activation
        case.X, case.Y, case.parameters, case.hidden_activation), hidden=(name,))
    with pytest.raises(AssertionError, match="differ from jax.grad"):
        check()


@pytest.mark.parametrize("witness", sorted(WITNESSES))
@pytest.mark.parametrize("fault", sorted(OUTPUT_FAULTS))
def test_output_fault_is_caught(fault, witness, monkeypatch):
    # The literal chain runs the output's backward; the references differentiate its forward.
    broken = jaxdnn.core.outputs.OUTPUTS["softmax"]._replace(backward=OUTPUT_FAULTS[fault])
    monkeypatch.setitem(jaxdnn.core.outputs.OUTPUTS, "softmax", broken)
    check = chain_property(lambda case: WITNESSES[witness](
        case.X, case.Y, case.parameters, case.hidden_activation, output="softmax"),
        outputs=("softmax",))
    with pytest.raises(AssertionError, match="differ from jax.grad"):
        check()


@pytest.mark.parametrize("fault", sorted(L2_FAULTS))
def test_l2_fault_is_caught(fault, monkeypatch):
    monkeypatch.setattr(kernels, "l2_gradients", L2_FAULTS[fault])
    check = chain_property(lambda case: WITNESSES["autodiff"](
        case.X, case.Y, case.parameters, case.hidden_activation, lambd=0.7), bias=("random",))
    with pytest.raises(AssertionError, match="differ from jax.grad"):
        check()


@pytest.mark.parametrize("fault", sorted(DROPOUT_FAULTS))
def test_dropout_fault_is_caught(fault, monkeypatch):
    monkeypatch.setattr(kernels, "linear_activation_backward", DROPOUT_FAULTS[fault])

    def errors(case):
        L = len(case.parameters) // 2
        if L < 2:  # no hidden layer, nothing to drop: the property holds trivially
            return {"none": 0.0}
        return WITNESSES["autodiff"](case.X, case.Y, case.parameters, case.hidden_activation,
                                     keep_prob=0.6, key=jax.random.PRNGKey(L))

    with pytest.raises(AssertionError, match="differ from jax.grad"):
        chain_property(errors)()


@pytest.mark.parametrize("witness", sorted(WITNESSES))
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_unbroken_chain_passes_the_same_search(output, witness):
    """Control: the same search over the real backward finds nothing."""
    chain_property(lambda case: WITNESSES[witness](
        case.X, case.Y, case.parameters, case.hidden_activation, output=output),
        max_examples=30, outputs=(output,))()


def _relative_error_of_norms(a, b):  # compares sizes only: blind to a transposed or swapped dW
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else abs(np.linalg.norm(a) - np.linalg.norm(b)) / scale


def test_a_witness_that_stops_witnessing_is_caught(monkeypatch):
    """The verification tools are guarded too: relative_error replaced by a plausible wrong
    formula (sizes only) makes the fault search above stop finding a negated dW..."""
    monkeypatch.setattr(jaxdnn.verify.gradcheck, "relative_error", _relative_error_of_norms)
    monkeypatch.setattr(kernels, "linear_backward", _linear_backward_dW_negated)
    # the raw witness (judged by relative_error alone); random biases keep leaves off 0
    check = chain_property(lambda case: autodiff_errors(
        case.X, case.Y, case.parameters, case.hidden_activation), max_examples=30,
        bias=("random",))
    try:
        check()
    except AssertionError:
        pytest.fail("the weakened witness still caught the fault: this guard tests nothing")
    # ... so the exact test of the formula must fail on it, and it does: that guards the suite
    with pytest.raises(AssertionError):
        test_relative_error_is_the_documented_formula()


def test_relative_error_is_the_documented_formula():
    rng = np.random.RandomState(0)
    for shape in [(3, 4), (1, 1), (5, 1)]:
        a, b = rng.randn(*shape), rng.randn(*shape)
        expected = np.sqrt(np.sum((a - b) ** 2)) / max(np.sqrt(np.sum(a * a)),
                                                       np.sqrt(np.sum(b * b)))
        assert jaxdnn.verify.gradcheck.relative_error(a, b) == pytest.approx(expected, rel=1e-12)
        assert jaxdnn.verify.gradcheck.relative_error(a, -a) == pytest.approx(2.0)
    assert jaxdnn.verify.gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0
