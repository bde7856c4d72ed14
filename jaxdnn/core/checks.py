"""Checks at the API boundary. Every public function calls a few of these, once, then the math.

Two kinds:

* **Static** checks read only ``.shape``, ``.dtype`` and Python values (names, options), so
  under ``jax.jit`` they run once, at trace time, and cost nothing afterwards. Every public
  function makes them for its own arguments.
* **Value** checks (:func:`finite`, :func:`labels`, :func:`probabilities`) copy a concrete array
  to the host. They run where user data enters: training, the costs, prediction, the gradient
  checks and the loaders. Inside ``jit``, ``grad`` or ``vmap`` the values are not known and
  they do nothing. Functions that only compute (activations, layers, ``L_model_forward``,
  ``update_parameters``) propagate NaN and inf as numpy does; :func:`overflow` refuses the
  non-finite values that the forward, backward or update make from finite inputs.

Public functions are thin checked faces over private ``_`` kernels; kernels call kernels, so no
check runs twice.
"""

import numbers
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import (
    DataError,
    InputTypeError,
    NameLookupError,
    NumericalOverflow,
    OptionError,
    SaturationError,
    ShapeError,
)
from . import layout, limits, numeric

# --- arrays --------------------------------------------------------------------------------


def array(x, name, *, floating=False, ndim=2):
    """``x`` must be a numpy or jax array of a real dtype (floating if asked) and rank ``ndim``
    (2-D: at least one column); returns its shape."""
    if getattr(x, "dtype", None) is None or not hasattr(x, "shape"):
        raise InputTypeError(f"{name} must be a numpy or jax array; got {type(x).__name__}")
    dtype(x, name, floating=floating)
    shape = tuple(x.shape)
    if ndim is not None and len(shape) != ndim:
        what = " (features, examples)" if ndim == 2 else ""
        raise ShapeError(f"{name} must be {ndim}-D{what}; got shape {shape}")
    if ndim == 2 and shape[1] < 1:
        raise ShapeError(f"{name} has shape {shape}: it needs at least one column (example)")
    return shape


def dtype(x, name, *, floating=False):
    """The array ``x`` must be of a real dtype: floating, or (unless ``floating``) integer or
    boolean; and in the machine's byte order (jax takes no other)."""
    kind = _kind(x.dtype)
    if kind != "floating" and (floating or kind is None):
        expected = "floating-point" if floating else "real (floating, integer or boolean)"
        raise InputTypeError(f"{name} has dtype {x.dtype}; expected a {expected} array")
    if not getattr(x.dtype, "isnative", True):
        raise InputTypeError(f"{name} has dtype {x.dtype.str}, not in this machine's byte order, "
                             f"which jax cannot use: convert it first, e.g. "
                             f"x.astype(x.dtype.newbyteorder('='))")


def x64(dtype, name="the parameters"):
    """Training in float64 needs jax's x64 mode: without it jax would truncate every array to
    float32, with a warning per array."""
    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise OptionError(f"{name} are float64 but jax's x64 mode is off: call "
                          f"jax.config.update('jax_enable_x64', True) first, or convert them "
                          f"to float32")


@cache
def _kind(dtype):
    """"floating", "real" (integer or boolean) or None (complex, text, object, dates)."""
    if jnp.issubdtype(dtype, jnp.floating):
        return "floating"
    return "real" if numeric.real_kind(dtype) or jnp.issubdtype(dtype, jnp.bool_) else None


def shaped(x, name, shape, *, floating=True, but=None, why=""):
    """``x`` must be a (floating) array of exactly ``shape``. The error says
    ``{name} has shape {got} but {but}``, or ``..., expected {shape}{why}``."""
    got = array(x, name, floating=floating, ndim=None)
    if got != tuple(shape):
        raise ShapeError(f"{name} has shape {got} but {but}" if but else
                         f"{name} has shape {got}, expected {tuple(shape)}{why}")


def same_shape(Y, AL, y_name="Y", a_name="AL"):
    """``Y`` must be an array of exactly the shape of the 2-D array ``AL``."""
    shape = array(AL, a_name)
    shaped(Y, y_name, shape, floating=False, but=f"{a_name} has shape {shape}")


