"""The L-layer network: forward, cost, backward and the gradient-descent update.

The network is ``[LINEAR -> g]`` for each hidden layer, then ``LINEAR -> SIGMOID``::

    X (n[0], m)  ->  A1 (n[1], m)  ->  ...  ->  AL (n[L], m)

``parameters`` is the course's dict ``{"W1": (n[1], n[0]), "b1": (n[1], 1), ..., "WL", "bL"}``.
``caches[l - 1]`` is layer l's ``((A_prev, W, b), Z)``.

Gradients use the course's keys and conventions. ``grads["dW{l}"]`` and ``grads["db{l}"]`` are
dJ/dW[l] and dJ/db[l] of the mean cost J. ``grads["dA{l}"]`` belongs to layer l's *input* A[l-1]
(the course's numbering is off by one: ``dA1`` is for X, ``dA{L}`` for A[L-1]), and, as in the
course, it is the gradient of the summed loss m J, i.e. m dJ/dA[l-1]: the 1/m is applied only
when forming dW and db.

Two backward paths are provided:

* the course's literal chain: ``dAL = -(Y/AL - (1-Y)/(1-AL))`` fed to ``sigmoid_backward``.
  Exact while AL stays inside (0, 1); once the sigmoid saturates (|Z| above about 17 in float32,
  37 in float64) it divides by zero and gives inf/NaN.
* the stable path (``stable=True``): the output step fused into ``dZ[L] = AL - Y``, with the cost
  computed from the logits ``Z[L]`` by :func:`compute_cost_from_logits`. Finite for any finite Z.
"""

import jax
import jax.numpy as jnp

from ._checks import (
    check_dtype,
    check_labels,
    check_matrix,
    check_parameters,
    check_probabilities,
    check_rate,
    check_same_shape,
    check_values,
    shape_of,
    values_checked,
)
from .activations import Activation, get_activation
from .errors import InputTypeError, NameLookupError, ShapeError
from .layers import linear_activation_backward, linear_activation_forward, linear_backward


def layer_activations(hidden_activation, L: int) -> tuple:
    """The activation of each of the L layers: the hidden ones, then ``"sigmoid"``.

    ``hidden_activation`` is one name for every hidden layer, or a sequence of L - 1 names.
    """
    if isinstance(hidden_activation, (list, tuple)) and not isinstance(hidden_activation,
                                                                        Activation):
        names = tuple(hidden_activation)
        if len(names) != L - 1:
            raise ShapeError(
                f"hidden_activation lists {len(names)} names but the network has {L - 1} "
                f"hidden layers"
            )
    else:
        names = (hidden_activation,) * (L - 1)
        get_activation(hidden_activation)  # checked even when there is no hidden layer
    for name in names:
        get_activation(name)
    return (*names, "sigmoid")


def check_network(X, parameters) -> int:
    """X (n[0], m) must fit ``parameters``, every array well formed and finite; returns L."""
    L = check_parameters(parameters)
    n0, _ = check_matrix(X, "X")
    if n0 != parameters["W1"].shape[1]:
        raise ShapeError(
            f"X has shape {shape_of(X, 'X')} but W1 has shape {tuple(parameters['W1'].shape)}: "
            f"X needs {parameters['W1'].shape[1]} rows (features), one column per example"
        )
    return L


def check_problem(X, Y, parameters, y_name="Y") -> int:
    """:func:`check_network`, and labels Y in {0, 1} of the output's shape (n[L], m)."""
    L = check_network(X, parameters)
    expected = (parameters[f"W{L}"].shape[0], X.shape[1])
    check_labels(Y, y_name)
    if shape_of(Y, y_name) != expected:
        raise ShapeError(f"{y_name} has shape {shape_of(Y, y_name)} but X has {X.shape[1]} "
                         f"examples and W{L} {expected[0]} outputs: {y_name} needs shape "
                         f"{expected}")
    return L


def L_model_forward(X, parameters, hidden_activation="relu"):
    """Forward pass through all L layers.

    Args:
      X: (n[0], m) input, one example per column (integer or boolean X is converted to the
        parameters' dtype).
      parameters: the course's dict of ``W{l}`` (n[l], n[l-1]) and ``b{l}`` (n[l], 1).
      hidden_activation: a name for every hidden layer, or a tuple of L - 1 names (static).

    Returns:
      ``(AL, caches)``: AL (n[L], m) sigmoid outputs, and the L layer caches.
    """
    L = check_network(X, parameters)
    A, caches = X, []
    with values_checked():  # X and parameters were checked: the layers need not read them again
        for l, activation in enumerate(layer_activations(hidden_activation, L), start=1):
            W, b = parameters[f"W{l}"], parameters[f"b{l}"]
            A, cache = linear_activation_forward(A, W, b, activation)
            caches.append(cache)
    check_values(caches[-1][1], f"Z{L}")  # an overflow in any layer shows up here (n[L] x m)
    return A, caches


