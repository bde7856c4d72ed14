"""The course's numpy warm-up, row-wise: :func:`softmax` and :func:`normalize_rows`.

Both take a real array ``x`` of shape ``(n, m)`` (or one row, ``(m,)``) and work on each row
alone; integer arrays become the default float dtype. Like the other functions that only
compute, they check shapes and dtypes, not values: a NaN row gives a NaN row, as in numpy.
``normalizeRows`` is the course's name for :func:`normalize_rows`.
"""

import jax
import jax.numpy as jnp

from ..core import checks as check
from ..core.layout import as_floating
from ..errors import ShapeError


def softmax(x):
    """Each row's softmax: ``exp(x[i, j]) / sum_k exp(x[i, k])``.

    Computed as ``jax.nn.softmax`` along the rows, which subtracts each row's maximum first:
    the same numbers as the course's formula, but finite for any finite x.

    >>> s = softmax(jnp.array([[9, 2, 5, 0, 0], [7, 5, 0, 0, 0]]))
    >>> [[float(f"{v:.6g}") for v in row] for row in s.tolist()]  # doctest: +NORMALIZE_WHITESPACE
    [[0.980898, 0.000894463, 0.0179658, 0.000121052, 0.000121052],
     [0.87868, 0.118916, 0.000801252, 0.000801252, 0.000801252]]
    """
    return jax.nn.softmax(_rows(x), axis=-1)


def normalize_rows(x):
    """Each row divided by its Euclidean norm, ``x / ||x||`` row by row; rows of zeros stay zero.

    Each row is first divided by its largest magnitude, so the norm neither underflows nor
    overflows (the course's ``np.linalg.norm`` gives 0 for a row of 1e-200).

    >>> x = normalize_rows(jnp.array([[0, 3, 4], [1, 6, 4]]))
    >>> [[float(f"{v:.6g}") for v in row] for row in x.tolist()]
    [[0.0, 0.6, 0.8], [0.137361, 0.824163, 0.549442]]
    """
    x = _rows(x)
    peak = jnp.max(jnp.abs(x), axis=-1, keepdims=True)
    x = x / jnp.where(peak == 0, 1, peak)  # the squares of 1e-200 or 1e200 would leave the range
    norm = jnp.linalg.norm(x, axis=-1, keepdims=True)
    return x / jnp.where(norm == 0, 1, norm)


normalizeRows = normalize_rows


def _rows(x):
    """``x`` as a floating array of rank 1 or 2."""
    shape = check.array(x, "x", ndim=None)
    if len(shape) not in (1, 2) or 0 in shape:
        raise ShapeError(f"x has shape {shape}; expected a row (m,) or rows (n, m), m >= 1")
    return as_floating(x, jax.dtypes.canonicalize_dtype(jnp.float64))
