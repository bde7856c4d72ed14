"""Compiled training loops, prediction and accuracy.

The whole gradient-descent loop is one ``jax.lax.scan`` under ``jax.jit``: no Python loop and no
host round trip per iteration. Each iteration computes the cost and gradients of the current
parameters on the full batch (the stable path, :func:`~jaxdnn.cost_and_grads`), then updates
them. The cost of every iteration is recorded; ``costs[::100]`` is the course's list. With
``print_cost=True`` a debug callback prints the course's line every 100 iterations from inside the
compiled loop.

Updates are the course's ``update_parameters`` (plain gradient descent, optionally with
heavy-ball momentum) unless an optax ``GradientTransformation`` is given.

Two loops compute the same iterates. The plain loop runs the network forward and backward on X.
The Gram loop (:func:`_fit_gram`) never touches X inside the loop: for the built-in descent, whose
update is linear in the gradient, the first layer's pre-activation Z1 can be moved directly with
the (m, m) matrix K = X^T X + 1 1^T, and W1, b1 recovered once at the end. ``fit(gram="auto")``
takes it when it is exact (built-in descent, float64) and cheaper (n[0] > m).
"""

from functools import cache, partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._checks import check_matrix, check_parameters, check_same_shape
from .activations import get_activation
from .errors import OptionError, ShapeError, TrainingDiverged
from .init import initialize_parameters_deep
from .model import (
    L_model_backward,
    L_model_forward,
    compute_cost_from_logits,
    cost_and_grads,
    layer_activations,
    parameter_gradients,
    update_parameters,
)

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


def _report(on_cost, i, cost):
    """Inside the compiled loop: hand ``(i, cost)`` to the host every PRINT_EVERY iterations."""
    if on_cost is not None:
        jax.lax.cond(i % PRINT_EVERY == 0,
                     lambda: jax.debug.callback(partial(_call_host, on_cost), i, cost,
                                                ordered=True),
                     lambda: None)


def _all_finite(tree):
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _guarded_scan(step, carry, num_iterations):
    """``lax.scan`` of ``step`` that stops changing the carry at the first non-finite cost or carry.

    Returns ``(carry, costs, diverged)``: the last finite carry, every iteration's cost, and the
    first iteration that was not finite (-1 if none).
    """
    def guarded(state, i):
        carry, diverged = state
        new_carry, cost = step(carry, i)
        finite = jnp.isfinite(cost) & _all_finite(new_carry)
        keep = finite & (diverged < 0)
        carry = jax.tree.map(lambda new, old: jnp.where(keep, new, old), new_carry, carry)
        return (carry, jnp.where((diverged < 0) & ~finite, i, diverged)), cost

    (carry, diverged), costs = jax.lax.scan(guarded, (carry, jnp.asarray(-1)),
                                            jnp.arange(num_iterations))
    return carry, costs, diverged


def _descend(parameters, grads, trace, learning_rate, momentum):
    """Gradient descent with heavy-ball momentum: trace <- g + momentum * trace, p <- p - lr trace.

    With momentum 0 this is exactly the course's ``update_parameters`` (and ``optax.sgd``).
    """
    if trace is None:
        return update_parameters(parameters, grads, learning_rate), None
    trace = {k: grads[f"d{k}"] + momentum * trace[k] for k in parameters}
    return update_parameters(parameters, {f"d{k}": v for k, v in trace.items()},
                             learning_rate), trace


def _fit(X, Y, parameters, learning_rate, momentum, *, hidden_activation, num_iterations,
         optimizer, on_cost, with_momentum):
    """The plain loop: every iteration runs the whole network forward and backward on X."""
    def step(carry, i):
        parameters, state = carry
        cost, grads = cost_and_grads(X, Y, parameters, hidden_activation)
        _report(on_cost, i, cost)
        if optimizer is None:
            parameters, state = _descend(parameters, grads, state, learning_rate, momentum)
        else:
            updates, state = optimizer.update(parameter_gradients(grads), state, parameters)
            parameters = optax.apply_updates(parameters, updates)
        return (parameters, state), cost

    if optimizer is not None:
        state = optimizer.init(parameters)
    else:
        state = jax.tree.map(jnp.zeros_like, parameters) if with_momentum else None
    (parameters, _), costs, diverged = _guarded_scan(step, (parameters, state), num_iterations)
    return parameters, costs, diverged


