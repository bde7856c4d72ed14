"""Compiled training loops, prediction and accuracy.

The whole gradient-descent loop is one ``jax.lax.scan`` under ``jax.jit``: no Python loop and no
host round trip per iteration. Each iteration computes the cost and gradients of the current
parameters on the full batch (the stable path, :func:`~jaxdnn.cost_and_grads`), then updates
them. The cost of every iteration is recorded; ``costs[::100]`` is the course's list. With
``print_cost=True`` a debug callback prints the course's line every 100 iterations from inside the
compiled loop.

Updates are the course's ``update_parameters`` (plain gradient descent) unless an optax
``GradientTransformation`` is given.
"""

from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._checks import check_matrix, check_parameters, check_same_shape
from .errors import ShapeError
from .init import initialize_parameters_deep
from .model import L_model_forward, cost_and_grads, parameter_gradients, update_parameters

PRINT_EVERY = 100


@cache
def cost_printer(cost_format="Cost after iteration {}: {:f}"):
    """An ``on_cost`` hook printing the course's line, ``cost_format.format(i, cost)``.

    Cached: the hook is a static argument of the compiled loop, so one object per format keeps
    one compilation.
    """
    return partial(_print_cost, cost_format)


def _print_cost(cost_format, i, cost):
    print(cost_format.format(i, cost), flush=True)


def _call_host(on_cost, i, cost):
    on_cost(int(i), float(cost))


@partial(jax.jit, static_argnames=("hidden_activation", "num_iterations", "optimizer",
                                   "on_cost"))
def _fit(X, Y, parameters, learning_rate, *, hidden_activation, num_iterations, optimizer,
         on_cost):
    def step(carry, i):
        parameters, opt_state = carry
        cost, grads = cost_and_grads(X, Y, parameters, hidden_activation)
        if on_cost is not None:
            jax.lax.cond(i % PRINT_EVERY == 0,
                         lambda: jax.debug.callback(partial(_call_host, on_cost), i, cost,
                                                    ordered=True),
                         lambda: None)
        if optimizer is None:
            parameters = update_parameters(parameters, grads, learning_rate)
        else:
            updates, opt_state = optimizer.update(parameter_gradients(grads), opt_state,
                                                  parameters)
            parameters = optax.apply_updates(parameters, updates)
        return (parameters, opt_state), cost

    opt_state = None if optimizer is None else optimizer.init(parameters)
    (parameters, _), costs = jax.lax.scan(step, (parameters, opt_state),
                                          jnp.arange(num_iterations))
    return parameters, costs


def fit(X, Y, parameters, *, hidden_activation="relu", learning_rate=0.0075,
        num_iterations=3000, optimizer=None, print_cost=False, on_cost=None):
    """Train ``parameters`` on (X, Y) for ``num_iterations`` full-batch steps, in one compiled loop.

    Args:
      X: (n[0], m) inputs. Y: (n[L], m) labels in {0, 1}.
      parameters: the initial course dict; its dtype is the training dtype.
      hidden_activation: a name, or a tuple of names per hidden layer.
      learning_rate: of the default gradient descent (ignored when ``optimizer`` is given).
      num_iterations: number of steps.
      optimizer: an optax ``GradientTransformation``; default the course's ``update_parameters``.
      print_cost: print the course's ``Cost after iteration i: c`` every 100 iterations.
      on_cost: instead, any ``on_cost(i, cost)`` called on the host every 100 iterations.

    Returns:
      ``(parameters, costs)``: the trained dict and a numpy array with every iteration's cost
      (the cost of the parameters *before* that iteration's update, as the course records it).
    """
    L = check_parameters(parameters)
    dtype = parameters["W1"].dtype
    _, m = check_matrix(X, "X")
    output = jax.ShapeDtypeStruct((parameters[f"W{L}"].shape[0], m), dtype)
    check_same_shape(Y, output, a_name="the network's output AL")
    if isinstance(hidden_activation, list):
        hidden_activation = tuple(hidden_activation)
    parameters, costs = _fit(
        jnp.asarray(X, dtype), jnp.asarray(Y, dtype), parameters, jnp.asarray(learning_rate, dtype),
        hidden_activation=hidden_activation, num_iterations=int(num_iterations),
        optimizer=optimizer, on_cost=on_cost or (cost_printer() if print_cost else None),
    )
    return parameters, np.asarray(costs)


