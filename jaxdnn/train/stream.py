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
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks as check
from ..core import limits
from ..core.network import layer_activations
from ..core.outputs import get_output
from ..errors import InputTypeError, OptionError, ShapeError, TrainingDiverged
from ..io.examples import H5Examples
from . import config
from .batches import batches_per_epoch, epoch_costs
from .fit import initial_opt_state
from .step import COST_LINES, PRINT_EVERY, Options, cost_printer, guarded_scan, train_step

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


@partial(jax.jit, static_argnames="options", donate_argnames=("parameters", "opt_state"))
def _segment(Xs, Ys, parameters, opt_state, start, learning_rate, momentum, key, options):
    """Iterations ``start, ..., start + k - 1`` on the batches ``Xs[j], Ys[j]`` of the blocks
    ``Xs`` (k, n[0], b) and ``Ys`` (k, n[L], b); dropout masks from ``fold_in(key, i)``."""
    def step(carry, i):
        j = i - start
        return train_step(Xs[j], Ys[j], carry, i, key, learning_rate, momentum, options)

    carry, costs, diverged = guarded_scan(step, (parameters, opt_state), start, Xs.shape[0])
    return *carry, costs, diverged


def fit_stream(examples, parameters, *, mini_batch_size, num_epochs, key,
               hidden_activation="relu", output="sigmoid", learning_rate=0.0075, momentum=0.0,
               lambd=0.0, keep_prob=1.0, optimizer=None, print_cost=False, on_cost=None,
               chunk_bytes=CHUNK_BYTES):
    """Train ``parameters`` on mini-batches of ``examples`` streamed from their file: the same
    iterates as :func:`~jaxdnn.fit` on ``examples.load()`` with the same options.

    Args:
      examples: an :class:`H5Examples`.
      parameters: the initial course dict; its dtype is the training dtype.
      mini_batch_size: B, 1 to m - 1 examples per batch.
      num_epochs, key: as :func:`~jaxdnn.fit` takes them with mini-batches.
      chunk_bytes: the inputs one compiled call trains on, K = chunk_bytes // (n B itemsize)
        batches (at least one); a few chunks are in memory at a time.
      hidden_activation, output, learning_rate, momentum, lambd, keep_prob, optimizer,
        print_cost, on_cost: as :func:`~jaxdnn.fit` takes them.

    Returns:
      ``(parameters, costs)``: the trained dict and every epoch's cost, as :func:`~jaxdnn.fit`.

    Raises:
      As :func:`~jaxdnn.fit`, and DataError for labels unfit for ``output`` or a non-finite
      input met while reading (naming the file, the data set and the example).
    """
    if not isinstance(examples, H5Examples):
        raise InputTypeError(f"examples must be an H5Examples(path, x=..., y=...); got "
                             f"{type(examples).__name__}")
    layers = check.parameters(parameters)
    out = get_output(output)
    if layers[0][0].shape[1] != examples.n:
        raise ShapeError(f"{examples.where(examples.x)} holds examples of {examples.n} features "
                         f"but W1 has shape {tuple(layers[0][0].shape)}: W1 needs "
                         f"{examples.n} columns")
    classes = _check_labels(examples, out, layers[-1][0].shape[0])
    check.finite_parameters(parameters)
    if mini_batch_size is None or check.mini_batch_size(mini_batch_size, examples.m) >= examples.m:
        raise OptionError(f"mini_batch_size must be between 1 and m - 1 = {examples.m - 1}; got "
                          f"{mini_batch_size} (one batch of all m examples: load() them and fit)")
    size = int(mini_batch_size)
    per_epoch = batches_per_epoch(examples.m, size)
    epochs = check.count(num_epochs, "num_epochs")
    config.training(epochs * per_epoch, learning_rate, momentum, optimizer, False, on_cost, lambd)
    check.shuffle_key(key)
    dtype = layers[0][0].dtype
    row_bytes = size * examples.n * dtype.itemsize
    if check.count(chunk_bytes, "chunk_bytes") < 1:
        raise OptionError("chunk_bytes must be positive")
    if row_bytes > limits.MAX_FILE_BYTES:
        raise OptionError(f"a batch of {size} examples of {examples.n} features is "
                          f"{row_bytes:,} bytes, above the limit of {limits.MAX_FILE_BYTES:,} "
                          f"(MAX_FILE_BYTES): choose a smaller mini_batch_size")
    chunk = max(1, min(chunk_bytes // row_bytes, examples.m // size))
    options = Options(layer_activations(hidden_activation, len(layers), output),
                      epochs * per_epoch, optimizer, None, float(lambd),
                      check.keep_prob(keep_prob, key, len(layers)), size)
    on_cost = on_cost or (cost_printer(COST_LINES[True]) if print_cost else None)
    shuffle_key, dropout_key = jax.random.split(key)

    def produce():
        with examples.open() as f:
            dataset = examples.inputs(f)
            for first, columns in _blocks(examples, size, chunk, epochs, shuffle_key):
                yield first, jax.device_put((examples.read_block(dataset, columns, dtype),
                                             examples.label_block(columns, classes, dtype)))

    carry = jax.tree.map(jnp.array, (parameters, initial_opt_state(parameters, momentum,
                                                                       optimizer)))
    scalars = jnp.asarray(learning_rate, dtype), jnp.asarray(momentum, dtype)
    costs, epoch_cost = [], []  # every batch's cost; every complete epoch's, computed once
    with _Prefetch(produce) as blocks:
        for first, (Xs, Ys) in blocks:
            *carry, batch_costs, diverged = _segment(Xs, Ys, *carry, jnp.int32(first), *scalars,
                                                     dropout_key, options=options)
            costs.extend(np.asarray(batch_costs).tolist())
            if int(diverged) >= 0:
                raise TrainingDiverged(int(diverged), carry[0], np.asarray(costs[:int(diverged)
                                                                                 + 1]))
            if len(costs) % per_epoch == 0:
                epoch_cost.append(epoch_costs(np.asarray(costs[-per_epoch:]), examples.m,
                                              size)[0])
                epoch = len(epoch_cost) - 1
                if on_cost is not None and epoch % PRINT_EVERY == 0:
                    on_cost(epoch, float(epoch_cost[epoch]))  # the very number returned
    return carry[0], np.array(epoch_cost, np.float64)


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
