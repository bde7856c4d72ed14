"""One layer: the course's documented cases, and linear_backward against jax.vjp."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxdnn import (
    L_model_backward,
    L_model_forward,
    compute_cost,
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
    update_parameters,
)

COURSE_ATOL = 1e-8  # the course prints 8 decimals


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


def test_course_L_model_forward():
    np.random.seed(1)
    X, W1, b1, W2, b2 = randn(4, 2), randn(3, 4), randn(3, 1), randn(1, 3), randn(1, 1)
    AL, caches = L_model_forward(X, {"W1": W1, "b1": b1, "W2": W2, "b2": b2})
    np.testing.assert_allclose(AL, [[0.17007265, 0.2524272]], atol=COURSE_ATOL)
    assert len(caches) == 2


def test_course_compute_cost():
    cost = compute_cost(jnp.array([[0.8, 0.9, 0.4]]), jnp.array([[1, 1, 1]]))
    np.testing.assert_allclose(cost, 0.41493159961539694, atol=COURSE_ATOL)


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


def test_course_L_model_backward():
    np.random.seed(3)
    AL, Y = randn(1, 2), np.array([[1, 0]])
    A1, W1, b1, Z1 = randn(4, 2), randn(3, 4), randn(3, 1), randn(3, 2)
    A2, W2, b2, Z2 = randn(3, 2), randn(1, 3), randn(1, 1), randn(1, 2)
    grads = L_model_backward(AL, Y, [((A1, W1, b1), Z1), ((A2, W2, b2), Z2)])
    np.testing.assert_allclose(grads["dW1"], [[0.41010002, 0.07807203, 0.13798444, 0.10502167],
                                              [0.0, 0.0, 0.0, 0.0],
                                              [0.05283652, 0.01005865, 0.01777766, 0.0135308]],
                               atol=COURSE_ATOL)
    np.testing.assert_allclose(grads["db1"], [[-0.22007063], [0.0], [-0.02835349]],
                               atol=COURSE_ATOL)
    np.testing.assert_allclose(grads["dA1"], [[0.0, 0.52257901], [0.0, -0.3269206],
                                              [0.0, -0.32070404], [0.0, -0.74079187]],
                               atol=COURSE_ATOL)


def test_course_update_parameters():
    np.random.seed(2)
    params = {"W1": randn(3, 4), "b1": randn(3, 1), "W2": randn(1, 3), "b2": randn(1, 1)}
    np.random.seed(3)
    grads = {f"d{k}": randn(*v.shape) for k, v in params.items()}
    new = update_parameters(params, grads, 0.1)
    np.testing.assert_allclose(new["W1"], [[-0.59562069, -0.09991781, -2.14584584, 1.82662008],
                                           [-1.76569676, -0.80627147, 0.51115557, -1.18258802],
                                           [-1.0535704, -0.86128581, 0.68284052, 2.20374577]],
                               atol=COURSE_ATOL)
    np.testing.assert_allclose(new["b1"], [[-0.04659241], [-1.28888275], [0.53405496]],
                               atol=COURSE_ATOL)
    np.testing.assert_allclose(new["W2"], [[-0.55569196, 0.0354055, 1.32964895]],
                               atol=COURSE_ATOL)
    np.testing.assert_allclose(new["b2"], [[-0.84610769]], atol=COURSE_ATOL)


@jax.jit
def _backward_and_vjp(A, W, b, dZ):
    _, pullback = jax.vjp(lambda A, W, b: linear_forward(A, W, b)[0], A, W, b)
    return *linear_backward(dZ, (A, W, b)), *pullback(dZ)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-13), ("float32", 1e-5)])
@given(n=st.integers(1, 12), n_prev=st.integers(1, 12), m=st.integers(1, 40),
       seed=st.integers(0, 2**32 - 1))
def test_linear_backward_equals_vjp(dtype, rtol, n, n_prev, m, seed):
    """The course's dZ is m dJ/dZ: dA_prev is the VJP itself, dW and db the VJP over m."""
    rng = np.random.RandomState(seed)
    A, W, b, dZ = (jnp.asarray(rng.randn(*s), dtype) for s in
                   [(n_prev, m), (n, n_prev), (n, 1), (n, m)])
    dA_prev, dW, db, vA, vW, vb = _backward_and_vjp(A, W, b, dZ)
    assert (dA_prev.shape, dW.shape, db.shape) == (A.shape, W.shape, b.shape)
    for name, got, want in [("dA_prev", dA_prev, vA), ("dW", dW, vW / m), ("db", db, vb / m)]:
        got, want = np.asarray(got), np.asarray(want)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max(),
                                   err_msg=name)
