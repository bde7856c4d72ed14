"""Logistic regression "with a neural network mindset": the course's first model, one sigmoid unit.

Shapes, with m examples of n_x = dim features::

    X (dim, m)   w (dim, 1)   b scalar   Y (1, m) labels in {0, 1}

    A = sigmoid(w^T X + b)                                  (1, m)
    J = -(1/m) sum(Y log A + (1 - Y) log(1 - A))
    dw = dJ/dw = X (A - Y)^T / m                            (dim, 1)
    db = dJ/db = mean(A - Y)

This is the core chain's one-layer network with ``W1 = w^T`` and ``b1 = [[b]]``: :func:`propagate`
runs :func:`~jaxdnn.cost_and_grads` on it (the stable path: the cost from the logits, dZ = A - Y),
so the formulas above have one owner. Training, :func:`optimize`, is one ``lax.scan`` under
``jax.jit``; :func:`model` trains from zeros and prints the course's accuracies.
"""

import math
import numbers
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks as check
from ..core import kernels, numeric
from ..core.activations import ACTIVATIONS
from ..core.layout import as_floating
from ..core.outputs import OUTPUTS
from ..errors import DataError, OptionError, ShapeError
from ..train import reports

_OUTPUT = (OUTPUTS["sigmoid"],)  # the one layer's activation



def sigmoid(z):
    """s = 1 / (1 + exp(-z)) elementwise, for a number or a real array (integers become floats).

    The course's ``sigmoid``: :func:`jaxdnn.sigmoid` without its cache.

    >>> [round(float(s), 6) for s in sigmoid(np.array([0, 2]))]
    [0.5, 0.880797]
    """
    if isinstance(z, numbers.Real) and not isinstance(z, bool):
        z = jnp.asarray(numeric.real(z, "z"), _default_float())
    check.array(z, "z", ndim=None)
    return ACTIVATIONS["sigmoid"].forward(as_floating(z, _default_float()))[0]


def initialize_with_zeros(dim):
    """``w`` of zeros, ``(dim, 1)`` in the default float dtype, and ``b = 0.0``.

    >>> w, b = initialize_with_zeros(2)
    >>> w.shape, b
    ((2, 1), 0.0)
    """
    if numeric.count(dim, "dim") < 1:
        raise OptionError(f"dim (the number of features) must be at least 1; got {dim}")
    return jnp.zeros((dim, 1), _default_float()), 0.0


def propagate(w, b, X, Y):
    """The cost J and its gradient at ``(w, b)``: forward, then backward.

    Args:
      w: ``(dim, 1)`` weights, floating.
      b: the bias, a real number (or a 0-d array).
      X: ``(dim, m)`` inputs, one example per column (integers become w's dtype).
      Y: ``(1, m)`` labels, 0 or 1.

    Returns:
      ``(grads, cost)``: ``grads = {"dw": X (A - Y)^T / m (dim, 1), "db": mean(A - Y)}`` and the
      cross-entropy J, in w's dtype.

    >>> w, b = jnp.array([[1.0], [2.0]]), 2.0
    >>> X, Y = jnp.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]]), jnp.array([[1, 0, 1]])
    >>> grads, cost = propagate(w, b, X, Y)
    >>> [round(float(g), 6) for g in grads["dw"][:, 0]], round(float(cost), 5)
    ([0.998456, 2.395072], 5.80155)
    """
    _check(w, b, X, Y)
    return _propagate(w, b, as_floating(X, w.dtype), jnp.asarray(Y, w.dtype))


def _propagate(w, b, X, Y):
    cost, [(dW1, db1)] = kernels.cost_and_grads(X, Y, _one_layer(w, b), _OUTPUT)
    return {"dw": dW1.T, "db": db1[0, 0]}, cost


def _one_layer(w, b):
    """The core chain's layers of this model: ``[(w^T (1, dim), [[b]])]``."""
    return [(w.T, jnp.reshape(jnp.asarray(b, w.dtype), (1, 1)))]


def optimize(w, b, X, Y, num_iterations, learning_rate, print_cost=False):
    """Gradient descent from ``(w, b)``: ``w -= learning_rate dw``, ``b -= learning_rate db``.

    The loop is one ``lax.scan`` under ``jax.jit``, in w's dtype (X and Y are converted to it).

    Args:
      w, b, X, Y: as :func:`propagate`.
      num_iterations: the number of steps, at least 1.
      learning_rate: the step size, finite and positive.
      print_cost: print ``Cost after iteration i: J`` every 100 iterations.

    Returns:
      ``(params, grads, costs)``: ``params = {"w", "b"}`` after the last step; ``grads``, the
      :func:`propagate` gradients of the last step (taken before its update, as the course
      returns them); ``costs``, the cost of iterations 0, 100, 200, ... as a list of floats.
    """
    _check(w, b, X, Y)
    return _optimize(w, b, X, Y, num_iterations, learning_rate, print_cost)


