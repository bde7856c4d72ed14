"""Training in compiled loops: :func:`fit` and :func:`train_steps`, faces of the one driver.

Every option is a field of :class:`~jaxdnn.train.config.TrainConfig`: give a configuration, or
the same names as keywords (which build one). The whole gradient-descent loop runs as compiled
segments of a ``lax.while_loop`` under ``jax.jit`` (:mod:`jaxdnn.train.driver`): no Python loop
and no host round trip per iteration. Each iteration computes the cost and gradients of the
current parameters on the full batch (the stable path, :func:`~jaxdnn.cost_and_grads`) or on a
mini-batch, then updates them; the cost of every iteration is recorded (``costs[::100]`` is the
course's list).

Two loops compute the full-batch iterates: the plain loop and the Gram loop
(:mod:`jaxdnn.train.gram`), which never touches X inside the loop. ``gram="auto"`` takes the
Gram loop where it is exact (built-in descent, no L2, dropout or monitored set) and cheaper
(n[0] > m).
"""

import warnings

import numpy as np

from ..core import numeric
from ..errors import InputTypeError, OptionError
from . import driver, reports
from .config import TrainConfig
from .loop import initial_opt_state
from .state import TrainState


class _Result(tuple):
    """A tuple of the course's two values with more results as attributes. Given ``legacy``
    (a call that asked for monitored costs, which used to return them as a third value) it
    still holds three, for one more release, and unpacking it warns: read the attributes."""

    def __new__(cls, first, costs, *, legacy=False, **info):
        result = super().__new__(cls, (first, costs, info["monitored"]) if legacy else
                                 (first, costs))
        result.__dict__.update(costs=costs, _legacy=legacy, **info)
        return result

    def __iter__(self):
        if self._legacy:
            warnings.warn("a call with monitor= returns a result that unpacks as two values: "
                          "read the monitored costs as result.monitored (unpacking three "
                          "values works for one more release)", DeprecationWarning,
                          stacklevel=2)
        return super().__iter__()


class FitResult(_Result):
    """What :func:`fit` returns: it unpacks as the course's ``(parameters, costs)``.

    Attributes:
      parameters: the trained course dict (with early stopping: the best on the validation
        set).
      costs: every iteration's cost (full batches: the cost of the parameters *before* that
        iteration's update, as the course records it), or with mini-batches every epoch's
        (the course's ``cost_total / m``, :func:`~jaxdnn.epoch_costs`).
      monitored: (epochs, sets) costs of the ``monitor`` sets after every epoch.
      validation_costs: the validation set's cost after every epoch (None without one).
      best_epoch: the epoch whose parameters were returned (early stopping), else None.
      stopped_epoch: the epoch after which early stopping stopped, or None.
      state: the :class:`~jaxdnn.TrainState` of the last iteration, to continue the run.
      path: the loop that trained: ``"gram"``, ``"plain"``, ``"batches"`` or ``"blocks"``.
    """

    def __new__(cls, parameters, costs, **info):
        return super().__new__(cls, parameters, costs, parameters=parameters, **info)


class StepsResult(_Result):
    """What :func:`train_steps` returns: it unpacks as ``(state, costs)``; also ``.monitored``,
    ``.validation_costs``, ``.stopped`` (the iteration early stopping stopped after, or None)
    and ``.best_parameters`` (early stopping's best so far, or None)."""

    def __new__(cls, state, costs, **info):
        return super().__new__(cls, state, costs, state=state, **info)


def _checked_state(state):
    if not isinstance(state, TrainState):
        raise InputTypeError(f"state must be a TrainState (init_train_state(parameters)); "
                             f"got {type(state).__name__}")
    return state._replace(iteration=numeric.count(state.iteration, "state.iteration"))


def _prepare(X, Y, parameters, config, key, monitor, validation_data, mesh, steps=None):
    return driver.prepare(X, Y, parameters, config, key=key, monitor=monitor,
                          validation_data=validation_data, placement=mesh, steps=steps,
                          reporting=bool(config.on_cost or config.print_cost))


