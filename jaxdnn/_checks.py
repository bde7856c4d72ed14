"""Checks run at the API boundary, before any XLA work.

Shape, dtype and name checks read only static facts (``.shape``, ``.dtype``), so under
``jax.jit`` they run once, at trace time. Value checks (finite numbers, labels in {0, 1},
probabilities strictly inside (0, 1)) need the values: they run on concrete arrays, on the host,
and are skipped for tracers (inside ``jit``, ``grad`` or ``vmap``), where no value is known.
"""

import contextlib
import contextvars
import math
import numbers
import re

import jax
import jax.numpy as jnp
import numpy as np

from .errors import (
    DataError,
    InputTypeError,
    NameLookupError,
    OptionError,
    SaturationError,
    ShapeError,
)

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


def check_matrix(x, name: str, *, floating: bool = False) -> tuple[int, int]:
    """``x`` must be a 2-D array with at least one column, of a real dtype (floating if asked),
    and, when concrete, finite; returns its shape."""
    check_dtype(x, name, floating=floating)
    shape = shape_of(x, name)
    if len(shape) != 2:
        raise ShapeError(f"{name} must be 2-D (features, examples); got shape {shape}")
    if shape[1] < 1:
        raise ShapeError(f"{name} has shape {shape}: it needs at least one column (example)")
    check_values(x, name)
    return shape


