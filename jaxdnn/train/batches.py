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
``cost_total / m`` (:func:`epoch_costs`). The loop body (:func:`begin`, :func:`step`,
:func:`end`) runs inside the compiled loop of :mod:`jaxdnn.train.loop`: no host round trip per
batch.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks as check
from ..core import numeric
from ..errors import OptionError, ShapeError
from .loop import Body, epoch_end, parameters_of, train_step
from .mesh import shard_columns


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
    size = numeric.mini_batch_size(mini_batch_size, m)
    if not numeric.is_key(key):
        key = jax.random.PRNGKey(numeric.seed(key, "key"))
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
    m = numeric.count(m, "m")
    if m < 1:
        raise OptionError(f"m must be at least 1; got {m}")
    mini_batch_size = numeric.mini_batch_size(mini_batch_size, m)
    check.array(costs, "costs", ndim=1)
    per_epoch = batches_per_epoch(m, mini_batch_size)
    sizes = np.full(per_epoch, mini_batch_size, np.float64)
    sizes[-1] = m - mini_batch_size * (per_epoch - 1)
    epochs = len(costs) // per_epoch
    rows = np.asarray(costs[:epochs * per_epoch], np.float64).reshape(epochs, per_epoch) * sizes
    return np.array([math.fsum(row) / m for row in rows], np.float64)


# --- the loop body (jaxdnn.train.loop) ---------------------------------------------------


def _order(key, m, epoch):
    """Epoch ``epoch``'s order of the m examples."""
    shuffle_key, _ = jax.random.split(key)
    return jax.random.permutation(jax.random.fold_in(shuffle_key, epoch), m)


def begin(data, carry, start, hyper, program, mask):
    """The call's constant ``Xᵀ`` (``data.extra``) and the inner carry: the parameters, the
    optimiser state and the current epoch's order.

    A batch's examples are gathered as rows of ``Xᵀ`` (contiguous) and transposed back, the
    same numbers in the same (n[0], m_b) layout as columns of X: a gather of scattered columns
    reads one element per cache line, 2.6x slower on 100 000 x 784 (docs/peers.md)."""
    return data._replace(extra=data.X.T), (carry.parameters, carry.opt_state,
                                           _order(data.key, data.X.shape[1],
                                                  start // program.per_epoch))


def step(data, inner, i, k, hyper, program, mask):
    """Iteration i: batch ``i % per_epoch`` of epoch ``i // per_epoch`` (drawing the epoch's
    order at its first batch); the ragged last batch is a second branch with its own shape."""
    parameters, opt_state, order = inner
    m, size = data.X.shape[1], program.mini_batch_size
    full, rest = divmod(m, size)
    epoch, b = i // program.per_epoch, i % program.per_epoch
    order = jax.lax.cond(b == 0, lambda: _order(data.key, m, epoch), lambda: order)
    _, dropout_key = jax.random.split(data.key)

    def batch(columns):
        def run(parameters, opt_state):
            Xb = shard_columns(jnp.take(data.extra, columns, axis=0).T)
            Yb = shard_columns(jnp.take(data.Y, columns, axis=1))
            return train_step(Xb, Yb, parameters, opt_state, i, k, dropout_key, hyper,
                              program, mask)
        return run

    full_batch = batch(jax.lax.dynamic_slice(order, (b * size,), (size,)))
    if rest:
        parameters, opt_state, cost = jax.lax.cond(b == full, batch(order[full * size:]),
                                                   full_batch, parameters, opt_state)
    else:
        parameters, opt_state, cost = full_batch(parameters, opt_state)
    return (parameters, opt_state, order), cost


def end(data, inner, carry, hyper, program):
    return inner[0], inner[1], carry.loop


BODY = Body("batches", begin, step, end, parameters_of, epoch_end, unguarded=(2,))
"""Mini-batch training as a loop body (:mod:`jaxdnn.train.loop`)."""


def columns_of(key, m, size, i):
    """``(columns, dropout_key)`` of iteration i of mini-batch training (on the host): the
    example columns of its batch, and the key its dropout masks fold i into."""
    per_epoch = batches_per_epoch(m, size)
    b = i % per_epoch
    order = np.asarray(_order(key, m, i // per_epoch))
    return order[b * size:(b + 1) * size], jax.random.split(key)[1]