def _drive(run, state, fresh):
    """Drive ``run`` from ``state`` for its steps; a divergence is raised, naming where it
    overflowed."""
    on_cost = run.config.on_cost or reports.printer(run.config.print_cost, run.batched,
                                                    run.steps // run.per_epoch)
    if state.iteration + run.steps > 2**31 - 1:
        raise OptionError(f"state.iteration + num_iterations must stay below 2**31 (the loop "
                          f"counts in int32); got {state.iteration} + {run.steps}")
    try:
        outcome = driver.drive(run, driver.start_state(run, state), run.steps, on_cost=on_cost)
    finally:
        if isinstance(on_cost, reports.Progress):
            on_cost.close()  # the bar's line ends, where it got to
    if outcome.diverged >= 0:
        raise driver.diverged(run, outcome, fresh)
    return outcome


def train_steps(X, Y, state, num_iterations, config=None, *, key=None, monitor=(),
                validation_data=None, mesh=None, **options):
    """Continue the run ``state`` for ``num_iterations`` steps: returns a result that unpacks
    as ``(state, costs)``.

    ``costs`` holds every iteration's cost (with mini-batches, its batch's). A run split into
    calls of any lengths, and resumed from checkpoints of its state
    (:func:`~jaxdnn.save_checkpoint`) anywhere, mid-epoch included, gives the same parameters
    and costs bit for bit as one call (the Gram path's state and early stopping's travel in
    ``state.loop``). ``state.opt_state`` must be of the kind the options need (None for plain
    gradient descent, a trace for momentum, the optimizer's state): build it with
    :func:`init_train_state`. Options (a :class:`~jaxdnn.train.config.TrainConfig` or its
    fields as keywords), ``key``, ``monitor``, ``validation_data`` and ``mesh`` are those of
    :func:`fit`; a schedule other than constant needs its ``decay_steps`` here (the run's
    length is not known). ``compiled_length`` (default: ``num_iterations`` rounded up to a
    power of two) lets calls of different lengths share one compiled program. With early
    stopping, ``.stopped`` is the iteration it stopped after and the state's parameters are
    the last iterate (``.best_parameters`` the best).
    """
    config = TrainConfig.of(config, **options)
    state = _checked_state(state)
    steps = numeric.iterations(num_iterations)
    if config.learning_rate_at(0) is not None and config.decay_steps is None and \
            config.schedule != "constant":
        raise OptionError("train_steps continues a run of unknown length: give the schedule's "
                          "decay_steps")
    run = _prepare(X, Y, state.parameters, config, key, monitor, validation_data, mesh, steps)
    outcome = _drive(run, state, fresh=state.iteration == 0)
    early = (outcome.state.loop or {}).get("early")
    return StepsResult(outcome.state, outcome.costs, legacy=bool(monitor),
                       monitored=outcome.monitored[:, :len(monitor)],
                       validation_costs=(outcome.monitored[:, -1] if run.validation is not None
                                         else None),
                       stopped=outcome.stopped if outcome.stopped >= 0 else None,
                       best_parameters=early["best"] if early else None)


def fit(X, Y, parameters, config=None, *, key=None, monitor=(), validation_data=None,
        mesh=None, **options):
    """Train ``parameters`` on (X, Y): full-batch gradient descent for ``num_iterations`` steps
    (3000 unless given), or ``num_epochs`` epochs of mini-batches.

    Args:
      X: (n[0], m) inputs; integer or boolean arrays are converted to the parameters' dtype.
      Y: (n[L], m) labels in {0, 1}; for a softmax output, one-hot (K, m) or class ids (1, m).
      parameters: the initial course dict; its dtype is the training dtype.
      config: a :class:`~jaxdnn.train.config.TrainConfig`; or give its fields as keywords:
        ``hidden_activation``, ``output`` (``"sigmoid"`` or ``"softmax"``), ``learning_rate``
        (a number or an optax schedule), ``num_iterations``, ``num_epochs``,
        ``mini_batch_size``, ``momentum`` (heavy-ball: the steps of
        ``optax.sgd(lr, momentum)``), ``optimizer`` (an optax ``GradientTransformation``, or
        ``"adam"``/``"rmsprop"``; build one once and reuse it: it is static), ``lambd`` (the
        course's L2), ``keep_prob`` (inverted dropout on the hidden layers), ``gram``
        (``"auto"``, True, False), ``schedule`` (``"constant"``, ``"exponential"``,
        ``"cosine"``) with ``decay_steps``, ``decay_rate`` and ``warmup_steps``,
        ``validation_fraction`` with ``validation_seed``, ``patience`` and ``min_delta``
        (early stopping), ``print_cost``, ``on_cost``, ``donate``, ``compiled_length``.
      key: a ``jax.random`` key, for mini-batches (their order) and dropout (its masks):
        epoch e's order is ``fold_in(shuffle_key, e)`` and iteration i's masks
        ``fold_in(dropout_key, i)`` (:mod:`jaxdnn.train.batches`), so segments and resumed
        runs draw the same ones.
      monitor: (X, Y) pairs (a test set, say) whose cross-entropy is computed at the end of
        every epoch, inside the loop (``result.monitored``).
      validation_data: a held-out (X, Y) to validate on after every epoch (instead of
        ``validation_fraction``); with ``patience``, training stops after that many epochs
        without an improvement of ``min_delta`` and returns the best parameters.
      mesh: data parallelism (:mod:`jaxdnn.train.mesh`): a device count or a 1-D
        ``jax.sharding.Mesh`` to shard the examples over, the parameters replicated.

    Returns:
      A :class:`FitResult` that unpacks as ``(parameters, costs)``.

    Raises:
      ShapeError, InputTypeError, DataError, OptionError, NameLookupError: bad arrays or options
        (see the documentation's "Errors and guarantees"), before any compilation.
      TrainingDiverged: at the first iteration whose cost or updated parameters are not finite
        (a learning rate that is too large, say), naming where that step overflowed; it
        carries that iteration, the last finite parameters and the costs so far.
    """
    config = TrainConfig.of(config, **options)
    run = _prepare(X, Y, parameters, config, key, monitor, validation_data, mesh)
    state = TrainState(parameters, initial_opt_state(parameters, config.momentum,
                                                     run.program.optimizer), 0)
    outcome = _drive(run, state, fresh=True)
    return fit_result(run, outcome, len(monitor))


def fit_result(run, outcome, monitors=0):
    """The :class:`FitResult` of a run driven from its first iteration: every epoch's cost, the
    ``monitors`` sets' and the validation set's costs at each epoch's end, and with early
    stopping the best parameters, their epoch and the one it stopped after."""
    per_epoch = run.per_epoch
    early = (outcome.state.loop or {}).get("early")
    rows = outcome.monitored[per_epoch - 1::per_epoch] if run.batched else outcome.monitored
    validation = rows[:, -1] if run.validation is not None else None
    best = (int(np.argmin(np.where(np.isnan(validation), np.inf, validation)))
            if early is not None and len(validation) else None)
    return FitResult(early["best"] if early else outcome.state.parameters,
                     outcome.epochs if run.batched else outcome.costs, legacy=bool(monitors),
                     monitored=rows[:, :monitors], validation_costs=validation, best_epoch=best,
                     stopped_epoch=(outcome.stopped // per_epoch if outcome.stopped >= 0
                                    else None), state=outcome.state, path=run.program.body.name)
