"""Two independent witnesses for the hand-written backward pass.

* :func:`autodiff_errors` compares every ``dW{l}``, ``db{l}`` and ``dA{l}`` of
  :func:`~jaxdnn.L_model_backward` with ``jax.grad`` of the cost, leaf by leaf.
* :func:`gradient_check` is the course's finite-difference check: central differences on every
  parameter, summarised as ``||g - g_approx|| / (||g|| + ||g_approx||)``.

Both return numbers rather than asserting, so a test (or a user) decides what is close enough.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .errors import OptionError
from .layers import linear_activation_forward
from .model import (
    L_model_backward,
    L_model_forward,
    check_problem,
    compute_cost,
    compute_cost_from_logits,
    layer_activations,
)

GRADIENT_CHECK_THRESHOLD = 1e-7
"""The course's bound on :func:`gradient_check`'s difference for a correct backward pass."""


def relative_error(a, b) -> float:
    """``||a - b|| / max(||a||, ||b||)`` in float64; 0 when both are zero, inf on shape mismatch."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def autodiff_gradients(X, Y, parameters, hidden_activation="relu", *, stable=False):
    """``jax.grad`` of the cost under the course's gradient keys (the reference for the backward).

    The cost J is ``compute_cost(L_model_forward(X, parameters))``, or with ``stable=True``
    ``compute_cost_from_logits`` of the last layer's Z. ``dW{l}``, ``db{l}`` are dJ/dW[l], dJ/db[l].
    ``dA{l}`` follows the course's convention, the gradient of the *summed* loss m J with respect
    to A[l-1] (the course applies 1/m only in dW and db). To reach A[l-1] the forward adds a zero
    ``delta[l-1]`` to each layer's input and differentiates with respect to it; adding zero
    leaves every forward value unchanged.
    """
    L = check_problem(X, Y, parameters)
    activations = layer_activations(hidden_activation, L)

    def cost(params, deltas):
        A = X
        for l, activation in enumerate(activations, start=1):
            A, (_, Z) = linear_activation_forward(
                A + deltas[l - 1], params[f"W{l}"], params[f"b{l}"], activation
            )
        return compute_cost_from_logits(Z, Y) if stable else compute_cost(A, Y)

    m = X.shape[1]
    deltas = [jnp.zeros((parameters[f"W{l}"].shape[1], m), parameters[f"W{l}"].dtype)
              for l in range(1, L + 1)]
    d_params, d_inputs = jax.grad(cost, argnums=(0, 1))(parameters, deltas)
    grads = {f"d{key}": value for key, value in d_params.items()}
    grads.update({f"dA{l}": m * d for l, d in enumerate(d_inputs, start=1)})
    return grads


def autodiff_errors(X, Y, parameters, hidden_activation="relu", *, stable=False):
    """Relative error of each hand-written gradient against :func:`autodiff_gradients`.

    Args:
      X, Y, parameters, hidden_activation: the network and data.
      stable: compare the stable path (fused ``dZ[L] = AL - Y``, cost from logits).

    Returns:
      ``{"dW1": err, "db1": err, "dA1": err, ...}``: :func:`relative_error` per key of the
      reference, inf where the hand-written grads lack the key or give the wrong shape.
    """
    check_problem(X, Y, parameters)  # values too: inside the jit below they are not known

    def hand_and_reference(X, Y, parameters):
        AL, caches = L_model_forward(X, parameters, hidden_activation)
        return (L_model_backward(AL, Y, caches, hidden_activation, stable=stable),
                autodiff_gradients(X, Y, parameters, hidden_activation, stable=stable))

    # A fresh jit per call: one compilation instead of one per primitive, and never a stale
    # cached trace when a function the backward calls has been swapped out (fault injection).
    hand, reference = jax.jit(hand_and_reference)(X, Y, parameters)
    return {
        key: relative_error(hand[key], ref) if key in hand else float("inf")
        for key, ref in reference.items()
    }


def finite_difference_gradients(parameters, X, Y, hidden_activation="relu", *, epsilon=1e-7):
    """Central-difference estimates of dJ/dW[l] and dJ/db[l], in float64, keyed like ``grads``.

    ``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` for every parameter entry theta_i, with
    J = ``compute_cost(L_model_forward(...))``; all entries in one compiled, batched map.

    Raises:
      OptionError: if x64 is not enabled (float32 differences are too coarse to mean anything).
    """
    if not jax.config.jax_enable_x64:
        raise OptionError(
            "finite differences need float64: call jax.config.update('jax_enable_x64', True) first"
        )
    check_problem(X, Y, parameters)
    parameters = {k: jnp.asarray(v, jnp.float64) for k, v in parameters.items()}
    X, Y = jnp.asarray(X, jnp.float64), jnp.asarray(Y, jnp.float64)
    theta, unravel = ravel_pytree(parameters)

    @jax.jit
    def approximate(theta, X, Y):
        def cost(t):
            return compute_cost(L_model_forward(X, unravel(t), hidden_activation)[0], Y)

        def central_difference(i):
            step = epsilon * jax.nn.one_hot(i, theta.size, dtype=theta.dtype)
            return (cost(theta + step) - cost(theta - step)) / (2 * epsilon)

        return jax.lax.map(central_difference, jnp.arange(theta.size), batch_size=256)

    return {f"d{k}": v for k, v in unravel(approximate(theta, X, Y)).items()}


def gradient_check(parameters, X, Y, hidden_activation="relu", *, grads=None, epsilon=1e-7,
                   approx=None):
    """The course's finite-difference check of the backward pass, in float64.

    Args:
      parameters, X, Y, hidden_activation: the network and data (converted to float64).
      grads: the gradients to check; default ``L_model_backward`` (the literal chain).
      epsilon: the finite-difference step.
      approx: precomputed :func:`finite_difference_gradients`, to check several ``grads`` at once.

    Returns:
      ``||g - g_approx|| / (||g|| + ||g_approx||)`` over all parameters; below
      :data:`GRADIENT_CHECK_THRESHOLD` (1e-7) for a correct backward. Keep pre-activations away
      from ReLU's kink at 0: differences straddling it see neither side's slope.
    """
    check_problem(X, Y, parameters)
    if approx is None:
        approx = finite_difference_gradients(parameters, X, Y, hidden_activation, epsilon=epsilon)
    if grads is None:
        parameters = {k: jnp.asarray(v, jnp.float64) for k, v in parameters.items()}
        X, Y = jnp.asarray(X, jnp.float64), jnp.asarray(Y, jnp.float64)
        AL, caches = L_model_forward(X, parameters, hidden_activation)
        grads = L_model_backward(AL, Y, caches, hidden_activation)
    g = np.concatenate([np.ravel(np.asarray(grads[k], np.float64)) for k in sorted(approx)])
    g_approx = np.concatenate([np.ravel(np.asarray(approx[k])) for k in sorted(approx)])
    return float(np.linalg.norm(g - g_approx) / (np.linalg.norm(g) + np.linalg.norm(g_approx)))
