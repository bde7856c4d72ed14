"""Mini-batch training: every epoch shuffles the m examples and cuts them into batches.

The course's ``random_mini_batches`` with a ``jax.random`` key: the columns of (X, Y) in the
order ``jax.random.permutation(key, m)``, cut into batches of ``mini_batch_size``; when that
does not divide m the last batch is smaller, ``m % mini_batch_size`` examples.

Training runs one iteration per batch, each the full-batch step on its own examples: its mean
cost (over its own size, the L2 term ``lambd / (2 m_b) sum ||W||^2`` included), its gradients,
one update. With the run's ``key`` split as ``shuffle_key, dropout_key = jax.random.split(key)``:

* epoch e's batches are ``random_mini_batches(X, Y, mini_batch_size, fold_in(shuffle_key, e))``;
* iteration i draws its dropout masks from ``fold_in(dropout_key, i)``;
* iteration i (counted over the whole run) is batch ``i % batches_per_epoch`` of epoch
  ``i // batches_per_epoch``, so a run can stop and continue anywhere, mid-epoch included.

With ``mini_batch_size == m`` training is full-batch descent (:func:`~jaxdnn.fit`'s own
program and keys: no shuffle, masks from ``fold_in(key, i)``).

An epoch's cost is the mean of its batches' costs weighted by their sizes, the course's
``cost_total / m`` (:func:`epoch_costs`). :func:`batch_loop` runs all the iterations in one
compiled loop: no host round trip per batch.
"""

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks as check
from ..errors import OptionError, ShapeError
from .mesh import shard_columns
from .step import PRINT_EVERY, guarded_scan, monitored_costs, report, train_step


def random_mini_batches(X, Y, mini_batch_size=64, key=0):
    """The examples of (X, Y) shuffled by ``key`` and cut into mini-batches.

    Args:
      X: (n[0], m) inputs.
      Y: (n[L], m) labels.
      mini_batch_size: the examples per batch, 1 to m; the last batch keeps the remainder.
      key: a ``jax.random`` key, or an integer seed for ``jax.random.PRNGKey``.

    Returns:
      A list of ``(mini_batch_X, mini_batch_Y)``, each (n[0], m_b) and (n[L], m_b).
    """
    m = check.array(X, "X")[1]
    if check.array(Y, "Y")[1] != m:
        raise ShapeError(f"X has {m} examples (columns) but Y has {Y.shape[1]}")
    size = check.mini_batch_size(mini_batch_size, m)
    if not check.is_key(key):
        key = jax.random.PRNGKey(check.seed(key, "key"))
    order = np.asarray(jax.random.permutation(key, m))
    return [(X[:, order[k:k + size]], Y[:, order[k:k + size]]) for k in range(0, m, size)]


def batches_per_epoch(m, mini_batch_size):
    """The iterations of one epoch: ceil(m / mini_batch_size)."""
    return -(-m // mini_batch_size)


def epoch_costs(costs, m, mini_batch_size):
    """Each complete epoch's cost from the iterations' costs of a run that started at an epoch's
    start: ``sum(m_b * cost_b) / m`` over its batches.

    Each epoch's sum is exactly rounded (``math.fsum``), so an epoch's cost is the same number
    whichever other epochs are passed along with it, on any CPU (a matrix product of the
    costs would pick its summation order by the number of rows and the CPU's kernels)."""
    m = check.count(m, "m")
    if m < 1:
        raise OptionError(f"m must be at least 1; got {m}")
    mini_batch_size = check.mini_batch_size(mini_batch_size, m)
    check.array(costs, "costs", ndim=1)
    per_epoch = batches_per_epoch(m, mini_batch_size)
    sizes = np.full(per_epoch, mini_batch_size, np.float64)
    sizes[-1] = m - mini_batch_size * (per_epoch - 1)
    epochs = len(costs) // per_epoch
    rows = np.asarray(costs[:epochs * per_epoch], np.float64).reshape(epochs, per_epoch) * sizes
    return np.array([math.fsum(row) / m for row in rows], np.float64)


@partial(jax.jit, static_argnames="options", donate_argnames=("parameters", "opt_state"))
def batch_loop(X, Y, parameters, opt_state, start, count, learning_rate, momentum, key, monitor,
               options):
    """Iterations ``start, ..., start + count - 1`` of mini-batch training (see the
    module docstring). ``options.on_cost(e, cost)`` hears every PRINT_EVERY-th epoch's cost
    (of epochs that this call runs whole); each (X, Y) of ``monitor`` is costed at every
    epoch's end (NaN at the other iterations)."""
    m, size = X.shape[1], options.mini_batch_size
    full, rest = divmod(m, size)
    per_epoch = batches_per_epoch(m, size)
    shuffle_key, dropout_key = jax.random.split(key)

    def order(epoch):
        return jax.random.permutation(jax.random.fold_in(shuffle_key, epoch), m)

    def batch(columns):
        def run(carry, i):
            Xb, Yb = (shard_columns(jnp.take(A, columns, axis=1)) for A in (X, Y))
            return train_step(Xb, Yb, carry, i, dropout_key, learning_rate, momentum, options)
        return run

    def step(carry, i):
        carry, perm, total, whole = carry
        epoch, b = i // per_epoch, i % per_epoch
        perm = jax.lax.cond(b == 0, lambda: order(epoch), lambda: perm)
        full_batch = batch(jax.lax.dynamic_slice(perm, (b * size,), (size,)))
        if rest:
            carry, cost = jax.lax.cond(b == full, batch(perm[full * size:]), full_batch, carry, i)
        else:
            carry, cost = full_batch(carry, i)
        whole = whole | (b == 0)
        total = jnp.where(b == 0, 0, total) + jnp.where(b == full, rest, size) * cost
        end = b == per_epoch - 1
        report(options.on_cost, epoch, total / m, end & whole & (epoch % PRINT_EVERY == 0))
        monitored = (jax.lax.cond(end, lambda: monitored_costs(carry[0], monitor,
                                                               options.activations),
                                  lambda: jnp.full(len(monitor), jnp.nan, cost.dtype))
                     if monitor else jnp.zeros(0, cost.dtype))
        return (carry, perm, total, whole), (cost, monitored)

    dtype = X.dtype
    initial = ((parameters, opt_state), order(start // per_epoch), jnp.zeros((), dtype),
               start % per_epoch == 0)
    (carry, *_), (costs, monitored), diverged = guarded_scan(step, initial, start,
                                                             options.num_iterations, count)
    return *carry, costs, monitored, diverged
