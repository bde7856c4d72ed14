"""The one driver: what a training run is, whoever starts it.

:func:`~jaxdnn.fit`, :func:`~jaxdnn.train_steps`, :func:`~jaxdnn.fit_many`,
:func:`~jaxdnn.fit_stream` and ``jaxdnn train`` are faces: each builds a :class:`Run` with
:func:`prepare` (the data checked against the :class:`~jaxdnn.train.config.TrainConfig`, once)
and hands it to :func:`drive`, which

* runs the compiled loop (:mod:`jaxdnn.train.loop`) in segments of a traced count: one program
  per run whatever the segments' lengths, and the same bits however the run is cut;
* reports costs one way (:mod:`jaxdnn.train.reports`): after each segment, from the costs the
  loop returned, so a reported cost is the very number the run returns;
* halts at the first iteration that is not finite and says where it overflowed
  (:func:`diverged`); halts early when a validation set stops improving.

A :class:`Feed` says where each segment's examples come from: the same arrays every time (in
memory), or the next block of batches read from a file (:mod:`jaxdnn.train.stream`).
"""

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import numpy as np

from ..core import checks as check
from ..core import kernels, layout, limits, numeric
from ..core.network import layer_activations, locate_overflow
from ..core.outputs import get_output
from ..errors import InputTypeError, NumericalOverflow, OptionError, TrainingDiverged
from . import batches, gram, mesh, reports
from .config import TrainConfig
from .loop import (
    BLOCKS,
    PLAIN,
    Carry,
    Data,
    Hyper,
    Program,
    initial_early,
    initial_opt_state,
    loop,
    run,
    train_step,
)
from .state import TrainState, check_opt_state
from .validation import held_out

MAX_SEGMENT = 2**20
"""The most iterations one compiled call runs (its costs are a buffer of that length)."""


class Run(NamedTuple):
    """A checked run: its configuration, compiled program, placed data and traced values.

    Attributes:
      config: the :class:`~jaxdnn.train.config.TrainConfig`.
      program: the static :class:`~jaxdnn.train.loop.Program`.
      data: the :class:`~jaxdnn.train.loop.Data` every segment trains on (placed on the mesh).
      hyper: the traced learning rate and momentum (the rate set per segment: :meth:`rates`).
      schedule: the learning rate as a function of the iteration (an optax schedule), or None
        for a constant one.
      placement: the mesh's plan, or None for one device.
      steps: the iterations the run trains.
      m: the examples of an epoch; ``per_epoch`` its iterations.
      batched: whether an epoch is several mini-batches.
      validation: the held-out (X, Y) early stopping watches (the last monitored set), or None.
      models: the number of models of a stack trained side by side (None: one model).
      mask: a stack's gradient mask (its padded entries), or None.
      stacked: a stack's compiled call (:func:`jaxdnn.train.stack.run_stacked`).
    """

    config: TrainConfig
    program: Program
    data: Data
    hyper: Hyper
    schedule: Any
    placement: Any
    steps: int
    m: int
    per_epoch: int
    batched: bool
    validation: tuple | None
    models: int | None = None
    mask: dict | None = None
    stacked: Callable | None = None

    def rates(self, start):
        """The learning rate of iterations ``start, ..., start + length - 1``: the schedule's
        values, or the constant rate repeated."""
        dtype = self.hyper.momentum.dtype
        if self.models is not None:
            return self.hyper.learning_rate  # one number per model
        if self.schedule is None:
            return np.full(self.program.length, self.hyper.learning_rate, dtype)
        steps = np.arange(start, start + self.program.length)
        with jax.numpy_dtype_promotion("standard"):  # an optax schedule's own arithmetic
            rates = np.asarray(self.schedule(steps), dtype)
        return np.broadcast_to(rates, steps.shape).copy()

    def call(self, data, carry, start, count):
        """One segment: ``count`` iterations from ``start`` on ``data``."""
        hyper = self.hyper._replace(learning_rate=self.rates(start))
        args = (carry, np.int32(start), np.int32(count), hyper)
        if self.models is not None:
            return self.stacked(data, *args, self.mask, program=self.program)
        if self.placement is None:
            return run(data, *args, program=self.program)
        return mesh.run_on(self.placement, loop, data, *args, program=self.program)


class Feed(NamedTuple):
    """Where segments get their examples: ``segments(start, count, longest)`` yields
    ``(first, n, data)``, n iterations from ``first`` on ``data``."""

    segments: Callable[..., Iterator]


