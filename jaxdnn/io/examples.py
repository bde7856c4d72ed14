"""Examples in an HDF5 file, read a chunk at a time: what :func:`~jaxdnn.fit_stream` trains on.

The file's layout, the cat files' own: one example per row of the first axis.

* ``x``: ``(m, ...)`` with n = the product of the trailing sizes (``(m, 64, 64, 3)`` images,
  ``(m, n)`` tables): uint8 pixels, scaled to [0, 1] as :func:`~jaxdnn.flatten_images` does
  (``x / 255``), or floating values, used as they are.
* ``y``: ``(m,)`` or ``(m, k)``: row i is example i's label column (0/1; for a softmax, class
  ids or one-hot rows). Labels are small and read whole, and checked when the file is opened.

The data sets must lie in the file itself and be written whole (:mod:`jaxdnn.io.h5`); what is
read whole (the labels, :meth:`H5Examples.load`) must fit in the memory available, checked from
the declared shapes before anything is read.
"""

import h5py
import numpy as np

from ..core import checks as check
from ..core import limits
from ..errors import DataError, InputTypeError
from . import files, h5

PIXELS = {np.dtype(t): (np.arange(256) / 255).astype(t) for t in (np.float32, np.float64)}
"""Each pixel value's input, by training dtype."""


class H5Examples:
    """Examples in an HDF5 file, checked when opened, to train on with :func:`~jaxdnn.fit_stream`.

    Args:
      path: the file.
      x: the inputs' data set, ``(m, ...)``: uint8 pixels (scaled by 1/255) or floats.
      y: the labels' data set, ``(m,)`` or ``(m, k)``.
      allow_external: read data sets that lie outside the file (external links, virtual data
        sets, external storage), which are refused otherwise.

    Attributes:
      path, x, y, allow_external: as given.
      size: the file's size in bytes when opened; a file that shrinks below it while it is read
        is refused (HDF5 reads what was cut off as zeros).
      m: the number of examples.
      shape, dtype: of the inputs' data set, as stored.
      n: the features of one example (the product of ``x``'s trailing sizes).
      labels: ``(k, m)``, as stored (read whole).

    Raises:
      DataError: the file is missing or not HDF5, a data set is missing, lies outside the file
        or was not written whole, their shapes and dtypes do not fit the layout, or the labels
        do not fit in memory, naming the file and the data set.
    """

    def __init__(self, path, x="train_set_x", y="train_set_y", *, allow_external=False):
        self.path = files.path(path, "path")
        for name, value in (("x", x), ("y", y)):
            if not isinstance(value, str):
                raise InputTypeError(f"{name} must name a data set of {path} (a str); got "
                                     f"{type(value).__name__}")
        self.x, self.y, self.allow_external = x, y, bool(allow_external)
        files.regular_file(path, "data file")
        self.size = h5.file_size(path)
        with self.open() as f:
            xs, ys = self.dataset(f, x), self.dataset(f, y)
            if xs.ndim < 2 or 0 in xs.shape:
                raise DataError(f"{self.where(x)} has shape {xs.shape} but needs (m, ...): one "
                                f"example per row, every size > 0")
            if xs.dtype != np.uint8 and xs.dtype.kind != "f":
                raise DataError(f"{self.where(x)} has dtype {xs.dtype} but needs uint8 pixels "
                                f"or floating-point values")
            self.m, self.n, self.dtype = xs.shape[0], int(np.prod(xs.shape[1:])), xs.dtype
            if self.m >= 2**31:
                raise DataError(f"{self.where(x)} holds {self.m} examples; at most 2**31 - 1 "
                                f"(they are counted in int32)")
            if ys.ndim not in (1, 2) or ys.shape[0] != self.m or 0 in ys.shape:
                raise DataError(f"{self.where(y)} has shape {ys.shape} but needs ({self.m},) or "
                                f"({self.m}, k): one label row per example of {self.where(x)}")
            if ys.size * ys.dtype.itemsize > limits.MAX_FILE_BYTES:
                raise DataError(f"{self.where(y)} declares {ys.size * ys.dtype.itemsize:,} "
                                f"bytes, above the limit of {limits.MAX_FILE_BYTES:,} "
                                f"(MAX_FILE_BYTES): labels are read whole")
            if ys.dtype.kind not in "biuf":
                raise DataError(f"{self.where(y)} has dtype {ys.dtype} but needs numbers")
            limits.fits(ys.size * (ys.dtype.itemsize + 8),
                        f"{self.where(y)} declares {ys.size:,} labels: reading them", DataError,
                        " (as stored, then a float64 copy to check them)")
            for key, dataset in ((x, xs), (y, ys)):
                h5.check_storage(dataset, self.where(key), self.allow_external)
            self.labels = self.read(y, lambda: ys[()]).reshape(self.m, -1).T
            self.shape = xs.shape
        check.finite(self.labels, self.where(y))

    def where(self, key):
        """How messages name the data set ``key``: ``'x' in path``."""
        return f"{key!r} in {self.path}"

    def __repr__(self):
        return f"H5Examples({str(self.path)!r}, x={self.x!r}, y={self.y!r})"

    def load(self):
        """The whole data set in memory, as :func:`~jaxdnn.fit` takes it: ``(X, Y)``, X
        ``(n, m)`` (float64 for pixels, else the file's dtype), Y ``(k, m)`` as stored.

        Raises:
          DataError: the inputs are above :data:`~jaxdnn.core.limits.MAX_FILE_BYTES` or do not
            fit in the memory available.
        """
        loaded = np.float64 if self.dtype == np.uint8 else self.dtype  # pixels become floats
        nbytes = self.m * self.n * np.dtype(loaded).itemsize
        if nbytes > limits.MAX_FILE_BYTES:
            raise DataError(f"{self.where(self.x)} holds {nbytes:,} bytes, above the limit of "
                            f"{limits.MAX_FILE_BYTES:,} (MAX_FILE_BYTES): train on it with "
                            f"fit_stream instead")
        limits.fits(self.m * self.n * (self.dtype.itemsize + np.dtype(loaded).itemsize),
                    f"{self.where(self.x)} holds {self.m:,} examples of {self.n:,} features: "
                    f"loading them", DataError, f" (as stored, then as {np.dtype(loaded)})")
        with self.open() as f:
            dataset = self.inputs(f)
            X = self.decode(self.read(self.x, lambda: dataset[()]).reshape(self.m, self.n),
                            np.arange(self.m), loaded)
        return X.T, self.labels

    def open(self):
        """``h5py.File(self.path)``, a DataError when it is not a readable HDF5 file."""
        try:
            return h5py.File(self.path, "r")
        except OSError as err:
            raise DataError(f"{self.path} is not a readable HDF5 file (truncated, or another "
                            f"format): {err}") from None

    def dataset(self, f, key):
        """The data set ``key`` of the open file ``f``: a DataError naming it when it is missing
        or lies outside the file (unless ``allow_external``)."""
        try:
            dataset = h5.find(f, key, self.where(key), self.allow_external)
        except DataError:
            raise
        except (OSError, RuntimeError, ValueError) as err:
            raise DataError(f"{self.where(key)}: cannot read it ({err})") from None
        if not isinstance(dataset, h5py.Dataset) or dataset.shape is None:
            found = ", ".join(sorted(f.keys())) or "nothing"
            raise DataError(f"{self.path}: no data set {key!r} (the file holds {found})")
        return dataset

    def inputs(self, f):
        """The inputs' data set, which must still have the shape, dtype and storage it had when
        opened."""
        dataset = self.dataset(f, self.x)
        if (dataset.shape, dataset.dtype) != (self.shape, self.dtype):
            raise DataError(f"{self.where(self.x)} changed since it was opened: "
                            f"{dataset.shape} {dataset.dtype}, was {self.shape} "
                            f"{self.dtype}")
        h5.check_storage(dataset, self.where(self.x), self.allow_external)
        return dataset

    def read(self, key, read):
        """``read()`` of the data set ``key``: a DataError naming it when h5py fails or the file
        shrank below :attr:`size` (what was cut off read as zeros)."""
        try:
            values = np.asarray(read())
        except (OSError, RuntimeError, ValueError) as err:
            raise DataError(f"{self.where(key)}: reading failed ({err})") from None
        h5.not_truncated(self.path, self.size, self.where(key))
        return values

    def decode(self, rows, index, dtype):
        """Rows ``(b, n)`` as stored -> the training ``dtype``: pixels / 255 (rounded once, as
        ``(x / 255).astype(dtype)`` is), floats cast; a non-finite value is a DataError naming the
        example (``index[r]`` is row r's)."""
        if rows.dtype == np.uint8:
            return PIXELS[np.dtype(dtype)][rows]
        bad = ~np.isfinite(rows)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise DataError(f"{self.where(self.x)}: example {index[r]} holds "
                            f"{rows[r, c]} (feature {c}); inputs must be finite")
        return rows.astype(dtype, copy=False)

    def read_block(self, dataset, columns, dtype):
        """The examples ``columns`` (k, b) as a block of inputs (k, n, b) in ``dtype``: one h5py
        read of the rows in increasing order, then the rows put back in the order asked for."""
        k, b = columns.shape
        wanted = columns.ravel()
        order = np.argsort(wanted)
        rows = self.read(self.x, lambda: dataset[wanted[order]])
        block = np.empty((k * b, self.n), dtype)
        block[order] = self.decode(rows.reshape(k * b, -1), wanted[order], dtype)
        return block.reshape(k, b, self.n).transpose(0, 2, 1)

    def label_block(self, columns, classes, dtype):
        """The labels of ``columns`` (k, b) as a block (k, n[L], b); class ids become one-hot rows
        of ``classes`` (0: the labels are used as they are)."""
        Y = self.labels
        if classes:
            return (np.arange(classes)[None, :, None] == Y[0][columns][:, None, :]).astype(dtype)
        return Y[:, columns].transpose(1, 0, 2).astype(dtype)
