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

import math
import numbers
from functools import cache, partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._checks import (
    check_count,
    check_labels,
    check_matrix,
    check_parameters,
    check_rate,
    check_real,
    check_same_shape,
)
from .activations import get_activation
from .errors import InputTypeError, OptionError, ShapeError, TrainingDiverged
from .init import initialize_parameters_deep
from .model import (
    L_model_backward,
    L_model_forward,
    check_network,
    check_problem,
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


def _guarded_scan(step, carry, start, num_iterations):
    """``lax.scan`` of ``step`` over iterations ``start, start + 1, ...`` that stops changing the
    carry at the first non-finite cost or carry.

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
                                            start + jnp.arange(num_iterations))
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


def _fit(X, Y, parameters, opt_state, start, learning_rate, momentum, *, hidden_activation,
         num_iterations, optimizer, on_cost, with_momentum):
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

    del with_momentum  # the state says it: None, or the momentum trace
    (parameters, opt_state), costs, diverged = _guarded_scan(step, (parameters, opt_state), start,
                                                             num_iterations)
    return parameters, opt_state, costs, diverged


def _fit_gram(X, Y, parameters, opt_state, start, learning_rate, momentum, *, hidden_activation,
              num_iterations, optimizer, on_cost, with_momentum):
    """The Gram loop: the same iterates, without touching X inside the loop.

    Gradient descent moves W1 by -lr dW1 = -lr G X^T and b1 by -lr G 1, with G = dJ/dZ1 (n1, m),
    so Z1 = W1 X + b1 moves by -lr G (X^T X + 1 1^T) = -lr G K. The loop carries Z1 and the sum
    S of the updates u = -lr G (momentum: u = -lr trace of G); at the end
    W1 = W1_0 + S X^T and b1 = b1_0 + S 1. Each iteration costs n1 m^2 for the first layer
    instead of 2 n1 n0 m, a win when n0 > m (12288 features, 209 examples for the cat model).

    Momentum continuing a run starts from the first layer's trace (T0, t0) in parameter space.
    After k steps that part of the trace has decayed to momentum^k (T0, t0): it moves Z1 by
    -lr momentum^k P0 with P0 = T0 X + t0, and W1, b1 by -lr c (T0, t0) with c the sum of the
    decays. The trace is handed back in parameter space, for either loop to continue.
    """
    del optimizer  # no optax here: only (momentum) gradient descent is linear in G
    L = len(parameters) // 2
    activations = layer_activations(hidden_activation, L)
    first = get_activation(activations[0])
    tail_activation = activations[1:-1]
    m = X.shape[1]
    K = X.T @ X + 1
    tail = {f"{p}{l - 1}": parameters[f"{p}{l}"] for l in range(2, L + 1) for p in "Wb"}
    Z1 = parameters["W1"] @ X + parameters["b1"]
    if with_momentum:
        T0, t0 = opt_state["W1"], opt_state["b1"]
        P0 = T0 @ X + t0
        trace_tail = {f"{p}{l - 1}": opt_state[f"{p}{l}"] for l in range(2, L + 1) for p in "Wb"}
    else:
        trace_tail = None
    one = jnp.ones((), Z1.dtype)

    def step(carry, i):
        Z1, S, tail, trace_G, trace_tail, decay, decays = carry
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
        u = -learning_rate * G
        if with_momentum:
            trace_G = G + momentum * trace_G
            decay = momentum * decay
            u = -learning_rate * trace_G
            Z1 = Z1 - learning_rate * decay * P0
            decays = decays + decay
        return (Z1 + u @ K, S + u, tail, trace_G, trace_tail, decay, decays), cost

    carry = (Z1, jnp.zeros_like(Z1), tail, jnp.zeros_like(Z1), trace_tail, one, 0 * one)
    (_, S, tail, trace_G, trace_tail, decay, decays), costs, diverged = _guarded_scan(
        step, carry, start, num_iterations)
    W1 = parameters["W1"] + S @ X.T
    b1 = parameters["b1"] + jnp.sum(S, axis=1, keepdims=True)
    trace = None
    if with_momentum:
        W1, b1 = W1 - learning_rate * decays * T0, b1 - learning_rate * decays * t0
        # dW1 = G X^T and db1 = G 1: the trace of G maps to the traces of W1 and b1 that way.
        trace = _untail(trace_G @ X.T + decay * T0,
                        jnp.sum(trace_G, axis=1, keepdims=True) + decay * t0, trace_tail, L)
    return _untail(W1, b1, tail, L), trace, costs, diverged


def _untail(W1, b1, tail, L):
    """The course dict from the first layer and the tail dict (whose layer l is layer l + 1)."""
    return {"W1": W1, "b1": b1,
            **{f"{p}{l}": tail[f"{p}{l - 1}"] for l in range(2, L + 1) for p in "Wb"}}


_STATIC = ("hidden_activation", "num_iterations", "optimizer", "on_cost", "with_momentum")
# The compiled loops, keyed by (gram, donate): donating the initial state lets XLA train in its
# buffers, but invalidates the caller's arrays, so only callers that own them donate.
_LOOPS = {
    (gram, donate): jax.jit(_fit_gram if gram else _fit, static_argnames=_STATIC,
                            donate_argnames=("parameters", "opt_state") if donate else ())
    for gram in (False, True) for donate in (False, True)
}


class TrainState(NamedTuple):
    """Where a training run stands: all it takes to continue it exactly.

    Attributes:
      parameters: the course dict.
      opt_state: None (plain gradient descent), the momentum trace (a dict like ``parameters``),
        or the optax optimiser's state.
      iteration: the number of iterations done.
    """

    parameters: dict
    opt_state: Any
    iteration: int


def init_train_state(parameters, *, momentum=0.0, optimizer=None):
    """The :class:`TrainState` of a run that has not started: a zero trace or ``optimizer.init``."""
    check_parameters(parameters)
    _check_optimizer(momentum, optimizer)
    return TrainState(parameters, _initial_opt_state(parameters, momentum, optimizer), 0)


def _initial_opt_state(parameters, momentum, optimizer):
    if optimizer is not None:
        return optimizer.init(parameters)
    return jax.tree.map(jnp.zeros_like, parameters) if momentum else None


def train_steps(X, Y, state, num_iterations, *, hidden_activation="relu", learning_rate=0.0075,
                momentum=0.0, optimizer=None, gram="auto", print_cost=False, on_cost=None,
                donate=False):
    """Continue the run ``state`` for ``num_iterations`` steps: returns ``(state, costs)``.

    Two runs split into segments at the same iterations give the same parameters bit for bit,
    whether or not one of them was stopped and resumed from a checkpoint of its state
    (:func:`~jaxdnn.save_checkpoint`). Against one uninterrupted :func:`fit` they agree to
    rounding: the plain loop usually to the bit, the Gram loop (which recomputes Z1 from W1 at
    each segment start) to about 1e-16.

    ``state.opt_state`` must be of the kind the options need (None for plain gradient descent,
    a trace for momentum, the optimizer's state): build it with :func:`init_train_state`.
    Options and errors are otherwise those of :func:`fit`.
    """
    if not isinstance(state, TrainState):
        raise InputTypeError(f"state must be a TrainState (init_train_state(parameters)); "
                             f"got {type(state).__name__}")
    L = check_problem(X, Y, state.parameters)
    _check_options(num_iterations, learning_rate, momentum, optimizer, gram, hidden_activation,
                   on_cost, L)
    state = state._replace(iteration=check_count(state.iteration, "state.iteration"))
    _check_opt_state(state.parameters, state.opt_state, momentum, optimizer)
    return _run(X, Y, state, num_iterations, hidden_activation, learning_rate, momentum,
                optimizer, gram, print_cost, on_cost, donate)


def fit(X, Y, parameters, *, hidden_activation="relu", learning_rate=0.0075,
        num_iterations=3000, momentum=0.0, optimizer=None, gram="auto", print_cost=False,
        on_cost=None, donate=False):
    """Train ``parameters`` on (X, Y) for ``num_iterations`` full-batch steps, in one compiled loop.

    Args:
      X: (n[0], m) inputs; integer or boolean arrays are converted to the parameters' dtype.
      Y: (n[L], m) labels in {0, 1}.
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
      ShapeError, InputTypeError, DataError, OptionError, NameLookupError: bad arrays or options
        (see "Errors and guarantees" in the README), before any compilation.
      TrainingDiverged: at the first iteration whose cost or updated parameters are not finite
        (a learning rate that is too large, say); it carries that iteration, the last finite
        parameters and the costs so far. The compiled loop keeps running to its end but changes
        nothing after that point.
    """
    L = check_problem(X, Y, parameters)
    _check_options(num_iterations, learning_rate, momentum, optimizer, gram, hidden_activation,
                   on_cost, L)
    state = init_train_state(parameters, momentum=momentum, optimizer=optimizer)
    state, costs = _run(X, Y, state, num_iterations, hidden_activation, learning_rate, momentum,
                        optimizer, gram, print_cost, on_cost, donate)
    return state.parameters, costs


def _run(X, Y, state, num_iterations, hidden_activation, learning_rate, momentum, optimizer,
         gram, print_cost, on_cost, donate):
    parameters = state.parameters
    dtype = parameters["W1"].dtype
    n0, m = X.shape
    # float32: the carried Z1 and the recovered W1 round differently from the plain loop, and
    # over thousands of steps the trajectories part (cat model: test accuracy 0.82, not 0.8).
    use_gram = gram is True or (gram == "auto" and optimizer is None and n0 > m
                                and dtype == jnp.float64)
    loop = _LOOPS[use_gram, bool(donate)]
    parameters, opt_state, costs, diverged = loop(
        jnp.asarray(X, dtype), jnp.asarray(Y, dtype), parameters, state.opt_state,
        jnp.asarray(state.iteration, jnp.int32), jnp.asarray(learning_rate, dtype),
        jnp.asarray(momentum, dtype), hidden_activation=_static(hidden_activation),
        num_iterations=int(num_iterations), optimizer=optimizer,
        on_cost=on_cost or (cost_printer() if print_cost else None),
        with_momentum=bool(momentum),
    )
    costs, diverged = np.asarray(costs), int(diverged)
    if diverged >= 0:
        raise TrainingDiverged(diverged, parameters, costs[:diverged - state.iteration + 1])
    return TrainState(parameters, opt_state, state.iteration + int(num_iterations)), costs


def _check_options(num_iterations, learning_rate, momentum, optimizer, gram,
                   hidden_activation, on_cost, L):
    check_count(num_iterations, "num_iterations")
    if optimizer is None:
        check_rate(learning_rate)
    _check_optimizer(momentum, optimizer)
    if not (gram is True or gram is False or (isinstance(gram, str) and gram == "auto")):
        raise OptionError(f"gram must be 'auto', True or False; got {gram!r}")
    if gram is True and optimizer is not None:
        raise OptionError("gram=True needs the built-in gradient descent (optimizer=None): "
                          "an optax optimizer is not known to be linear in the gradient")
    layer_activations(_static(hidden_activation), L)
    if on_cost is not None and not callable(on_cost):
        raise InputTypeError(f"on_cost must be a function on_cost(i, cost); got {on_cost!r}")


def _check_optimizer(momentum, optimizer):
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        raise OptionError(f"optimizer must be an optax GradientTransformation (optax.adam(...)); "
                          f"got {type(optimizer).__name__}")
    value = check_real(momentum, "momentum")
    if value is not None and not (math.isfinite(value) and 0 <= value < 1):
        raise OptionError(f"momentum must be in [0, 1); got {momentum!r}")
    if optimizer is not None and momentum:
        raise OptionError("momentum applies to the built-in descent; with an optax optimizer, "
                          "put it in the optimizer (optax.sgd(lr, momentum=...))")


def _check_opt_state(parameters, opt_state, momentum, optimizer):
    """``opt_state`` must have the structure, shapes and dtypes the options give a new run (both
    as jax sees them: Python scalars and numpy float64 canonicalised alike)."""
    expected = jax.eval_shape(partial(_initial_opt_state, momentum=momentum,
                                      optimizer=optimizer), parameters)
    try:
        got = jax.eval_shape(lambda tree: tree, opt_state)
    except TypeError:
        got = None
    leaves, tree = jax.tree.flatten(got)
    want, want_tree = jax.tree.flatten(expected)
    if got is None and opt_state is not None or tree != want_tree or any(
            (a.shape, a.dtype) != (b.shape, b.dtype) for a, b in zip(leaves, want, strict=True)):
        kind = ("the optimizer's state" if optimizer is not None
                else "a momentum trace" if momentum else "None")
        raise OptionError(f"state.opt_state does not fit these options, which need {kind}: "
                          f"build the state with init_train_state(parameters, momentum=..., "
                          f"optimizer=...) using the same options")


def _static(hidden_activation):
    """Lists are not hashable: jit's static arguments take the same names as a tuple."""
    return tuple(hidden_activation) if isinstance(hidden_activation, list) else hidden_activation


def _initial_parameters(layers_dims, init, seed, course_scheme, dtype):
    check_count(seed, "seed")
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
    if isinstance(n_h, bool) or not isinstance(n_h, numbers.Integral) or n_h < 1:
        raise OptionError(f"n_h (hidden units) must be a positive integer; got {n_h!r}")
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
    check_network(X, parameters)  # here: the compiled forward checks only at its first trace
    hidden_activation = _static(hidden_activation)
    layer_activations(hidden_activation, len(parameters) // 2)
    return _forward(X, parameters, hidden_activation)


def predict_labels(X, parameters, hidden_activation="relu"):
    """0/1 predictions (n[L], m): 1 where the output probability is above 0.5, as the course."""
    return (np.asarray(predict_proba(X, parameters, hidden_activation)) > 0.5).astype(np.int64)


def accuracy(p, y):
    """Fraction of predictions equal to the labels (count / m)."""
    check_labels(p, "p")
    check_labels(y, "y")
    p, y = np.asarray(p), np.asarray(y)
    check_same_shape(y, p, "y", "p")
    return float(np.mean(p == y))


def predict(X, y, parameters, hidden_activation="relu"):
    """Print ``Accuracy: ...`` for the 0.5-threshold predictions on (X, y) and return it."""
    check_problem(X, y, parameters, "y")
    result = accuracy(predict_labels(X, parameters, hidden_activation), y)
    print("Accuracy: " + str(result))
    return result
