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


# --- a user's pair: tried where it enters, on several shapes and dtypes, under jit ----------

def _swish(Z):
    return Z * jax.nn.sigmoid(Z), Z


def _swish_backward(dA, Z):
    s = jax.nn.sigmoid(Z)
    return dA * s * (1 + Z * (1 - s))


def _raises_on_its_second_call():
    calls = []

    def forward(Z):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the second call fails")
        return _swish(Z)
    return forward


def _right_shape_only_for_2_by_3(Z):
    return jnp.zeros((2, 3), Z.dtype) + Z.sum(), Z


BROKEN = {  # forward, backward, error, what the one line says
    "calls numpy on its input": (
        lambda: lambda Z: (np.tanh(Z), Z), _swish_backward, jaxdnn.OptionError,
        r"its forward raised TracerArrayConversionError: The numpy.ndarray conversion method "
        r"__array__\(\) was called on traced array with shape float32\[2,3\] \(on Z of shape "
        r"\(2, 3\) float32 under jax.jit\)"),
    "raises on its second call": (
        _raises_on_its_second_call, _swish_backward, jaxdnn.OptionError,
        r"its forward raised RuntimeError: the second call fails"),
    "NaN for finite input": (
        lambda: lambda Z: (jnp.log(Z), Z), _swish_backward, jaxdnn.OptionError,
        r"forward's A holds nan at index \(0, 0\) for finite Z \(Z\[0, 0\] = -2\)"),
    "the right shape only for the 2 x 3 probe": (
        lambda: _right_shape_only_for_2_by_3, _swish_backward, jaxdnn.ShapeError,
        r"forward's A must have Z's shape \(1, 1\); got \(2, 3\) \(on Z of shape \(1, 1\)"),
    "a float64 constant in a float32 forward": (
        lambda: lambda Z: (Z * np.float64(0.5), Z), _swish_backward, jaxdnn.OptionError,
        r"forward's A must have Z's dtype float32; got float64"),
    "a backward that is not finite": (
        lambda: _swish, lambda: lambda dA, Z: dA / (Z - Z), jaxdnn.OptionError,
        r"backward's dZ holds (-?inf|nan) at index"),
}


STANDARD_PROMOTION = jax.numpy_dtype_promotion("standard")
"""As a user's process runs: the suite's strict promotion would stop a pair that mixes dtypes
before the contract check sees the dtype it returns."""


@pytest.mark.parametrize("case", BROKEN)
def test_custom_activation_refuses_a_pair_that_breaks_the_contract(case):
    forward, backward, error, says = BROKEN[case]
    backward = backward() if backward is not _swish_backward else backward
    with pytest.raises(error, match=says) as info, STANDARD_PROMOTION:
        jaxdnn.custom_activation("mine", forward(), backward)
    message = str(info.value)
    assert message.startswith("activation 'mine'") and "\n" not in message, message


@pytest.mark.parametrize("case", BROKEN)
def test_an_activation_built_by_hand_is_checked_before_it_is_used(case):
    """Not through custom_activation: refused by name when training meets it, not as an XLA or
    tracer error from deep inside the loop."""
    forward, backward, error, says = BROKEN[case]
    backward = backward() if backward is not _swish_backward else backward
    pair = jaxdnn.Activation(forward(), backward)
    X, Y = np.ones((2, 4)), np.ones((1, 4))
    params = jaxdnn.initialize_parameters_deep([2, 3, 1], numpy_seed=1, dtype="float32")
    with pytest.raises(error, match=says) as info, STANDARD_PROMOTION:
        jaxdnn.fit(X.astype(np.float32), Y, params, hidden_activation=pair, num_iterations=2)
    assert str(info.value).startswith("activation Activation(tests.test_activations.") or \
        str(info.value).startswith("activation Activation(test_activations.")


def test_a_pair_is_tried_once_and_works_inside_a_trace():
    calls = []

    def forward(Z):
        calls.append(Z.shape)
        return _swish(Z)

    pair = jaxdnn.Activation(forward, _swish_backward)
    params = jaxdnn.initialize_parameters_deep([2, 3, 1], numpy_seed=1)
    X = np.linspace(-1, 1, 8).reshape(2, 4)
    AL = jax.jit(lambda X: jaxdnn.L_model_forward(X, params, pair)[0])(X)  # first seen here
    probes = [(2, 3)] + [(2, 3), (1, 1), (5, 7)] * 2  # eagerly, then each dtype under jit
    assert calls == probes + [(3, 4)]  # then the network's own trace
    assert get_activation(pair) is pair and len(calls) == len(probes) + 1  # tried once
    np.testing.assert_array_equal(AL, jaxdnn.L_model_forward(X, params, pair)[0])


def test_an_activation_built_by_hand_cannot_take_a_built_in_name():
    with pytest.raises(jaxdnn.OptionError, match="activation 'relu': an activation's name must "
                                                 "be None or an identifier that is not a "
                                                 "built-in one"):
        get_activation(jaxdnn.Activation(_swish, _swish_backward, "relu"))
    with pytest.raises(jaxdnn.InputTypeError, match="forward and backward must be functions"):
        get_activation(jaxdnn.Activation(3, _swish_backward))
    assert get_activation(ACTIVATIONS["relu"]) is ACTIVATIONS["relu"]
