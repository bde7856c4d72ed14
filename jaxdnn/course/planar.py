"""The course's planar assignment: one hidden tanh layer, in the course's functions and signatures.

Shapes, with m examples::

    X (n_x, m) -> Z1, A1 = tanh(Z1) (n_h, m) -> Z2, A2 = sigmoid(Z2) (n_y, m)

    parameters = {"W1": (n_h, n_x), "b1": (n_h, 1), "W2": (n_y, n_h), "b2": (n_y, 1)}
    cache = {"Z1", "A1", "Z2", "A2"}

Backward, the course's six equations (``*`` elementwise)::

    dZ2 = A2 - Y                     dW2 = dZ2 A1^T / m    db2 = sum over examples of dZ2 / m
    dZ1 = W2^T dZ2 * (1 - A1^2)      dW1 = dZ1 X^T / m     db1 = sum over examples of dZ1 / m

Every step runs on the core chain (:func:`~jaxdnn.linear_activation_forward`,
:func:`~jaxdnn.linear_backward`, :func:`~jaxdnn.compute_cost`, :func:`~jaxdnn.update_parameters`);
what is the planar assignment's own is the dict cache and tanh's derivative written with A1.
:func:`nn_model` is the course's loop over these four functions as one ``lax.scan`` under
``jax.jit``. :func:`jaxdnn.nn_model` trains the same network on the stable path.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks as check
from ..core import kernels, numeric
from ..core.activations import ACTIVATIONS
from ..core.init import initialize_parameters_deep
from ..core.layout import as_floating
from ..core.network import compute_cost as _compute_cost
from ..core.network import update_parameters as _update_parameters
from ..core.outputs import OUTPUTS
from ..errors import NameLookupError, ShapeError

COST_EVERY = 1000
"""The planar assignment prints its cost every 1000 iterations."""


def layer_sizes(X, Y):
    """``(n_x, n_h, n_y)``: X's rows, the course's 4 hidden units, Y's rows.

    >>> layer_sizes(np.zeros((5, 3)), np.zeros((2, 3)))
    (5, 4, 2)
    """
    n_x, m = check.array(X, "X")
    n_y, m_y = check.array(Y, "Y")
    if m_y != m:
        raise ShapeError(f"Y has shape {(n_y, m_y)} but X has {m} examples (columns)")
    return n_x, 4, n_y


def initialize_parameters(n_x, n_h, n_y):
    """The course's draw: ``np.random.seed(2)``, ``W = randn * 0.01``, zero biases.

    Returns:
      ``{"W1": (n_h, n_x), "b1": (n_h, 1), "W2": (n_y, n_h), "b2": (n_y, 1)}`` in the default
      float dtype. Reseeds numpy's global generator, as the course does.
    """
    return initialize_parameters_deep([n_x, n_h, n_y], numpy_seed=2, scheme="small")


def forward_propagation(X, parameters):
    """``A2`` ``(n_y, m)`` and the course's cache ``{"Z1", "A1", "Z2", "A2"}``.

    Args:
      X: ``(n_x, m)`` inputs (integers become the parameters' dtype).
      parameters: ``{"W1", "b1", "W2", "b2"}``.
    """
    layers = _check_network(X, parameters)
    return _forward_propagation(as_floating(X, layers[0][0].dtype), layers)


def _forward_propagation(X, layers):
    (W1, b1), (W2, b2) = layers
    A1, (_, Z1) = kernels.linear_activation_forward(X, W1, b1, ACTIVATIONS["tanh"])
    A2, (_, Z2) = kernels.linear_activation_forward(A1, W2, b2, OUTPUTS["sigmoid"])
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(A2, Y, parameters):
    """The cross-entropy ``-(1/m) sum(Y log A2 + (1 - Y) log(1 - A2))``, by the core's cost.

    ``parameters`` is not used; it is in the course's signature.

    >>> round(float(compute_cost(jnp.array([[0.8, 0.9, 0.4]]), jnp.array([[1, 1, 1]]), {})), 6)
    0.414932
    """
    return _compute_cost(A2, Y)


def backward_propagation(parameters, cache, X, Y):
    """The gradients of the mean cost, by the course's six equations (module docstring).

    Args:
      parameters: ``{"W1", "b1", "W2", "b2"}``.
      cache: :func:`forward_propagation`'s cache; ``"A1"`` and ``"A2"`` are read.
      X: ``(n_x, m)`` inputs; Y: ``(n_y, m)`` labels, 0 or 1.

    Returns:
      ``{"dW1", "db1", "dW2", "db2"}``, each of its parameter's shape.
    """
    layers = _check_network(X, parameters, Y)
    m = X.shape[1]
    A1 = _cached(cache, "A1", (layers[0][0].shape[0], m))
    A2 = _cached(cache, "A2", (layers[1][0].shape[0], m))
    return _backward_propagation(layers, A1, A2, as_floating(X, A1.dtype),
                                 jnp.asarray(Y, A2.dtype))


def _backward_propagation(layers, A1, A2, X, Y):
    (W1, b1), (W2, b2) = layers
    dZ2 = A2 - Y
    dA1, dW2, db2 = kernels.linear_backward(dZ2, (A1, W2, b2))  # dA1 = W2^T dZ2
    dZ1 = dA1 * (1 - A1**2)  # tanh'(Z1) = 1 - A1^2
    _, dW1, db1 = kernels.linear_backward(dZ1, (X, W1, b1))
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def update_parameters(parameters, grads, learning_rate=1.2):
    """One gradient-descent step, ``W - learning_rate dW`` and ``b - learning_rate db``."""
    return _update_parameters(parameters, grads, learning_rate)


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False):
    """The course's planar model: initialise, then loop forward, cost, backward, update.

    Trains in the default float dtype (float64 once x64 is enabled); X and Y are converted to it.

    Args:
      X: ``(n_x, m)`` inputs; Y: ``(n_y, m)`` labels, 0 or 1.
      n_h: hidden units.
      num_iterations: gradient-descent steps at the course's learning rate 1.2.
      print_cost: print ``Cost after iteration i: J`` every 1000 iterations.

    Returns:
      The trained parameters.
    """
    n_x, _, n_y = layer_sizes(X, Y)
    check.hidden_units(n_h)
    numeric.count(num_iterations, "num_iterations")
    parameters = initialize_parameters(n_x, n_h, n_y)
    check.problem(X, Y, parameters, OUTPUTS["sigmoid"])
    dtype = parameters["W1"].dtype
    parameters, costs = _gradient_descent(jnp.asarray(X, dtype), jnp.asarray(Y, dtype),
                                          parameters, num_iterations=int(num_iterations))
    if print_cost:
        for i, cost in enumerate(np.asarray(costs)[::COST_EVERY]):
            print(f"Cost after iteration {i * COST_EVERY}: {cost:f}")
    return parameters


@partial(jax.jit, static_argnames="num_iterations")
def _gradient_descent(X, Y, parameters, *, num_iterations):
    def step(parameters, _):
        layers = [(parameters["W1"], parameters["b1"]), (parameters["W2"], parameters["b2"])]
        A2, cache = _forward_propagation(X, layers)
        grads = _backward_propagation(layers, cache["A1"], A2, X, Y)
        grads = {key[1:]: value for key, value in grads.items()}  # keyed like the parameters
        return kernels.descend(parameters, grads, None, 1.2, 0.0)[0], OUTPUTS["sigmoid"].cost(A2, Y)

    return jax.lax.scan(step, parameters, length=num_iterations)


def predict(parameters, X):
    """``(n_y, m)`` predictions: 1 where ``A2 > 0.5``, else 0 (integers)."""
    layers = _check_network(X, parameters)
    check.finite(X, "X")
    check.finite_parameters(parameters)
    A2, _ = _forward_propagation(as_floating(X, layers[0][0].dtype), layers)
    return jnp.where(A2 > 0.5, 1, 0)


def _check_network(X, parameters, *Y):
    """X must fit a one-hidden-layer ``parameters`` (and Y, if given, be its labels); returns
    the layers."""
    layers = (check.problem(X, *Y, parameters, OUTPUTS["sigmoid"])[0] if Y
              else check.network(X, parameters))
    if len(layers) != 2:
        raise ShapeError(f"parameters must hold W1, b1, W2, b2 (one hidden layer); got "
                         f"{sorted(parameters)}")
    return layers


def _cached(cache, key, shape):
    """``cache[key]``, which must be a floating array of ``shape``."""
    if not isinstance(cache, dict):
        raise NameLookupError(f"cache must be forward_propagation's dict {{'Z1', 'A1', 'Z2', "
                              f"'A2'}}; got {type(cache).__name__}")
    if key not in cache:
        raise NameLookupError(f"cache has no {key!r}; forward_propagation's cache has "
                              f"'Z1', 'A1', 'Z2', 'A2'")
    check.shaped(cache[key], f"cache[{key!r}]", shape, why=" for these parameters and X")
    return cache[key]
