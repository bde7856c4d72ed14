"""The course's cat / non-cat images, read from its two h5 files.

As stored (:func:`load_data`): ``x_orig`` is ``(m, height, width, 3)`` uint8 and ``y`` is
``(1, m)`` with labels 0 (non-cat) and 1 (cat); ``classes`` is ``[b'non-cat', b'cat']``. The
course's files hold m = 209 training and 50 test images of 64 x 64 pixels. :func:`flatten_images`
turns ``x_orig`` into ``X`` of shape ``(height * width * 3, m)`` float64 in [0, 1];
:func:`load_cat_data` does both steps.

The files are validated completely before anything is returned; a missing, unreadable or
malformed file raises :class:`~jaxdnn.errors.DataError` naming the file and the key, and so does
one whose data sets lie outside it or were not written whole (:mod:`jaxdnn.io.h5`), or would not
fit in the memory available (checked from their declared shapes before anything is read).
"""

import pathlib

import h5py
import numpy as np

from ..core import checks as check
from ..core import limits
from ..errors import DataError, ShapeError
from . import h5
from .files import path as check_path
from .files import regular_file

_TRAIN_FILE = "train_catvnoncat.h5"
_TEST_FILE = "test_catvnoncat.h5"


def load_data(data_dir="datasets", *, allow_external=False):
    """Load the course's cat / non-cat images, as its ``load_data`` does.

    Args:
      data_dir: folder holding ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``.
      allow_external: read data sets that lie outside the files (external links, virtual data
        sets, external storage), which are refused otherwise.

    Returns:
      ``(train_x_orig, train_y, test_x_orig, test_y, classes)``: square RGB images
      ``(m, h, h, 3)`` uint8, labels ``(1, m)`` in {0, 1} (in the file's integer dtype), and
      ``classes``, the test file's ``list_classes`` (``[b'non-cat', b'cat']``).

    Raises:
      DataError: a file is missing, not HDF5 or truncated, lacks a key, has the wrong layout
        (images that are not square RGB among it), keeps a data set outside itself or not
        written whole, or holds more than the memory available.
    """
    return _load(data_dir, allow_external, flattened=False)


def _load(data_dir, allow_external, flattened):
    """:func:`load_data`; ``flattened``: the images' memory estimate includes the float64 copy
    :func:`flatten_images` makes of them."""
    data_dir = pathlib.Path(check_path(data_dir, "data_dir"))
    train_path, test_path = data_dir / _TRAIN_FILE, data_dir / _TEST_FILE
    train = _read_h5(train_path, ("train_set_x", "train_set_y"), allow_external,
                     ("train_set_x",) if flattened else ())
    test = _read_h5(test_path, ("test_set_x", "test_set_y", "list_classes"), allow_external,
                    ("test_set_x",) if flattened else ())
    train_x, train_y = _check_split(train_path, "train", train)
    test_x, test_y = _check_split(test_path, "test", test)
    if train_x.shape[1:] != test_x.shape[1:]:
        raise DataError(
            f"{test_path}: 'test_set_x' holds images of shape {test_x.shape[1:]} but "
            f"'train_set_x' in {train_path} holds {train_x.shape[1:]}: they must be equal"
        )
    classes = test["list_classes"]
    if classes.shape != (2,):
        raise DataError(
            f"{test_path}: 'list_classes' has shape {classes.shape} but needs (2,): the names of "
            "labels 0 and 1"
        )
    if not all(isinstance(name, bytes) and _is_utf8(name) for name in classes.tolist()):
        raise DataError(
            f"{test_path}: 'list_classes' holds {classes.tolist()!r} ({classes.dtype}) but needs "
            "two UTF-8 byte strings, the names of labels 0 and 1"
        )
    return train_x, train_y, test_x, test_y, classes


def flatten_images(x_orig):
    """Flatten and standardise images the course's way: ``x_orig.reshape(m, -1).T / 255``.

    Args:
      x_orig: images ``(m, h, w, 3)``, pixel values 0..255.

    Returns:
      ``(h * w * 3, m)`` float64 in [0, 1], one image per column.
    """
    shape = check.array(x_orig, "x_orig", ndim=None)
    if len(shape) != 4 or 0 in shape:
        raise ShapeError(f"x_orig has shape {shape} but needs (m, height, width, 3), every "
                         f"size > 0")
    check.finite(x_orig, "x_orig")
    x_orig = np.asarray(x_orig)
    limits.fits(x_orig.size * 8, f"flattening x_orig of shape {shape} to float64", DataError)
    return x_orig.reshape(x_orig.shape[0], -1).T / 255


