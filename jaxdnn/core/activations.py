"""Activation functions as (forward, backward) pairs, registered once by name.

Contract, shared by every entry of the table::

    forward(Z)          -> (A, cache)   A = g(Z), cache = Z, same shape as Z
    backward(dA, cache) -> dZ           dZ = dA * g'(Z)

Conventions at kinks (the same test is used forward and backward, and ``jax.grad`` of the
forward agrees with the backward there):

* ``relu``: g'(0) = 0. The course masks ``Z <= 0``; ``jnp.maximum(Z, 0)`` would differentiate to
  0.5 at 0 under ``jax.grad``, so the forward is written with ``jnp.where(Z > 0, ...)``.
* ``leaky_relu``: g(Z) = Z for Z > 0, slope * Z otherwise, so g'(0) = slope.
  The default slope is :data:`LEAKY_RELU_SLOPE`; :func:`leaky_relu_with` builds the pair for
  another slope.

Layers name their activation by a string (a static, hashable argument under ``jax.jit``) or pass
an :class:`Activation` directly: your own pair, built with :func:`custom_activation`, works
everywhere a name does in Python (the chain, training, prediction, the gradient checks,
``jaxdnn.testing``) and in ``jaxdnn check --activation module:object``. The table itself is
fixed. A pair of yours is tried once, where it enters (:func:`custom_activation`, or
:func:`get_activation` for one built by hand), on finite arrays of several shapes and both float
dtypes, eagerly and under ``jax.jit``: a forward that calls numpy on its input, fails on a later
call, returns non-finite values or the wrong shape or dtype is refused by name there, quoting
its error, not deep in a trace.

Every function checks that it got floating arrays (and a backward that dA and its cache have one
shape); values are not checked: NaN and inf propagate, as in numpy.
"""

import math
from collections.abc import Callable
from functools import cache, partial, wraps
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import InputTypeError, NameLookupError, OptionError, ShapeError
from . import checks as check
from . import numeric

LEAKY_RELU_SLOPE = 0.01
"""Default negative-side slope of ``leaky_relu``."""


class Activation(NamedTuple):
    """A forward/backward pair following the module's contract, and its name (for model files
    and messages; None for an anonymous pair)."""

    forward: Callable
    backward: Callable
    name: str | None = None


def custom_activation(name, forward, backward) -> Activation:
    """Your own activation: ``forward(Z) -> (A, cache)`` and ``backward(dA, cache) -> dZ``,
    tried here (see :func:`follows_contract`) so a broken contract fails by name, not deep in a
    trace. ``name`` must not be a built-in one (the table is fixed); it is recorded in model
    files.

    >>> def swish(Z):
    ...     return Z * jax.nn.sigmoid(Z), Z
    >>> def swish_backward(dA, Z):
    ...     s = jax.nn.sigmoid(Z)
    ...     return dA * s * (1 + Z * (1 - s))
    >>> custom_activation("swish", swish, swish_backward).name
    'swish'
    """
    if not isinstance(name, str) or not name.isidentifier() or name in ACTIVATIONS:
        raise OptionError(f"an activation's name must be an identifier that is not a built-in "
                          f"one ({', '.join(sorted(ACTIVATIONS))}); got {name!r}")
    return follows_contract(Activation(forward, backward, name))


PROBES = ((2, 3), (1, 1), (5, 7))
"""The shapes a pair of yours is tried on, in float32 and (with jax's x64 mode) float64."""