def check_dtype(x, name: str, *, floating: bool = False) -> None:
    """``x`` must be an array of floats (or, unless ``floating``, of integers or booleans)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        raise InputTypeError(f"{name} must be a numpy or jax array; got {type(x).__name__}")
    if jnp.issubdtype(dtype, jnp.floating):
        return
    if not floating and (_real_kind(dtype) or jnp.issubdtype(dtype, jnp.bool_)):
        return
    expected = "floating-point" if floating else "real (floating, integer or boolean)"
    raise InputTypeError(f"{name} has dtype {dtype}; expected a {expected} array")


_VALUES_CHECKED = contextvars.ContextVar("jaxdnn_values_checked", default=False)


@contextlib.contextmanager
def values_checked():
    """Within this block value checks are skipped: for functions that checked their inputs and
    call other public functions on them and on results computed from them."""
    token = _VALUES_CHECKED.set(True)
    try:
        yield
    finally:
        _VALUES_CHECKED.reset(token)


def _host(x):
    """The values of a concrete array as numpy; None for a tracer, an abstract shape, or inside
    :func:`values_checked`."""
    if (_VALUES_CHECKED.get() or isinstance(x, jax.core.Tracer)
            or not isinstance(x, (np.ndarray, np.generic, jax.Array))):
        return None
    return np.asarray(x)


def _first(mask) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def check_values(x, name: str) -> None:
    """A concrete floating array must hold finite numbers."""
    values = _host(x)
    if values is None or not jnp.issubdtype(values.dtype, jnp.inexact):
        return
    bad = ~np.isfinite(values)
    if bad.any():
        at = _first(bad)
        raise DataError(f"{name} has {int(bad.sum())} non-finite values "
                        f"(the first, {values[at]}, at index {at})")


def check_labels(Y, name: str = "Y") -> None:
    """``Y`` must be a real array whose concrete values are all 0 or 1."""
    check_dtype(Y, name)
    values = _host(Y)
    if values is None:
        return
    bad = ~((values == 0) | (values == 1))
    if bad.any():
        at = _first(bad)
        raise DataError(f"{name} must hold labels 0 or 1; found {values[at]} at index {at} "
                        f"({int(bad.sum())} such entries)")


def check_probabilities(AL, name: str = "AL", *, in_range: bool = True) -> None:
    """For the literal chain: concrete AL must not be exactly 0 or 1 and, if ``in_range``, must
    lie inside [0, 1] (the backward formula alone is finite outside it, and the course's own
    test case feeds it random AL)."""
    values = _host(AL)
    if values is None:
        return
    outside = (values < 0) | (values > 1)
    if in_range and outside.any():
        at = _first(outside)
        raise DataError(f"{name} must hold probabilities in [0, 1]; found {values[at]} at "
                        f"index {at}")
    saturated = (values == 0) | (values == 1)
    if saturated.any():
        raise SaturationError(
            f"{name} is exactly 0 or 1 at {int(saturated.sum())} of {saturated.size} "
            f"entries (the first at index {_first(saturated)}): the output sigmoid saturated "
            f"(|Z| above about 17 in float32, 37 in float64), where the course's literal "
            f"cost and dAL are not finite. Use compute_cost_from_logits(ZL, Y) and "
            f"L_model_backward(..., stable=True)"
        )


def check_count(n, name: str) -> int:
    """``n`` must be a non-negative integer (not a bool, a float or a string)."""
    if isinstance(n, (bool, np.timedelta64)) or not isinstance(n, (numbers.Integral, np.integer)):
        raise InputTypeError(f"{name} must be an integer; got {n!r} ({type(n).__name__})")
    if n < 0:
        raise OptionError(f"{name} must not be negative; got {n}")
    return int(n)


def check_rate(x, name: str = "learning_rate") -> None:
    """A real number that, when known (not traced), is finite and positive."""
    value = check_real(x, name)
    if value is not None and not (math.isfinite(value) and value > 0):
        raise OptionError(f"{name} must be finite and positive; got {x!r}")


def check_real(x, name: str) -> float | None:
    """``x`` must be a real number (a Python or numpy scalar, or a 0-d array, maybe traced);
    returns its value as a float, or None when it is traced."""
    dtype = getattr(x, "dtype", None)
    real_array = dtype is not None and getattr(x, "ndim", None) == 0 and _real_kind(dtype)
    if isinstance(x, (bool, np.bool_)) or not (isinstance(x, numbers.Real) or real_array):
        raise InputTypeError(f"{name} must be a real number; got {x!r} ({type(x).__name__})")
    if isinstance(x, jax.core.Tracer):
        return None
    try:
        return float(x)
    except OverflowError:
        raise OptionError(f"{name} is too large for a float: {x!r}") from None


def _real_kind(dtype) -> bool:
    """Floating or integer, not boolean, complex or a date/time difference."""
    if getattr(dtype, "kind", None) in ("m", "M"):
        return False
    return bool(jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer))


def check_linear(A, W, b, layer: str = "", a_name: str = "A_prev") -> None:
    """``Z = W @ A + b`` must be well formed: W (n, n_prev), A (n_prev, m), b (n, 1)."""
    n, n_prev = check_matrix(W, f"W{layer}", floating=True)
    a_rows, m = check_matrix(A, a_name)
    if a_rows != n_prev:
        raise ShapeError(
            f"W{layer} has shape {(n, n_prev)} but {a_name} has shape {(a_rows, m)}: "
            f"{a_name} needs {n_prev} rows (features)"
        )
    check_dtype(b, f"b{layer}", floating=True)
    b_shape = shape_of(b, f"b{layer}")
    if b_shape != (n, 1):
        raise ShapeError(
            f"b{layer} has shape {b_shape}, expected {(n, 1)} to match "
            f"W{layer} of shape {(n, n_prev)}"
        )
    check_values(b, f"b{layer}")


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
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise InputTypeError(
                f"parameters[{key!r}] is a {type(value).__name__}; expected an array")
    n_prev = None
    for l in range(1, L + 1):
        n, cols = check_matrix(parameters[f"W{l}"], f"W{l}", floating=True)
        if n < 1 or cols < 1:
            raise ShapeError(f"W{l} has shape {(n, cols)}: layer sizes must be positive")
        if n_prev is not None and cols != n_prev:
            raise ShapeError(
                f"W{l} has shape {(n, cols)} but W{l - 1} has {n_prev} rows: "
                f"W{l} needs {n_prev} columns"
            )
        check_dtype(parameters[f"b{l}"], f"b{l}", floating=True)
        b_shape = shape_of(parameters[f"b{l}"], f"b{l}")
        if b_shape != (n, 1):
            raise ShapeError(
                f"b{l} has shape {b_shape}, expected {(n, 1)} to match W{l} of shape {(n, cols)}"
            )
        check_values(parameters[f"b{l}"], f"b{l}")
        n_prev = n
    dtypes = sorted({str(jax.dtypes.canonicalize_dtype(v.dtype)) for v in parameters.values()})
    if len(dtypes) > 1:
        raise InputTypeError(f"parameters mixes dtypes {dtypes}; use one floating dtype")
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
