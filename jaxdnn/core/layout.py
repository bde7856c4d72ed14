"""The parameter layout: the course's dict on the outside, a list of ``(W, b)`` layers inside.

The course's functions take and return ``{"W1": W1, "b1": b1, ..., "WL": WL, "bL": bL}`` and
gradients ``{"dW1": ..., "db1": ..., "dA1": ...}``. Everything that computes works on layers,
``[(W1, b1), ..., (WL, bL)]``, as JAX's mnist example does. This module is the only place that
knows how one maps to the other; under ``jax.jit`` the conversions cost nothing (they only
regroup leaves). :func:`device_array` and :func:`as_floating` are how arrays enter: numpy data
is rounded on the host, not by a compiled conversion (``jnp.asarray`` compiles one program per
shape and dtype).
"""

import re

import jax
import jax.numpy as jnp
import numpy as np

_KEY = re.compile(r"([Wb])([1-9][0-9]*)")


def parse_key(key):
    """``("W", 3)`` for ``"W3"``; None for anything that is not a parameter name."""
    match = _KEY.fullmatch(key) if isinstance(key, str) else None
    return (match.group(1), int(match.group(2))) if match else None


def expected_keys(L):
    """The parameter names of an L-layer network, in layer order: W1, b1, ..., WL, bL."""
    return [f"{p}{l}" for l in range(1, L + 1) for p in "Wb"]


def to_layers(parameters):
    """The course dict as ``[(W1, b1), ..., (WL, bL)]``."""
    return [(parameters[f"W{l}"], parameters[f"b{l}"]) for l in range(1, len(parameters) // 2 + 1)]


def to_dict(layers):
    """``[(W1, b1), ...]`` as the course dict ``{"W1": W1, "b1": b1, ...}``."""
    return {f"{p}{l}": x for l, (W, b) in enumerate(layers, start=1)
            for p, x in (("W", W), ("b", b))}


def grads_to_dict(layer_grads, input_grads=(), dA_from=1):
    """The course's grads dict from ``[(dW1, db1), ...]`` and each layer's input gradient
    ``[dA[0], ..., dA[L-1]]`` (None entries are left out), numbered from ``dA_from``: 1 as the
    course's seeds (``dA1`` belongs to X), 0 as its current notebooks (``dA0`` belongs to X)."""
    grads = {f"d{key}": value for key, value in to_dict(layer_grads).items()}
    for l, dA in enumerate(input_grads, start=dA_from):
        if dA is not None:
            grads[f"dA{l}"] = dA
    return grads


def layer_dims(layers):
    """``[n[0], n[1], ..., n[L]]`` of a list of layers."""
    return [layers[0][0].shape[1]] + [W.shape[0] for W, _ in layers]


def device_array(x, dtype):
    """``x`` as a jax array of ``dtype``: a jax array is converted where it lies (if it must
    be); anything else is converted by numpy and transferred, with no compiled program."""
    if isinstance(x, jax.Array):
        return x if x.dtype == dtype else x.astype(dtype)
    return jax.device_put(np.asarray(x, dtype))


def as_floating(A, dtype):
    """Integer or boolean ``A`` converted to ``dtype``; a floating ``A`` as it is (caches hold
    the caller's arrays)."""
    return A if jnp.issubdtype(A.dtype, jnp.floating) else jnp.asarray(A, dtype)
