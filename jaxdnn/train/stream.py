"""Mini-batch training on examples read from an HDF5 file a chunk at a time.

The file's layout is :class:`~jaxdnn.io.examples.H5Examples`'s.

:func:`fit_stream` trains exactly as :func:`~jaxdnn.fit` with the same ``mini_batch_size``,
``num_epochs`` and ``key`` trains on the data in memory (:meth:`H5Examples.load`): epoch e's
order is ``jax.random.permutation(fold_in(shuffle_key, e), m)``, cut into batches of B, the last
one the ``m % B`` left over (:mod:`jaxdnn.batches`). A background thread reads a chunk of K
batches while the device trains on the previous one: the rows of a chunk are read with h5py in
increasing order (one selection per chunk), then put back in the epoch's order, and handed over
as a block ``(K, n, B)``; one compiled call scans the K batches. Per epoch the full batches come
in chunks of K (the last may hold fewer) and the ragged batch, if any, as a block of one.

Memory: the labels ``(k, m)``, one permutation of m, and a few chunks (``chunk_bytes`` each, in
the training dtype), never the inputs whole.
"""

import queue
import threading
import time

import jax
import numpy as np

from ..core import checks as check
from ..core import limits, numeric
from ..core.outputs import get_output
from ..errors import InputTypeError, OptionError, ShapeError
from ..io.examples import H5Examples
from . import driver, reports
from .batches import batches_per_epoch
from .config import TrainConfig
from .fit import fit_result
from .loop import initial_opt_state
from .state import TrainState

CHUNK_BYTES = 2**25
"""The default size of a chunk (32 MiB): the inputs of the K batches one compiled call trains."""


def _blocks(examples, size, chunk, num_epochs, shuffle_key):
    """``(first iteration, columns (k, b))`` of every block of the run, in order."""
    full, rest = divmod(examples.m, size)
    per_epoch = batches_per_epoch(examples.m, size)
    for epoch in range(num_epochs):
        order = np.asarray(jax.random.permutation(jax.random.fold_in(shuffle_key, epoch),
                                                  examples.m))
        first = epoch * per_epoch
        for b in range(0, full, chunk):
            k = min(chunk, full - b)
            yield first + b, order[b * size:(b + k) * size].reshape(k, size)
        if rest:
            yield first + full, order[full * size:][None]


