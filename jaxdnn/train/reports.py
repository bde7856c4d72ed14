"""How a run reports its costs, one way: after each segment, from the costs the loop returned.

The course's line every :data:`PRINT_EVERY` iterations, or epochs with mini-batches, whose
cost is computed once (:func:`~jaxdnn.train.batches.epoch_costs`) and is the very number the run
returns; and the arrays the costs of a run grow in.
"""

import sys
import threading
import time
from contextlib import contextmanager
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


def printer(print_cost, batched, total):
    """The ``on_cost`` of ``print_cost``: None (False), the course's line (True), or a
    :class:`Progress` bar over ``total`` iterations or epochs (``"progress"``)."""
    if print_cost == "progress":
        return Progress(total, "epoch" if batched else "iteration", line=COST_LINES[batched])
    return cost_printer(COST_LINES[batched]) if print_cost else None


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


def new_iterations(start, first, ran, costs, ended, on_cost):
    """Report a stack's iterations ``first`` to ``first + ran`` at every PRINT_EVERY-th:
    ``on_cost(i, costs)`` with each model's cost (S,), NaN after the iteration it ``ended``
    at (diverged or stopped; -1: it did not). ``costs``: (S, iterations since ``start``)."""
    for i in range(-(-first // PRINT_EVERY) * PRINT_EVERY, first + ran, PRINT_EVERY):
        on_cost(i, np.where((ended >= 0) & (i > ended), np.nan, costs[:, i - start]))


LEVELS = ("quiet", "default", "verbose")
"""How much a run says while it trains: nothing; a progress bar on a terminal (the course's
lines where the output is not a terminal); the course's lines always (and the bar)."""


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """One run's progress: an updating bar on ``err`` when it is a terminal (done of ``total``
    iterations, epochs or models, their rate, the time left and the current cost) and, at the
    ``verbose`` level or where ``out`` is not a terminal, the course's line on ``out`` every
    time it is called. ``level``: one of :data:`LEVELS`. Call it as an ``on_cost(i, cost)``;
    :meth:`close` ends the bar's line."""

    def __init__(self, total, unit="iteration", level="default", out=None, err=None, line=None):
        if level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.total, self.unit = max(int(total), 0), unit
        self.bar = level != "quiet" and _isatty(self.err)
        self.lines = level == "verbose" or (level == "default" and not _isatty(self.out))
        self.line = line or f"Cost after {unit} {{}}: {{:f}}"
        self.start, self.first, self.drawn, self.shown = time.monotonic(), None, 0.0, ""
        self.done, self.cost = 0, None

    def __call__(self, i, cost=None, done=None):
        """Iteration (epoch, model) ``i`` is done, at ``cost``; ``done``: how many are done in
        all (default ``i + 1``)."""
        self.done, self.cost = (i + 1) if done is None else done, cost
        if self.first is None:  # the rate is measured from the first report: after compiling
            self.first = (time.monotonic(), self.done)
        if cost is not None:
            self.say(self.line.format(i, cost))
        self._draw(force=self.lines)

    def say(self, text):
        """Print a report's line on ``out`` (above the bar), where lines are shown."""
        if self.lines:
            self._clear()
            print(text, file=self.out, flush=True)
            self._draw(force=True)

    def text(self):
        """The bar's line: done/total, rate, elapsed<left, cost."""
        now = time.monotonic()
        width = 24
        fraction = self.done / self.total if self.total else 1.0
        filled = int(width * min(fraction, 1.0))
        rate = None
        if self.first is not None and now > self.first[0] and self.done > self.first[1]:
            rate = (self.done - self.first[1]) / (now - self.first[0])
        left = _clock((self.total - self.done) / rate) if rate else "?"
        speed = f"{rate:,.1f} {self.unit}s/s" if rate else f"- {self.unit}s/s"
        cost = "" if self.cost is None else f", cost {self.cost:.6f}"
        return (f"{100 * fraction:3.0f}%|{'#' * filled}{'.' * (width - filled)}| "
                f"{self.done}/{self.total} [{_clock(now - self.start)}<{left}, {speed}{cost}]")

    @contextmanager
    def ticking(self, every=0.5):
        """Redraw the bar every ``every`` seconds meanwhile (its clock runs while a single
        compiled program trains many models); nothing where no bar is drawn."""
        if not self.bar:
            yield
            return
        stop = threading.Event()

        def tick():
            while not stop.wait(every):
                self._draw(force=True)

        thread = threading.Thread(target=tick, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def close(self, done=None, cost=None):
        """End the bar's line (left on the terminal, as the run ended): at ``done`` (and
        ``cost``) where given, as the run completed."""
        if done is not None:
            self.done, self.cost = done, self.cost if cost is None else cost
        if self.bar and self.shown:
            self._draw(force=True)
            self.err.write("\n")
            self.err.flush()
            self.shown = ""

    def _draw(self, force=False):
        now = time.monotonic()
        if not self.bar or (not force and now - self.drawn < 0.1 and self.done < self.total):
            return
        self.drawn, text = now, self.text()
        self.err.write("\r" + text + " " * max(len(self.shown) - len(text), 0))
        self.err.flush()
        self.shown = text

    def _clear(self):
        if self.bar and self.shown:
            self.err.write("\r" + " " * len(self.shown) + "\r")
            self.err.flush()


def _clock(seconds):
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return (f"{hours}:" if hours else "") + f"{rest // 60:02d}:{rest % 60:02d}"
