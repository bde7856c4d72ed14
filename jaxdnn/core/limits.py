"""Limits: what files, options and networks may ask for, and the memory they are checked against.

Each limit has this one owner; docs/guarantees.md lists them. Code reads them
as attributes of this module (``limits.MAX_FILE_BYTES``), so a test may lower one.
"""

import os
import resource

from ..errors import ShapeError

MAX_ITERATIONS = 2**31 - 1
"""Iterations of one run: the compiled loops count them in int32."""
MAX_PARAMETERS = 2**28
"""The parameter budget: weights and biases of one network (1 GiB in float32, 2 GiB in
float64, before gradients and optimiser state)."""
TRAINING_COPIES = 4
"""What training holds per parameter, counted against the memory available: the parameters,
their gradients and up to two optimiser moments (Adam)."""
MAX_COSTS = 2**27
"""Costs a checkpoint records, one per iteration (1 GiB in float64): the writer refuses more and
so does the reader, so every checkpoint written can be read back."""
MAX_FILE_BYTES = 2**33
"""The most a model, checkpoint or h5 file may expand to when its arrays are read (8 GiB):
checked against the sizes the file declares, before anything is read, and by the writer before
anything is written. A checkpoint of the largest network (:data:`MAX_PARAMETERS` in float64)
with two optimiser moments and :data:`MAX_COSTS` costs fits."""
MAX_RECORDED_INTEGER = 2**63 - 1
"""The largest integer (in magnitude) a model file's metadata may hold: int64's. A longer one
is refused as the metadata is parsed, before it becomes a number that overflows later."""
MAX_H5_LINKS = 16
"""Soft links followed to find one data set of an HDF5 file (HDF5's own default); more is a
loop."""
MAX_IMAGE_PIXELS = 2**26
"""The most pixels of an image to classify (8192 x 8192), checked before it is decoded."""
MAX_DATASET_SAMPLES = 2**24
"""The most points a generated 2-D data set holds (256 MiB of float64 inputs)."""
MAX_CHECK_OPERATIONS = 2**42
"""The arithmetic a gradient check (``jaxdnn check``) may take, all draws together: its float64
central differences run the network forward twice per parameter, so their cost grows as the
parameters squared times the examples (2**42, about 4e12 multiply-adds, is minutes of a CPU
core)."""
MAX_STUDY_MODELS = 2**12
"""The models of one study (``jaxdnn sweep``'s grid): each is drawn, configured and reported on
the host, about a millisecond apiece before the program runs."""
MAX_STUDY_OPERATIONS = 2**44
"""The arithmetic one study (``jaxdnn sweep``: models x iterations x parameters x examples) may
take: about 2e13 multiply-adds, half an hour of a CPU; a grid of tens of thousands of models
is refused up front rather than run for days."""
MAX_DATASET_CLASSES = 256
"""The most classes (centres, arms) of a generated data set: its labels are uint8."""


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


PROC_ROOT = "/proc"
CGROUP_ROOT = "/sys/fs/cgroup"
"""Where :func:`available_memory` reads the kernel's figures (a test points them elsewhere)."""


def available_memory():
    """Bytes a new allocation may take: the tightest of Linux's MemAvailable (else the free
    physical pages), the memory cgroup's limit less its usage (v2 ``memory.max`` minus
    ``memory.current``, v1 ``memory.limit_in_bytes`` minus ``memory.usage_in_bytes``, this
    process's cgroup and every one above it) and the address-space rlimit less the address
    space in use; None where none can be read."""
    budgets = [_meminfo(), *_cgroups(), _address_space()]
    budgets = [b for b in budgets if b is not None]
    return max(0, min(budgets)) if budgets else None


def fits(nbytes, what, error=ShapeError, detail=""):
    """``nbytes``, what ``what`` allocates, must fit in :func:`available_memory`: else an
    ``error`` naming ``what``, the estimate (``detail`` says how it is made) and the memory
    available. Where the memory cannot be read, nothing is refused."""
    available = available_memory()
    if available is not None and nbytes > available:
        raise error(f"{what} takes {_mib(nbytes)} MiB{detail}, more than the "
                    f"{_mib(available)} MiB of memory available")


def _mib(nbytes):
    return f"{nbytes / 2**20:,.0f}" if nbytes >= 2**20 else f"{nbytes / 2**20:.2g}"


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def _number(text):
    """An integer of a kernel file, None for "max" or anything else."""
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _meminfo():
    for line in (_read(os.path.join(PROC_ROOT, "meminfo")) or "").splitlines():
        if line.startswith("MemAvailable:"):
            kib = _number(line.split()[1]) if len(line.split()) > 1 else None
            if kib is not None:
                return kib * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


_UNLIMITED = 2**60
"""A cgroup v1 limit at or above this is "no limit" (the kernel writes 2**63 less a page)."""


def _cgroups():
    """The room left under each memory cgroup this process is in (v2 and v1), innermost first,
    each up to the root of its hierarchy."""
    for line in (_read(os.path.join(PROC_ROOT, "self", "cgroup")) or "").splitlines():
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # v2: one unified hierarchy
            root, limit, usage = CGROUP_ROOT, "memory.max", "memory.current"
        elif "memory" in controllers.split(","):
            root, limit, usage = (os.path.join(CGROUP_ROOT, "memory"), "memory.limit_in_bytes",
                                  "memory.usage_in_bytes")
        else:
            continue
        parts = [p for p in path.split("/") if p]
        for depth in range(len(parts), -1, -1):
            folder = os.path.join(root, *parts[:depth])
            cap, used = (_number(_read(os.path.join(folder, name))) for name in (limit, usage))
            if cap is not None and cap < _UNLIMITED:
                yield cap - (used or 0)


def _address_space():
    """The address-space rlimit (``ulimit -v``) less what this process has mapped."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY:
        return None
    for line in (_read(os.path.join(PROC_ROOT, "self", "status")) or "").splitlines():
        if line.startswith("VmSize:") and len(line.split()) > 1:
            return soft - (_number(line.split()[1]) or 0) * 1024
    return soft


def fits_in_memory(dims, itemsize):
    """A network of ``dims`` (checked by :func:`~jaxdnn.core.checks.layer_dims`) must fit
    :data:`TRAINING_COPIES` times in the memory available, at ``itemsize`` bytes a number."""
    total = parameter_count(dims)
    fits(TRAINING_COPIES * total * itemsize,
         f"layer_dims {dims} need {total:,} parameters: training them",
         detail=f" ({TRAINING_COPIES} copies of {itemsize} bytes each)")