def resident(run, cadences):
    """The feed of a run in memory: the run's own data every segment; a segment ends at every
    multiple of a ``cadences`` entry (a report or a checkpoint is due) and after at most
    ``longest`` iterations."""
    def segments(start, count, longest):
        i, stop = start, start + count
        while i < stop:
            due = min([(i // c + 1) * c for c in cadences], default=stop)
            n = min(stop, due, i + longest) - i
            yield i, n, run.data
            i += n
    return Feed(segments)


# --- preparing a run --------------------------------------------------------------------------


def prepare(X, Y, parameters, config, *, key=None, monitor=(), validation_data=None,
            placement=None, steps=None, reporting=False, every=None, monitor_training=False):
    """The :class:`Run` of ``config`` on (X, Y) from ``parameters``: every array and option
    checked, once. ``steps``: the iterations to train (default: the configuration's, for m
    examples); ``reporting``, ``every``: the run will be cut for reports every PRINT_EVERY
    iterations (epochs with mini-batches) and for checkpoints every ``every`` epochs, which
    sets the longest segment and so the compiled length; ``monitor_training``: cost the
    examples trained on (those not held out) first among the monitored sets."""
    output = get_output(config.output)
    layers, Y = check.problem(X, Y, parameters, output)
    check.finite_in(X, "X", layers[0][0].dtype)
    plan = mesh.plan(X, placement)
    m = plan.m if plan else X.shape[1]
    X, Y, validation = held_out(X, Y, config, validation_data, parameters, output, plan)
    m = X.shape[1] if validation is not None and config.validation_fraction else m
    monitor = ((X, Y),) * monitor_training + _monitored(monitor, parameters, output) + (
        (validation,) if validation else ())
    run = _run(layers, config, m, key, monitor, steps, reporting, every,
               lambda batched, keep: _body(config, (X.shape[0], m), batched, keep, monitor))
    dtype = layers[0][0].dtype
    data = Data(layout.device_array(X, dtype), layout.device_array(Y, dtype),
                key if run.batched or run.program.keep_prob else None, run.data.monitor)
    return run._replace(data=mesh.place(plan, data) if plan else data, placement=plan,
                        validation=validation)


def prepare_blocks(m, parameters, config, *, key, validation_data=None, chunk=1):
    """The :class:`Run` of mini-batch training on m examples fed as blocks of ``chunk``
    batches (:mod:`jaxdnn.train.stream`); its data holds the dropout key and the validation
    set, each segment's examples come from the feed."""
    output = get_output(config.output)
    layers = check.parameters(parameters)
    if config.validates():
        raise OptionError("fit_stream validates on validation_data=(X, Y): validation_fraction "
                          "holds examples out of data in memory")
    validation = held_out(None, None, config, validation_data, parameters, output, None)[2]
    monitor = (validation,) if validation else ()
    run = _run(layers, config, m, key, monitor, None, False, None, lambda *_: BLOCKS,
               length=chunk)
    _, dropout_key = jax.random.split(key)
    return run._replace(data=run.data._replace(key=dropout_key), validation=validation)


def _run(layers, config, m, key, monitor, steps, reporting, every, body, length=None):
    """What :func:`prepare` and :func:`prepare_blocks` share: the options checked against
    the network and m, the program, the traced values and the monitored sets on the device."""
    dtype = layers[0][0].dtype
    check.x64(dtype)
    activations = layer_activations(config.hidden_activation, len(layers), config.output)
    check.outputs(layers, activations[-1])
    size = config.batch_size(m)
    batched, per_epoch = size < m, config.batches_per_epoch(m)
    keep = numeric.keep_prob(config.keep_prob, key, len(layers))
    if batched:
        numeric.shuffle_key(key)
    steps = config.steps(m) if steps is None else steps
    cadences = [c * per_epoch for c in ([reports.PRINT_EVERY] if reporting else []) + (
        [every] if every else [])]
    program = Program(body(batched, keep), activations,
                      length or _length(config, steps, min(cadences, default=steps)),
                      config.transformation(steps), config.lambd, keep,
                      size if batched else 0, per_epoch, len(monitor), config.patience,
                      config.min_delta)
    schedule = config.learning_rate_at(steps) if program.optimizer is None else None
    rate = config.rate if program.optimizer is None and schedule is None else 0.0
    hyper = Hyper(np.asarray(rate, dtype), np.asarray(config.momentum, dtype))
    monitored = tuple((layout.device_array(x, dtype), layout.device_array(y, dtype))
                      for x, y in monitor)
    costs_fit(steps, len(monitor))
    return Run(config, program, Data(None, None, None, monitored), hyper, schedule, None,
               steps, m, per_epoch, batched, None)


def _body(config, shape, batched, keep, monitor):
    """The loop body: mini-batches, the Gram path where it is exact and cheaper
    (:func:`takes_gram`), else the plain loop."""
    if batched:
        return batches.BODY
    exact = config.optimizer is None and not config.lambd and not keep and not monitor
    if config.gram is True and not exact:
        raise OptionError("gram=True needs full batches and the built-in descent, without L2, "
                          "dropout, mini-batches, monitored or validation sets")
    return gram.BODY if takes_gram(shape, config, exact) else PLAIN


def takes_gram(shape, config, exact=True):
    """Whether a run on X of ``shape`` (n[0], m) trains through the Gram loop: ``gram=True``, or
    ``"auto"`` where it is ``exact`` (full batches, the built-in descent, no L2, dropout or
    monitored sets) and cheaper (n[0] > m)."""
    return config.gram is True or (config.gram == "auto" and exact and shape[0] > shape[1])


def _length(config, steps, longest):
    """The compiled length: ``compiled_length`` if given (it must hold the longest segment),
    else the longest segment rounded up to a power of two, at most :data:`MAX_SEGMENT`."""
    n = max(min(steps if longest is None else longest, steps, MAX_SEGMENT), 1)
    if config.compiled_length is None:
        return min(1 << (n - 1).bit_length(), MAX_SEGMENT)
    if config.compiled_length < min(n, steps or 1):
        raise OptionError(f"compiled_length must hold the longest segment ({n} iterations); got "
                          f"{config.compiled_length}")
    return config.compiled_length


def _monitored(monitor, parameters, output):
    """The (X, Y) pairs to cost at every epoch's end, checked like the training data."""
    if not isinstance(monitor, (list, tuple)) or not all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in monitor):
        raise InputTypeError("monitor must be a sequence of (X, Y) pairs")
    pairs = []
    for k, (X, Y) in enumerate(monitor):
        _, Y = check.problem(X, Y, parameters, output, f"monitor[{k}]'s Y", f"monitor[{k}]'s X")
        pairs.append((X, Y))
    return tuple(pairs)


def start_state(run, state):
    """``state`` ready for ``run``: its optimiser state checked against the configuration, and
    the loop's entries (the Gram path's, early stopping's) kept when they are this run's, else
    started afresh."""
    optimizer, momentum = run.program.optimizer, run.config.momentum
    if run.models is None:  # a stack's state is its face's own
        expected = jax.eval_shape(lambda p: initial_opt_state(p, momentum, optimizer),
                                  state.parameters)
        kind = ("the optimizer's state" if optimizer is not None
                else "a momentum trace" if momentum else "None")
        check_opt_state(state.opt_state, expected, kind)
    kept = dict(state.loop or {})
    loop = {}
    if run.program.body is gram.BODY:
        own = kept.get("gram")
        fits = own is not None and "K" in own and (("T0" in own) == (state.opt_state is not None))
        loop["gram"] = own if fits and gram.owns(own, state.parameters) else gram.fresh_state(
            state.parameters, state.opt_state, run.m)
    if run.program.patience is not None:
        loop["early"] = kept.get("early") or initial_early(state.parameters, run.models)
    return state._replace(loop=loop)


class Outcome(NamedTuple):
    """What :func:`drive` returns.

    Attributes:
      state: the :class:`~jaxdnn.TrainState` after the last iteration applied.
      costs: each applied iteration's cost (its batch's with mini-batches).
      monitored: (iterations, sets) costs of the monitored sets, NaN but at epochs' ends.
      epochs: each complete epoch's cost (the course's ``cost_total / m``), as reported.
      diverged: the first iteration that was not finite (not applied), or -1; its cost is
        ``diverged_cost``.
      stopped: the iteration after which early stopping stopped, or -1.
    """

    state: TrainState
    costs: np.ndarray
    monitored: np.ndarray
    epochs: np.ndarray
    diverged: int = -1
    diverged_cost: float = np.nan
    stopped: int = -1


def drive(run, state, count, *, feed=None, on_cost=None, every=None, on_segment=None):
    """Train ``state`` for ``count`` iterations of ``run``; returns the :class:`Outcome`.

    ``on_cost(i, cost)`` hears every PRINT_EVERY-th iteration's cost (an epoch's with batches, a
    stack's (S,) costs, NaN once a model halted); ``every``: also end a segment at every multiple
    of that many epochs (checkpoints); ``on_segment(outcome)`` after each segment (the last one
    too) may return True to stop there. Training halts at a divergence or an early stop."""
    cadences = ([reports.PRINT_EVERY * run.per_epoch] if on_cost else []) + (
        [every * run.per_epoch] if every else [])
    feed = feed or resident(run, cadences)
    carry = Carry(state.parameters, state.opt_state, state.loop or {})
    if not run.config.donate:  # the loop trains in the buffers it is given: give it copies
        carry = jax.tree.map(jax.numpy.array, carry)
    segments = feed.segments(state.iteration, count, run.program.length)
    try:
        return _segments(run, state, carry, count, segments, on_cost, on_segment)
    finally:
        segments.close()  # a feed that reads ahead stops at once, even on an interrupt


def _segments(run, state, carry, count, segments, on_cost, on_segment):
    """The segment loop of :func:`drive`."""
    lead = () if run.models is None else (run.models,)
    costs = reports.Growing((*lead, 0), run.hyper.momentum.dtype)  # in the training dtype
    monitored = reports.Growing((*lead, 0, run.program.monitors), np.float64, axis=-2)
    epochs, diverged, ended = [], np.full(lead, -1), np.full(lead, -1)
    outcome = Outcome(state, costs.view(), monitored.view(), np.zeros(0), -1)
    for first, n, data in segments:
        carry, c, mon, div, stop = run.call(data, carry, first, n)
        div, stop, c = np.asarray(div), np.asarray(stop), np.asarray(c)
        applied = np.where(div >= 0, div - first, np.where(stop >= 0, stop - first + 1, n))
        halted = (div >= 0) | (stop >= 0)
        ran = int(applied.max()) if halted.all() else n
        costs.extend(c[..., :ran])
        monitored.extend(np.asarray(mon)[..., :ran, :])
        ended = np.where(ended >= 0, ended, np.where(div >= 0, div, stop))
        if run.models is None:
            epochs += reports.new_epochs(run, state.iteration, costs.view(), len(epochs),
                                         on_cost)
        elif on_cost is not None:
            reports.new_iterations(state.iteration, first, ran, costs.view(), ended, on_cost)
        diverged = np.where(diverged >= 0, diverged, div)
        lost = float(c[ran]) if run.models is None and div >= 0 else np.nan
        outcome = Outcome(TrainState(carry.parameters, carry.opt_state, first + ran,
                                     carry.loop), costs.view(), monitored.view(),
                          np.asarray(epochs, np.float64),
                          int(diverged) if run.models is None else diverged, lost,
                          int(stop) if run.models is None else stop)
        asked = on_segment is not None and on_segment(outcome)
        if halted.all() or asked:
            break
    return outcome


def diverged(run, outcome, fresh):
    """The :class:`~jaxdnn.TrainingDiverged` of ``outcome``: the iteration, the last finite
    parameters, the costs up to that iteration's, and where its step stopped being finite (the
    forward or backward pass, the cost or the update, and the layer), found by running it once
    more, checked. ``fresh``: the run started at iteration 0 from these parameters."""
    state, i = outcome.state, outcome.diverged
    where = _locate(run, state, i)
    costs = np.append(outcome.costs, outcome.diverged_cost)
    initial = fresh and i == 0 and where is not None and not where.startswith("the update")
    return TrainingDiverged(i, state.parameters, costs, where=where, initial=initial)


def _locate(run, state, i):
    """Where iteration i's step from ``state`` overflows (a sentence), or None where it cannot
    be run again here (on a mesh, or a block read from a file)."""
    program, data = run.program, run.data
    if run.placement is not None or program.body is BLOCKS:
        return None
    X, Y, key = data.X, data.Y, data.key
    if program.body is batches.BODY:
        columns, key = batches.columns_of(key, run.m, program.mini_batch_size, i)
        X, Y = X[:, columns], Y[:, columns]
    layers = layout.to_layers(state.parameters)
    masks = (kernels.dropout_masks(jax.random.fold_in(key, i), program.keep_prob, layers,
                                   X.shape[1]) if program.keep_prob else ())
    try:
        locate_overflow(X, Y, layers, program.activations, program.lambd, masks)
        hyper = run.hyper._replace(learning_rate=run.rates(i))
        parameters, _, _ = train_step(X, Y, state.parameters, state.opt_state, i, 0, key,
                                      hyper, program)
        check.overflow([(f"layer {k[1:]}: {k}", v) for k, v in parameters.items()],
                       "the update", {"the parameters": list(state.parameters.values())},
                       ": try a smaller learning rate")
    except NumericalOverflow as e:
        return e.where
    return None


COST_COPIES = 3
"""The copies of a run's costs that live at once: the loop's output on the device, its copy on
the host and the record it is appended to."""


def costs_fit(count, monitors, models=1):
    """A run of ``count`` iterations of ``models`` models records their costs (and those of
    ``monitors`` monitored sets): refuse one whose records alone would not fit in the memory
    available, before anything is compiled."""
    limits.fits(count * (1 + monitors) * 8 * models * COST_COPIES,
                f"{count:,} iterations{f' of {models:,} models' if models > 1 else ''} "
                f"recording their costs", OptionError,
                f" ({COST_COPIES} copies of {8 * (1 + monitors) * models} bytes an iteration)")
