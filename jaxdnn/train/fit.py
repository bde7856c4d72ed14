"""Training in one compiled loop: :func:`fit` and :func:`train_steps`.

The whole gradient-descent loop is one ``jax.lax.fori_loop`` under ``jax.jit`` (a traced count
of iterations, up to the length it was compiled for): no Python loop and no host round trip per
iteration. Each iteration computes the cost and gradients of the current
parameters on the full batch (the stable path, :func:`~jaxdnn.cost_and_grads`), then updates
them. The cost of every iteration is recorded; ``costs[::100]`` is the course's list. With
``print_cost=True`` a debug callback prints the course's line every 100 iterations from inside the
compiled loop.

Updates are the course's ``update_parameters`` (plain gradient descent, optionally with
heavy-ball momentum) unless an optax ``GradientTransformation`` is given.

Two loops compute the same iterates: :func:`plain_loop` here, and the Gram loop
(:mod:`jaxdnn.train.gram`), which never touches X inside the loop. ``fit(gram="auto")`` takes the
Gram loop where it is exact (built-in descent, no L2 or dropout) and cheaper (n[0] > m):
:func:`takes_gram`.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks as check
from ..core import layout
from ..core.network import layer_activations, locate_overflow
from ..core.outputs import get_output
from ..errors import InputTypeError, NumericalOverflow, OptionError, TrainingDiverged
from . import config
from .batches import batch_loop, batches_per_epoch, epoch_costs
from .gram import gram_loop
from .mesh import on_devices
from .mesh import plan as data_plan
from .state import TrainState, initial_opt_state
from .step import (
    COST_LINES,
    Options,
    cost_printer,
    guarded_scan,
    monitored_costs,
    report,
    reraise,
    train_step,
)


@partial(jax.jit, static_argnames="options", donate_argnames=("parameters", "opt_state"))
def plain_loop(X, Y, parameters, opt_state, start, count, learning_rate, momentum, key,
                monitor, options):
    """Every iteration runs the whole network forward and backward on X (an epoch of one batch);
    under dropout with iteration i's masks, drawn from ``fold_in(key, i)``. Each (X, Y) of
    ``monitor`` is costed after every update."""
    def step(carry, i):
        carry, cost = train_step(X, Y, carry, i, key, learning_rate, momentum, options)
        report(options.on_cost, i, cost)
        return carry, (cost, monitored_costs(carry[0], monitor, options.activations)
                       if monitor else jnp.zeros(0, cost.dtype))

    carry, (costs, monitored), diverged = guarded_scan(step, (parameters, opt_state), start,
                                                       options.num_iterations, count)
    return *carry, costs, monitored, diverged


def train_steps(X, Y, state, num_iterations, *, hidden_activation="relu", output="sigmoid",
                learning_rate=0.0075, momentum=0.0, lambd=0.0, keep_prob=1.0, key=None,
                optimizer=None, mini_batch_size=None, monitor=(), gram="auto", print_cost=False,
                on_cost=None, donate=False, mesh=None, compiled_length=None):
    """Continue the run ``state`` for ``num_iterations`` steps: returns ``(state, costs)``, and
    the monitored costs when ``monitor`` is given.

    The compiled loop runs any number of iterations up to its length, ``compiled_length``
    (by default ``num_iterations`` rounded up to a power of two), so segments of different
    lengths share one program: give the longest segment's length to compile once per run.

    Two runs split into segments at the same iterations give the same parameters bit for bit,
    whether or not one of them was stopped and resumed from a checkpoint of its state
    (:func:`~jaxdnn.save_checkpoint`). Against one uninterrupted :func:`fit` they agree to
    rounding: the plain and mini-batch loops usually to the bit, the Gram loop (which recomputes
    Z1 from W1 at each segment start) to about 1e-16. With mini-batches a step is one batch, and
    a segment may end anywhere in an epoch.

    ``state.opt_state`` must be of the kind the options need (None for plain gradient descent,
    a trace for momentum, the optimizer's state): build it with :func:`init_train_state`.
    ``costs`` holds every iteration's cost (with mini-batches, its batch's); the monitored
    costs are an array (num_iterations, len(monitor)), NaN where an epoch does not end.
    Options and errors are otherwise those of :func:`fit`.
    """
    if not isinstance(state, TrainState):
        raise InputTypeError(f"state must be a TrainState (init_train_state(parameters)); "
                             f"got {type(state).__name__}")
    layers, Y = check.problem(X, Y, state.parameters, get_output(output))
    check.x64(layers[0][0].dtype)
    config.training(num_iterations, learning_rate, momentum, optimizer, gram, on_cost, lambd)
    length = _compiled_length(num_iterations, compiled_length)
    keep = check.keep_prob(keep_prob, key, len(layers))
    plan = data_plan(X, mesh, reports=bool(on_cost or print_cost))
    m = plan.m if plan else X.shape[1]
    size = check.mini_batch_size(mini_batch_size, m)
    batched = size < m  # one batch of all m examples is full-batch descent
    if batched:
        check.shuffle_key(key)
    if gram is True and (keep or batched or monitor):
        raise OptionError("gram=True trains without dropout, mini-batches or monitored sets: "
                          "full-batch descent only")
    monitor = _monitored(monitor, state.parameters, output)
    state = state._replace(iteration=check.count(state.iteration, "state.iteration"))
    if state.iteration + int(num_iterations) >= 2**31:
        raise OptionError(f"state.iteration + num_iterations must stay below 2**31 (the "
                          f"loop counts in int32); got {state.iteration} + {num_iterations}")
    kind = ("the optimizer's state" if optimizer is not None
            else "a momentum trace" if momentum else "None")
    config.opt_state(state.opt_state, jax.eval_shape(
        partial(initial_opt_state, momentum=momentum, optimizer=optimizer), state.parameters),
        kind)
    options = Options(layer_activations(hidden_activation, len(layers), output),
                      length, optimizer,
                      on_cost or (cost_printer(COST_LINES[batched]) if print_cost else None),
                      float(lambd), keep, size if batched else 0)
    state, costs, monitored = _run(X, Y, state, int(num_iterations), options, learning_rate,
                                   momentum, gram, donate, key, monitor, plan)
    return (state, costs, monitored) if monitor else (state, costs)


def _compiled_length(num_iterations, compiled_length=None):
    """The compiled loop's length for a call of ``num_iterations``: ``compiled_length`` if
    given (checked to hold them), else the next power of two."""
    n = int(num_iterations)
    if compiled_length is None:
        return 1 << max(n - 1, 0).bit_length()
    length = check.iterations(compiled_length, "compiled_length")
    if length < max(n, 1):
        raise OptionError(f"compiled_length must be at least 1 and at least num_iterations "
                          f"({n}); got {compiled_length}")
    return length


def _monitored(monitor, parameters, output):
    """The (X, Y) pairs to cost during training, checked like the training data."""
    if not isinstance(monitor, (list, tuple)) or not all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in monitor):
        raise InputTypeError("monitor must be a sequence of (X, Y) pairs")
    dtype = parameters["W1"].dtype
    pairs = []
    for k, (X, Y) in enumerate(monitor):
        _, Y = check.problem(X, Y, parameters, get_output(output), f"monitor[{k}]'s Y",
                             f"monitor[{k}]'s X")
        pairs.append((jnp.asarray(X, dtype), jnp.asarray(Y, dtype)))
    return tuple(pairs)


def fit(X, Y, parameters, *, hidden_activation="relu", output="sigmoid", learning_rate=0.0075,
        num_iterations=None, num_epochs=None, mini_batch_size=None, momentum=0.0, lambd=0.0,
        keep_prob=1.0, key=None, optimizer=None, monitor=(), gram="auto", print_cost=False,
        on_cost=None, donate=False, mesh=None):
    """Train ``parameters`` on (X, Y) in one compiled loop: full-batch gradient descent for
    ``num_iterations`` steps (3000 unless given), or ``num_epochs`` epochs of mini-batches.

    Args:
      X: (n[0], m) inputs; integer or boolean arrays are converted to the parameters' dtype.
      Y: (n[L], m) labels in {0, 1}; for a softmax output, one-hot (K, m) or class ids (1, m).
      parameters: the initial course dict; its dtype is the training dtype.
      hidden_activation: a name, or a tuple of names per hidden layer.
      output: the output layer, ``"sigmoid"`` (the course's) or ``"softmax"`` for K classes.
      learning_rate: of the built-in gradient descent (ignored when ``optimizer`` is given).
      num_iterations: number of full-batch steps (default 3000).
      num_epochs: number of passes over the data; with full batches the same as
        ``num_iterations`` (give one of the two), with mini-batches the way to say how long.
      mini_batch_size: train on shuffled mini-batches of this many examples, 1 to m, drawn with
        ``key`` (:mod:`jaxdnn.batches`); None (or m) for full batches.
      momentum: heavy-ball momentum of the built-in gradient descent (0: the course's
        ``update_parameters``; otherwise the same steps as ``optax.sgd(lr, momentum)``).
      lambd: L2 regularisation, the course's: the cost gains ``lambd / (2 m) sum ||W[l]||^2``
        and every ``dW`` gains ``lambd / m * W`` (biases are not penalised; m is the batch's).
      keep_prob, key: inverted dropout on the hidden layers (:func:`~jaxdnn.L_model_forward`);
        iteration i draws its masks from ``fold_in(key, i)`` (mini-batches: see
        :mod:`jaxdnn.batches`), so segments and resumed runs draw the same ones. Predictions
        never drop units.
      optimizer: an optax ``GradientTransformation`` instead of the built-in descent. It is a
        static argument of the compiled loop: build it once and reuse it, or every call compiles.
      monitor: (X, Y) pairs (a test set, say) whose cross-entropy is computed at the end of
        every epoch, inside the loop; then ``fit`` also returns them.
      gram: train the first layer through the Gram matrix of X (:mod:`jaxdnn.train.gram`): the same
        iterates, far cheaper when n[0] > m. ``"auto"`` uses it where it is exact and cheaper
        (:func:`takes_gram`): full batches, the built-in descent (not an optax optimizer), no L2
        or dropout, nothing monitored, and n[0] > m, in float32 and float64; ``True`` insists
        on it.
      print_cost: print the course's ``Cost after iteration i: c`` every 100 iterations (with
        mini-batches ``Cost after epoch e: c`` every 100 epochs).
      on_cost: instead, any ``on_cost(i, cost)`` called on the host at those points.
      donate: let the compiled loop reuse the buffers of ``parameters`` (which are then
        deleted: only for parameters nobody uses afterwards); otherwise it trains in a copy.
      mesh: data parallelism (:mod:`jaxdnn.mesh`): a device count or a 1-D
        ``jax.sharding.Mesh`` (:func:`~jaxdnn.data_mesh`) to shard the examples over, the
        parameters replicated; the same iterates as one device, up to the order of the sums.
        In a run of several processes X and Y are this process's columns
        (:func:`~jaxdnn.local_columns`).

    Returns:
      ``(parameters, costs)``, and ``monitored`` when ``monitor`` is given: the trained dict,
      a numpy array with every epoch's cost (with full batches: every iteration's, the cost of
      the parameters *before* that iteration's update, as the course records it; with
      mini-batches the course's ``cost_total / m``, :func:`~jaxdnn.batches.epoch_costs`), and
      an array (epochs, len(monitor)) of the monitored sets' costs after each epoch.

    Raises:
      ShapeError, InputTypeError, DataError, OptionError, NameLookupError: bad arrays or options
        (see "Errors and guarantees" in the README), before any compilation.
      TrainingDiverged: at the first iteration whose cost or updated parameters are not finite
        (a learning rate that is too large, say); it carries that iteration, the last finite
        parameters and the costs so far. The compiled loop keeps running to its end but changes
        nothing after that point.
    """
    check.parameters(parameters)
    config.optimizer(momentum, optimizer)
    plan = data_plan(X, mesh)
    m = check.array(X, "X")[1] if plan is None else plan.m
    size = check.mini_batch_size(mini_batch_size, m)
    per_epoch = batches_per_epoch(m, size)
    if num_iterations is not None and num_epochs is not None:
        raise OptionError("give num_iterations or num_epochs, not both")
    if per_epoch > 1 and num_iterations is not None:
        raise OptionError("mini-batch training counts in epochs: give num_epochs, not "
                          "num_iterations")
    if per_epoch > 1 and num_epochs is None:
        raise OptionError("mini-batch training needs num_epochs")
    steps = (3000 if num_epochs is None and num_iterations is None
             else num_iterations if num_epochs is None
             else check.count(num_epochs, "num_epochs") * per_epoch)
    state = TrainState(parameters, initial_opt_state(parameters, momentum, optimizer), 0)
    state, costs, *monitored = train_steps(
        X, Y, state, steps, hidden_activation=hidden_activation, output=output,
        learning_rate=learning_rate, momentum=momentum, lambd=lambd, keep_prob=keep_prob,
        key=key, optimizer=optimizer, mini_batch_size=mini_batch_size, monitor=monitor,
        gram=gram, print_cost=print_cost, on_cost=on_cost, donate=donate, mesh=plan)
    if per_epoch > 1:
        costs = epoch_costs(costs, m, size)
        monitored = [values[per_epoch - 1::per_epoch] for values in monitored]
    return state.parameters, costs, *monitored


def _run(X, Y, state, count, options, learning_rate, momentum, gram, donate, key, monitor, plan):
    dtype = state.parameters["W1"].dtype
    shape = (np.shape(X)[0], plan.m if plan else np.shape(X)[1])
    use_gram = takes_gram(shape, options.optimizer, options.lambd,
                           bool(options.keep_prob), gram,
                           not options.mini_batch_size and not monitor)
    carry = (state.parameters, state.opt_state)
    if not donate:  # the loops train in the buffers they are given: give them copies
        carry = jax.tree.map(jnp.array, carry)
    args = (layout.device_array(X, dtype), layout.device_array(Y, dtype), *carry,
            np.int32(state.iteration), np.int32(count), np.asarray(learning_rate, dtype),
            np.asarray(momentum, dtype))
    if use_gram:
        parameters, opt_state, costs, diverged = on_devices(plan, gram_loop, *args,
                                                           options=options)
        monitored = np.zeros((len(costs), 0))
    else:
        loop = batch_loop if options.mini_batch_size else plain_loop
        uses_key = options.mini_batch_size or options.keep_prob
        parameters, opt_state, costs, monitored, diverged = on_devices(
            plan, loop, *args, key if uses_key else None, monitor, options=options)
    costs, monitored = np.asarray(costs)[:count], np.asarray(monitored)[:count]
    diverged = int(diverged)
    reraise(options.on_cost)
    if diverged >= 0:
        raise TrainingDiverged(diverged, parameters, costs[:diverged - state.iteration + 1],
                               _initial_overflow(args[0], args[1], parameters, options)
                               if diverged == state.iteration == 0 else None)
    state = TrainState(parameters, opt_state, state.iteration + count)
    return state, costs, monitored


def _initial_overflow(X, Y, parameters, options):
    """Where a fresh run's first step on the whole of X overflows, or None: then it was the
    update that diverged."""
    try:
        locate_overflow(X, Y, layout.to_layers(parameters), options.activations,
                        options.lambd)
    except NumericalOverflow as e:
        return e.where


def takes_gram(shape, optimizer=None, lambd=0.0, dropout=False, gram="auto",
                full_batch=True):
    """Whether :func:`fit` trains X of ``shape`` (n[0], m) through the Gram loop: ``gram=True``,
    or ``"auto"`` with full batches (nothing monitored), the built-in descent, no L2, no
    dropout, and n[0] > m."""
    return gram is True or (gram == "auto" and full_batch and optimizer is None and not lambd
                            and not dropout and shape[0] > shape[1])


