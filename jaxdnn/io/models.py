"""Saving and loading models and checkpoints as ``.npz`` files read with ``allow_pickle=False``.

A model file holds the arrays ``W1, b1, ..., WL, bL`` and ``__metadata__``, a JSON string with
the format version, the layer sizes, the parameters' dtype, the hidden activation and the
training options. A checkpoint is a model file with three more things: the iteration in the
metadata, every cost so far (``__costs__``, at most :data:`~jaxdnn.core.limits.MAX_COSTS`) and
the optimiser state's arrays (``__opt_state_0__``, ...). Writes are atomic
(:mod:`jaxdnn.io.files`). Reads are bounded: only a regular file is opened, and the sizes its zip
directory and ``.npy`` headers declare are checked (against
:data:`~jaxdnn.core.limits.MAX_FILE_BYTES` and the memory available) before anything is read.
The metadata is parsed with every number bounded (integers up to
:data:`~jaxdnn.core.limits.MAX_RECORDED_INTEGER`, finite floats; no NaN or Infinity) and its
recorded facts are checked against a schema and against the arrays (:func:`checked_metadata`
checks any other schema). Whatever the writer writes, the reader reads back.
"""

import json
import math
import re
import zipfile
from typing import NamedTuple

import numpy as np

from ..core import checks as check
from ..core import layout, limits, numeric
from ..errors import DataError, InputTypeError, JaxdnnError, OptionError, ShapeError
from . import files
from .files import atomic_write, regular_file

FORMAT_VERSION = 1
_META = "__metadata__"


class Items(NamedTuple):
    """A schema's list: a JSON list of ``item``, ``length`` of them (an int, a ``range``, or
    None for any number)."""

    item: object
    length: object = None


class Maybe(NamedTuple):
    """A schema's optional entry: the key may be absent; present, it must pass ``spec``."""

    spec: object


def checked_metadata(meta, schema, where):
    """``meta`` (metadata a model file recorded), checked against ``schema``, returned as it is.

    A schema is ``str``, ``bool``, ``int`` or ``float`` (a finite number, integers included), a
    ``range`` (an integer in it), :class:`Items` (a list), a dict (an object holding those keys,
    each required unless its spec is :class:`Maybe`; other keys are let be), a tuple (any one of
    its schemas), or any other value (that very value, of its type).

    >>> checked_metadata({"run": {"iterations": 10}}, {"run": {"iterations": range(1, 100)}},
    ...                  "model.npz")
    {'run': {'iterations': 10}}

    Raises:
      DataError: ``where: metadata entry run.iterations is 'x'; expected an integer in
        [1, 99]``, for the first entry that does not fit.
    """
    try:
        _check(meta, schema, "")
    except _Mismatch as e:
        name, value, expected = e.args
        entry = f"entry {name}" if name else "metadata"
        shown = "missing" if value is _MISSING else f"{_shown(value)}"
        raise DataError(f"{where}: {'metadata ' if name else ''}{entry} is {shown}; expected "
                        f"{expected}") from None
    return meta


class _Mismatch(Exception):
    """(name, value, what was expected) of an entry that does not fit its schema."""


_MISSING = object()


def _check(value, spec, name):
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _Mismatch(name, value, "an object")
        for key, sub in spec.items():
            entry = f"{name}.{key}" if name else key
            if key not in value and not isinstance(sub, Maybe):
                raise _Mismatch(entry, _MISSING, _describe(sub))
            if key in value:
                _check(value[key], sub.spec if isinstance(sub, Maybe) else sub, entry)
    elif isinstance(spec, Items):
        if not isinstance(value, list) or not _length_fits(len(value), spec.length):
            raise _Mismatch(name, value, _describe(spec))
        for i, item in enumerate(value):
            _check(item, spec.item, f"{name}[{i}]")
    elif isinstance(spec, tuple):
        for option in spec:
            try:
                return _check(value, option, name)
            except _Mismatch:
                pass
        raise _Mismatch(name, value, _describe(spec))
    elif not _fits(value, spec):
        raise _Mismatch(name, value, _describe(spec))


def _integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _fits(value, spec):
    if spec is int:
        return _integer(value)
    if spec is float:
        return (_integer(value) or isinstance(value, float)) and math.isfinite(value)
    if spec in (str, bool):
        return isinstance(value, spec)
    if isinstance(spec, range):
        return _integer(value) and value in spec
    return type(value) is type(spec) and value == spec


def _length_fits(n, length):
    return length is None or (n in length if isinstance(length, range) else n == length)


def _describe(spec):
    if isinstance(spec, Maybe):
        return _describe(spec.spec)
    if isinstance(spec, dict):
        return "an object"
    if isinstance(spec, Items):
        length = spec.length
        count = ("" if length is None else f"{length} " if isinstance(length, int) else
                 f"{length.start} to {length.stop - 1} ")
        return f"a list of {count}entries, each {_describe(spec.item)}"
    if isinstance(spec, tuple):
        return " or ".join(map(_describe, spec))
    if isinstance(spec, range):
        return f"an integer in [{spec.start}, {spec.stop - 1}]"
    return {str: "a string", bool: "true or false", int: "an integer",
            float: "a finite number"}.get(spec, repr(spec))


