"""Saving and loading models and checkpoints as ``.npz`` files read with ``allow_pickle=False``.

A model file holds the arrays ``W1, b1, ..., WL, bL`` and ``__metadata__``, a JSON string with
the format version, the layer sizes, the hidden activation and the training options. A
checkpoint is a model file with three more things: the iteration in the metadata, every cost so
far (``__costs__``) and the optimiser state's arrays (``__opt_state_0__``, ...). Writes are
atomic (:mod:`jaxdnn.io.files`). Reads are
bounded: only a regular file is opened, and the sizes its zip directory and ``.npy`` headers
declare are checked (against :data:`~jaxdnn.core.limits.MAX_FILE_BYTES`) before anything is read.
"""

import json
import math
import re
import zipfile

import numpy as np

from ..core import checks as check
from ..core import layout, limits
from ..errors import DataError, InputTypeError, JaxdnnError, ShapeError
from . import files
from .files import atomic_write, regular_file

FORMAT_VERSION = 1
_META = "__metadata__"


def save_model(path, parameters, metadata=None):
    """Write ``parameters`` (the course dict) and JSON-serialisable ``metadata`` to ``path``."""
    files.path(path)
    atomic_write(path, lambda f: write_model(f, parameters, metadata))


def write_model(file, parameters, metadata=None, extras=None):
    """The body of :func:`save_model`, into an open binary file (``extras``: more named arrays,
    stored as ``__name__``)."""
    layers = check.parameters(parameters)
    check.finite_parameters(parameters)
    if metadata is not None and not isinstance(metadata, dict):
        raise InputTypeError(f"metadata must be a dict; got {type(metadata).__name__}")
    arrays = {k: np.asarray(v) for k, v in parameters.items()}
    meta = dict(metadata or {}, format_version=FORMAT_VERSION,
                layer_dims=layout.layer_dims(layers), dtype=str(arrays["W1"].dtype))
    try:
        arrays[_META] = np.array(json.dumps(meta, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as e:
        raise InputTypeError(f"metadata must be JSON-serialisable: {e}") from None
    arrays.update({f"__{name}__": np.asarray(value) for name, value in (extras or {}).items()})
    np.savez(file, **arrays)


def write_checkpoint(path, parameters, iteration, costs, leaves, metadata=None, loop=()):
    """Write a checkpoint to ``path``, atomically: the parameters, ``costs`` (one per
    iteration so far), the optimiser state's ``leaves`` (in ``jax.tree.leaves`` order), the
    loop state's arrays ``loop`` and the JSON ``metadata`` with the iteration added."""
    files.path(path)
    iteration = check.count(iteration, "state.iteration")
    check.array(costs, "costs", floating=True, ndim=None)
    costs = np.asarray(costs)
    if costs.shape != (iteration,):
        raise ShapeError(f"costs has shape {costs.shape}; a checkpoint at iteration "
                         f"{iteration} records one cost per iteration")
    meta = dict(metadata or {}, iteration=iteration, opt_state_leaves=len(leaves),
                loop_arrays=len(loop))
    extras = {"costs": costs, **{f"opt_state_{i}": leaf for i, leaf in enumerate(leaves)},
              **{f"loop_{i}": array for i, array in enumerate(loop)}}
    atomic_write(path, lambda f: write_model(f, parameters, meta, extras))


def read_checkpoint(path, like):
    """Read a checkpoint of :func:`write_checkpoint`: ``(parameters, iteration, costs, leaves,
    metadata, loop)``, the optimiser state's leaves checked against ``like`` (the leaves of this
    run's optimiser state: the same number, shapes and dtypes, all finite), and the loop
    state's arrays as stored.

    Raises:
      DataError: as :func:`load_model`, or if the optimiser state or costs do not match.
    """
    parameters, meta, extras = read(path)
    iteration, saved = meta.get("iteration"), meta.get("opt_state_leaves")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
               for n in (iteration, saved)):
        raise DataError(f"{path}: not a checkpoint (no iteration in its metadata)")
    costs = extras.get("costs")
    if costs is None or costs.shape != (iteration,) or costs.dtype.kind != "f" \
            or not np.isfinite(costs).all():
        raise DataError(f"{path}: expected {iteration} finite costs, found "
                        f"{None if costs is None else (costs.shape, str(costs.dtype))}")
    leaves = [extras.get(f"opt_state_{i}") for i in range(min(saved, len(like) + 1))]
    if len(leaves) != len(like) or any(
            a is None or a.shape != np.shape(b) or a.dtype != np.asarray(b).dtype
            or (a.dtype.kind == "f" and not np.isfinite(a).all())
            for a, b in zip(leaves, like, strict=False)):
        raise DataError(f"{path}: its optimiser state does not fit this run's optimiser "
                        f"({saved} arrays saved, {len(like)} expected, all finite)")
    count = meta.get("loop_arrays", 0)
    loop = [extras.get(f"loop_{i}") for i in range(count if isinstance(count, int) else 0)]
    if not isinstance(count, int) or isinstance(count, bool) or any(a is None for a in loop):
        raise DataError(f"{path}: its loop state is incomplete")
    return parameters, iteration, costs, leaves, meta, loop


def load_model(path):
    """Read a file written by :func:`save_model` (or a checkpoint); returns
    ``(parameters, metadata)``.

    Raises:
      DataError: naming the file, if it is missing, not a regular file, not a jaxdnn model, of
        another format version, larger than the limits, or its arrays do not match the recorded
        architecture.
    """
    parameters, meta, _ = read(path)
    return parameters, meta


_EXTRA = re.compile(r"__(\w+)__")
_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0}


