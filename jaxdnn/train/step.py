"""What the compiled training loops share: the options, the step, the scan, the reports.

The loops themselves are :func:`jaxdnn.train.fit.plain_loop` (forward and backward on X every
iteration), :func:`jaxdnn.train.batches.batch_loop` (the same on one mini-batch per iteration) and
:func:`jaxdnn.train.gram.gram_loop` (the first layer through the Gram matrix of X). They take
``(X, Y, parameters, opt_state, start, count, learning_rate, momentum, ...)`` with the static
``options``: ``count`` iterations from ``start``, at most ``options.num_iterations`` (one
compiled program for every count up to it), and return ``(parameters, opt_state, costs,
diverged)`` (and the monitored costs).
"""

from collections.abc import Callable
from functools import cache, partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ..core import kernels, layout

PRINT_EVERY = 100
COST_LINES = {False: "Cost after iteration {}: {:f}", True: "Cost after epoch {}: {:f}"}
"""The course's cost line, for full batches (False) and for epochs of mini-batches (True)."""


class Options(NamedTuple):
    """The static part of a compiled loop (hashable: one compilation per distinct value).

    Attributes:
      activations: the :class:`~jaxdnn.Activation` of each layer.
      num_iterations: the compiled loop's length: the most iterations one call runs (a traced
        count says how many it does, :func:`guarded_scan`).
      optimizer: an optax ``GradientTransformation``, or None for the built-in descent.
      on_cost: ``on_cost(i, cost)`` called on the host every PRINT_EVERY iterations, or None.
      lambd: the L2 penalty's weight (0: no L2 term in the program at all).
      keep_prob: dropout's keep probability per hidden layer; () for no dropout.
      mini_batch_size: the examples per iteration (:mod:`jaxdnn.train.batches`); 0 for all of them.
    """

    activations: tuple
    num_iterations: int
    optimizer: Any = None
    on_cost: Callable | None = None
    lambd: float = 0.0
    keep_prob: tuple = ()
    mini_batch_size: int = 0


def train_step(X, Y, carry, i, key, learning_rate, momentum, options, grad_mask=None):
    """Iteration i on the examples (X, Y): their cost and gradients (under dropout with the
    masks of ``fold_in(key, i)``), then the update. Returns ``(carry, cost)``.

    ``grad_mask``: a dict of booleans keyed like the parameters; the gradient is zeroed where it
    is False (the padded units of a :class:`~jaxdnn.ModelStack`)."""
    parameters, state = carry
    layers = layout.to_layers(parameters)
    masks = (kernels.dropout_masks(jax.random.fold_in(key, i), options.keep_prob, layers,
                                   X.shape[1]) if options.keep_prob else ())
    cost, grads = kernels.cost_and_grads(X, Y, layers, options.activations, options.lambd,
                                         masks)
    grads = layout.to_dict(grads)  # keyed like the parameters, as optax wants them
    if grad_mask is not None:
        grads = jax.tree.map(lambda g, keep: jnp.where(keep, g, 0), grads, grad_mask)
    if options.optimizer is None:
        return kernels.descend(parameters, grads, state, learning_rate, momentum), cost
    updates, state = options.optimizer.update(grads, state, parameters)
    return (optax.apply_updates(parameters, updates), state), cost


def monitored_costs(parameters, monitor, activations):
    """The cross-entropy (no penalty, no dropout) of ``parameters`` on each (X, Y) of
    ``monitor``, as one vector."""
    layers, costs = layout.to_layers(parameters), []
    for X, Y in monitor:
        _, caches = kernels.forward(X, layers, activations)
        costs.append(activations[-1].cost_from_logits(caches[-1][1], Y))
    return jnp.stack(costs)


def guarded_scan(step, carry, start, length, count=None):
    """A loop of ``step`` over iterations ``start, start + 1, ...`` that stops changing the
    carry at the first non-finite cost or carry.

    ``step(carry, i)`` returns ``(carry, cost)`` or ``(carry, (cost, *more))``. It runs
    ``length`` times, or ``count`` times when that (traced) count is given: then one compiled
    program serves every count up to ``length``, and the outputs past ``count`` are NaN.
    Returns ``(carry, outputs, diverged)``: the last finite carry, every
    iteration's outputs stacked (``length`` rows), and the first iteration that was not finite
    (-1 if none).
    """
    def guarded(state, i):
        carry, diverged = state
        new_carry, out = step(carry, i)
        cost = out[0] if isinstance(out, tuple) else out
        finite = jnp.isfinite(cost) & _all_finite(new_carry)
        keep = finite & (diverged < 0)
        carry = jax.tree.map(lambda new, old: jnp.where(keep, new, old), new_carry, carry)
        return (carry, jnp.where((diverged < 0) & ~finite, i, diverged)), out

    state = (carry, jnp.asarray(-1))
    if count is None:
        (carry, diverged), outputs = jax.lax.scan(guarded, state, start + jnp.arange(length))
        return carry, outputs, diverged

    def body(k, loop):
        state, outputs = loop
        state, out = guarded(state, start + k)
        return state, jax.tree.map(lambda rows, row: rows.at[k].set(row), outputs, out)

    empty = jax.tree.map(lambda row: jnp.full((length, *row.shape), jnp.nan, row.dtype),
                         jax.eval_shape(guarded, state, start)[1])
    (carry, diverged), outputs = jax.lax.fori_loop(0, count, body, (state, empty))
    return carry, outputs, diverged


def _all_finite(tree):
    """Whether every float in ``tree`` is finite: the largest magnitude of each leaf is finite
    (a maximum propagates NaN and never overflows; half the cost of ``all(isfinite(x))``)."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.isfinite(jnp.stack([jnp.max(jnp.abs(x), initial=0) for x in leaves])))


def report(on_cost, i, cost, due=None):
    """Inside a compiled loop: hand ``(i, cost)`` to the host when ``due`` (by default every
    PRINT_EVERY iterations)."""
    if on_cost is not None:
        jax.lax.cond(i % PRINT_EVERY == 0 if due is None else due,
                     lambda: jax.debug.callback(partial(_call_host, on_cost), i, cost,
                                                ordered=True),
                     lambda: None)


_raised = {}
"""What each ``on_cost`` raised inside a compiled loop, for :func:`reraise` after it returns."""


def _call_host(on_cost, i, cost):
    """An exception must not cross XLA (it would come back as a JaxRuntimeError and a printed
    traceback): it is kept, later reports are skipped, and :func:`reraise` raises it."""
    if on_cost in _raised:
        return
    try:
        on_cost(int(i), float(cost))
    except Exception as e:
        _raised[on_cost] = e


def reraise(on_cost):
    """Once a compiled loop's results are ready: raise what ``on_cost`` raised in it, as itself."""
    error = _raised.pop(on_cost, None)
    if error is not None:
        raise error


@cache
def cost_printer(cost_format="Cost after iteration {}: {:f}"):
    """An ``on_cost`` printing the course's line, ``cost_format.format(i, cost)``; cached, since
    ``on_cost`` is static: one object per format keeps one compilation."""
    return partial(_print_cost, cost_format)


def _print_cost(cost_format, i, cost):
    print(cost_format.format(i, cost), flush=True)
