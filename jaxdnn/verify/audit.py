"""``jaxdnn check``: the hand-written backward against three witnesses, on random problems.

Each draw is a network ``[n[0], *hidden, n[L]]`` with fresh weights (N(0, 1/n[l-1])), random
data of ``m`` examples (some inputs zeroed, so ReLU's kink is hit), zero or random biases and a
random activation per hidden layer from the ones asked for. Every gradient leaf is compared with

* ``jax.grad`` of the cost (:func:`~jaxdnn.autodiff_errors`),
* forward mode, the dot-product test (:func:`~jaxdnn.transpose_errors`),
* float64 central differences, per leaf (:func:`~jaxdnn.finite_difference_gradients`; skipped
  for ``dA``, and where a pre-activation lies within the step of a kink).

The shapes are the same in every draw, so after the first draw's compilation the rest reuse it.
"""

from functools import cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..core import limits
from ..core.network import layer_activations
from ..errors import OptionError
from .gradcheck import (
    CHAIN_RTOL,
    GRADIENT_FLOOR,
    at_least_one,
    compare,
    draw_probes,
    finite_differences,
    hand_and_reference,
    transpose_ratios,
    verified,
)
from .tolerances import require

FD_RTOL = 1e-6
"""Hand-written vs float64 central differences (step 1e-7): a leaf's difference over the whole
gradient's norm (as the course's check scales it). The differences carry about 1e-8 of rounding
at these sizes, and their truncation error (step^2 times the third derivative) is smaller
still; a real bug is off by order 1."""


class Draw(NamedTuple):
    """One checked problem: how it was drawn and each witness's errors per leaf."""

    index: int
    hidden_activation: tuple
    errors: dict  # {witness: {"dW1": err, ...}}


def draw_problem(rng, dims, m, output, dtype):
    """Random data and parameters of ``dims`` in ``dtype`` (numpy's RandomState ``rng``)."""
    X = rng.randn(dims[0], m)
    X[:, :rng.randint(0, m + 1) // 2] = 0.0
    if output == "softmax":
        Y = np.zeros((dims[-1], m))  # one-hot columns (no dims[-1] x dims[-1] eye)
        Y[rng.randint(0, dims[-1], size=m), np.arange(m)] = 1.0
    else:
        Y = (rng.rand(dims[-1], m) < 0.5).astype(np.float64)
    zero_bias = rng.rand() < 0.5
    layers = [(jnp.asarray(rng.randn(dims[l], dims[l - 1]) / np.sqrt(dims[l - 1]), dtype),
               jnp.asarray(np.zeros((dims[l], 1)) if zero_bias else rng.randn(dims[l], 1) * 0.5,
                           dtype))
              for l in range(1, len(dims))]
    return jnp.asarray(X, dtype), jnp.asarray(Y, dtype), layers


@cache
def _program(activations, floor):
    """The witnesses of both paths for one architecture, compiled once per shape."""
    def both(X, Y, layers, probes):
        return {stable: (hand_and_reference(X, Y, layers, activations, stable, 0.0, (), None),
                         transpose_ratios(X, Y, layers, activations, stable, 0.0, (), None,
                                           probes, floor))
                for stable in (False, True)}
    return jax.jit(both)


def _finite_difference_errors(X, Y, layers, activations, hand, epsilon=1e-7):
    X64, Y64 = jnp.asarray(X, jnp.float64), jnp.asarray(Y, jnp.float64)
    layers64 = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), layers)
    A, near_kink = X64, False
    for (W, b), activation in zip(layers64[:-1], activations, strict=False):
        Z = W @ A + b
        near_kink |= bool(np.any(np.abs(np.asarray(Z)) < 1e3 * epsilon))
        A = activation.forward(Z)[0]
    if near_kink:
        return None
    approx = finite_differences((X64, Y64, activations), layers64, epsilon)
    scale = max(_norm([hand[k] for k in approx]), _norm(list(approx.values()))) or 1.0
    return {k: float(np.linalg.norm(np.asarray(hand[k], np.float64) - np.asarray(v))) / scale
            for k, v in approx.items()}