def _shown(value):
    text = json.dumps(value) if isinstance(value, (dict, list)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Unreadable(ValueError):
    """A number the metadata must not hold."""


def _parse_integer(text):
    digits = len(text.lstrip("-"))
    if digits > len(str(limits.MAX_RECORDED_INTEGER)) or \
            abs(int(text)) > limits.MAX_RECORDED_INTEGER:
        raise _Unreadable(f"an integer of {digits} digits, beyond "
                          f"{limits.MAX_RECORDED_INTEGER:,} (MAX_RECORDED_INTEGER)")
    return int(text)


def _parse_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise _Unreadable(f"the number {text[:30]}, beyond the range of a float")
    return value


def _parse_constant(text):
    raise _Unreadable(f"{text}, which is not a number")


def _parse_metadata(text):
    """The JSON ``text`` of a model file's metadata, every number bounded (integers up to
    :data:`~jaxdnn.core.limits.MAX_RECORDED_INTEGER` in magnitude, floats finite).

    Raises:
      ValueError: the text is not such JSON (a ``json.JSONDecodeError``, ``RecursionError``
        or an out-of-range number, named).
    """
    return json.loads(text, parse_int=_parse_integer, parse_float=_parse_float,
                      parse_constant=_parse_constant)


_FORMAT = {"layer_dims": Items(range(1, limits.MAX_RECORDED_INTEGER), range(2, 2**31)),
           "dtype": str}
"""What every model file records (besides its format version), checked against its arrays."""


def _checkpoint_schema():
    """What every checkpoint records too (built when called, so a test may lower MAX_COSTS)."""
    return {"iteration": range(limits.MAX_COSTS + 1), "opt_state_leaves": range(2**31)}


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
        text = json.dumps(meta, sort_keys=True, allow_nan=False)
        _parse_metadata(text)  # what the reader refuses is not written
    except (TypeError, ValueError, RecursionError) as e:
        raise InputTypeError(f"metadata must be JSON-serialisable, every number within what a "
                             f"model file holds: {e}") from None
    arrays[_META] = np.array(text)
    arrays.update({f"__{name}__": np.asarray(value) for name, value in (extras or {}).items()})
    total = sum(a.nbytes for a in arrays.values())
    if total > limits.MAX_FILE_BYTES:
        raise DataError(f"the arrays to save take {total:,} bytes, above the limit of "
                        f"{limits.MAX_FILE_BYTES:,} (MAX_FILE_BYTES) that a model file is read "
                        f"back with")
    np.savez(file, **arrays)


def write_checkpoint(path, parameters, iteration, costs, leaves, metadata=None, loop=()):
    """Write a checkpoint to ``path``, atomically: the parameters, ``costs`` (one per
    iteration so far), the optimiser state's ``leaves`` (in ``jax.tree.leaves`` order), the
    loop state's arrays ``loop`` and the JSON ``metadata`` with the iteration added."""
    files.path(path)
    iteration = numeric.count(iteration, "state.iteration")
    check.array(costs, "costs", floating=True, ndim=None)
    costs = np.asarray(costs)
    if iteration > limits.MAX_COSTS:
        raise OptionError(f"a checkpoint records one cost per iteration, at most "
                          f"{limits.MAX_COSTS:,} (MAX_COSTS); this one is at iteration "
                          f"{iteration:,}")
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
    if "iteration" not in meta:
        raise DataError(f"{path}: not a checkpoint (no iteration in its metadata)")
    checked_metadata(meta, _checkpoint_schema(), path)
    iteration, saved = meta["iteration"], meta["opt_state_leaves"]
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
        meta = _parse_metadata(text)
    except _Unreadable as e:
        raise DataError(f"{path}: corrupt {_META} entry (it holds {e})") from None
    except (json.JSONDecodeError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: corrupt {_META} entry (not a JSON object, or nested too "
                        f"deeply)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path}: format version {_shown(meta.get('format_version'))}, "
                        f"this jaxdnn reads version {FORMAT_VERSION}")
    try:
        dims = layout.layer_dims(check.parameters(arrays))
        check.finite_parameters(arrays)
    except JaxdnnError as e:
        raise DataError(f"{path}: {e}") from None
    checked_metadata(meta, _FORMAT, path)
    if dims != meta["layer_dims"]:
        raise DataError(f"{path}: arrays give layer sizes {dims} but the metadata records "
                        f"{meta['layer_dims']}")
    if str(arrays["W1"].dtype) != meta["dtype"]:
        raise DataError(f"{path}: the arrays are {arrays['W1'].dtype} but the metadata records "
                        f"dtype {meta['dtype']!r}")
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
    limits.fits(2 * declared, f"{path}: reading its {len(members)} arrays", DataError,
                " (as stored, then in native byte order)")
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