def follows_contract(activation):
    """``activation``, once it is seen to follow the module's contract (once per pair: the
    built-in ones need not be): forward and backward functions; on finite Z of each shape of
    :data:`PROBES` and each float dtype, eagerly and under ``jax.jit``, a forward that returns
    ``(A, cache)`` and a backward ``dZ``, both finite, of Z's shape and dtype; and a name that
    is an identifier, not a built-in one (or None).

    Raises:
      OptionError: naming the pair and the probe, quoting what its code raised.
      ShapeError: A or dZ of another shape.
      InputTypeError: forward or backward not a function.
    """
    key = _key(activation)
    if key in _PASSED:  # an equal pair passed, or this very one (an id is kept alive there)
        return activation
    forward, backward, name = activation
    label = _label(activation)
    if name is not None and not (isinstance(name, str) and name.isidentifier()
                                 and name not in ACTIVATIONS):
        raise OptionError(f"{label}: an activation's name must be None or an identifier that is "
                          f"not a built-in one ({', '.join(sorted(ACTIVATIONS))})")
    if not callable(forward) or not callable(backward):
        raise InputTypeError(f"{label}: forward and backward must be functions; got "
                             f"{type(forward).__name__} and {type(backward).__name__}")
    dtypes = (jnp.float32, jnp.float64) if jax.config.jax_enable_x64 else (jnp.float32,)
    stage = ["forward", 0]  # what runs, on which probe: for the message
    trips = partial(_round_trips, activation, stage)
    with jax.ensure_compile_time_eval():  # concrete values, even inside a trace
        probes = [jnp.asarray(np.linspace(-2, 2, math.prod(shape)).reshape(shape), dtype)
                  for dtype in dtypes for shape in PROBES]
        _probe(label, trips, probes[:1], stage, "")
        _probe(label, jax.jit(trips), probes, stage, " under jax.jit")  # one compilation
    _PASSED[key] = activation
    return activation


def _probe(label, run, probes, stage, how):
    """``run(probes)``, every ``(A, dZ)`` it returns checked against its Z."""
    def where(Z):
        return f" (on Z of shape {Z.shape} {Z.dtype}{how})"

    contract = f"{label} does not follow the contract forward(Z) -> (A, cache), backward(dA, " \
               f"cache) -> dZ"
    try:
        results = run(probes)
    except _NotAPair as e:
        raise OptionError(f"{contract}: its forward returned {e}{where(probes[stage[1]])}") \
            from None
    except Exception as e:  # a user's function: any failure is a broken contract
        lines = str(e).strip().splitlines() or [""]
        raise OptionError(f"{contract}: its {stage[0]} raised {type(e).__name__}: "
                          f"{lines[0][:200]}{where(probes[stage[1]])}") from e
    for Z, (A, dZ) in zip(probes, results, strict=True):
        for what, x in (("forward's A", A), ("backward's dZ", dZ)):
            if getattr(x, "shape", None) != Z.shape:
                raise ShapeError(f"{label}: {what} must have Z's shape {Z.shape}; got "
                                 f"{getattr(x, 'shape', type(x).__name__)}{where(Z)}")
            if getattr(x, "dtype", None) != Z.dtype:
                raise OptionError(f"{label}: {what} must have Z's dtype {Z.dtype}; got "
                                  f"{getattr(x, 'dtype', None)}{where(Z)}")
            values = np.asarray(x)
            if not np.isfinite(values).all():
                at = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
                raise OptionError(f"{label}: {what} holds {values[at]} at index {at} for "
                                  f"finite Z (Z{list(at)} = {float(Z[at]):g}){where(Z)}")


class _NotAPair(Exception):
    """A forward that did not return a pair (its type, as the message)."""


def _round_trips(activation, stage, probes):
    """``[(A, dZ), ...]``: per Z of ``probes``, the forward, then the backward of ones through
    its cache; ``stage`` says which runs, on which probe."""
    results = []
    for i, Z in enumerate(probes):
        stage[:] = "forward", i
        out = activation.forward(Z)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise _NotAPair(type(out).__name__)
        A, cache = out
        stage[0] = "backward"
        results.append((A, activation.backward(Z * 0 + 1, cache)))  # dA: traced, as in use
    return results


def _label(activation):
    """How messages name a pair: ``activation 'swish'``, or by its functions."""
    if isinstance(activation.name, str) and activation.name:
        return f"activation {activation.name!r}"
    def named(f):
        return f"{getattr(f, '__module__', None) or '?'}.{getattr(f, '__qualname__', None)}" \
            if hasattr(f, "__qualname__") else type(f).__name__
    return f"activation Activation({named(activation.forward)}, {named(activation.backward)})"


def _key(activation):
    """Pairs are remembered by value (equal functions, equal pairs), or by identity when a
    function of theirs cannot be hashed."""
    try:
        hash(activation)
    except TypeError:
        return id(activation)
    return activation


