"""The compiled training loop: any body, a traced count of iterations, one guard.

:func:`loop` runs ``count`` iterations of a body from iteration ``start`` inside one
``lax.while_loop``, so one compiled program serves every count up to ``program.length`` (the
outputs past the count are NaN). Around the body's step it

* guards: the first iteration whose cost or carry is not finite is not applied, and the loop
  halts there (``diverged``);
* monitors: at every epoch's end the monitored sets' cross-entropy is computed from the new
  parameters (NaN rows elsewhere);
* stops early (``program.patience``): the last monitored set is the validation set; the best
  parameters so far are kept, and after ``patience`` epochs without an improvement of
  ``min_delta`` the loop halts (``stopped``) after applying that epoch.

A body says how examples reach the step (:class:`Body`): :data:`PLAIN` and :data:`BLOCKS` here,
mini-batches in :mod:`jaxdnn.train.batches`, the Gram path in :mod:`jaxdnn.train.gram`. The
step itself, :func:`train_step`, is one iteration on some examples: their cost and gradients,
then the update (the course's ``update_parameters``, heavy-ball momentum or an optax
optimiser's), static in a :class:`Program` and traced in its :class:`Hyper` values. The carry
in and out is ``(parameters, opt_state, loop)``: ``loop`` is a dict of what a body or early
stopping carries from one call to the next (the Gram path's state, the best parameters), so a
run cut into calls anywhere computes the same bits as one call.
"""

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..core import kernels, layout


class Program(NamedTuple):
    """The static part of a compiled training loop (hashable: one compilation per value).

    Attributes:
      body: how the loop feeds examples to the step, a :class:`Body`: :data:`PLAIN` (all of X
        every iteration), :data:`BLOCKS` (the batches of a block read from a file),
        ``batches.BODY`` (a shuffled mini-batch of X) or ``gram.BODY`` (the first layer
        through the Gram matrix of X).
      activations: each layer's :class:`~jaxdnn.Activation`, the output's last.
      length: the most iterations one call runs (a traced count says how many it does).
      optimizer: an optax ``GradientTransformation``; None for the built-in descent.
      lambd: the L2 penalty's weight (0: no L2 term in the program at all).
      keep_prob: dropout's keep probability per hidden layer; () for no dropout.
      mini_batch_size: examples per iteration of ``"batches"`` and ``"blocks"``.
      per_epoch: iterations per epoch (1 for full batches).
      monitors: how many monitored sets are costed at every epoch's end.
      patience, min_delta: early stopping on the last monitored set (None: no stopping).
    """

    body: Any
    activations: tuple
    length: int
    optimizer: Any = None
    lambd: Any = 0.0
    keep_prob: tuple = ()
    mini_batch_size: int = 0
    per_epoch: int = 1
    monitors: int = 0
    patience: int | None = None
    min_delta: float = 0.0


class Hyper(NamedTuple):
    """The traced numbers of a run: the built-in descent's learning rate and momentum; in a
    stack of models also each model's L2 weight and keep probability (None: the program's).

    The learning rate of one model is a vector, iteration by iteration of the call (its
    schedule's values, or one number repeated), so a schedule of constant value runs the very
    program and numbers a constant rate does; a stack's models have one number each."""

    learning_rate: Any
    momentum: Any
    lambd: Any = None
    keep_prob: Any = None


def learning_rate(hyper, k):
    """The learning rate of the call's k-th iteration."""
    rate = hyper.learning_rate
    return rate[k] if jnp.ndim(rate) else rate


def train_step(X, Y, parameters, opt_state, i, k, key, hyper, program, grad_mask=None):
    """Iteration i (the call's k-th) on the examples (X, Y): their cost and gradients (under
    dropout with the masks of ``fold_in(key, i)``), then the update. Returns
    ``(parameters, opt_state, cost)``.

    ``grad_mask``: a dict of booleans keyed like the parameters; the gradient is zeroed where it
    is False (the padded units of a :class:`~jaxdnn.ModelStack`)."""
    layers = layout.to_layers(parameters)
    masks = (kernels.dropout_masks(jax.random.fold_in(key, i), program.keep_prob, layers,
                                   X.shape[1]) if program.keep_prob else ())
    cost, grads = kernels.cost_and_grads(X, Y, layers, program.activations, program.lambd,
                                         masks)
    grads = layout.to_dict(grads)  # keyed like the parameters, as optax wants them
    if grad_mask is not None:
        grads = jax.tree.map(lambda g, keep: jnp.where(keep, g, 0), grads, grad_mask)
    if program.optimizer is None:
        parameters, opt_state = kernels.descend(parameters, grads, opt_state,
                                                learning_rate(hyper, k),
                                                hyper.momentum)
        return parameters, opt_state, cost
    with jax.numpy_dtype_promotion("standard"):  # optax mixes Python scalars with int counts
        updates, opt_state = program.optimizer.update(grads, opt_state, parameters)
        return optax.apply_updates(parameters, updates), opt_state, cost