def _optimize(w, b, X, Y, num_iterations, learning_rate, print_cost):
    if numeric.count(num_iterations, "num_iterations") < 1:
        raise OptionError(f"num_iterations must be at least 1; got {num_iterations}")
    numeric.rate(learning_rate)
    dtype = w.dtype
    w, b, grads, costs = _descend(w, jnp.asarray(b, dtype), jnp.asarray(X, dtype),
                                  jnp.asarray(Y, dtype), jnp.asarray(learning_rate, dtype),
                                  num_iterations=int(num_iterations))
    costs = [float(cost) for cost in np.asarray(costs)[::reports.PRINT_EVERY]]
    if print_cost:
        for i, cost in enumerate(costs):
            print(f"Cost after iteration {i * reports.PRINT_EVERY}: {cost:f}")
    return {"w": w, "b": b}, grads, costs


@partial(jax.jit, static_argnames="num_iterations")
def _descend(w, b, X, Y, learning_rate, *, num_iterations):
    def step(carry, _):
        w, b, _ = carry
        grads, cost = _propagate(w, b, X, Y)
        return (w - learning_rate * grads["dw"], b - learning_rate * grads["db"], grads), cost

    unused = {"dw": jnp.zeros_like(w), "db": jnp.zeros_like(b)}  # replaced by the first step
    (w, b, grads), costs = jax.lax.scan(step, (w, b, unused), length=num_iterations)
    return w, b, grads, costs


def predict(w, b, X):
    """``Y_prediction`` ``(1, m)``: 1.0 where ``sigmoid(w^T X + b) > 0.5``, else 0.0 (w's dtype).

    >>> w, b = jnp.array([[0.1124579], [0.23106775]]), -0.3
    >>> predict(w, b, jnp.array([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]])).tolist()
    [[1.0, 1.0, 0.0]]
    """
    _check(w, b, X, labels=False)
    return _predict(w, b, X)


def _predict(w, b, X):
    A, _ = kernels.forward(as_floating(X, w.dtype), _one_layer(w, b), _OUTPUT)
    return jnp.where(A > 0.5, 1, 0).astype(w.dtype)


def model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5,
          print_cost=False):
    """Train from zeros with :func:`optimize`, predict both sets and print their accuracies.

    Trains in the default float dtype (float64 once x64 is enabled). Prints the course's
    ``train accuracy: ... %`` and ``test accuracy: ... %``, each ``100 - mean(|Y_prediction - Y|)
    * 100`` in float64.

    Returns:
      ``d``, the course's dict: ``"costs"``, ``"Y_prediction_test"``, ``"Y_prediction_train"``,
      ``"w"``, ``"b"``, ``"learning_rate"``, ``"num_iterations"``.
    """
    dim, _ = check.array(X_train, "X_train")
    w, b = initialize_with_zeros(dim)
    _check(w, b, X_train, Y_train, "X_train", "Y_train")
    _check(w, b, X_test, Y_test, "X_test", "Y_test")  # before training, not after
    params, _, costs = _optimize(w, b, X_train, Y_train, num_iterations, learning_rate,
                                 print_cost)
    w, b = params["w"], params["b"]
    Y_prediction_test = _predict(w, b, X_test)
    Y_prediction_train = _predict(w, b, X_train)
    print(f"train accuracy: {_percent_correct(Y_prediction_train, Y_train)} %")
    print(f"test accuracy: {_percent_correct(Y_prediction_test, Y_test)} %")
    return {"costs": costs, "Y_prediction_test": Y_prediction_test,
            "Y_prediction_train": Y_prediction_train, "w": w, "b": b,
            "learning_rate": learning_rate, "num_iterations": num_iterations}


def _percent_correct(Y_prediction, Y):
    """The course's accuracy, ``100 - mean(|Y_prediction - Y|) * 100``, in float64."""
    errors = np.abs(np.asarray(Y_prediction, np.float64) - np.asarray(Y, np.float64))
    return float(100 - np.mean(errors) * 100)


def _check(w, b, X, Y=None, x_name="X", y_name="Y", *, labels=True):
    """w ``(dim, 1)`` floating, b a finite real number, X ``(dim, m)``, Y (if given) ``(1, m)``
    labels."""
    dim, columns = check.array(w, "w", floating=True)
    if columns != 1:
        raise ShapeError(f"w has shape {(dim, columns)} but must be a column (dim, 1)")
    value = numeric.real(b, "b")
    if value is not None and not math.isfinite(value):
        raise DataError(f"b must be finite; got {b!r}")
    rows, m = check.array(X, x_name)
    if rows != dim:
        raise ShapeError(f"{x_name} has shape {(rows, m)} but w has shape {(dim, 1)}: "
                         f"{x_name} needs {dim} rows (features), one column per example")
    check.finite(w, "w")
    check.finite(X, x_name)
    if labels:
        check.labels(Y, y_name)
        check.shaped(Y, y_name, (1, m), floating=False,
                     but=f"{x_name} has {m} examples: {y_name} needs shape (1, {m})")


def _default_float():
    return jax.dtypes.canonicalize_dtype(jnp.float64)
