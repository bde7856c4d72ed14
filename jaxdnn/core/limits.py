"""Limits: what files, options and networks may ask for, and the memory they are checked against.

Each limit has this one owner; the README's "Errors and guarantees" lists them. Code reads them
as attributes of this module (``limits.MAX_FILE_BYTES``), so a test may lower one.
"""

import os

from ..errors import ShapeError

MAX_ITERATIONS = 2**31 - 1
"""Iterations of one run: the compiled loops count them in int32."""
MAX_PARAMETERS = 2**28
"""The parameter budget: weights and biases of one network (1 GiB in float32, 2 GiB in
float64, before gradients and optimiser state)."""
TRAINING_COPIES = 4
"""What training holds per parameter, counted against the memory available: the parameters,
their gradients and up to two optimiser moments (Adam)."""
MAX_FILE_BYTES = 2**32
"""The most a model, checkpoint or h5 file may expand to when its arrays are read (4 GiB):
checked against the sizes the file declares, before anything is read."""
MAX_IMAGE_PIXELS = 2**26
"""The most pixels of an image to classify (8192 x 8192), checked before it is decoded."""


def parameter_count(dims):
    """The weights and biases of a network of layer sizes ``dims``: sum of n[l] (n[l-1] + 1)."""
    return sum(n * (n_prev + 1) for n_prev, n in zip(dims[:-1], dims[1:], strict=True))


def stacked(S, dims, what="models"):
    """S networks padded to the layer sizes ``dims`` (a :class:`~jaxdnn.ModelStack`) must fit
    the parameter budget :data:`MAX_PARAMETERS` together."""
    total = S * parameter_count(dims)
    if total > MAX_PARAMETERS:
        raise ShapeError(f"{S:,} {what} of layer sizes {list(dims)} need {total:,} parameters "
                         f"together, above the budget of {MAX_PARAMETERS:,} (MAX_PARAMETERS)")


def available_memory():
    """Bytes of memory available to a new allocation (Linux's MemAvailable, else the free
    physical pages), or None where neither can be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def fits_in_memory(dims, itemsize):
    """A network of ``dims`` (checked by :func:`~jaxdnn.core.checks.layer_dims`) must fit
    :data:`TRAINING_COPIES` times in the memory available, at ``itemsize`` bytes a number."""
    total = parameter_count(dims)
    need, available = TRAINING_COPIES * total * itemsize, available_memory()
    if available is not None and need > available:
        raise ShapeError(f"layer_dims {dims} need {total:,} parameters: training them takes "
                         f"{need / 2**20:,.0f} MiB ({TRAINING_COPIES} copies of {itemsize} "
                         f"bytes each), more than the {available / 2**20:,.0f} MiB of memory "
                         f"available")
