"""Each activation's backward against jax.vjp of its forward, and the kink conventions."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tolerances import ELEMENT_RTOL, FLUSH_ATOL

import jaxdnn
from jaxdnn import ACTIVATIONS, NameLookupError, get_activation, leaky_relu_with
from jaxdnn.testing import activation_inputs


def vjp_of_forward(activation, Z, dA):
    _, pullback = jax.vjp(lambda z: activation.forward(z)[0], Z)
    return pullback(dA)[0]


@partial(jax.jit, static_argnames="activation")
def _forward_backward_vjp(activation, Z, dA):
    A, cache = activation.forward(Z)
    return A, activation.backward(dA, cache), vjp_of_forward(activation, Z, dA)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@given(data=st.data())
def test_backward_equals_vjp(name, dtype, data):
    Z, dA = data.draw(activation_inputs(dtype))
    assert ACTIVATIONS[name].forward(Z)[1] is Z  # cache = Z
    A, dZ, expected = _forward_backward_vjp(ACTIVATIONS[name], Z, dA)
    assert A.shape == dZ.shape == Z.shape and A.dtype == dZ.dtype == Z.dtype
    # g'(Z) is bounded by 1 but computed with an absolute (not relative) rounding error where
    # it is small (tanh, sigmoid near saturation), so the error is measured against |dA| too;
    # a subnormal product may be flushed to zero by one side only (FLUSH_ATOL).
    dtype = np.dtype(dtype)
    bound = ELEMENT_RTOL[dtype] * (np.abs(expected) + np.abs(dA)) + FLUSH_ATOL[dtype]
    assert (np.abs(np.asarray(dZ) - np.asarray(expected)) <= bound).all(), (dZ, expected)


@pytest.mark.parametrize("name, at_zero", [("relu", 0.0), ("leaky_relu", jaxdnn.LEAKY_RELU_SLOPE),
                                           ("tanh", 1.0), ("sigmoid", 0.25)])
def test_derivative_at_zero_is_the_documented_convention(name, at_zero):
    activation = ACTIVATIONS[name]
    Z = jnp.zeros((1, 3))
    np.testing.assert_allclose(activation.backward(jnp.ones((1, 3)), Z), at_zero)
    grad = jax.grad(lambda z: activation.forward(z)[0].sum())(Z)
    np.testing.assert_allclose(grad, at_zero)


def test_relu_mask_matches_course_z_le_zero():
    Z = jnp.array([[-1.0, 0.0, -0.0, 2.0]])
    np.testing.assert_array_equal(jaxdnn.relu_backward(jnp.full((1, 4), 3.0), Z), [[0, 0, 0, 3]])
    np.testing.assert_array_equal(jaxdnn.relu(Z)[0], [[0, 0, 0, 2]])


@given(data=st.data())
def test_leaky_relu_with_slope(data):
    Z, dA = data.draw(activation_inputs("float64"))
    activation = leaky_relu_with(0.2)
    assert leaky_relu_with(0.2) is activation  # one object per slope: one jit cache entry
    A, dZ, expected = _forward_backward_vjp(activation, Z, dA)
    Z = np.asarray(Z)
    # exact, except where 0.2 * Z is subnormal: XLA on CPU flushes those to zero, numpy does not
    np.testing.assert_allclose(A, np.where(Z > 0, Z, 0.2 * Z), rtol=0,
                               atol=FLUSH_ATOL[np.dtype("float64")])
    np.testing.assert_array_equal(dZ, expected)


def test_unknown_activation_names_the_valid_ones():
    with pytest.raises(NameLookupError, match="unknown activation 'softmax'.*leaky_relu, relu"):
        get_activation("softmax")
    with pytest.raises(KeyError):
        get_activation(["relu"])


def test_sigmoid_is_finite_when_saturated():
    Z = jnp.array([[-1e4, -40.0, 40.0, 1e4]], jnp.float32)
    A, _ = jaxdnn.sigmoid(Z)
    assert np.isfinite(np.asarray(A)).all()
    assert np.isfinite(np.asarray(jaxdnn.sigmoid_backward(jnp.ones_like(Z), Z))).all()