def _fit_gram(X, Y, parameters, learning_rate, momentum, *, hidden_activation, num_iterations,
              optimizer, on_cost, with_momentum):
    """The Gram loop: the same iterates, without touching X inside the loop.

    Gradient descent moves W1 by -lr dW1 = -lr G X^T and b1 by -lr G 1, with G = dJ/dZ1 (n1, m),
    so Z1 = W1 X + b1 moves by -lr G (X^T X + 1 1^T) = -lr G K. The loop carries Z1 and the sum
    S of the updates u = -lr G (momentum: u = -lr trace of G); at the end
    W1 = W1_0 + S X^T and b1 = b1_0 + S 1. Each iteration costs n1 m^2 for the first layer
    instead of 2 n1 n0 m, a win when n0 > m (12288 features, 209 examples for the cat model).
    """
    del optimizer  # always None here: only (momentum) gradient descent is linear in G
    L = len(parameters) // 2
    activations = layer_activations(hidden_activation, L)
    first = get_activation(activations[0])
    tail_activation = activations[1:-1]
    m = X.shape[1]
    K = X.T @ X + 1
    tail = {f"{p}{l - 1}": parameters[f"{p}{l}"] for l in range(2, L + 1) for p in "Wb"}
    Z1 = parameters["W1"] @ X + parameters["b1"]

    def step(carry, i):
        Z1, S, tail, trace_G, trace_tail = carry
        if L == 1:
            cost = compute_cost_from_logits(Z1, Y)
            G = (jax.nn.sigmoid(Z1) - Y) / m
        else:
            A1, _ = first.forward(Z1)
            AL, caches = L_model_forward(A1, tail, tail_activation)
            cost = compute_cost_from_logits(caches[-1][1], Y)
            grads = L_model_backward(AL, Y, caches, tail_activation, stable=True)
            G = first.backward(grads["dA1"], Z1) / m  # the course's dA is m dJ/dA
            tail, trace_tail = _descend(tail, grads, trace_tail, learning_rate, momentum)
        _report(on_cost, i, cost)
        if with_momentum:
            trace_G = G + momentum * trace_G
            G = trace_G
        u = -learning_rate * G
        return (Z1 + u @ K, S + u, tail, trace_G, trace_tail), cost

    zeros = jax.tree.map(jnp.zeros_like, tail) if with_momentum else None
    carry = (Z1, jnp.zeros_like(Z1), tail, jnp.zeros_like(Z1), zeros)
    (_, S, tail, _, _), costs, diverged = _guarded_scan(step, carry, num_iterations)
    trained = {"W1": parameters["W1"] + S @ X.T,
               "b1": parameters["b1"] + jnp.sum(S, axis=1, keepdims=True)}
    trained.update({f"{p}{l}": tail[f"{p}{l - 1}"] for l in range(2, L + 1) for p in "Wb"})
    return trained, costs, diverged


_STATIC = ("hidden_activation", "num_iterations", "optimizer", "on_cost", "with_momentum")
# The compiled loops, keyed by (gram, donate): donating the initial parameters lets XLA train
# in their buffers, but invalidates the caller's arrays, so only callers that own them donate.
_LOOPS = {
    (gram, donate): jax.jit(_fit_gram if gram else _fit, static_argnames=_STATIC,
                            donate_argnames=("parameters",) if donate else ())
    for gram in (False, True) for donate in (False, True)
}


