"""Saving and loading trained models as ``.npz`` files that load with ``allow_pickle=False``.

A model file holds the arrays ``W1, b1, ..., WL, bL`` and ``__metadata__``, a JSON string with
the format version, the layer sizes, the hidden activation and the training options. Writes are
atomic: the data goes to a temporary file in the same folder, is flushed and fsynced, then
renamed over the target, so a crash leaves either the old file or the new one.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

from ._checks import check_parameters
from .errors import DataError, JaxdnnError

FORMAT_VERSION = 1
_META = "__metadata__"


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, rename it to ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 is for the temporary name only
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def save_model(path, parameters, metadata=None):
    """Write ``parameters`` (the course dict) and JSON-serialisable ``metadata`` to ``path``."""
    atomic_write(path, lambda f: write_model(f, parameters, metadata))


def write_model(file, parameters, metadata=None):
    """The body of :func:`save_model`, into an open binary file."""
    L = check_parameters(parameters)
    arrays = {k: np.asarray(v) for k, v in parameters.items()}
    layer_dims = [arrays["W1"].shape[1]] + [arrays[f"W{l}"].shape[0] for l in range(1, L + 1)]
    meta = dict(metadata or {}, format_version=FORMAT_VERSION, layer_dims=layer_dims,
                dtype=str(arrays["W1"].dtype))
    arrays[_META] = np.array(json.dumps(meta, sort_keys=True))
    np.savez(file, **arrays)


def load_model(path):
    """Read a file written by :func:`save_model`; returns ``(parameters, metadata)``.

    Raises:
      DataError: naming the file, if it is missing, not a jaxdnn model, of another format
        version, or its arrays do not match the recorded architecture.
    """
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise DataError(f"{path}: no such model file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: not a jaxdnn model file ({type(e).__name__}: {e})") from None
    if _META not in arrays:
        raise DataError(f"{path}: not a jaxdnn model file (no {_META} entry)")
    try:
        meta = json.loads(str(arrays.pop(_META)))
    except json.JSONDecodeError:
        meta = None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: corrupt {_META} entry (not a JSON object)")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{path}: format version {meta.get('format_version')!r}, "
                        f"this jaxdnn reads version {FORMAT_VERSION}")
    try:
        L = check_parameters(arrays)
    except JaxdnnError as e:
        raise DataError(f"{path}: {e}") from None
    dims = [arrays["W1"].shape[1]] + [arrays[f"W{l}"].shape[0] for l in range(1, L + 1)]
    if dims != meta.get("layer_dims"):
        raise DataError(f"{path}: arrays give layer sizes {dims} but the metadata records "
                        f"{meta.get('layer_dims')}")
    bad = [k for k, v in arrays.items() if not np.issubdtype(v.dtype, np.floating)]
    if bad:
        raise DataError(f"{path}: arrays {bad} are not floating point")
    return arrays, meta