def _forward(g):
    """The checked face of a forward: Z must be a floating array (a static check)."""
    @wraps(g)
    def forward(Z, *args, **kwargs):
        check.array(Z, "Z", floating=True, ndim=None)
        return g(Z, *args, **kwargs)
    return forward


def _backward(g):
    """The checked face of a backward: dA and the cached Z floating arrays of one shape
    (broadcasting them would be a silent wrong answer)."""
    @wraps(g)
    def backward(dA, cache, *args, **kwargs):
        shape = check.array(cache, "Z (the cache)", floating=True, ndim=None)
        check.shaped(dA, "dA", shape, but=f"the cached Z has {shape}")
        return g(dA, cache, *args, **kwargs)
    return backward


@_forward
def sigmoid(Z):
    """g(Z) = 1 / (1 + exp(-Z)), computed without overflow. Returns ``(A, Z)``."""
    return jax.nn.sigmoid(Z), Z


@_backward
def sigmoid_backward(dA, cache):
    """dZ = dA * s * (1 - s) with s = sigmoid(Z)."""
    s = jax.nn.sigmoid(cache)
    return dA * s * (1 - s)


@_forward
def relu(Z):
    """g(Z) = Z if Z > 0 else 0. Returns ``(A, Z)``."""
    return jnp.where(Z > 0, Z, 0), Z


@_backward
def relu_backward(dA, cache):
    """dZ = dA where Z > 0, else 0 (so g'(0) = 0, as the course's ``Z <= 0`` mask)."""
    return jnp.where(cache > 0, dA, 0)


@_forward
def tanh(Z):
    """g(Z) = tanh(Z). Returns ``(A, Z)``."""
    return jnp.tanh(Z), Z


@_backward
def tanh_backward(dA, cache):
    """dZ = dA * (1 - tanh(Z)^2), as (1 + t)(1 - t) to keep precision where |t| is near 1."""
    t = jnp.tanh(cache)
    return dA * (1 + t) * (1 - t)


@_forward
def leaky_relu(Z, slope=LEAKY_RELU_SLOPE):
    """g(Z) = Z if Z > 0 else slope * Z. Returns ``(A, Z)``."""
    return jnp.where(Z > 0, Z, slope * Z), Z


@_backward
def leaky_relu_backward(dA, cache, slope=LEAKY_RELU_SLOPE):
    """dZ = dA where Z > 0, else slope * dA (so g'(0) = slope)."""
    return jnp.where(cache > 0, dA, slope * dA)


ACTIVATIONS: dict[str, Activation] = {
    name: Activation(forward.__wrapped__, backward.__wrapped__, name)
    for name, forward, backward in [("sigmoid", sigmoid, sigmoid_backward),
                                    ("relu", relu, relu_backward),
                                    ("tanh", tanh, tanh_backward),
                                    ("leaky_relu", leaky_relu, leaky_relu_backward)]
}
"""The table every layer looks activations up in: the functions above without their checks (the
layers check their arrays once)."""

_PASSED: dict = {pair: pair for pair in ACTIVATIONS.values()}
"""The pairs seen to follow the contract (:func:`follows_contract`), kept so that an identity
stays theirs."""


def leaky_relu_with(slope: float) -> Activation:
    """The leaky ReLU pair for ``slope`` (cached, so equal slopes share one jit cache entry)."""
    value = numeric.real(slope, "slope")
    if value is None:
        raise OptionError("slope must be a concrete number: it is closed over statically")
    if not math.isfinite(value):
        raise OptionError(f"slope must be a finite number; got {slope!r}")
    return _leaky_relu_pair(value)


@cache
def _leaky_relu_pair(slope):
    forward, backward, _ = ACTIVATIONS["leaky_relu"]
    pair = Activation(partial(forward, slope=slope), partial(backward, slope=slope))
    _PASSED[pair] = pair  # the built-in pair, at another slope
    return pair


def get_activation(activation) -> Activation:
    """Look up ``activation`` (a registered name or an :class:`Activation`, checked by
    :func:`follows_contract` the first time it is seen)."""
    if isinstance(activation, Activation):
        return follows_contract(activation)
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        names = ", ".join(sorted(ACTIVATIONS))
        raise NameLookupError(
            f"unknown activation {activation!r}; expected one of: {names}"
        ) from None