def _norm(arrays):
    return float(np.sqrt(sum(np.sum(np.asarray(a, np.float64) ** 2) for a in arrays)))


PROBES = 4
"""Random directions per leaf of the dot-product test."""
FD_BATCH = 256
"""Central differences evaluated together (``jax.lax.map``'s batch)."""


def affordable(dims, m, draws, itemsize):
    """A check of ``draws`` networks of layer sizes ``dims`` on ``m`` examples must fit the
    parameter budget, the memory available (the largest of its steps, estimated from the
    sizes) and :data:`~jaxdnn.core.limits.MAX_CHECK_OPERATIONS`: refused up front, naming the
    numbers, instead of failing inside numpy or XLA or running for days."""
    limits.stacked(1, dims, "network (the checked one)")
    P = limits.parameter_count(dims)
    values = sum(dims) * m  # every layer's activations, the input's included
    leaves = 3 * (len(dims) - 1)  # W, b and the input of each layer
    steps = {"the dot-product test's tangents": 2 * PROBES * leaves * (P + values) * itemsize,
             "the central differences": FD_BATCH * (P + 2 * values) * 8,
             "the data and gradients of both paths": 16 * (P + values) * itemsize}
    step = max(steps, key=steps.get)
    limits.fits(steps[step], f"checking layer sizes {dims} on {m:,} examples ({step})",
                OptionError, " (estimated from the sizes)")
    work = draws * 4 * P * (P + values)
    if work > limits.MAX_CHECK_OPERATIONS:
        raise OptionError(
            f"checking {draws:,} draws of layer sizes {dims} on {m:,} examples takes about "
            f"{work:.1e} multiply-adds (central differences: two forward passes per parameter), "
            f"above the limit of {limits.MAX_CHECK_OPERATIONS:.1e} (MAX_CHECK_OPERATIONS): fewer "
            f"draws, examples, layers or units")


def run(hidden, features, outputs, output, dtype, m, draws, names, seed=0):
    """Check ``draws`` problems (at least 1, in a ``dtype`` JAX really computes in); yields a
    :class:`Draw` for each. What it would cost is checked first (:func:`affordable`)."""
    dtype = require(dtype)
    at_least_one(draws, "draws")
    rng = np.random.RandomState(seed)
    dims = [features, *hidden, outputs]
    affordable(dims, m, draws, np.dtype(dtype).itemsize)
    for index in range(draws):
        chosen = tuple(names[rng.randint(len(names))] for _ in hidden)
        activations = layer_activations(chosen, len(dims) - 1, output)
        X, Y, layers = draw_problem(rng, dims, m, output, dtype)
        probes = draw_probes(layers, m, 4, rng.randint(2**31))
        yield Draw(index, chosen, _errors(X, Y, layers, activations, probes))


@verified
def _errors(X, Y, layers, activations, probes):
    """``{witness: {leaf: error}}`` for one drawn problem."""
    floor = GRADIENT_FLOOR[np.dtype(X.dtype)]
    found = _program(activations, floor)(X, Y, layers, probes)
    errors = {}
    for stable, (pair, ratios) in found.items():
        path = "stable" if stable else "literal"
        errors[f"autodiff ({path})"] = compare(*pair, floor)
        errors[f"transpose ({path})"] = {k: float(v) for k, v in ratios.items()}
    if jax.config.jax_enable_x64:
        fd = _finite_difference_errors(X, Y, layers, activations, found[False][0][0])
        if fd is not None:
            errors["finite differences"] = fd
    return errors


def bound(witness, dtype):
    """The largest error a correct backward shows against ``witness``."""
    return FD_RTOL if witness == "finite differences" else CHAIN_RTOL[np.dtype(dtype)]


def worst(draws):
    """``{witness: {leaf: (error, draw)}}``: each leaf's largest error and the draw it was in."""
    found = {}
    for draw in draws:
        for witness, errors in draw.errors.items():
            for leaf, error in errors.items():
                best = found.setdefault(witness, {}).get(leaf)
                if best is None or not error <= best[0]:
                    found[witness][leaf] = (error, draw)
    return found

