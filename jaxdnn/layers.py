"""One layer: the linear step and the linear -> activation step, each forward beside its backward.

Shapes, with m examples::

    A_prev (n_prev, m)   W (n, n_prev)   b (n, 1)   Z, A (n, m)

Caches, exactly as the course lays them out::

    linear cache             (A_prev, W, b)
    linear_activation cache  ((A_prev, W, b), Z)
"""

import jax.numpy as jnp

from ._checks import check_linear, check_matrix, values_checked
from .activations import get_activation
from .errors import InputTypeError, ShapeError


def linear_forward(A, W, b):
    """Z = W A + b.

    Args:
      A: (n_prev, m) activations of the previous layer (or X; integer or boolean inputs are
        converted to W's dtype).
      W: (n, n_prev) weights.
      b: (n, 1) bias, broadcast over the m columns.

    Returns:
      ``(Z, (A, W, b))`` with Z of shape (n, m).

    >>> import jax.numpy as jnp
    >>> Z, _ = linear_forward(jnp.ones((3, 2)), jnp.ones((1, 3)), jnp.zeros((1, 1)))
    >>> Z.tolist()
    [[3.0, 3.0]]
    """
    check_linear(A, W, b, a_name="A")
    if not jnp.issubdtype(A.dtype, jnp.floating):
        A = jnp.asarray(A, W.dtype)
    return W @ A + b, (A, W, b)


def linear_backward(dZ, cache):
    """Gradients of the linear step, averaged over the m examples.

    dW = dZ A_prev^T / m,  db = sum_i dZ[:, i] / m,  dA_prev = W^T dZ.

    Args:
      dZ: (n, m) gradient of the cost with respect to Z.
      cache: ``(A_prev, W, b)`` from :func:`linear_forward`.

    Returns:
      ``(dA_prev, dW, db)`` with the shapes of A_prev, W and b.
    """
    A_prev, W, b = _unpack(cache, 3, "linear cache (A_prev, W, b)")
    check_linear(A_prev, W, b)
    if check_matrix(dZ, "dZ") != (W.shape[0], A_prev.shape[1]):
        raise ShapeError(f"dZ has shape {tuple(dZ.shape)} but the cache gives Z the shape "
                         f"{(W.shape[0], A_prev.shape[1])}")
    m = A_prev.shape[1]
    dW = dZ @ A_prev.T / m
    db = jnp.sum(dZ, axis=1, keepdims=True) / m
    dA_prev = W.T @ dZ
    return dA_prev, dW, db


def linear_activation_forward(A_prev, W, b, activation):
    """A = g(W A_prev + b) for the activation named ``activation`` (static under jit).

    Returns:
      ``(A, ((A_prev, W, b), Z))``, A and Z of shape (n, m).
    """
    forward = get_activation(activation).forward
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, Z = forward(Z)  # checks Z, unless a caller did already: W A + b can overflow
    return A, (linear_cache, Z)


def linear_activation_backward(dA, cache, activation):
    """dZ = dA * g'(Z), then :func:`linear_backward`.

    Args:
      dA: (n, m) gradient of the cost with respect to this layer's output A.
      cache: ``((A_prev, W, b), Z)`` from :func:`linear_activation_forward`.
      activation: the name used in the forward step.

    Returns:
      ``(dA_prev, dW, db)``.
    """
    backward = get_activation(activation).backward
    linear_cache, Z = _unpack(cache, 2, "linear_activation cache ((A_prev, W, b), Z)")
    if check_matrix(dA, "dA", floating=True) != check_matrix(Z, "Z", floating=True):
        raise ShapeError(f"dA has shape {tuple(dA.shape)} but the cached Z has {tuple(Z.shape)}")
    check_linear(*_unpack(linear_cache, 3, "linear cache (A_prev, W, b)"))
    with values_checked():  # every input was read once above
        return linear_backward(backward(dA, Z), linear_cache)


def _unpack(cache, n, what):
    if not isinstance(cache, (tuple, list)) or len(cache) != n:
        raise InputTypeError(f"cache must be the {what} returned by the forward step; "
                             f"got {type(cache).__name__}")
    return cache
