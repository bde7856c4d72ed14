"""Compiled training loops, prediction and accuracy.

The whole gradient-descent loop is one ``jax.lax.scan`` under ``jax.jit``: no Python loop and no
host round trip per iteration. Each iteration computes the cost and gradients of the current
parameters on the full batch (the stable path, :func:`~jaxdnn.cost_and_grads`), then updates
them. The cost of every iteration is recorded; ``costs[::100]`` is the course's list. With
``print_cost=True`` a debug callback prints the course's line every 100 iterations from inside the
compiled loop.

Updates are the course's ``update_parameters`` (plain gradient descent, optionally with
heavy-ball momentum) unless an optax ``GradientTransformation`` is given.

Two loops compute the same iterates: :func:`_plain_loop` here, and the Gram loop
(:mod:`jaxdnn.gram`), which never touches X inside the loop. ``fit(gram="auto")`` takes the Gram
loop where it is exact (built-in descent, no L2 or dropout) and cheaper (n[0] > m):
:func:`_takes_gram`.
"""

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _checks as check
from . import _layout
from ._loop import Options, cost_printer, descend, guarded_scan, report
from .errors import InputTypeError, OptionError, TrainingDiverged
from .gram import gram_loop
from .model import _cost_and_grads, _dropout_masks, _forward, layer_activations
from .outputs import get_output


@partial(jax.jit, static_argnames="options", donate_argnames=("parameters", "opt_state"))
def _plain_loop(X, Y, parameters, opt_state, start, learning_rate, momentum, key, options):
    """Every iteration runs the whole network forward and backward on X; under dropout with
    iteration i's masks, drawn from ``fold_in(key, i)``."""
    def step(carry, i):
        parameters, state = carry
        layers = _layout.to_layers(parameters)
        masks = (_dropout_masks(jax.random.fold_in(key, i), options.keep_prob, layers,
                                X.shape[1]) if options.keep_prob else ())
        cost, grads = _cost_and_grads(X, Y, layers, options.activations, options.lambd, masks)
        report(options.on_cost, i, cost)
        grads = _layout.to_dict(grads)  # keyed like the parameters, as optax wants them
        if options.optimizer is None:
            parameters, state = descend(parameters, grads, state, learning_rate, momentum)
        else:
            updates, state = options.optimizer.update(grads, state, parameters)
            parameters = optax.apply_updates(parameters, updates)
        return (parameters, state), cost

    (parameters, opt_state), costs, diverged = guarded_scan(step, (parameters, opt_state), start,
                                                            options.num_iterations)
    return parameters, opt_state, costs, diverged


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
    check.parameters(parameters)
    check.finite_parameters(parameters)
    check.optimizer(momentum, optimizer)
    return TrainState(parameters, _initial_opt_state(parameters, momentum, optimizer), 0)


def _initial_opt_state(parameters, momentum, optimizer):
    if optimizer is not None:
        return optimizer.init(parameters)
    return jax.tree.map(jnp.zeros_like, parameters) if momentum else None


def train_steps(X, Y, state, num_iterations, *, hidden_activation="relu", output="sigmoid",
                learning_rate=0.0075, momentum=0.0, lambd=0.0, keep_prob=1.0, key=None,
                optimizer=None, gram="auto", print_cost=False, on_cost=None, donate=False):
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
    layers, Y = check.problem(X, Y, state.parameters, get_output(output))
    check.training(num_iterations, learning_rate, momentum, optimizer, gram, on_cost, lambd)
    keep = check.keep_prob(keep_prob, key, len(layers))
    if gram is True and keep:
        raise OptionError("gram=True trains without dropout (keep_prob=1)")
    state = state._replace(iteration=check.count(state.iteration, "state.iteration"))
    if state.iteration + int(num_iterations) >= 2**31:
        raise OptionError(f"state.iteration + num_iterations must stay below 2**31 (the "
                          f"loop counts in int32); got {state.iteration} + {num_iterations}")
    kind = ("the optimizer's state" if optimizer is not None
            else "a momentum trace" if momentum else "None")
    check.opt_state(state.opt_state, jax.eval_shape(
        partial(_initial_opt_state, momentum=momentum, optimizer=optimizer), state.parameters),
        kind)
    options = Options(layer_activations(_static(hidden_activation), len(layers), output),
                      int(num_iterations), optimizer,
                      on_cost or (cost_printer() if print_cost else None), float(lambd), keep)
    return _run(X, Y, state, options, learning_rate, momentum, gram, donate, key)


