"""One layer: the linear step and the linear -> activation step, each forward beside its backward.

Shapes, with m examples::

    A_prev (n_prev, m)   W (n, n_prev)   b (n, 1)   Z, A (n, m)

Caches, exactly as the course lays them out::

    linear cache             (A_prev, W, b)
    linear_activation cache  ((A_prev, W, b), Z)

and, for a hidden layer under inverted dropout (:func:`~jaxdnn.L_model_forward` with
``keep_prob``), ``((A_prev, W, b), Z, M)``: M = D / keep_prob, the layer's 0/1 mask D already
scaled, so that the layer's output is ``g(Z) * M`` and the backward starts from ``dA * M``.

Each function checks its arguments' shapes and dtypes (static facts: free under jit), then calls
its kernel in :mod:`jaxdnn.core.kernels`, the math alone.
"""

from ..errors import InputTypeError
from . import checks as check
from . import kernels
from .activations import get_activation
from .layout import as_floating


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
    check.linear(A, W, b, a_name="A")
    return kernels.linear_forward(as_floating(A, W.dtype), W, b)


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
    check.linear(A_prev, W, b)
    Z_shape = (W.shape[0], A_prev.shape[1])
    check.shaped(dZ, "dZ", Z_shape, floating=False, but=f"the cache gives Z the shape {Z_shape}")
    return kernels.linear_backward(dZ, cache)


def linear_activation_forward(A_prev, W, b, activation):
    """A = g(W A_prev + b) for the activation named ``activation`` (static under jit).

    Returns:
      ``(A, ((A_prev, W, b), Z))``, A and Z of shape (n, m).
    """
    check.linear(A_prev, W, b)
    return kernels.linear_activation_forward(as_floating(A_prev, W.dtype), W, b,
                                             get_activation(activation))


def linear_activation_backward(dA, cache, activation):
    """dZ = dA * g'(Z), then :func:`linear_backward`.

    Args:
      dA: (n, m) gradient of the cost with respect to this layer's output A.
      cache: ``((A_prev, W, b), Z)`` from :func:`linear_activation_forward`.
      activation: the name used in the forward step.

    Returns:
      ``(dA_prev, dW, db)``.
    """
    activation = get_activation(activation)
    linear_cache, Z = _unpack(cache, 2, "linear_activation cache ((A_prev, W, b), Z)")
    A_prev, W, b = _unpack(linear_cache, 3, "linear cache (A_prev, W, b)")
    check.linear(A_prev, W, b)
    check.shaped(Z, "Z", (W.shape[0], A_prev.shape[1]), why=", the shape W and A_prev give")
    check.shaped(dA, "dA", Z.shape, but=f"the cached Z has {tuple(Z.shape)}")
    return kernels.linear_activation_backward(dA, cache, activation)


def _unpack(cache, n, what):
    if not isinstance(cache, (tuple, list)) or len(cache) != n:
        raise InputTypeError(f"cache must be the {what} returned by the forward step; "
                             f"got {type(cache).__name__}")
    return cache