def fit(X, Y, parameters, *, hidden_activation="relu", learning_rate=0.0075,
        num_iterations=3000, momentum=0.0, optimizer=None, gram="auto", print_cost=False,
        on_cost=None, donate=False):
    """Train ``parameters`` on (X, Y) for ``num_iterations`` full-batch steps, in one compiled loop.

    Args:
      X: (n[0], m) inputs. Y: (n[L], m) labels in {0, 1}.
      parameters: the initial course dict; its dtype is the training dtype.
      hidden_activation: a name, or a tuple of names per hidden layer.
      learning_rate: of the built-in gradient descent (ignored when ``optimizer`` is given).
      num_iterations: number of steps.
      momentum: heavy-ball momentum of the built-in gradient descent (0: the course's
        ``update_parameters``; otherwise the same steps as ``optax.sgd(lr, momentum)``).
      optimizer: an optax ``GradientTransformation`` instead of the built-in descent. It is a
        static argument of the compiled loop: build it once and reuse it, or every call compiles.
      gram: train the first layer through the Gram matrix of X (see :func:`_fit_gram`): the same
        iterates, far cheaper when n[0] > m. ``"auto"`` uses it where it is exact and cheaper:
        the built-in descent (not an optax optimizer), n[0] > m, and float64 (in float32 the
        two loops round differently and drift apart over long runs); ``True`` insists on it.
      print_cost: print the course's ``Cost after iteration i: c`` every 100 iterations.
      on_cost: instead, any ``on_cost(i, cost)`` called on the host every 100 iterations.
      donate: let the compiled loop reuse the buffers of ``parameters`` (which are then
        deleted: only for parameters nobody uses afterwards).

    Returns:
      ``(parameters, costs)``: the trained dict and a numpy array with every iteration's cost
      (the cost of the parameters *before* that iteration's update, as the course records it).

    Raises:
      TrainingDiverged: at the first iteration whose cost or updated parameters are not finite
        (a learning rate that is too large, say); it carries that iteration, the last finite
        parameters and the costs so far. The compiled loop keeps running to its end but changes
        nothing after that point.
    """
    L = check_parameters(parameters)
    dtype = parameters["W1"].dtype
    n0, m = check_matrix(X, "X")
    if n0 != parameters["W1"].shape[1]:
        raise ShapeError(f"X has shape {(n0, m)} but W1 has shape "
                         f"{tuple(parameters['W1'].shape)}: X needs "
                         f"{parameters['W1'].shape[1]} rows (features)")
    output = jax.ShapeDtypeStruct((parameters[f"W{L}"].shape[0], m), dtype)
    check_same_shape(Y, output, a_name="the network's output AL")
    _check_options(num_iterations, learning_rate, momentum, optimizer, gram)
    # float32: the carried Z1 and the recovered W1 round differently from the plain loop, and
    # over thousands of steps the trajectories part (cat model: test accuracy 0.82, not 0.8).
    use_gram = gram is True or (gram == "auto" and optimizer is None and n0 > m
                                and dtype == jnp.float64)
    hidden_activation = _static(hidden_activation)
    loop = _LOOPS[use_gram, bool(donate)]
    parameters, costs, diverged = loop(
        jnp.asarray(X, dtype), jnp.asarray(Y, dtype), parameters, jnp.asarray(learning_rate, dtype),
        jnp.asarray(momentum, dtype), hidden_activation=hidden_activation,
        num_iterations=int(num_iterations), optimizer=optimizer,
        on_cost=on_cost or (cost_printer() if print_cost else None),
        with_momentum=bool(momentum),
    )
    costs, diverged = np.asarray(costs), int(diverged)
    if diverged >= 0:
        raise TrainingDiverged(diverged, parameters, costs[:diverged + 1])
    return parameters, costs


def _check_options(num_iterations, learning_rate, momentum, optimizer, gram):
    if isinstance(num_iterations, bool) or not isinstance(num_iterations, (int, np.integer)) \
            or num_iterations < 0:
        raise OptionError(f"num_iterations must be a non-negative integer; got {num_iterations!r}")
    if optimizer is None and not (np.isfinite(learning_rate) and learning_rate > 0):
        raise OptionError(f"learning_rate must be finite and positive; got {learning_rate!r}")
    if not (np.isfinite(momentum) and 0 <= momentum < 1):
        raise OptionError(f"momentum must be in [0, 1); got {momentum!r}")
    if optimizer is not None and momentum:
        raise OptionError("momentum applies to the built-in descent; with an optax optimizer, "
                          "put it in the optimizer (optax.sgd(lr, momentum=...))")
    if gram not in ("auto", True, False):
        raise OptionError(f"gram must be 'auto', True or False; got {gram!r}")
    if gram is True and optimizer is not None:
        raise OptionError("gram=True needs the built-in gradient descent (optimizer=None): "
                          "an optax optimizer is not known to be linear in the gradient")


