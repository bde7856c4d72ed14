"""One layer: the course's documented cases, and linear_backward against jax.vjp."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tolerances import COURSE_ATOL, LINEAR_RTOL

from jaxdnn import (
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
)


def randn(*shape):
    return np.random.randn(*shape)


def test_course_linear_forward():
    np.random.seed(1)
    A, W, b = randn(3, 2), randn(1, 3), randn(1, 1)
    Z, cache = linear_forward(A, W, b)
    np.testing.assert_allclose(Z, [[3.26295337, -1.23429987]], atol=COURSE_ATOL)
    assert all(c is x for c, x in zip(cache, (A, W, b), strict=True))


def test_course_linear_activation_forward():
    np.random.seed(2)
    A_prev, W, b = randn(3, 2), randn(1, 3), randn(1, 1)
    A, ((A_c, W_c, b_c), Z) = linear_activation_forward(A_prev, W, b, "sigmoid")
    np.testing.assert_allclose(A, [[0.96890023, 0.11013289]], atol=COURSE_ATOL)
    A, _ = linear_activation_forward(A_prev, W, b, "relu")
    np.testing.assert_allclose(A, [[3.43896131, 0.0]], atol=COURSE_ATOL)
    np.testing.assert_allclose(Z, W @ A_prev + b)


def test_course_linear_backward():
    np.random.seed(1)
    dZ, A, W, b = randn(1, 2), randn(3, 2), randn(1, 3), randn(1, 1)
    dA_prev, dW, db = linear_backward(dZ, (A, W, b))
    np.testing.assert_allclose(dA_prev, [[0.51822968, -0.19517421], [-0.40506361, 0.15255393],
                                         [2.37496825, -0.89445391]], atol=COURSE_ATOL)
    np.testing.assert_allclose(dW, [[-0.10076895, 1.40685096, 1.64992505]], atol=COURSE_ATOL)
    np.testing.assert_allclose(db, [[0.50629448]], atol=COURSE_ATOL)


def test_course_linear_activation_backward():
    np.random.seed(2)
    dA, A, W, b, Z = randn(1, 2), randn(3, 2), randn(1, 3), randn(1, 1), randn(1, 2)
    cache = ((A, W, b), Z)
    dA_prev, dW, db = linear_activation_backward(dA, cache, "sigmoid")
    np.testing.assert_allclose(dA_prev, [[0.11017994, 0.01105339], [0.09466817, 0.00949723],
                                         [-0.05743092, -0.00576154]], atol=COURSE_ATOL)
    np.testing.assert_allclose(dW, [[0.10266786, 0.09778551, -0.01968084]], atol=COURSE_ATOL)
    np.testing.assert_allclose(db, [[-0.05729622]], atol=COURSE_ATOL)
    dA_prev, dW, db = linear_activation_backward(dA, cache, "relu")
    np.testing.assert_allclose(dA_prev, [[0.44090989, 0.0], [0.37883606, 0.0],
                                         [-0.2298228, 0.0]], atol=COURSE_ATOL)
    np.testing.assert_allclose(dW, [[0.44513824, 0.37371418, -0.10478989]], atol=COURSE_ATOL)
    np.testing.assert_allclose(db, [[-0.20837892]], atol=COURSE_ATOL)


@jax.jit
def _backward_and_vjp(A, W, b, dZ):
    _, pullback = jax.vjp(lambda A, W, b: linear_forward(A, W, b)[0], A, W, b)
    return *linear_backward(dZ, (A, W, b)), *pullback(dZ)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(n=st.integers(1, 12), n_prev=st.integers(1, 12), m=st.integers(1, 40),
       seed=st.integers(0, 2**32 - 1))
def test_linear_backward_equals_vjp(dtype, n, n_prev, m, seed):
    """The course's dZ is m dJ/dZ: dA_prev is the VJP itself, dW and db the VJP over m."""
    rtol = LINEAR_RTOL[np.dtype(dtype)]
    rng = np.random.RandomState(seed)
    A, W, b, dZ = (jnp.asarray(rng.randn(*s), dtype) for s in
                   [(n_prev, m), (n, n_prev), (n, 1), (n, m)])
    dA_prev, dW, db, vA, vW, vb = _backward_and_vjp(A, W, b, dZ)
    assert (dA_prev.shape, dW.shape, db.shape) == (A.shape, W.shape, b.shape)
    for name, got, want in [("dA_prev", dA_prev, vA), ("dW", dW, vW / m), ("db", db, vb / m)]:
        got, want = np.asarray(got), np.asarray(want)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max(),
                                   err_msg=name)