def read(path):
    """``(parameters, metadata, extras)`` of a model or checkpoint file, all checked."""
    regular_file(path, "model file")
    try:
        with open(path, "rb") as f:
            if f.read(6) == b"\x93NUMPY":
                raise ValueError("a single array, not an .npz archive")
        with zipfile.ZipFile(path) as archive:
            arrays = _read_arrays(path, archive)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, NotImplementedError,
            RuntimeError) as e:  # the last two: a compression method or encryption zipfile lacks
        raise DataError(f"{path}: not a jaxdnn model file ({type(e).__name__}: {e})") from None
    if _META not in arrays:
        raise DataError(f"{path}: not a jaxdnn model file (no {_META} entry)")
    text = str(arrays.pop(_META))
    extras = {match.group(1): arrays.pop(key) for key in list(arrays)
              if (match := _EXTRA.fullmatch(key))}
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: corrupt {_META} entry (not a JSON object, or nested too "
                        f"deeply)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path}: format version {meta.get('format_version')!r}, "
                        f"this jaxdnn reads version {FORMAT_VERSION}")
    try:
        dims = layout.layer_dims(check.parameters(arrays))
        check.finite_parameters(arrays)
    except JaxdnnError as e:
        raise DataError(f"{path}: {e}") from None
    if dims != meta.get("layer_dims"):
        raise DataError(f"{path}: arrays give layer sizes {dims} but the metadata records "
                        f"{meta.get('layer_dims')}")
    return arrays, meta, extras


def _read_arrays(path, archive):
    """Every ``.npy`` member of the open zip ``archive``, by name. The sizes its directory
    declares must stay within :data:`~jaxdnn.core.limits.MAX_FILE_BYTES` (a zip bomb declares what
    it expands to, and a member never yields more than it declares)."""
    members = archive.infolist()
    declared = sum(member.file_size for member in members)
    if declared > limits.MAX_FILE_BYTES:
        raise DataError(f"{path}: its members expand to {declared:,} bytes, above the limit "
                        f"of {limits.MAX_FILE_BYTES:,} (MAX_FILE_BYTES)")
    arrays = {}
    for member in members:
        name = member.filename.removesuffix(".npy")
        with archive.open(member) as f:
            arrays[name] = _read_npy(path, name, f, member.file_size)
    return arrays


def _read_npy(path, name, f, size):
    """One ``.npy`` member of ``size`` bytes, its header checked before its data is read: plain
    numbers (or the metadata's text) that fit in the member; returned in native byte order."""
    read_header = _HEADERS.get(np.lib.format.read_magic(f))
    if read_header is None:
        raise DataError(f"{path}: member {name!r} is not a .npy array of format 1.0 or 2.0")
    shape, fortran_order, dtype = read_header(f)
    if dtype.kind not in "biufU" or dtype.fields or dtype.subdtype:
        raise DataError(f"{path}: member {name!r} has dtype {dtype}; expected plain numbers")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > size:
        raise DataError(f"{path}: member {name!r} declares shape {shape} ({nbytes:,} bytes) "
                        f"but holds {size:,} bytes")
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise DataError(f"{path}: member {name!r} is truncated")
    array = np.frombuffer(data, dtype).reshape(shape, order="F" if fortran_order else "C")
    return array.astype(dtype.newbyteorder("="))  # a writable copy, native (big-endian files)