def _static(hidden_activation):
    """Lists are not hashable: jit's static arguments take the same names as a tuple."""
    return tuple(hidden_activation) if isinstance(hidden_activation, list) else hidden_activation


def _initial_parameters(layers_dims, init, seed, course_scheme, dtype):
    if init == "course":
        return initialize_parameters_deep(layers_dims, scheme=course_scheme, numpy_seed=seed,
                                          dtype=dtype)
    return initialize_parameters_deep(layers_dims, jax.random.PRNGKey(seed), scheme=init,
                                      dtype=dtype)


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000, print_cost=False,
                  *, hidden_activation="relu", init="course", seed=1, dtype=None, optimizer=None,
                  gram="auto"):
    """The course's L-layer model: ``[LINEAR -> RELU] * (L-1) -> LINEAR -> SIGMOID``.

    Args:
      X: (n[0], m) inputs; Y: (1, m) labels.
      layers_dims: ``[n[0], n[1], ..., n[L]]``.
      init: ``"course"`` draws as the course does (``np.random.seed(seed)``,
        ``randn / sqrt(n[l-1])``); a scheme name (``"small"``, ``"scaled"``, ``"he"``) draws
        from ``jax.random.PRNGKey(seed)``.
      dtype: training dtype (default float32, or float64 under x64).
      optimizer, gram: as :func:`fit` (the Gram path is chosen automatically for image data).

    Returns:
      ``(parameters, costs)``.
    """
    parameters = _initial_parameters(layers_dims, init, seed, "scaled", dtype)
    return fit(X, Y, parameters, hidden_activation=hidden_activation,
               learning_rate=learning_rate, num_iterations=num_iterations, optimizer=optimizer,
               gram=gram, print_cost=print_cost, donate=True)


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False, *, hidden_activation="relu", init="course", seed=1,
                    dtype=None, optimizer=None, gram="auto"):
    """The course's two-layer model ``LINEAR -> RELU -> LINEAR -> SIGMOID``.

    ``layers_dims = (n_x, n_h, n_y)``; ``init="course"`` draws ``randn * 0.01`` after
    ``np.random.seed(seed)``, as the course. Prints the cost with full precision, as the course.
    """
    if len(layers_dims) != 3:
        raise ShapeError(f"layers_dims must be (n_x, n_h, n_y); got {tuple(layers_dims)}")
    parameters = _initial_parameters(layers_dims, init, seed, "small", dtype)
    return fit(X, Y, parameters, hidden_activation=hidden_activation,
               learning_rate=learning_rate, num_iterations=num_iterations, optimizer=optimizer,
               gram=gram, donate=True,
               on_cost=cost_printer("Cost after iteration {}: {}") if print_cost else None)


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False, *, learning_rate=1.2,
             hidden_activation="tanh", init="course", seed=2, dtype=None, optimizer=None,
             gram="auto"):
    """The course's planar classifier: one hidden layer of ``n_h`` tanh units.

    ``init="course"`` draws as the planar assignment (``np.random.seed(2)``, ``randn * 0.01``).
    """
    layers_dims = [check_matrix(X, "X")[0], n_h, check_matrix(Y, "Y")[0]]
    parameters = _initial_parameters(layers_dims, init, seed, "small", dtype)
    return fit(X, Y, parameters, hidden_activation=hidden_activation,
               learning_rate=learning_rate, num_iterations=num_iterations, optimizer=optimizer,
               gram=gram, print_cost=print_cost, donate=True)


@partial(jax.jit, static_argnames="hidden_activation")
def _forward(X, parameters, hidden_activation):
    return L_model_forward(X, parameters, hidden_activation)[0]


def predict_proba(X, parameters, hidden_activation="relu"):
    """The network's output probabilities AL, (n[L], m)."""
    return _forward(X, parameters, _static(hidden_activation))


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