def load_cat_data(data_dir="datasets", *, allow_external=False):
    """``load_data`` followed by ``flatten_images``: the cat set ready for a network.

    Returns:
      ``(train_x, train_y, test_x, test_y, classes)``: ``train_x`` ``(h * w * 3, m)`` float64
      (``(12288, 209)`` for the course's files), labels ``(1, m)`` float64, ``classes`` as in
      ``load_data``.
    """
    train_x_orig, train_y, test_x_orig, test_y, classes = _load(data_dir, allow_external,
                                                                 flattened=True)
    return (flatten_images(train_x_orig), train_y.astype(np.float64),
            flatten_images(test_x_orig), test_y.astype(np.float64), classes)


def _is_utf8(name):
    try:
        name.decode()
    except UnicodeDecodeError:
        return False
    return True


def _read_h5(path, keys, allow_external, flattened):
    """Read ``keys`` of the HDF5 file ``path`` into a dict of numpy arrays (no layout checks),
    each a data set of the file's own (unless ``allow_external``), written whole, of at most
    :data:`~jaxdnn.core.limits.MAX_FILE_BYTES` and fitting in memory (with a float64 copy for
    the keys of ``flattened``), checked before it is read."""
    if not path.exists():
        raise DataError(
            f"{path} not found: put the course's cat files, {_TRAIN_FILE} and "
            f"{_TEST_FILE} (from its 'Deep Neural Network - Application' assignment), in "
            f"{path.absolute().parent}, or pass the folder that holds them as data_dir "
            "(--data-dir in the jaxdnn command)"
        )
    regular_file(path, "data file")
    where, size = "the file header", h5.file_size(path)
    try:
        with h5py.File(path, "r") as f:
            arrays = {}
            for key in keys:
                where = f"key {key!r}"
                dataset = h5.find(f, key, f"{path}: key {key!r}", allow_external)
                if not isinstance(dataset, h5py.Dataset):
                    raise DataError(
                        f"{path}: missing key {key!r} (needs {', '.join(keys)}, as the "
                        "course's cat files hold them)"
                    )
                if dataset.shape is None:
                    raise DataError(f"{path}: key {key!r} is an empty data set (no shape)")
                nbytes = dataset.size * dataset.dtype.itemsize
                if nbytes > limits.MAX_FILE_BYTES:
                    raise DataError(
                        f"{path}: key {key!r} declares shape {dataset.shape} ({nbytes:,} bytes), "
                        f"above the limit of {limits.MAX_FILE_BYTES:,} (MAX_FILE_BYTES)"
                    )
                copy = key in flattened
                limits.fits(nbytes + 8 * dataset.size * copy,
                            f"{path}: key {key!r} declares shape {dataset.shape}: loading it",
                            DataError, " (as stored, then as float64 for a network)" * copy)
                h5.check_storage(dataset, f"{path}: key {key!r}", allow_external)
                arrays[key] = np.asarray(dataset[()])
                h5.not_truncated(path, size, f"{path}: key {key!r}")
    except DataError:
        raise
    except (OSError, RuntimeError, ValueError) as err:  # RuntimeError: a loop of links
        raise DataError(
            f"{path} is not a readable HDF5 file (truncated, or another format): failed on "
            f"{where}; needs keys {', '.join(keys)} ({err})"
        ) from err
    return arrays


def _check_split(path, split, arrays):
    """Check ``{split}_set_x`` / ``{split}_set_y``; return images as uint8 and labels ``(1, m)``."""
    x_key, y_key = f"{split}_set_x", f"{split}_set_y"
    x, y = arrays[x_key], arrays[y_key]
    if x.ndim != 4 or x.shape[-1] != 3 or 0 in x.shape:
        raise DataError(
            f"{path}: {x_key!r} has shape {x.shape} but needs (m, height, width, 3), every size > 0"
        )
    if x.shape[1] != x.shape[2]:
        raise DataError(
            f"{path}: {x_key!r} holds images of {x.shape[1]} x {x.shape[2]} pixels but needs "
            f"square ones: the figures and predict read num_px x num_px RGB images"
        )
    if x.dtype.kind not in "ui":
        raise DataError(f"{path}: {x_key!r} has dtype {x.dtype} but needs uint8 pixels 0..255")
    if x.min() < 0 or x.max() > 255:
        raise DataError(
            f"{path}: {x_key!r} has values {x.min()}..{x.max()} but needs uint8 pixels 0..255"
        )
    m = x.shape[0]
    if y.shape != (m,):
        raise DataError(
            f"{path}: {y_key!r} has shape {y.shape} but needs ({m},), one label per image "
            f"of {x_key!r}"
        )
    if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
        raise DataError(
            f"{path}: {y_key!r} holds {np.unique(y)[:5]} but labels must be 0 (non-cat) or 1 (cat)"
        )
    return x.astype(np.uint8, copy=False), y.reshape(1, m)
