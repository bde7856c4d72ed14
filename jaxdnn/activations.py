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
an :class:`Activation` directly. Every function takes floating arrays; a backward checks that dA
and its cache have one shape (broadcasting them would be a silent wrong answer).
"""

import math
from collections.abc import Callable
from functools import cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ._checks import check_dtype, check_real, check_values
from .errors import NameLookupError, OptionError, ShapeError

LEAKY_RELU_SLOPE = 0.01
"""Default negative-side slope of ``leaky_relu``."""


class Activation(NamedTuple):
    """A forward/backward pair following the module's contract."""

    forward: Callable
    backward: Callable


def sigmoid(Z):
    """g(Z) = 1 / (1 + exp(-Z)), computed without overflow. Returns ``(A, Z)``."""
    _check_z(Z)
    return jax.nn.sigmoid(Z), Z


def sigmoid_backward(dA, cache):
    """dZ = dA * s * (1 - s) with s = sigmoid(Z)."""
    _check_pair(dA, cache)
    s = jax.nn.sigmoid(cache)
    return dA * s * (1 - s)


def relu(Z):
    """g(Z) = Z if Z > 0 else 0. Returns ``(A, Z)``."""
    _check_z(Z)
    return jnp.where(Z > 0, Z, 0), Z


def relu_backward(dA, cache):
    """dZ = dA where Z > 0, else 0 (so g'(0) = 0, as the course's ``Z <= 0`` mask)."""
    _check_pair(dA, cache)
    return jnp.where(cache > 0, dA, 0)


def tanh(Z):
    """g(Z) = tanh(Z). Returns ``(A, Z)``."""
    _check_z(Z)
    return jnp.tanh(Z), Z


def tanh_backward(dA, cache):
    """dZ = dA * (1 - tanh(Z)^2), as (1 + t)(1 - t) to keep precision where |t| is near 1."""
    _check_pair(dA, cache)
    t = jnp.tanh(cache)
    return dA * (1 + t) * (1 - t)


def leaky_relu(Z, slope=LEAKY_RELU_SLOPE):
    """g(Z) = Z if Z > 0 else slope * Z. Returns ``(A, Z)``."""
    _check_z(Z)
    return jnp.where(Z > 0, Z, slope * Z), Z


def leaky_relu_backward(dA, cache, slope=LEAKY_RELU_SLOPE):
    """dZ = dA where Z > 0, else slope * dA (so g'(0) = slope)."""
    _check_pair(dA, cache)
    return jnp.where(cache > 0, dA, slope * dA)


def _check_z(Z):
    check_dtype(Z, "Z", floating=True)
    check_values(Z, "Z")


def _check_pair(dA, Z):
    _check_z(Z)
    check_dtype(dA, "dA", floating=True)
    if dA.shape != Z.shape:
        raise ShapeError(f"dA has shape {tuple(dA.shape)} but the cached Z has "
                         f"{tuple(Z.shape)}")
    check_values(dA, "dA")


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(sigmoid, sigmoid_backward),
    "relu": Activation(relu, relu_backward),
    "tanh": Activation(tanh, tanh_backward),
    "leaky_relu": Activation(leaky_relu, leaky_relu_backward),
}
"""The table every layer looks activations up in."""


def leaky_relu_with(slope: float) -> Activation:
    """The leaky ReLU pair for ``slope`` (cached, so equal slopes share one jit cache entry)."""
    value = check_real(slope, "slope")
    if value is None:
        raise OptionError("slope must be a concrete number: it is closed over statically")
    if not math.isfinite(value):
        raise OptionError(f"slope must be a finite number; got {slope!r}")
    return _leaky_relu_pair(value)


@cache
def _leaky_relu_pair(slope):
    return Activation(partial(leaky_relu, slope=slope), partial(leaky_relu_backward, slope=slope))


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
