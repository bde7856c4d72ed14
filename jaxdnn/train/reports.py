"""How a run reports its costs, one way: after each segment, from the costs the loop returned.

The course's line every :data:`PRINT_EVERY` iterations, or epochs with mini-batches, whose
cost is computed once (:func:`~jaxdnn.train.batches.epoch_costs`) and is the very number the run
returns; and the arrays the costs of a run grow in.
"""

from functools import cache, partial

import numpy as np

from .batches import epoch_costs

PRINT_EVERY = 100
"""The course's cadence of cost lines: every 100 iterations, or epochs with mini-batches."""
COST_LINES = {False: "Cost after iteration {}: {:f}", True: "Cost after epoch {}: {:f}"}
"""The course's cost line, for full batches (False) and for epochs of mini-batches (True)."""


class Growing:
    """An array that grows along ``axis`` as segments come, its buffer doubled as it fills:
    memory for what has run, not for what was asked."""

    def __init__(self, shape, dtype, axis=-1):
        self.axis, self.size = axis % len(shape), 0
        self.buffer = np.zeros(shape, dtype)

    def extend(self, block):
        need = self.size + block.shape[self.axis]
        if need > self.buffer.shape[self.axis]:
            shape = list(self.buffer.shape)
            shape[self.axis] = max(need, 2 * shape[self.axis], 64)
            grown = np.full(shape, np.nan, self.buffer.dtype)
            grown[self._to(self.size)] = self.buffer[self._to(self.size)]
            self.buffer = grown
        self.buffer[self._between(self.size, need)] = block
        self.size = need

    def view(self):
        return self.buffer[self._to(self.size)]

    def _to(self, n):
        return self._between(0, n)

    def _between(self, a, b):
        return (slice(None),) * self.axis + (slice(a, b),)


@cache
def cost_printer(line):
    """An ``on_cost`` printing ``line.format(i, cost)`` (the course's line); one object per
    line."""
    return partial(_print_cost, line)


def _print_cost(line, i, cost):
    print(line.format(i, cost), flush=True)


def new_epochs(run, start, costs, reported, on_cost):
    """The epochs completed since the last call (their costs, computed once) and their
    report: the course's line every PRINT_EVERY iterations or epochs. ``start``: the run's
    first iteration; ``costs``: every cost since then."""
    if not run.batched:
        new, first = costs[reported:].tolist(), start + reported
    else:
        skip = -start % run.per_epoch  # an epoch begun before this call is not this call's
        whole = (len(costs) - skip) // run.per_epoch
        new = epoch_costs(costs[skip + reported * run.per_epoch:skip + whole * run.per_epoch],
                          run.m, run.config.batch_size(run.m)).tolist() if whole > reported \
            else []
        first = -(-start // run.per_epoch) + reported
    if on_cost is not None:
        for e, cost in enumerate(new, start=first):
            if e % PRINT_EVERY == 0:
                on_cost(e, float(cost))
    return new