def fit(X, Y, parameters, *, hidden_activation="relu", output="sigmoid", learning_rate=0.0075,
        num_iterations=3000, momentum=0.0, lambd=0.0, keep_prob=1.0, key=None, optimizer=None,
        gram="auto", print_cost=False, on_cost=None, donate=False):
    """Train ``parameters`` on (X, Y) for ``num_iterations`` full-batch steps, in one compiled loop.

    Args:
      X: (n[0], m) inputs; integer or boolean arrays are converted to the parameters' dtype.
      Y: (n[L], m) labels in {0, 1}; for a softmax output, one-hot (K, m) or class ids (1, m).
      parameters: the initial course dict; its dtype is the training dtype.
      hidden_activation: a name, or a tuple of names per hidden layer.
      output: the output layer, ``"sigmoid"`` (the course's) or ``"softmax"`` for K classes.
      learning_rate: of the built-in gradient descent (ignored when ``optimizer`` is given).
      num_iterations: number of steps.
      momentum: heavy-ball momentum of the built-in gradient descent (0: the course's
        ``update_parameters``; otherwise the same steps as ``optax.sgd(lr, momentum)``).
      lambd: L2 regularisation, the course's: the cost gains ``lambd / (2 m) sum ||W[l]||^2``
        and every ``dW`` gains ``lambd / m * W`` (biases are not penalised). Trained on the
        plain loop.
      keep_prob, key: inverted dropout on the hidden layers (:func:`~jaxdnn.L_model_forward`);
        iteration i draws its masks from ``fold_in(key, i)``, so segments and resumed runs draw
        the same ones. Trained on the plain loop; predictions never drop units.
      optimizer: an optax ``GradientTransformation`` instead of the built-in descent. It is a
        static argument of the compiled loop: build it once and reuse it, or every call compiles.
      gram: train the first layer through the Gram matrix of X (:mod:`jaxdnn.gram`): the same
        iterates, far cheaper when n[0] > m. ``"auto"`` uses it where it is exact and cheaper
        (:func:`_takes_gram`): the built-in descent (not an optax optimizer), no L2 or dropout,
        and n[0] > m, in float32 and float64; ``True`` insists on it.
      print_cost: print the course's ``Cost after iteration i: c`` every 100 iterations.
      on_cost: instead, any ``on_cost(i, cost)`` called on the host every 100 iterations.
      donate: let the compiled loop reuse the buffers of ``parameters`` (which are then
        deleted: only for parameters nobody uses afterwards); otherwise it trains in a copy.

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
    check.parameters(parameters)
    check.optimizer(momentum, optimizer)
    state = TrainState(parameters, _initial_opt_state(parameters, momentum, optimizer), 0)
    state, costs = train_steps(X, Y, state, num_iterations, hidden_activation=hidden_activation,
                               output=output, learning_rate=learning_rate, momentum=momentum,
                               lambd=lambd, keep_prob=keep_prob, key=key,
                               optimizer=optimizer, gram=gram, print_cost=print_cost,
                               on_cost=on_cost, donate=donate)
    return state.parameters, costs


def _run(X, Y, state, options, learning_rate, momentum, gram, donate, key):
    dtype = state.parameters["W1"].dtype
    use_gram = _takes_gram(np.shape(X), options.optimizer, options.lambd,
                           bool(options.keep_prob), gram)
    carry = (state.parameters, state.opt_state)
    if not donate:  # the loops train in the buffers they are given: give them copies
        carry = jax.tree.map(jnp.array, carry)
    args = (jnp.asarray(X, dtype), jnp.asarray(Y, dtype), *carry,
            jnp.asarray(state.iteration, jnp.int32), jnp.asarray(learning_rate, dtype),
            jnp.asarray(momentum, dtype))
    parameters, opt_state, costs, diverged = (
        gram_loop(*args, options=options) if use_gram
        else _plain_loop(*args, key if options.keep_prob else None, options=options))
    costs, diverged = np.asarray(costs), int(diverged)
    if diverged >= 0:
        raise TrainingDiverged(diverged, parameters, costs[:diverged - state.iteration + 1])
    return TrainState(parameters, opt_state, state.iteration + options.num_iterations), costs


def _takes_gram(shape, optimizer=None, lambd=0.0, dropout=False, gram="auto"):
    """Whether :func:`fit` trains X of ``shape`` (n[0], m) through the Gram loop: ``gram=True``,
    or ``"auto"`` with the built-in descent, no L2, no dropout, and n[0] > m."""
    return gram is True or (gram == "auto" and optimizer is None and not lambd and not dropout
                            and shape[0] > shape[1])


def _static(hidden_activation):
    """Lists are not hashable: jit's static arguments take the same names as a tuple."""
    return tuple(hidden_activation) if isinstance(hidden_activation, list) else hidden_activation


