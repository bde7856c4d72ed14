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
fixed.

Every function checks that it got floating arrays (and a backward that dA and its cache have one
shape); values are not checked: NaN and inf propagate, as in numpy.
"""

import math
from collections.abc import Callable
from functools import cache, partial, wraps
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..errors import InputTypeError, NameLookupError, OptionError, ShapeError
from . import checks as check

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
    tried once on a small array so a broken contract fails here, by name, not deep in a trace.
    ``name`` must not be a built-in one (the table is fixed); it is recorded in model files.

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
    if not callable(forward) or not callable(backward):
        raise InputTypeError(f"activation {name!r}: forward and backward must be functions")
    Z = jnp.linspace(-2.0, 2.0, 6, dtype=jnp.float32).reshape(2, 3)
    contract = (f"activation {name!r} does not follow the contract forward(Z) -> (A, cache), "
                f"backward(dA, cache) -> dZ")
    try:
        out = forward(Z)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise OptionError(f"{contract}: its forward returned {type(out).__name__}")
        A, cache = out
        dZ = backward(jnp.ones_like(Z), cache)
    except OptionError:
        raise
    except Exception as e:  # a user's function: any failure is a broken contract
        raise OptionError(f"{contract}: {type(e).__name__}: {e}") from e
    for what, x in (("forward's A", A), ("backward's dZ", dZ)):
        if getattr(x, "shape", None) != Z.shape:
            raise ShapeError(f"activation {name!r}: {what} must have Z's shape {Z.shape}; got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
    return Activation(forward, backward, name)


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


def leaky_relu_with(slope: float) -> Activation:
    """The leaky ReLU pair for ``slope`` (cached, so equal slopes share one jit cache entry)."""
    value = check.real(slope, "slope")
    if value is None:
        raise OptionError("slope must be a concrete number: it is closed over statically")
    if not math.isfinite(value):
        raise OptionError(f"slope must be a finite number; got {slope!r}")
    return _leaky_relu_pair(value)


@cache
def _leaky_relu_pair(slope):
    forward, backward, _ = ACTIVATIONS["leaky_relu"]
    return Activation(partial(forward, slope=slope), partial(backward, slope=slope))


def get_activation(activation) -> Activation:
    """Look up ``activation`` (a registered name or an :class:`Activation`)."""
    if isinstance(activation, Activation):
        return activation
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        names = ", ".join(sorted(ACTIVATIONS))
        raise NameLookupError(
            f"unknown activation {activation!r}; expected one of: {names}"
        ) from None