def _host(x):
    """The values of a concrete array as numpy; None for a tracer or an abstract shape."""
    if isinstance(x, jax.core.Tracer) or not isinstance(x, (np.ndarray, np.generic, jax.Array)):
        return None
    return np.asarray(x)


def _first(mask):
    return tuple(int(i) for i in np.argwhere(mask)[0])


def finite(x, name):
    """A concrete floating array must hold finite numbers."""
    values = _host(x)
    if values is None or not jnp.issubdtype(values.dtype, jnp.inexact):
        return
    bad = ~np.isfinite(values)
    if bad.any():
        at = _first(bad)
        raise DataError(f"{name} has {int(bad.sum())} non-finite values "
                        f"(the first, {values[at]}, at index {at})")


def finite_in(x, name, dtype):
    """Concrete real ``x``, finite, must stay finite in ``dtype`` (the training dtype): values
    beyond its range would become inf when ``x`` is converted, an input problem (a DataError
    naming ``x`` and the dtype), not a divergence of training. Under a trace, nothing."""
    values = _host(x)
    if values is None or values.size == 0 or not numeric.real_kind(values.dtype):
        return
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is what is looked for
        extremes = np.array([values.max(), values.min()])
        if np.isfinite(extremes).all() and np.isfinite(extremes.astype(dtype)).all():
            return
        bad = np.isfinite(values) & ~np.isfinite(values.astype(dtype))
    if bad.any():
        at = _first(bad)
        raise DataError(f"{name} has {int(bad.sum())} values beyond the range of {dtype} (the "
                        f"first, {values[at]:g}, at index {at}; {dtype} ends at "
                        f"{float(np.finfo(dtype).max):g}): converted to {dtype} for training "
                        f"they would be inf; scale {name} down, or train in float64")


def all_finite(arrays):
    """Whether every concrete array of ``arrays`` is finite (tracers count as finite)."""
    return all(np.isfinite(v).all() for v in map(_host, arrays) if v is not None)


def overflow(results, step, inputs, advice=""):
    """Concrete ``results`` ((name, array) in the order they were computed) must be finite when
    ``inputs`` (what they were computed from: ``{"X": [X], ...}``) are: else a
    :class:`NumericalOverflow` naming ``step`` and the first result that is not. Non-finite
    inputs are carried through, as numpy does; under a trace nothing is checked."""
    for name, x in results:
        values = _host(x)
        if values is None:
            return
        bad = ~np.isfinite(values)
        if not bad.any():
            continue
        if all(all_finite(arrays) for arrays in inputs.values()):
            at = _first(bad) if bad.ndim else ()
            raise NumericalOverflow(
                f"{step} overflowed at {name} has {int(bad.sum())} non-finite values (the "
                f"first, {values[at]}, at index {at}) although {' and '.join(inputs)} are "
                f"finite", advice)
        return


def labels(Y, name="Y"):
    """``Y`` must be a real array whose concrete values are all 0 or 1."""
    array(Y, name, ndim=None)
    values = _host(Y)
    if values is None:
        return
    bad = ~((values == 0) | (values == 1))
    if bad.any():
        at = _first(bad)
        raise DataError(f"{name} must hold labels 0 or 1; found {values[at]} at index {at} "
                        f"({int(bad.sum())} such entries)")


def class_ids(Y, name, K):
    """``Y`` must be a real array whose concrete values are class ids 0..K-1 (K = 2: labels)."""
    array(Y, name, ndim=None)
    values = _host(Y)
    if values is None:
        return
    values = values.astype(np.float64)
    bad = (values != np.floor(values)) | (values < 0) | (values >= K)
    if bad.any():
        at = _first(bad)
        raise DataError(f"{name} must hold class ids 0..{K - 1}; found {values[at]} at index "
                        f"{at} ({int(bad.sum())} such entries)")