@partial(jax.jit, static_argnames="activations")
def _probabilities(X, layers, activations):
    AL, caches = _forward(X, layers, activations)
    return AL, caches[-1][1]


def predict_proba(X, parameters, hidden_activation="relu", *, output="sigmoid"):
    """The network's output probabilities AL, (n[L], m)."""
    layers = check.network(X, parameters)
    check.finite(X, "X")
    check.finite_parameters(parameters)
    return _predict_proba(X, layers, hidden_activation, output)


def _predict_proba(X, layers, hidden_activation, output):
    activations = layer_activations(_static(hidden_activation), len(layers), output)
    check.outputs(layers, activations[-1])
    AL, ZL = _probabilities(jnp.asarray(X, layers[0][0].dtype), layers, activations)
    check.finite(ZL, f"Z{len(layers)}")  # finite inputs can still overflow on the way
    return AL


def predict_labels(X, parameters, hidden_activation="relu", *, output="sigmoid"):
    """The predicted labels: for a sigmoid, 0/1 (n[L], m), 1 where the output probability is
    above 0.5, as the course; for a softmax, the class ids (1, m) of the largest probability."""
    return _labels(predict_proba(X, parameters, hidden_activation, output=output), output)


def _labels(AL, output):
    return np.asarray(get_output(output).labels(AL)).astype(np.int64)


def accuracy(p, y, num_classes=2):
    """Fraction of predictions equal to the labels (count / m); both are class ids (0 or 1 by
    default, 0..num_classes-1 otherwise) of one shape."""
    K = check.count(num_classes, "num_classes")
    check.class_ids(p, "p", K)
    check.class_ids(y, "y", K)
    check.same_shape(y, p, "y", "p")
    return _accuracy(p, y)


def _accuracy(p, y):
    return float(np.mean(np.asarray(p) == np.asarray(y)))


def predict(X, y, parameters, hidden_activation="relu", *, output="sigmoid"):
    """Print ``Accuracy: ...`` for the predicted labels on (X, y) and return it; y as
    :func:`fit` takes it."""
    layers, Y = check.problem(X, y, parameters, get_output(output), "y")
    predicted = _labels(_predict_proba(X, layers, hidden_activation, output), output)
    result = _accuracy(predicted, _class_ids(Y, output))
    print("Accuracy: " + str(result))
    return result


def _class_ids(Y, output):
    """Labels as :func:`predict_labels` gives them: one-hot columns become class ids."""
    return np.argmax(np.asarray(Y), axis=0)[None] if get_output(output).one_hot else Y