def monitored_costs(parameters, monitor, activations):
    """The cross-entropy (no penalty, no dropout) of ``parameters`` on each (X, Y) of
    ``monitor``, as one vector."""
    layers, costs = layout.to_layers(parameters), []
    for X, Y in monitor:
        _, caches = kernels.forward(X, layers, activations)
        costs.append(activations[-1].cost_from_logits(caches[-1][1], Y))
    return jnp.stack(costs) if costs else jnp.zeros(0, layers[0][0].dtype)


def initial_opt_state(parameters, momentum, optimizer):
    """The optimiser state a run starts from: ``optimizer.init``, a zero momentum trace, or
    None (plain gradient descent)."""
    if optimizer is not None:
        return optimizer.init(parameters)
    return jax.tree.map(jnp.zeros_like, parameters) if momentum else None


class Data(NamedTuple):
    """A call's arrays: the examples (``X`` (n[0], m) and ``Y``, or a block of batches (k, n, b)
    for ``"blocks"``), the dropout and shuffle ``key``, the monitored (X, Y) pairs, and what a
    body's ``begin`` computes once per call (``extra``)."""

    X: Any
    Y: Any
    key: Any = None
    monitor: tuple = ()
    extra: Any = None


class Carry(NamedTuple):
    parameters: dict
    opt_state: Any
    loop: dict


class Body(NamedTuple):
    """How a loop feeds its step, by ``name``.

    * ``begin(data, carry, start, hyper, program, mask)`` gives ``(data, inner)``: the data with
      the call's constants added, and the inner carry;
    * ``step(data, inner, i, k, hyper, program, mask)``, iteration i (the call's k-th), returns
      ``(inner, cost)``;
    * ``end(data, inner, carry, hyper, program)`` gives the carry's three parts back;
    * ``parameters(inner)``: the parameters to monitor (None: the body cannot monitor);
    * ``epoch_end(i, program)``: whether iteration i ends an epoch;
    * ``unguarded``: the positions in the inner carry (a tuple) that the guard passes through
      unselected: values the iteration count alone decides (an epoch's order), which a halted
      loop never returns.
    """

    name: str
    begin: Callable
    step: Callable
    end: Callable
    parameters: Callable | None
    epoch_end: Callable
    unguarded: tuple = ()


def _begin(data, carry, start, hyper, program, mask):
    return data, (carry.parameters, carry.opt_state)


def _plain_step(data, inner, i, k, hyper, program, mask):
    return _step(data.X, data.Y, inner, i, k, data.key, hyper, program, mask)


def _block_step(data, inner, i, k, hyper, program, mask):
    return _step(data.X[k], data.Y[k], inner, i, k, data.key, hyper, program, mask)


def _step(X, Y, inner, i, k, key, hyper, program, mask):
    parameters, opt_state, cost = train_step(X, Y, *inner, i, k, key, hyper, program, mask)
    return (parameters, opt_state), cost


def _end(data, inner, carry, hyper, program):
    return (*inner, carry.loop)


def parameters_of(inner):
    return inner[0]


def every_iteration(i, program):
    """Every iteration of full-batch training ends an epoch."""
    return True


def epoch_end(i, program):
    """Iteration i ends an epoch of ``program.per_epoch`` iterations."""
    return i % program.per_epoch == program.per_epoch - 1


PLAIN = Body("plain", _begin, _plain_step, _end, parameters_of, every_iteration)
BLOCKS = Body("blocks", _begin, _block_step, _end, parameters_of, epoch_end)


def initial_early(parameters, models=None):
    """Early stopping's carry before the first epoch: the best parameters and validation cost so
    far, the cost an improvement is measured from, epochs without one, and the iteration it
    stopped at (-1: not yet); one of each per model of a stack of ``models``."""
    shape = () if models is None else (models,)
    inf = np.full(shape, np.inf, parameters["W1"].dtype)
    return {"best": {k: jnp.array(v) for k, v in parameters.items()},  # own buffers
            "best_cost": inf, "reference": inf.copy(),
            "bad": np.zeros(shape, np.int32), "stopped": np.full(shape, -1, np.int32)}