class _Prefetch:
    """Runs ``produce()``, a generator, in a background thread, ``depth`` items ahead of the
    caller's iteration. An exception raised there is raised as itself in the caller; leaving
    the ``with`` block (an error or KeyboardInterrupt included) stops the thread and waits for
    it at most ``PATIENCE`` seconds: a read that never returns (a FIFO) leaves it behind, a
    daemon that hands nothing over, and the caller goes on."""

    _END = object()
    PATIENCE = 1.0

    def __init__(self, produce, depth=1):
        self._produce, self._queue, self._stop = produce, queue.Queue(depth), threading.Event()
        self._thread = threading.Thread(target=self._run, name="jaxdnn-prefetch", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        deadline = time.monotonic() + self.PATIENCE
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:  # it may be waiting to hand over an item
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass

    def _run(self):
        try:
            for item in self._produce():
                if not self._put(item):
                    return
        except BaseException as error:  # handed over, raised in the caller
            self._put(error)
            return
        self._put(self._END)

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def __iter__(self):
        while (item := self._queue.get()) is not self._END:
            if isinstance(item, BaseException):
                raise item
            yield item


def fit_stream(examples, parameters, config=None, *, key, validation_data=None,
               chunk_bytes=CHUNK_BYTES, **options):
    """Train ``parameters`` on mini-batches of ``examples`` streamed from their file: the same
    iterates as :func:`~jaxdnn.fit` on ``examples.load()`` with the same options.

    Args:
      examples: an :class:`~jaxdnn.H5Examples`.
      parameters: the initial course dict; its dtype is the training dtype.
      config: a :class:`~jaxdnn.train.config.TrainConfig`, or its fields as keywords, as
        :func:`~jaxdnn.fit` takes them; ``mini_batch_size`` (1 to m - 1) and ``num_epochs``
        are needed.
      key: as :func:`~jaxdnn.fit` takes it with mini-batches.
      validation_data: a held-out (X, Y) in memory, for early stopping (``patience``).
      chunk_bytes: the inputs one compiled call trains on, K = chunk_bytes // (n B itemsize)
        batches (at least one); a few chunks are in memory at a time.

    Returns:
      A :class:`~jaxdnn.train.fit.FitResult` that unpacks as ``(parameters, costs)``: the
      trained dict and every epoch's cost, as :func:`~jaxdnn.fit`.

    Raises:
      JaxdnnError: as :func:`~jaxdnn.fit` raises them.
      DataError: labels unfit for ``output``, or a non-finite input met while reading (naming
        the file, the data set and the example).
    """
    config = TrainConfig.of(config, **options)
    size, chunk, classes = _checked(examples, parameters, config, key, chunk_bytes)
    run = driver.prepare_blocks(examples.m, parameters, config, key=key,
                                validation_data=validation_data, chunk=chunk)
    on_cost = config.on_cost or (reports.cost_printer(reports.COST_LINES[True])
                                 if config.print_cost else None)
    state = TrainState(parameters, initial_opt_state(parameters, config.momentum,
                                                     run.program.optimizer), 0)
    outcome = driver.drive(run, driver.start_state(run, state), run.steps, on_cost=on_cost,
                           feed=_feed(examples, run, key, size, chunk, classes,
                                      parameters["W1"].dtype))
    if outcome.diverged >= 0:
        raise driver.diverged(run, outcome, fresh=True)
    return fit_result(run, outcome)


def _checked(examples, parameters, config, key, chunk_bytes):
    """``(mini_batch_size, chunk, classes)``: the file, the network and the options checked
    against each other; a chunk of K batches holds at most ``chunk_bytes`` of inputs."""
    if not isinstance(examples, H5Examples):
        raise InputTypeError(f"examples must be an H5Examples(path, x=..., y=...); got "
                             f"{type(examples).__name__}")
    layers = check.parameters(parameters)
    if layers[0][0].shape[1] != examples.n:
        raise ShapeError(f"{examples.where(examples.x)} holds examples of {examples.n} features "
                         f"but W1 has shape {tuple(layers[0][0].shape)}: W1 needs "
                         f"{examples.n} columns")
    classes = _check_labels(examples, get_output(config.output), layers[-1][0].shape[0])
    check.finite_parameters(parameters)
    size = config.mini_batch_size
    if size is None or numeric.mini_batch_size(size, examples.m) >= examples.m:
        raise OptionError(f"mini_batch_size must be between 1 and m - 1 = {examples.m - 1}; got "
                          f"{size} (one batch of all m examples: load() them and fit)")
    numeric.shuffle_key(key)
    row_bytes = size * examples.n * layers[0][0].dtype.itemsize
    if numeric.count(chunk_bytes, "chunk_bytes") < 1:
        raise OptionError("chunk_bytes must be positive")
    if row_bytes > limits.MAX_FILE_BYTES:
        raise OptionError(f"a batch of {size} examples of {examples.n} features is "
                          f"{row_bytes:,} bytes, above the limit of {limits.MAX_FILE_BYTES:,} "
                          f"(MAX_FILE_BYTES): choose a smaller mini_batch_size")
    return size, max(1, min(chunk_bytes // row_bytes, examples.m // size)), classes


def _feed(examples, run, key, size, chunk, classes, dtype):
    """The driver's feed: blocks of batches read by a thread a block ahead of the training."""
    shuffle_key, _ = jax.random.split(key)

    def produce():
        with examples.open() as f:
            dataset = examples.inputs(f)
            for first, columns in _blocks(examples, size, chunk, run.steps // run.per_epoch,
                                          shuffle_key):
                yield first, jax.device_put((examples.read_block(dataset, columns, dtype),
                                             examples.label_block(columns, classes, dtype)))

    def segments(start, count, longest):
        with _Prefetch(produce) as blocks:
            for first, (Xs, Ys) in blocks:
                yield first, Xs.shape[0], run.data._replace(X=Xs, Y=Ys)

    return driver.Feed(segments)


def _check_labels(examples, output, K):
    """The labels must fit ``output`` with K = n[L] outputs. Returns K when they are class ids
    to turn into one-hot rows, else 0."""
    name, k = examples.where(examples.y), examples.labels.shape[0]
    if output.one_hot and K < 2:
        raise ShapeError(f"a softmax output needs K >= 2 classes, the rows of the last W in "
                         f"parameters; got {K}")
    if output.one_hot and k == 1:
        check.class_ids(examples.labels, name, K)
        return K
    if k != K:
        raise ShapeError(f"{name} holds {k} labels per example but the network has {K} outputs "
                         f"(the rows of the last W): it needs shape ({examples.m}, {K})"
                         + (f" or class ids ({examples.m},)" if output.one_hot else ""))
    check.targets(examples.labels, output, (K, examples.m), name)
    return 0
