"""Shape and name checks run at the API boundary, before any XLA work.

They read only ``.shape`` and ``.ndim``, which are static under ``jax.jit``, so they run once at
trace time and never touch the device.
"""

import re

import numpy as np

from .errors import NameLookupError, ShapeError

_KEY = re.compile(r"([Wb])([1-9][0-9]*)")


def shape_of(x, name: str) -> tuple[int, ...]:
    """The shape of an array-like ``x``; a ShapeError naming ``name`` if it has none."""
    shape = getattr(x, "shape", None)
    if shape is None:
        try:
            shape = np.shape(x)
        except ValueError:
            raise ShapeError(f"{name} is not a rectangular array") from None
    return tuple(shape)


def check_matrix(x, name: str) -> tuple[int, int]:
    """``x`` must be 2-D with at least one column; returns its shape."""
    shape = shape_of(x, name)
    if len(shape) != 2:
        raise ShapeError(f"{name} must be 2-D (features, examples); got shape {shape}")
    if shape[1] < 1:
        raise ShapeError(f"{name} has shape {shape}: it needs at least one column (example)")
    return shape


def check_linear(A, W, b, layer: str = "", a_name: str = "A_prev") -> None:
    """``Z = W @ A + b`` must be well formed: W (n, n_prev), A (n_prev, m), b (n, 1)."""
    n, n_prev = check_matrix(W, f"W{layer}")
    a_rows, m = check_matrix(A, a_name)
    if a_rows != n_prev:
        raise ShapeError(
            f"W{layer} has shape {(n, n_prev)} but {a_name} has shape {(a_rows, m)}: "
            f"{a_name} needs {n_prev} rows (features)"
        )
    b_shape = shape_of(b, f"b{layer}")
    if b_shape != (n, 1):
        raise ShapeError(
            f"b{layer} has shape {b_shape}, expected {(n, 1)} to match "
            f"W{layer} of shape {(n, n_prev)}"
        )


def check_parameters(parameters) -> int:
    """Check the course's dict ``{"W1", "b1", ..., "WL", "bL"}``; return the depth L.

    Keys must be exactly W1..WL and b1..bL; ``W{l}`` is ``(n[l], n[l-1])`` with ``n[l-1]`` equal to
    the rows of ``W{l-1}``, and ``b{l}`` is ``(n[l], 1)``.
    """
    if not isinstance(parameters, dict) or not parameters:
        raise ShapeError(
            "parameters must be a non-empty dict {'W1', 'b1', ...}; "
            f"got {type(parameters).__name__}"
        )
    layers = [_KEY.fullmatch(k) if isinstance(k, str) else None for k in parameters]
    extra = [k for k, match in zip(parameters, layers, strict=True) if match is None]
    if extra:
        raise NameLookupError(
            f"parameters has unexpected entries {extra}; expected only W1..WL and b1..bL"
        )
    L = max(int(match.group(2)) for match in layers)
    expected = {f"{p}{l}" for l in range(1, L + 1) for p in "Wb"}
    missing = sorted(expected - set(parameters), key=lambda k: (int(k[1:]), k[0]))
    if missing:
        raise NameLookupError(f"parameters is missing {missing} for a {L}-layer network")
    for key, value in parameters.items():
        if not hasattr(value, "shape"):
            raise ShapeError(f"parameters[{key!r}] is a {type(value).__name__}; expected an array")
    n_prev = None
    for l in range(1, L + 1):
        n, cols = check_matrix(parameters[f"W{l}"], f"W{l}")
        if n < 1 or cols < 1:
            raise ShapeError(f"W{l} has shape {(n, cols)}: layer sizes must be positive")
        if n_prev is not None and cols != n_prev:
            raise ShapeError(
                f"W{l} has shape {(n, cols)} but W{l - 1} has {n_prev} rows: "
                f"W{l} needs {n_prev} columns"
            )
        b_shape = shape_of(parameters[f"b{l}"], f"b{l}")
        if b_shape != (n, 1):
            raise ShapeError(
                f"b{l} has shape {b_shape}, expected {(n, 1)} to match W{l} of shape {(n, cols)}"
            )
        n_prev = n
    return L


def check_layer_dims(layer_dims) -> list[int]:
    """``layer_dims`` must list at least two positive integer sizes (input and output)."""
    try:
        dims = list(layer_dims)
    except TypeError:
        raise ShapeError(f"layer_dims must be a list of sizes; got {layer_dims!r}") from None
    if len(dims) < 2:
        raise ShapeError(
            f"layer_dims needs at least an input and an output size; got {dims}"
        )
    for l, n in enumerate(dims):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ShapeError(f"layer_dims[{l}] = {n!r}: layer sizes must be positive integers")
    return [int(n) for n in dims]


def check_same_shape(Y, AL, y_name: str = "Y", a_name: str = "AL") -> None:
    """``Y`` must have exactly the shape of ``AL``."""
    y_shape, a_shape = shape_of(Y, y_name), check_matrix(AL, a_name)
    if y_shape != a_shape:
        raise ShapeError(f"{y_name} has shape {y_shape} but {a_name} has shape {a_shape}")