def probabilities(AL, output, name="AL", *, in_range=True):
    """For the literal chain: concrete AL must not be saturated (exactly 0, or for a sigmoid 1,
    where the course's cost and dAL are not finite) and, if ``in_range``, must lie inside [0, 1]
    (the backward formula alone is finite outside it, and the course's own test case feeds it
    random AL)."""
    values = _host(AL)
    if values is None:
        return
    finite(values, name)
    outside = (values < 0) | (values > 1)
    if in_range and outside.any():
        at = _first(outside)
        raise DataError(f"{name} must hold probabilities in [0, 1]; found {values[at]} at "
                        f"index {at}")
    saturated = np.asarray(output.saturated(values))
    if saturated.any():
        which, how = (("0", "softmax saturated (a class's probability underflowed to 0)")
                      if output.one_hot else
                      ("0 or 1", "sigmoid saturated (|Z| above about 17 in float32, 37 in "
                                 "float64)"))
        raise SaturationError(
            f"{name} is exactly {which} at {int(saturated.sum())} of {saturated.size} "
            f"entries (the first at index {_first(saturated)}): the output {how}, where the "
            f"course's literal cost and dAL are not finite. Use compute_cost_from_logits(ZL, Y) "
            f"and L_model_backward(..., stable=True)"
        )


def targets(Y, output, shape, name="Y", but=None):
    """The labels ``Y`` of an output layer whose AL has ``shape`` (n[L], m), as every computation
    uses them. A sigmoid takes Y of that shape, 0 or 1. A softmax (K = n[L] >= 2 classes) takes
    one-hot columns of that shape, or class ids ``(1, m)`` or ``(m,)`` in 0..K-1, which are
    returned one-hot."""
    K, m = shape
    given = array(Y, name, ndim=None)
    if not output.one_hot:
        labels(Y, name)
        shaped(Y, name, shape, floating=False, but=but or f"needs shape {shape}")
        return Y
    if K < 2:
        raise ShapeError(f"a softmax output needs K >= 2 classes, the rows of the last W in "
                         f"parameters; got {K}")
    if given in ((1, m), (m,)):
        class_ids(Y, name, K)
        return jax.nn.one_hot(jnp.reshape(jnp.asarray(Y).astype(jnp.int32), (m,)), K, axis=0)
    shaped(Y, name, shape, floating=False,
           but=f"{but + ': ' if but else ''}a softmax of {K} classes over {m} examples needs "
               f"one-hot labels {shape} or class ids (1, {m})")
    labels(Y, name)
    values = _host(Y)
    if values is not None and (values.sum(axis=0) != 1).any():
        at = int(np.flatnonzero(values.sum(axis=0) != 1)[0])
        raise DataError(f"{name} must be one-hot: column {at} sums to {values[:, at].sum()}, "
                        f"not 1")
    return Y


# --- the network ---------------------------------------------------------------------------


def linear(A, W, b, layer="", a_name="A_prev"):
    """``Z = W @ A + b`` must be well formed: W (n, n_prev), A (n_prev, m), b (n, 1)."""
    n, n_prev = array(W, f"W{layer}", floating=True)
    a_rows, m = array(A, a_name)
    if a_rows != n_prev:
        hint = f" (did you mean {a_name}.T?)" if m == n_prev else ""
        raise ShapeError(f"W{layer} has shape {(n, n_prev)} but {a_name} has shape "
                         f"{(a_rows, m)}: {a_name} needs {n_prev} rows (features){hint}")
    shaped(b, f"b{layer}", (n, 1), why=f" to match W{layer} of shape {(n, n_prev)}")