def _initial_parameters(layers_dims, init, seed, course_scheme, dtype):
    if init == "course":
        return initialize_parameters_deep(layers_dims, scheme=course_scheme, numpy_seed=seed,
                                          dtype=dtype)
    return initialize_parameters_deep(layers_dims, jax.random.PRNGKey(seed), scheme=init,
                                      dtype=dtype)


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000, print_cost=False,
                  *, hidden_activation="relu", init="course", seed=1, dtype=None, optimizer=None):
    """The course's L-layer model: ``[LINEAR -> RELU] * (L-1) -> LINEAR -> SIGMOID``.

    Args:
      X: (n[0], m) inputs; Y: (1, m) labels.
      layers_dims: ``[n[0], n[1], ..., n[L]]``.
      init: ``"course"`` draws as the course does (``np.random.seed(seed)``,
        ``randn / sqrt(n[l-1])``); a scheme name (``"small"``, ``"scaled"``, ``"he"``) draws
        from ``jax.random.PRNGKey(seed)``.
      dtype: training dtype (default float32, or float64 under x64).
      Other arguments as :func:`fit`.

    Returns:
      ``(parameters, costs)``.
    """
    parameters = _initial_parameters(layers_dims, init, seed, "scaled", dtype)
    return fit(X, Y, parameters, hidden_activation=hidden_activation,
               learning_rate=learning_rate, num_iterations=num_iterations, optimizer=optimizer,
               print_cost=print_cost)


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False, *, hidden_activation="relu", init="course", seed=1,
                    dtype=None, optimizer=None):
    """The course's two-layer model ``LINEAR -> RELU -> LINEAR -> SIGMOID``.

    ``layers_dims = (n_x, n_h, n_y)``; ``init="course"`` draws ``randn * 0.01`` after
    ``np.random.seed(seed)``, as the course. Prints the cost with full precision, as the course.
    """
    if len(layers_dims) != 3:
        raise ShapeError(f"layers_dims must be (n_x, n_h, n_y); got {tuple(layers_dims)}")
    parameters = _initial_parameters(layers_dims, init, seed, "small", dtype)
    return fit(X, Y, parameters, hidden_activation=hidden_activation,
               learning_rate=learning_rate, num_iterations=num_iterations, optimizer=optimizer,
               on_cost=cost_printer("Cost after iteration {}: {}") if print_cost else None)


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False, *, learning_rate=1.2,
             hidden_activation="tanh", init="course", seed=2, dtype=None, optimizer=None):
    """The course's planar classifier: one hidden layer of ``n_h`` tanh units.

    ``init="course"`` draws as the planar assignment (``np.random.seed(2)``, ``randn * 0.01``).
    """
    layers_dims = [check_matrix(X, "X")[0], n_h, check_matrix(Y, "Y")[0]]
    parameters = _initial_parameters(layers_dims, init, seed, "small", dtype)
    return fit(X, Y, parameters, hidden_activation=hidden_activation,
               learning_rate=learning_rate, num_iterations=num_iterations, optimizer=optimizer,
               print_cost=print_cost)


@partial(jax.jit, static_argnames="hidden_activation")
def predict_proba(X, parameters, hidden_activation="relu"):
    """The network's output probabilities AL, (n[L], m)."""
    return L_model_forward(X, parameters, hidden_activation)[0]


def predict_labels(X, parameters, hidden_activation="relu"):
    """0/1 predictions (n[L], m): 1 where the output probability is above 0.5, as the course."""
    return (np.asarray(predict_proba(X, parameters, hidden_activation)) > 0.5).astype(np.int64)


def accuracy(p, y):
    """Fraction of predictions equal to the labels (count / m)."""
    p, y = np.asarray(p), np.asarray(y)
    check_same_shape(y, p, "y", "p")
    return float(np.mean(p == y))


def predict(X, y, parameters, hidden_activation="relu"):
    """Print ``Accuracy: ...`` for the 0.5-threshold predictions on (X, y) and return it."""
    result = accuracy(predict_labels(X, parameters, hidden_activation), y)
    print("Accuracy: " + str(result))
    return result