def compute_cost(AL, Y):
    """Cross-entropy J = -(1/m) sum(Y log AL + (1 - Y) log(1 - AL)), from probabilities.

    Args:
      AL: (n[L], m) probabilities in (0, 1).
      Y: labels of the same shape, 0 or 1.

    Returns:
      The scalar cost.

    Raises:
      SaturationError: if a concrete AL holds an exact 0 or 1, where this formula is not finite
        (under jit no value is known and the result is NaN): use
        :func:`compute_cost_from_logits`, finite for any finite logits.

    >>> AL, Y = jnp.array([[0.8, 0.9, 0.4]]), jnp.array([[1, 1, 1]])
    >>> round(float(compute_cost(AL, Y)), 6)
    0.414932
    """
    check_same_shape(Y, AL)
    check_labels(Y)
    check_probabilities(AL)
    Y = jnp.asarray(Y, AL.dtype)
    m = AL.shape[1]
    return -jnp.sum(Y * jnp.log(AL) + (1 - Y) * jnp.log(1 - AL)) / m


def compute_cost_from_logits(ZL, Y):
    """The same cross-entropy from the output logits: J = (1/m) sum(softplus(Z) - Y Z).

    Equal to ``compute_cost(sigmoid(ZL), Y)`` and finite for every finite ZL.
    """
    check_same_shape(Y, ZL, a_name="ZL")
    check_labels(Y)
    Y = jnp.asarray(Y, ZL.dtype)
    m = ZL.shape[1]
    return jnp.sum(jax.nn.softplus(ZL) - Y * ZL) / m


def L_model_backward(AL, Y, caches, hidden_activation="relu", *, stable=False, input_grad=True):
    """Backward pass through all L layers.

    Args:
      AL: (n[L], m) output of :func:`L_model_forward`.
      Y: labels of the same shape.
      caches: the caches of :func:`L_model_forward`.
      hidden_activation: as given to the forward pass (static).
      stable: start from the fused ``dZ[L] = AL - Y`` instead of the course's ``dAL``.
      input_grad: include ``dA1`` (dJ/dX). Left out, a jitted caller never computes ``W1^T dZ1``.

    Returns:
      ``grads`` with ``dW{l}``, ``db{l}`` for every layer and ``dA{l}`` = m dJ/dA[l-1]
      (see the module docstring for this numbering and scaling).

    Raises:
      SaturationError: on the literal chain, if a concrete AL holds an exact 0 or 1.
    """
    if not isinstance(caches, (list, tuple)) or not caches:
        raise InputTypeError("caches must be the non-empty list returned by L_model_forward")
    check_same_shape(Y, AL)
    check_labels(Y)
    if not stable:
        check_probabilities(AL, in_range=False)
    L = len(caches)
    activations = layer_activations(hidden_activation, L)
    Y = jnp.asarray(Y, AL.dtype)
    if stable:
        dA_prev, dW, db = linear_backward(AL - Y, caches[-1][0])
    else:
        dAL = -(Y / AL - (1 - Y) / (1 - AL))
        dA_prev, dW, db = linear_activation_backward(dAL, caches[-1], activations[-1])
    grads = {f"dA{L}": dA_prev, f"dW{L}": dW, f"db{L}": db}
    for l in range(L - 1, 0, -1):
        dA_prev, dW, db = linear_activation_backward(
            grads[f"dA{l + 1}"], caches[l - 1], activations[l - 1]
        )
        grads.update({f"dA{l}": dA_prev, f"dW{l}": dW, f"db{l}": db})
    if not input_grad:
        del grads["dA1"]  # dead under jit: XLA drops the W1^T dZ1 product
    return grads


def update_parameters(parameters, grads, learning_rate):
    """One gradient-descent step: W{l} - lr * dW{l}, b{l} - lr * db{l}. Returns a new dict."""
    check_parameters(parameters)
    check_rate(learning_rate)
    if not isinstance(grads, dict):
        raise InputTypeError(f"grads must be a dict {{'dW1', 'db1', ...}}; "
                             f"got {type(grads).__name__}")
    updated = {}
    for key, value in parameters.items():
        if f"d{key}" not in grads:
            raise NameLookupError(f"grads has no d{key} for parameter {key}")
        grad = grads[f"d{key}"]
        check_dtype(grad, f"d{key}", floating=True)
        if shape_of(grad, f"d{key}") != tuple(value.shape):
            raise ShapeError(
                f"d{key} has shape {shape_of(grad, f'd{key}')} but {key} has shape "
                f"{tuple(value.shape)}"
            )
        check_values(grad, f"d{key}")
        updated[key] = value - learning_rate * grad
    return updated


def parameter_gradients(grads):
    """The ``dW{l}``/``db{l}`` entries of ``grads`` keyed like ``parameters`` (for optax)."""
    return {key[1:]: value for key, value in grads.items() if key[:2] in ("dW", "db")}


def cost_and_grads(X, Y, parameters, hidden_activation="relu"):
    """The training step's work: the stable cost and the ``dW{l}``/``db{l}`` gradients.

    No ``dA`` entries are returned, so under jit the input gradient W1^T dZ1 is never computed.

    Returns:
      ``(cost, grads)``, grads ready for :func:`update_parameters`.
    """
    AL, caches = L_model_forward(X, parameters, hidden_activation)
    cost = compute_cost_from_logits(caches[-1][1], Y)
    with values_checked():  # the caches are the forward's, Y was checked by the cost
        grads = L_model_backward(AL, Y, caches, hidden_activation, stable=True, input_grad=False)
    return cost, {key: value for key, value in grads.items() if not key.startswith("dA")}