def parameters(parameters):
    """The course's dict must hold exactly W1..WL, b1..bL, chained (``W{l}`` is
    ``(n[l], n[l-1])``, ``b{l}`` is ``(n[l], 1)``) and of one floating dtype; returns the
    layers ``[(W1, b1), ...]``."""
    if not isinstance(parameters, dict) or not parameters:
        raise ShapeError("parameters must be a non-empty dict {'W1', 'b1', ...}; "
                         f"got {type(parameters).__name__}")
    parsed = {k: layout.parse_key(k) for k in parameters}
    extra = [k for k, layer in parsed.items() if layer is None]
    if extra:
        raise NameLookupError(f"parameters has unexpected entries {extra}; "
                              f"expected only W1..WL and b1..bL")
    L = max(l for _, l in parsed.values())
    if len(parameters) != 2 * L:  # L may be huge (a file's "W100000000"): name a few
        missing = [k for k in layout.expected_keys(min(L, len(parameters) + 1))
                   if k not in parameters][:4]
        extra = 2 * L - len(parameters) - len(missing)
        more = f" and {extra:,} more" if extra else ""
        raise NameLookupError(f"parameters is missing {missing}{more} for a {L}-layer network")
    for key, value in parameters.items():
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise InputTypeError(f"parameters[{key!r}] is a {type(value).__name__}; "
                                 f"expected an array")
    n_prev = None
    for l in range(1, L + 1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        n, cols = array(W, f"W{l}", floating=True)
        if n < 1:
            raise ShapeError(f"W{l} has shape {(n, cols)}: layer sizes must be positive")
        if n_prev is not None and cols != n_prev:
            raise ShapeError(f"W{l} has shape {(n, cols)} but W{l - 1} has {n_prev} rows: "
                             f"W{l} needs {n_prev} columns")
        if b.shape != (n, 1) or _kind(b.dtype) != "floating" or not b.dtype.isnative:
            shaped(b, f"b{l}", (n, 1), why=f" to match W{l} of shape {(n, cols)}")
        n_prev = n
    dtypes = {v.dtype for v in parameters.values()}
    if len(dtypes) > 1 and len({jax.dtypes.canonicalize_dtype(t) for t in dtypes}) > 1:
        raise InputTypeError(f"parameters mixes dtypes {sorted(map(str, dtypes))}; use one "
                             f"floating dtype")
    return layout.to_layers(parameters)


def outputs(layers, output):
    """A softmax output needs K >= 2 units in the last layer."""
    if output.one_hot and layers[-1][0].shape[0] < 2:
        raise ShapeError(f"a softmax output needs K >= 2 classes, the rows of the last W in "
                         f"parameters; got {layers[-1][0].shape[0]}")


def hidden_units(n_h):
    """A hidden layer's size: a positive integer (not a bool)."""
    if isinstance(n_h, bool) or not isinstance(n_h, numbers.Integral) or n_h < 1:
        raise OptionError(f"n_h (hidden units) must be a positive integer; got {n_h!r}")
    return int(n_h)


def network(X, params, x_name="X"):
    """X (n[0], m) must fit ``params``; returns the layers."""
    layers = parameters(params)
    n0 = layers[0][0].shape[1]
    rows, columns = array(X, x_name)
    if rows != n0:
        hint = (f" (did you mean {x_name}.T? jaxdnn takes examples as columns)"
                if columns == n0 else "")
        raise ShapeError(f"{x_name} has shape {tuple(X.shape)} but W1 has shape "
                         f"{tuple(layers[0][0].shape)}: {x_name} needs {n0} rows (features), "
                         f"one column per example{hint}")
    return layers


def problem(X, Y, params, output, y_name="Y", x_name="X"):
    """Where data enters: :func:`network`, labels ``Y`` fit for ``output`` (:func:`targets`), and
    every value of X and the parameters finite. Returns the layers and the labels as
    :func:`targets` gives them."""
    layers = network(X, params, x_name)
    shape = (layers[-1][0].shape[0], X.shape[1])
    but = f"{x_name} has {X.shape[1]} examples and W{len(layers)} {shape[0]} outputs"
    Y = targets(Y, output, shape, y_name,
                but=but if output.one_hot else f"{but}: {y_name} needs shape {shape}")
    finite_parameters(params)
    finite(X, x_name)
    return layers, Y


def finite_parameters(params):
    for key, value in params.items():
        finite(value, key)


def layer_dims(layer_dims):
    """``layer_dims`` must list at least two positive integer sizes (input and output), within
    the parameter budget :data:`~jaxdnn.core.limits.MAX_PARAMETERS`."""
    try:
        dims = list(layer_dims)
    except TypeError:
        raise ShapeError(f"layer_dims must be a list of sizes; got {layer_dims!r}") from None
    if len(dims) < 2:
        raise ShapeError(f"layer_dims needs at least an input and an output size; got {dims}")
    for l, n in enumerate(dims):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ShapeError(f"layer_dims[{l}] = {n!r}: layer sizes must be positive integers")
    dims = [int(n) for n in dims]
    total = limits.parameter_count(dims)
    if total > limits.MAX_PARAMETERS:
        raise ShapeError(f"layer_dims {dims} need {total:,} parameters, above the budget of "
                         f"{limits.MAX_PARAMETERS:,} (MAX_PARAMETERS)")
    return dims