def _early_step(early, parameters, cost, i, epoch_end, program):
    """One epoch's validation ``cost`` (at ``epoch_end``): the best parameters follow every
    improvement; the count of bad epochs resets only on one of more than ``min_delta``."""
    improved = epoch_end & (cost < early["best_cost"])
    better = epoch_end & (cost < early["reference"] - program.min_delta)
    bad = jnp.where(better, 0, early["bad"] + jnp.where(epoch_end, 1, 0)).astype(jnp.int32)
    stop = epoch_end & (bad >= program.patience) & (early["stopped"] < 0)
    return {"best": jax.tree.map(lambda new, old: jnp.where(improved, new, old), parameters,
                                 early["best"]),
            "best_cost": jnp.where(improved, cost, early["best_cost"]),
            "reference": jnp.where(better, cost, early["reference"]), "bad": bad,
            "stopped": jnp.where(stop, i, early["stopped"]).astype(jnp.int32)}


def loop(data, carry, start, count, hyper, program, mask=None):
    """Iterations ``start, ..., start + count - 1`` (traced; at most ``program.length``) of the
    body ``program.body``. Returns ``(carry, costs, monitored, diverged, stopped)``: costs
    (length,) and monitored (length, monitors), NaN where no iteration ran; ``diverged`` the
    first iteration that was not finite and ``stopped`` the one early stopping stopped after
    (-1 if none)."""
    body = program.body
    data, inner = body.begin(data, carry, start, hyper, program, mask)
    early = carry.loop.get("early")

    def run(k, inner, early):
        i = start + k
        new, cost = body.step(data, inner, i, k, hyper, program, mask)
        finite = jnp.isfinite(cost) & _all_finite(new)
        monitored = jnp.zeros(0, cost.dtype)
        if program.monitors:
            end = body.epoch_end(i, program)
            costed = partial(monitored_costs, body.parameters(new), data.monitor,
                             program.activations)
            monitored = costed() if end is True else jax.lax.cond(
                end, costed, lambda: jnp.full(program.monitors, jnp.nan, cost.dtype))
        if early is not None:
            new_early = _early_step(early, body.parameters(new), monitored[-1], i,
                                    body.epoch_end(i, program), program)
            early = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_early, early)
        inner = tuple(n if j in body.unguarded else
                      jax.tree.map(lambda new, old: jnp.where(finite, new, old), n, o)
                      for j, (n, o) in enumerate(zip(new, inner, strict=True)))
        return inner, early, finite, cost, monitored

    # an iteration's cost and monitored costs are of the parameters' dtype (checked as the
    # loop is traced): no separate trace of the whole step for their shapes
    dtype = jax.tree.leaves(carry.parameters)[0].dtype
    outputs = (jnp.full(program.length, jnp.nan, dtype),
               jnp.full((program.length, program.monitors), jnp.nan, dtype))

    def going(state):
        k, _, early, diverged, _ = state
        halted = diverged >= 0 if early is None else (diverged >= 0) | (early["stopped"] >= 0)
        return (k < count) & ~halted

    def iteration(state):
        k, inner, early, diverged, outputs = state
        inner, early, finite, *row = run(k, inner, early)
        for rows, value in zip(outputs, row, strict=True):
            if (rows.shape[1:], rows.dtype) != (value.shape, value.dtype):
                raise TypeError(f"an iteration's costs are {value.dtype}{list(value.shape)}, "
                                f"not {rows.dtype}{list(rows.shape[1:])}")
        outputs = tuple(rows.at[k].set(value) for rows, value in zip(outputs, row, strict=True))
        return k + 1, inner, early, jnp.where(finite, diverged, start + k), outputs

    state = (jnp.int32(0), inner, early, jnp.int32(-1), outputs)
    _, inner, early, diverged, (costs, monitored) = jax.lax.while_loop(going, iteration, state)
    carry = Carry(*body.end(data, inner, carry, hyper, program))
    if early is not None:
        carry = carry._replace(loop=dict(carry.loop, early=early))
    stopped = early["stopped"] if early is not None else jnp.int32(-1)
    return carry, costs, monitored, diverged, stopped


run = jax.jit(loop, static_argnames="program", donate_argnames="carry")
""":func:`loop`, compiled once per :class:`~jaxdnn.train.loop.Program` (and shapes); the carry's
buffers are reused for the result."""


def _all_finite(tree):
    """Whether every float in ``tree`` is finite: the largest magnitude of each leaf is finite
    (a maximum propagates NaN and never overflows; half the cost of ``all(isfinite(x))``)."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.isfinite(jnp.stack([jnp.max(jnp.abs(x), initial=0) for x in leaves])))
